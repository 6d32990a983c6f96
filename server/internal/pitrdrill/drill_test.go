package pitrdrill

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

var (
	testPG    *harness.Postgres
	pgMissing string
)

func TestMain(m *testing.M) {
	os.Exit(harness.RunWithPostgres(m, "pitrdrill-test", func(pg *harness.Postgres, missing string) (func(), error) {
		testPG, pgMissing = pg, missing
		return nil, nil
	}))
}

// TestDrill is the drill as the plugin runs it, against a real cluster: its WAL archived
// (encrypted, signed) to a local destination by the archiver, a base backup taken there, and
// a writer inserting rows all through the drill. The drill restores the base backup and the
// WAL into a scratch cluster up to its restore point and finds every table's count where it
// must be: equal for the quiet tables, between the two snapshots for the busy one. Then as a
// user that may create a restore point but not switch the WAL (the partial copy is awaited),
// as one that may do neither (refused, saying the GRANT), and with a segment replaced in the
// archive (the drill fails on its signature, and leaves no scratch cluster behind).
func TestDrill(t *testing.T) {
	if testPG == nil {
		harness.Unavailable(t, "PostgreSQL", pgMissing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := local.New(t.TempDir())
	require.NoError(t, err)
	key, err := format.GenerateSigningKey()
	require.NoError(t, err)
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)

	arch, err := walarchive.New(walarchive.Options{
		DSN: testPG.URL("postgres"), ReceiveWAL: filepath.Join(testPG.BinDir, "pg_receivewal"), Spool: t.TempDir(),
		Slot: "pitr_drill", MaxDelay: 500 * time.Millisecond, Destinations: []walarchive.Destination{{Name: "local", Store: st}},
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
			for range 50 { // the walsender outlives pg_receivewal for a moment
				if _, err := db.Exec(`SELECT pg_drop_replication_slot('pitr_drill') FROM pg_replication_slots WHERE slot_name = 'pitr_drill'`); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			db.Close()
		}
	})
	require.Eventually(t, func() bool { return arch.Status().Running && arch.Status().Stored > 0 }, time.Minute, 100*time.Millisecond, "the archiver streams and stores")

	const dbName = "mattermost_drill"
	require.NoError(t, testPG.CreateDatabase(ctx, dbName))
	conn, err := pgx.Connect(ctx, testPG.URL(dbName))
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, q := range []string{
		`CREATE TABLE posts (id bigserial PRIMARY KEY, message text)`,
		`CREATE TABLE channels (id int PRIMARY KEY, name text)`,
		`CREATE SCHEMA other`,
		`CREATE TABLE other."Users" (id int PRIMARY KEY)`,
		`INSERT INTO channels SELECT g, 'c' || g FROM generate_series(1, 40) g`,
		`INSERT INTO posts (message) SELECT 'before the base backup' FROM generate_series(1, 100)`,
	} {
		_, err := conn.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	_, err = backup.Run(ctx, backup.Options{
		Components: format.Components{Base: true}, Database: pgdump.Options{DataSource: testPG.URL("postgres")},
		MattermostVersion: "11.4.0", Destinations: []backup.Destination{{Name: "local", Store: st}},
		SigningKey: key, Recipients: []string{id.Recipient().String()},
	})
	require.NoError(t, err)
	// After the base backup: only the WAL brings these back.
	for _, q := range []string{
		`INSERT INTO other."Users" SELECT g FROM generate_series(1, 25) g`,
		`DELETE FROM channels WHERE id > 30`,
		// A user that may create restore points and read the tables, not switch the WAL.
		`CREATE ROLE drill_rp LOGIN`,
		`GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO drill_rp`,
		`GRANT USAGE ON SCHEMA other TO drill_rp`,
		`GRANT SELECT ON ALL TABLES IN SCHEMA public, other TO drill_rp`,
		`CREATE ROLE drill_none LOGIN`,
		`GRANT USAGE ON SCHEMA other TO drill_none`,
		`GRANT SELECT ON ALL TABLES IN SCHEMA public, other TO drill_none`,
	} {
		_, err := conn.Exec(ctx, q)
		require.NoError(t, err, q)
	}

	// The writer: posts is busy all through the drill.
	var written atomic.Int64
	wctx, wcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w, err := pgx.Connect(wctx, testPG.URL(dbName))
		if err != nil {
			return
		}
		defer w.Close(context.Background())
		for wctx.Err() == nil {
			if _, err := w.Exec(wctx, `INSERT INTO posts (message) VALUES ('during the drill')`); err == nil {
				written.Add(1)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { wcancel(); wg.Wait() }()
	require.Eventually(t, func() bool { return written.Load() > 0 }, time.Minute, 10*time.Millisecond, "the writer writes")

	scratch := filepath.Join(pgUserDir(t), "scratch") // made by the drill
	opts := func(dsn, drillID string) Options {
		return Options{
			Store: st, Key: key.PublicKey(), Identities: []age.Identity{id}, PrimaryDSN: dsn, Database: dbName,
			ScratchDir: scratch, ID: drillID, WALTimeout: 30 * time.Second, RecoveryTimeout: 2 * time.Minute,
			Progress: func(s string) { t.Log("progress:", s) },
			// Rows written after the restore point, whatever the writer does: posts is busy,
			// and these must not be restored.
			afterRestorePoint: func() {
				_, err := conn.Exec(ctx, `INSERT INTO posts (message) SELECT 'after the restore point' FROM generate_series(1, 5)`)
				require.NoError(t, err)
			},
		}
	}

	t.Run("superuser: the WAL is switched", func(t *testing.T) {
		res, err := Run(ctx, opts(testPG.URL("postgres"), "t1"))
		require.NoError(t, err)
		assert.True(t, res.Switched, res.SwitchNote)
		assert.False(t, res.FromPartial, "the switched segment is archived whole")
		checkPassed(t, res)
		assert.NoDirExists(t, filepath.Join(scratch, "pitr-drill-t1"), "the scratch folder is removed")
	})

	t.Run("no pg_switch_wal: the partial copy is awaited", func(t *testing.T) {
		// And the folder a drill killed half way left behind goes.
		dead := filepath.Join(scratch, "pitr-drill-killed", "pgdata")
		require.NoError(t, os.MkdirAll(dead, 0o700))
		dsn := strings.Replace(testPG.URL("postgres"), "postgres@", "drill_rp@", 1)
		res, err := Run(ctx, opts(dsn, "t2"))
		assert.NoDirExists(t, filepath.Dir(dead), "a killed drill's leftover folder is removed")
		require.NoError(t, err)
		assert.False(t, res.Switched)
		assert.True(t, res.FromPartial, "the restore point's segment from the archive's partial copy")
		assert.Contains(t, res.SwitchNote, `"drill_rp" may not run pg_switch_wal`)
		checkPassed(t, res)
	})

	t.Run("no pg_create_restore_point: refused with the grant to give", func(t *testing.T) {
		dsn := strings.Replace(testPG.URL("postgres"), "postgres@", "drill_none@", 1)
		_, err := Run(ctx, opts(dsn, "t3"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO "drill_none"`)
	})

	t.Run("cancelled during the recovery: the cluster stopped, the folder removed", func(t *testing.T) {
		cctx, ccancel := context.WithCancel(ctx)
		defer ccancel()
		o := opts(testPG.URL("postgres"), "t5")
		o.Progress = func(s string) {
			if strings.HasPrefix(s, "recovering the scratch cluster") {
				ccancel()
			}
		}
		res, err := Run(cctx, o)
		require.ErrorIs(t, err, context.Canceled)
		assert.Zero(t, res.Recovery)
		assert.NotEmpty(t, res.PGVersion, "cancelled once the cluster was to start")
		assert.NoDirExists(t, filepath.Join(scratch, "pitr-drill-t5"))
		// No postmaster is left on the removed data folder.
		out, _ := exec.Command("pgrep", "-f", "pitr-drill-t5").Output() //nolint:gosec // a fixed test pattern
		assert.Empty(t, strings.TrimSpace(string(out)))
	})

	// Last: it damages the archive.
	t.Run("a replaced segment fails the drill", func(t *testing.T) {
		ms, _, err := format.ListManifests(ctx, st)
		require.NoError(t, err)
		require.Len(t, ms, 1)
		first, ok := walarchive.ParseFile(ms[0].Base.StartWAL)
		require.True(t, ok)
		_, err = st.Put(ctx, first.Key(true), strings.NewReader("not the segment the server wrote"))
		require.NoError(t, err)
		res, err := Run(ctx, opts(testPG.URL("postgres"), "t4"))
		require.Error(t, err)
		assert.NotErrorIs(t, err, ErrCountsDiffer)
		assert.Contains(t, err.Error(), "fetch "+first.Name)
		assert.Contains(t, err.Error(), "is not trusted")
		assert.Zero(t, res.Recovery, "no cluster was started")
		assert.NoDirExists(t, filepath.Join(scratch, "pitr-drill-t4"))
	})
	require.Positive(t, written.Load())
}

// checkPassed checks a passed drill's result against what the test wrote.
func checkPassed(t *testing.T, res *Result) {
	t.Helper()
	assert.Empty(t, res.Mismatches)
	assert.NotEmpty(t, res.BaseBackup)
	assert.Positive(t, res.WALFiles)
	assert.Regexp(t, `^[0-9A-F]+/[0-9A-F]+$`, res.LSN)
	byName := map[string]Table{}
	for _, tb := range res.Tables {
		byName[tb.Name] = tb
	}
	assert.Equal(t, Table{Name: "public.channels", Before: 30, After: 30, Restored: 30}, byName["public.channels"], "the delete after the base backup, from the WAL")
	assert.Equal(t, Table{Name: `other.Users`, Before: 25, After: 25, Restored: 25}, byName["other.Users"])
	posts := byName["public.posts"]
	assert.GreaterOrEqual(t, posts.After, posts.Before+5, "the rows written after the restore point")
	assert.GreaterOrEqual(t, posts.Restored, posts.Before)
	assert.LessOrEqual(t, posts.Restored, posts.After-5, "the rows written after the restore point are not restored")
	require.Len(t, res.Busy, 1)
	assert.Equal(t, "public.posts", res.Busy[0].Name)
	assert.Len(t, res.Tables, 3)
	t.Logf("drill %s: base %s, %d WAL files (%d bytes), snapshot %s, WAL wait %s, fetch %s, unpack %s, recovery %s, total %s; posts %d ≤ %d ≤ %d",
		res.RestorePoint, res.BaseBackup, res.WALFiles, res.WALBytes, res.Snapshot, res.WALWait, res.Fetch, res.Unpack, res.Recovery, res.Total,
		posts.Before, posts.Restored, posts.After)
}

// TestClassify: the rule of the comparison, table by table.
func TestClassify(t *testing.T) {
	res := &Result{}
	classify(
		map[string]int64{"a": 5, "busy": 10, "lost": 7, "dropped": 3, "grew": 4, "shrank": 9},
		map[string]int64{"a": 5, "busy": 20, "lost": 7, "created": 1, "grew": 4, "shrank": 9},
		map[string]int64{"a": 5, "busy": 15, "dropped": 3, "created": 0, "grew": 5, "shrank": 8, "ghost": 1},
		res)
	var busy, bad []string
	for _, b := range res.Busy {
		busy = append(busy, b.Name)
	}
	for _, m := range res.Mismatches {
		bad = append(bad, m.String())
	}
	assert.Equal(t, []string{"busy", "created", "dropped"}, busy)
	assert.Equal(t, []string{
		"ghost: missing on the primary (before and after the restore point)",
		"grew: 5 rows restored, the primary had 4",
		"lost: missing in the restored cluster",
		"shrank: 8 rows restored, the primary had 9",
	}, bad)
	assert.Equal(t, int64(5+15+3+0+5+8+1), res.Rows)
	assert.Equal(t, "t: 30 rows restored, the primary had 10 before the restore point and 20 after", Table{Name: "t", Before: 10, After: 20, Restored: 30}.String())
}

// pgUserDir is a new folder the cluster's user may enter (outside the test's TempDir, whose
// parent only root may enter), removed when the test ends.
func pgUserDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pitrdrill-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755)) //nolint:gosec // the cluster's user must enter it
	return dir
}
