package audit

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tenRecords returns a store holding a good 10-record trail.
func tenRecords(t *testing.T) (KV, *Trail, []Record) {
	store := newStore()
	tr := newTestTrail(store, "node-a", newClock(t0, time.Second))
	recs := appendN(t, tr, 10, func(i int) Entry {
		e := entry("restore.user")
		e.Target = fmt.Sprintf("user-%d", i)
		e.Details = map[string]string{"step": fmt.Sprint(i)}
		return e
	})
	return store, tr, recs
}

func TestVerifyGoodChain(t *testing.T) {
	_, tr, _ := tenRecords(t)
	res, err := tr.Verify()
	require.NoError(t, err)
	assert.True(t, res.OK, res.Problem)
	assert.Equal(t, uint64(10), res.Checked)
	assert.Equal(t, uint64(10), res.Head)
	assert.Equal(t, uint64(10), res.Last)
	assert.Zero(t, res.FirstBad)
	assert.Empty(t, res.Problem)
	assert.Empty(t, res.Problems)
	assert.False(t, res.Pending)
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name      string
		tamper    func(t *testing.T, kv KV, recs []Record)
		firstBad  uint64
		kind      ProblemKind
		wantSeqs  []uint64 // seqs of all problems, in order
		wantInMsg string
	}{
		{
			name: "field edited",
			tamper: func(t *testing.T, kv KV, _ []Record) {
				editRecord(t, kv, 5, func(m map[string]any) { m["actor"] = "mallory" })
			},
			firstBad: 5, kind: ProblemHashMismatch, wantSeqs: []uint64{5}, wantInMsg: "record edited",
		},
		{
			name: "outcome of first record edited",
			tamper: func(t *testing.T, kv KV, _ []Record) {
				editRecord(t, kv, 1, func(m map[string]any) { m["outcome"] = "failed" })
			},
			firstBad: 1, kind: ProblemHashMismatch, wantSeqs: []uint64{1},
		},
		{
			name: "detail edited and hash recomputed",
			tamper: func(t *testing.T, kv KV, _ []Record) {
				r := readStored(t, kv, 5)
				r.Details["step"] = "99"
				raw, err := seal(&r)
				require.NoError(t, err)
				rawSet(t, kv, recordKey(5), raw)
			},
			firstBad: 6, kind: ProblemPrevHashMismatch, wantSeqs: []uint64{6}, wantInMsg: "chain broken",
		},
		{
			name: "sub-millisecond time edit",
			tamper: func(t *testing.T, kv KV, recs []Record) {
				editRecord(t, kv, 4, func(m map[string]any) {
					m["time"] = recs[3].Time.Add(300 * time.Microsecond).Format(time.RFC3339Nano)
				})
			},
			firstBad: 4, kind: ProblemHashMismatch, wantSeqs: []uint64{4},
		},
		{
			name:     "record deleted",
			tamper:   func(t *testing.T, kv KV, _ []Record) { rawDelete(t, kv, recordKey(5)) },
			firstBad: 5, kind: ProblemMissing, wantSeqs: []uint64{5}, wantInMsg: "missing record",
		},
		{
			name:     "last record deleted",
			tamper:   func(t *testing.T, kv KV, _ []Record) { rawDelete(t, kv, recordKey(10)) },
			firstBad: 10, kind: ProblemMissing, wantSeqs: []uint64{10},
		},
		{
			name: "two records swapped",
			tamper: func(t *testing.T, kv KV, _ []Record) {
				r3, r4 := rawGet(t, kv, recordKey(3)), rawGet(t, kv, recordKey(4))
				rawSet(t, kv, recordKey(3), r4)
				rawSet(t, kv, recordKey(4), r3)
			},
			firstBad: 3, kind: ProblemSeqMismatch, wantSeqs: []uint64{3, 4, 5}, wantInMsg: "seq field is 4",
		},
		{
			name: "seq field edited",
			tamper: func(t *testing.T, kv KV, _ []Record) {
				editRecord(t, kv, 7, func(m map[string]any) { m["seq"] = 8 })
			},
			firstBad: 7, kind: ProblemSeqMismatch, wantSeqs: []uint64{7},
		},
		{
			name:     "record overwritten with garbage",
			tamper:   func(t *testing.T, kv KV, _ []Record) { rawSet(t, kv, recordKey(6), []byte("not json")) },
			firstBad: 6, kind: ProblemUnreadable, wantSeqs: []uint64{6},
		},
		{
			name: "head hash edited",
			tamper: func(t *testing.T, kv KV, recs []Record) {
				rawSet(t, kv, headKey, head{Seq: 10, Hash: recs[8].Hash}.encode())
			},
			firstBad: 10, kind: ProblemHeadMismatch, wantSeqs: []uint64{10}, wantInMsg: "head edited",
		},
		{
			name: "head rolled back",
			tamper: func(t *testing.T, kv KV, recs []Record) {
				rawSet(t, kv, headKey, head{Seq: 7, Hash: recs[6].Hash}.encode())
			},
			firstBad: 8, kind: ProblemHeadBehind, wantSeqs: []uint64{8}, wantInMsg: "records continue to seq 10",
		},
		{
			name: "head moved past the end",
			tamper: func(t *testing.T, kv KV, recs []Record) {
				rawSet(t, kv, headKey, head{Seq: 12, Hash: recs[9].Hash}.encode())
			},
			firstBad: 11, kind: ProblemMissing, wantSeqs: []uint64{11, 12},
		},
		{
			name:     "head deleted",
			tamper:   func(t *testing.T, kv KV, _ []Record) { rawDelete(t, kv, headKey) },
			firstBad: 1, kind: ProblemHeadBehind, wantSeqs: []uint64{1}, wantInMsg: "head is at seq 0",
		},
		{
			name:     "head garbage",
			tamper:   func(t *testing.T, kv KV, _ []Record) { rawSet(t, kv, headKey, []byte("{{")) },
			firstBad: 0, kind: ProblemHeadUnreadable, wantSeqs: []uint64{0}, wantInMsg: "head unreadable",
		},
		{
			name: "stray record past a gap",
			tamper: func(t *testing.T, kv KV, recs []Record) {
				r := recs[9]
				r.Seq, r.PrevHash = 13, "whatever"
				raw, err := seal(&r)
				require.NoError(t, err)
				rawSet(t, kv, recordKey(13), raw)
			},
			firstBad: 11, kind: ProblemMissing, wantSeqs: []uint64{11, 12},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store, tr, recs := tenRecords(t)
			tc.tamper(t, store, recs)

			res, err := tr.Verify()
			require.NoError(t, err)
			assert.False(t, res.OK)
			assert.Equal(t, tc.firstBad, res.FirstBad, res.Problem)
			require.NotEmpty(t, res.Problems)
			assert.Equal(t, tc.kind, res.Problems[0].Kind, res.Problem)
			var got []uint64
			for _, p := range res.Problems {
				got = append(got, p.Seq)
			}
			assert.Equal(t, tc.wantSeqs, got, "%+v", res.Problems)
			assert.Equal(t, len(res.Problems), res.ProblemCount)
			if tc.firstBad != 0 {
				assert.Contains(t, res.Problem, fmt.Sprintf("seq %d:", tc.firstBad))
			}
			assert.Contains(t, res.Problem, tc.wantInMsg)
			t.Log(res.Problem)
		})
	}
}

