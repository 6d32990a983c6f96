//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// The System Console sends model.FakeSetting back for a secret setting the admin did not touch
// (servers whose GET /config hides the secrets of settings in sections; 11.4 does not hide
// them), and the server puts the saved value back only after ConfigurationWillBeSaved. Once a
// secret URL is saved, saving another of the plugin's settings must still pass, and the secret
// must keep its value.
func TestConsoleSaveKeepsSecretSettings(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	const drill = "postgres://dr_drill:drill-pw@127.0.0.1:5432/postgres?sslmode=disable"
	cfg, _, err := env.Admin.Client.GetConfig(ctx)
	require.NoError(t, err)
	prev := map[string]any{"backupdrilldatabaseurl": "", "backupstaleafter": "26h"}
	for k := range prev {
		if v, ok := cfg.PluginSettings.Plugins[harness.PluginID][k]; ok && v != model.FakeSetting {
			prev[k] = v
		}
	}
	t.Cleanup(func() { _ = env.PatchPluginSettings(context.Background(), prev) })
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backupdrilldatabaseurl": drill}))

	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backupstaleafter": "30h", "backupdrilldatabaseurl": model.FakeSetting}),
		"a save that leaves the secret untouched")
	stored, err := os.ReadFile(filepath.Join(env.MM.Dir, "config", "config.json"))
	require.NoError(t, err)
	assert.Contains(t, string(stored), drill, "the saved secret kept its value")

	// A bad new value is still refused, with what to do.
	err = env.PatchPluginSettings(ctx, map[string]any{"backupdrilldatabaseurl": "mysql://x"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "postgres://")
}
