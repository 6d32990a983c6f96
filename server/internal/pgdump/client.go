package pgdump

import (
	"context"
	"os"

	"github.com/jackc/pgx/v5"
)

// ClientEnv is the environment for a libpq program (pg_restore, psql) that connects to dsn, to
// database instead of dsn's own when it is not empty. Connection settings, the password
// included, go in PG* variables: never on a command line, where any local user sees them.
func ClientEnv(dsn, database string) ([]string, error) {
	ds, err := parseDataSource(dsn)
	if err != nil {
		return nil, err
	}
	if database != "" {
		ds.params["dbname"] = database
	}
	return ds.pgDumpEnv(os.Environ(), nil), nil
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
