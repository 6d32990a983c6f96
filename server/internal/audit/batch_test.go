package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hookKV calls before ahead of every Set; a non-nil result replaces the Set
// (after it, when write is true).
type hookKV struct {
	KV
	before func(key string) *setResult
}

type setResult struct {
	write bool // store the value first, then report err
	err   error
}

func (h *hookKV) Set(key string, value any, options ...pluginapi.KVSetOption) (bool, error) {
	if h.before != nil {
		if r := h.before(key); r != nil {
			if r.write {
				_, _ = h.KV.Set(key, value, options...)
			}
			return false, r.err
		}
	}
	return h.KV.Set(key, value, options...)
}

// batchEntries returns n entries whose Target names tag and index.
func batchEntries(tag string, n int) []Entry {
	out := make([]Entry, n)
	for i := range out {
		out[i] = Entry{ActorID: "uid1", Actor: "alice", Action: "sso.fallback", Target: fmt.Sprintf("%s-%d", tag, i),
			Outcome: OutcomeSucceeded, Details: map[string]string{"i": fmt.Sprint(i)}}
	}
	return out
}

// allRecords exports the whole trail, checking seq 1..n without gaps.
func allRecords(t *testing.T, tr *Trail) []Record {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, tr.ExportJSONL(&buf, Filter{}))
	var out []Record
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var r Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		require.Equal(t, uint64(len(out)+1), r.Seq, "no gap")
		out = append(out, r)
	}
	return out
}

func verifyOK(t *testing.T, tr *Trail, last uint64) VerifyResult {
	t.Helper()
	res, err := tr.Verify()
	require.NoError(t, err)
	require.True(t, res.OK, "%s %+v", res.Problem, res.Problems)
	assert.Equal(t, last, res.Last)
	return res
}

func TestAppendBatchBuildsChain(t *testing.T) {
	store := newStore()
	ckv := &countingKV{KV: store}
	tr := newTestTrail(ckv, "node-a", newClock(t0, time.Second))
	first, err := tr.Append(entry("backup.start"))
	require.NoError(t, err)

	ckv.gets.Store(0)
	recs, err := tr.AppendBatch(batchEntries("b", 5))
	require.NoError(t, err)
	assert.Equal(t, int64(1), ckv.gets.Load(), "one head read for the batch")
	require.Len(t, recs, 5)
	prev := first
	for i, r := range recs {
		assert.Equal(t, uint64(i+2), r.Seq)
		assert.Equal(t, prev.Hash, r.PrevHash)
		assert.Equal(t, fmt.Sprintf("b-%d", i), r.Target, "entries in order")
		assert.Equal(t, t0.Add(time.Duration(i+1)*time.Second), r.Time, "one clock read each, in order")
		assert.Equal(t, "node-a", r.Node)
		sum, err := ComputeHash(r)
		require.NoError(t, err)
		assert.Equal(t, sum, r.Hash)
		assert.Equal(t, r, readStored(t, store, r.Seq))
		prev = r
	}
	var h head
	require.NoError(t, store.Get(headKey, &h))
	assert.Equal(t, head{Seq: 6, Hash: recs[4].Hash}, h)

	next, err := tr.Append(entry("backup.verify"))
	require.NoError(t, err)
	assert.Equal(t, uint64(7), next.Seq)
	assert.Equal(t, recs[4].Hash, next.PrevHash)
	res := verifyOK(t, tr, 7)
	assert.False(t, res.Pending)

	empty, err := tr.AppendBatch(nil)
	require.NoError(t, err)
	assert.Empty(t, empty)
}

func TestAppendBatchValidation(t *testing.T) {
	store := newStore()
	tr := newTestTrail(store, "n", newClock(t0, time.Second))
	es := batchEntries("b", 3)
	es[2].Outcome = "done"
	recs, err := tr.AppendBatch(es)
	require.ErrorIs(t, err, ErrInvalidEntry)
	assert.Contains(t, err.Error(), "batch entry 2")
	assert.Empty(t, recs)
	assert.Empty(t, rawGet(t, store, recordKey(1)), "nothing written")
	assert.Empty(t, rawGet(t, store, headKey))
}

// TestAppendBatchRedacts: entries go through the same redaction as Append.
func TestAppendBatchRedacts(t *testing.T) {
	store := newStore()
	tr := newTestTrail(store, "n", newClock(t0, time.Second))
	es := batchEntries("b", 2)
	es[1].Details = map[string]string{"password": "hunter2", "user": "bob"}
	recs, err := tr.AppendBatch(es)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"password": Redacted, "user": "bob"}, recs[1].Details)
	assert.NotContains(t, string(rawGet(t, store, recordKey(2))), "hunter2")
}

