//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

// bigFiles writes n MiB of incompressible files straight into the server's file store, so a
// backup runs long enough to be interrupted.
func bigFiles(t *testing.T, env *harness.Env, mib int) {
	dir := filepath.Join(env.MM.Dir, "data", "bulk-"+strings.ToLower(model.NewId()[:6]))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	buf := make([]byte, 1<<20)
	for i := 0; i < mib/8; i++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("blob-%03d.bin", i)))
		require.NoError(t, err)
		for j := 0; j < 8; j++ {
			_, _ = rand.Read(buf)
			_, err = f.Write(buf)
			require.NoError(t, err)
		}
		require.NoError(t, f.Close())
	}
}

// startBackup runs `/dr backup now` and returns when the job is running, with the time to
// look for the bot's result from.
func startBackup(ctx context.Context, t *testing.T, env *harness.Env, args string) int64 {
	since := model.GetMillis()
	text := cmd(ctx, t, env, strings.TrimSpace("/dr backup now "+args))
	require.Contains(t, text, "started", text)
	return since
}

// waitPhase waits until the running backup reports a phase.
func waitPhase(ctx context.Context, t *testing.T, env *harness.Env, phase string) {
	require.Eventually(t, func() bool {
		status, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/backups", nil)
		if err != nil || status != http.StatusOK {
			return false
		}
		var r struct {
			Running *struct{ Progress string } `json:"running"`
		}
		return json.Unmarshal(body, &r) == nil && r.Running != nil && r.Running.Progress == phase
	}, 2*time.Minute, 50*time.Millisecond, "the backup never reached the %s phase", phase)
}

// failurePost waits for the bot's failure post.
func failurePost(ctx context.Context, t *testing.T, env *harness.Env, since int64) string {
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "failed", 3*time.Minute)
	require.NoError(t, err)
	return post.Message
}

// completeIDs lists the complete backups in a local destination folder.
func completeIDs(ctx context.Context, t *testing.T, dir string) map[string]bool {
	store, err := local.New(dir)
	require.NoError(t, err)
	ms, err := format.List(ctx, store)
	require.NoError(t, err)
	out := map[string]bool{}
	for _, m := range ms {
		out[m.ID] = true
	}
	return out
}

