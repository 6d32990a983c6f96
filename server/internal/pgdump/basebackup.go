package pgdump

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
)

// BaseOptions configures BaseBackup.
type BaseOptions struct {
	// DataSource is Mattermost's SqlSettings.DataSource (see Options.DataSource). Its user must
	// have the REPLICATION attribute (or be a superuser) and pg_hba.conf must let it open a
	// replication connection.
	DataSource string
	// PgDumpPath is the pg_dump setting (see Options.PgDumpPath): pg_basebackup is the one in
	// the same folder, from the same client package.
	PgDumpPath string
	// Label is pg_basebackup's --label, shown in pg_stat_progress_basebackup and backup_label.
	Label string
	// Progress, if set, is called with the number of bytes written so far, as Options.Progress.
	Progress func(bytes int64)
}

// BaseResult describes a finished base backup: what a point-in-time recovery needs to know
// of it.
type BaseResult struct {
	ServerVersion       string // the server's version, e.g. "15.18"
	PgBasebackupVersion string // pg_basebackup's version, e.g. "15.14"
	SystemID            string // pg_control_system().system_identifier, decimal
	Timeline            uint32 // START TIMELINE of backup_label
	StartLSN, EndLSN    string // "0/2000028": backup_label's start and the backup manifest's WAL range end
	StartWAL, EndWAL    string // the first and last WAL segment file a restore must replay
	WALSegmentSize      int64  // bytes
	Bytes               int64  // tar bytes written to the writer
	Duration            time.Duration
}

// tarInfo is what readTar found in the tar.
type tarInfo struct {
	startLSN, labelSegment string // backup_label's START WAL LOCATION and the segment it names
	timeline               uint32 // backup_label's START TIMELINE
	rangeStart, rangeEnd   string // backup_manifest's WAL ranges: the first's start, the last's end
	endTimeline            uint32 // the last range's timeline
	label, manifest        bool   // found
}

// Errors a base backup fails with when the server is not set up for one; each is wrapped by
// an error saying exactly what to change.
var (
	ErrNoReplicationRole = errors.New("the database user lacks the REPLICATION attribute")
	ErrNoReplicationHBA  = errors.New("pg_hba.conf does not allow the replication connection")
	ErrNoWALSender       = errors.New("no WAL sender is free (max_wal_senders)")
	ErrTablespaces       = errors.New("the cluster has tablespaces")
	ErrWALLevel          = errors.New("wal_level is minimal")
)

