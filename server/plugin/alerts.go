package plugin

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/heartbeat"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/kvstate"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/webhook"
)

// Alerts that reach admins without Mattermost: webhook targets (each alert also posted in the
// ops channel, as before) and the heartbeat that says the plugin is alive.

// outside holds the senders; they live from OnActivate to OnDeactivate.
type outside struct {
	outbox *webhook.Dispatcher
	pinger *heartbeat.Pinger
}

// outboxSize: alerts waiting beyond this are dead-lettered rather than held.
const outboxSize = 100

func (p *Plugin) startOutsideAlerts() {
	client := &http.Client{}
	p.outside = outside{
		outbox: webhook.NewDispatcher(webhook.NewSender(client, webhook.DefaultPolicy(), &p.client.Log), outboxSize),
		pinger: heartbeat.New(client),
	}
}

// stopOutsideAlerts gives queued alerts a few seconds to go out; the rest are dead-lettered.
func (p *Plugin) stopOutsideAlerts() {
	if p.outside.outbox != nil {
		p.outside.outbox.Stop(5 * time.Second)
	}
}

// alert queues a to every webhook target; it never waits for them.
func (p *Plugin) alert(a webhook.Alert) {
	if a.Action == webhook.Trigger { // a resolution is no new alert
		events.Alert()
	}
	cfg, _ := p.config()
	targets := cfg.AlertTargets()
	if len(targets) == 0 || p.outside.outbox == nil {
		return
	}
	source, host := p.alertSource()
	a.Source, a.Key, a.Time = source, host+"/"+a.Key, time.Now()
	if a.Summary == "" {
		a.Summary = summaryOf(a.Text)
	}
	p.outside.outbox.Enqueue(targets, a)
}

// alertSource names this Mattermost: its site URL, else the node's host name; host keys the
// incidents, so that two servers sharing a PagerDuty service do not resolve each other's.
func (p *Plugin) alertSource() (source, host string) {
	if c := p.API.GetConfig(); c != nil && c.ServiceSettings.SiteURL != nil && *c.ServiceSettings.SiteURL != "" {
		if u, err := url.Parse(*c.ServiceSettings.SiteURL); err == nil && u.Host != "" {
			return u.Scheme + "://" + u.Host, u.Host
		}
	}
	return p.node, p.node
}

var (
	emoji    = regexp.MustCompile(`:[a-z0-9_+-]+:\s*`)
	markdown = strings.NewReplacer("**", "", "`", "", "_", "")
)

// summaryOf is the first line of a post, without emoji and emphasis: PagerDuty shows it as is.
func summaryOf(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	return strings.TrimSpace(markdown.Replace(emoji.ReplaceAllString(line, "")))
}

// opsCritical posts a critical alert to the ops channel, with @here in front when
// AlertMentionHere is on, so that the admins online are notified, not only those who read it.
func (p *Plugin) opsCritical(text string) error {
	cfg, _ := p.config()
	return p.notifier.Ops(mentionHere(text, cfg.AlertMentionHere))
}

func mentionHere(text string, on bool) string {
	if on {
		return "@here " + text
	}
	return text
}

// alertStatus sends a critical verdict, and its end, after the debouncer decided to post it.
func (p *Plugin) alertStatus(a status.Alert, text string) {
	switch {
	case a.To == probe.Critical:
		p.alert(webhook.Alert{Event: "status.critical", Key: "status", Action: webhook.Trigger, Severity: webhook.Critical, Text: text})
	case a.From == probe.Critical:
		p.alert(webhook.Alert{Event: "status.recovered", Key: "status", Action: webhook.Resolve, Severity: webhook.Info, Text: text})
	}
}

// alertBackupFailed sends a failed backup and remembers it, so the next success resolves it.
func (p *Plugin) alertBackupFailed(jobID, text string) {
	_ = kvstate.BackupFailAlerted.Set(p.state(), jobID)
	p.alert(webhook.Alert{Event: "backup.failed", Key: "backup-failed", Action: webhook.Trigger, Severity: webhook.Warning, Text: text})
}

// alertBackupStale sends the stale-backup alert (once per period, as staleCheck posts it).
func (p *Plugin) alertBackupStale(text string) {
	p.alert(webhook.Alert{Event: "backup.stale", Key: "backup-stale", Action: webhook.Trigger, Severity: webhook.Critical, Text: text})
}

// resolveBackupAlerts ends the open backup incidents after a success; staleEnded says the
// stale alert was just cleared (by recordSuccess, which posted text).
func (p *Plugin) resolveBackupAlerts(staleEnded bool) {
	const text = ":white_check_mark: Backups work again: a backup just succeeded."
	if staleEnded {
		p.alert(webhook.Alert{Event: "backup.recovered", Key: "backup-stale", Action: webhook.Resolve, Severity: webhook.Info, Text: text})
	}
	e, err := kvstate.BackupFailAlerted.Load(p.state())
	if err != nil || e.Value == "" {
		return
	}
	// One node clears it, so one resolve is sent.
	if ok, err := kvstate.BackupFailAlerted.CompareAndSet(p.state(), e, ""); err == nil && ok {
		p.alert(webhook.Alert{Event: "backup.recovered", Key: "backup-failed", Action: webhook.Resolve, Severity: webhook.Info, Text: text})
	}
}

// opsAndAlertFailover posts a runbook announcement to the ops channel and sends it to the
// webhook targets (the failoverAnnouncer's Ops).
func (p *Plugin) opsAndAlertFailover(text string) error {
	p.alert(webhook.Alert{Event: "failover.announce", Key: "failover", Action: webhook.Trigger, Severity: webhook.Warning, Text: text})
	return p.notifier.Ops(text)
}

// alertSSO sends an SSO fallback or restore summary; a restore that leaves nobody in
// fallback resolves the incident the fallback opened.
func (p *Plugin) alertSSO(what, text string) {
	a := webhook.Alert{Event: "sso." + what, Key: "sso-fallback", Action: webhook.Trigger, Severity: webhook.Warning, Text: text}
	if what == "restore" {
		a.Severity = webhook.Info
		if recs, err := p.sso.List(); err == nil && len(recs) == 0 {
			a.Action = webhook.Resolve
		}
	}
	p.alert(a)
}

// heartbeat pings the dead man's switch, in the background with a short timeout so that a
// slow monitor never delays the tick. With AlertHeartbeatReportCritical it reports a
// critical status alert (the debounced verdict, as posted) with <url>/fail.
func (p *Plugin) heartbeat() {
	cfg, _ := p.config()
	u := cfg.HeartbeatURL()
	if u == "" || p.outside.pinger == nil {
		return
	}
	failing := false
	if cfg.AlertHeartbeatReportCritical && cfg.DRStatusAlerts {
		if st, ok, err := kvstate.AlertState.Get(p.state()); err == nil && ok {
			failing = st.Posted == probe.Critical
		}
	}
	go func() {
		if err := p.outside.pinger.Ping(context.Background(), u, failing); err != nil {
			p.API.LogWarn("Disaster Recovery heartbeat ping failed", "error", err.Error())
		}
	}()
}