// backupFolders lists every folder under backups/ (complete or not).
func backupFolders(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(filepath.Join(dir, "backups"))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// Each fault leaves no valid-looking backup, posts a clear failure, keeps earlier backups,
// and the next backup succeeds.
func TestBackupFaults(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir := filepath.Join(env.MM.Dir, "dr-backups")
	good, _ := runBackup(ctx, t, env, "--only database,config")
	reset := map[string]any{"backuppgdumppath": "", "backupdatasource": "", "backuplocaldirectory": ""}
	t.Cleanup(func() { _ = env.PatchPluginSettings(context.Background(), reset) })

	check := func(t *testing.T, msg string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			assert.Contains(t, msg, w)
		}
		ids := completeIDs(ctx, t, dir)
		assert.True(t, ids[good], "the earlier backup is untouched")
		require.NoError(t, env.PatchPluginSettings(ctx, reset))
		id, _ := runBackup(ctx, t, env, "--only database,config")
		assert.True(t, completeIDs(ctx, t, dir)[id], "the next backup succeeds")
		assert.Equal(t, len(completeIDs(ctx, t, dir)), len(backupFolders(t, dir)), "no incomplete folder is left after the next run")
	}

	t.Run("pg_dump missing", func(t *testing.T) {
		require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backuppgdumppath": "/nonexistent/pg_dump"}))
		msg := failurePost(ctx, t, env, startBackup(ctx, t, env, "--only database"))
		// /dr version and the dashboard's /version say it before any backup fails, with the
		// fix for where the server runs (the test runs beside it).
		fix := "on Debian/Ubuntu `apt-get install postgresql-client-N`"
		if pgdump.InContainer() {
			fix = "add postgresql-client-N to the image"
		}
		version := cmd(ctx, t, env, "/dr version")
		for _, want := range []string{"database backups cannot run: pg_dump not found", fix, "BackupPgDumpPath"} {
			assert.Contains(t, version, want)
		}
		status, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/version", nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		var info struct {
			PgDump   string   `json:"pg_dump"`
			Problems []string `json:"problems"`
		}
		require.NoError(t, json.Unmarshal(body, &info))
		assert.Empty(t, info.PgDump)
		assert.Contains(t, strings.Join(info.Problems, "\n"), fix)
		check(t, msg, "pg_dump", "postgresql-client-15", "Install the PostgreSQL client")
		assert.Regexp(t, "\\| pg_dump \\| `/[^`]+pg_dump \\(\\d+\\)`", cmd(ctx, t, env, "/dr version"), "names the pg_dump once found")
	})
	t.Run("database unreachable", func(t *testing.T) {
		require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backupdatasource": "postgres://mmuser:Sup3rSecret@127.0.0.1:1/mattermost?sslmode=disable"}))
		msg := failurePost(ctx, t, env, startBackup(ctx, t, env, "--only database"))
		assert.NotContains(t, msg, "Sup3rSecret", "no password in posts")
		check(t, msg, "127.0.0.1:1")
	})
	t.Run("destination full", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to mount a small tmpfs")
		}
		small := t.TempDir()
		require.NoError(t, exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", small).Run())
		t.Cleanup(func() { _ = exec.Command("umount", small).Run() })
		bigFiles(t, env, 8)
		require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backuplocaldirectory": small}))
		msg := failurePost(ctx, t, env, startBackup(ctx, t, env, ""))
		entries, _ := os.ReadDir(filepath.Join(small, "backups"))
		for _, e := range entries {
			_, err := os.Stat(filepath.Join(small, "backups", e.Name(), "manifest.json"))
			assert.True(t, os.IsNotExist(err), "no manifest in the full destination")
		}
		check(t, msg, "is full", "Free space at the destination")
	})
	t.Run("destination not writable", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to mount a read-only tmpfs")
		}
		ro := t.TempDir()
		require.NoError(t, exec.Command("mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", ro).Run())
		t.Cleanup(func() { _ = exec.Command("umount", ro).Run() })
		require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backuplocaldirectory": ro}))
		since := model.GetMillis()
		text := cmd(ctx, t, env, "/dr backup now --only config")
		if strings.Contains(text, "started") {
			post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "failed", time.Minute)
			require.NoError(t, err)
			text = post.Message
		}
		check(t, text, "read-only")
	})
	t.Run("cancel", func(t *testing.T) {
		bigFiles(t, env, 400)
		since := startBackup(ctx, t, env, "--only files")
		waitPhase(ctx, t, env, backup.PhaseFiles)
		assert.Contains(t, cmd(ctx, t, env, "/dr backup cancel"), "Cancelling")
		msg := failurePost(ctx, t, env, since)
		check(t, msg, "cancelled")
	})
	t.Run("kill -9 of the plugin mid-backup", func(t *testing.T) {
		bigFiles(t, env, 400)
		startBackup(ctx, t, env, "--only files")
		waitPhase(ctx, t, env, backup.PhaseFiles)
		pid := pluginPID(t, env)
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		require.Eventually(t, func() bool { return !processAlive(pid) }, 10*time.Second, 50*time.Millisecond)
		before := backupFolders(t, dir)
		assert.Greater(t, len(before), len(completeIDs(ctx, t, dir)), "the killed run left an incomplete folder")
		waitPluginBack(ctx, t, env)
		check(t, "")
	})
}