// TestAppendAfterTampering: damage that does not sit where the next record
// goes does not stop the trail from recording.
func TestAppendAfterTampering(t *testing.T) {
	t.Run("head rolled back is walked forward, nothing overwritten", func(t *testing.T) {
		store, tr, recs := tenRecords(t)
		rawSet(t, store, headKey, head{Seq: 3, Hash: recs[2].Hash}.encode())
		r, err := tr.Append(entry("backup.start"))
		require.NoError(t, err)
		assert.Equal(t, uint64(11), r.Seq)
		assert.Equal(t, recs[9].Hash, r.PrevHash)
		res, err := tr.Verify()
		require.NoError(t, err)
		assert.True(t, res.OK, res.Problem)
		assert.Equal(t, uint64(11), res.Last)
	})
	t.Run("head deleted", func(t *testing.T) {
		store, tr, recs := tenRecords(t)
		rawDelete(t, store, headKey)
		r, err := tr.Append(entry("backup.start"))
		require.NoError(t, err)
		assert.Equal(t, uint64(11), r.Seq)
		assert.Equal(t, recs[9].Hash, r.PrevHash)
	})
	t.Run("record in the middle deleted", func(t *testing.T) {
		store, tr, _ := tenRecords(t)
		rawDelete(t, store, recordKey(4))
		r, err := tr.Append(entry("backup.start"))
		require.NoError(t, err)
		assert.Equal(t, uint64(11), r.Seq)
		res, err := tr.Verify()
		require.NoError(t, err)
		assert.Equal(t, uint64(4), res.FirstBad)
		assert.Equal(t, 1, res.ProblemCount)
	})
	t.Run("garbage where the next record goes", func(t *testing.T) {
		store, tr, _ := tenRecords(t)
		rawSet(t, store, recordKey(11), []byte(`"x"`))
		_, err := tr.Append(entry("backup.start"))
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "record 11")
		res, err := tr.Verify()
		require.NoError(t, err)
		assert.Equal(t, uint64(11), res.FirstBad)
		assert.Equal(t, ProblemUnreadable, res.Problems[0].Kind)
	})
	t.Run("old record copied where the next record goes", func(t *testing.T) {
		store, tr, _ := tenRecords(t)
		rawSet(t, store, recordKey(11), rawGet(t, store, recordKey(3)))
		_, err := tr.Append(entry("backup.start"))
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "seq field is 3")
		assert.Equal(t, uint64(3), readStored(t, store, 11).Seq, "left untouched")
	})
	t.Run("unreadable head stops appends", func(t *testing.T) {
		store, tr, _ := tenRecords(t)
		rawSet(t, store, headKey, []byte("{{"))
		_, err := tr.Append(entry("backup.start"))
		require.ErrorIs(t, err, ErrCorrupt)
	})
}

