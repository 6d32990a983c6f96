package plugin

import (
	"fmt"
	"strconv"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/kvstate"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
)

const (
	// missedAfter is how late a slot may start before it counts as missed (reported).
	missedAfter = 10 * time.Minute
)

// backupTick runs once a minute on one node of the cluster: it starts the scheduled backup
// when a slot is due, and alerts when backups have gone stale.
func (p *Plugin) backupTick() {
	cfg, _ := p.config()
	now := time.Now()
	p.scheduledBackup(cfg, now)
	p.scheduledBase(cfg, now)
	p.scheduledVerify(cfg, now)
	p.staleCheck(cfg, now)
	p.statusAlert(cfg, now)
	p.auditHeadPost(now)
	p.heartbeat()
}

// dueSlot returns the newest scheduled time at or before now that is after last (zero if none).
func dueSlot(sched cron.Schedule, loc *time.Location, last, now time.Time) time.Time {
	if sched == nil {
		return time.Time{}
	}
	from := last
	if from.IsZero() || now.Sub(from) > 8*24*time.Hour {
		from = now.Add(-25 * time.Hour) // first run, or long down: look back a day
	}
	var slot time.Time
	for t := sched.Next(from.In(loc)); !t.After(now); t = sched.Next(t) {
		slot = t
	}
	return slot
}

// claimSlot claims the due slot of a schedule across the cluster (an atomic KV update of
// key), so that it runs on one node only. claimed is false when no slot is due or another
// node got it; first is true for the first slot of a schedule that never ran, which only
// records itself (a schedule just set up starts at its next slot, not with a "missed" one).
func (p *Plugin) claimSlot(key *kvstate.Key[time.Time], sched cron.Schedule, loc *time.Location, now time.Time) (slot time.Time, first, claimed bool) {
	last, err := key.Load(p.state())
	if err != nil {
		return slot, false, false
	}
	slot = dueSlot(sched, loc, last.Value, now) // an unreadable last slot counts as none
	if slot.IsZero() {
		return slot, false, false
	}
	if ok, err := key.CompareAndSet(p.state(), last, slot); err != nil || !ok {
		return slot, false, false
	}
	return slot, !last.Found, true
}

func (p *Plugin) scheduledBackup(cfg settings.Config, now time.Time) {
	sched, loc, err := cfg.Schedule()
	if err != nil || sched == nil {
		return
	}
	slot, first, claimed := p.claimSlot(kvstate.BackupSlot, sched, loc, now)
	if !claimed || first {
		return
	}
	comps, _ := cfg.BackupComponentList()
	req := backupRequest{ActorID: audit.ActorSystem, Actor: audit.ActorSystem, Components: comps}
	if late := now.Sub(slot); late > missedAfter {
		msg := fmt.Sprintf(":warning: The scheduled backup of %s did not run on time (Mattermost or the plugin was not running); running it now, %s late.", slot.Format(time.RFC3339), late.Round(time.Minute))
		_ = p.notifier.Ops(msg)
		_, _ = p.auditor.Append(audit.Entry{ActorID: audit.ActorSystem, Actor: audit.ActorSystem, Action: "backup.schedule.missed", Target: slot.Format(time.RFC3339), Outcome: audit.OutcomeFailed, Reason: "late by " + late.Round(time.Minute).String()})
	}
	if _, err := p.startBackup(req); err != nil {
		msg := fmt.Sprintf(":warning: The scheduled backup of %s could not start: %v", slot.Format(time.RFC3339), err)
		_ = p.notifier.Ops(msg)
		p.alertBackupFailed(slot.Format(time.RFC3339), msg)
	}
}

// recordSuccess remembers the newest successful backup and, if an alert was raised, says that
// backups work again.
func (p *Plugin) recordSuccess(at time.Time) {
	_ = kvstate.LastSuccess.Set(p.state(), at)
	staleEnded := false
	if alerted, _, err := kvstate.StaleAlerted.Get(p.state()); err == nil && alerted != "" {
		if err := kvstate.StaleAlerted.Delete(p.state()); err == nil {
			_ = p.notifier.Ops(":white_check_mark: Backups work again: a backup just succeeded.")
			staleEnded = true
		}
	}
	p.resolveBackupAlerts(staleEnded)
}

// staleCheck alerts once per StaleAfter period while no backup has succeeded for that long.
func (p *Plugin) staleCheck(cfg settings.Config, now time.Time) {
	limit := cfg.StaleAfter()
	if limit <= 0 {
		return
	}
	last, err := kvstate.LastSuccess.Load(p.state())
	if err != nil {
		return
	}
	newest := last.Value
	if !last.OK() {
		// Never succeeded: count from the plugin's first activation on this server.
		newest = time.UnixMilli(p.firstSeen(now).UnixMilli())
	}
	age := now.Sub(newest)
	if age < limit {
		return
	}
	period := strconv.FormatInt(int64(age/limit), 10)
	alerted, _ := kvstate.StaleAlerted.Load(p.state())
	if alerted.Value == period {
		return
	}
	if ok, err := kvstate.StaleAlerted.CompareAndSet(p.state(), alerted, period); err != nil || !ok {
		return
	}
	what := "No backup has succeeded"
	if last.OK() {
		what = "The newest successful backup is from " + newest.UTC().Format(time.RFC3339) + ";"
	}
	msg := fmt.Sprintf(":rotating_light: %s for %s (alert threshold %s). Check `/dr backup list` and the failures above, then run `/dr backup now`.", what, age.Round(time.Minute), limit)
	_ = p.opsCritical(msg)
	p.alertBackupStale(msg)
}

// firstSeen is when the plugin first ran on this server (kept in KV).
func (p *Plugin) firstSeen(now time.Time) time.Time {
	if t, ok, err := kvstate.FirstSeen.Get(p.state()); err == nil && ok {
		return t
	}
	_, _ = kvstate.FirstSeen.Create(p.state(), now)
	return now
}
