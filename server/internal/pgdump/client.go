package pgdump

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClientEnv is the environment for a libpq program (pg_restore, psql) that connects to dsn, to
// database instead of dsn's own when it is not empty. Connection settings, the password
// included, go in PG* variables: never on a command line, where any local user sees them.
// What dsn leaves out (the password above all) is what Connect resolves from the environment
// (PGPASSWORD), a password file or the defaults, so the program logs in as Connect does.
func ClientEnv(dsn, database string) ([]string, error) {
	ds, err := parseDataSource(dsn)
	if err != nil {
		return nil, err
	}
	if database != "" {
		ds.params["dbname"] = database
	}
	cfg, err := ds.pgxConfig()
	if err != nil {
		return nil, err
	}
	return ds.pgDumpEnv(os.Environ(), &cfg.Config), nil
}

// Connect opens a connection to dsn (to database instead of dsn's own when it is not empty).
// Its errors never hold the password.
func Connect(ctx context.Context, dsn, database string) (*pgx.Conn, error) {
	ds, err := parseDataSource(dsn)
	if err != nil {
		return nil, err
	}
	if database != "" {
		ds.params["dbname"] = database
	}
	cfg, err := ds.pgxConfig()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, ds.errorf(err, "connect to %s: %v", ds.redacted(), err)
	}
	return conn, nil
}

// Scrub removes dsn's passwords from msg.
func Scrub(dsn, msg string) string {
	ds, err := parseDataSource(dsn)
	if err != nil {
		return RedactDataSource(msg)
	}
	return ds.scrub(msg)
}

// RunClient runs a PostgreSQL client program (pg_restore) with args and env, reading stdin
// (nil: none) and writing its standard output to stdout (nil: discarded). Like pg_dump, it
// runs in its own process group, killed when ctx ends and when this process dies (a plugin
// killed mid-drill leaves no pg_restore behind). Its error holds the end of what it printed.
// Input it did not read (pg_restore --list stops after the catalogue) is not an error.
func RunClient(ctx context.Context, path string, env []string, stdin io.Reader, stdout io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, path, args...) //nolint:gosec // the admin's PostgreSQL client
	cmd.Env = env
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	stderr := &tailBuffer{limit: stderrLimit}
	cmd.Stderr = stderr
	// Pdeathsig fires when the thread that started the child exits: keep it until Wait.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return killGroup(cmd.Process) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return canceled(ctx)
		}
		msg := stderr.String()
		if msg == "" {
			msg = "no error output"
		}
		return fmt.Errorf("%s failed (%w): %s", filepath.Base(path), err, msg)
	}
	return nil
}

// AsUser returns dsn (in libpq's key=value form) connecting as user with password instead of
// dsn's own user: the same server, database and TLS settings.
func AsUser(dsn, user, password string) (string, error) {
	ds, err := parseDataSource(dsn)
	if err != nil {
		return "", err
	}
	params := make(map[string]string, len(ds.params))
	for k, v := range ds.params {
		params[k] = v
	}
	params["user"], params["password"] = user, password
	delete(params, "passfile") // its entry is for dsn's user
	return keyValueString(params), nil
}

// User is the user name dsn connects as ("" when it names none: libpq's default applies).
func User(dsn string) (string, error) {
	ds, err := parseDataSource(dsn)
	if err != nil {
		return "", err
	}
	return ds.params["user"], nil
}
