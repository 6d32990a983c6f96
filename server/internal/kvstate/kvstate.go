package kvstate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/mattermost/mattermost/server/public/pluginapi/cluster"
)

// KV is the part of the plugin KV store the typed keys use; *pluginapi.KVService and
// *pluginapi.MemoryStore satisfy it.
type KV interface {
	Get(key string, o any) error
	Set(key string, value any, options ...pluginapi.KVSetOption) (bool, error)
	SetAtomicWithRetries(key string, valueFunc func(oldValue []byte) (newValue any, err error)) error
}

var (
	_ KV = (*pluginapi.KVService)(nil)
	_ KV = (*pluginapi.MemoryStore)(nil)
)

// ErrUnreadable marks a stored value that does not decode as its key's type.
var ErrUnreadable = errors.New("unreadable value")

// Spec describes one key, or one family of keys sharing a prefix, of the plugin's KV store.
type Spec struct {
	Name     string        // the key; for a family, the prefix its keys start with
	Family   bool          // Name is a prefix: the keys are Name + an id
	Owner    string        // the code that writes it
	TTL      time.Duration // expiry set on every write; 0 = kept until deleted
	Lifetime string        // how long it lives and what removes it
	Doc      string        // what it holds
}

// Covers says whether key is this spec's key or, for a family, one of its keys.
func (s Spec) Covers(key string) bool {
	if s.Family {
		return strings.HasPrefix(key, s.Name) && len(key) > len(s.Name)
	}
	return key == s.Name
}

func (s Spec) setOptions(atomic bool, old []byte) []pluginapi.KVSetOption {
	var opts []pluginapi.KVSetOption
	if atomic {
		if old == nil {
			opts = append(opts, pluginapi.SetAtomic(nil)) // only if the key is absent
		} else {
			opts = append(opts, pluginapi.SetAtomic(old))
		}
	}
	if s.TTL > 0 {
		opts = append(opts, pluginapi.SetExpiry(s.TTL))
	}
	return opts
}

// Key is one key holding a T, stored with codec.
type Key[T any] struct {
	Spec
	codec Codec[T]
}

// Entry is a value as read, with the stored bytes a CompareAndSet compares against.
type Entry[T any] struct {
	Value      T
	Found      bool  // the key holds a value
	Unreadable error // the value does not decode (wraps ErrUnreadable); Value is zero
	raw        []byte
}

// OK says whether the key holds a readable value.
func (e Entry[T]) OK() bool { return e.Found && e.Unreadable == nil }

// Load reads the key. The error is the KV store's; an undecodable value is in Entry.Unreadable.
func (k *Key[T]) Load(kv KV) (Entry[T], error) {
	var raw []byte
	if err := kv.Get(k.Name, &raw); err != nil {
		return Entry[T]{}, fmt.Errorf("read %s: %w", k.Name, err)
	}
	e := Entry[T]{Found: len(raw) > 0, raw: raw}
	if !e.Found {
		return e, nil
	}
	v, err := k.codec.Decode(raw)
	if err != nil {
		e.Unreadable = fmt.Errorf("%w at %s: %w", ErrUnreadable, k.Name, err)
		return e, nil
	}
	e.Value = v
	return e, nil
}

// Get reads the key: ok is false when it holds nothing; an undecodable value is an error.
func (k *Key[T]) Get(kv KV) (v T, ok bool, err error) {
	e, err := k.Load(kv)
	if err != nil {
		return v, false, err
	}
	if e.Unreadable != nil {
		return v, false, e.Unreadable
	}
	return e.Value, e.Found, nil
}

// Set writes v (with the key's expiry).
func (k *Key[T]) Set(kv KV, v T) error {
	raw, err := k.codec.Encode(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", k.Name, err)
	}
	if _, err := kv.Set(k.Name, raw, k.setOptions(false, nil)...); err != nil {
		return fmt.Errorf("write %s: %w", k.Name, err)
	}
	return nil
}

