//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/plugin"
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func manifestVersion(t *testing.T, env *harness.Env) string {
	b, err := os.ReadFile(filepath.Join(env.Root, "plugin.json"))
	require.NoError(t, err)
	var m model.Manifest
	require.NoError(t, json.Unmarshal(b, &m))
	return m.Version
}

// The harness uploaded dist/<id>-<version>.tar.gz through POST /api/v4/plugins; this proves
// that the exact file `make dist` wrote is what runs, and that uploading it again works.
func TestBundleUploadsAndActivates(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	version := manifestVersion(t, env)
	assert.Equal(t, filepath.Join(env.Root, "dist", "disaster-recovery-"+version+".tar.gz"), env.Bundle)

	require.NoError(t, env.InstallPlugin(ctx, env.Bundle))
	statuses, _, err := env.Admin.Client.GetPluginStatuses(ctx)
	require.NoError(t, err)
	var found bool
	for _, s := range statuses {
		if s.PluginId == harness.PluginID {
			found = true
			assert.Equal(t, model.PluginStateRunning, s.State, s.Error)
			assert.Equal(t, version, s.Version)
		}
	}
	require.True(t, found, "plugin not listed by the server")

	status, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/version", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, string(body))
	var info plugin.VersionInfo
	require.NoError(t, json.Unmarshal(body, &info))
	assert.Equal(t, version, info.Plugin, "the server runs a binary built from this version")
	assert.Equal(t, "11.4.0", info.Server[:6])
	assert.Empty(t, info.Problems)
}

func TestHelpAndVersionForAdmin(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	resp, err := env.Command(ctx, env.Admin, "", "/dr help")
	require.NoError(t, err)
	assert.Contains(t, resp.Text, "/dr version")
	assert.NotContains(t, resp.Text, "system admins only")

	resp, err = env.Command(ctx, env.Admin, "", "/dr version")
	require.NoError(t, err)
	assert.Contains(t, resp.Text, manifestVersion(t, env))
	assert.Contains(t, resp.Text, "11.4.0")

	resp, err = env.Command(ctx, env.Admin, "", "/dr versoin")
	require.NoError(t, err)
	assert.Contains(t, resp.Text, `did you mean "version"`)
}

func TestBotPostsToOpsChannel(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, 0, "is active", 30*time.Second)
	require.NoError(t, err)
	assert.Contains(t, post.Message, "/dr help")

	bot, _, err := env.Admin.Client.GetBot(ctx, env.BotUserID, "")
	require.NoError(t, err)
	assert.Equal(t, "Disaster Recovery", bot.DisplayName)
	assert.Equal(t, harness.BotUsername, bot.Username)
}

// Every command and every route refuses a non-admin, and anonymous callers get nothing.
func TestNonAdminRefusedEverywhere(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	commands, routes := plugin.Inventory()
	require.NotEmpty(t, commands)
	require.NotEmpty(t, routes)

	for _, line := range commands {
		t.Run("command "+line, func(t *testing.T) {
			resp, err := env.Command(ctx, env.Member, "", line)
			require.NoError(t, err)
			assert.Contains(t, resp.Text, "for system admins only")
			assert.Equal(t, model.CommandResponseTypeEphemeral, resp.ResponseType)
		})
	}
	for _, r := range routes {
		path := fillPattern(r.Path)
		t.Run("route "+r.Method+" "+r.Path, func(t *testing.T) {
			status, body, err := env.PluginRequest(ctx, env.Member, r.Method, path, bodyFor(r.Method))
			require.NoError(t, err)
			assert.Equal(t, http.StatusForbidden, status, string(body))
			assert.Contains(t, string(body), "system admins only")

			status, _, err = env.PluginRequest(ctx, nil, r.Method, path, bodyFor(r.Method))
			require.NoError(t, err)
			assert.Equal(t, http.StatusUnauthorized, status)
		})
	}

	// The attempts are in the server's log, with the user and what they tried.
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(env.MM.Dir, "logs", "mattermost.log"))
		return strings.Contains(string(b), "Disaster Recovery refused a request") && strings.Contains(string(b), env.Member.Id)
	}, 10*time.Second, 200*time.Millisecond, "refusals not logged")
}

// Non-admins are not even offered /dr in autocomplete.
func TestAutocompleteOnlyForAdmins(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	admin, _, err := env.Admin.Client.ListCommandAutocompleteSuggestions(ctx, "/dr ", env.Team.Id)
	require.NoError(t, err)
	var names []string
	for _, s := range admin {
		names = append(names, s.Complete)
	}
	assert.Contains(t, names, "dr version")

	member, _, err := env.Member.Client.ListCommandAutocompleteSuggestions(ctx, "/dr ", env.Team.Id)
	require.NoError(t, err)
	assert.Empty(t, member)
}