// BaseBackup streams `pg_basebackup -D - -Ft -X none` (a tar of the whole cluster, written
// to stdout, without WAL: the WAL archive supplies it) to w, and reads from the tar as it
// passes what a point-in-time recovery needs: the start LSN and timeline (backup_label) and
// the end LSN (the WAL range of backup_manifest, which pg_basebackup appends to a tar written
// to stdout). Those come from the backup itself rather than from pg_basebackup -v's messages,
// which are translated and, with -X none, do not print the WAL positions at all.
//
// Nothing is buffered beyond a copy buffer; canceling ctx or a failing w kills pg_basebackup.
// The connection settings and the password reach pg_basebackup in PG* variables, never on
// its command line. On error the bytes already written to w are not a usable backup.
func BaseBackup(ctx context.Context, w io.Writer, o BaseOptions) (*BaseResult, error) {
	start := time.Now()
	if w == nil {
		return nil, errors.New("pg_basebackup: nil writer")
	}
	ds, err := pgdsn.Parse(o.DataSource)
	if err != nil {
		return nil, err
	}
	cfg, err := ds.ConnConfig(pgdsn.Defaults{})
	if err != nil {
		return nil, err
	}
	res, serverMajor, err := inspectForBase(ctx, ds, cfg)
	if err != nil {
		return nil, err
	}
	path, major, version, err := findBeside(ctx, o.PgDumpPath, "pg_basebackup")
	if err != nil {
		var nf *notFoundError
		if errors.As(err, &nf) {
			nf.serverMajor = serverMajor
		}
		return nil, err
	}
	res.PgBasebackupVersion = version
	if major < serverMajor {
		// ErrPgDumpTooOld: the same client package is too old, and the same fix applies.
		return nil, fmt.Errorf("%s: %w: pg_basebackup %d cannot back up a PostgreSQL %d server (it must be of the server's major version or newer); %s "+
			"(pg_basebackup is taken from that pg_dump's folder)", path, ErrPgDumpTooOld, major, serverMajor, installHint(serverMajor))
	}

	env := ds.Env(os.Environ(), &cfg.Config)
	// English messages from pg_basebackup itself, so that failures can be told apart below.
	env = append(withoutVars(env, "LC_ALL", "LC_MESSAGES", "LANGUAGE"), "LC_ALL=C")
	info, err := runBaseBackup(ctx, w, o, path, env, ds, cfg.User, res)
	if err != nil {
		return nil, err
	}
	if err := res.fill(info); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// inspectForBase reads the server's version, system identifier and WAL segment size, and
// checks what can be checked before pg_basebackup connects (its own errors are translated
// into the server's language and less precise).
func inspectForBase(ctx context.Context, ds *pgdsn.DSN, cfg *pgx.ConnConfig) (*BaseResult, int, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, baseCanceled(ctx)
		}
		return nil, 0, ds.Errorf(err, "base backup: cannot connect to the Mattermost database at %s (database %q, user %q): %v. "+
			"Check SqlSettings.DataSource (%s) and that the database server is running and reachable from this server",
			pgdsn.Target(&cfg.Config), cfg.Database, cfg.User, err, ds.Redacted())
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	q := func(what, sql string, dest ...any) error {
		if err := conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
			if ctx.Err() != nil {
				return baseCanceled(ctx)
			}
			return fmt.Errorf("base backup: %s: %w", what, err)
		}
		return nil
	}
	res := &BaseResult{}
	var versionNum, version, walLevel, user string
	var canReplicate bool
	var spaces []string
	if err := q("read the server version", "SELECT current_setting('server_version_num'), current_setting('server_version')", &versionNum, &version); err != nil {
		return nil, 0, err
	}
	num, err := strconv.Atoi(versionNum)
	if err != nil {
		return nil, 0, fmt.Errorf("unexpected server_version_num %q", versionNum)
	}
	serverMajor := num / 10000
	if f := strings.Fields(version); len(f) > 0 {
		res.ServerVersion = f[0]
	}
	if err := q("read the system identifier", "SELECT system_identifier::text FROM pg_catalog.pg_control_system()", &res.SystemID); err != nil {
		return nil, 0, err
	}
	if err := q("read wal_segment_size", "SELECT pg_catalog.pg_size_bytes(pg_catalog.current_setting('wal_segment_size'))", &res.WALSegmentSize); err != nil {
		return nil, 0, err
	}
	if err := q("read wal_level", "SELECT pg_catalog.current_setting('wal_level')", &walLevel); err != nil {
		return nil, 0, err
	}
	if err := q("read the user's attributes", "SELECT current_user::text, rolsuper OR rolreplication FROM pg_catalog.pg_roles WHERE rolname = current_user", &user, &canReplicate); err != nil {
		return nil, 0, err
	}
	if err := q("list the tablespaces", "SELECT COALESCE(array_agg(spcname::text ORDER BY spcname), '{}') FROM pg_catalog.pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global')", &spaces); err != nil {
		return nil, 0, err
	}
	switch {
	case walLevel == "minimal":
		return nil, 0, walLevelError()
	case !canReplicate:
		return nil, 0, replicationRoleError(user, "")
	case len(spaces) > 0:
		return nil, 0, tablespaceError(spaces)
	}
	return res, serverMajor, nil
}