// TestConcurrentBatchesTwoNodes: two Trails on one store, goroutines
// appending batches of varied sizes and single records. Every entry is in the
// trail exactly once, each batch in its own order, and Verify accepts it.
func TestConcurrentBatchesTwoNodes(t *testing.T) {
	const goroutines, rounds = 6, 30
	store := newStore()
	nodes := []*Trail{New(store, "node-a"), New(store, "node-b")}
	var wg sync.WaitGroup
	var want atomic.Int64
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := nodes[g%2]
			for i := range rounds {
				size := 1 + (g*7+i*3)%25
				tag := fmt.Sprintf("g%d-r%d", g, i)
				var err error
				if i%5 == 4 {
					_, err = tr.Append(Entry{ActorID: ActorSystem, Action: "test.single", Target: tag + "-0", Outcome: OutcomeSucceeded})
					size = 1
				} else {
					var recs []Record
					recs, err = tr.AppendBatch(batchEntries(tag, size))
					if err == nil && len(recs) != size {
						err = fmt.Errorf("batch %s: %d records for %d entries", tag, len(recs), size)
					}
				}
				if err != nil {
					errs <- err
					return
				}
				want.Add(int64(size))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	all := allRecords(t, nodes[0])
	require.Len(t, all, int(want.Load()))
	seen := map[string]uint64{}
	for _, r := range all {
		_, dup := seen[r.Target]
		require.False(t, dup, "duplicate %s", r.Target)
		seen[r.Target] = r.Seq
	}
	// Each batch's entries are in entry order (another node's records may
	// sit between them where a race was lost).
	for g := range goroutines {
		for i := range rounds {
			for j := 1; ; j++ {
				cur, ok := seen[fmt.Sprintf("g%d-r%d-%d", g, i, j)]
				if !ok {
					break
				}
				require.Greater(t, cur, seen[fmt.Sprintf("g%d-r%d-%d", g, i, j-1)])
			}
		}
	}
	res := verifyOK(t, nodes[1], uint64(len(all)))
	assert.Equal(t, uint64(len(all)), res.Head)
}

// TestVerifyDuringBatches: Verify running while nodes append batches over a
// slow store never reports a problem: the head follows each record, so no
// batch leaves more than one committed record beyond it.
func TestVerifyDuringBatches(t *testing.T) {
	store := newStore()
	slow := &hookKV{KV: store, before: func(key string) *setResult {
		if _, isRecord := parseRecordKey(key); isRecord {
			time.Sleep(2 * time.Millisecond) // a batch takes longer than Verify's settle delays
		}
		return nil
	}}
	a, b := New(slow, "node-a"), New(slow, "node-b")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, tr := range []*Trail{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; ; r++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := tr.AppendBatch(batchEntries(fmt.Sprintf("n%d-%d", i, r), 200))
				assert.NoError(t, err)
			}
		}()
	}
	deadline := time.Now().Add(1500 * time.Millisecond)
	runs := 0
	for time.Now().Before(deadline) || runs < 3 {
		res, err := New(store, "verifier").Verify()
		require.NoError(t, err)
		require.True(t, res.OK, res.Problem)
		runs++
	}
	close(stop)
	wg.Wait()
	verifyOK(t, a, uint64(len(allRecords(t, a))))
}

// TestAppendBatchCrash: a writer killed in the middle of a batch leaves what
// Append's crash window leaves: the records committed so far, at most one of
// them beyond the head, which Verify reports as pending, not as a problem.
func TestAppendBatchCrash(t *testing.T) {
	store := newStore()
	var heads atomic.Int64
	kill := &hookKV{KV: store, before: func(key string) *setResult {
		if key == headKey && heads.Add(1) == 4 { // about to move the head over the batch's 3rd record
			panic(errCrash)
		}
		return nil
	}}
	clock := newClock(t0, time.Second)
	a := newTestTrail(kill, "node-a", clock)
	_, err := a.Append(entry("backup.start"))
	require.NoError(t, err)
	func() {
		defer func() { assert.Equal(t, errCrash, recover()) }()
		_, _ = a.AppendBatch(batchEntries("b", 10))
		t.Fatal("batch should have been killed")
	}()

	b := newTestTrail(store, "node-b", clock)
	res := verifyOK(t, b, 4)
	assert.True(t, res.Pending, "record 4 committed, head at 3")
	assert.Equal(t, uint64(3), res.Head)
	assert.Equal(t, "b-2", readStored(t, store, 4).Target)

	// The next writer walks over it; the rest of the killed batch was never
	// recorded (its caller never saw success) and is not there.
	recs, err := b.AppendBatch(batchEntries("c", 2))
	require.NoError(t, err)
	assert.Equal(t, uint64(5), recs[0].Seq)
	res = verifyOK(t, b, 6)
	assert.False(t, res.Pending)
}

