package webhook

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// GenericSchema identifies the generic payload's layout; it changes only with an incompatible change.
const GenericSchema = "mattermost-disaster-recovery.alert.v1"

// genericPayload is the generic JSON body (documented in the README).
type genericPayload struct {
	Schema   string `json:"schema"`
	Event    string `json:"event"`
	Key      string `json:"key"`
	Action   string `json:"action"`
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Text     string `json:"text"`
	Source   string `json:"source"`
	Time     string `json:"time"`
}

// pagerDutyEvent is a PagerDuty Events API v2 event.
type pagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"`
	DedupKey    string            `json:"dedup_key"`
	Client      string            `json:"client,omitempty"`
	Payload     *pagerDutyPayload `json:"payload,omitempty"`
}

type pagerDutyPayload struct {
	Summary       string            `json:"summary"`
	Source        string            `json:"source"`
	Severity      string            `json:"severity"`
	Timestamp     string            `json:"timestamp"`
	Component     string            `json:"component"`
	Class         string            `json:"class"`
	CustomDetails map[string]string `json:"custom_details"`
}

type slackPayload struct {
	Text string `json:"text"`
}

// PagerDuty's limits on the summary and the dedup key.
const (
	maxSummary  = 1024
	maxDedupKey = 255
	clientName  = "Mattermost Disaster Recovery"
)

// Body is the JSON the target receives for the alert.
func Body(t Target, a Alert) ([]byte, error) {
	switch t.Format {
	case Generic:
		return json.Marshal(genericPayload{Schema: GenericSchema, Event: a.Event, Key: a.Key, Action: string(a.Action), Severity: string(a.Severity),
			Summary: a.Summary, Text: a.Text, Source: a.Source, Time: a.Time.UTC().Format(time.RFC3339)})
	case PagerDuty:
		return json.Marshal(pagerDutyBody(t, a))
	case Slack:
		return json.Marshal(slackPayload{Text: slackText(a)})
	}
	return nil, fmt.Errorf("unknown target format %q", t.Format)
}

func pagerDutyBody(t Target, a Alert) pagerDutyEvent {
	ev := pagerDutyEvent{RoutingKey: t.RoutingKey, EventAction: string(a.Action), DedupKey: cut(a.Key, maxDedupKey), Client: clientName}
	if a.Action == Resolve {
		return ev // PagerDuty needs only the key to resolve
	}
	summary := a.Summary
	if summary == "" {
		summary = firstLine(a.Text)
	}
	source := a.Source
	if source == "" {
		source = "mattermost"
	}
	ev.Payload = &pagerDutyPayload{Summary: cut(summary, maxSummary), Source: source, Severity: string(a.Severity),
		Timestamp: a.Time.UTC().Format(time.RFC3339), Component: "mattermost", Class: a.Event,
		CustomDetails: map[string]string{"text": a.Text}}
	return ev
}

// slackText is the message with where it comes from, so that a channel fed by several
// servers can tell them apart.
func slackText(a Alert) string {
	text := a.Text
	if text == "" {
		text = a.Summary
	}
	if a.Source != "" {
		text += "\n_Disaster Recovery on " + a.Source + "_"
	}
	return text
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// cut shortens s to at most n bytes without splitting a character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n-len("…")]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
