package pgdump

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
)

// populate creates the test schema: two schemas, a mixed-case quoted table
// name, an empty table, a view, and Mattermost's db_migrations.
func populate(t *testing.T, conn *pgx.Conn) map[string]int64 {
	t.Helper()
	mustExec(t, conn,
		`CREATE SCHEMA extra`,
		`CREATE TABLE public.users (id serial PRIMARY KEY, name text NOT NULL)`,
		`CREATE TABLE public.posts (id bigserial PRIMARY KEY, user_id int REFERENCES public.users(id), message text)`,
		`CREATE TABLE public."ChannelMembers" ("ChannelId" text, "UserId" text)`,
		`CREATE TABLE public.empty_things (id int)`,
		`CREATE TABLE extra.audit_log (id bigserial PRIMARY KEY, at timestamptz DEFAULT now(), what text)`,
		`CREATE TABLE extra."Odd Name" (v int)`,
		`CREATE TABLE public.db_migrations (version bigint PRIMARY KEY, name varchar NOT NULL)`,
		`CREATE VIEW public.v_users AS SELECT * FROM public.users`,
		`INSERT INTO public.db_migrations SELECT g, 'migration_' || g FROM generate_series(1, 130) g`,
		`INSERT INTO public.users (name) SELECT 'user' || g FROM generate_series(1, 50) g`,
		`INSERT INTO public.posts (user_id, message) SELECT 1 + g % 50, repeat('hello ', 10) FROM generate_series(1, 1000) g`,
		`INSERT INTO public."ChannelMembers" SELECT 'c' || g, 'u' || g FROM generate_series(1, 7) g`,
		`INSERT INTO extra.audit_log (what) SELECT 'a' || g FROM generate_series(1, 33) g`,
		`INSERT INTO extra."Odd Name" VALUES (1), (2)`,
	)
	return map[string]int64{
		"public.users": 50, "public.posts": 1000, "public.ChannelMembers": 7, "public.empty_things": 0,
		"extra.audit_log": 33, "extra.Odd Name": 2, "public.db_migrations": 130,
	}
}

func TestDumpAndRestore(t *testing.T) {
	requirePG(t)
	_, url := createDB(t, "basic")
	want := populate(t, connect(t, url))

	archive := filepath.Join(t.TempDir(), "db.dump")
	f, err := os.Create(archive)
	require.NoError(t, err)
	var progress []int64
	start := time.Now()
	res, err := Dump(context.Background(), f, Options{
		DataSource: url + "&connect_timeout=10&binary_parameters=yes",
		Progress:   func(n int64) { progress = append(progress, n) },
	})
	require.NoError(t, err)
	require.NoError(t, f.Close())
	t.Logf("dumped %d bytes in %s (pg_dump %s, server %s, snapshot %s)", res.Bytes, time.Since(start), res.PgDumpVersion, res.ServerVersion, res.Snapshot)

	assert.Equal(t, want, res.TableRowCounts)
	assert.Equal(t, "130", res.SchemaVersion)
	assert.True(t, strings.HasPrefix(res.ServerVersion, "15."), res.ServerVersion)
	assert.Regexp(t, `^\d+\.\d+`, res.PgDumpVersion)
	assert.NotEmpty(t, res.Snapshot)
	assert.Positive(t, res.Duration)
	fi, err := os.Stat(archive)
	require.NoError(t, err)
	assert.Equal(t, fi.Size(), res.Bytes)
	require.NotEmpty(t, progress)
	assert.Equal(t, res.Bytes, progress[len(progress)-1], "the last progress call reports the total")

	list, err := exec.Command(clientTool(t, "pg_restore"), "--list", archive).CombinedOutput()
	require.NoError(t, err, "pg_restore --list: %s", list)
	for _, entry := range []string{"TABLE DATA public ChannelMembers", "TABLE DATA extra audit_log", "TABLE DATA extra Odd Name",
		"TABLE DATA public empty_things", "VIEW public v_users"} {
		assert.Contains(t, string(list), entry)
	}

	assert.Equal(t, res.TableRowCounts, restoreCounts(t, archive))
}

func TestDumpCompressed(t *testing.T) {
	requirePG(t)
	_, url := createDB(t, "compressed")
	populate(t, connect(t, url))
	var plain, gz countingWriter
	_, err := Dump(context.Background(), &plain, Options{DataSource: url})
	require.NoError(t, err)
	_, err = Dump(context.Background(), &gz, Options{DataSource: url, Compress: 6})
	require.NoError(t, err)
	assert.Less(t, gz.n.Load(), plain.n.Load())

	_, err = Dump(context.Background(), &gz, Options{DataSource: url, Compress: 10})
	assert.ErrorContains(t, err, "compression level 10")
}

