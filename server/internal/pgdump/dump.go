package pgdump

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
)

const (
	// lockWaitTimeout bounds how long pg_dump and the row counts wait for a
	// table lock (see the package comment for why waiting forever is wrong).
	lockWaitTimeout = time.Minute
	// stderrLimit is how much of pg_dump's stderr is kept for messages.
	stderrLimit = 64 << 10
	// progressInterval throttles Options.Progress.
	progressInterval = 250 * time.Millisecond
	// copyBufferSize is the chunk copied from pg_dump to the writer.
	copyBufferSize = 256 << 10
	// cleanupTimeout bounds ending the transaction and closing the connection.
	cleanupTimeout = 10 * time.Second
)

// archiveMagic starts every pg_dump custom-format archive.
const archiveMagic = "PGDMP"

// Options configures Dump.
type Options struct {
	// DataSource is Mattermost's SqlSettings.DataSource, as a URL
	// (postgres://user:password@host:5432/db?sslmode=disable) or libpq
	// key=value pairs (host=... user=... password=... dbname=...).
	DataSource string
	// PgDumpPath is the pg_dump to run. Empty: the newest one in PATH and
	// /usr/lib/postgresql/*/bin.
	PgDumpPath string
	// Compress is pg_dump's compression level (-Z), 0 to 9. 0, the default,
	// writes the archive uncompressed for the caller to compress.
	Compress int
	// Progress, if set, is called with the number of bytes written so far,
	// at most about four times a second and once at the end. It runs on the
	// copying goroutine and must return quickly.
	Progress func(bytes int64)
	// InSnapshot, if set, runs inside the snapshot transaction, after the row
	// counts, concurrently with pg_dump: what it reads through q sees exactly
	// the data the archive holds (the backup engine lists the file paths the
	// database refers to this way). q is the snapshot transaction; it must not
	// be used after InSnapshot returns. An error fails the dump and stops
	// pg_dump; Dump returns only after both have finished.
	InSnapshot func(ctx context.Context, q Querier) error
}

// Querier runs read-only queries in the dump's snapshot; pgx.Tx implements it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Result describes a finished dump.
type Result struct {
	ServerVersion  string           // the server's version, e.g. "15.18"
	PgDumpVersion  string           // pg_dump's version, e.g. "15.14"
	SchemaVersion  string           // max(version) of Mattermost's db_migrations table; "" without one
	TableRowCounts map[string]int64 // "schema.table" (names as stored, unquoted) → rows, in the dump's snapshot
	Snapshot       string           // the exported snapshot the counts and pg_dump shared
	Bytes          int64            // bytes written to the writer
	Duration       time.Duration
}