// runBaseBackup runs pg_basebackup, copies its tar to w and reads the WAL positions from it.
func runBaseBackup(ctx context.Context, w io.Writer, o BaseOptions, path string, env []string, ds *pgdsn.DSN, user string, res *BaseResult) (*tarInfo, error) {
	label := o.Label
	if label == "" {
		label = pgdsn.DefaultAppName
	}
	// --no-sync is not passed: it only applies to files pg_basebackup writes, and it writes
	// none. The backup manifest is kept (the default): pg_basebackup appends it to the tar,
	// pg_verifybackup checks a restored folder against it, and its WAL range gives the end LSN.
	args := []string{
		"--pgdata=-", "--format=tar", // the tar on stdout: one stream, no file on this server
		"--wal-method=none", // the WAL archive holds the WAL (a tar on stdout cannot stream it anyway)
		"--checkpoint=fast", // start now rather than at the next scheduled checkpoint
		"--no-password",     // never prompt: there is no terminal
		"--verbose",         // its progress lines end up in the error of a failed run
		"--label=" + label,  // shown in pg_stat_progress_basebackup and backup_label
	}
	cmd := exec.CommandContext(ctx, path, args...) //nolint:gosec // the admin's PostgreSQL client
	cmd.Env = env
	runtime.LockOSThread() // Pdeathsig fires when the starting thread exits: keep it until Wait
	defer runtime.UnlockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return killGroup(cmd.Process) }
	cmd.WaitDelay = 10 * time.Second
	stderr := &tailBuffer{limit: stderrLimit}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("pg_basebackup: %w", err)
	}
	if err := cmd.Start(); err != nil {
		if ctx.Err() != nil {
			return nil, baseCanceled(ctx)
		}
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	cw := &baseWriter{w: w, progress: o.Progress}
	info := &tarInfo{}
	parseErr := info.readTar(io.TeeReader(stdout, cw))
	if parseErr != nil || cw.err != nil {
		_ = killGroup(cmd.Process)
	}
	waitErr := cmd.Wait()
	cw.report()
	res.Bytes = cw.n
	switch {
	case ctx.Err() != nil:
		return nil, baseCanceled(ctx)
	case cw.err != nil:
		return nil, fmt.Errorf("write the base backup after %d bytes: %w", cw.n, cw.err)
	case waitErr != nil:
		return nil, baseBackupFailed(ds, path, user, waitErr, stderr.String())
	case parseErr != nil:
		return nil, fmt.Errorf("read %s's tar after %d bytes: %w", path, cw.n, parseErr)
	}
	return info, nil
}

// baseWriter counts what reaches w and keeps w's error apart from the reader's.
type baseWriter struct {
	w        io.Writer
	n        int64
	err      error
	progress func(int64)
	last     time.Time
	reported int64
}

func (c *baseWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		c.err = err
		return n, err
	}
	if c.progress != nil && time.Since(c.last) >= progressInterval {
		c.progress(c.n)
		c.last, c.reported = time.Now(), c.n
	}
	return n, nil
}

func (c *baseWriter) report() {
	if c.progress != nil && c.reported != c.n {
		c.progress(c.n)
	}
}

// writeOnly hides io.Discard's ReadFrom, so that io.CopyBuffer uses the large buffer: each
// read is one write to the sink behind the tee.
type writeOnly struct{}

func (writeOnly) Write(p []byte) (int, error) { return len(p), nil }

// Limits on what is read from the tar: backup_label is a few hundred bytes; a manifest line
// holds one path.
const (
	labelLimit        = 64 << 10
	manifestLineLimit = 1 << 20
)

