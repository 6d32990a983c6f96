// Package pitrdrill is the restore drill of a point-in-time recovery: it proves that the newest
// base backup and the WAL archive restore the database as it was a moment ago. On the primary
// it counts the rows of every table of Mattermost's database, creates a named restore point
// and counts again; then it builds a scratch cluster from the newest trusted base backup and
// the archived WAL (every file checked, as a restore checks it), lets PostgreSQL's recovery
// stop at the restore point, and compares the restored counts with the two snapshots.
package pitrdrill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pitr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

// ErrCountsDiffer is wrapped by Run's error when the restored counts are not those of the
// primary at the restore point: the drill ran and failed.
var ErrCountsDiffer = errors.New("the restored row counts differ from the primary's")

// Options of Run.
type Options struct {
	// Store is the destination holding the base backups and the WAL archive.
	Store storage.Reader
	// Key is the server's signing key: only base backups and WAL it signed are used.
	Key        format.PublicKey
	Identities []age.Identity
	// PrimaryDSN connects to the primary (the WAL archiving connection); Database names
	// Mattermost's database on it ("": the DSN's own).
	PrimaryDSN string
	Database   string
	// BinDir holds PostgreSQL's server programs (postgres) of the base backup's major version;
	// "" finds them: /usr/lib/postgresql/<major>/bin, else beside PgDumpPath's pg_dump.
	BinDir     string
	PgDumpPath string
	// ScratchDir is where the scratch cluster's folder is made (and always removed).
	ScratchDir string
	// ID names the drill: its restore point is dr-drill-<ID>.
	ID string
	// WALTimeout bounds the wait for the archive to hold the restore point (default 2 min);
	// RecoveryTimeout the scratch cluster's recovery (default 1 h).
	WALTimeout      time.Duration
	RecoveryTimeout time.Duration
	// Owner runs the scratch cluster; nil: this process's user, or "postgres" when root
	// (PostgreSQL refuses to run as root).
	Owner    *pitr.Owner
	Progress func(string)

	// afterRestorePoint runs between the restore point and S2: a test writes there what the
	// restore must not bring back.
	afterRestorePoint func()
}

// Table is one table's row counts: on the primary before (S1) and after (S2) the restore
// point, and in the restored cluster (R).
type Table struct {
	Name          string
	Before, After int64
	Restored      int64
	// Missing says which side lacks the table ("primary before", "primary after", "restored").
	Missing string
}

// Result is what a drill did and found.
type Result struct {
	RestorePoint string
	LSN          string // the restore point's WAL location
	// Switched: pg_switch_wal completed the restore point's segment; otherwise the drill waited
	// for the archive's partial copy of it.
	Switched   bool
	SwitchNote string // why pg_switch_wal was not used
	// FromPartial: the restore point's segment came from the archive's partial copy.
	FromPartial  bool
	BaseBackup   string
	BaseFinished time.Time
	FirstWAL     string
	LastWAL      string
	WALFiles     int   // fetched and checked
	WALBytes     int64 // their size
	PGVersion    string
	Tables       []Table
	Busy         []Table // written during the drill: S1 ≠ S2, R between them
	Mismatches   []Table
	Rows         int64 // in the restored cluster
	Snapshot     time.Duration
	WALWait      time.Duration
	Fetch        time.Duration
	Unpack       time.Duration
	Recovery     time.Duration
	Total        time.Duration
}

func (o *Options) progress(format string, args ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, args...))
	}
}

// RestorePointName is the restore point a drill of id creates.
func RestorePointName(id string) string { return "dr-drill-" + id }

