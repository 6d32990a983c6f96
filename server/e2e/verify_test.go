//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

// runVerify runs `/dr backup verify …` and waits for the bot's result.
func runVerify(ctx context.Context, t *testing.T, env *harness.Env, args string) string {
	t.Helper()
	since := model.GetMillis()
	text := cmd(ctx, t, env, "/dr backup verify "+args)
	require.Contains(t, text, "started", text)
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "erif", 5*time.Minute)
	require.NoError(t, err)
	return post.Message
}

// Verify with a drill on the real server: every check passes, the result is kept beside the
// manifest, shown by list/show/REST; a damaged object fails verification and is named.
func TestVerifyBackup(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	uploadFile(ctx, t, env, "verify-me.txt", []byte(strings.Repeat("verify me\n", 500)))
	id, _ := runBackup(ctx, t, env, "")

	result := runVerify(ctx, t, env, "latest --drill")
	assert.Contains(t, result, "Backup `"+id+"` verified", result)
	assert.Contains(t, result, "passed `restore drill`: restored into dr_drill_", result)
	assert.Contains(t, result, "every count equal to the manifest", result)
	assert.Contains(t, result, "passed `file pool`", result)
	assert.Contains(t, result, "all ", result)

	dir := filepath.Join(env.MM.Dir, "dr-backups")
	raw, err := os.ReadFile(filepath.Join(dir, "backups", id, "verification.json"))
	require.NoError(t, err)
	var v format.Verification
	require.NoError(t, json.Unmarshal(raw, &v))
	assert.Equal(t, format.OutcomePassed, v.Outcome)
	assert.True(t, v.Drill)
	assert.Positive(t, v.DrillRestoreMS)

	var drillDBs int
	require.NoError(t, mmDB(t, env).QueryRowContext(ctx, "SELECT count(*) FROM pg_database WHERE datname LIKE 'dr_drill_%'").Scan(&drillDBs))
	assert.Zero(t, drillDBs, "the drill database is dropped")

	assert.Contains(t, cmd(ctx, t, env, "/dr backup list"), "passed")
	assert.Contains(t, cmd(ctx, t, env, "/dr backup show "+id), "Verification: passed")
	status, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/backups", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	var list struct {
		Backups []struct {
			ID           string `json:"id"`
			Verification *struct {
				Outcome string `json:"outcome"`
				Drill   bool   `json:"drill"`
			} `json:"verification"`
		} `json:"backups"`
	}
	require.NoError(t, json.Unmarshal(body, &list))
	found := false
	for _, b := range list.Backups {
		if b.ID == id {
			found = true
			require.NotNil(t, b.Verification, string(body))
			assert.Equal(t, "passed", b.Verification.Outcome)
			assert.True(t, b.Verification.Drill)
		}
	}
	assert.True(t, found)

	// REST: start a verification (without drill) and see it finish.
	since := model.GetMillis()
	status, body, err = env.PluginRequest(ctx, env.Admin, http.MethodPost, "/api/v1/backups/"+id+"/verify", strings.NewReader(`{"drill":false}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status, string(body))
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "verified", 3*time.Minute)
	require.NoError(t, err)
	assert.Contains(t, post.Message, id)
	status, _, err = env.PluginRequest(ctx, env.Admin, http.MethodPost, "/api/v1/backups/nope/verify", strings.NewReader(`{}`))
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, status)

	// Damage the dump: verification fails, names the object, and says what to do.
	dump := filepath.Join(dir, "backups", id, "database.dump.zst")
	orig, err := os.ReadFile(dump)
	require.NoError(t, err)
	bad := append([]byte(nil), orig...)
	bad[len(bad)/2] ^= 0x55
	require.NoError(t, os.WriteFile(dump, bad, 0o600))
	result = runVerify(ctx, t, env, id)
	assert.Contains(t, result, "FAILED verification", result)
	assert.Contains(t, result, "backups/"+id+"/database.dump.zst is damaged", result)
	assert.Contains(t, cmd(ctx, t, env, "/dr backup list"), "failed")
	require.NoError(t, os.WriteFile(dump, orig, 0o600))

	assert.Contains(t, cmd(ctx, t, env, "/dr audit --action backup.verify"), "backup.verify.complete")
}

// An encrypted backup: without an identity on the server only checksums are checked, and
// the result says so; with the identity file set, contents are checked too.
func TestVerifyEncrypted(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backupagerecipients": id.Recipient().String()}))
	t.Cleanup(func() {
		_ = env.PatchPluginSettings(context.Background(), map[string]any{"backupagerecipients": "", "backupageidentityfile": ""})
	})
	bid, _ := runBackup(ctx, t, env, "--only database,config")

	result := runVerify(ctx, t, env, bid)
	assert.Contains(t, result, "partial", result)
	assert.Contains(t, result, "Contents were **not** checked", result)

	keyFile := filepath.Join(env.Dir, "dr-age-identity.txt")
	require.NoError(t, os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600))
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backupageidentityfile": keyFile}))
	result = runVerify(ctx, t, env, bid+" --drill")
	assert.Contains(t, result, "verified", result)
	assert.Contains(t, result, "passed `restore drill`", result)
	assert.NotContains(t, result, "AGE-SECRET-KEY", "the identity never reaches a post")

	// A key pasted into the settings is refused at save time, and not echoed.
	err = env.PatchPluginSettings(ctx, map[string]any{"backupageidentityfile": id.String()})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), id.String())
}
