package webhook

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTargets(t *testing.T) {
	const key = "0123456789abcdef0123456789ABCDEF"
	ok := []struct {
		name, text string
		want       []Target
	}{
		{"empty", "  \n\n", nil},
		{"all three, comments and spaces", "# ops\n generic https://alerts.example.com/dr?token=abc \nPAGERDUTY " + key + "\n\nslack https://hooks.slack.com/services/T/B/X\n",
			[]Target{{Format: Generic, URL: "https://alerts.example.com/dr?token=abc"}, {Format: PagerDuty, URL: PagerDutyEventsURL, RoutingKey: key},
				{Format: Slack, URL: "https://hooks.slack.com/services/T/B/X"}}},
		{"pagerduty with its EU endpoint", "pagerduty " + key + " https://events.eu.pagerduty.com/v2/enqueue",
			[]Target{{Format: PagerDuty, URL: "https://events.eu.pagerduty.com/v2/enqueue", RoutingKey: key}}},
		{"mattermost incoming webhook over http", "slack http://mm.internal:8065/hooks/abc", []Target{{Format: Slack, URL: "http://mm.internal:8065/hooks/abc"}}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseTargets(c.text)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
	bad := []struct {
		name, text, want string
		secret           string
	}{
		{"unknown format", "teams https://x.example.com/SECRETPATH", "line 1: the line does not start with a target format", "SECRETPATH"},
		{"URL without format", "https://hooks.slack.com/services/SECRETPATH", "start it with generic, pagerduty or slack", "SECRETPATH"},
		{"slack without URL", "slack", "line 1: write slack and its webhook URL", ""},
		{"two URLs", "generic https://a.example.com https://b.example.com/SECRETPATH", "write generic and its webhook URL", "SECRETPATH"},
		{"not http", "slack ftp://hooks.example.com/SECRETPATH", "use an https:// (or http://) URL", "SECRETPATH"},
		{"no host", "generic https:///SECRETPATH", "no host name", "SECRETPATH"},
		{"unparsable", "generic https://h/%zzSECRETPATH", "not a valid URL", "SECRETPATH"},
		{"pagerduty URL instead of key", "pagerduty https://events.pagerduty.com/SECRETPATH", "Integration Key", "SECRETPATH"},
		{"pagerduty short key", "pagerduty SECRETKEY", "32-character Integration Key", "SECRETKEY"},
		{"pagerduty bad endpoint", "pagerduty " + key + " events.pagerduty.com", "PagerDuty events URL: use an https://", key},
		{"second line", "slack https://h.example.com/x\nslack nope", "line 2:", ""},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTargets(c.text)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			if c.secret != "" {
				assert.NotContains(t, err.Error(), c.secret)
			}
		})
	}
	many := ""
	for i := 0; i <= MaxTargets; i++ {
		many += "slack https://h.example.com/x\n"
	}
	_, err := ParseTargets(many)
	assert.ErrorContains(t, err, "use at most 20")
}