// slowWriter makes pg_dump wait: it sleeps perByte for every byte.
type slowWriter struct {
	perByte time.Duration
	n       atomic.Int64
	onWrite func(calls int)
	calls   int
	file    *os.File
}

func (w *slowWriter) Write(p []byte) (int, error) {
	w.calls++
	if w.onWrite != nil {
		w.onWrite(w.calls)
	}
	time.Sleep(time.Duration(len(p)) * w.perByte)
	w.n.Add(int64(len(p)))
	if w.file != nil {
		return w.file.Write(p)
	}
	return len(p), nil
}

type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// addFiller adds about mb MiB of rows, so that the archive is much bigger
// than a pipe's buffer and a slow writer really slows pg_dump down.
func addFiller(t *testing.T, conn *pgx.Conn, mb int) {
	t.Helper()
	mustExec(t, conn,
		`CREATE TABLE public.filler (id int, body text)`,
		fmt.Sprintf(`INSERT INTO public.filler SELECT g, lpad(g::text, 200, 'abcdefghij') FROM generate_series(1, %d) g`, mb*5000),
	)
}

func TestDumpSnapshotConsistency(t *testing.T) {
	requirePG(t)
	_, url := createDB(t, "consistency")
	conn := connect(t, url)
	populate(t, conn)
	addFiller(t, conn, 4)

	// Rows go in continuously, each transaction into three tables, from
	// before the dump starts until after it ends.
	ins := connect(t, url)
	var inserted atomic.Int64
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			_, err := ins.Exec(context.Background(), `
				INSERT INTO public.posts (user_id, message) VALUES (1, 'during the dump');
				INSERT INTO extra.audit_log (what) VALUES ('during the dump');
				INSERT INTO public."ChannelMembers" VALUES ('c', 'u')`)
			if err != nil {
				done <- err
				return
			}
			inserted.Add(1)
		}
	}()
	for inserted.Load() < 20 {
		time.Sleep(10 * time.Millisecond)
	}

	archive := filepath.Join(t.TempDir(), "db.dump")
	f, err := os.Create(archive)
	require.NoError(t, err)
	defer f.Close()
	var atFirstWrite int64
	w := &slowWriter{perByte: 500 * time.Nanosecond, file: f, onWrite: func(calls int) {
		if calls == 1 {
			atFirstWrite = inserted.Load()
		}
	}}
	res, err := Dump(context.Background(), w, Options{DataSource: url})
	atEnd := inserted.Load()
	close(stop)
	require.NoError(t, <-done)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	t.Logf("pg_dump ran %s for %d bytes; %d transactions committed while it wrote", res.Duration, res.Bytes, atEnd-atFirstWrite)
	assert.Greater(t, res.Duration, time.Second, "the slow writer kept pg_dump running")
	assert.Greater(t, atEnd-atFirstWrite, int64(10), "rows went in while pg_dump was running")

	live, err := countRows(context.Background(), conn)
	require.NoError(t, err)
	assert.Greater(t, live["public.posts"], res.TableRowCounts["public.posts"], "rows committed after the snapshot are not counted")

	restored := restoreCounts(t, archive)
	assert.Equal(t, res.TableRowCounts, restored, "the dump and the counts share one snapshot")
	assert.Equal(t, restored["public.posts"]-1000, restored["extra.audit_log"]-33, "each transaction is all in or all out")
}

// scramRole creates a role that must log in with a password over TCP.
func scramRole(t *testing.T, role, password string) {
	t.Helper()
	ctx := context.Background()
	admin := connect(t, testPG.URL("postgres"))
	mustExec(t, admin, `CREATE ROLE `+role+` LOGIN PASSWORD '`+password+`'`)
	t.Cleanup(func() { _, _ = admin.Exec(ctx, `DROP ROLE IF EXISTS `+role) })

	hba := filepath.Join(testPG.Dir, "pg_hba.conf")
	orig, err := os.ReadFile(hba)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(hba, append([]byte("host all "+role+" 127.0.0.1/32 scram-sha-256\n"), orig...), 0o600))
	t.Cleanup(func() {
		_ = os.WriteFile(hba, orig, 0o600)
		_, _ = admin.Exec(ctx, `SELECT pg_reload_conf()`)
	})
	mustExec(t, admin, `SELECT pg_reload_conf()`)
	// The reload is asynchronous: wait until a wrong password is refused.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:wrong@127.0.0.1:%d/postgres?sslmode=disable", role, testPG.Port))
		if err != nil {
			return
		}
		_ = c.Close(ctx)
		require.True(t, time.Now().Before(deadline), "pg_hba.conf reload not applied")
		time.Sleep(50 * time.Millisecond)
	}
}