// TestCrashWindow simulates a writer killed (kill -9) between storing its
// record and advancing the head: the only window this design has.
func TestCrashWindow(t *testing.T) {
	store := newStore()
	ckv := &crashKV{KV: store}
	clock := newClock(t0, time.Second)
	a := newTestTrail(ckv, "node-a", clock)
	appendN(t, a, 5, func(int) Entry { return entry("backup.start") })

	ckv.armed.Store(true)
	func() {
		defer func() { assert.Equal(t, errCrash, recover()) }()
		_, _ = a.Append(entry("failover.step"))
		t.Fatal("append should have been killed")
	}()

	// What the dead writer left: record 6 complete and chained, head at 5.
	var h head
	require.NoError(t, store.Get(headKey, &h))
	assert.Equal(t, uint64(5), h.Seq)
	orphan := readStored(t, store, 6)
	assert.Equal(t, "failover.step", orphan.Action)

	// Another node verifies: nothing missing, the lagging head is reported.
	b := newTestTrail(store, "node-b", clock)
	res, err := b.Verify()
	require.NoError(t, err)
	assert.True(t, res.OK, res.Problem)
	assert.True(t, res.Pending)
	assert.Equal(t, uint64(5), res.Head)
	assert.Equal(t, uint64(6), res.Last)
	assert.Equal(t, uint64(6), res.Checked)
	assert.Contains(t, res.Note, "seq 6 is committed")
	t.Log(res.Note)

	// The committed record is visible.
	got, err := b.Query(Filter{Limit: 1})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, orphan, got[0])

	// The next append, from any node, finishes the dead writer's job first.
	r, err := b.Append(entry("failover.step"))
	require.NoError(t, err)
	assert.Equal(t, uint64(7), r.Seq)
	assert.Equal(t, orphan.Hash, r.PrevHash)
	res, err = b.Verify()
	require.NoError(t, err)
	assert.True(t, res.OK, res.Problem)
	assert.False(t, res.Pending)
	assert.Equal(t, uint64(7), res.Head)

	// And the restarted node appends normally.
	ckv.armed.Store(false)
	a2 := newTestTrail(ckv, "node-a", clock)
	r, err = a2.Append(entry("backup.start"))
	require.NoError(t, err)
	assert.Equal(t, uint64(8), r.Seq)
}

