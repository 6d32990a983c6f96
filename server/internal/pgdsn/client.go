package pgdsn

import (
	"context"
	"os"

	"github.com/jackc/pgx/v5"
)

// ClientEnv is the environment for a libpq program (pg_restore, psql) that connects to dsn, to
// database instead of dsn's own when it is not empty. Connection settings, the password
// included, go in PG* variables: never on a command line, where any local user sees them.
// What dsn leaves out (the password above all) is what Connect resolves from the environment
// (PGPASSWORD), a password file or the defaults, so the program logs in as Connect does.
func ClientEnv(dsn, database string) ([]string, error) {
	ds, err := Parse(dsn)
	if err != nil {
		return nil, err
	}
	ds = ds.WithDatabase(database)
	cfg, err := ds.ConnConfig(Defaults{})
	if err != nil {
		return nil, err
	}
	return ds.Env(os.Environ(), &cfg.Config), nil
}

// Connect opens a connection to dsn (to database instead of dsn's own when it is not empty).
// Its errors never hold the password.
func Connect(ctx context.Context, dsn, database string) (*pgx.Conn, error) {
	ds, err := Parse(dsn)
	if err != nil {
		return nil, err
	}
	ds = ds.WithDatabase(database)
	cfg, err := ds.ConnConfig(Defaults{})
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, ds.Errorf(err, "connect to %s: %v", ds.Redacted(), err)
	}
	return conn, nil
}

// AsUser returns dsn (in libpq's key=value form) connecting as user with password instead of
// dsn's own user: the same server, database and TLS settings.
func AsUser(dsn, user, password string) (string, error) {
	ds, err := Parse(dsn)
	if err != nil {
		return "", err
	}
	return ds.AsUser(user, password).String(), nil
}

// User is the user name dsn connects as ("" when it names none: libpq's default applies).
func User(dsn string) (string, error) {
	ds, err := Parse(dsn)
	if err != nil {
		return "", err
	}
	return ds.User(), nil
}