// readTar reads pg_basebackup's tar through to its end (and whatever follows the end
// blocks), taking backup_label and the WAL range of backup_manifest as they pass. r is the
// tee that hands every byte on to the writer.
func (t *tarInfo) readTar(r io.Reader) error {
	buf := make([]byte, copyBufferSize)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "backup_label":
			b, err := io.ReadAll(io.LimitReader(tr, labelLimit))
			if err != nil {
				return fmt.Errorf("backup_label: %w", err)
			}
			if err := t.parseLabel(string(b)); err != nil {
				return err
			}
		case "backup_manifest":
			if err := t.parseManifest(tr); err != nil {
				return err
			}
		}
		//nolint:gosec // G110: no decompression here: pg_basebackup's tar passing through the tee
		if _, err := io.CopyBuffer(writeOnly{}, tr, buf); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	_, err := io.CopyBuffer(writeOnly{}, r, buf)
	return err
}

var (
	labelStartRE    = regexp.MustCompile(`(?m)^START WAL LOCATION: ([0-9A-F]+/[0-9A-F]+) \(file ([0-9A-F]{24})\)$`)
	labelTimelineRE = regexp.MustCompile(`(?m)^START TIMELINE: (\d+)$`)
	manifestRangeRE = regexp.MustCompile(`"Timeline":\s*(\d+),\s*"Start-LSN":\s*"([0-9A-F]+/[0-9A-F]+)",\s*"End-LSN":\s*"([0-9A-F]+/[0-9A-F]+)"`)
)

func (t *tarInfo) parseLabel(label string) error {
	m := labelStartRE.FindStringSubmatch(label)
	tl := labelTimelineRE.FindStringSubmatch(label)
	if m == nil || tl == nil {
		return fmt.Errorf("backup_label has no START WAL LOCATION or START TIMELINE: %q", label)
	}
	tli, err := strconv.ParseUint(tl[1], 10, 32)
	if err != nil {
		return fmt.Errorf("backup_label: START TIMELINE %q: %w", tl[1], err)
	}
	t.startLSN, t.labelSegment, t.timeline, t.label = m[1], m[2], uint32(tli), true
	return nil
}

// parseManifest scans backup_manifest line by line (pg_basebackup writes one file per line,
// and the WAL ranges last) for its WAL ranges: the end LSN is the last range's.
func (t *tarInfo) parseManifest(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), manifestLineLimit)
	for sc.Scan() {
		m := manifestRangeRE.FindSubmatch(sc.Bytes())
		if m == nil {
			continue
		}
		tli, err := strconv.ParseUint(string(m[1]), 10, 32)
		if err != nil {
			return fmt.Errorf("backup_manifest: timeline %q: %w", m[1], err)
		}
		if !t.manifest {
			t.rangeStart = string(m[2])
		}
		t.rangeEnd, t.endTimeline, t.manifest = string(m[3]), uint32(tli), true
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("backup_manifest: %w", err)
	}
	return nil
}

// fill checks what the tar said, takes the WAL positions from it and names the WAL segments.
func (res *BaseResult) fill(t *tarInfo) error {
	switch {
	case !t.label:
		return errors.New("its tar holds no backup_label: not a base backup")
	case !t.manifest:
		return errors.New("its tar holds no backup_manifest with a WAL range")
	case t.rangeStart != t.startLSN:
		return fmt.Errorf("backup_label starts at %s, backup_manifest's WAL range at %s", t.startLSN, t.rangeStart)
	}
	res.Timeline, res.StartLSN, res.EndLSN = t.timeline, t.startLSN, t.rangeEnd
	start, err := ParseLSN(res.StartLSN)
	if err != nil {
		return err
	}
	end, err := ParseLSN(res.EndLSN)
	if err != nil {
		return err
	}
	if end < start {
		return fmt.Errorf("the backup ends at %s, before its start %s", res.EndLSN, res.StartLSN)
	}
	if res.StartWAL, err = WALFileName(res.Timeline, start, res.WALSegmentSize, false); err != nil {
		return err
	}
	if res.StartWAL != t.labelSegment {
		return fmt.Errorf("backup_label names the start segment %s, not %s as wal_segment_size %d gives", t.labelSegment, res.StartWAL, res.WALSegmentSize)
	}
	// A backup taken on a standby across a timeline switch ends on a later timeline.
	res.EndWAL, err = WALFileName(t.endTimeline, end, res.WALSegmentSize, true)
	return err
}

