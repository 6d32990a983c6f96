package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendBuildsChain(t *testing.T) {
	store := newStore()
	// A clock in another zone with nanoseconds: records must be UTC, ms.
	zone := time.FixedZone("CEST", 2*3600)
	clock := newClock(time.Date(2025, 3, 1, 12, 0, 0, 123456789, zone), time.Second)
	tr := newTestTrail(store, "node-a", clock)

	recs := appendN(t, tr, 3, func(i int) Entry {
		e := entry("backup.start")
		e.Target = fmt.Sprintf("backup-%d", i)
		e.Details = map[string]string{"size": "42"}
		return e
	})

	for i, r := range recs {
		seq := uint64(i + 1)
		assert.Equal(t, seq, r.Seq)
		assert.Equal(t, "node-a", r.Node)
		assert.Equal(t, time.UTC, r.Time.Location())
		assert.Equal(t, time.Date(2025, 3, 1, 10, 0, i, 123000000, time.UTC), r.Time)
		if i == 0 {
			assert.Equal(t, "", r.PrevHash)
		} else {
			assert.Equal(t, recs[i-1].Hash, r.PrevHash)
		}
		sum, err := ComputeHash(r)
		require.NoError(t, err)
		assert.Equal(t, sum, r.Hash)
		// What is stored round-trips exactly, hash included.
		assert.Equal(t, r, readStored(t, store, seq))
	}

	var h head
	require.NoError(t, store.Get(headKey, &h))
	assert.Equal(t, head{Seq: 3, Hash: recs[2].Hash}, h)
	assert.Contains(t, string(rawGet(t, store, recordKey(1))), `"seq":1`)
	assert.Equal(t, "audit/r/0000000000000012", recordKey(12))
}

func TestAppendDoesNotKeepCallersMap(t *testing.T) {
	tr := newTestTrail(newStore(), "n", newClock(t0, time.Second))
	d := map[string]string{"a": "1"}
	e := entry("settings.change")
	e.Details = d
	r, err := tr.Append(e)
	require.NoError(t, err)
	d["a"] = "changed"
	assert.Equal(t, "1", r.Details["a"])
}

