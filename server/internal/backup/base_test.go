package backup_test

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// TestBaseBackupRestores takes an encrypted, signed base-only backup of the test cluster
// while pg_receivewal archives its WAL, adds rows after it, then restores it as a
// point-in-time recovery would: the tar (age, zstd) into a fresh data folder, recovery.signal
// and a restore_command reading the archived WAL. The restored cluster must hold the rows
// written after the backup (so it replayed the WAL from the segments the manifest names) and
// be the same cluster (system identifier). Retention then removes it like any backup.
func TestBaseBackupRestores(t *testing.T) {
	pg := backuptest.RequirePG(t)
	ctx := backuptest.Ctx(t)
	f := backuptest.NewFixture(t, 0)
	walDir := pgOwnedDir(t, pg, "dr-base-wal-")
	receiver := startReceiveWAL(t, pg, walDir)

	dbName, dbURL := backuptest.NewDatabase(t, "pitr")
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t SELECT g, 'before' FROM generate_series(1, 100) g`)
	require.NoError(t, err)

	s := backuptest.LocalStore(t)
	key := newKey(t)
	o := f.Options(true, backup.Destination{Name: "local", Store: s})
	o.Components = format.Components{Base: true}
	o.Database.DataSource = pg.URL("postgres")
	o.SigningKey = key
	var phases []string
	o.Progress = func(p backup.Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
	}
	start := time.Now()
	ms, err := backup.Run(ctx, o)
	require.NoError(t, err)
	elapsed := time.Since(start)
	m := ms["local"]
	assert.Equal(t, []string{backup.PhaseBase, backup.PhaseFinishing, backup.PhaseDone}, phases[len(phases)-3:])

	// The manifest: the component, the one object, the WAL positions, the server.
	assert.Equal(t, "base backup", m.Components.String())
	require.Len(t, m.Objects, 1)
	obj := m.Object(format.ComponentBase)
	require.NotNil(t, obj)
	assert.Equal(t, format.BackupDir(m.ID)+"base.tar.zst.age", obj.Key)
	require.NotNil(t, m.Base)
	t.Logf("base backup of the test cluster: %d MB of tar stored as %d MB in %s; WAL %s (%s) to %s (%s)",
		obj.PlainSize>>20, obj.Size>>20, elapsed.Round(time.Millisecond), m.Base.StartLSN, m.Base.StartWAL, m.Base.EndLSN, m.Base.EndWAL)
	var sysID, version string
	var segSize int64
	var tli uint32
	require.NoError(t, conn.QueryRow(ctx, `SELECT system_identifier::text, (SELECT timeline_id FROM pg_control_checkpoint()),
		pg_size_bytes(current_setting('wal_segment_size')), split_part(current_setting('server_version'), ' ', 1) FROM pg_control_system()`).Scan(&sysID, &tli, &segSize, &version))
	assert.Equal(t, sysID, m.Base.SystemID)
	assert.Equal(t, tli, m.Base.Timeline)
	assert.Equal(t, segSize, m.Base.WALSegmentSize)
	assert.Equal(t, version, m.PostgresVersion)
	startLSN, err := pgdump.ParseLSN(m.Base.StartLSN)
	require.NoError(t, err)
	endLSN, err := pgdump.ParseLSN(m.Base.EndLSN)
	require.NoError(t, err)
	assert.Less(t, startLSN, endLSN)
	assert.Regexp(t, `^[0-9A-F]{24}$`, m.Base.StartWAL)
	assert.LessOrEqual(t, m.Base.StartWAL, m.Base.EndWAL)

	// The manifest as stored: checksum and signature, as for the other components.
	read, err := format.ReadManifest(ctx, s, m.ID)
	require.NoError(t, err)
	assert.Equal(t, m.Base, read.Base)
	assert.Equal(t, m.Objects, read.Objects)
	assert.True(t, read.Provenance.SignedBy(key.PublicKey()), "signed: %+v", read.Provenance)
	ok, err := format.CheckManifestSum(rawObject(t, s, format.ManifestKey(m.ID)))
	require.NoError(t, err)
	assert.True(t, ok)
	raw := rawObject(t, s, obj.Key)
	assert.Equal(t, obj.SHA256, sumHex(raw))
	assert.True(t, strings.HasPrefix(string(raw), ageMagic), "encrypted")

	// Rows written after the backup: only WAL replay brings them back.
	_, err = conn.Exec(ctx, `INSERT INTO t SELECT g, 'after' FROM generate_series(101, 150) g`)
	require.NoError(t, err)
	var switched string
	require.NoError(t, conn.QueryRow(ctx, `SELECT pg_switch_wal()::text`).Scan(&switched))
	sw, err := pgdump.ParseLSN(switched)
	require.NoError(t, err)
	last, err := pgdump.WALFileName(m.Base.Timeline, sw, segSize, true)
	require.NoError(t, err)
	waitFile(t, filepath.Join(walDir, last), receiver)
	receiver.stop()

	// Restore: the tar into a fresh data folder, then archive recovery from walDir.
	restoreDir := pgOwnedDir(t, pg, "dr-base-restore-")
	dataDir := filepath.Join(restoreDir, "pgdata")
	rc, err := format.OpenObject(ctx, s, obj.Key, f.Identities(true))
	require.NoError(t, err)
	n := extractTar(t, rc, dataDir)
	require.NoError(t, rc.Close())
	assert.Equal(t, obj.PlainSize, n, "the tar is exactly what was stored")
	require.FileExists(t, filepath.Join(dataDir, "backup_label"))
	require.FileExists(t, filepath.Join(dataDir, "backup_manifest"))
	require.NoError(t, os.WriteFile(filepath.Join(dataDir, "recovery.signal"), nil, 0o600))
	auto, err := os.OpenFile(filepath.Join(dataDir, "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	_, err = fmt.Fprintf(auto, "restore_command = 'cp \"%s/%%f\" \"%%p\"'\n", walDir)
	require.NoError(t, err)
	require.NoError(t, auto.Close())
	verifyBackup(t, dataDir)

	restored, err := harness.StartDataDir(ctx, dataDir, filepath.Join(restoreDir, "postgres.log"))
	require.NoError(t, err)
	t.Cleanup(restored.Stop)
	rdb, err := pgx.Connect(ctx, restored.URL(dbName))
	require.NoError(t, err, restored.LogTail(30))
	defer rdb.Close(ctx)
	deadline := time.Now().Add(time.Minute)
	for {
		var inRecovery bool
		require.NoError(t, rdb.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery))
		if !inRecovery {
			break
		}
		require.True(t, time.Now().Before(deadline), "still in recovery after a minute:\n%s", restored.LogTail(30))
		time.Sleep(100 * time.Millisecond)
	}
	var before, after int
	var rsys string
	require.NoError(t, rdb.QueryRow(ctx, `SELECT count(*) FILTER (WHERE note = 'before'), count(*) FILTER (WHERE note = 'after'),
		(SELECT system_identifier::text FROM pg_control_system()) FROM t`).Scan(&before, &after, &rsys))
	assert.Equal(t, 100, before)
	assert.Equal(t, 50, after, "the rows written after the backup, from the archived WAL")
	assert.Equal(t, m.Base.SystemID, rsys)
	log := restored.LogTail(500)
	for _, seg := range []string{m.Base.StartWAL, m.Base.EndWAL, last} {
		assert.Contains(t, log, fmt.Sprintf("restored log file %q from archive", seg))
	}

	// Retention: a newer database backup does not evict the base backup, which counts only
	// against KeepBase (and the newest one is always kept).
	o2 := f.Options(true, backup.Destination{Name: "local", Store: s})
	o2.Components = format.Components{Database: true}
	o2.SigningKey = key
	ms2, err := backup.Run(ctx, o2)
	require.NoError(t, err)
	trust := format.Trust{Keys: []format.PublicKey{key.PublicKey()}}
	plan, err := backup.PlanRetention(ctx, s, "local", backup.Policy{KeepLast: 1, KeepBase: 1}, trust, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{ms2["local"].ID, m.ID}, ids(plan.Keep))
	assert.Empty(t, plan.Remove)
	assert.Equal(t, "logical: keep 1; base: keep 1", plan.Summary())
	// Deleting it removes all of it.
	require.NoError(t, backup.Delete(ctx, s, m.ID, backup.PruneOptions{}))
	assert.Empty(t, backuptest.Keys(t, s, format.BackupDir(m.ID)))
	plan, err = backup.PlanRetention(ctx, s, "local", backup.Policy{KeepLast: 1, KeepBase: 1}, trust, nil)
	require.NoError(t, err)
	assert.Len(t, plan.Keep, 1)
	assert.Empty(t, plan.Remove)
}

// TestBaseBackupSetupErrors walks a fresh cluster through what an administrator meets: a role
// without REPLICATION, then no pg_hba.conf line for its replication connections, then
// tablespaces; each error says what to run or add, and doing exactly that fixes it. The
// role's password never appears in an error.
func TestBaseBackupSetupErrors(t *testing.T) {
	pg := backuptest.RequirePG(t)
	ctx := backuptest.Ctx(t)
	dir := pgOwnedDir(t, pg, "dr-base-setup-")
	cluster, err := harness.StartPostgres(ctx, dir)
	require.NoError(t, err)
	t.Cleanup(cluster.Stop)
	admin, err := pgx.Connect(ctx, cluster.URL("postgres"))
	require.NoError(t, err)
	defer admin.Close(ctx)

	// Replication connections only for postgres: the line initdb wrote for everyone goes.
	hba := filepath.Join(cluster.Dir, "pg_hba.conf")
	b, err := os.ReadFile(hba)
	require.NoError(t, err)
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == "replication" {
			continue
		}
		lines = append(lines, l)
	}
	lines = append(lines, "host replication postgres 127.0.0.1/32 trust")
	require.NoError(t, os.WriteFile(hba, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	reload(t, admin)

	const password = "Wal-S3cret-pw"
	_, err = admin.Exec(ctx, `CREATE ROLE "dr base" LOGIN PASSWORD '`+password+`'`)
	require.NoError(t, err)
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user='dr base' password=%s dbname=postgres sslmode=disable", cluster.Port, password)
	run := func() (*format.Manifest, error) {
		s := backuptest.LocalStore(t)
		ms, err := backup.Run(ctx, backup.Options{
			Components:   format.Components{Base: true},
			Database:     pgdump.Options{DataSource: dsn},
			Destinations: []backup.Destination{{Name: "local", Store: s}},
		})
		if err != nil {
			assert.NotContains(t, err.Error(), password)
			assert.Empty(t, backuptest.Keys(t, s, format.BackupsPrefix), "a failed run leaves nothing")
			return nil, err
		}
		return ms["local"], nil
	}

	_, err = run()
	require.ErrorIs(t, err, pgdump.ErrNoReplicationRole)
	t.Log(err)
	fix := regexp.MustCompile(`ALTER ROLE "dr base" REPLICATION;`).FindString(err.Error())
	require.NotEmpty(t, fix, "the error gives the statement: %v", err)
	_, err = admin.Exec(ctx, fix)
	require.NoError(t, err)

	_, err = run()
	require.ErrorIs(t, err, pgdump.ErrNoReplicationHBA)
	t.Log(err)
	line := regexp.MustCompile("`(host replication [^`]+)`").FindStringSubmatch(err.Error())
	require.NotNil(t, line, "the error gives the pg_hba.conf line: %v", err)
	assert.Equal(t, `host replication "dr base" 127.0.0.1/32 scram-sha-256`, line[1])
	hf, err := os.OpenFile(hba, os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	_, err = hf.WriteString(line[1] + "\n")
	require.NoError(t, err)
	require.NoError(t, hf.Close())
	reload(t, admin)

	m, err := run()
	require.NoError(t, err)
	require.NotNil(t, m.Base)
	assert.Equal(t, uint32(1), m.Base.Timeline)

	spaceDir := pgOwnedDir(t, pg, "dr-base-space-")
	_, err = admin.Exec(ctx, `CREATE TABLESPACE extra LOCATION '`+spaceDir+`'`)
	require.NoError(t, err)
	_, err = run()
	require.ErrorIs(t, err, pgdump.ErrTablespaces)
	assert.Contains(t, err.Error(), "(extra)")
	_, err = admin.Exec(ctx, `DROP TABLESPACE extra`)
	require.NoError(t, err)
}

// TestBaseBackupCanceled: canceling a running base backup stops pg_basebackup and stores
// nothing.
func TestBaseBackupCanceled(t *testing.T) {
	pg := backuptest.RequirePG(t)
	s := backuptest.LocalStore(t)
	ctx, cancel := context.WithCancel(backuptest.Ctx(t))
	defer cancel()
	_, err := backup.Run(ctx, backup.Options{
		Components:   format.Components{Base: true},
		Database:     pgdump.Options{DataSource: pg.URL("postgres")},
		Destinations: []backup.Destination{{Name: "local", Store: &cancelingStore{Store: s, cancel: cancel}}},
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, backuptest.Keys(t, s, format.BackupsPrefix))
	requireNoBaseBackupRunning(t, pg)
}

// cancelingStore cancels the run once the base backup's Put has read its first megabyte.
type cancelingStore struct {
	storage.Store
	cancel context.CancelFunc
}

func (c *cancelingStore) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if strings.HasSuffix(key, "base.tar.zst") {
		r = io.MultiReader(io.LimitReader(r, 1<<20), readerFunc(func([]byte) (int, error) {
			c.cancel()
			<-ctx.Done()
			return 0, ctx.Err()
		}))
	}
	return c.Store.Put(ctx, key, r)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func requireNoBaseBackupRunning(t *testing.T, pg *harness.Postgres) {
	t.Helper()
	db, err := pg.Open("postgres")
	require.NoError(t, err)
	defer db.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var n int
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM pg_stat_progress_basebackup`).Scan(&n))
		if n == 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), "pg_basebackup still running on the server")
		time.Sleep(100 * time.Millisecond)
	}
}

func reload(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	var ok bool
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT pg_reload_conf()`).Scan(&ok))
	require.True(t, ok)
	time.Sleep(300 * time.Millisecond) // the postmaster rereads pg_hba.conf on SIGHUP, asynchronously
}

// pgOwnedDir is a new folder outside the test's TempDir (whose parent only root may enter),
// owned by the cluster's user, removed when the test ends.
func pgOwnedDir(t *testing.T, pg *harness.Postgres, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o700))
	if c := pg.Credential(); c != nil {
		require.NoError(t, os.Chown(dir, int(c.Uid), int(c.Gid)))
	}
	return dir
}

