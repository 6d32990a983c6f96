// Package backuptest holds fixtures for tests that need a real backup: a throwaway PostgreSQL
// database with rows, a file tree, a config folder, a local store, and a backup of them taken
// with backup.Run.
package backuptest

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
)

var (
	testPG    *harness.Postgres
	pgMissing string
	seq       atomic.Int64
)

// UsePostgres gives the fixtures the cluster a test package's TestMain got from
// harness.RunWithPostgres (nil, and missing saying why, without PostgreSQL).
func UsePostgres(pg *harness.Postgres, missing string) { testPG, pgMissing = pg, missing }

// RequirePG returns the test package's cluster. Without one the test skips, saying why,
// except under CI (CI set), where it fails.
func RequirePG(t *testing.T) *harness.Postgres {
	t.Helper()
	if testPG == nil {
		harness.Unavailable(t, "PostgreSQL", pgMissing)
	}
	return testPG
}

// UniqueName is prefix_N, N unique in the test binary: for databases and roles tests create.
func UniqueName(prefix string) string { return fmt.Sprintf("%s_%d", prefix, seq.Add(1)) }

// NewDatabase creates an empty database named prefix_N, dropped when the test ends.
func NewDatabase(t *testing.T, prefix string) (name, url string) {
	t.Helper()
	pg := RequirePG(t)
	name = UniqueName(prefix)
	require.NoError(t, pg.CreateDatabase(context.Background(), name))
	t.Cleanup(func() { dropDB(pg, name) })
	return name, pg.URL(name)
}

func dropDB(pg *harness.Postgres, name string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
}

// Ctx is the test's context with a deadline, so that a stuck backup fails the test.
func Ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// PgTool is a PostgreSQL client program next to the pg_dump pgdump uses.
func PgTool(t *testing.T, name string) string {
	t.Helper()
	p, _, err := pgdump.FindPgDump("")
	require.NoError(t, err)
	return filepath.Join(filepath.Dir(p), name)
}
