package plugin

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
)

func TestSettingGauges(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		cfg  settings.Config
		want map[string]float64
	}{
		"every 6 hours": {settings.Config{BackupSchedule: "0 */6 * * *", BackupStaleAfter: "13h", DRRPOLagThreshold: "1m"},
			map[string]float64{"dr_backup_schedule_interval_seconds": 6 * 3600, "dr_backup_stale_after_seconds": 13 * 3600, "dr_rpo_lag_budget_seconds": 60}},
		"daily in a time zone": {settings.Config{BackupSchedule: "@daily", BackupTimeZone: "Europe/Berlin", BackupStaleAfter: "26h"},
			map[string]float64{"dr_backup_schedule_interval_seconds": 24 * 3600, "dr_backup_stale_after_seconds": 26 * 3600, "dr_rpo_lag_budget_seconds": 30}},
		"no schedule, never stale": {settings.Config{BackupStaleAfter: "0"},
			map[string]float64{"dr_backup_schedule_interval_seconds": 0, "dr_backup_stale_after_seconds": 0, "dr_rpo_lag_budget_seconds": 30}},
		"bad schedule reads as none": {settings.Config{BackupSchedule: "every day"},
			map[string]float64{"dr_backup_schedule_interval_seconds": 0, "dr_backup_stale_after_seconds": 0, "dr_rpo_lag_budget_seconds": 30}},
	} {
		t.Run(name, func(t *testing.T) {
			got := map[string]float64{}
			for _, m := range settingGauges(tc.cfg, now) {
				assert.Equal(t, "gauge", m.Type)
				assert.NotEmpty(t, m.Help, m.Name)
				got[m.Name] = m.Value
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// The runbook's finished steps are counted by outcome and every event still reaches the
// next observer (the handover mirror).
func TestStepCounter(t *testing.T) {
	count := func(outcome string) float64 {
		for _, m := range events.Metrics() {
			if m.Name == "dr_failover_steps_total" && m.Labels["outcome"] == outcome {
				return m.Value
			}
		}
		return 0
	}
	done, failed := count("done"), count("failed")
	var seen []failover.EventKind
	c := stepCounter{failover.ObserverFunc(func(ev failover.Event) { seen = append(seen, ev.Kind) })}
	c.Event(failover.Event{Kind: failover.EventStepStarted, Step: &failover.StepRecord{State: failover.StepRunning}})
	c.Event(failover.Event{Kind: failover.EventStepFinished, Step: &failover.StepRecord{}}) // zero state: done
	c.Event(failover.Event{Kind: failover.EventStepFinished, Step: &failover.StepRecord{State: failover.StepFailed}})
	c.Event(failover.Event{Kind: failover.EventRunStopped})
	assert.InDelta(t, done+1, count("done"), 0)
	assert.InDelta(t, failed+1, count("failed"), 0)
	assert.Equal(t, []failover.EventKind{failover.EventStepStarted, failover.EventStepFinished, failover.EventStepFinished, failover.EventRunStopped}, seen)
}