// Dump streams a pg_dump --format=custom archive of the database named by
// o.DataSource to w, and counts every table's rows in the same snapshot. w
// receives pg_dump's output as it is produced, so a slow w slows pg_dump
// down rather than filling memory. Canceling ctx kills pg_dump; a Write in
// progress is waited for, so w should itself give up when ctx is done. On
// error the bytes already written to w are not a usable archive.
func Dump(ctx context.Context, w io.Writer, o Options) (*Result, error) {
	start := time.Now()
	if w == nil {
		return nil, errors.New("pgdump: nil writer")
	}
	if o.Compress < 0 || o.Compress > 9 {
		return nil, fmt.Errorf("pg_dump compression level %d is not between 0 and 9", o.Compress)
	}
	ds, err := pgdsn.Parse(o.DataSource)
	if err != nil {
		return nil, err
	}
	cfg, err := ds.ConnConfig(pgdsn.Defaults{})
	if err != nil {
		return nil, err
	}

	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil, canceled(ctx)
		}
		return nil, ds.Errorf(err, "cannot connect to the Mattermost database at %s (database %q, user %q): %v. "+
			"Check SqlSettings.DataSource (%s) and that the database server is running and reachable from this server",
			pgdsn.Target(&cfg.Config), cfg.Database, cfg.User, err, ds.Redacted())
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = conn.Close(cctx)
	}()

	res := &Result{}
	var versionNum, version string
	if err := conn.QueryRow(ctx, "SHOW server_version_num").Scan(&versionNum); err != nil {
		return nil, queryFailed(ctx, "read the server version", err)
	}
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return nil, queryFailed(ctx, "read the server version", err)
	}
	num, err := strconv.Atoi(versionNum)
	if err != nil {
		return nil, fmt.Errorf("unexpected server_version_num %q", versionNum)
	}
	serverMajor := num / 10000
	if f := strings.Fields(version); len(f) > 0 {
		res.ServerVersion = f[0]
	}

	path, pgDumpMajor, pgDumpVersion, err := findPgDump(ctx, o.PgDumpPath)
	if err != nil {
		var nf *notFoundError
		if errors.As(err, &nf) {
			nf.serverMajor = serverMajor
		}
		return nil, err
	}
	res.PgDumpVersion = pgDumpVersion
	if err := CheckCompatible(pgDumpMajor, serverMajor); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}

	// The consistency protocol (see the package comment): export a snapshot,
	// count in it, and keep the exporting transaction (and the ACCESS SHARE
	// locks the counts took) open until pg_dump, which imports the snapshot,
	// has exited.
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, queryFailed(ctx, "begin the snapshot transaction", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = tx.Rollback(cctx) // a no-op once committed
	}()
	// The transaction idles while pg_dump runs, possibly for hours: server
	// or role settings must not end it. SET does not take the snapshot.
	settings := []string{
		"SET LOCAL idle_in_transaction_session_timeout = 0",
		"SET LOCAL statement_timeout = 0",
		fmt.Sprintf("SET LOCAL lock_timeout = %d", lockWaitTimeout.Milliseconds()),
	}
	if serverMajor >= 17 {
		settings = append(settings, "SET LOCAL transaction_timeout = 0")
	}
	for _, s := range settings {
		if _, err := tx.Exec(ctx, s); err != nil {
			return nil, queryFailed(ctx, s, err)
		}
	}
	if err := tx.QueryRow(ctx, "SELECT pg_catalog.pg_export_snapshot()").Scan(&res.Snapshot); err != nil {
		return nil, queryFailed(ctx, "export a snapshot", err)
	}
	if res.TableRowCounts, err = countRows(ctx, tx); err != nil {
		return nil, queryFailed(ctx, "count rows", err)
	}
	if res.SchemaVersion, err = schemaVersion(ctx, tx); err != nil {
		return nil, queryFailed(ctx, "read Mattermost's schema version", err)
	}

	env := ds.Env(os.Environ(), &cfg.Config)
	res.Bytes, err = dumpInSnapshot(ctx, tx, o.InSnapshot, func(ctx context.Context) (int64, error) {
		return runPgDump(ctx, w, o, path, env, res.Snapshot, ds)
	})
	if err != nil {
		return nil, err
	}
	// pg_dump has exited: the snapshot and the locks are no longer needed. A
	// failure here cannot affect the finished archive, whose snapshot pg_dump
	// imported at its start.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	_ = tx.Commit(cctx)
	cancel()
	if ctx.Err() != nil {
		return nil, canceled(ctx)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// dumpInSnapshot runs dump and, concurrently, hook on the snapshot
// transaction (which nothing else uses meanwhile). The first to fail stops the
// other; both have returned when dumpInSnapshot does.
func dumpInSnapshot(ctx context.Context, tx pgx.Tx, hook func(context.Context, Querier) error, dump func(context.Context) (int64, error)) (int64, error) {
	if hook == nil {
		return dump(ctx)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	hookErr := make(chan error, 1)
	go func() {
		err := hook(runCtx, tx)
		if err != nil {
			cancel() // stops pg_dump
		}
		hookErr <- err
	}()
	n, err := dump(runCtx)
	if err != nil {
		cancel() // stops the hook
	}
	herr := <-hookErr
	switch {
	case ctx.Err() != nil:
		return n, canceled(ctx)
	case herr != nil:
		return n, fmt.Errorf("database dump: in the snapshot: %w", herr)
	case err != nil:
		return n, err
	}
	return n, nil
}

func canceled(ctx context.Context) error {
	return fmt.Errorf("database dump canceled: %w", ctx.Err())
}

func queryFailed(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return canceled(ctx)
	}
	return fmt.Errorf("database dump: %s: %w", what, err)
}

// queryer is what countRows and schemaVersion need: a pgx.Tx or pgx.Conn.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// listTables lists the ordinary tables (partitions included, partitioned
// parents, views and foreign tables not) outside the system schemas.
// Extension member tables are left out: their rows come from CREATE
// EXTENSION, not from the dump.
const listTables = `
SELECT n.nspname, c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname <> 'information_schema'
  AND n.nspname !~ '^pg_'
  AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2`

// countRows counts the rows of every table listTables finds, exactly, with
// count(*). Keys are "schema.table", names unquoted.
func countRows(ctx context.Context, q queryer) (map[string]int64, error) {
	rows, err := q.Query(ctx, listTables)
	if err != nil {
		return nil, err
	}
	var tables [][2]string
	for rows.Next() {
		var t [2]string
		if err := rows.Scan(&t[0], &t[1]); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	counts := make(map[string]int64, len(tables))
	for _, t := range tables {
		var n int64
		if err := q.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{t[0], t[1]}.Sanitize()).Scan(&n); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t[0], t[1], err)
		}
		counts[t[0]+"."+t[1]] = n
	}
	return counts, nil
}

