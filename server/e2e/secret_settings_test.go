//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// secretValues sets every secret setting of plugin.json to a value the plugin accepts and that
// is easy to find in a response. Pairs (an access key ID with its secret) are set together.
var secretValues = map[string]any{
	"backupdatasource":            "postgres://leak:SECRET-datasource@127.0.0.1:9/mattermost?sslmode=disable",
	"backups3secretaccesskey":     "SECRET-backups3key",
	"backupdrilldatabaseurl":      "postgres://leak:SECRET-drill@127.0.0.1:9/postgres?sslmode=disable",
	"drpostgresstandbydatasource": "postgres://leak:SECRET-standby@127.0.0.1:9/mattermost?sslmode=disable",
	"walarchivedatasource":        "postgres://leak:SECRET-walarchive@127.0.0.1:9/mattermost?sslmode=disable",
	"drawsaccesskeyid":            "AKIALEAKTEST", "drawssecretaccesskey": "SECRET-awskey",
	"drs3accesskeyid": "leaktest", "drs3secretaccesskey": "SECRET-s3key",
	"dropensearchpassword": "SECRET-ospass",
	"drmetricstoken":       "SECRET-metrics-token-0123456789",
	"alertwebhooktargets":  "pagerduty SECRET-routingkey",
	"alertheartbeaturl":    "https://hc-ping.invalid/SECRET-heartbeat",
}

// The server this suite runs (11.4.0) predates the fix of MM-67502: it hides only secret
// settings declared at the top level of settings_schema. Every secret of ours is declared there
// too, so an admin's GET /api/v4/config (what the System Console and support packets read)
// never carries them, on this server as on fixed ones.
func TestSecretSettingsNeverLeaveTheServer(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)

	// Every secret of plugin.json has a value here: a new one cannot be forgotten.
	b, err := os.ReadFile(filepath.Join(env.Root, "plugin.json"))
	require.NoError(t, err)
	var m model.Manifest
	require.NoError(t, json.Unmarshal(b, &m))
	var secrets []string
	for _, sec := range m.SettingsSchema.Sections {
		for _, s := range sec.Settings {
			if s.Secret {
				secrets = append(secrets, strings.ToLower(s.Key))
				require.Contains(t, secretValues, strings.ToLower(s.Key), "give the new secret setting a value in secretValues")
			}
		}
	}

	// Put back what was stored (the file, not the sanitized API) when done.
	stored := storedPluginSettings(t, env)
	prev := map[string]any{}
	for k := range secretValues {
		prev[k] = ""
		if v, ok := stored[k]; ok {
			prev[k] = v
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		assert.NoError(t, env.PatchPluginSettings(ctx, prev), "put the secret settings back")
	})
	require.NoError(t, env.PatchPluginSettings(ctx, secretValues))
	stored = storedPluginSettings(t, env)
	for _, k := range secrets {
		require.Equal(t, secretValues[k], stored[k], "%s was saved", k)
	}

	cfg, _, err := env.Admin.Client.GetConfig(ctx)
	require.NoError(t, err)
	for _, k := range secrets {
		assert.Equal(t, model.FakeSetting, cfg.PluginSettings.Plugins[harness.PluginID][k], "GET /api/v4/config hides %s", k)
	}
	assert.Equal(t, "AKIALEAKTEST", cfg.PluginSettings.Plugins[harness.PluginID]["drawsaccesskeyid"], "settings that are not secret stay readable")

	// The raw response, as any client of the API sees it.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.MM.URL+"/api/v4/config", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+env.Admin.Client.AuthToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotContains(t, string(body), "SECRET-", "no secret value in GET /api/v4/config")
}

func storedPluginSettings(t *testing.T, env *harness.Env) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(env.MM.Dir, "config", "config.json"))
	require.NoError(t, err)
	var cfg model.Config
	require.NoError(t, json.Unmarshal(b, &cfg))
	return cfg.PluginSettings.Plugins[harness.PluginID]
}
