package walarchive

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

var (
	testPG    *harness.Postgres
	pgMissing string
)

func TestMain(m *testing.M) {
	os.Exit(harness.RunWithPostgres(m, "walarchive-test", func(pg *harness.Postgres, missing string) (func(), error) {
		testPG, pgMissing = pg, missing
		return nil, nil
	}))
}

func requirePG(t *testing.T) *harness.Postgres {
	t.Helper()
	if testPG == nil {
		harness.Unavailable(t, "PostgreSQL", pgMissing)
	}
	return testPG
}

// archiveRig is an archiver of the test cluster into a local folder, running until the test ends.
type archiveRig struct {
	arch   *Archiver
	store  *local.Store
	key    *format.SigningKey
	id     *age.X25519Identity
	cancel context.CancelFunc
	done   chan error
}

func startArchiver(t *testing.T, pg *harness.Postgres, slot string, encrypted bool, opts ...func(*Options)) *archiveRig {
	t.Helper()
	st, err := local.New(t.TempDir())
	require.NoError(t, err)
	key, err := format.GenerateSigningKey()
	require.NoError(t, err)
	rig := &archiveRig{store: st, key: key, done: make(chan error, 1)}
	o := Options{
		DSN: pg.URL("postgres"), ReceiveWAL: filepath.Join(pg.BinDir, "pg_receivewal"), Spool: t.TempDir(),
		Slot: slot, MaxDelay: 500 * time.Millisecond, Destinations: []Destination{{Name: "local", Store: st}},
		SigningKey: key, Logf: t.Logf,
	}
	if encrypted {
		rig.id, err = age.GenerateX25519Identity()
		require.NoError(t, err)
		o.Recipients = []age.Recipient{rig.id.Recipient()}
	}
	for _, fn := range opts {
		fn(&o)
	}
	rig.arch, err = New(o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	rig.cancel = cancel
	go func() { rig.done <- rig.arch.Run(ctx) }()
	t.Cleanup(func() {
		rig.stop(t)
		db, err := pg.Open("postgres")
		if err == nil {
			// The walsender outlives pg_receivewal for a moment: retry the drop.
			for i := 0; i < 50; i++ {
				if _, err = db.Exec(`SELECT pg_drop_replication_slot($1)`, slot); err == nil || strings.Contains(err.Error(), "does not exist") {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			db.Close()
		}
	})
	return rig
}

func (r *archiveRig) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("the archiver did not stop within a minute")
	}
}

func (r *archiveRig) reader() *Reader {
	rd := &Reader{Store: r.store, Keys: []format.PublicKey{r.key.PublicKey()}}
	if r.id != nil {
		rd.Identities = []age.Identity{r.id}
	}
	return rd
}

// waitFor polls cond for up to 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func exists(t *testing.T, st storage.Reader, key string) bool {
	_, err := st.(storage.Store).Stat(context.Background(), key)
	if errors.Is(err, storage.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

// currentSegment switches to a new segment and returns the name of the one it completed.
func switchWAL(t *testing.T, db *sql.DB) string {
	var name string
	require.NoError(t, db.QueryRow(`SELECT pg_walfile_name(pg_switch_wal())`).Scan(&name))
	return name
}

func TestArchiveCompletedAndPartialSegments(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "encrypted"}[encrypted], func(t *testing.T) {
			pg := requirePG(t)
			rig := startArchiver(t, pg, "test_archive_"+map[bool]string{false: "plain", true: "enc"}[encrypted], encrypted)
			db, err := pg.Open("postgres")
			require.NoError(t, err)
			defer db.Close()
			waitFor(t, "pg_receivewal to stream", func() bool { return rig.arch.Status().Running })

			_, err = db.Exec(`CREATE TABLE IF NOT EXISTS walt (id serial primary key, v text); INSERT INTO walt (v) SELECT md5(g::text) FROM generate_series(1, 5000) g`)
			require.NoError(t, err)
			seg := switchWAL(t, db)
			f, ok := ParseFile(seg)
			require.True(t, ok)
			key := f.Key(encrypted)
			waitFor(t, key+" in the archive", func() bool { return exists(t, rig.store, key) })

			// The segment the archive gives back is byte for byte the server's own.
			out := filepath.Join(t.TempDir(), seg)
			sys, err := rig.reader().System(context.Background())
			require.NoError(t, err)
			require.NoError(t, rig.reader().Fetch(context.Background(), sys, seg, out, false))
			got, err := os.ReadFile(out)
			require.NoError(t, err)
			want, err := os.ReadFile(filepath.Join(pg.Dir, "pg_wal", seg))
			require.NoError(t, err)
			require.True(t, bytes.Equal(got, want), "the fetched segment differs from pg_wal/%s", seg)

			// A row written now reaches the archive within MaxDelay, in the partial copy of
			// the segment being written.
			var lsn string
			require.NoError(t, db.QueryRow(`INSERT INTO walt (v) VALUES ('after') RETURNING pg_walfile_name(pg_current_wal_insert_lsn())`).Scan(&lsn))
			pf, _ := ParseFile(lsn)
			pf.Partial = true
			waitFor(t, "the partial copy of "+lsn, func() bool { return exists(t, rig.store, pf.Key(encrypted)) })
			_ = os.Remove(out)
			require.NoError(t, rig.reader().Fetch(context.Background(), sys, lsn, out, true))
			require.ErrorIs(t, rig.reader().Fetch(context.Background(), sys, lsn, out, false), ErrNotArchived,
				"without partialOK the segment being written is not in the archive")

			st := rig.arch.Status()
			require.Empty(t, st.LastError)
			require.WithinDuration(t, time.Now(), st.CaughtUp, 5*time.Second)

			// Once completed, the segment replaces its partial copy.
			switchWAL(t, db)
			pf.Partial = false
			waitFor(t, lsn+" completed in the archive", func() bool { return exists(t, rig.store, pf.Key(encrypted)) })
			pf.Partial = true
			waitFor(t, "the partial copy to go", func() bool { return !exists(t, rig.store, pf.Key(encrypted)) })

			a, err := rig.reader().Scan(context.Background())
			require.NoError(t, err)
			tl := a.Timeline(1)
			require.NotNil(t, tl)
			require.Empty(t, tl.Gaps)
			require.GreaterOrEqual(t, tl.Segments, 2)
		})
	}
}