// findMigrations finds Mattermost's db_migrations table: the one the
// search_path shows, else the one in public, else the first by schema name.
const findMigrations = `
SELECT n.nspname, c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = 'db_migrations' AND c.relkind IN ('r', 'p')
  AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attname = 'version' AND a.attnum > 0 AND NOT a.attisdropped)
ORDER BY pg_catalog.pg_table_is_visible(c.oid) DESC, n.nspname = 'public' DESC, n.nspname
LIMIT 1`

// schemaVersion is max(version) of db_migrations, "" without the table or rows.
func schemaVersion(ctx context.Context, q queryer) (string, error) {
	var schema, table string
	if err := q.QueryRow(ctx, findMigrations).Scan(&schema, &table); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return "", nil
		}
		return "", err
	}
	var v *string
	if err := q.QueryRow(ctx, "SELECT max(version)::text FROM "+pgx.Identifier{schema, table}.Sanitize()).Scan(&v); err != nil {
		return "", err
	}
	if v == nil {
		return "", nil
	}
	return *v, nil
}

// runPgDump runs pg_dump on the exported snapshot and copies its output to w.
func runPgDump(ctx context.Context, w io.Writer, o Options, path string, env []string, snapshot string, ds *pgdsn.DSN) (int64, error) {
	args := []string{
		"--format=custom",
		"--compress=" + strconv.Itoa(o.Compress),
		"--snapshot=" + snapshot,
		"--no-password", // never prompt: there is no terminal
		"--lock-wait-timeout=" + strconv.FormatInt(lockWaitTimeout.Milliseconds(), 10),
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	// Its own process group, so that killing it kills anything it started;
	// SIGKILL if this process dies. Pdeathsig fires when the thread that
	// started the child exits, so this goroutine keeps its thread until
	// pg_dump has been waited for.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return killGroup(cmd.Process) }
	cmd.WaitDelay = 10 * time.Second
	stderr := &tailBuffer{limit: stderrLimit}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, fmt.Errorf("pg_dump: %w", err)
	}
	if err := cmd.Start(); err != nil {
		if ctx.Err() != nil {
			return 0, canceled(ctx)
		}
		return 0, fmt.Errorf("start %s: %w", path, err)
	}

	n, head, writeErr, readErr := copyOutput(w, stdout, o.Progress)
	if writeErr != nil {
		_ = killGroup(cmd.Process)
	}
	waitErr := cmd.Wait()

	switch {
	case ctx.Err() != nil:
		return n, canceled(ctx)
	case writeErr != nil:
		return n, fmt.Errorf("write the database dump after %d bytes: %w", n, writeErr)
	case waitErr != nil:
		msg := stderr.String()
		if msg == "" {
			msg = "no error output"
		}
		return n, ds.Errorf(waitErr, "%s failed (%v): %s", path, waitErr, msg)
	case readErr != nil:
		return n, fmt.Errorf("read pg_dump's output: %w", readErr)
	case head != archiveMagic:
		return n, fmt.Errorf("%s exited without writing a custom-format archive (%d bytes): %s", path, n, ds.Scrub(stderr.String()))
	}
	return n, nil
}

// copyOutput copies r to w until r ends or w fails, reporting progress. head
// is the first bytes of the stream, to check the archive's magic.
func copyOutput(w io.Writer, r io.Reader, progress func(int64)) (n int64, head string, writeErr, readErr error) {
	buf := make([]byte, copyBufferSize)
	var lastCall time.Time
	var reported int64 = -1
	for {
		m, err := r.Read(buf)
		if m > 0 {
			if len(head) < len(archiveMagic) {
				head += string(buf[:min(m, len(archiveMagic)-len(head))])
			}
			wn, werr := w.Write(buf[:m])
			if wn > 0 {
				n += int64(wn)
			}
			if werr == nil && wn < m {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return n, head, werr, nil
			}
			if progress != nil && time.Since(lastCall) >= progressInterval {
				progress(n)
				lastCall, reported = time.Now(), n
			}
		}
		if err != nil {
			if progress != nil && reported != n {
				progress(n)
			}
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return n, head, nil, err
		}
	}
}

// killGroup kills pg_dump's process group (its group id is its pid).
func killGroup(p *os.Process) error {
	if p == nil {
		return nil
	}
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	return nil
}

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	limit   int
	buf     []byte
	dropped bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.limit {
		t.buf = append(t.buf[:0], p[len(p)-t.limit:]...)
		t.dropped = true
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.limit; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.dropped = true
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) String() string {
	s := strings.TrimSpace(string(t.buf))
	if t.dropped {
		s = "[...] " + s
	}
	return s
}
