package harness

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// Postgres is a throwaway PostgreSQL cluster on loopback.
type Postgres struct {
	Dir    string
	Port   int
	BinDir string
	log    string
	proc   *process
	cred   *syscall.Credential
	extra  []string // more settings, "name=value", each passed as -c
}

// PGBinDir finds PostgreSQL's server binaries: $PG_BIN, else the newest
// /usr/lib/postgresql/<major>/bin (Debian's layout).
func PGBinDir() (string, error) {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", errors.New("PostgreSQL server binaries not found: install them (Debian: apt-get install -y postgresql) or set PG_BIN to the folder holding initdb")
	}
	sort.Slice(matches, func(i, j int) bool { return majorOf(matches[i]) > majorOf(matches[j]) })
	return filepath.Dir(matches[0]), nil
}

func majorOf(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

// StartPostgres initialises a cluster in dir and starts it on a free port. initdb refuses to
// run as root, so as root the cluster belongs to the "postgres" user. settings ("name=value")
// are passed to postgres as -c flags after the harness's own, for what only a restart could
// change (archive_mode).
func StartPostgres(ctx context.Context, dir string, settings ...string) (*Postgres, error) {
	bin, err := PGBinDir()
	if err != nil {
		return nil, err
	}
	pg := &Postgres{Dir: filepath.Join(dir, "pgdata"), BinDir: bin, log: filepath.Join(dir, "postgres.log"), extra: settings}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if pg.cred, err = credentialOf("postgres"); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(pg.cred.Uid), int(pg.cred.Gid)); err != nil {
			return nil, fmt.Errorf("chown %s to postgres: %w", dir, err)
		}
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", pg.Dir, "-A", "trust", "-U", "postgres",
		"--no-sync", "-E", "UTF8", "--locale=C.UTF-8")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if pg.Port, err = freePort(); err != nil {
		return nil, err
	}
	if err := pg.start(ctx); err != nil {
		return nil, err
	}
	return pg, nil
}

func (pg *Postgres) start(ctx context.Context) error {
	logf, err := os.OpenFile(pg.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	if pg.cred != nil {
		_ = os.Chown(pg.log, int(pg.cred.Uid), int(pg.cred.Gid))
	}
	// Tuned for throwaway test data: no fsync, socket in the data folder, loopback only.
	args := []string{"-D", pg.Dir, "-p", strconv.Itoa(pg.Port),
		"-k", pg.Dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "synchronous_commit=off", "-c", "max_connections=300", "-c", "wal_level=replica",
		"-c", "max_wal_senders=10", "-c", "hot_standby=on"}
	for _, s := range pg.extra {
		args = append(args, "-c", s)
	}
	cmd := exec.Command(filepath.Join(pg.BinDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	if pg.proc, err = startProcess("postgres", cmd); err != nil {
		return err
	}
	return pg.waitReady(ctx)
}

func (pg *Postgres) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		db, err := sql.Open("pgx", pg.URL("postgres"))
		if err == nil {
			err = db.PingContext(ctx)
			db.Close()
		}
		if err == nil {
			return nil
		}
		if pg.proc.exited() {
			return fmt.Errorf("postgres exited during start-up:\n%s", tail(pg.log, 20))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("postgres not ready after 60 s: %w\n%s", err, tail(pg.log, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// URL is a connection string for database db as the superuser.
func (pg *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.Port, db)
}

// Open opens database db as the superuser.
func (pg *Postgres) Open(db string) (*sql.DB, error) { return sql.Open("pgx", pg.URL(db)) }

// CreateDatabase creates an empty database.
func (pg *Postgres) CreateDatabase(ctx context.Context, name string) error {
	db, err := sql.Open("pgx", pg.URL("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the cluster down at once; its data is throwaway.
func (pg *Postgres) Stop() {
	if pg != nil && pg.proc != nil {
		pg.proc.stop(syscall.SIGQUIT, 10*time.Second) // SIGQUIT: immediate shutdown
	}
}

func credentialOf(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user %q (PostgreSQL refuses to run as root): %w; install PostgreSQL's Debian package, which creates it", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// StartDataDir starts a cluster on a data folder made elsewhere (a restored base backup) on a
// free port, logging to logPath. As root, like StartPostgres, it runs as the "postgres" user,
// and dataDir (mode 0700, as PostgreSQL demands) and its files are handed to that user first.
func StartDataDir(ctx context.Context, dataDir, logPath string) (*Postgres, error) {
	bin, err := PGBinDir()
	if err != nil {
		return nil, err
	}
	pg := &Postgres{Dir: dataDir, BinDir: bin, log: logPath}
	if err := os.Chmod(dataDir, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if pg.cred, err = credentialOf("postgres"); err != nil {
			return nil, err
		}
		err := filepath.Walk(dataDir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, int(pg.cred.Uid), int(pg.cred.Gid))
		})
		if err != nil {
			return nil, fmt.Errorf("chown %s to postgres: %w", dataDir, err)
		}
	}
	if pg.Port, err = freePort(); err != nil {
		return nil, err
	}
	if err := pg.start(ctx); err != nil {
		return nil, err
	}
	return pg, nil
}

// Credential is the user the cluster's processes run as (nil: this process's own), for
// helper programs that must read or write its files (pg_receivewal's WAL folder).
func (pg *Postgres) Credential() *syscall.Credential { return pg.cred }