// special is a password with every character a URL must escape.
const special = `p@ss:w/rd%`

func TestDumpWithPassword(t *testing.T) {
	requirePG(t)
	role := "mm_pw_user"
	scramRole(t, role, special)
	name, url := createDB(t, "password")
	conn := connect(t, url)
	want := populate(t, conn)
	mustExec(t, conn, `GRANT USAGE ON SCHEMA extra TO `+role,
		`GRANT SELECT ON ALL TABLES IN SCHEMA public, extra TO `+role,
		`GRANT SELECT ON ALL SEQUENCES IN SCHEMA public, extra TO `+role)

	for _, dsn := range []string{
		fmt.Sprintf("postgres://%s:p%%40ss%%3Aw%%2Frd%%25@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=10&binary_parameters=yes", role, testPG.Port, name),
		fmt.Sprintf("host=127.0.0.1 port=%d user=%s password='p@ss:w/rd%%' dbname=%s sslmode=disable", testPG.Port, role, name),
	} {
		t.Run(pgdsn.Redact(dsn), func(t *testing.T) {
			var out countingWriter
			res, err := Dump(context.Background(), &out, Options{DataSource: dsn})
			require.NoError(t, err, "pg_dump got the password from its environment")
			assert.Equal(t, want, res.TableRowCounts)
			assert.Equal(t, res.Bytes, out.n.Load())
		})
	}

	wrong := fmt.Sprintf("postgres://%s:Wr0ng-s3cret@127.0.0.1:%d/%s?sslmode=disable", role, testPG.Port, name)
	_, err := Dump(context.Background(), discard{}, Options{DataSource: wrong})
	require.Error(t, err)
	t.Log(err)
	assert.Contains(t, err.Error(), "password authentication failed")
	assert.Contains(t, err.Error(), "SqlSettings.DataSource")
	assert.NotContains(t, err.Error(), "Wr0ng-s3cret")
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

func TestDumpUnreachable(t *testing.T) {
	port := closedPort(t)
	for _, dsn := range []string{
		fmt.Sprintf("postgres://mmuser:S3cr3t%%40pw%%2F@127.0.0.1:%d/mattermost?sslmode=disable&connect_timeout=5", port),
		fmt.Sprintf("host=127.0.0.1 port=%d user=mmuser password='S3cr3t@pw/' dbname=mattermost sslmode=disable", port),
	} {
		start := time.Now()
		_, err := Dump(context.Background(), discard{}, Options{DataSource: dsn})
		require.Error(t, err)
		t.Logf("%s: %v", time.Since(start), err)
		msg := err.Error()
		assert.Contains(t, msg, fmt.Sprintf("127.0.0.1:%d", port))
		assert.Contains(t, msg, "Check SqlSettings.DataSource")
		assert.Contains(t, msg, "mmuser")
		assert.Contains(t, msg, "xxxxx", "the DataSource is quoted, redacted")
		assert.NotContains(t, msg, "S3cr3t")
		assert.Less(t, time.Since(start), 10*time.Second)
	}
}

func TestDumpBadDataSource(t *testing.T) {
	_, err := Dump(context.Background(), discard{}, Options{DataSource: "mysql://mmuser:S3cr3t@tcp(db:3306)/mattermost"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "S3cr3t")
	assert.Contains(t, err.Error(), "only PostgreSQL")
}

func TestDumpCancel(t *testing.T) {
	requirePG(t)
	name, url := createDB(t, "cancel")
	addFiller(t, connect(t, url), 4)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var canceledAt time.Time
	w := &slowWriter{perByte: 500 * time.Nanosecond, onWrite: func(calls int) {
		if calls == 3 {
			canceledAt = time.Now()
			cancel()
		}
	}}
	res, err := Dump(ctx, w, Options{DataSource: url})
	took := time.Since(canceledAt)
	require.Error(t, err)
	assert.Nil(t, res)
	assert.ErrorIs(t, err, context.Canceled)
	t.Logf("returned %s after the cancel: %v", took, err)
	assert.Less(t, took, 5*time.Second)
	assert.Empty(t, pgDumpChildren(t), "pg_dump was killed and reaped")
	waitNoPgDumpBackend(t, name)
}

var errDiskFull = errors.New("disk full")

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n++
	if w.n == 2 {
		return 0, errDiskFull
	}
	return len(p), nil
}

func TestDumpWriterFails(t *testing.T) {
	requirePG(t)
	name, url := createDB(t, "writerfails")
	addFiller(t, connect(t, url), 2)
	start := time.Now()
	_, err := Dump(context.Background(), &failingWriter{}, Options{DataSource: url})
	require.ErrorIs(t, err, errDiskFull)
	t.Logf("%s: %v", time.Since(start), err)
	assert.Empty(t, pgDumpChildren(t))
	waitNoPgDumpBackend(t, name)
}

func TestDumpPgDumpFails(t *testing.T) {
	requirePG(t)
	name, _ := createDB(t, "fails")
	dir := t.TempDir()
	// The fake records its arguments and environment, then fails the way
	// pg_dump does, quoting the password to check that it is redacted.
	fake := fakePgDump(t, "15.99", fmt.Sprintf(`printf '%%s\n' "$@" > %s/args
env > %s/env
echo "pg_dump: error: query failed: something broke (password $PGPASSWORD)" >&2
exit 1`, dir, dir))
	dsn := fmt.Sprintf("postgres://postgres:Sup3r%%20S3cret%%21@127.0.0.1:%d/%s?sslmode=disable&binary_parameters=yes&connect_timeout=7", testPG.Port, name)
	_, err := Dump(context.Background(), discard{}, Options{DataSource: dsn, PgDumpPath: fake})
	require.Error(t, err)
	t.Log(err)
	assert.Contains(t, err.Error(), "exit status 1")
	assert.Contains(t, err.Error(), "something broke (password xxxxx)")
	assert.NotContains(t, err.Error(), "S3cret")

	args, err := os.ReadFile(filepath.Join(dir, "args"))
	require.NoError(t, err)
	assert.NotContains(t, string(args), "S3cret", "no password on the command line")
	assert.Regexp(t, `(?m)^--snapshot=\S+$`, string(args))
	assert.Contains(t, string(args), "--format=custom\n")
	assert.Contains(t, string(args), "--compress=0\n")

	envb, err := os.ReadFile(filepath.Join(dir, "env"))
	require.NoError(t, err)
	env := string(envb)
	for _, kv := range []string{"PGPASSWORD=Sup3r S3cret!", "PGHOST=127.0.0.1", "PGPORT=" + strconv.Itoa(testPG.Port),
		"PGUSER=postgres", "PGDATABASE=" + name, "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=7"} {
		assert.Contains(t, env, kv+"\n")
	}
	assert.NotContains(t, env, "binary_parameters")
}

func TestDumpNotAnArchive(t *testing.T) {
	requirePG(t)
	_, url := createDB(t, "notarchive")
	fake := fakePgDump(t, "15.99", "echo 'this is not an archive'")
	_, err := Dump(context.Background(), discard{}, Options{DataSource: url, PgDumpPath: fake})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "without writing a custom-format archive")
}

