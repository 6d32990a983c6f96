package walarchive

import (
	"context"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

var (
	testPG    *harness.Postgres
	pgMissing string
)

func TestMain(m *testing.M) {
	os.Exit(harness.RunWithPostgres(m, "probe-walarchive-test", func(pg *harness.Postgres, missing string) (func(), error) {
		testPG, pgMissing = pg, missing
		return nil, nil
	}))
}

// TestReadSlot reads a real slot: missing, then reserving WAL that grows as the database writes.
func TestReadSlot(t *testing.T) {
	if testPG == nil {
		harness.Unavailable(t, "PostgreSQL", pgMissing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := testPG.URL("postgres")
	s := ReadSlot(ctx, dsn, "dr_probe_slot")
	assert.True(t, s.Checked)
	assert.Empty(t, s.Error)
	assert.False(t, s.Found)

	db, err := testPG.Open("postgres")
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`SELECT pg_create_physical_replication_slot('dr_probe_slot', true)`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = db.Exec(`SELECT pg_drop_replication_slot('dr_probe_slot')`) })
	_, err = db.Exec(`CREATE TABLE IF NOT EXISTS probe_fill AS SELECT g, repeat('x', 500) AS pad FROM generate_series(1, 20000) g`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = db.Exec(`DROP TABLE IF EXISTS probe_fill`) })

	s = ReadSlot(ctx, dsn, "dr_probe_slot")
	require.Empty(t, s.Error)
	assert.True(t, s.Found)
	assert.False(t, s.Active)
	assert.Greater(t, s.Retained, int64(5<<20), "the table's WAL is held for the slot")
	assert.Equal(t, "reserved", s.Status)

	bad := ReadSlot(ctx, "postgres://nobody:Pw-S3cret@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", "dr_probe_slot")
	assert.NotEmpty(t, bad.Error)
	assert.NotContains(t, bad.Error, "Pw-S3cret")
}
