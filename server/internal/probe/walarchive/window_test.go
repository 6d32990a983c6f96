package walarchive

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

func TestAnalyzeWindow(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	fresh := WindowInput{Where: "s3://b/p", Archived: true, Newest: now.Add(-5 * time.Second), From: now.Add(-72 * time.Hour),
		NewestBase: now.Add(-20 * time.Hour), Bases: 3, Timeline: 1}
	cases := []struct {
		name  string
		in    func(WindowInput) WindowInput
		state probe.State
		want  string
	}{
		{"fresh", func(in WindowInput) WindowInput { return in }, probe.Healthy, "restorable from 2026-12-03T12:00:00Z to 2026-12-06T11:59:55Z (5s ago)"},
		{"no archive", func(WindowInput) WindowInput { return WindowInput{Where: "s3://b/p"} }, probe.NotConfigured, "not set up: s3://b/p holds no WAL archive"},
		{"newest WAL over a minute old", func(in WindowInput) WindowInput { in.Newest = now.Add(-2 * time.Minute); return in },
			probe.Degraded, "the newest WAL at s3://b/p was stored 2m ago, over 1m"},
		{"newest WAL over ten minutes old (the archiver is down)", func(in WindowInput) WindowInput { in.Newest = now.Add(-time.Hour); return in },
			probe.Critical, "a point-in-time restore reaches no later than that"},
		{"no usable base backup", func(in WindowInput) WindowInput {
			in.Bases, in.Notes = 0, []string{"base backup X passed over: signed by another key"}
			return in
		}, probe.Critical, "no usable base backup at s3://b/p: a point-in-time restore cannot start (base backup X passed over"},
		{"old base backup", func(in WindowInput) WindowInput { in.NewestBase = now.Add(-9 * 24 * time.Hour); return in },
			probe.Degraded, "the newest base backup at s3://b/p is 9d old, over 8d"},
		{"a gap after the newest base backup", func(in WindowInput) WindowInput { in.Gaps = 1; return in },
			probe.Critical, "has 1 gap(s) after the newest base backup: --to-latest stops before the first"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := AnalyzeWindow(c.in(fresh), WindowThresholds{}, now)
			assert.Equal(t, c.state, r.State, r.Summary)
			assert.Contains(t, r.Summary, c.want)
			assert.Equal(t, Component, r.Component)
		})
	}
	r := AnalyzeWindow(fresh, WindowThresholds{}, now)
	got := map[string]float64{}
	for _, m := range r.Metrics {
		got[m.Name] = m.Value
	}
	assert.InDelta(t, float64(now.Unix()-5), got["dr_pitr_newest_wal_timestamp_seconds"], 0.001)
	assert.InDelta(t, float64(now.Unix()-20*3600), got["dr_pitr_base_backup_timestamp_seconds"], 0.001)
	assert.InDelta(t, 72*3600-5, got["dr_pitr_window_seconds"], 0.001)
}
