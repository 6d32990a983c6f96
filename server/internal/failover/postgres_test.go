package failover_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

// startPair starts a real PostgreSQL primary and a streaming standby, or skips (fails under CI)
// when PostgreSQL is not installed.
func startPair(t *testing.T) (*harness.Postgres, *harness.Standby) {
	t.Helper()
	if _, err := harness.PGBinDir(); err != nil {
		harness.Unavailable(t, "PostgreSQL", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Not t.TempDir: its parent is private to root, and the postgres user must reach the folder.
	dir, err := os.MkdirTemp("", "failover-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	pg, err := harness.StartPostgres(ctx, filepath.Join(dir, "primary"))
	require.NoError(t, err)
	t.Cleanup(pg.Stop)
	sb, err := pg.StartStandby(ctx, filepath.Join(dir, "standby"), "failover_test")
	require.NoError(t, err)
	t.Cleanup(sb.Stop)
	return pg, sb
}

func inRecovery(t *testing.T, pg *harness.Postgres) bool {
	t.Helper()
	db, err := pg.Open("postgres")
	require.NoError(t, err)
	defer db.Close()
	var v bool
	require.NoError(t, db.QueryRowContext(context.Background(), `SELECT pg_is_in_recovery()`).Scan(&v))
	return v
}

// The self-hosted variant: the standby is promoted with pg_promote (after catching up with the
// primary, in switchover mode) and takes writes; run again, the step finds it promoted already
// and asks a person rather than guess.
func TestRunbookSelfHostedPostgres(t *testing.T) {
	pg, sb := startPair(t)
	ctx := context.Background()
	db, err := pg.Open("postgres")
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, `CREATE TABLE before_failover AS SELECT g AS id FROM generate_series(1, 1000) g`)
	require.NoError(t, err)
	require.True(t, inRecovery(t, sb.Postgres))

	ns := &nodeSource{}
	ns.set("us-west-2")
	live := failover.Live{
		Regions:  map[string]failover.RegionSettings{"us-east-1": {}, "us-west-2": {}},
		Postgres: failover.PostgresSettings{StandbyDSN: sb.URL("postgres"), PrimaryDSN: pg.URL("postgres")},
		Poll:     10 * time.Millisecond, Wait: 30 * time.Second,
	}
	e := &failover.Engine{
		Journal: failover.NewKVJournal(&pluginapi.MemoryStore{}),
		Steps: failover.Steps(failover.Deps{Announce: &announcer{teams: map[string]int{}}, Nodes: ns.get, Settings: &settings{primary: "us-east-1"},
			Check: func(context.Context) (status.Report, error) { return status.Report{Verdict: "degraded"}, nil }}),
		Live: func(context.Context) (failover.Live, error) { return live, nil },
	}
	start := func(mode failover.Mode) *failover.Run {
		run := failover.NewRun(failover.KindFailover, mode, "us-east-1", "us-west-2", "uid", "admin", nil, time.Now())
		e.Describe(live, run)
		created, err := e.Create(ctx, run)
		require.NoError(t, err)
		return created
	}

	run := start(failover.Switchover)
	assert.Contains(t, run.Step(failover.KindDatabase).Calls, "pg_promote")
	got, err := e.Run(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, failover.RunCompleted, got.State, stepDetails(got))
	assert.False(t, inRecovery(t, sb.Postgres), "the standby is promoted")
	assert.Contains(t, got.Step(failover.KindDatabase).Detail, "a write to a temporary table succeeded")
	assert.Equal(t, failover.StepSkipped, got.Step(failover.KindOpenSearchPromote).State)
	assert.Equal(t, failover.StepManual, got.Step(failover.KindDNS).State)
	// The promoted server has what the primary had, and takes writes.
	sdb, err := sb.Open("postgres")
	require.NoError(t, err)
	defer sdb.Close()
	var n int
	require.NoError(t, sdb.QueryRowContext(ctx, `SELECT count(*) FROM before_failover`).Scan(&n))
	assert.Equal(t, 1000, n)
	_, err = sdb.ExecContext(ctx, `CREATE TABLE after_failover (id int)`)
	assert.NoError(t, err)

	// The same setting again: the server is a primary already. Not promoted by this runbook, so
	// the step waits for a person instead of assuming.
	run = start(failover.Failover)
	got, err = e.Run(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, failover.RunWaiting, got.State)
	assert.Contains(t, got.Step(failover.KindDatabase).Next, "not in recovery")
	_, err = e.Confirm(ctx, "alice")
	require.NoError(t, err)
	got, err = e.Run(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, failover.RunCompleted, got.State, stepDetails(got))
	assert.Contains(t, got.Step(failover.KindDatabase).Detail, "confirmed by @alice")

	// A standby that cannot be reached fails the step with what to do, and no password.
	live.Postgres.StandbyDSN = "postgres://postgres:pw-Secret-31@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2"
	run = start(failover.Failover)
	got, err = e.Run(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, failover.RunFailed, got.State)
	db1 := got.Step(failover.KindDatabase)
	assert.Contains(t, db1.Next, "DRPostgresStandbyDataSource")
	assert.NotContains(t, db1.Error, "pw-Secret-31")
}
