package audit

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func exportData(t *testing.T) (*Trail, []Record) {
	tr := newTestTrail(newStore(), "node-a", newClock(t0, 1500*time.Millisecond))
	entries := []Entry{
		{ActorID: ActorSystem, Actor: ActorSystem, Action: "backup.start", Target: "backup-20250301", Outcome: OutcomeStarted,
			Details: map[string]string{"region": "eu-west-1", "bucket": "s3://dr/main"}},
		{ActorID: "uid1", Actor: "alice", Action: "backup.start", Target: "backup-20250301", Outcome: OutcomeSucceeded,
			Details: map[string]string{"bytes": "1048576", "note": `a;b=c\d`}},
		{ActorID: "uid2", Actor: "bob, jr.", Action: "auth.refused", Target: "/plugins/disaster-recovery/api/v1/restore", Outcome: OutcomeRefused,
			Reason: "not a system admin: \"bob\" tried\nrestore", Details: map[string]string{"password": "hunter2", "ip": "10.0.0.7"}},
		{ActorID: "uid1", Actor: "alice", Action: "sso.fallback", Target: `=HYPERLINK("http://x")`, Outcome: OutcomeFailed,
			Reason: "IdP unreachable — falling back <local>"},
	}
	var recs []Record
	for _, e := range entries {
		r, err := tr.Append(e)
		require.NoError(t, err)
		recs = append(recs, r)
	}
	return tr, recs
}

func TestExportGolden(t *testing.T) {
	tr, _ := exportData(t)
	tests := []struct {
		name   string
		format string
		f      Filter
	}{
		{"all.jsonl", "jsonl", Filter{}},
		{"all.csv", "csv", Filter{}},
		{"newest_backup.csv", "csv", Filter{Action: "backup.", Limit: 1}},
		{"none.csv", "csv", Filter{ActorID: "nobody"}},
		{"none.jsonl", "jsonl", Filter{ActorID: "nobody"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if tc.format == "csv" {
				require.NoError(t, tr.ExportCSV(&buf, tc.f))
			} else {
				require.NoError(t, tr.ExportJSONL(&buf, tc.f))
			}
			path := filepath.Join("testdata", "export_"+tc.name)
			if *update {
				require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, string(want), buf.String())
		})
	}
}

// TestExportJSONLIsVerifiable re-checks the chain from the export alone, as
// an outside script would.
func TestExportJSONLIsVerifiable(t *testing.T) {
	tr, recs := exportData(t)
	var buf bytes.Buffer
	require.NoError(t, tr.ExportJSONL(&buf, Filter{}))

	prev := ""
	var got []Record
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var r Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		sum, err := ComputeHash(r)
		require.NoError(t, err)
		assert.Equal(t, r.Hash, sum)
		assert.Equal(t, prev, r.PrevHash)
		prev = r.Hash
		got = append(got, r)
	}
	assert.Equal(t, recs, got)
	assert.NotContains(t, buf.String(), "hunter2")
}

func TestExportCSVParses(t *testing.T) {
	tr, recs := exportData(t)
	var buf bytes.Buffer
	require.NoError(t, tr.ExportCSV(&buf, Filter{}))
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, len(recs)+1)
	assert.Equal(t, CSVHeader, rows[0])
	r3 := rows[3]
	assert.Equal(t, "3", r3[0])
	assert.Equal(t, "2025-03-01T10:00:03.000Z", r3[1])
	assert.Equal(t, "bob, jr.", r3[3])
	assert.Equal(t, "not a system admin: \"bob\" tried\nrestore", r3[8])
	assert.Equal(t, "ip=10.0.0.7;password=[redacted]", r3[9])
	assert.Equal(t, recs[2].Hash, r3[11])
	assert.Equal(t, `bytes=1048576;note=a\;b\=c\\d`, rows[2][9])
	assert.Equal(t, `'=HYPERLINK("http://x")`, rows[4][6], "formula defused")
}

// TestExportMatchesQuery: an export holds the same records as Query, oldest
// first; without a limit it holds every match.
func TestExportMatchesQuery(t *testing.T) {
	tr, all := queryData(t)
	timeOf := func(seq int) time.Time { return all[seq-1].Time }
	filters := []Filter{
		{},
		{Limit: 7},
		{Action: "backup", Limit: 5},
		{ActorID: "u1", Since: timeOf(10), Until: timeOf(40)},
		{Since: timeOf(30)},
		{Until: timeOf(12), Limit: 3},
		{Target: "t2", Outcome: OutcomeStarted},
		{Since: timeOf(59), Until: timeOf(3)},
	}
	for _, f := range filters {
		var buf bytes.Buffer
		require.NoError(t, tr.ExportJSONL(&buf, f))
		var got []uint64
		sc := bufio.NewScanner(&buf)
		for sc.Scan() {
			var r Record
			require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
			got = append(got, r.Seq)
		}

		var want []uint64
		for i := len(all) - 1; i >= 0; i-- {
			if f.match(&all[i]) && (f.Limit == 0 || len(want) < f.Limit) {
				want = append(want, all[i].Seq)
			}
		}
		slices.Reverse(want)
		assert.Equal(t, want, got, "%+v", f)

		if f.Limit > 0 {
			q, err := tr.Query(f)
			require.NoError(t, err)
			qs := seqs(q)
			slices.Reverse(qs)
			if len(qs) == 0 {
				qs = nil
			}
			assert.Equal(t, qs, got, "%+v", f)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestExportWriteError(t *testing.T) {
	tr, _ := queryData(t) // enough rows to overflow the bufio buffer
	tr.pageSize = 7
	require.ErrorContains(t, tr.ExportJSONL(failingWriter{}, Filter{}), "disk full")
	require.ErrorContains(t, tr.ExportCSV(failingWriter{}, Filter{}), "disk full")
}
