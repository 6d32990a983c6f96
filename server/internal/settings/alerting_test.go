package settings

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/webhook"
)

func TestValidateAlerting(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		name     string
		cfg      Config
		settings []string
		secret   string // never in a message
	}{
		{"none", Config{}, nil, ""},
		{"three targets and a heartbeat", Config{AlertWebhookTargets: "generic https://a.example.com/x\npagerduty " + key + "\nslack https://hooks.slack.com/services/T/B/X",
			AlertHeartbeatURL: "https://hc-ping.com/uuid", AlertHeartbeatReportCritical: true}, nil, ""},
		{"a bad line", Config{AlertWebhookTargets: "slack hooks.slack.com/services/SECRETPATH"}, []string{"AlertWebhookTargets"}, "SECRETPATH"},
		{"a short routing key", Config{AlertWebhookTargets: "pagerduty SECRETKEY"}, []string{"AlertWebhookTargets"}, "SECRETKEY"},
		{"heartbeat without scheme", Config{AlertHeartbeatURL: "hc-ping.com/SECRETUUID"}, []string{"AlertHeartbeatURL"}, "SECRETUUID"},
		{"report critical without URL", Config{AlertHeartbeatReportCritical: true}, []string{"AlertHeartbeatReportCritical"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range tt.cfg.validateAlerting() {
				got = append(got, p.Setting)
				assert.NotEmpty(t, p.Message)
				if tt.secret != "" {
					assert.NotContains(t, p.Message, tt.secret)
				}
			}
			assert.Equal(t, tt.settings, got)
		})
	}
}

func TestAlertTargetsAndHeartbeatURL(t *testing.T) {
	c := Config{AlertWebhookTargets: "slack https://hooks.slack.com/services/T/B/X\nbogus line", AlertHeartbeatURL: " https://hc-ping.com/uuid "}
	assert.Equal(t, []webhook.Target{{Format: webhook.Slack, URL: "https://hooks.slack.com/services/T/B/X"}}, c.AlertTargets(), "valid lines only")
	assert.Equal(t, "https://hc-ping.com/uuid", c.HeartbeatURL())
	assert.Empty(t, Config{AlertHeartbeatURL: "nope"}.HeartbeatURL())
	assert.Empty(t, Default().HeartbeatURL())
}
