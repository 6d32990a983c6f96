package kvstate

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Codec turns a T into the bytes stored in the KV store and back.
type Codec[T any] interface {
	Encode(v T) ([]byte, error)
	Decode(b []byte) (T, error)
}

// JSON stores a T as its JSON, which is what pluginapi's KVService.Set stores for a value
// that is not a []byte.
type JSON[T any] struct{}

// Encode implements Codec.
func (JSON[T]) Encode(v T) ([]byte, error) { return json.Marshal(v) }

// Decode implements Codec.
func (JSON[T]) Decode(b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}

// UnixMilliString stores a time as a JSON string of its Unix milliseconds ("1700000000000"),
// the form earlier versions wrote (a string, not a number).
type UnixMilliString struct{}

// Encode implements Codec.
func (UnixMilliString) Encode(t time.Time) ([]byte, error) {
	return json.Marshal(strconv.FormatInt(t.UnixMilli(), 10))
}

// Decode implements Codec.
func (UnixMilliString) Decode(b []byte) (time.Time, error) {
	s, err := JSON[string]{}.Decode(b)
	if err != nil {
		return time.Time{}, err
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("not Unix milliseconds: %w", err)
	}
	return time.UnixMilli(ms), nil
}

// JSONInString stores a T as its JSON inside a JSON string ("{\"a\":1}"), the form earlier
// versions wrote for some values.
type JSONInString[T any] struct{}

// Encode implements Codec.
func (JSONInString[T]) Encode(v T) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(string(b))
}

// Decode implements Codec.
func (JSONInString[T]) Decode(b []byte) (T, error) {
	s, err := JSON[string]{}.Decode(b)
	if err != nil {
		var zero T
		return zero, err
	}
	return JSON[T]{}.Decode([]byte(s))
}
