package audit

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rehashFrom rewrites record seq with edit and re-seals it and every record after it, then
// points the head at the new last record: what someone who can write the KV store and knows
// the (public) hash recipe does to change history without breaking the chain.
func rehashFrom(t *testing.T, kv KV, seq, last uint64, edit func(*Record)) {
	t.Helper()
	prev := ""
	if seq > 1 {
		prev = readStored(t, kv, seq-1).Hash
	}
	for s := seq; s <= last; s++ {
		r := readStored(t, kv, s)
		if s == seq {
			edit(&r)
		}
		r.PrevHash = prev
		raw, err := seal(&r)
		require.NoError(t, err)
		rawSet(t, kv, recordKey(s), raw)
		prev = r.Hash
	}
	rawSet(t, kv, headKey, head{Seq: last, Hash: prev}.encode())
}

// truncate deletes the records after keep and rewinds the head to keep.
func truncate(t *testing.T, kv KV, keep, last uint64) {
	t.Helper()
	for s := keep + 1; s <= last; s++ {
		rawDelete(t, kv, recordKey(s))
	}
	rawSet(t, kv, headKey, head{Seq: keep, Hash: readStored(t, kv, keep).Hash}.encode())
}

func TestVerifyAnchorsCatchWhatTheChainCannot(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, kv KV)
		kind   ProblemKind
		seq    uint64
		inMsg  string
	}{
		{
			name:   "newest records deleted and the head rewound",
			tamper: func(t *testing.T, kv KV) { truncate(t, kv, 7, 10) },
			kind:   ProblemAnchorTruncated, seq: 10, inMsg: "the trail ends at seq 7",
		},
		{
			name: "a record rewritten and the rest re-hashed",
			tamper: func(t *testing.T, kv KV) {
				rehashFrom(t, kv, 4, 10, func(r *Record) { r.Actor = "mallory" })
			},
			kind: ProblemAnchorMismatch, seq: 10, inMsg: "re-hashed",
		},
		{
			name: "truncated, then new records appended over the old seqs",
			tamper: func(t *testing.T, kv KV) {
				truncate(t, kv, 6, 10)
				tr := New(kv, "node-x")
				for range 4 {
					_, err := tr.Append(entry("backup.start"))
					require.NoError(t, err)
				}
			},
			kind: ProblemAnchorMismatch, seq: 10, inMsg: "re-hashed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store, tr, _ := tenRecords(t)
			anchor, err := tr.Head()
			require.NoError(t, err)
			require.Equal(t, uint64(10), anchor.Seq)
			anchor.Source = "backup B1 at destination s3"

			tc.tamper(t, store)

			// The chain alone is fooled: this is the defect anchors fix.
			plain, err := tr.Verify()
			require.NoError(t, err)
			require.True(t, plain.OK, "the tampering leaves a valid chain: %s", plain.Problem)

			res, err := tr.Verify(anchor)
			require.NoError(t, err)
			assert.False(t, res.OK)
			require.Len(t, res.Problems, 1, "%+v", res.Problems)
			p := res.Problems[0]
			assert.Equal(t, tc.kind, p.Kind)
			assert.Equal(t, tc.seq, p.Seq)
			assert.Contains(t, p.Detail, "backup B1 at destination s3")
			assert.Contains(t, p.Detail, tc.inMsg)
			assert.Equal(t, p.Detail, res.Problem)
			require.Len(t, res.Anchors, 1)
			assert.False(t, res.Anchors[0].OK)
			assert.NotEmpty(t, res.Anchors[0].Problem)
			t.Log(res.Problem)
		})
	}
}

