// Package webhook delivers the plugin's alerts to systems outside Mattermost, so that an
// outage of Mattermost itself does not silence them: generic JSON webhooks, PagerDuty Events
// API v2 and Slack-compatible incoming webhooks (Mattermost's own accept the same). It retries
// with backoff, logs a dead letter for what it could not deliver, and never shows a target's
// secret (routing key, token in the URL) in a log line or an error.
package webhook

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/redact"
)

// Format is how a target wants an alert.
type Format string

// The formats admins ask for.
const (
	Generic   Format = "generic"
	PagerDuty Format = "pagerduty"
	Slack     Format = "slack"
)

// PagerDutyEventsURL is PagerDuty's Events API v2 endpoint (the default for pagerduty targets).
const PagerDutyEventsURL = "https://events.pagerduty.com/v2/enqueue"

// Target is one receiver of alerts.
type Target struct {
	Format Format
	// URL is where to POST: the webhook URL, or the Events API endpoint for PagerDuty.
	URL string
	// RoutingKey is PagerDuty's integration key (pagerduty only).
	RoutingKey string
}

// String shows the target without its secrets: the format, then scheme://host/….
func (t Target) String() string {
	return string(t.Format) + " " + redact.Origin(t.URL)
}

// secrets are the parts of the target that must never be shown: the URL, its path and query
// (and their segments, in case only one is quoted), and the routing key.
func (t Target) secrets() []string {
	out := []string{t.URL, t.RoutingKey}
	u, err := url.Parse(t.URL)
	if err != nil {
		return out
	}
	out = append(out, u.RawQuery, u.EscapedPath(), u.Path, u.Fragment)
	if u.User != nil {
		out = append(out, u.User.String())
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= 6 {
			out = append(out, seg)
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= 6 {
				out = append(out, v)
			}
		}
	}
	return out
}

// redacted removes the target's secrets from msg.
func (t Target) redacted(msg string) string {
	return redact.Secrets(msg, "…", t.secrets()...)
}

// Severity of an alert, as PagerDuty names them.
type Severity string

// The severities the plugin uses.
const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
	Info     Severity = "info"
)

// Action says whether an alert opens (or repeats) an incident or ends it.
type Action string

// Actions, as PagerDuty names them.
const (
	Trigger Action = "trigger"
	Resolve Action = "resolve"
)

// Alert is one notification.
type Alert struct {
	// Event names what happened, e.g. "status.critical" or "backup.failed".
	Event string
	// Key names the incident: a Resolve with the same Key ends what a Trigger opened
	// (PagerDuty's dedup_key). Stable across retries, nodes and restarts.
	Key      string
	Action   Action
	Severity Severity
	// Summary is one line; Text the whole message (Markdown, as posted in the ops channel).
	Summary string
	Text    string
	// Source is which Mattermost sends it (its site URL or host name).
	Source string
	Time   time.Time
}

// String names the alert in log lines (no secret: the summary is what the ops channel shows).
func (a Alert) String() string {
	return fmt.Sprintf("%s %s (%s): %s", a.Action, a.Event, a.Key, a.Summary)
}