// ParseLSN parses a PostgreSQL LSN, "16/B374D848".
func ParseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%q is not an LSN (like 0/2000028)", s)
	}
	return h<<32 | l, nil
}

// WALFileName is the name of the WAL segment file holding lsn on timeline tli, as
// PostgreSQL's XLogFileName: timeline, then the segment number split into the "log" and
// "segment" halves, 8 hex digits each. prev names the segment holding the byte before lsn
// (XLByteToPrevSeg): an end position at a segment boundary needs only the previous one.
func WALFileName(tli uint32, lsn uint64, segSize int64, prev bool) (string, error) {
	if segSize <= 0 || segSize&(segSize-1) != 0 || segSize > 1<<30 {
		return "", fmt.Errorf("wal_segment_size %d is not a power of two up to 1 GB", segSize)
	}
	if prev {
		if lsn == 0 {
			return "", errors.New("no WAL segment precedes LSN 0/0")
		}
		lsn--
	}
	seg := lsn / uint64(segSize)
	perID := uint64(1<<32) / uint64(segSize)
	return fmt.Sprintf("%08X%08X%08X", tli, seg/perID, seg%perID), nil
}

// findBeside finds client program name in the folder of the pg_dump that pgDumpPath selects
// (see FindPgDump): the same client package, of the same version.
func findBeside(ctx context.Context, pgDumpPath, name string) (path string, major int, version string, err error) {
	dump, _, _, err := findPgDump(ctx, pgDumpPath)
	if err != nil {
		var nf *notFoundError
		if errors.As(err, &nf) {
			return "", 0, "", &notFoundError{looked: nf.looked + "; " + name + " is taken from pg_dump's folder"}
		}
		return "", 0, "", err
	}
	path = filepath.Join(filepath.Dir(dump), name)
	if _, err := os.Stat(path); err != nil {
		return "", 0, "", &notFoundError{looked: fmt.Sprintf("%s is not beside %s", name, dump)}
	}
	version, major, err = pgDumpVersion(ctx, path)
	if err != nil {
		return "", 0, "", fmt.Errorf("%s is not a working %s: %w; %s", path, name, err, installHint(0))
	}
	return path, major, version, nil
}

