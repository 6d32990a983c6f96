package plugin

import (
	"fmt"
	"strconv"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/robfig/cron/v3"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/config"
)

const (
	lastSlotKey    = "backup/schedule/last-slot"   // unix ms of the last scheduled slot run
	lastSuccessKey = "backup/last-success"         // unix ms of the newest successful backup
	staleAlertKey  = "backup/stale-alerted-period" // stale period already alerted
	// missedAfter is how late a slot may start before it counts as missed (reported).
	missedAfter = 10 * time.Minute
)

// backupTick runs once a minute on one node of the cluster: it starts the scheduled backup
// when a slot is due, and alerts when backups have gone stale.
func (p *Plugin) backupTick() {
	cfg, _ := p.config()
	now := time.Now()
	p.scheduledBackup(cfg, now)
	p.scheduledVerify(cfg, now)
	p.staleCheck(cfg, now)
	p.statusAlert(cfg, now)
	p.auditHeadPost(now)
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
func (p *Plugin) claimSlot(key string, sched cron.Schedule, loc *time.Location, now time.Time) (slot time.Time, first, claimed bool) {
	var lastRaw string
	if err := p.client.KV.Get(key, &lastRaw); err != nil {
		return slot, false, false
	}
	var last time.Time
	if ms, err := strconv.ParseInt(lastRaw, 10, 64); err == nil {
		last = time.UnixMilli(ms)
	}
	slot = dueSlot(sched, loc, last, now)
	if slot.IsZero() {
		return slot, false, false
	}
	var old any
	if lastRaw != "" {
		old = lastRaw
	}
	if ok, err := p.client.KV.Set(key, strconv.FormatInt(slot.UnixMilli(), 10), pluginapi.SetAtomic(old)); err != nil || !ok {
		return slot, false, false
	}
	return slot, lastRaw == "", true
}

func (p *Plugin) scheduledBackup(cfg config.Config, now time.Time) {
	sched, loc, err := cfg.Schedule()
	if err != nil || sched == nil {
		return
	}
	slot, first, claimed := p.claimSlot(lastSlotKey, sched, loc, now)
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
		_ = p.notifier.Ops(fmt.Sprintf(":warning: The scheduled backup of %s could not start: %v", slot.Format(time.RFC3339), err))
	}
}

// recordSuccess remembers the newest successful backup and, if an alert was raised, says that
// backups work again.
func (p *Plugin) recordSuccess(at time.Time) {
	_, _ = p.client.KV.Set(lastSuccessKey, strconv.FormatInt(at.UnixMilli(), 10))
	var alerted string
	if err := p.client.KV.Get(staleAlertKey, &alerted); err == nil && alerted != "" {
		if err := p.client.KV.Delete(staleAlertKey); err == nil {
			_ = p.notifier.Ops(":white_check_mark: Backups work again: a backup just succeeded.")
		}
	}
}

// staleCheck alerts once per StaleAfter period while no backup has succeeded for that long.
func (p *Plugin) staleCheck(cfg config.Config, now time.Time) {
	limit := cfg.StaleAfter()
	if limit <= 0 {
		return
	}
	var raw string
	if err := p.client.KV.Get(lastSuccessKey, &raw); err != nil {
		return
	}
	ms, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		// Never succeeded: count from the plugin's first activation on this server.
		first := p.firstSeen(now)
		ms = first.UnixMilli()
	}
	age := now.Sub(time.UnixMilli(ms))
	if age < limit {
		return
	}
	period := strconv.FormatInt(int64(age/limit), 10)
	var alerted string
	_ = p.client.KV.Get(staleAlertKey, &alerted)
	if alerted == period {
		return
	}
	var old any
	if alerted != "" {
		old = alerted
	}
	if ok, err := p.client.KV.Set(staleAlertKey, period, pluginapi.SetAtomic(old)); err != nil || !ok {
		return
	}
	what := "No backup has succeeded"
	if raw != "" {
		what = "The newest successful backup is from " + time.UnixMilli(ms).UTC().Format(time.RFC3339) + ";"
	}
	_ = p.notifier.Ops(fmt.Sprintf(":rotating_light: %s for %s (alert threshold %s). Check `/dr backup list` and the failures above, then run `/dr backup now`.", what, age.Round(time.Minute), limit))
}

// firstSeen is when the plugin first ran on this server (kept in KV).
func (p *Plugin) firstSeen(now time.Time) time.Time {
	const key = "first-seen"
	var raw string
	_ = p.client.KV.Get(key, &raw)
	if ms, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return time.UnixMilli(ms)
	}
	_, _ = p.client.KV.Set(key, strconv.FormatInt(now.UnixMilli(), 10), pluginapi.SetAtomic(nil))
	return now
}
