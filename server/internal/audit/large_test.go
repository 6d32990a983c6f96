package audit

import (
	"bufio"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLargeTrail: queries on a 100,000-record trail (20,000 with -short)
// read only the pages they need, counted through the KV.
func TestLargeTrail(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	store := newStore()
	seed := newTestTrail(store, "node-a", newClock(t0, time.Second))
	actions := []string{"backup.start", "backup.verify", "restore.user", "sso.fallback"}
	rare1, rare2 := 7, n/2
	began := time.Now()
	for i := 1; i <= n; i++ {
		e := Entry{
			ActorID: fmt.Sprintf("u%d", i%50), Actor: fmt.Sprintf("user%d", i%50),
			Action: actions[i%4], Target: fmt.Sprintf("target-%d", i%1000), Outcome: OutcomeSucceeded,
		}
		if i == rare1 || i == rare2 {
			e.ActorID = "rare"
		}
		_, err := seed.Append(e)
		require.NoError(t, err)
	}
	t.Logf("appended %d records in %v", n, time.Since(began))

	ckv := &countingKV{KV: store}
	tr := newTestTrail(ckv, "reader", newClock(t0, time.Second))
	timeOf := func(seq int) time.Time { return t0.Add(time.Duration(seq-1) * time.Second) }
	skewRecords := int(tr.skew / time.Second) // records per skew window at one per second

	tests := []struct {
		name           string
		f              Filter
		first, last    int // seq of newest and oldest result
		count          int
		maxReads       int
		fullWalkIsFine bool
	}{
		{name: "newest 10", f: Filter{Limit: 10}, first: n, last: n - 9, count: 10, maxReads: 110},
		{name: "limit capped at 1000", f: Filter{Limit: 5000}, first: n, last: n - 999, count: 1000, maxReads: 1010},
		{name: "since: last 200", f: Filter{Since: timeOf(n - 199), Limit: MaxLimit}, first: n, last: n - 199, count: 200,
			maxReads: 200 + skewRecords + 110},
		{name: "until: oldest 100", f: Filter{Until: timeOf(101), Limit: 10}, first: 100, last: 91, count: 10,
			maxReads: 100 + skewRecords + 110 + 40},
		{name: "window in the middle", f: Filter{Since: timeOf(n / 2), Until: timeOf(n/2 + 50), Limit: MaxLimit},
			first: n/2 + 49, last: n / 2, count: 50, maxReads: 50 + 2*skewRecords + 110 + 40},
		{name: "rare actor: full walk, a page at a time", f: Filter{ActorID: "rare"}, first: rare2, last: rare1, count: 2,
			maxReads: n + 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ckv.gets.Store(0)
			began := time.Now()
			got, err := tr.Query(tc.f)
			require.NoError(t, err)
			reads := ckv.gets.Load()
			t.Logf("%d results, %d reads, %v", len(got), reads, time.Since(began))
			require.Len(t, got, tc.count)
			assert.Equal(t, uint64(tc.first), got[0].Seq)
			assert.Equal(t, uint64(tc.last), got[len(got)-1].Seq)
			for i := 1; i < len(got); i++ {
				require.Greater(t, got[i-1].Seq, got[i].Seq, "newest first")
			}
			assert.LessOrEqual(t, reads, int64(tc.maxReads))
		})
	}

	t.Run("export of a window reads only around it", func(t *testing.T) {
		ckv.gets.Store(0)
		lines := 0
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(pr)
			sc.Buffer(make([]byte, 64*1024), 1<<20)
			for sc.Scan() {
				lines++
			}
		}()
		err := tr.ExportCSV(pw, Filter{Since: timeOf(n / 4), Until: timeOf(n/4 + 500)})
		pw.CloseWithError(err)
		<-done
		require.NoError(t, err)
		assert.Equal(t, 501, lines) // header + 500
		reads := ckv.gets.Load()
		t.Logf("%d reads", reads)
		assert.LessOrEqual(t, reads, int64(500+2*skewRecords+200+40))
	})

	t.Run("verify", func(t *testing.T) {
		began := time.Now()
		res, err := tr.Verify()
		require.NoError(t, err)
		t.Logf("verified %d records in %v", res.Checked, time.Since(began))
		assert.True(t, res.OK, res.Problem)
		assert.Equal(t, uint64(n), res.Checked)
	})
}
