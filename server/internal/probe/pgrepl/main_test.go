package pgrepl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// The primary and streaming standby every integration test uses; nil when PostgreSQL is not
// installed (pgMissing says why). Tests that break a standby make their own (newStandby).
var (
	testDir     string
	testPrimary *harness.Postgres
	testStandby *harness.Standby
	pgMissing   string
	standbySeq  atomic.Int64
)

func TestMain(m *testing.M) { os.Exit(harness.RunWithPostgres(m, "pgrepl-test", startStandby)) }

// startStandby starts the shared standby of pg, in the folder TestPostgres made for pg (which
// removes it with everything in it).
func startStandby(pg *harness.Postgres, missing string) (func(), error) {
	testPrimary, pgMissing = pg, missing
	if pg == nil {
		return nil, nil
	}
	testDir = filepath.Dir(pg.Dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	if testStandby, err = pg.StartStandby(ctx, filepath.Join(testDir, "standby"), "dr_standby"); err != nil {
		return nil, fmt.Errorf("start the standby: %w", err)
	}
	return testStandby.Stop, nil
}

// requirePG skips a test that needs PostgreSQL when it is not installed, except on CI (CI
// set), where that is a failure.
func requirePG(t *testing.T) {
	t.Helper()
	if testPrimary == nil {
		harness.Unavailable(t, "PostgreSQL", pgMissing)
	}
}

// newStandby starts a standby of its own for a test that stops or promotes it; its slot is
// dropped when the test ends, so that the primary stops keeping WAL for it.
func newStandby(t *testing.T) *harness.Standby {
	t.Helper()
	n := standbySeq.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb, err := testPrimary.StartStandby(ctx, filepath.Join(testDir, fmt.Sprintf("standby%d", n)), fmt.Sprintf("dr_test_standby_%d", n))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sb.DropSlot(ctx); err != nil {
			t.Logf("drop slot: %v", err)
		}
	})
	waitStreaming(t, sb.Slot)
	return sb
}

// waitStreaming waits until the standby using slot streams from the test primary and has
// reported its replay position (until then the primary's replay_lsn is NULL).
func waitStreaming(t *testing.T, slot string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		err := queryRow(t, testPrimary.URL("postgres"), `SELECT count(*) FROM pg_stat_replication r
			JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1 AND r.state = 'streaming' AND r.replay_lsn IS NOT NULL`, slot).Scan(&n)
		return err == nil && n == 1
	}, 30*time.Second, 100*time.Millisecond, "standby on slot %s does not stream", slot)
}

type rowScanner struct {
	conn *pgx.Conn
	row  pgx.Row
}

func (r rowScanner) Scan(dest ...any) error {
	defer r.conn.Close(context.Background())
	return r.row.Scan(dest...)
}

func queryRow(t *testing.T, url, sql string, args ...any) rowScanner {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	return rowScanner{conn: conn, row: conn.QueryRow(context.Background(), sql, args...)}
}

func exec(t *testing.T, url string, sqls ...string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	for _, s := range sqls {
		_, err := conn.Exec(context.Background(), s)
		require.NoError(t, err, s)
	}
}