// Files uploaded while a backup runs: every file the dumped database refers to is in it.
func TestBackupWhileUploading(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bigFiles(t, env, 200)
	// Uploads run before, while and after the database snapshot is taken.
	stop := make(chan struct{})
	uploaded := make(chan int)
	var count atomic.Int64
	go func() {
		defer func() { uploaded <- int(count.Load()) }()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := env.Admin.Client.UploadFile(ctx, []byte(fmt.Sprintf("during backup %d %s", n, model.NewId())), env.OpsChannel.Id, fmt.Sprintf("during-%d.txt", n)); err == nil {
				count.Add(1)
			}
		}
	}()
	require.Eventually(t, func() bool { return count.Load() >= 20 }, time.Minute, 10*time.Millisecond)
	since := model.GetMillis()
	require.Contains(t, cmd(ctx, t, env, "/dr backup now"), "started")
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "Backup `", 5*time.Minute)
	close(stop)
	n := <-uploaded
	require.NoError(t, err)
	m := backupID.FindStringSubmatch(post.Message)
	require.NotNil(t, m, post.Message)
	require.Greater(t, n, 0, "files were uploaded during the backup")

	store, err := local.New(filepath.Join(env.MM.Dir, "dr-backups"))
	require.NoError(t, err)
	man, err := format.ReadManifest(ctx, store, m[1])
	require.NoError(t, err)
	index := map[string]bool{}
	require.NoError(t, format.ReadIndex(ctx, store, man, nil, func(e format.IndexEntry) error { index[e.Path] = true; return nil }))
	refs, missing := 0, 0
	require.NoError(t, format.ReadReferences(ctx, store, man, nil, func(r format.Reference) error {
		if r.Deleted {
			return nil
		}
		refs++
		if !index[r.Path] {
			missing++
			t.Errorf("referenced by the dump but not in the backup: %s (%s)", r.Path, r.Kind)
		}
		return nil
	}))
	t.Logf("%d files uploaded during the backup; %d referenced files, %d missing", n, refs, missing)
	assert.Positive(t, refs)
}

// An encrypted backup decrypts with the stock age command, and its dump restores with stock
// pg_restore.
func TestEncryptedBackupWithStockTools(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, tool := range []string{"age", "age-keygen", "zstd", "pg_restore"} {
		_, err := exec.LookPath(tool)
		require.NoError(t, err, "%s is installed by build/scripts/install-deps.sh", tool)
	}
	keyFile := filepath.Join(t.TempDir(), "identity.txt")
	out, err := exec.Command("age-keygen", "-o", keyFile).CombinedOutput()
	require.NoError(t, err, string(out))
	pub := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "Public key:"))
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backupagerecipients": pub + " # test key"}))
	t.Cleanup(func() { _ = env.PatchPluginSettings(context.Background(), map[string]any{"backupagerecipients": ""}) })

	id, result := runBackup(ctx, t, env, "--only database,config")
	assert.NotContains(t, result, "not encrypted")
	dump := filepath.Join(env.MM.Dir, "dr-backups", "backups", id, "database.dump.zst.age")
	_, err = os.Stat(dump)
	require.NoError(t, err)

	plain := filepath.Join(t.TempDir(), "mattermost.dump")
	pipeline := fmt.Sprintf("age -d -i %q %q | zstd -d -q -o %q", keyFile, dump, plain)
	out, err = exec.Command("bash", "-o", "pipefail", "-c", pipeline).CombinedOutput()
	require.NoError(t, err, string(out))

	require.NoError(t, env.PG.CreateDatabase(ctx, "restored_"+strings.ToLower(model.NewId()[:6])))
	db, err := env.OpenDB()
	require.NoError(t, err)
	defer db.Close()
	var target string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'restored_%' ORDER BY oid DESC LIMIT 1`).Scan(&target))
	out, err = exec.Command("pg_restore", "--no-owner", "-d", env.PG.URL(target), plain).CombinedOutput()
	require.NoError(t, err, string(out))

	man, err := format.ReadManifest(ctx, mustLocal(t, env), id)
	require.NoError(t, err)
	restored, err := env.PG.Open(target)
	require.NoError(t, err)
	defer restored.Close()
	var users int64
	require.NoError(t, restored.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&users))
	assert.Equal(t, man.TableRowCounts["public.users"], users, "the restored dump has the rows the manifest recorded")

	// Without the identity, the object is unreadable.
	f, err := os.Open(dump)
	require.NoError(t, err)
	defer f.Close()
	head := make([]byte, 64)
	_, _ = io.ReadFull(f, head)
	assert.Contains(t, string(head), "age-encryption.org")
}

func mustLocal(t *testing.T, env *harness.Env) *local.Store {
	s, err := local.New(filepath.Join(env.MM.Dir, "dr-backups"))
	require.NoError(t, err)
	return s
}
