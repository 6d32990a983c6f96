package pgdump

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// testPG is the throwaway cluster every database test uses; nil when
// PostgreSQL is not installed (pgMissing says why).
var (
	testPG    *harness.Postgres
	pgMissing string
	dbSeq     atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(harness.RunWithPostgres(m, "pgdump-test", func(pg *harness.Postgres, missing string) (func(), error) {
		testPG, pgMissing = pg, missing
		return nil, nil
	}))
}

// requirePG skips a test that needs PostgreSQL when it is not installed,
// except on CI (env CI set), where that is a failure.
func requirePG(t *testing.T) {
	t.Helper()
	if testPG == nil {
		harness.Unavailable(t, "PostgreSQL", pgMissing)
	}
}

// createDB creates an empty database, dropped when the test ends, and
// returns its URL.
func createDB(t *testing.T, prefix string) (name, url string) {
	t.Helper()
	name = fmt.Sprintf("%s_%d", prefix, dbSeq.Add(1))
	ctx := context.Background()
	require.NoError(t, testPG.CreateDatabase(ctx, name))
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, testPG.URL("postgres"))
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
	})
	return name, testPG.URL(name)
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, conn *pgx.Conn, sqls ...string) {
	t.Helper()
	for _, s := range sqls {
		_, err := conn.Exec(context.Background(), s)
		require.NoError(t, err, s)
	}
}

// clientTool is a PostgreSQL client program next to the pg_dump FindPgDump
// picks, so that it can read that pg_dump's archives.
func clientTool(t *testing.T, name string) string {
	t.Helper()
	p, _, err := FindPgDump("")
	require.NoError(t, err)
	return filepath.Join(filepath.Dir(p), name)
}

// restoreCounts restores archive into a new database and counts its rows.
func restoreCounts(t *testing.T, archive string) map[string]int64 {
	t.Helper()
	_, url := createDB(t, "restored")
	out, err := exec.Command(clientTool(t, "pg_restore"), "--no-owner", "--exit-on-error", "--dbname="+url, archive).CombinedOutput()
	require.NoError(t, err, "pg_restore: %s", out)
	counts, err := countRows(context.Background(), connect(t, url))
	require.NoError(t, err)
	return counts
}

// pgDumpChildren lists this process's children named pg_dump (zombies too).
func pgDumpChildren(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	me := os.Getpid()
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		open, closeParen := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closeParen < open {
			continue
		}
		comm := s[open+1 : closeParen]
		fields := strings.Fields(s[closeParen+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == me && strings.HasPrefix(comm, "pg_dump") {
			out = append(out, e.Name()+" "+comm+" "+fields[0])
		}
	}
	return out
}

// waitNoPgDumpBackend waits until the server has no pg_dump session left on
// database db.
func waitNoPgDumpBackend(t *testing.T, db string) {
	t.Helper()
	conn := connect(t, testPG.URL("postgres"))
	var n int
	deadline := time.Now().Add(10 * time.Second)
	for {
		require.NoError(t, conn.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pg_dump'`, db).Scan(&n))
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pg_dump sessions still on the server", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
