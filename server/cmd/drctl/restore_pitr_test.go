package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	walprobe "github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/walarchive"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status/probers"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

// TestPointInTimeRestore is the restore an admin runs after a bad change: the test cluster's
// WAL is archived (encrypted, signed) to MinIO while a base backup is taken there; rows are
// written, the time T noted, and a "bad change" deletes them all. drctl restore --to-time T
// then builds a new cluster that PostgreSQL's own recovery brings to T, fetching the WAL with
// drctl wal-fetch: the rows are back and the delete is not. --to-latest brings the delete too,
// --dry-run changes nothing, and times outside the window are refused with the window.
func TestPointInTimeRestore(t *testing.T) {
	if testPG == nil {
		harness.Unavailable(t, "PostgreSQL", pgMissing)
	}
	m, stop, err := harness.TestMinIOBucket("drctl pitr", "drpitr")
	t.Cleanup(stop)
	if err != nil {
		harness.Unavailable(t, "MinIO", err)
	}
	// S3 credentials from the environment, as PostgreSQL's restore_command will see them.
	t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := s3.New(ctx, s3.Config{Bucket: "drpitr", Prefix: "site", Region: "us-east-1", Endpoint: m.Endpoint, PathStyle: true})
	require.NoError(t, err)
	from := "s3://drpitr/site"
	s3args := []string{"--s3-endpoint", m.Endpoint, "--s3-path-style"}

	key, err := format.GenerateSigningKey()
	require.NoError(t, err)
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	// What restore_command runs must be reachable by the cluster's user: drctl and the
	// identity in folders it may enter.
	shared := pgUserDir(t, "drctl-pitr-")
	identityFile := filepath.Join(shared, "dr.key")
	require.NoError(t, os.WriteFile(identityFile, []byte(id.String()+"\n"), 0o600))
	chownToPG(t, identityFile)
	built, err := harness.BuildDrctl(ctx)
	require.NoError(t, err)
	bin := filepath.Join(shared, "drctl")
	copyExecutable(t, built, bin)

	// The archiver, as the plugin runs it.
	arch, err := walarchive.New(walarchive.Options{
		DSN: testPG.URL("postgres"), ReceiveWAL: filepath.Join(testPG.BinDir, "pg_receivewal"), Spool: t.TempDir(),
		Slot: "drctl_pitr", MaxDelay: 500 * time.Millisecond, Destinations: []walarchive.Destination{{Name: "s3", Store: st}},
		Recipients: []age.Recipient{id.Recipient()}, SigningKey: key, Logf: t.Logf,
	})
	require.NoError(t, err)
	actx, acancel := context.WithCancel(context.Background())
	archDone := make(chan error, 1)
	go func() { archDone <- arch.Run(actx) }()
	t.Cleanup(func() {
		acancel()
		assert.NoError(t, <-archDone)
		if db, err := testPG.Open("postgres"); err == nil {
			for i := 0; i < 50; i++ { // the walsender outlives pg_receivewal for a moment
				if _, err := db.Exec(`SELECT pg_drop_replication_slot('drctl_pitr') FROM pg_replication_slots WHERE slot_name = 'drctl_pitr'`); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			db.Close()
		}
	})
	require.Eventually(t, func() bool { return arch.Status().Running && arch.Status().Stored > 0 }, time.Minute, 100*time.Millisecond, "the archiver streams and stores")

	dbName := fmt.Sprintf("drctl_pitr_%d", dbSeq.Add(1))
	require.NoError(t, testPG.CreateDatabase(ctx, dbName))
	conn, err := pgx.Connect(ctx, testPG.URL(dbName))
	require.NoError(t, err)
	defer conn.Close(ctx)
	exec1 := func(q string) {
		t.Helper()
		_, err := conn.Exec(ctx, q)
		require.NoError(t, err)
	}
	exec1(`CREATE TABLE posts (id int PRIMARY KEY, message text)`)
	exec1(`INSERT INTO posts SELECT g, 'before the base backup' FROM generate_series(1, 100) g`)

	_, err = backup.Run(ctx, backup.Options{
		Components: format.Components{Base: true}, Database: pgdump.Options{DataSource: testPG.URL("postgres")},
		MattermostVersion: "11.4.0", Destinations: []backup.Destination{{Name: "s3", Store: st, OffSite: true}},
		SigningKey: key, Recipients: []string{id.Recipient().String()},
	})
	require.NoError(t, err)
	// The file store: file A is uploaded and captured before T, file B after T.
	fileStore := t.TempDir()
	capture := func() *format.Manifest {
		t.Helper()
		ms, err := backup.Run(ctx, backup.Options{
			Components: format.Components{Files: true}, Capture: true, Files: filesource.NewLocal(fileStore),
			Destinations: []backup.Destination{{Name: "s3", Store: st, OffSite: true}}, SigningKey: key, Recipients: []string{id.Recipient().String()},
		})
		require.NoError(t, err)
		return ms["s3"]
	}
	// The config, from a backup before T.
	cfgSrc := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(cfgSrc, "saml.crt"), []byte("cert"), 0o600))
	cms, err := backup.Run(ctx, backup.Options{
		Components: format.Components{Config: true}, Config: testConfig{dir: cfgSrc, effective: `{"SqlSettings":{"DataSource":"postgres://old/mm"},"FileSettings":{"DriverName":"local","Directory":"/old/data/"}}`},
		MattermostVersion: "11.4.0", Destinations: []backup.Destination{{Name: "s3", Store: st, OffSite: true}}, SigningKey: key, Recipients: []string{id.Recipient().String()},
	})
	require.NoError(t, err)
	configBackup := cms["s3"].ID
	require.NoError(t, os.MkdirAll(filepath.Join(fileStore, "data"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(fileStore, "data", "a.txt"), []byte("uploaded before T"), 0o644))
	capture()

	exec1(`INSERT INTO posts SELECT g, 'after the base backup' FROM generate_series(101, 150) g`)
	var target time.Time
	require.NoError(t, conn.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&target))
	// --to-time takes whole seconds: the bad change comes in a later one.
	target = target.Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(target.Add(100 * time.Millisecond)))
	exec1(`DELETE FROM posts`) // the bad change
	require.NoError(t, os.WriteFile(filepath.Join(fileStore, "data", "b.txt"), []byte("uploaded after T"), 0o644))
	afterT := capture()
	// The segment holding the delete is completed and archived as a whole file.
	var seg string
	require.NoError(t, conn.QueryRow(ctx, `SELECT pg_walfile_name(pg_switch_wal())`).Scan(&seg))
	f, ok := walarchive.ParseFile(seg)
	require.True(t, ok)
	require.Eventually(t, func() bool {
		rc, err := st.Open(ctx, f.Key(true))
		if err != nil {
			return false
		}
		rc.Close()
		return true
	}, time.Minute, 100*time.Millisecond, "segment %s archived", seg)
	// And the heartbeat after it: a later commit in the archive ends the replay at T.
	stored := arch.Status().Stored
	require.Eventually(t, func() bool { return arch.Status().Stored > stored+1 }, time.Minute, 100*time.Millisecond)

	restore := func(t *testing.T, pgdata string, extra ...string) (int, string, string) {
		t.Helper()
		args := append([]string{"restore", "--from", from, "--trust-key", key.PublicKey().String(), "--identity", identityFile, "--pgdata", pgdata}, s3args...)
		if os.Geteuid() == 0 {
			args = append(args, "--pgdata-owner", "postgres")
		}
		cmd := exec.CommandContext(ctx, bin, append(args, extra...)...) //nolint:gosec // the built tool
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return code, out.String(), errOut.String()
	}
	// start runs the restored cluster until recovery is over and returns the posts it holds.
	start := func(t *testing.T, pgdata string) (before, after int) {
		t.Helper()
		pg, err := harness.StartDataDir(ctx, pgdata, filepath.Join(filepath.Dir(pgdata), "postgres.log"))
		require.NoError(t, err)
		t.Cleanup(pg.Stop)
		rdb, err := pgx.Connect(ctx, pg.URL(dbName))
		require.NoError(t, err, pg.LogTail(30))
		defer rdb.Close(ctx)
		require.Eventually(t, func() bool {
			var inRecovery bool
			return rdb.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery) == nil && !inRecovery
		}, time.Minute, 100*time.Millisecond, "still in recovery:\n%s", pg.LogTail(30))
		require.NoError(t, rdb.QueryRow(ctx, `SELECT count(*) FILTER (WHERE id <= 100), count(*) FILTER (WHERE id > 100) FROM posts`).Scan(&before, &after))
		log := pg.LogTail(400)
		assert.Contains(t, log, "from archive", "the WAL came through restore_command")
		assert.Contains(t, log, "archive recovery complete")
		return before, after
	}

	t.Run("dry run prints the plan and changes nothing", func(t *testing.T) {
		pgdata := filepath.Join(pgUserDir(t, "drctl-pitr-dry-"), "pgdata")
		code, out, errOut := restore(t, pgdata, "--to-time", target.Format(time.RFC3339), "--dry-run", "--json")
		require.Equal(t, 0, code, "%s\n%s", out, errOut)
		var rep pitrReport
		require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
		assert.True(t, rep.OK && rep.DryRun)
		assert.NotEmpty(t, rep.BaseBackup)
		assert.Regexp(t, `^[0-9A-F]{24}$`, rep.FirstWAL)
		assert.LessOrEqual(t, rep.FirstWAL, seg)
		assert.False(t, rep.WindowFrom.After(target), "the window starts at the base backup")
		assert.False(t, rep.WindowTo.Before(target))
		assert.Nil(t, rep.Files, "no file target given: the database only")
		assert.NoDirExists(t, pgdata)
		files := filepath.Join(t.TempDir(), "files")
		code, out, errOut = restore(t, pgdata, "--to-time", target.Format(time.RFC3339), "--dry-run", "--json", "--data-dir", files)
		require.Equal(t, 0, code, "%s\n%s", out, errOut)
		rep = pitrReport{}
		require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
		require.NotNil(t, rep.Files, out)
		assert.Equal(t, afterT.ID, rep.Files.Backup, "the first capture after T")
		assert.Equal(t, format.ClassCapture, rep.Files.Class)
		assert.Equal(t, int64(1), rep.Files.Files, "file A only")
		assert.Equal(t, int64(len("uploaded before T")), rep.Files.Bytes)
		assert.True(t, rep.Files.AddedBy.Equal(target))
		assert.NoDirExists(t, files)
		code, out, errOut = restore(t, pgdata, "--to-time", target.Format(time.RFC3339), "--dry-run", "--data-dir", files)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "4. restore the files added by "+target.UTC().Format(time.RFC3339)+" of the file index of capture "+afterT.ID)
		assert.Contains(t, out, ": 1 files, ")
		assert.Contains(t, out, "config: not restored (no --config-dir); the newest backup before that time holding it is "+configBackup)
		code, out, _ = restore(t, pgdata, "--to-time", target.Format(time.RFC3339), "--dry-run")
		require.Equal(t, 0, code)
		assert.Contains(t, out, "restore_command in postgresql.auto.conf to: '"+bin+"' 'wal-fetch'")
		assert.NotContains(t, out, m.SecretKey, "no S3 secret in the recovery settings")
		assert.NoDirExists(t, pgdata)
	})

	t.Run("list shows the restorable window", func(t *testing.T) {
		code, out, errOut := drctl(append([]string{"list", "--from", from, "--trust-key", key.PublicKey().String(), "--json"}, s3args...)...)
		require.Equal(t, 0, code, "%s\n%s", out, errOut)
		var doc struct {
			Window *listedWindow `json:"pitr_window"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
		require.NotNil(t, doc.Window, out)
		assert.Empty(t, doc.Window.Error)
		assert.Len(t, doc.Window.BaseBackups, 1)
		assert.False(t, doc.Window.From.After(target) || doc.Window.To.Before(target), "%s is in %+v", target, doc.Window)
		code, out, _ = drctl(append([]string{"list", "--from", from, "--trust-key", key.PublicKey().String()}, s3args...)...)
		require.Equal(t, 0, code)
		assert.Contains(t, out, "point-in-time restore window: "+doc.Window.From.Format("2006-01-02 15:04:05")+" to ")
		code, out, _ = drctl(append([]string{"list", "--from", from}, s3args...)...)
		require.Equal(t, 0, code)
		assert.Contains(t, out, "give --trust-key to see the point-in-time restore window")
	})

	t.Run("to a time before the bad change", func(t *testing.T) {
		pgdata := filepath.Join(pgUserDir(t, "drctl-pitr-time-"), "pgdata")
		files := filepath.Join(t.TempDir(), "files")
		configDir := filepath.Join(t.TempDir(), "config")
		code, out, errOut := restore(t, pgdata, "--to-time", target.Format(time.RFC3339), "--data-dir", files, "--config-dir", configDir, "--mattermost-version", "11.4.0")
		require.Equal(t, 0, code, "%s\n%s", out, errOut)
		assert.Contains(t, out, "config: restored to "+configDir+" from backup "+configBackup)
		cfgb, err := os.ReadFile(filepath.Join(configDir, "config.json"))
		require.NoError(t, err)
		var cfg map[string]map[string]any
		require.NoError(t, json.Unmarshal(cfgb, &cfg))
		assert.Equal(t, files+"/", cfg["FileSettings"]["Directory"], "the config points at the point-in-time files")
		cert, err := os.ReadFile(filepath.Join(configDir, "saml.crt"))
		require.NoError(t, err)
		assert.Equal(t, "cert", string(cert))
		assert.Contains(t, out, "Start PostgreSQL on it")
		assert.Contains(t, out, "files: 1 of the files added by")
		b, err := os.ReadFile(filepath.Join(files, "data", "a.txt"))
		require.NoError(t, err)
		assert.Equal(t, "uploaded before T", string(b))
		assert.NoFileExists(t, filepath.Join(files, "data", "b.txt"), "uploaded after T")
		auto, err := os.ReadFile(filepath.Join(pgdata, "postgresql.auto.conf"))
		require.NoError(t, err)
		assert.NotContains(t, string(auto), m.SecretKey)
		assert.NotContains(t, string(auto), id.String())
		before, after := start(t, pgdata)
		assert.Equal(t, 100, before, "rows from the base backup")
		assert.Equal(t, 50, after, "rows written after the base backup and before T, from the archived WAL")
	})

	t.Run("to the latest WAL", func(t *testing.T) {
		pgdata := filepath.Join(pgUserDir(t, "drctl-pitr-latest-"), "pgdata")
		files := filepath.Join(t.TempDir(), "files")
		code, out, errOut := restore(t, pgdata, "--to-latest", "--data-dir", files)
		require.Equal(t, 0, code, "%s\n%s", out, errOut)
		for name, want := range map[string]string{"a.txt": "uploaded before T", "b.txt": "uploaded after T"} {
			b, err := os.ReadFile(filepath.Join(files, "data", name))
			require.NoError(t, err, name)
			assert.Equal(t, want, string(b))
		}
		before, after := start(t, pgdata)
		assert.Equal(t, 0, before+after, "the delete is replayed too")
	})

	t.Run("refusals", func(t *testing.T) {
		dir := pgUserDir(t, "drctl-pitr-refused-")
		pgdata := filepath.Join(dir, "pgdata")
		code, _, errOut := restore(t, pgdata, "--to-time", time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "after the newest archived WAL")
		code, _, errOut = restore(t, pgdata, "--to-time", target.Add(-24*time.Hour).Format(time.RFC3339))
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "before the oldest usable base backup")
		code, _, errOut = restore(t, pgdata, "--to-time", "2026-12-05 09:12:30")
		assert.Equal(t, 2, code)
		assert.Contains(t, errOut, "no time zone")
		require.NoError(t, os.MkdirAll(pgdata, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(pgdata, "PG_VERSION"), []byte("15\n"), 0o600))
		code, _, errOut = restore(t, pgdata, "--to-latest")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "is not empty")
		if os.Geteuid() == 0 {
			// An identity file only root can read: PostgreSQL's restore_command, run as its
			// own user, could not decrypt a segment. Refused before anything is written.
			rootOnly := filepath.Join(dir, "root-only.key")
			require.NoError(t, os.WriteFile(rootOnly, []byte(id.String()+"\n"), 0o600))
			cmd := exec.CommandContext(ctx, bin, append([]string{"restore", "--from", from, "--trust-key", key.PublicKey().String(), "--identity", rootOnly,
				"--pgdata", filepath.Join(dir, "unreadable"), "--pgdata-owner", "postgres", "--to-latest"}, s3args...)...) //nolint:gosec // the built tool
			out, err := cmd.CombinedOutput()
			require.Error(t, err)
			assert.Contains(t, string(out), "restore_command fails when run as uid")
			assert.Contains(t, string(out), "permission denied")
			assert.NoDirExists(t, filepath.Join(dir, "unreadable"))
		}
		other, err := format.GenerateSigningKey()
		require.NoError(t, err)
		cmd := exec.CommandContext(ctx, bin, append([]string{"restore", "--from", from, "--trust-key", other.PublicKey().String(), "--pgdata", filepath.Join(dir, "other"), "--to-latest", "--dry-run"}, s3args...)...) //nolint:gosec // the built tool
		out, err := cmd.CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "which is not a trusted key (--trust-key)", "an archive signed by another key is refused")
	})

	// From here on the archive is damaged. A segment lost before the partial one: --to-latest
	// would end the replay there and promote with less than asked, so it is refused.
	t.Run("the status probe reads the window from the destination", func(t *testing.T) {
		in, err := probers.ReadWindowInput(ctx, st, key.PublicKey())
		require.NoError(t, err)
		assert.True(t, in.Archived)
		assert.Equal(t, 1, in.Bases)
		assert.Zero(t, in.Gaps)
		res := walprobe.AnalyzeWindow(in, walprobe.WindowThresholds{}, time.Now())
		assert.Equal(t, probe.Healthy, res.State, res.Summary)
		assert.Contains(t, res.Summary, "restorable from ")
		// Another key's view: nothing there is trusted; the probe says why it cannot judge.
		other, err := format.GenerateSigningKey()
		require.NoError(t, err)
		_, err = probers.ReadWindowInput(ctx, st, other.PublicKey())
		require.ErrorContains(t, err, "which is not a trusted key")
		res = probers.DestinationWindow(st, other.PublicKey(), walprobe.WindowThresholds{}).Probe(ctx)
		assert.Equal(t, probe.Unknown, res.State, res.Summary)
		// And an hour later, with the archiver stopped: the newest WAL is what a restore reaches.
		in, err = probers.ReadWindowInput(ctx, st, key.PublicKey())
		require.NoError(t, err)
		res = walprobe.AnalyzeWindow(in, walprobe.WindowThresholds{}, time.Now().Add(time.Hour))
		assert.Equal(t, probe.Critical, res.State, res.Summary)
		assert.Contains(t, res.Summary, "a point-in-time restore reaches no later than that")
	})

	t.Run("a lost segment", func(t *testing.T) {
		require.NoError(t, st.Delete(ctx, f.Key(true)))
		in, err := probers.ReadWindowInput(ctx, st, key.PublicKey())
		require.NoError(t, err)
		assert.Equal(t, 1, in.Gaps, "the status probe sees the gap")
		pgdata := filepath.Join(pgUserDir(t, "drctl-pitr-gap-"), "pgdata")
		code, _, errOut := restore(t, pgdata, "--to-latest", "--dry-run")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "misses "+seg+" to "+seg)
		assert.Contains(t, errOut, "restore with --to-time to a time before it")
		code, out, errOut := restore(t, pgdata, "--to-time", target.Format(time.RFC3339), "--dry-run")
		assert.Equal(t, 0, code, errOut)
		assert.Contains(t, errOut, "note: the WAL archive of timeline 1 misses "+seg, out)
	})

	// Last: it damages the archive. A segment replaced in the bucket (by anyone with write
	// access to it) must stop the recovery, not pass for the end of the WAL: a cluster that
	// promoted there would silently lack everything after it.
	t.Run("a replaced segment stops the recovery", func(t *testing.T) {
		_, err := st.Put(ctx, f.Key(true), strings.NewReader("not the segment the server wrote"))
		require.NoError(t, err)
		pgdata := filepath.Join(pgUserDir(t, "drctl-pitr-planted-"), "pgdata")
		code, out, errOut := restore(t, pgdata, "--to-latest")
		require.Equal(t, 0, code, "%s\n%s", out, errOut)
		logPath := filepath.Join(filepath.Dir(pgdata), "postgres.log")
		pg, err := harness.StartDataDir(ctx, pgdata, logPath)
		if err == nil {
			t.Cleanup(pg.Stop)
		}
		var log string
		for deadline := time.Now().Add(time.Minute); !strings.Contains(log, "due to startup process failure"); time.Sleep(100 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "recovery must stop at the replaced segment:\n%s", log)
			b, _ := os.ReadFile(logPath)
			log = string(b)
		}
		assert.Contains(t, log, "drctl wal-fetch: "+f.Key(true))
		assert.Contains(t, log, "is not trusted (bad signature")
		assert.Contains(t, log, seg)
		assert.NotContains(t, log, "archive recovery complete")
	})
}

// pgUserDir is a new folder the cluster's user may enter (mode 0755, outside the test's
// TempDir, whose parent only root may enter), removed when the test ends.
func pgUserDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755)) //nolint:gosec // the cluster's user must enter it
	chownToPG(t, dir)
	return dir
}

func chownToPG(t *testing.T, path string) {
	t.Helper()
	if c := testPG.Credential(); c != nil {
		require.NoError(t, os.Chown(path, int(c.Uid), int(c.Gid)))
	}
}

func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755) //nolint:gosec // an executable
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}
