package walarchive

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

var now = time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)

func metric(r probe.Result, name string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

func TestAnalyze(t *testing.T) {
	good := Input{Enabled: true, Reported: true, Node: "app1", ReportedAt: now.Add(-2 * time.Second), Running: true,
		CaughtUp: now.Add(-3 * time.Second), LastFile: "wal/00000001/000000010000000000000003.partial.zst", MaxDelay: 10 * time.Second,
		Slot: Slot{Name: "mattermost_dr_archive", Checked: true, Found: true, Active: true, Retained: 20 << 20, Status: "reserved"}}
	with := func(f func(*Input)) Input { in := good; f(&in); return in }
	tests := []struct {
		name    string
		in      Input
		state   probe.State
		finding string
	}{
		{"archiving and caught up", good, probe.Healthy, ""},
		{"off", Input{}, probe.NotConfigured, ""},
		{"off with the slot left behind", Input{Slot: Slot{Name: "mattermost_dr_archive", Checked: true, Found: true, Retained: 3 << 30}}, probe.Degraded, "pg_drop_replication_slot('mattermost_dr_archive')"},
		{"set up wrongly", with(func(in *Input) {
			in.Setup, in.Running = "the database user lacks the REPLICATION attribute: … ALTER ROLE \"mm\" REPLICATION;", false
		}), probe.Critical, `ALTER ROLE "mm" REPLICATION;`},
		{"no node reports", with(func(in *Input) { in.Reported, in.ReportedAt = false, now.Add(-5*time.Minute) }), probe.Critical, "the last report, from node app1, is 5m old"},
		{"pg_receivewal stopped", with(func(in *Input) {
			in.Running, in.LastError = false, "pg_receivewal stopped (exit status 1): connection refused"
		}), probe.Critical, "connection refused"},
		{"behind", with(func(in *Input) { in.CaughtUp = now.Add(-45 * time.Second) }), probe.Degraded, "45s behind the database, over 30s"},
		{"far behind", with(func(in *Input) { in.CaughtUp = now.Add(-10 * time.Minute) }), probe.Critical, "10m behind"},
		{"a pass failed", with(func(in *Input) { in.LastError = "store wal/… at s3: access denied" }), probe.Degraded, "access denied"},
		{"slot holds a lot", with(func(in *Input) { in.Slot.Retained = 9 << 30 }), probe.Degraded, "fills the database server's disk"},
		{"slot holds too much", with(func(in *Input) { in.Slot.Retained = 17 << 30 }), probe.Critical, "over twice"},
		{"slot lost WAL", with(func(in *Input) { in.Slot.Status = "lost" }), probe.Critical, "the archive has a gap"},
		{"file capture works", with(func(in *Input) {
			in.Capture = Capture{Interval: time.Minute, LastSuccess: now.Add(-time.Minute), LastID: "20261206T175900Z-ab12"}
		}), probe.Healthy, ""},
		{"file capture fails", with(func(in *Input) {
			in.Capture = Capture{Interval: time.Minute, LastSuccess: now.Add(-time.Hour), LastID: "20261206T170000Z-ab12", Failures: 3,
				FailingSince: now.Add(-3 * time.Minute), LastError: "destination s3: access denied"}
		}), probe.Degraded, "file capture failed 3 times in a row since 2026-12-06T17:57:00Z, so a point-in-time restore lacks the files uploaded since: destination s3: access denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Analyze(tt.in, Thresholds{}, now)
			assert.Equal(t, tt.state, r.State, "%+v", r.Findings)
			if tt.finding != "" {
				require.NotEmpty(t, r.Findings)
				var all []string
				for _, f := range r.Findings {
					all = append(all, f.Message+" / "+f.Fix)
				}
				assert.Contains(t, strings.Join(all, "\n"), tt.finding)
				assert.Equal(t, r.Findings[0].Message, r.Summary, "the summary is the worst finding")
			}
		})
	}

	r := Analyze(good, Thresholds{}, now)
	assert.Equal(t, "archiving on node app1, 3s behind", r.Summary)
	lag, ok := metric(r, "dr_wal_archive_lag_seconds")
	require.True(t, ok)
	assert.InDelta(t, 3, lag, 0.001)
	v, _ := metric(r, "dr_wal_archive_running")
	assert.Equal(t, 1.0, v)
	v, _ = metric(r, "dr_wal_archive_slot_retained_bytes")
	assert.Equal(t, float64(20<<20), v)
	var rows []string
	for _, row := range r.Table.Rows {
		rows = append(rows, strings.Join(row, " | "))
	}
	assert.Equal(t, []string{
		"Archiving | on | ",
		"Node archiving | app1 | ",
		"pg_receivewal | running (restarted 0 times) | running",
		"Archiving lag | 3s | 30s",
		"Last file stored | wal/00000001/000000010000000000000003.partial.zst | ",
		"Files waiting in the spool | 0 | 0",
		"Last error | none | ",
		"WAL held by slot mattermost_dr_archive | 20.0 MiB (reserved, in use) | 8.0 GiB",
	}, rows)

	captured := Analyze(with(func(in *Input) {
		in.Capture = Capture{Interval: time.Minute, LastSuccess: now.Add(-90 * time.Second), LastID: "20261206T175830Z-ab12"}
	}), Thresholds{}, now)
	last := captured.Table.Rows[len(captured.Table.Rows)-1]
	assert.Equal(t, "Last file capture | 20261206T175830Z-ab12, 1m ago | every 1m after uploads", strings.Join(last, " | "))
	checked := Analyze(with(func(in *Input) {
		in.Capture = Capture{Interval: time.Minute, LastSuccess: now.Add(-time.Hour), LastID: "20261206T170000Z-ab12", LastChecked: now.Add(-5 * time.Second)}
	}), Thresholds{}, now)
	last = checked.Table.Rows[len(checked.Table.Rows)-1]
	assert.Equal(t, "Last file capture | 20261206T170000Z-ab12, 1h ago (nothing new since; checked 5s ago) | every 1m after uploads", strings.Join(last, " | "))

	stopped := Analyze(with(func(in *Input) { in.Running = false }), Thresholds{}, now)
	v, _ = metric(stopped, "dr_wal_archive_running")
	assert.Equal(t, 0.0, v)
	slow := Analyze(with(func(in *Input) { in.MaxDelay, in.CaughtUp = time.Minute, now.Add(-2*time.Minute) }), Thresholds{}, now)
	assert.Equal(t, probe.Healthy, slow.State, "the lag limit follows MaxDelay: 3 × 1m")
}