// When the primary goes away (here: its walsender is terminated, as a killed postmaster would
// end it), what pg_receivewal received is stored at once, not MaxDelay later: after a lost
// primary the archive holds all the WAL that left it, whatever MaxDelay is.
func TestLostPrimaryStoresThePartialAtOnce(t *testing.T) {
	pg := requirePG(t)
	rig := startArchiver(t, pg, "test_archive_lost", false, func(o *Options) { o.MaxDelay = time.Hour })
	db, err := pg.Open("postgres")
	require.NoError(t, err)
	defer db.Close()
	waitFor(t, "pg_receivewal to stream", func() bool { return rig.arch.Status().Running })
	sys, err := rig.reader().System(context.Background())
	require.NoError(t, err)
	// write commits a row and returns its segment and where in it the WAL ends, once streamed.
	write := func(v string) (string, int64) {
		_, err := db.Exec(`CREATE TABLE IF NOT EXISTS walt_lost (v text); INSERT INTO walt_lost VALUES ('` + v + `')`)
		require.NoError(t, err)
		var seg, lsn string
		var offset int64
		require.NoError(t, db.QueryRow(`SELECT pg_walfile_name(pg_current_wal_insert_lsn()), pg_current_wal_insert_lsn()::text, (pg_walfile_name_offset(pg_current_wal_insert_lsn())).file_offset`).Scan(&seg, &lsn, &offset))
		waitFor(t, v+" streamed", func() bool {
			var sent bool
			return db.QueryRow(`SELECT coalesce(bool_and(write_lsn >= $1::pg_lsn), false) FROM pg_stat_replication WHERE application_name = 'pg_receivewal'`, lsn).Scan(&sent) == nil && sent
		})
		return seg, offset
	}
	// holds says whether the archive's copy of seg holds the server's WAL up to offset.
	holds := func(seg string, offset int64) bool {
		out := filepath.Join(t.TempDir(), seg)
		if err := rig.reader().Fetch(context.Background(), sys, seg, out, true); err != nil {
			return false
		}
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		want, err := os.ReadFile(filepath.Join(pg.Dir, "pg_wal", seg))
		require.NoError(t, err)
		return int64(len(got)) >= offset && bytes.Equal(got[:offset], want[:offset])
	}
	// The first partial copy is stored at once; the next one waits for MaxDelay (an hour).
	seg1, off1 := write("first")
	waitFor(t, "the first partial copy", func() bool { return holds(seg1, off1) })
	seg2, off2 := write("last words")
	require.Equal(t, seg1, seg2, "both rows in one segment")
	time.Sleep(2 * time.Second)
	require.False(t, holds(seg2, off2), "MaxDelay is an hour: the second row is not stored yet")

	_, err = db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'pg_receivewal'`)
	require.NoError(t, err)
	start := time.Now()
	waitFor(t, "the partial copy with the last row after the primary went away", func() bool { return holds(seg2, off2) })
	t.Logf("partial copy stored %s after the walsender ended", time.Since(start).Round(time.Millisecond))
	require.Less(t, time.Since(start), 10*time.Second)
}

// The archive trusts only what the server's key signed, at the key it signed it for.
func TestFetchRefusesWhatTheServerDidNotWrite(t *testing.T) {
	pg := requirePG(t)
	rig := startArchiver(t, pg, "test_archive_trust", false)
	db, err := pg.Open("postgres")
	require.NoError(t, err)
	defer db.Close()
	waitFor(t, "pg_receivewal to stream", func() bool { return rig.arch.Status().Running })
	_, err = db.Exec(`CREATE TABLE IF NOT EXISTS walt2 (v text); INSERT INTO walt2 SELECT 'x' FROM generate_series(1, 100)`)
	require.NoError(t, err)
	a := switchWAL(t, db)
	_, err = db.Exec(`INSERT INTO walt2 SELECT 'y' FROM generate_series(1, 100)`)
	require.NoError(t, err)
	b := switchWAL(t, db)
	fa, _ := ParseFile(a)
	fb, _ := ParseFile(b)
	waitFor(t, "both segments", func() bool { return exists(t, rig.store, fa.Key(false)) && exists(t, rig.store, fb.Key(false)) })
	rig.stop(t)

	ctx := context.Background()
	rd := rig.reader()
	sys, err := rd.System(ctx)
	require.NoError(t, err)
	read := func(key string) []byte {
		rc, err := rig.store.Open(ctx, key)
		require.NoError(t, err)
		defer rc.Close()
		var buf bytes.Buffer
		_, err = buf.ReadFrom(rc)
		require.NoError(t, err)
		return buf.Bytes()
	}
	put := func(key string, b []byte) {
		_, err := rig.store.Put(ctx, key, bytes.NewReader(b))
		require.NoError(t, err)
	}
	out := filepath.Join(t.TempDir(), "seg")
	origA, origSigA := read(fa.Key(false)), read(format.SignatureKey(fa.Key(false)))

	other, err := format.GenerateSigningKey()
	require.NoError(t, err)
	plainB, err := encode(make([]byte, sys.WALSegmentSize), 1, nil)
	require.NoError(t, err)

	cases := []struct {
		name   string
		plant  func()
		reason string
	}{
		{"changed byte", func() {
			b := append([]byte(nil), origA...)
			b[len(b)/2] ^= 1
			put(fa.Key(false), b)
		}, "bad signature"},
		{"unsigned", func() {
			require.NoError(t, rig.store.Delete(ctx, format.SignatureKey(fa.Key(false))))
		}, "not signed"},
		{"signed by another key", func() {
			require.NoError(t, format.PutSigned(ctx, rig.store, fa.Key(false), plainB, other))
		}, "not a trusted key"},
		{"another segment's object and signature moved here", func() {
			put(fa.Key(false), read(fb.Key(false)))
			put(format.SignatureKey(fa.Key(false)), read(format.SignatureKey(fb.Key(false))))
		}, "bad signature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			put(fa.Key(false), origA)
			put(format.SignatureKey(fa.Key(false)), origSigA)
			require.NoError(t, rd.Fetch(ctx, sys, a, out, false), "the untouched segment")
			require.NoError(t, os.Remove(out))
			c.plant()
			err := rd.Fetch(ctx, sys, a, out, false)
			require.Error(t, err)
			require.NotErrorIs(t, err, ErrNotArchived, "a planted file must stop recovery, not end it quietly")
			require.Contains(t, err.Error(), c.reason)
			_, statErr := os.Stat(out)
			require.ErrorIs(t, statErr, os.ErrNotExist, "nothing is written for PostgreSQL to replay")
		})
	}
}

// An archive of another cluster is never written into.
func TestArchiverRefusesAnotherClustersArchive(t *testing.T) {
	pg := requirePG(t)
	st, err := local.New(t.TempDir())
	require.NoError(t, err)
	key, err := format.GenerateSigningKey()
	require.NoError(t, err)
	require.NoError(t, format.PutSigned(context.Background(), st, SystemKey, []byte(`{"system_identifier":"123","wal_segment_size":16777216}`), key))
	arch, err := New(Options{DSN: pg.URL("postgres"), ReceiveWAL: filepath.Join(pg.BinDir, "pg_receivewal"), Spool: t.TempDir(),
		Slot: "test_archive_other", Destinations: []Destination{{Name: "local", Store: st}}, SigningKey: key})
	require.NoError(t, err)
	err = arch.Run(context.Background())
	require.ErrorContains(t, err, "another PostgreSQL cluster (system 123")
	db, err := pg.Open("postgres")
	require.NoError(t, err)
	defer db.Close()
	_, _ = db.Exec(`SELECT pg_drop_replication_slot('test_archive_other')`)
}

// Archiving turned off, its slot dropped (as the status advises), the primary writing on,
// then archiving turned on again: the new slot starts now, and what the earlier stream left
// in the spool is set aside, or pg_receivewal would ask for WAL long recycled and fail at
// every restart.
func TestArchiverStartsAgainAfterItsSlotWasDropped(t *testing.T) {
	pg := requirePG(t)
	db, err := pg.Open("postgres")
	require.NoError(t, err)
	defer db.Close()
	spool := t.TempDir()
	withSpool := func(o *Options) { o.Spool = spool }
	const slot = "test_archive_again"
	first := startArchiver(t, pg, slot, false, withSpool)
	waitFor(t, "pg_receivewal to stream", func() bool { return first.arch.Status().Running })
	_, err = db.Exec(`CREATE TABLE IF NOT EXISTS walt_again (v text); INSERT INTO walt_again VALUES ('first stream')`)
	require.NoError(t, err)
	waitFor(t, "a partial segment in the spool", func() bool {
		entries, _ := os.ReadDir(spool)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".partial") {
				return true
			}
		}
		return false
	})
	first.stop(t)
	waitFor(t, "the slot to be dropped", func() bool {
		_, err := db.Exec(`SELECT pg_drop_replication_slot($1)`, slot)
		return err == nil
	})
	// The primary writes on and recycles the WAL the earlier stream stopped in.
	for i := 0; i < 8; i++ {
		_, err = db.Exec(`INSERT INTO walt_again SELECT md5(g::text) FROM generate_series(1, 1000) g`)
		require.NoError(t, err)
		switchWAL(t, db)
	}
	_, err = db.Exec(`CHECKPOINT`)
	require.NoError(t, err)
	_, err = db.Exec(`CHECKPOINT`)
	require.NoError(t, err)

	second := startArchiver(t, pg, slot, false, withSpool)
	waitFor(t, "pg_receivewal to stream again", func() bool { return second.arch.Status().Running })
	_, err = db.Exec(`INSERT INTO walt_again VALUES ('second stream')`)
	require.NoError(t, err)
	f, ok := ParseFile(switchWAL(t, db))
	require.True(t, ok)
	waitFor(t, f.Name+" archived by the new stream", func() bool { return exists(t, second.store, f.Key(false)) })
	require.Empty(t, second.arch.Status().LastError)
	asides, err := filepath.Glob(filepath.Join(spool, "stale-*", "*.partial"))
	require.NoError(t, err)
	require.NotEmpty(t, asides, "the earlier stream's partial segment is kept aside")
}

// A node takes archiving over again after another node archived for a while: the slot exists
// (the other node's stream moved it on), and this node's own spool still holds the partial
// segment of its earlier stream. It is set aside, or pg_receivewal would resume from it.
func TestArchiverTakesOverWithAStaleSpool(t *testing.T) {
	pg := requirePG(t)
	db, err := pg.Open("postgres")
	require.NoError(t, err)
	defer db.Close()
	const slot = "test_archive_takeover"
	spoolA, spoolB := t.TempDir(), t.TempDir()
	nodeA := startArchiver(t, pg, slot, false, func(o *Options) { o.Spool = spoolA })
	waitFor(t, "node A streams", func() bool { return nodeA.arch.Status().Running })
	_, err = db.Exec(`CREATE TABLE IF NOT EXISTS walt_takeover (v text); INSERT INTO walt_takeover VALUES ('node A')`)
	require.NoError(t, err)
	waitFor(t, "a partial segment in node A's spool", func() bool {
		m, _ := filepath.Glob(filepath.Join(spoolA, "*.partial"))
		return len(m) > 0
	})
	nodeA.stop(t)

	nodeB := startArchiver(t, pg, slot, false, func(o *Options) { o.Spool = spoolB })
	waitFor(t, "node B streams", func() bool { return nodeB.arch.Status().Running })
	for i := 0; i < 8; i++ {
		_, err = db.Exec(`INSERT INTO walt_takeover SELECT md5(g::text) FROM generate_series(1, 1000) g`)
		require.NoError(t, err)
		switchWAL(t, db)
	}
	last, ok := ParseFile(switchWAL(t, db))
	require.True(t, ok)
	waitFor(t, "node B archived "+last.Name, func() bool { return exists(t, nodeB.store, last.Key(false)) })
	nodeB.stop(t)
	_, err = db.Exec(`CHECKPOINT`)
	require.NoError(t, err)
	_, err = db.Exec(`CHECKPOINT`)
	require.NoError(t, err)

	again := startArchiver(t, pg, slot, false, func(o *Options) { o.Spool = spoolA })
	waitFor(t, "node A streams again", func() bool { return again.arch.Status().Running })
	f, ok := ParseFile(switchWAL(t, db))
	require.True(t, ok)
	waitFor(t, f.Name+" archived by node A's new stream", func() bool { return exists(t, again.store, f.Key(false)) })
	asides, err := filepath.Glob(filepath.Join(spoolA, "stale-*", "*.partial"))
	require.NoError(t, err)
	require.NotEmpty(t, asides, "node A's earlier partial segment is kept aside")
}