// TestAppendBatchAmbiguousInsert: a record insert in the middle of a batch
// fails with an error, having landed or not; lagging reads may hide it.
func TestAppendBatchAmbiguousInsert(t *testing.T) {
	for _, landed := range []bool{true, false} {
		for _, hidden := range []int{0, 2} {
			t.Run(fmt.Sprintf("landed=%v hidden reads=%d", landed, hidden), func(t *testing.T) {
				store := newStore()
				lag := &lagKV{KV: store}
				var failed atomic.Bool
				kv := &hookKV{KV: lag, before: func(key string) *setResult {
					if key == recordKey(5) && failed.CompareAndSwap(false, true) {
						if hidden > 0 {
							lag.hide(key, hidden)
						}
						return &setResult{write: landed, err: errors.New("connection reset by peer")}
					}
					return nil
				}}
				tr := newTestTrail(kv, "n", newClock(t0, time.Second))
				tr.backoffBase = time.Microsecond
				appendN(t, tr, 2, func(int) Entry { return entry("backup.start") })

				recs, err := tr.AppendBatch(batchEntries("b", 5))
				require.NoError(t, err)
				require.True(t, failed.Load())
				require.Len(t, recs, 5)
				for i, r := range recs {
					assert.Equal(t, uint64(3+i), r.Seq)
					assert.Equal(t, fmt.Sprintf("b-%d", i), r.Target)
					assert.Equal(t, r, readStored(t, store, r.Seq))
				}
				assert.Empty(t, rawGet(t, store, recordKey(8)), "no duplicate")
				res := verifyOK(t, tr, 7)
				assert.False(t, res.Pending)
			})
		}
	}
}

// TestAppendBatchLosesRaceMidway: another node takes the seq the batch's
// third record was about to take. The rest of the batch goes on top of it.
func TestAppendBatchLosesRaceMidway(t *testing.T) {
	store := newStore()
	clock := newClock(t0, time.Second)
	other := newTestTrail(store, "node-b", clock)
	var raced atomic.Bool
	kv := &hookKV{KV: store, before: func(key string) *setResult {
		if key == recordKey(3) && raced.CompareAndSwap(false, true) {
			_, err := other.AppendBatch(batchEntries("other", 2)) // seq 3 and 4
			require.NoError(t, err)
		}
		return nil
	}}
	a := newTestTrail(kv, "node-a", clock)
	a.backoffBase = time.Microsecond

	recs, err := a.AppendBatch(batchEntries("b", 4))
	require.NoError(t, err)
	require.Len(t, recs, 4)
	assert.Equal(t, []uint64{1, 2, 5, 6}, seqs(recs))
	all := allRecords(t, a)
	targets := make([]string, 0, len(all))
	for _, r := range all {
		targets = append(targets, r.Target)
	}
	assert.Equal(t, []string{"b-0", "b-1", "other-0", "other-1", "b-2", "b-3"}, targets)
	assert.Equal(t, all[1].Hash, all[2].PrevHash)
	assert.Equal(t, all[3].Hash, all[4].PrevHash)
	res := verifyOK(t, a, 6)
	assert.Equal(t, uint64(6), res.Head)
}

// TestAppendBatchHeadWriteError: the head's compare-and-set fails with an
// error in the middle of a batch: the head is read again before the next
// record, which still lands right after.
func TestAppendBatchHeadWriteError(t *testing.T) {
	store := newStore()
	var heads atomic.Int64
	kv := &hookKV{KV: store, before: func(key string) *setResult {
		if key == headKey && heads.Add(1) == 2 {
			return &setResult{err: errors.New("connection reset by peer")}
		}
		return nil
	}}
	tr := newTestTrail(kv, "n", newClock(t0, time.Second))
	tr.backoffBase = time.Microsecond
	recs, err := tr.AppendBatch(batchEntries("b", 4))
	require.NoError(t, err)
	assert.Equal(t, []uint64{1, 2, 3, 4}, seqs(recs))
	res := verifyOK(t, tr, 4)
	assert.False(t, res.Pending)
	assert.Equal(t, uint64(4), res.Head)
}

// TestAppendBatchCorruption: damage where a record of the batch must go
// stops the batch there, with the records before it committed.
func TestAppendBatchCorruption(t *testing.T) {
	store, tr, _ := tenRecords(t)
	rawSet(t, store, recordKey(13), []byte(`"x"`))
	// Record 13 is garbage: the batch commits 11 and 12, then stops.
	recs, err := tr.AppendBatch(batchEntries("b", 5))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "record 13")
	assert.Equal(t, []uint64{11, 12}, seqs(recs))
	assert.Equal(t, recs[1], readStored(t, store, 12))
	assert.Equal(t, []byte(`"x"`), rawGet(t, store, recordKey(13)), "left untouched")
	assert.Empty(t, rawGet(t, store, recordKey(14)), "nothing written past it")

	rawSet(t, store, headKey, []byte("{{"))
	recs, err = tr.AppendBatch(batchEntries("c", 2))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Empty(t, recs)
}

func TestAppendBatchGivesUp(t *testing.T) {
	fkv := &flakyKV{KV: newStore(), conflicts: true}
	tr := newTestTrail(fkv, "n", newClock(t0, time.Second))
	tr.maxAttempts = 3
	tr.backoffBase = time.Microsecond
	recs, err := tr.AppendBatch(batchEntries("b", 3))
	require.ErrorIs(t, err, ErrContention)
	assert.Contains(t, err.Error(), "after 3 attempts without progress (0 of 3 records committed)")
	assert.Empty(t, recs)
}