func TestAppendValidation(t *testing.T) {
	tooMany := map[string]string{}
	for i := range maxDetails + 1 {
		tooMany[fmt.Sprint("k", i)] = "v"
	}
	tests := []struct {
		name string
		edit func(e *Entry)
	}{
		{"empty actor id", func(e *Entry) { e.ActorID = "" }},
		{"empty action", func(e *Entry) { e.Action = "" }},
		{"upper case action", func(e *Entry) { e.Action = "Backup.Start" }},
		{"empty segment", func(e *Entry) { e.Action = "backup..start" }},
		{"trailing dot", func(e *Entry) { e.Action = "backup." }},
		{"space in action", func(e *Entry) { e.Action = "backup start" }},
		{"unknown outcome", func(e *Entry) { e.Outcome = "done" }},
		{"empty outcome", func(e *Entry) { e.Outcome = "" }},
		{"too many details", func(e *Entry) { e.Details = tooMany }},
		{"empty detail key", func(e *Entry) { e.Details = map[string]string{"": "x"} }},
		{"long detail key", func(e *Entry) { e.Details = map[string]string{strings.Repeat("k", 129): "x"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore()
			tr := newTestTrail(store, "n", newClock(t0, time.Second))
			e := entry("backup.start")
			tc.edit(&e)
			_, err := tr.Append(e)
			require.ErrorIs(t, err, ErrInvalidEntry)
			assert.Empty(t, rawGet(t, store, headKey))
			assert.Empty(t, rawGet(t, store, recordKey(1)))
		})
	}

	t.Run("all outcomes and system actor accepted", func(t *testing.T) {
		tr := newTestTrail(newStore(), "n", newClock(t0, time.Second))
		for _, o := range []Outcome{OutcomeStarted, OutcomeSucceeded, OutcomeFailed, OutcomeRefused, OutcomeSkipped} {
			_, err := tr.Append(Entry{ActorID: ActorSystem, Actor: ActorSystem, Action: "drill.run-1", Outcome: o})
			require.NoError(t, err)
		}
	})
}

func TestAppendTruncatesAndSanitizes(t *testing.T) {
	store := newStore()
	tr := newTestTrail(store, "n", newClock(t0, time.Second))
	e := entry("restore.user")
	e.Reason = strings.Repeat("é", maxReasonLen) // 2 bytes each: cut must not split a rune
	e.Target = "bad utf8: \xff\xfe"
	e.Details = map[string]string{"error": strings.Repeat("x", maxDetailValueLen+10)}
	r, err := tr.Append(e)
	require.NoError(t, err)

	assert.LessOrEqual(t, len(r.Reason), maxReasonLen)
	assert.True(t, strings.HasSuffix(r.Reason, truncatedMark))
	assert.True(t, strings.HasPrefix(r.Reason, "éé"))
	assert.Equal(t, "bad utf8: \uFFFD", r.Target) // a run of bad bytes becomes one U+FFFD
	assert.Len(t, r.Details["error"], maxDetailValueLen)

	// Stored value round-trips and the chain verifies.
	assert.Equal(t, r, readStored(t, store, 1))
	res, err := tr.Verify()
	require.NoError(t, err)
	assert.True(t, res.OK, res.Problem)
}

func TestSecretRedaction(t *testing.T) {
	tests := []struct {
		key    string
		secret bool
	}{
		{"password", true},
		{"Password", true},
		{"db_password", true},
		{"new-passwd", true},
		{"client_secret", true},
		{"SECRET", true},
		{"token", true},
		{"access_token", true},
		{"Session-Token", true},
		{"privateKey", true},
		{"private_key", true},
		{"private-key", true},
		{"PRIVATE.KEY", true},
		{"credentials", true},
		{"aws_credential_file", true},
		{"api_key", true},
		{"aws_access_key_id", true},
		{"Authorization", true},
		{"SqlSettings.DataSource", true},
		{"replica_dsn", true},
		{"FileSettings.PublicLinkSalt", true},
		{"MMAUTHTOKEN cookie", true},
		{"backup_encryption_key", true},
		{"backup_id", false},
		{"region", false},
		{"user", false},
		{"key", false},
		{"s3_object_key", false},
		{"public_key_fingerprint", false},
		{"bytes", false},
	}
	store := newStore()
	tr := newTestTrail(store, "n", newClock(t0, time.Second))
	details := map[string]string{}
	for i, tc := range tests {
		assert.Equal(t, tc.secret, IsSecretKey(tc.key), tc.key)
		details[tc.key] = fmt.Sprintf("VALUE-%02d", i)
	}
	e := entry("settings.change")
	e.Details = details
	r, err := tr.Append(e)
	require.NoError(t, err)

	stored := string(rawGet(t, store, recordKey(1)))
	for i, tc := range tests {
		value := fmt.Sprintf("VALUE-%02d", i)
		if tc.secret {
			assert.Equal(t, Redacted, r.Details[tc.key], tc.key)
			assert.NotContains(t, stored, value, tc.key)
		} else {
			assert.Equal(t, value, r.Details[tc.key], tc.key)
			assert.Contains(t, stored, value, tc.key)
		}
	}
}

func TestWithRedactor(t *testing.T) {
	store := newStore()
	tr := New(store, "n", WithClock(newClock(t0, time.Second).Now), WithRedactor(func(_, value string) string {
		if strings.HasPrefix(value, "mmauthtoken=") {
			return Redacted
		}
		return value
	}))
	e := entry("auth.refused")
	e.Details = map[string]string{"cookie": "mmauthtoken=abc", "path": "/x", "password": "hunter2"}
	r, err := tr.Append(e)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"cookie": Redacted, "path": "/x", "password": Redacted}, r.Details)
	assert.NotContains(t, string(rawGet(t, store, recordKey(1))), "hunter2")
}

// TestCanonicalEncoding pins the canonical encoding to its documented form:
// the expected bytes are written out by hand from the package documentation,
// as an external checker would build them.
func TestCanonicalEncoding(t *testing.T) {
	r := Record{
		Seq:      7,
		Time:     time.Date(2025, 3, 1, 10, 0, 5, 0, time.UTC),
		ActorID:  "uid1",
		Actor:    "alice",
		Node:     "node-a",
		Action:   "sso.fallback",
		Target:   "user <42> & co",
		Outcome:  OutcomeFailed,
		Details:  map[string]string{"z": "last", "a": "first \"q\"\n", "m": "é\u2028"},
		PrevHash: "abc",
		Hash:     "ignored",
	}
	want := `{"seq":7,"time":"2025-03-01T10:00:05.000Z","actor_id":"uid1","actor":"alice","node":"node-a",` +
		`"action":"sso.fallback","target":"user <42> & co","outcome":"failed","reason":"",` +
		`"details":{"a":"first \"q\"\n","m":"é\u2028","z":"last"},"prev_hash":"abc"}`
	got, err := CanonicalJSON(r)
	require.NoError(t, err)
	assert.Equal(t, want, string(got))

	sum := sha256.Sum256([]byte(want))
	h, err := ComputeHash(r)
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(sum[:]), h)

	// nil and empty details hash the same; Hash is not an input.
	r.Details = nil
	h1, _ := ComputeHash(r)
	r.Details = map[string]string{}
	r.Hash = "other"
	h2, _ := ComputeHash(r)
	assert.Equal(t, h1, h2)
}

