package audit

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// stepClock returns start, start+step, start+2*step, … on successive calls.
type stepClock struct {
	mu   sync.Mutex
	next time.Time
	step time.Duration
}

func newClock(start time.Time, step time.Duration) *stepClock {
	return &stepClock{next: start, step: step}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.next
	c.next = c.next.Add(c.step)
	return t
}

func newTestTrail(kv KV, node string, clock *stepClock) *Trail {
	return New(kv, node, WithClock(clock.Now))
}

func entry(action string) Entry {
	return Entry{ActorID: "uid1", Actor: "alice", Action: action, Outcome: OutcomeSucceeded}
}

// appendN appends n records made by mk (1-based index) and returns them.
func appendN(t testing.TB, tr *Trail, n int, mk func(i int) Entry) []Record {
	t.Helper()
	out := make([]Record, 0, n)
	for i := 1; i <= n; i++ {
		r, err := tr.Append(mk(i))
		require.NoError(t, err)
		out = append(out, r)
	}
	return out
}

func rawGet(t testing.TB, kv KV, key string) []byte {
	t.Helper()
	var raw []byte
	require.NoError(t, kv.Get(key, &raw))
	return append([]byte(nil), raw...) // MemoryStore hands out its own slice
}

func rawSet(t testing.TB, kv KV, key string, value []byte) {
	t.Helper()
	ok, err := kv.Set(key, value)
	require.NoError(t, err)
	require.True(t, ok)
}

func rawDelete(t testing.TB, kv KV, key string) {
	t.Helper()
	_, err := kv.Set(key, nil)
	require.NoError(t, err)
}

// editRecord rewrites the stored JSON of record seq through the KV.
func editRecord(t testing.TB, kv KV, seq uint64, edit func(m map[string]any)) {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(rawGet(t, kv, recordKey(seq)), &m))
	edit(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	rawSet(t, kv, recordKey(seq), b)
}

func readStored(t testing.TB, kv KV, seq uint64) Record {
	t.Helper()
	var r Record
	require.NoError(t, json.Unmarshal(rawGet(t, kv, recordKey(seq)), &r))
	return r
}

// countingKV counts reads.
type countingKV struct {
	KV
	gets atomic.Int64
}

func (c *countingKV) Get(key string, o any) error {
	c.gets.Add(1)
	return c.KV.Get(key, o)
}

var errCrash = errors.New("simulated kill -9")

// crashKV "kills" the writer (panics) when it is about to write the head,
// i.e. after its record is stored and before the head is advanced.
type crashKV struct {
	KV
	armed atomic.Bool
}

func (c *crashKV) Set(key string, value any, options ...pluginapi.KVSetOption) (bool, error) {
	if key == headKey && c.armed.Load() {
		panic(errCrash)
	}
	return c.KV.Set(key, value, options...)
}

// flakyKV fails the next record insert: either after storing it (the write
// landed but the caller sees an error) or before.
type flakyKV struct {
	KV
	failNext   atomic.Bool
	writeFirst bool
	conflicts  bool // every record insert reports "key exists" without writing
}

func (f *flakyKV) Set(key string, value any, options ...pluginapi.KVSetOption) (bool, error) {
	if _, isRecord := parseRecordKey(key); isRecord {
		if f.conflicts {
			return false, nil
		}
		if f.failNext.CompareAndSwap(true, false) {
			if f.writeFirst {
				_, _ = f.KV.Set(key, value, options...)
			}
			return false, errors.New("connection reset by peer")
		}
	}
	return f.KV.Set(key, value, options...)
}

func newStore() *pluginapi.MemoryStore { return &pluginapi.MemoryStore{} }

// lagKV hides a key for its next n reads, like a read replica that has not
// caught up yet.
type lagKV struct {
	KV
	mu     sync.Mutex
	hidden map[string]int
}

func (l *lagKV) hide(key string, reads int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hidden == nil {
		l.hidden = map[string]int{}
	}
	l.hidden[key] = reads
}

func (l *lagKV) Get(key string, o any) error {
	l.mu.Lock()
	n := l.hidden[key]
	if n > 0 {
		l.hidden[key] = n - 1
	}
	l.mu.Unlock()
	if n > 0 {
		return nil // not found
	}
	return l.KV.Get(key, o)
}