type walReceiver struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when pg_receivewal has exited, err then set
	err  error
	stop func()
}

// startReceiveWAL runs pg_receivewal into dir (as the cluster's user, so that its
// restore_command can read the files) and waits until it streams.
func startReceiveWAL(t *testing.T, pg *harness.Postgres, dir string) *walReceiver {
	t.Helper()
	cmd := exec.Command(backuptest.PgTool(t, "pg_receivewal"), "-D", dir, "-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port), "-U", "postgres", "-n", "--no-sync") //nolint:gosec // the test's own cluster
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.Credential()}
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	w := &walReceiver{cmd: cmd, done: make(chan struct{})}
	go func() {
		w.err = cmd.Wait()
		close(w.done)
	}()
	stopped := false
	w.stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-w.done
		}
	}
	t.Cleanup(w.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		partial, _ := filepath.Glob(filepath.Join(dir, "*.partial"))
		if len(partial) > 0 {
			return w
		}
		select {
		case <-w.done:
			stopped = true
			t.Fatalf("pg_receivewal exited: %v\n%s", w.err, out)
		default:
		}
		require.True(t, time.Now().Before(deadline), "pg_receivewal is not streaming after 30 s: %s", out)
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFile waits until pg_receivewal has completed the segment file p.
func waitFile(t *testing.T, p string, w *walReceiver) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(p); err == nil {
			return
		}
		select {
		case <-w.done:
			t.Fatalf("pg_receivewal exited before writing %s: %v", p, w.err)
		default:
		}
		require.True(t, time.Now().Before(deadline), "%s not received after 30 s", p)
		time.Sleep(50 * time.Millisecond)
	}
}