// Run runs the drill. Its error says why the drill could not run or, wrapping
// ErrCountsDiffer, which tables came back wrong; res says what was done either way.
func Run(ctx context.Context, o Options) (res *Result, err error) {
	start := time.Now()
	res = &Result{RestorePoint: RestorePointName(o.ID)}
	defer func() { res.Total = time.Since(start) }()
	if o.Key.IsZero() {
		return res, errors.New("the drill needs the server's public key: it restores only what the server signed")
	}
	if o.ScratchDir == "" || !filepath.IsAbs(o.ScratchDir) {
		return res, fmt.Errorf("the drill's scratch folder %q is not an absolute path", o.ScratchDir)
	}
	if o.WALTimeout <= 0 {
		o.WALTimeout = 2 * time.Minute
	}
	if o.RecoveryTimeout <= 0 {
		o.RecoveryTimeout = time.Hour
	}
	owner, err := clusterOwner(o.Owner)
	if err != nil {
		return res, err
	}
	reader := &walarchive.Reader{Store: o.Store, Keys: []format.PublicKey{o.Key}, Identities: o.Identities}
	sys, err := reader.System(ctx)
	if err != nil {
		return res, err
	}

	// The scratch folder: WAL fetched in advance, the data folder, the log. A short socket
	// folder of its own (a Unix socket path is limited to ~100 bytes): the cluster listens on
	// no TCP port at all.
	work := filepath.Join(o.ScratchDir, "pitr-drill-"+o.ID)
	// Drills killed half way (the plugin or node died) leave their folder, a whole unpacked
	// base backup: removed now, one drill runs at a time on a node.
	leftovers, _ := filepath.Glob(filepath.Join(o.ScratchDir, "pitr-drill-*"))
	for _, dir := range append(leftovers, work) {
		if err := os.RemoveAll(dir); err != nil {
			return res, fmt.Errorf("remove the leftover scratch folder %s: %w", dir, err)
		}
	}
	// The parent only to pass through: the cluster's user (postgres when root) must reach
	// its own folder in it.
	if err := os.MkdirAll(o.ScratchDir, 0o711); err != nil { //nolint:gosec // traverse only: no one else may list or read it
		return res, fmt.Errorf("create the scratch folder: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(work, "wal"), 0o700); err != nil {
		return res, fmt.Errorf("create the scratch folder: %w", err)
	}
	defer os.RemoveAll(work)
	sock, err := os.MkdirTemp("", "drdrill")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(sock)

	o.progress("counting the rows of the primary and creating restore point %s", res.RestorePoint)
	t0 := time.Now()
	snap, err := snapshot(ctx, &o, res)
	if err != nil {
		return res, err
	}
	res.Snapshot = time.Since(t0)

	o.progress("waiting for the WAL archive to hold restore point %s (%s)", res.RestorePoint, res.LSN)
	t0 = time.Now()
	walDir := filepath.Join(work, "wal")
	if res.FromPartial, err = waitArchived(ctx, &o, reader, sys, snap, walDir); err != nil {
		return res, err
	}
	res.WALWait = time.Since(t0)

	src := pitr.Source{Store: o.Store, Key: o.Key, Identities: o.Identities}
	plan, err := pitr.MakePlan(ctx, src, pitr.Target{Name: res.RestorePoint})
	if err != nil {
		return res, err
	}
	res.BaseBackup, res.BaseFinished, res.FirstWAL = plan.Base.ID, plan.Base.FinishedAt, plan.FirstWAL
	res.LastWAL = snap.segment
	endLSN, err := walarchive.ParseLSN(plan.Base.Base.EndLSN)
	if err != nil {
		return res, fmt.Errorf("base backup %s: end LSN %q: %w", plan.Base.ID, plan.Base.Base.EndLSN, err)
	}
	if endLSN > snap.lsn {
		return res, fmt.Errorf("base backup %s ended (%s) after the restore point (%s): it finished during the drill; run the drill again", plan.Base.ID, plan.Base.Base.EndLSN, res.LSN)
	}

	o.progress("fetching and checking the WAL from %s to %s", plan.FirstWAL, snap.segment)
	t0 = time.Now()
	if err := fetchWAL(ctx, &o, reader, sys, plan, snap, walDir, res); err != nil {
		return res, err
	}
	res.Fetch = time.Since(t0)
	if owner != nil {
		if err := chownTree(work, owner); err != nil {
			return res, fmt.Errorf("give the scratch folder to uid %d: %w", owner.UID, err)
		}
		if err := os.Chown(sock, owner.UID, owner.GID); err != nil {
			return res, err
		}
	}

	o.progress("unpacking base backup %s (finished %s)", plan.Base.ID, plan.Base.FinishedAt.UTC().Format(time.RFC3339))
	t0 = time.Now()
	pgdata := filepath.Join(work, "pgdata")
	// cp, not drctl wal-fetch: every file was fetched and checked above, and this node need
	// not have drctl. A file not there is the end of the archive to PostgreSQL.
	restoreCommand := "cp " + pitr.ShellQuote(walDir) + `/"%f" "%p"`
	if err := pitr.Restore(ctx, src, plan, pitr.Options{PGData: pgdata, RestoreCommand: restoreCommand, Owner: owner}); err != nil {
		return res, err
	}
	if err := writeScratchConfig(pgdata, owner); err != nil {
		return res, err
	}
	res.Unpack = time.Since(t0)
	pgv, err := os.ReadFile(filepath.Join(pgdata, "PG_VERSION"))
	if err != nil {
		return res, fmt.Errorf("base backup %s holds no PG_VERSION: %w", plan.Base.ID, err)
	}
	res.PGVersion = strings.TrimSpace(string(pgv))
	bin, err := serverBin(ctx, o.BinDir, o.PgDumpPath, res.PGVersion)
	if err != nil {
		return res, err
	}

	o.progress("recovering the scratch cluster (PostgreSQL %s) to restore point %s", res.PGVersion, res.RestorePoint)
	t0 = time.Now()
	cl, err := startCluster(ctx, bin, pgdata, sock, filepath.Join(work, "postgres.log"), owner)
	if err != nil {
		return res, err
	}
	defer cl.stop()
	dbUser, database, err := names(o.PrimaryDSN, o.Database)
	if err != nil {
		return res, err
	}
	conn, err := cl.waitPromoted(ctx, dbUser, database, o.RecoveryTimeout)
	if err != nil {
		return res, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res.Recovery = time.Since(t0)
	// PostgreSQL refuses to promote short of a named target (since 13), but say so from its
	// own words: the drill is worth nothing if the recovery stopped elsewhere.
	if want := fmt.Sprintf("recovery stopping at restore point %q", res.RestorePoint); !strings.Contains(cl.logText(), want) {
		return res, fmt.Errorf("the scratch cluster promoted, but its log does not say %s: %s", want, cl.logTail(15))
	}

	o.progress("counting the rows of the restored cluster")
	if err := compare(ctx, conn, snap, res); err != nil {
		return res, err
	}
	if len(res.Mismatches) > 0 {
		var b strings.Builder
		for i, m := range res.Mismatches {
			if i == 20 {
				fmt.Fprintf(&b, "; and %d more", len(res.Mismatches)-20)
				break
			}
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(m.String())
		}
		return res, fmt.Errorf("%w at restore point %s: %s", ErrCountsDiffer, res.RestorePoint, b.String())
	}
	return res, nil
}

// String says what the table's counts were, for a failed drill's report.
func (t Table) String() string {
	if t.Missing != "" {
		return fmt.Sprintf("%s: missing %s", t.Name, t.Missing)
	}
	if t.Before == t.After {
		return fmt.Sprintf("%s: %d rows restored, the primary had %d", t.Name, t.Restored, t.Before)
	}
	return fmt.Sprintf("%s: %d rows restored, the primary had %d before the restore point and %d after", t.Name, t.Restored, t.Before, t.After)
}

// clusterOwner is who runs the scratch cluster: PostgreSQL refuses root.
func clusterOwner(o *pitr.Owner) (*pitr.Owner, error) {
	if o != nil || os.Geteuid() != 0 {
		return o, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("the drill runs as root and PostgreSQL refuses to: no user \"postgres\" to run the scratch cluster as (%w)", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &pitr.Owner{UID: uid, GID: gid}, nil
}

// names are the user the drill connects to the scratch cluster as (the primary's: the
// restored cluster has the same roles, and that user counted the primary's tables) and
// Mattermost's database.
func names(dsn, database string) (string, string, error) {
	ds, err := pgdsn.Parse(dsn)
	if err != nil {
		return "", "", err
	}
	cfg, err := ds.WithDatabase(database).ConnConfig(pgdsn.Defaults{})
	if err != nil {
		return "", "", err
	}
	return cfg.User, cfg.Database, nil
}

// writeScratchConfig makes the restored data folder start as a scratch cluster: a
// postgresql.conf when the base backup has none (Debian keeps it in /etc), and a pg_hba.conf
// that lets in only local socket connections (the socket is in a folder only the drill can
// enter).
func writeScratchConfig(pgdata string, owner *pitr.Owner) error {
	files := map[string]string{
		"pg_hba.conf": "# restore drill: local socket connections only\nlocal all all trust\n",
	}
	for _, name := range []string{"postgresql.conf", "pg_ident.conf"} {
		if _, err := os.Stat(filepath.Join(pgdata, name)); errors.Is(err, os.ErrNotExist) {
			files[name] = "# written by the restore drill: the base backup had none\n"
		}
	}
	for name, body := range files {
		p := filepath.Join(pgdata, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			return fmt.Errorf("write the scratch cluster's %s: %w", name, err)
		}
		if owner != nil {
			if err := os.Chown(p, owner.UID, owner.GID); err != nil {
				return err
			}
		}
	}
	return nil
}

// chownTree gives dir and everything in it to o, inside an os.Root so a symlink cannot lead
// it outside dir.
func chownTree(dir string, o *pitr.Owner) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return root.Lchown(path, o.UID, o.GID)
	})
}

// isCode says whether err is a PostgreSQL error of SQLSTATE code.
func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// nonZeroFrom says whether b holds a non-zero byte at off or later: pg_receivewal writes a
// segment in order into a zero-filled file, so WAL there means all before it was received.
func nonZeroFrom(b []byte, off int64) bool {
	if off >= int64(len(b)) {
		return false
	}
	return len(bytes.Trim(b[off:], "\x00")) > 0
}
