package pgdump

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckArchiving: a role without REPLICATION is told the statement that fixes it; with it,
// the check passes and names the pg_receivewal beside pg_dump.
func TestCheckArchiving(t *testing.T) {
	requirePG(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := connect(t, testPG.URL("postgres"))
	role := fmt.Sprintf("dr_arch_%d", dbSeq.Add(1))
	mustExec(t, admin, `CREATE ROLE `+role+` LOGIN PASSWORD 'Arch-S3cret'`)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), `DROP ROLE IF EXISTS `+role) })
	dsn := fmt.Sprintf("postgres://%s:Arch-S3cret@127.0.0.1:%d/postgres?sslmode=disable", role, testPG.Port)

	_, err := CheckArchiving(ctx, dsn, testPG.BinDir)
	require.ErrorIs(t, err, ErrNoReplicationRole)
	assert.Contains(t, err.Error(), `ALTER ROLE "`+role+`" REPLICATION;`)
	assert.NotContains(t, err.Error(), "Arch-S3cret")

	mustExec(t, admin, `ALTER ROLE `+role+` REPLICATION`)
	a, err := CheckArchiving(ctx, dsn, testPG.BinDir)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(testPG.BinDir, "pg_receivewal"), a.ReceiveWAL)
	assert.NotEmpty(t, a.SystemID)
	assert.NotEmpty(t, a.Version)

	_, err = CheckArchiving(ctx, dsn, filepath.Join(t.TempDir(), "pg_dump"))
	require.ErrorIs(t, err, ErrPgDumpNotFound, "no pg_dump there, so no pg_receivewal either")
}

// TestExplainReplicationError classifies what pgx and pg_receivewal print for a replication
// connection the server refuses (as PostgreSQL 15 and 16 word it).
func TestExplainReplicationError(t *testing.T) {
	dsn := "postgres://mm:Sup3r-secret@db.internal:5432/mattermost"
	cases := []struct {
		said string
		is   error
		says string
	}{
		{`failed to connect to ` + "`user=mm database=mattermost`" + `: 10.0.0.5:5432 (db.internal): server error: FATAL: no pg_hba.conf entry for replication connection from host "10.0.0.9", user "mm", no encryption (SQLSTATE 28000)`,
			ErrNoReplicationHBA, "`host replication mm 10.0.0.9/32 scram-sha-256`"},
		{`pg_receivewal stopped (exit status 1): pg_receivewal: error: connection to server at "10.0.0.5", port 5432 failed: FATAL:  permission denied to start WAL sender; DETAIL:  Only roles with the REPLICATION attribute may start a WAL sender process.`,
			ErrNoReplicationRole, `ALTER ROLE "mm" REPLICATION;`},
		{`pg_receivewal: error: connection to server at "10.0.0.5", port 5432 failed: FATAL:  number of requested standby connections exceeds max_wal_senders (currently 2)`,
			ErrNoWALSender, "max_wal_senders = 4"},
	}
	for _, c := range cases {
		err := ExplainReplicationError(dsn, c.said+" password=Sup3r-secret")
		require.ErrorIs(t, err, c.is, c.said)
		assert.Contains(t, err.Error(), c.says)
		assert.NotContains(t, err.Error(), "Sup3r-secret")
	}
	assert.NoError(t, ExplainReplicationError(dsn, "pg_receivewal: error: could not connect: connection refused"), "not a set-up problem")
}
