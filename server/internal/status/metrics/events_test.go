package metrics

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

func TestEvents(t *testing.T) {
	e := NewEvents()
	failedAt := time.Unix(1_772_366_400, 0)
	var wg sync.WaitGroup
	for range 10 { // concurrent jobs on one node
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.BackupRun(true, time.Now())
			e.Alert()
		}()
	}
	wg.Wait()
	e.BackupRun(false, failedAt)
	e.VerifyRun(true, time.Now())
	e.SSOSwitches(true, 3)
	e.SSOSwitches(false, 0)
	e.FailoverStep("")
	e.FailoverStep("waiting")

	text, err := render(t, status.Report{}, e.Metrics()...)
	require.NoError(t, err)
	mfs := parse(t, text)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"dr_backup_runs_total", map[string]string{"outcome": "success"}, 10},
		{"dr_backup_runs_total", map[string]string{"outcome": "failure"}, 1},
		{"dr_backup_last_failure_timestamp_seconds", nil, 1_772_366_400},
		{"dr_verify_runs_total", map[string]string{"outcome": "success"}, 1},
		{"dr_verify_runs_total", map[string]string{"outcome": "failure"}, 0},
		{"dr_verify_last_failure_timestamp_seconds", nil, 0},
		{"dr_sso_switches_total", map[string]string{"direction": "to_fallback"}, 3},
		{"dr_sso_switches_total", map[string]string{"direction": "to_sso"}, 0},
		{"dr_failover_steps_total", map[string]string{"outcome": "done"}, 1},
		{"dr_failover_steps_total", map[string]string{"outcome": "waiting"}, 1},
		{"dr_failover_steps_total", map[string]string{"outcome": "failed"}, 0},
		{"dr_alerts_total", nil, 10},
	} {
		assert.InDelta(t, tc.want, value(t, mfs, tc.name, tc.labels), 0, "%s%v", tc.name, tc.labels)
	}
	for name, mf := range mfs {
		d, ok := Lookup(name)
		require.True(t, ok, "%s is not in Catalog", name)
		assert.Equal(t, d.Type, map[bool]string{true: "counter", false: "gauge"}[mf.GetType().String() == "COUNTER"], name)
	}
}