func TestVerifyAnchorsBelowTheTampering(t *testing.T) {
	store, tr, recs := tenRecords(t)
	older := Anchor{Seq: 3, Hash: recs[2].Hash, Source: "backup B0 at destination local"}
	newer := Anchor{Seq: 8, Hash: recs[7].Hash, Source: "backup B1 at destination local"}
	// A record after the newest anchor is rewritten: that anchor cannot see it (the README
	// says so); the one at seq 8 can see a rewrite at seq 6.
	rehashFrom(t, store, 9, 10, func(r *Record) { r.Target = "elsewhere" })
	res, err := tr.Verify(older, newer)
	require.NoError(t, err)
	assert.True(t, res.OK, res.Problem)
	require.Len(t, res.Anchors, 2)
	assert.True(t, res.Anchors[0].OK)
	assert.True(t, res.Anchors[1].OK)

	rehashFrom(t, store, 6, 10, func(r *Record) { r.Target = "elsewhere" })
	res, err = tr.Verify(older, newer)
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.True(t, res.Anchors[0].OK, "seq 3 is untouched")
	assert.False(t, res.Anchors[1].OK)
	assert.Equal(t, ProblemAnchorMismatch, res.Problems[0].Kind)
	assert.Equal(t, uint64(8), res.FirstBad)
}

func TestVerifyAnchorOnDeletedRecord(t *testing.T) {
	store, tr, recs := tenRecords(t)
	rawDelete(t, store, recordKey(5))
	res, err := tr.Verify(Anchor{Seq: 5, Hash: recs[4].Hash, Source: "post P"})
	require.NoError(t, err)
	assert.False(t, res.OK)
	var kinds []ProblemKind
	for _, p := range res.Problems {
		kinds = append(kinds, p.Kind)
	}
	assert.Contains(t, kinds, ProblemMissing)
	assert.Contains(t, kinds, ProblemAnchorMismatch)
	assert.False(t, res.Anchors[0].OK)
}

// afterHeadRead runs hook once, right after the first read of the head.
type afterHeadRead struct {
	KV
	hook func()
}

func (a *afterHeadRead) Get(key string, o any) error {
	err := a.KV.Get(key, o)
	if key == headKey && a.hook != nil {
		h := a.hook
		a.hook = nil
		h()
	}
	return err
}

func TestVerifyAnchorAppendedAfterVerifyStarted(t *testing.T) {
	// Anchors taken while Verify runs lie past the end of its walk: they are read once more,
	// not called truncated.
	store, tr, _ := tenRecords(t)
	var anchors []Anchor
	kv := &afterHeadRead{KV: store, hook: func() {
		for range 2 {
			r, err := tr.Append(entry("backup.start"))
			require.NoError(t, err)
			anchors = append(anchors, Anchor{Seq: r.Seq, Hash: r.Hash, Source: "log"})
		}
	}}
	verifier := New(kv, "node-b")
	// The hashes of records 11 and 12 are only known once the hook ran, so the anchors name
	// their seqs with an empty hash: a mismatch then proves the record was found.
	want := []Anchor{{Seq: 11, Source: "log"}, {Seq: 12, Source: "log"}}
	res, err := verifier.Verify(want...)
	require.NoError(t, err)
	require.Len(t, anchors, 2)
	require.Equal(t, uint64(10), res.Head, "Verify started before the appends")
	require.Len(t, res.Anchors, 2)
	for i, a := range res.Anchors {
		assert.Equal(t, anchors[i].Seq, a.Seq)
		assert.Contains(t, a.Problem, "the record's hash is "+short(anchors[i].Hash))
	}
}

func TestParseAnchor(t *testing.T) {
	h := strings.Repeat("ab", 32)
	a, err := ParseAnchor(" 42:"+strings.ToUpper(h)+" ", "the admin")
	require.NoError(t, err)
	assert.Equal(t, Anchor{Seq: 42, Hash: h, Source: "the admin"}, a)
	assert.Equal(t, "42:"+h, a.String())
	for _, bad := range []string{"", "42", "42:", "x:" + h, "0:" + h, "42:" + h[:63], "42:" + h + "0", fmt.Sprintf("-1:%s", h)} {
		_, err := ParseAnchor(bad, "x")
		assert.Error(t, err, bad)
	}
}

func TestHead(t *testing.T) {
	tr := New(newStore(), "n")
	a, err := tr.Head()
	require.NoError(t, err)
	assert.Equal(t, Anchor{}, a)
	r, err := tr.Append(entry("backup.start"))
	require.NoError(t, err)
	a, err = tr.Head()
	require.NoError(t, err)
	assert.Equal(t, Anchor{Seq: 1, Hash: r.Hash}, a)
}
