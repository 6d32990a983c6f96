//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

var checksumInManifest = regexp.MustCompile(`"checksum": "([0-9a-f]{64})"`)

// plantBackup does what anyone who can write the backup folder but not Mattermost's database
// can do: copy a real backup's objects (its signature sidecar too) to a new id dated at, and
// recompute the manifest's checksum (a plain SHA-256) over the edited manifest.
func plantBackup(t *testing.T, dir, from, id string, at time.Time) {
	t.Helper()
	src, dst := filepath.Join(dir, "backups", from), filepath.Join(dir, "backups", id)
	require.NoError(t, os.MkdirAll(dst, 0o755))
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		if e.Name() == "manifest.json" {
			b = bytes.ReplaceAll(b, []byte(from), []byte(id))
			stamp := []byte(`"` + at.UTC().Format(time.RFC3339) + `"`)
			b = regexp.MustCompile(`"(started_at|finished_at)": "[^"]*"`).ReplaceAllFunc(b, func(m []byte) []byte {
				k, _, _ := bytes.Cut(m, []byte(":"))
				return append(append(k, ": "...), stamp...)
			})
			loc := checksumInManifest.FindSubmatchIndex(b)
			require.NotNil(t, loc)
			copy(b[loc[2]:loc[3]], strings.Repeat("0", 64))
			sum := sha256.Sum256(b)
			copy(b[loc[2]:loc[3]], hex.EncodeToString(sum[:]))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644))
	}
	// And a verification that says it passed.
	v := `{"backup_id": "` + id + `", "outcome": "passed", "drill": true, "contents_checked": true, "finished_at": "` + at.UTC().Format(time.RFC3339) + `"}`
	require.NoError(t, os.WriteFile(filepath.Join(dst, "verification.json"), []byte(v), 0o644))
}

// backupWhenIdle runs a backup once the previous backup job has ended (its result is posted a
// moment before its job ends; a backup started then is refused as busy).
func backupWhenIdle(ctx context.Context, t *testing.T, env *harness.Env) (id, result string) {
	t.Helper()
	require.Eventually(t, func() bool {
		return !strings.Contains(cmd(ctx, t, env, "/dr backup list"), "A backup is running")
	}, 30*time.Second, 200*time.Millisecond)
	return runBackup(ctx, t, env, "")
}