// TestLostRecordUnderHead covers the state a "claim the seq first" design
// would leave after a crash (and what deleting the newest record leaves):
// the head names a record that does not exist.
func TestLostRecordUnderHead(t *testing.T) {
	store, tr, _ := tenRecords(t)
	rawDelete(t, store, recordKey(10))
	res, err := tr.Verify()
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.Equal(t, uint64(10), res.FirstBad)
	assert.Equal(t, ProblemMissing, res.Problems[0].Kind)

	r, err := tr.Append(entry("backup.start"))
	require.NoError(t, err)
	assert.Equal(t, uint64(11), r.Seq)
	res, err = tr.Verify()
	require.NoError(t, err)
	assert.Equal(t, uint64(10), res.FirstBad)
	assert.Equal(t, 1, res.ProblemCount, "%+v", res.Problems)
	assert.Equal(t, uint64(11), res.Last)
}

func TestAmbiguousInsertError(t *testing.T) {
	for _, landed := range []bool{true, false} {
		t.Run(fmt.Sprintf("write landed=%v", landed), func(t *testing.T) {
			store := newStore()
			fkv := &flakyKV{KV: store, writeFirst: landed}
			tr := newTestTrail(fkv, "n", newClock(t0, time.Second))
			tr.backoffBase = time.Microsecond
			appendN(t, tr, 3, func(int) Entry { return entry("backup.start") })

			fkv.failNext.Store(true)
			r, err := tr.Append(entry("backup.verify"))
			require.NoError(t, err)
			assert.Equal(t, uint64(4), r.Seq)
			assert.Equal(t, r, readStored(t, store, 4))
			assert.Empty(t, rawGet(t, store, recordKey(5)), "no duplicate")

			res, err := tr.Verify()
			require.NoError(t, err)
			assert.True(t, res.OK, res.Problem)
			assert.False(t, res.Pending)
			assert.Equal(t, uint64(4), res.Last)
		})
	}
}

func TestAppendGivesUp(t *testing.T) {
	fkv := &flakyKV{KV: newStore(), conflicts: true}
	tr := newTestTrail(fkv, "n", newClock(t0, time.Second))
	tr.maxAttempts = 3
	tr.backoffBase = time.Microsecond
	_, err := tr.Append(entry("backup.start"))
	require.ErrorIs(t, err, ErrContention)
	assert.Contains(t, err.Error(), "after 3 attempts")
}

// TestLaggingReads: KVGet may be served by a read replica that lags.
func TestLaggingReads(t *testing.T) {
	t.Run("ambiguous insert that landed but is not visible yet", func(t *testing.T) {
		store := newStore()
		lag := &lagKV{KV: store}
		fkv := &flakyKV{KV: lag, writeFirst: true}
		tr := newTestTrail(fkv, "n", newClock(t0, time.Second))
		tr.backoffBase = time.Microsecond
		appendN(t, tr, 3, func(int) Entry { return entry("backup.start") })

		fkv.failNext.Store(true)
		lag.hide(recordKey(4), 2)
		r, err := tr.Append(entry("backup.verify"))
		require.NoError(t, err)
		assert.Equal(t, uint64(4), r.Seq)
		assert.Empty(t, rawGet(t, store, recordKey(5)), "no duplicate")
		res, err := tr.Verify()
		require.NoError(t, err)
		assert.True(t, res.OK, res.Problem)
		assert.Equal(t, uint64(4), res.Last)
	})
	t.Run("verify looks twice before calling a record deleted", func(t *testing.T) {
		store, _, _ := tenRecords(t)
		lag := &lagKV{KV: store}
		tr := newTestTrail(lag, "n", newClock(t0, time.Second))
		lag.hide(recordKey(5), 1)
		res, err := tr.Verify()
		require.NoError(t, err)
		assert.True(t, res.OK, res.Problem)
		assert.Equal(t, uint64(10), res.Checked)
	})
}