// heapWriter counts bytes and samples the Go heap every few writes.
type heapWriter struct {
	n, calls int64
	maxHeap  uint64
}

func (w *heapWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	w.calls++
	if w.calls%16 == 1 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.maxHeap = max(w.maxHeap, ms.HeapAlloc)
	}
	return len(p), nil
}

func TestDumpMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the 200 MB dump in -short mode")
	}
	requirePG(t)
	_, url := createDB(t, "memory")
	conn := connect(t, url)
	start := time.Now()
	const rows int64 = 1_000_000
	mustExec(t, conn, `CREATE TABLE big (id int, body text)`,
		fmt.Sprintf(`INSERT INTO big SELECT g, lpad(g::text, 200, 'abcdefghij') FROM generate_series(1, %d) g`, rows))
	t.Logf("generated %d rows in %s", rows, time.Since(start))

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	w := &heapWriter{}
	calls := 0
	res, err := Dump(context.Background(), w, Options{DataSource: url, Progress: func(int64) { calls++ }})
	require.NoError(t, err)
	growth := int64(w.maxHeap) - int64(base)
	t.Logf("dumped %d MB in %s (%.0f MB/s), heap %d MiB at start, growth %d KiB, %d progress calls",
		res.Bytes>>20, res.Duration, float64(res.Bytes)/1e6/res.Duration.Seconds(), base>>20, growth>>10, calls)
	assert.Equal(t, rows, res.TableRowCounts["public.big"])
	assert.Equal(t, w.n, res.Bytes)
	assert.Greater(t, res.Bytes, int64(200<<20))
	assert.Less(t, growth, int64(32<<20), "the dump is streamed, not buffered")
	assert.LessOrEqual(t, calls, int(res.Duration/progressInterval)+2, "progress is throttled")
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{limit: 10}
	_, _ = b.Write([]byte("hello"))
	assert.Equal(t, "hello", b.String())
	_, _ = b.Write([]byte(" world"))
	assert.Equal(t, "[...] ello world", b.String())
	_, _ = b.Write([]byte("0123456789abcdef"))
	assert.Equal(t, "[...] 6789abcdef", b.String())
	assert.Len(t, b.buf, 10)
}
