package plugin

import (
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin/plugintest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
)

func TestWithStoredSecrets(t *testing.T) {
	stored := map[string]any{"backupdrilldatabaseurl": "postgres://drill:pw@db/postgres", "drmetricstoken": "0123456789abcdef0123"}
	tests := []struct {
		name string
		next map[string]any
		want map[string]any
	}{
		{"placeholder takes the saved value", map[string]any{"backupdrilldatabaseurl": model.FakeSetting, "backupkeeplast": 3},
			map[string]any{"backupdrilldatabaseurl": "postgres://drill:pw@db/postgres", "backupkeeplast": 3}},
		{"a new value is checked as it is", map[string]any{"backupdrilldatabaseurl": "mysql://x"},
			map[string]any{"backupdrilldatabaseurl": "mysql://x"}},
		{"keys match whatever their case", map[string]any{"DRMetricsToken": model.FakeSetting},
			map[string]any{"DRMetricsToken": "0123456789abcdef0123"}},
		{"nothing saved: the placeholder stays", map[string]any{"backupdatasource": model.FakeSetting},
			map[string]any{"backupdatasource": model.FakeSetting}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, withStoredSecrets(tt.next, stored))
		})
	}
	// The placeholder itself fails the check: the reason for putting the saved value back.
	cfg, err := decodeSettings(map[string]any{"backupdrilldatabaseurl": model.FakeSetting})
	require.NoError(t, err)
	assert.NotEmpty(t, cfg.Normalize().Validate())
}

// A save that leaves this plugin's settings as they are passes even when they hold a problem,
// whether it carries the secrets as the console does (the placeholder) or in clear as the
// server's own saves do (enabling the plugin); a real change is checked.
func TestUnchangedSettingsAlwaysSave(t *testing.T) {
	stored := map[string]any{"opschannelname": "Bad Name!", "backups3secretaccesskey": "s3-secret", "drmetricstoken": ""}
	api := &plugintest.API{}
	api.On("GetUnsanitizedConfig").Return(&model.Config{PluginSettings: model.PluginSettings{Plugins: map[string]map[string]any{ID: stored}}})
	p := &Plugin{}
	p.SetAPI(api)
	save := func(settings map[string]any) error {
		_, err := p.ConfigurationWillBeSaved(&model.Config{PluginSettings: model.PluginSettings{Plugins: map[string]map[string]any{ID: settings}}})
		if err == nil {
			return nil // a nil *AppError is not a nil error
		}
		return err
	}
	assert.NoError(t, save(map[string]any{"opschannelname": "Bad Name!", "backups3secretaccesskey": "s3-secret", "drmetricstoken": ""}), "in clear")
	assert.NoError(t, save(map[string]any{"opschannelname": "Bad Name!", "backups3secretaccesskey": model.FakeSetting, "drmetricstoken": model.FakeSetting}), "placeholders")
	err := save(map[string]any{"opschannelname": "Bad Name!", "backups3secretaccesskey": model.FakeSetting, "drmetricstoken": "short"})
	require.Error(t, err, "a change is checked")
	assert.Contains(t, err.Error(), "DRMetricsToken")
}

func TestMentionHere(t *testing.T) {
	assert.Equal(t, "@here :rotating_light: stale", mentionHere(":rotating_light: stale", true))
	assert.Equal(t, ":rotating_light: stale", mentionHere(":rotating_light: stale", false))
	assert.True(t, settings.Default().AlertMentionHere, "on by default")
}
