package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/webhook"
)

// envWebhookTargets holds the alert targets, in the format of the plugin's AlertWebhookTargets.
// Only the environment: the targets hold secrets (routing keys, tokens in URLs).
const envWebhookTargets = "DR_WEBHOOK_TARGETS"

// notifyGrace is how long drctl waits at exit for notifications still being sent.
const notifyGrace = 2 * time.Minute

// notifier sends the runbook's steps and result to the targets of DR_WEBHOOK_TARGETS, in the
// background and in order, so that a slow receiver never holds the runbook.
type notifier struct {
	targets []webhook.Target
	d       *webhook.Dispatcher
	source  string
	once    sync.Once
}

// newNotifier reads DR_WEBHOOK_TARGETS; nil when it is unset.
func newNotifier(errOut io.Writer, host string) (*notifier, error) {
	targets, err := webhookTargets()
	if err != nil || len(targets) == 0 {
		return nil, err
	}
	s := webhook.NewSender(nil, webhook.DefaultPolicy(), deadLetters{w: errOut})
	return &notifier{targets: targets, d: webhook.NewDispatcher(s, 256), source: "drctl on " + host}, nil
}

func webhookTargets() ([]webhook.Target, error) {
	raw := os.Getenv(envWebhookTargets)
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	targets, err := webhook.ParseTargets(raw)
	if err != nil {
		// ParseTargets never quotes a URL or key.
		return nil, usageErr("$%s: %v", envWebhookTargets, err)
	}
	return targets, nil
}

// event sends a finished step or the runbook's stop.
func (n *notifier) event(ev failover.Event) {
	if n == nil {
		return
	}
	switch ev.Kind {
	case failover.EventStepFinished:
		n.d.Enqueue(n.targets, stepAlert(ev, n.source))
	case failover.EventRunStopped:
		n.d.Enqueue(n.targets, runAlert(ev.Run, n.source))
	}
}

func stepAlert(ev failover.Event, source string) webhook.Alert {
	r, s := ev.Run, ev.Step
	sev := webhook.Info
	if s.State == failover.StepFailed {
		sev = webhook.Critical
	}
	summary := fmt.Sprintf("%s %s step %d/%d %s: %s", r.Kind, r.ID, ev.Index+1, len(r.Steps), s.Title, s.State)
	text := summary + "\n" + strings.TrimSpace(s.Detail+" "+s.Error)
	if s.Next != "" {
		text += "\nNext: " + s.Next
	}
	// One key per runbook: PagerDuty shows the steps as updates of one incident.
	return webhook.Alert{Event: "failover.step." + string(s.State), Key: "failover-" + r.ID, Action: webhook.Trigger, Severity: sev,
		Summary: summary, Text: text, Source: source, Time: time.Now()}
}

func runAlert(r *failover.Run, source string) webhook.Alert {
	sev, action := webhook.Critical, webhook.Trigger
	switch r.State {
	case failover.RunCompleted, failover.RunForPlugin:
		sev = webhook.Info
	case failover.RunWaiting, failover.RunAborted:
		sev = webhook.Warning
	}
	return webhook.Alert{Event: "failover." + string(r.State), Key: "failover-" + r.ID, Action: action, Severity: sev,
		Summary: fmt.Sprintf("%s %s from %s to %s: %s", r.Kind, r.ID, r.From, r.To, r.State),
		Text:    failover.SummaryMarkdown(r, time.Now()), Source: source, Time: time.Now()}
}

// flush waits for what is queued, up to notifyGrace.
func (n *notifier) flush() {
	if n == nil {
		return
	}
	n.once.Do(func() { n.d.Stop(notifyGrace) })
}

// deadLetters writes the sender's retries and dead letters to stderr; the sender has already
// removed the targets' secrets.
type deadLetters struct{ w io.Writer }

func (d deadLetters) Warn(msg string, kv ...any)  { d.line("warning", msg, kv) }
func (d deadLetters) Error(msg string, kv ...any) { d.line("error", msg, kv) }

func (d deadLetters) line(level, msg string, kv []any) {
	var b strings.Builder
	fmt.Fprintf(&b, "drctl: %s: %s", level, msg)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%q", kv[i], fmt.Sprint(kv[i+1]))
	}
	fmt.Fprintln(d.w, b.String())
}

// notifyStatus sends drctl status's verdict when it is critical or degraded.
func notifyStatus(ctx context.Context, errOut io.Writer, verdict, text string) error {
	targets, err := webhookTargets()
	if err != nil {
		return err
	}
	sev := webhook.Warning
	if verdict == "critical" {
		sev = webhook.Critical
	}
	a := webhook.Alert{Event: "status." + verdict, Key: "status", Action: webhook.Trigger, Severity: sev,
		Summary: "Disaster Recovery status: " + verdict, Text: text, Source: "drctl status on " + hostname(), Time: time.Now()}
	s := webhook.NewSender(nil, webhook.DefaultPolicy(), deadLetters{w: errOut})
	if err := s.Send(ctx, targets, a); err != nil {
		return errors.New("the verdict was not delivered to every target (see the dead letters above)")
	}
	return nil
}

// orUsage is err, or a usage error saying format when err is nil.
func orUsage(err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	return usageErr(format, args...)
}