// TestPlantedBackupIsNotTrusted: a backup planted in the destination (a real backup's objects
// under a new id dated 2030, its manifest re-checksummed) is shown apart as not made by this
// server, is not the latest, is not drilled by the scheduled verification, does not change
// which backups retention keeps, and is deleted only by an explicit delete.
func TestPlantedBackupIsNotTrusted(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	dir := t.TempDir()
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backuplocaldirectory": dir, "backupcomponents": "database,config",
		"backupkeeplast": 2, "backupkeepdaily": 0, "backupkeepweekly": 0, "backupkeepmonthly": 0}))
	t.Cleanup(func() {
		_ = env.PatchPluginSettings(context.Background(), map[string]any{"backuplocaldirectory": "", "backupcomponents": "database,config,files",
			"backupkeeplast": 7, "backupkeepdaily": 7, "backupkeepweekly": 4, "backupkeepmonthly": 6, "backupverifyschedule": ""})
	})

	version := cmd(ctx, t, env, "/dr version")
	fp := regexp.MustCompile("Backup signing key \\| `(SHA256:[^`]+)`").FindStringSubmatch(version)
	require.NotNil(t, fp, version)
	real1, _ := backupWhenIdle(ctx, t, env)
	real2, result := backupWhenIdle(ctx, t, env)
	assert.Contains(t, result, "signed by this server's key `"+fp[1]+"`")
	assert.FileExists(t, filepath.Join(dir, "backups", real2, "manifest.json.sig"))

	planted := "20300101T000000Z-beef"
	plantBackup(t, dir, real2, planted, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))

	// Listed apart, with why.
	list := cmd(ctx, t, env, "/dr backup list")
	ours, others, found := strings.Cut(list, "Not made by this server")
	require.True(t, found, list)
	assert.NotContains(t, ours, planted, "the planted backup is not among this server's backups")
	assert.Contains(t, ours, real2)
	assert.Contains(t, others, "`"+planted+"`")
	assert.Contains(t, others, "dated in the future")
	assert.Contains(t, cmd(ctx, t, env, "/dr backup show latest"), "Backup `"+real2+"`", "latest is the newest real backup")
	assert.Contains(t, cmd(ctx, t, env, "/dr backup pin "+planted), "not made by this server")

	status, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/backups", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, string(body))
	var resp struct {
		Backups []struct {
			ID string `json:"id"`
		} `json:"backups"`
		Untrusted []struct {
			ID          string            `json:"id"`
			NotMadeHere map[string]string `json:"not_made_here"`
		} `json:"untrusted"`
		SigningKey struct {
			PublicKey   string `json:"public_key"`
			Fingerprint string `json:"fingerprint"`
		} `json:"signing_key"`
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	require.Len(t, resp.Backups, 2)
	assert.Equal(t, real2, resp.Backups[0].ID)
	require.Len(t, resp.Untrusted, 1)
	assert.Equal(t, planted, resp.Untrusted[0].ID)
	assert.Contains(t, resp.Untrusted[0].NotMadeHere["local"], "dated in the future")
	assert.Equal(t, fp[1], resp.SigningKey.Fingerprint)
	assert.True(t, strings.HasPrefix(resp.SigningKey.PublicKey, "ssh-ed25519 "), resp.SigningKey.PublicKey)

	// Retention (keep the last 2) keeps the two newest real backups; the planted one is neither
	// counted nor deleted.
	real3, result := backupWhenIdle(ctx, t, env)
	assert.Contains(t, result, "retention deleted `"+real1+"`", result)
	assert.NotContains(t, result, "retention deleted `"+real2+"`", result)
	assert.Contains(t, result, "1 backups at local were not made by this server", result)
	assert.Equal(t, map[string]bool{real2: true, real3: true, planted: true}, completeIDs(ctx, t, dir))

	// The scheduled verification drills the newest real backup, never the planted one.
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backupverifyschedule": "* * * * *", "backupverifydrill": true}))
	since := model.GetMillis()
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "verified in", 200*time.Second)
	require.NoError(t, err, "no scheduled verification within two minutes of an every-minute schedule")
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backupverifyschedule": ""}))
	assert.Contains(t, post.Message, "Backup `"+real3+"` verified")
	assert.Contains(t, post.Message, "passed `restore drill`")
	assert.NotContains(t, post.Message, planted)
	assert.FileExists(t, filepath.Join(dir, "backups", real3, "verification.json.sig"), "the verification is signed")
	audit := cmd(ctx, t, env, "/dr audit --action backup.verify.start --limit 20")
	assert.NotContains(t, audit, planted, "the planted backup was never verified")

	// drctl, from outside Mattermost, on the same folder: `--id latest` refuses to choose while a
	// backup that is not validly signed is there (naming it); with the public key `/dr version`
	// shows it restores the newest real backup, never the planted one.
	drctl := drctlBinary(t, env)
	pubFile := filepath.Join(t.TempDir(), "dr-signing.pub")
	require.NoError(t, os.WriteFile(pubFile, []byte(resp.SigningKey.PublicKey+"\n"), 0o600))
	require.NoError(t, env.PG.CreateDatabase(ctx, "dr_planted_target"))
	restoreArgs := []string{"restore", "--from", dir, "--id", "latest", "--dry-run", "--mattermost-version", "11.4.0",
		"--database-url", env.PG.URL("dr_planted_target"), "--config-dir", filepath.Join(t.TempDir(), "config")}
	out, err := exec.CommandContext(ctx, drctl, restoreArgs...).CombinedOutput() //nolint:gosec // the built tool
	require.Error(t, err, "drctl --id latest must refuse: %s", out)
	assert.Contains(t, string(out), "refuses to choose", string(out))
	assert.Contains(t, string(out), planted, "the refusal names the backup it cannot trust")
	out, err = exec.CommandContext(ctx, drctl, append(restoreArgs, "--trust-key", pubFile)...).CombinedOutput() //nolint:gosec // the built tool
	require.NoError(t, err, "drctl --trust-key --dry-run: %s", out)
	t.Logf("drctl restore --id latest --trust-key --dry-run:\n%s", out)
	assert.Contains(t, string(out), "backup "+real3+" is signed by "+fp[1]+", the --trust-key", string(out))
	assert.Contains(t, string(out), "passed over backup "+planted, string(out))
	assert.NotContains(t, string(out), "backup "+planted+" is signed", string(out))

	// An explicit delete removes it.
	assert.Contains(t, cmd(ctx, t, env, "/dr backup delete "+planted+" --confirm"), "deleted")
	assert.Equal(t, map[string]bool{real2: true, real3: true}, completeIDs(ctx, t, dir))
}
