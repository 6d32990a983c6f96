package harness

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startTestPostgres starts a throwaway cluster, or skips (fails under CI) when PostgreSQL is
// not installed.
func startTestPostgres(t *testing.T) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := PGBinDir(); err != nil {
		Unavailable(t, "PostgreSQL", err)
	}
	// Not t.TempDir: its parent is private to root, and the postgres user must reach the folder.
	dir, err := os.MkdirTemp("", "dr-standby-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	pg, err := StartPostgres(ctx, filepath.Join(dir, "primary"))
	require.NoError(t, err)
	t.Cleanup(pg.Stop)
	return pg
}

func queryValue[T any](t *testing.T, pg *Postgres, query string) T {
	t.Helper()
	db, err := pg.Open("postgres")
	require.NoError(t, err)
	defer db.Close()
	var v T
	require.NoError(t, db.QueryRowContext(context.Background(), query).Scan(&v), query)
	return v
}

func TestStandby(t *testing.T) {
	pg := startTestPostgres(t)
	ctx := context.Background()
	sb, err := pg.StartStandby(ctx, filepath.Join(filepath.Dir(filepath.Dir(pg.Dir)), "standby"), "harness_standby")
	require.NoError(t, err)
	t.Cleanup(sb.Stop)
	assert.NotEqual(t, pg.Port, sb.Port)
	assert.True(t, queryValue[bool](t, sb.Postgres, `SELECT pg_is_in_recovery()`))
	assert.False(t, queryValue[bool](t, pg, `SELECT pg_is_in_recovery()`))

	// A write on the primary reaches the standby.
	db, err := pg.Open("postgres")
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, `CREATE TABLE replicated AS SELECT 42 AS v`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		sdb, err := sb.Open("postgres")
		if err != nil {
			return false
		}
		defer sdb.Close()
		var v int
		return sdb.QueryRowContext(ctx, `SELECT v FROM replicated`).Scan(&v) == nil && v == 42
	}, 20*time.Second, 100*time.Millisecond, "the write did not reach the standby")
	assert.Equal(t, "harness_standby", queryValue[string](t, pg,
		`SELECT s.slot_name FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid`))

	sb.Stop()
	require.Eventually(t, func() bool { return queryValue[int](t, pg, `SELECT count(*) FROM pg_stat_replication`) == 0 },
		20*time.Second, 100*time.Millisecond, "the stopped standby still streams")
	require.NoError(t, sb.Restart(ctx))
	require.Eventually(t, func() bool {
		return queryValue[int](t, pg, `SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'`) == 1
	}, 20*time.Second, 100*time.Millisecond, "the restarted standby does not stream:\n%s", sb.LogTail(20))

	require.NoError(t, sb.DropSlot(ctx))
	assert.Equal(t, 0, queryValue[int](t, pg, `SELECT count(*) FROM pg_replication_slots`))

	_, err = pg.StartStandby(ctx, filepath.Join(filepath.Dir(filepath.Dir(pg.Dir)), "bad"), "Bad-Name")
	require.ErrorContains(t, err, "slot name")
}