// queryData appends 60 varied records, one minute apart, alternating two
// nodes whose clocks disagree by 2 minutes (within the default skew).
func queryData(t *testing.T) (*Trail, []Record) {
	store := newStore()
	clockA := newClock(t0, 2*time.Minute)
	clockB := newClock(t0.Add(time.Minute-2*time.Minute), 2*time.Minute)
	a := newTestTrail(store, "node-a", clockA)
	b := newTestTrail(store, "node-b", clockB)
	actors := []string{"u1", "u2", ActorSystem}
	actions := []string{"backup.start", "backup.verify", "restore.user", "sso.fallback", "auth.refused"}
	outcomes := []Outcome{OutcomeStarted, OutcomeSucceeded, OutcomeFailed, OutcomeRefused, OutcomeSkipped}
	var recs []Record
	for i := 1; i <= 60; i++ {
		tr := a
		if i%2 == 0 {
			tr = b
		}
		r, err := tr.Append(Entry{
			ActorID: actors[i%3],
			Actor:   actors[i%3] + "-name",
			Action:  actions[i%5],
			Target:  fmt.Sprintf("t%d", i%4),
			Outcome: outcomes[(i/5)%5],
		})
		require.NoError(t, err)
		recs = append(recs, r)
	}
	return a, recs
}

// reference is the obvious filter over all records, newest first.
func reference(all []Record, f Filter) []uint64 {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	var out []uint64
	for i := len(all) - 1; i >= 0 && len(out) < min(limit, MaxLimit); i-- {
		if f.match(&all[i]) {
			out = append(out, all[i].Seq)
		}
	}
	return out
}

func seqs(recs []Record) []uint64 {
	out := make([]uint64, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}

func TestQuery(t *testing.T) {
	tr, all := queryData(t)
	timeOf := func(seq int) time.Time { return all[seq-1].Time }

	tests := []struct {
		name string
		f    Filter
		want []uint64 // nil: only compared with the reference filter
	}{
		{name: "no filter, default limit", f: Filter{}},
		{name: "limit", f: Filter{Limit: 3}, want: []uint64{60, 59, 58}},
		{name: "actor", f: Filter{ActorID: "u2"}},
		{name: "action prefix", f: Filter{Action: "backup."}},
		{name: "action exact", f: Filter{Action: "auth.refused"}},
		{name: "action prefix no match", f: Filter{Action: "failover"}, want: []uint64{}},
		{name: "target", f: Filter{Target: "t3"}},
		{name: "outcome", f: Filter{Outcome: OutcomeRefused}},
		{name: "since inclusive", f: Filter{Since: timeOf(55)}},
		{name: "until exclusive", f: Filter{Until: timeOf(5)}},
		{name: "since and until", f: Filter{Since: timeOf(20), Until: timeOf(30)}},
		{name: "window between records", f: Filter{Since: timeOf(20).Add(time.Second), Until: timeOf(20).Add(2 * time.Second)}, want: []uint64{}},
		{name: "combined", f: Filter{ActorID: ActorSystem, Action: "backup", Since: timeOf(10), Limit: 4}},
		{name: "since before everything", f: Filter{Since: t0.Add(-time.Hour), Limit: 1000}},
		{name: "until after everything", f: Filter{Until: t0.Add(10 * time.Hour), Limit: 2}, want: []uint64{60, 59}},
		{name: "until before everything", f: Filter{Until: t0.Add(-time.Hour)}, want: []uint64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tr.Query(tc.f)
			require.NoError(t, err)
			ref := reference(all, tc.f)
			if ref == nil {
				ref = []uint64{}
			}
			assert.Equal(t, ref, seqs(got))
			if tc.want != nil {
				assert.Equal(t, tc.want, seqs(got))
			}
			for _, r := range got {
				assert.Equal(t, all[r.Seq-1], r)
			}
		})
	}

	// The node clocks disagree, so times are not in seq order; the
	// reference must see both orders to make the time cases meaningful.
	ordered := sort.SliceIsSorted(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	assert.False(t, ordered)
}

func TestQueryEmptyTrail(t *testing.T) {
	tr := newTestTrail(newStore(), "n", newClock(t0, time.Second))
	got, err := tr.Query(Filter{Until: t0})
	require.NoError(t, err)
	assert.Empty(t, got)
	res, err := tr.Verify()
	require.NoError(t, err)
	assert.True(t, res.OK)
	assert.Zero(t, res.Checked)
}