func withoutVars(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || name == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

func baseCanceled(ctx context.Context) error {
	return fmt.Errorf("base backup canceled: %w", ctx.Err())
}

var (
	hbaRE     = regexp.MustCompile(`no pg_hba\.conf entry for replication connection from host "([^"]*)", user "([^"]*)"(?:, (\w+) encryption)?`)
	sendersRE = regexp.MustCompile(`number of requested standby connections exceeds max_wal_senders \(currently (\d+)\)`)
)

// baseBackupFailed turns pg_basebackup's failure into an error that says what to change,
// when it is one of the set-up problems; stderr is scrubbed of the DSN's passwords.
func baseBackupFailed(ds *pgdsn.DSN, path, user string, waitErr error, stderr string) error {
	msg := ds.Scrub(stderr)
	if msg == "" {
		msg = "no error output"
	}
	said := fmt.Sprintf("%s failed (%v): %s", filepath.Base(path), waitErr, msg)
	switch {
	case strings.Contains(stderr, "must be superuser or replication role"),
		strings.Contains(stderr, "permission denied to start WAL sender"):
		return replicationRoleError(user, said)
	case hbaRE.MatchString(stderr):
		m := hbaRE.FindStringSubmatch(stderr)
		return hbaError(m[1], m[2], m[3], said)
	case sendersRE.MatchString(stderr):
		n, _ := strconv.Atoi(sendersRE.FindStringSubmatch(stderr)[1])
		return walSendersError(n, said)
	case strings.Contains(stderr, "can only write single tablespace to stdout"):
		return fmt.Errorf("%w: a base backup written as one stream holds only the main data folder; move the tables out of the extra tablespaces "+
			"(ALTER TABLE … SET TABLESPACE pg_default) and drop them. %s", ErrTablespaces, said)
	case strings.Contains(stderr, "WAL level not sufficient"):
		return fmt.Errorf("%w; %s", walLevelError(), said)
	}
	return ds.Errorf(waitErr, "%s", said)
}

func replicationRoleError(user, said string) error {
	err := fmt.Errorf("%w: base backups and WAL archiving connect to PostgreSQL for replication, which needs a role with the REPLICATION attribute (or a superuser). "+
		"As a superuser, run: ALTER ROLE %s REPLICATION; (this lets %s read the whole cluster's files, every database's, through replication)",
		ErrNoReplicationRole, pgx.Identifier{user}.Sanitize(), strconv.Quote(user))
	if said != "" {
		err = fmt.Errorf("%w. %s", err, said)
	}
	return err
}

// hbaError names the pg_hba.conf line to add: for the user and the address the server saw,
// over TLS when the connection used it (hostssl), or the Unix socket (local).
func hbaError(host, user, encryption, said string) error {
	var line string
	switch host {
	case "[local]":
		line = fmt.Sprintf("local replication %s scram-sha-256", hbaName(user))
	default:
		kind := "host"
		if strings.EqualFold(encryption, "SSL") {
			kind = "hostssl"
		}
		mask := "/32"
		if strings.Contains(host, ":") {
			mask = "/128"
		}
		line = fmt.Sprintf("%s replication %s %s%s scram-sha-256", kind, hbaName(user), host, mask)
	}
	return fmt.Errorf("%w for user %q from %s: add this line to pg_hba.conf on the database server, above any line that rejects it "+
		"(use the authentication method your other lines for %q use if it is not scram-sha-256): `%s`; then reload PostgreSQL "+
		"(SELECT pg_reload_conf(); as a superuser). %s", ErrNoReplicationHBA, user, host, user, line, said)
}

// hbaName quotes a role name for pg_hba.conf when it needs it.
func hbaName(user string) string {
	if user != "" && strings.IndexFunc(user, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_'
	}) < 0 && user != "all" && user != "replication" && user != "samerole" && user != "samegroup" {
		return user
	}
	return `"` + strings.ReplaceAll(user, `"`, `""`) + `"`
}

func walSendersError(n int, said string) error {
	if n == 0 {
		return fmt.Errorf("%w: replication is turned off (max_wal_senders = 0): as a superuser run ALTER SYSTEM SET max_wal_senders = 10; "+
			"and restart PostgreSQL. %s", ErrNoWALSender, said)
	}
	return fmt.Errorf("%w: all %d WAL senders are in use by standbys, WAL receivers and other base backups: as a superuser run "+
		"ALTER SYSTEM SET max_wal_senders = %d; and restart PostgreSQL (a base backup needs one), or run the backup when one has disconnected. %s",
		ErrNoWALSender, n, n+2, said)
}

func tablespaceError(spaces []string) error {
	return fmt.Errorf("%w (%s): pg_basebackup writes one stream, which holds only the main data folder, so this backup would miss their tables. "+
		"Move them to the default tablespace (ALTER TABLE … SET TABLESPACE pg_default, ALTER INDEX … SET TABLESPACE pg_default) and drop the tablespaces, "+
		"or leave the base backup out", ErrTablespaces, strings.Join(spaces, ", "))
}

func walLevelError() error {
	return fmt.Errorf("%w: a base backup and the WAL archive need wal_level = replica (the default) or logical: as a superuser run "+
		"ALTER SYSTEM SET wal_level = replica; and restart PostgreSQL", ErrWALLevel)
}
