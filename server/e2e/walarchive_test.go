//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

// TestWALArchiving turns WAL archiving on with a replication connection whose role lacks
// REPLICATION: /dr status says exactly what to run. Once the admin has run it, a node takes
// the archiving over on its own, WAL segments appear at the destination, /dr status, the
// status route and the metrics show the lag, the last file and the slot, and /dr backup base
// takes a base backup. With WALBaseBackupKeep 1, a second base backup evicts the first, and
// retention deletes the archived WAL before the second one's start (and nothing after it);
// /dr backup retention previews the same. A non-admin is refused the new commands and the routes.
func TestWALArchiving(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	db, err := env.OpenDB()
	require.NoError(t, err)
	role := uniq("dr_wal_")
	const password = "Wal-E2e-S3cret"
	_, err = db.ExecContext(ctx, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, role, password))
	require.NoError(t, err)
	dest := filepath.Join(env.Dir, uniq("wal-dest-"))
	require.NoError(t, os.MkdirAll(dest, 0o755))

	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer ccancel()
		assert.NoError(t, env.PatchPluginSettings(cctx, map[string]any{"WALArchiveEnabled": false, "WALArchiveDataSource": "", "BackupLocalDirectory": "", "WALArchiveMaxDelaySeconds": 10, "WALBaseBackupKeep": 2}))
		// The archiver stops and pg_receivewal's walsender with it: then the slot can go.
		start := time.Now()
		var err error
		for time.Since(start) < 90*time.Second {
			if _, err = db.ExecContext(cctx, `SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1`, walarchive.DefaultSlot); err == nil {
				break
			}
			time.Sleep(time.Second)
		}
		assert.NoError(t, err, "the archiver stops when turned off, and leaves the slot free")
		t.Logf("archiving stopped and its slot dropped after %s", time.Since(start).Round(time.Second))
		_, _ = db.ExecContext(cctx, `DROP ROLE IF EXISTS `+role)
		_ = db.Close()
	})

	dsn := fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/mattermost?sslmode=disable", role, password, env.PG.Port)
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{
		"WALArchiveEnabled": true, "WALArchiveMaxDelaySeconds": 1, "WALArchiveDataSource": dsn, "BackupLocalDirectory": dest,
	}))

	// Set up wrongly: the status names the statement that fixes it, and never the password.
	fix := fmt.Sprintf(`ALTER ROLE "%s" REPLICATION;`, role)
	text := waitStatus(ctx, t, env, 90*time.Second, func(s string) bool { return strings.Contains(s, fix) })
	assert.Contains(t, text, "WAL archiving cannot run")
	assert.NotContains(t, text, password)
	st := getStatus(ctx, t, env, true)
	state, summary := resultOf(st, "wal")
	assert.Equal(t, "critical", state, summary)
	assert.Contains(t, summary, fix)

	// The admin runs it; archiving starts on its own (the loop retries every 30 s).
	_, err = db.ExecContext(ctx, `ALTER ROLE `+role+` REPLICATION`)
	require.NoError(t, err)
	text = waitStatus(ctx, t, env, 2*time.Minute, func(s string) bool {
		return strings.Contains(s, "| Archiving lag |") && strings.Contains(s, "running (restarted") && !strings.Contains(s, "| Last file stored | none |")
	})
	t.Log(text)
	assert.Contains(t, text, "| Archiving | on |")
	assert.Regexp(t, `\| Node archiving \| \S+ \|`, text)
	assert.Regexp(t, `\| Last file stored \| wal/00000001/[0-9A-F]{24}(\.partial)?\.zst \|`, text)
	assert.Contains(t, text, "| WAL held by slot "+walarchive.DefaultSlot+" |")
	assert.NotContains(t, text, password)

	// Writes reach the archive: a whole segment after pg_switch_wal, as signed objects.
	_, err = db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS wal_e2e (id serial, note text); INSERT INTO wal_e2e (note) SELECT 'x' FROM generate_series(1, 1000); SELECT pg_switch_wal()`)
	require.NoError(t, err)
	segment := regexp.MustCompile(`^[0-9A-F]{24}\.zst$`)
	require.Eventually(t, func() bool {
		entries, err := os.ReadDir(filepath.Join(dest, "wal", "00000001"))
		if err != nil {
			return false
		}
		for _, e := range entries {
			if segment.MatchString(e.Name()) {
				_, err := os.Stat(filepath.Join(dest, "wal", "00000001", e.Name()+".sig"))
				return err == nil
			}
		}
		return false
	}, time.Minute, time.Second, "a completed WAL segment and its signature at the destination")
	_, err = os.Stat(filepath.Join(dest, "wal", "system.json"))
	require.NoError(t, err)

	// The lag stays within a few seconds of MaxDelay (1 s) while the database is written to.
	st = getStatus(ctx, t, env, true)
	state, summary = resultOf(st, "wal")
	assert.Equal(t, "healthy", state, summary)
	assert.Regexp(t, `^archiving on node \S+, \d+s behind$`, summary)
	code, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/metrics", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	for _, m := range []string{"dr_wal_archive_running 1", "dr_wal_archive_lag_seconds ", "dr_wal_archive_slot_retained_bytes ", "dr_wal_archive_pending_files "} {
		assert.Contains(t, string(body), "\n"+m, "metrics")
	}

	// /dr backup base: through the backup job, the result posted by the bot.
	since := model.GetMillis()
	out := cmd(ctx, t, env, "/dr backup base")
	require.Contains(t, out, "Base backup job", out)
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "Backup `", 5*time.Minute)
	require.NoError(t, err)
	m := backupID.FindStringSubmatch(post.Message)
	require.NotNil(t, m, "the base backup did not complete: %s", post.Message)
	assert.Contains(t, post.Message, "(base backup)")
	_, err = os.Stat(filepath.Join(dest, "backups", m[1], "base.tar.zst"))
	require.NoError(t, err, "the base backup's tar at the destination")

	// Retention keeps one base backup: the second one evicts the first, and the archived WAL
	// before the second one's start goes, its signatures with it; the rest stays.
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"WALBaseBackupKeep": 1}))
	var switched string
	_, err = db.ExecContext(ctx, `INSERT INTO wal_e2e (note) SELECT 'y' FROM generate_series(1, 1000)`)
	require.NoError(t, err)
	require.NoError(t, db.QueryRowContext(ctx, `SELECT pg_walfile_name(pg_switch_wal())`).Scan(&switched))
	walDir := filepath.Join(dest, "wal", "00000001")
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(walDir, switched+".zst.sig"))
		return err == nil
	}, time.Minute, 200*time.Millisecond, "the archive catches up to the switch")
	// What the archive holds before the second base backup.
	var before []string
	entries, err := os.ReadDir(walDir)
	require.NoError(t, err)
	for _, e := range entries {
		if f, ok := walarchive.ParseFile(strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".sig"), ".zst")); ok && f.Segment {
			before = append(before, e.Name())
		}
	}
	since = model.GetMillis()
	out = cmd(ctx, t, env, "/dr backup base")
	require.Contains(t, out, "Base backup job", out)
	post, err = env.WaitBotPost(ctx, env.OpsChannel.Id, since, "Backup `", 5*time.Minute)
	require.NoError(t, err)
	m2 := backupID.FindStringSubmatch(post.Message)
	require.NotNil(t, m2, "the second base backup did not complete: %s", post.Message)
	t.Log(post.Message)
	assert.Contains(t, post.Message, "retention deleted `"+m[1]+"` at local (base backup)")
	assert.Contains(t, post.Message, "retention at local: base: keep 1, remove 1")
	deleted := regexp.MustCompile(`retention deleted (\d+) archived WAL files? \([^)]+\) at local: all before ([0-9A-F]{24}),`).FindStringSubmatch(post.Message)
	require.NotNil(t, deleted, post.Message)
	var base2 struct {
		Base struct {
			StartWAL string `json:"start_wal"`
		} `json:"base"`
	}
	raw, err := os.ReadFile(filepath.Join(dest, "backups", m2[1], "manifest.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &base2))
	assert.Equal(t, base2.Base.StartWAL, deleted[2])
	_, err = os.Stat(filepath.Join(dest, "backups", m[1]))
	assert.True(t, os.IsNotExist(err), "the first base backup is gone")
	older := 0
	for _, name := range before {
		_, err := os.Stat(filepath.Join(walDir, name))
		if name[:24] < base2.Base.StartWAL {
			assert.True(t, os.IsNotExist(err), "%s is before the kept base backup's start: deleted", name)
			if !strings.HasSuffix(name, ".sig") {
				older++
			}
		} else {
			assert.NoError(t, err, "%s is needed by the kept base backup", name)
		}
	}
	require.Positive(t, older)
	n, _ := strconv.Atoi(deleted[1])
	assert.GreaterOrEqual(t, n, older, "a segment archived after the listing above may have gone too")
	_, err = os.Stat(filepath.Join(dest, "wal", "system.json"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		for _, suffix := range []string{".zst", ".partial.zst"} {
			if _, err := os.Stat(filepath.Join(walDir, base2.Base.StartWAL+suffix)); err == nil {
				return true
			}
		}
		return false
	}, time.Minute, 200*time.Millisecond, "the kept base backup's first segment is archived")
	// The preview says what is kept per class and where the archive now starts.
	out = cmd(ctx, t, env, "/dr backup retention")
	t.Log(out)
	assert.Contains(t, out, "**local**: base: keep 1")
	assert.Contains(t, out, "archived WAL: kept from "+base2.Base.StartWAL+" (the start of the oldest kept base backup)")

	// Not for non-admins: the new commands, the status and metrics routes.
	resp, err := env.Command(ctx, env.Member, "", "/dr backup base")
	require.NoError(t, err)
	assert.Contains(t, resp.Text, "for system admins only")
	resp, err = env.Command(ctx, env.Member, "", "/dr backup retention")
	require.NoError(t, err)
	assert.Contains(t, resp.Text, "for system admins only")
	for _, path := range []string{"/api/v1/status", "/api/v1/metrics"} {
		code, body, err := env.PluginRequest(ctx, env.Member, http.MethodGet, path, nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, code, string(body))
	}
}

// waitStatus runs /dr status --fresh --verbose until ok accepts its text, and returns it.
func waitStatus(ctx context.Context, t *testing.T, env *harness.Env, timeout time.Duration, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var text string
	for {
		text = cmd(ctx, t, env, "/dr status --fresh --verbose")
		if ok(text) {
			return text
		}
		if time.Now().After(deadline) {
			require.Fail(t, "the status never showed what was expected", text)
		}
		time.Sleep(2 * time.Second)
	}
}
