//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

// TestPITRDrill is the point-in-time restore drill on the real server: with WAL archiving on
// and a base backup taken, `/dr backup verify --pitr` restores that base backup and the WAL
// up to a restore point made at once into a scratch cluster on the server's node, compares
// the counts of Mattermost's tables (written by the server all along) with the primary's, and
// the bot posts that it passed. The scratch folder is gone after. A non-admin is refused.
func TestPITRDrill(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	db, err := env.OpenDB()
	require.NoError(t, err)
	dest := filepath.Join(env.Dir, uniq("pitr-drill-dest-"))
	require.NoError(t, os.MkdirAll(dest, 0o755))
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer ccancel()
		assert.NoError(t, env.PatchPluginSettings(cctx, map[string]any{"WALArchiveEnabled": false, "WALArchiveDataSource": "", "BackupLocalDirectory": "", "WALArchiveMaxDelaySeconds": 10}))
		var err error
		for start := time.Now(); time.Since(start) < 90*time.Second; time.Sleep(time.Second) {
			if _, err = db.ExecContext(cctx, `SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1`, walarchive.DefaultSlot); err == nil {
				break
			}
		}
		assert.NoError(t, err, "the archiver stops when turned off, and leaves the slot free")
		_ = db.Close()
	})

	// The superuser: it may create restore points and switch the WAL.
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/mattermost?sslmode=disable", env.PG.Port)
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{
		"WALArchiveEnabled": true, "WALArchiveMaxDelaySeconds": 1, "WALArchiveDataSource": dsn, "BackupLocalDirectory": dest,
	}))
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(dest, "wal", "system.json"))
		return err == nil
	}, 2*time.Minute, time.Second, "archiving starts")

	since := model.GetMillis()
	out := cmd(ctx, t, env, "/dr backup base")
	require.Contains(t, out, "Base backup job", out)
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "Backup `", 5*time.Minute)
	require.NoError(t, err)
	m := backupID.FindStringSubmatch(post.Message)
	require.NotNil(t, m, "the base backup did not complete: %s", post.Message)

	// Not for non-admins.
	resp, err := env.Command(ctx, env.Member, "", "/dr backup verify --pitr")
	require.NoError(t, err)
	assert.Contains(t, resp.Text, "for system admins only")
	assert.Contains(t, cmd(ctx, t, env, "/dr backup verify 123 --pitr"), "give no backup id")

	since = model.GetMillis()
	out = cmd(ctx, t, env, "/dr backup verify --pitr")
	require.Contains(t, out, "Point-in-time restore drill started", out)
	post, err = env.WaitBotPost(ctx, env.OpsChannel.Id, since, "Point-in-time restore drill", 5*time.Minute)
	require.NoError(t, err)
	t.Log(post.Message)
	require.Contains(t, post.Message, ":white_check_mark: Point-in-time restore drill passed")
	assert.Contains(t, post.Message, "base backup `"+m[1]+"`")
	assert.Regexp(t, "up to restore point `dr-drill-[a-z0-9]+` \\([0-9A-F]+/[0-9A-F]+\\)", post.Message)
	assert.Regexp(t, `\d+ tables, \d+ rows restored`, post.Message)
	assert.NotContains(t, post.Message, ":x:")
	entries, err := os.ReadDir(filepath.Join(env.MM.Dir, "dr-drill-scratch"))
	require.NoError(t, err, "the scratch folder's parent stays")
	assert.Empty(t, entries, "the scratch cluster's folder is removed")
}