// extractTar writes a tar's folders and regular files under dir (which it creates) and
// returns the tar's length.
func extractTar(t *testing.T, r io.Reader, dir string) int64 {
	t.Helper()
	cr := &countReader{r: r}
	tr := tar.NewReader(cr)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		require.True(t, strings.HasPrefix(p, dir+string(filepath.Separator)) || p == dir, "tar entry %q outside the folder", h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			require.NoError(t, os.MkdirAll(p, 0o700))
		case tar.TypeReg:
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
			out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			require.NoError(t, err)
			_, err = io.Copy(out, tr) //nolint:gosec // G110: the test's own backup
			require.NoError(t, err)
			require.NoError(t, out.Close())
		default:
			t.Fatalf("unexpected tar entry %q of type %c", h.Name, h.Typeflag)
		}
	}
	_, err := io.Copy(io.Discard, cr)
	require.NoError(t, err)
	return cr.n
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// verifyBackup runs pg_verifybackup on the restored folder against the manifest the tar
// carries (WAL is not checked: it comes from the archive at recovery).
func verifyBackup(t *testing.T, dataDir string) {
	t.Helper()
	out, err := exec.Command(backuptest.PgTool(t, "pg_verifybackup"), "--no-parse-wal", dataDir).CombinedOutput() //nolint:gosec // the test's own folder
	require.NoError(t, err, "pg_verifybackup: %s", out)
}