// Saving bad settings is refused with what to fix; a bad config that arrives anyway (saved
// while the plugin was disabled) never stops activation: it is reported by /dr version.
func TestBadSettingsRejectedOrReported(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	t.Cleanup(func() {
		_, _ = env.Admin.Client.EnablePlugin(context.Background(), harness.PluginID)
		require.NoError(t, env.PatchPluginSettings(context.Background(), map[string]any{"opsteamname": harness.TeamName, "opschannelname": harness.OpsChannelName}))
	})
	for setting, tc := range map[string]struct {
		value any
		want  string
	}{
		"opschannelname":      {"Bad Name!", "not a channel URL name"},
		"backupschedule":      {"every night", "not a cron expression"},
		"backuptimezone":      {"Mars/Olympus", "unknown time zone"},
		"backupagerecipients": {"age1notakey", "not an age public key"},
		"backups3bucket":      {"Bad_Bucket", "BackupS3Bucket"},
		"backupcomponents":    {"db,logs", `unknown component "logs"`},
	} {
		err := env.PatchPluginSettings(ctx, map[string]any{setting: tc.value})
		require.Error(t, err, setting)
		assert.Contains(t, err.Error(), tc.want, setting)
	}

	// A team that does not exist is a valid name: accepted, and reported.
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"opsteamname": "no-such-team"}))
	require.Eventually(t, func() bool {
		resp, err := env.Command(ctx, env.Admin, "", "/dr version")
		return err == nil && strings.Contains(resp.Text, `team "no-such-team" does not exist`)
	}, 15*time.Second, 250*time.Millisecond)

	// Invalid settings saved while the plugin is disabled: it still activates and says what to fix.
	// A secret setting is saved too: enabling saves the config with it in clear, where the console
	// sends the placeholder, and both are "unchanged".
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"drmetricstoken": "e2e-metrics-token-0123456789"}))
	t.Cleanup(func() { _ = env.PatchPluginSettings(context.Background(), map[string]any{"drmetricstoken": ""}) })
	_, err := env.Admin.Client.DisablePlugin(ctx, harness.PluginID)
	require.NoError(t, err)
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"opsteamname": harness.TeamName, "opschannelname": "Bad Name!"}))
	_, err = env.Admin.Client.EnablePlugin(ctx, harness.PluginID)
	require.NoError(t, err)
	require.NoError(t, env.WaitPluginRunning(ctx, time.Minute))
	resp, err := env.Command(ctx, env.Admin, "", "/dr version")
	require.NoError(t, err)
	assert.Contains(t, resp.Text, "OpsChannelName")
	assert.Contains(t, resp.Text, "not a channel URL name")

	// Fixing it is a change of this plugin's settings, so it is checked and accepted.
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"opschannelname": harness.OpsChannelName}))
}

// fillPattern turns a route pattern into a concrete path below /plugins/<id>.
func fillPattern(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, "{") {
			parts[i] = "x" + model.NewId()[:8]
		}
	}
	return strings.Join(parts, "/")
}

func bodyFor(method string) io.Reader {
	if method == http.MethodGet || method == http.MethodDelete {
		return nil
	}
	return strings.NewReader("{}")
}

// `make deploy` runs build/cmd/deploy: it uploads and enables the bundle with an admin's
// credentials from the environment, as the starter template's deploy does.
func TestDeployTool(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	for name, creds := range map[string][]string{
		"username and password": {"MM_ADMIN_USERNAME=" + env.Admin.Username, "MM_ADMIN_PASSWORD=" + env.Admin.Password},
		"token":                 {"MM_ADMIN_TOKEN=" + env.Admin.Client.AuthToken},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := env.Admin.Client.DisablePlugin(ctx, harness.PluginID)
			require.NoError(t, err)
			cmd := exec.CommandContext(ctx, "go", "run", "./build/cmd/deploy", env.Bundle)
			cmd.Dir = env.Root
			cmd.Env = append(append(os.Environ(), "MM_SERVICESETTINGS_SITEURL="+env.MM.URL), creds...)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, string(out))
			assert.Contains(t, string(out), "enabled disaster-recovery")
			require.NoError(t, env.WaitPluginRunning(ctx, time.Minute))
		})
	}
	cmd := exec.CommandContext(ctx, "go", "run", "./build/cmd/deploy", env.Bundle)
	cmd.Dir = env.Root
	cmd.Env = append(os.Environ(), "MM_SERVICESETTINGS_SITEURL="+env.MM.URL, "MM_ADMIN_TOKEN=", "MM_ADMIN_USERNAME=")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "set MM_ADMIN_TOKEN, or MM_ADMIN_USERNAME and MM_ADMIN_PASSWORD")
}

// With CreateOpsChannel on, a missing ops channel is created (private, bot inside); every
// settings change is in the audit trail by name.
func TestOpsChannelCreatedAndSettingsAudited(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	t.Cleanup(func() {
		_ = env.PatchPluginSettings(context.Background(), map[string]any{"opschannelname": harness.OpsChannelName})
	})
	name := "dr-ops-" + strings.ToLower(model.NewId()[:6])
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"opschannelname": name}))
	require.Eventually(t, func() bool {
		resp, err := env.Command(ctx, env.Admin, "", "/dr version")
		return err == nil && !strings.Contains(resp.Text, "need attention")
	}, 15*time.Second, 250*time.Millisecond)
	ch, _, err := env.Admin.Client.GetChannelByName(ctx, name, env.Team.Id, "")
	require.NoError(t, err, "the plugin created the channel")
	assert.Equal(t, model.ChannelTypePrivate, ch.Type)
	_, _, err = env.Admin.Client.GetChannelMember(ctx, ch.Id, env.BotUserID, "")
	assert.NoError(t, err, "the bot is in it")

	resp, err := env.Command(ctx, env.Admin, "", "/dr audit --action settings.change")
	require.NoError(t, err)
	assert.Contains(t, resp.Text, "OpsChannelName")
}
