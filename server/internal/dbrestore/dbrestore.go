// Package dbrestore restores a backup's database dump with pg_restore and counts the restored
// tables' rows against the manifest: restore's database step and the verifier's drill.
package dbrestore

import (
	"context"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
)

// Restore runs pgRestore into database on dsn's server ("" = the database dsn names), as
// dsn's user, reading the archive from dump (nil when args name a staged file). Owners and
// privileges of the dump are never applied: the restoring user owns what it creates. The DSN is
// parsed once: the PG* environment and --dbname come from the same connection settings.
func Restore(ctx context.Context, pgRestore, dsn, database string, dump io.Reader, args ...string) error {
	ds, err := pgdsn.Parse(dsn)
	if err != nil {
		return err
	}
	ds = ds.WithDatabase(database)
	cfg, err := ds.ConnConfig(pgdsn.Defaults{})
	if err != nil {
		return err
	}
	name := cfg.Database
	if name == "" {
		name = "postgres"
	}
	args = append([]string{"--exit-on-error", "--no-owner", "--no-privileges", "--dbname=" + name}, args...)
	return pgdump.RunClient(ctx, pgRestore, ds.Env(os.Environ(), &cfg.Config), dump, nil, args...)
}

// Table is one table's row count after a restore, against the manifest's.
type Table struct {
	Name       string // schema.table
	Rows, Want int64
	Err        error // the count failed
}

// Count counts the rows of every table of want (schema.table -> rows), in name order. A count
// that fails is recorded in its Table and the next is tried, unless ctx is done: then Count
// returns what it has, and ctx's error.
func Count(ctx context.Context, conn *pgx.Conn, want map[string]int64) ([]Table, error) {
	names := make([]string, 0, len(want))
	for t := range want {
		names = append(names, t)
	}
	sort.Strings(names)
	out := make([]Table, 0, len(names))
	for _, t := range names {
		schema, table, _ := strings.Cut(t, ".")
		c := Table{Name: t, Want: want[t]}
		c.Err = conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, table}.Sanitize()).Scan(&c.Rows)
		out = append(out, c)
		if c.Err != nil && ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}