// CompareAndSet writes v if the key still holds what old was loaded from (nothing, for a
// zero Entry). ok is false when another writer changed it first.
func (k *Key[T]) CompareAndSet(kv KV, old Entry[T], v T) (ok bool, err error) {
	raw, err := k.codec.Encode(v)
	if err != nil {
		return false, fmt.Errorf("encode %s: %w", k.Name, err)
	}
	if ok, err = kv.Set(k.Name, raw, k.setOptions(true, old.raw)...); err != nil {
		return false, fmt.Errorf("write %s: %w", k.Name, err)
	}
	return ok, nil
}

// Create writes v only if the key holds nothing; ok is false when it already did.
func (k *Key[T]) Create(kv KV, v T) (ok bool, err error) {
	return k.CompareAndSet(kv, Entry[T]{}, v)
}

// Update changes the value atomically, retrying when other writers race: fn gets the current
// value (found is false when there is none) and returns the new one.
func (k *Key[T]) Update(kv KV, fn func(cur T, found bool) (T, error)) error {
	return kv.SetAtomicWithRetries(k.Name, func(old []byte) (any, error) {
		var cur T
		if len(old) > 0 {
			var err error
			if cur, err = k.codec.Decode(old); err != nil {
				return nil, fmt.Errorf("%w at %s: %w", ErrUnreadable, k.Name, err)
			}
		}
		next, err := fn(cur, len(old) > 0)
		if err != nil {
			return nil, err
		}
		return k.codec.Encode(next)
	})
}

// Delete removes the key (pluginapi deletes on a nil value).
func (k *Key[T]) Delete(kv KV) error {
	if _, err := kv.Set(k.Name, nil); err != nil {
		return fmt.Errorf("delete %s: %w", k.Name, err)
	}
	return nil
}

// Family is a set of keys Name + id, each holding a T.
type Family[T any] struct {
	Spec
	codec Codec[T]
}

// Key returns the family's key for id.
func (f *Family[T]) Key(id string) *Key[T] {
	s := f.Spec
	s.Name, s.Family = f.Name+id, false
	return &Key[T]{Spec: s, codec: f.codec}
}

// ID returns the id of one of the family's keys.
func (f *Family[T]) ID(key string) string { return strings.TrimPrefix(key, f.Name) }

// Mutex is a pluginapi cluster.Mutex, whose KV key is "mutex_" + its name.
type Mutex struct{ Spec }

const mutexPrefix, cronPrefix = "mutex_", "cron_"

// New returns the cluster-wide mutex.
func (m *Mutex) New(api cluster.MutexPluginAPI) (*cluster.Mutex, error) {
	return cluster.NewMutex(api, strings.TrimPrefix(m.Name, mutexPrefix))
}

// Job is a pluginapi cluster.Job, whose KV key is "cron_" + its name.
type Job struct{ Spec }

// Schedule starts the cluster-wide job.
func (j *Job) Schedule(api cluster.JobPluginAPI, wait cluster.NextWaitInterval, fn func()) (*cluster.Job, error) {
	return cluster.Schedule(api, strings.TrimPrefix(j.Name, cronPrefix), wait, fn)
}

// Owned is a key, or family, another package reads and writes behind its own KV interface.
type Owned struct{ Spec }

var registry []Spec

func register[K interface{ spec() Spec }](k K) K {
	registry = append(registry, k.spec())
	return k
}

func (k *Key[T]) spec() Spec    { return k.Spec }
func (f *Family[T]) spec() Spec { return f.Spec }
func (m *Mutex) spec() Spec     { return m.Spec }
func (j *Job) spec() Spec       { return j.Spec }
func (o *Owned) spec() Spec     { return o.Spec }

// All returns every key and family of the plugin's KV store, by name.
func All() []Spec {
	out := slices.Clone(registry)
	slices.SortFunc(out, func(a, b Spec) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Lookup returns the spec covering key.
func Lookup(key string) (Spec, bool) {
	for _, s := range registry {
		if s.Covers(key) {
			return s, true
		}
	}
	return Spec{}, false
}
