package backups

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

func TestAnalyze(t *testing.T) {
	good := Input{Enabled: true, NewestSuccess: ago(3 * time.Hour), NewestVerified: ago(2 * 24 * time.Hour)}
	with := func(f func(*Input)) Input { in := good; f(&in); return in }
	tests := []struct {
		name         string
		in           Input
		th           Thresholds
		wantState    probe.State
		wantFindings []string
		wantSummary  string
	}{
		{
			name:        "recent and verified",
			in:          good,
			wantState:   probe.Healthy,
			wantSummary: "newest backup 3h old, newest verified 48h old",
		},
		{
			name:        "not scheduled",
			in:          Input{},
			wantState:   probe.NotConfigured,
			wantSummary: "backups are not scheduled",
		},
		{
			name:         "none yet",
			in:           Input{Enabled: true},
			wantState:    probe.Critical,
			wantFindings: []string{"no backup has succeeded yet", "no backup has been verified: it is not known that they can be restored"},
			wantSummary:  "no successful backup yet",
		},
		{
			name:         "older than the limit",
			in:           with(func(in *Input) { in.NewestSuccess = ago(30 * time.Hour) }),
			wantState:    probe.Degraded,
			wantFindings: []string{"the newest successful backup is 30h old, over 26h"},
		},
		{
			name:         "older than the critical limit",
			in:           with(func(in *Input) { in.NewestSuccess = ago(4 * 24 * time.Hour) }),
			wantState:    probe.Critical,
			wantFindings: []string{"the newest successful backup is 4d old, over the 3d limit"},
		},
		{
			name:         "own thresholds",
			in:           good,
			th:           Thresholds{MaxAge: time.Hour, CriticalAge: 2 * time.Hour, MaxVerifiedAge: 24 * time.Hour},
			wantState:    probe.Critical,
			wantFindings: []string{"the newest successful backup is 3h old, over the 2h limit", "the newest verified backup is 48h old, over 24h"},
		},
		{
			name:         "never verified",
			in:           with(func(in *Input) { in.NewestVerified = time.Time{} }),
			wantState:    probe.Degraded,
			wantFindings: []string{"no backup has been verified: it is not known that they can be restored"},
			wantSummary:  "newest backup 3h old, none verified",
		},
		{
			name:         "verification too old",
			in:           with(func(in *Input) { in.NewestVerified = ago(10 * 24 * time.Hour) }),
			wantState:    probe.Degraded,
			wantFindings: []string{"the newest verified backup is 10d old, over 8d"},
		},
		{
			name:         "local only",
			in:           with(func(in *Input) { in.LocalOnly = true }),
			wantState:    probe.Degraded,
			wantFindings: []string{"local-only backups are not off-site: losing this server or region loses them too"},
		},
		{
			name:         "secrets unencrypted",
			in:           with(func(in *Input) { in.UnencryptedSecrets = true }),
			wantState:    probe.Degraded,
			wantFindings: []string{"backups hold secrets unencrypted: anyone who can read the backup storage can read the database password and keys"},
		},
		{
			name:        "backup from the future (clock skew) is not negative",
			in:          with(func(in *Input) { in.NewestSuccess = now.Add(time.Minute) }),
			wantState:   probe.Healthy,
			wantSummary: "newest backup 0s old, newest verified 48h old",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Analyze(tt.in, tt.th, now)
			assert.Equal(t, Component, r.Component)
			assert.Equal(t, tt.wantState, r.State)
			var got []string
			for _, f := range r.Findings {
				got = append(got, f.Message)
				assert.NotEmpty(t, f.Fix)
			}
			assert.Equal(t, tt.wantFindings, got)
			if tt.wantSummary != "" {
				assert.Equal(t, tt.wantSummary, r.Summary)
			}
		})
	}
}

func TestAnalyzeMetrics(t *testing.T) {
	metrics := func(r probe.Result) map[string]float64 {
		m := map[string]float64{}
		for _, s := range r.Metrics {
			assert.Equal(t, "gauge", s.Type)
			m[s.Name] = s.Value
		}
		return m
	}
	r := Analyze(Input{Enabled: true, NewestSuccess: ago(90 * time.Minute), NewestVerified: ago(25 * time.Hour)}, Thresholds{}, now)
	assert.Equal(t, map[string]float64{
		"dr_backup_last_success_timestamp_seconds":  float64(ago(90 * time.Minute).Unix()),
		"dr_backup_last_verified_timestamp_seconds": float64(ago(25 * time.Hour).Unix()),
	}, metrics(r))

	none := metrics(Analyze(Input{Enabled: true}, Thresholds{}, now))
	assert.InDelta(t, 0, none["dr_backup_last_success_timestamp_seconds"], 0)
	assert.InDelta(t, 0, none["dr_backup_last_verified_timestamp_seconds"], 0, "none yet is 0, never +Inf")
	_, hasVerified := none["dr_backup_last_verified_timestamp_seconds"]
	assert.True(t, hasVerified, "the series exists when there is none, so a rule sees it")

	assert.Empty(t, Analyze(Input{}, Thresholds{}, now).Metrics, "nothing to say when not scheduled")
}

func TestAnalyzeTable(t *testing.T) {
	r := Analyze(Input{Enabled: true, NewestSuccess: ago(3 * time.Hour), LocalOnly: true}, Thresholds{}, now)
	require.NotNil(t, r.Table)
	assert.Equal(t, [][]string{
		{"Newest successful backup", "2026-03-01 09:00 UTC (3h ago)", "26h, critical 3d"},
		{"Newest verified backup", "none", "8d"},
		{"Stored off-site", "no", "yes"},
		{"Secrets encrypted", "yes", "yes"},
	}, r.Table.Rows)
}

func TestProbe(t *testing.T) {
	in := Input{Enabled: true, NewestSuccess: time.Now().Add(-time.Hour), NewestVerified: time.Now().Add(-time.Hour)}
	p := New(Options{Input: func(context.Context) Input { return in }, Thresholds: Thresholds{MaxAge: 2 * time.Hour}})
	assert.Equal(t, Component, p.Component())
	r := p.Probe(context.Background())
	assert.Equal(t, probe.Healthy, r.State, r.Findings)
	assert.Equal(t, "newest backup 1h old, newest verified 1h old", r.Summary)
}
