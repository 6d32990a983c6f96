package settings

import (
	"strings"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/webhook"
)

// AlertTargets are the webhook targets (AlertWebhookTargets); invalid lines are left out
// (Validate reports them).
func (c Config) AlertTargets() []webhook.Target {
	ts, _ := webhook.ParseTargets(c.AlertWebhookTargets)
	return ts
}

// HeartbeatURL is the dead man's switch URL, "" when none or invalid.
func (c Config) HeartbeatURL() string {
	u := strings.TrimSpace(c.AlertHeartbeatURL)
	if u == "" || webhook.CheckURL(u) != nil {
		return ""
	}
	return u
}

func (c Config) validateAlerting() Problems {
	var ps Problems
	// The System Console's placeholder for an untouched secret never gets here: the plugin's
	// ConfigurationWillBeSaved puts the saved value back first (withStoredSecrets).
	if _, err := webhook.ParseTargets(c.AlertWebhookTargets); err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", "; ")
		ps = append(ps, Problem{"AlertWebhookTargets", msg + " (one target per line: generic <URL>, pagerduty <routing key>, or slack <URL>)"})
	}
	if u := strings.TrimSpace(c.AlertHeartbeatURL); u != "" {
		if err := webhook.CheckURL(u); err != nil {
			ps = append(ps, Problem{"AlertHeartbeatURL", err.Error() + ", such as https://hc-ping.com/<your check's UUID>"})
		}
	}
	if c.AlertHeartbeatReportCritical && strings.TrimSpace(c.AlertHeartbeatURL) == "" {
		ps = append(ps, Problem{"AlertHeartbeatReportCritical", "set the heartbeat URL too, or turn this off"})
	}
	return ps
}
