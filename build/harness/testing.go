package harness

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// Unavailable is what a test does when a service it needs could not be started: it skips,
// saying why, except on CI (CI set), which makes every service available, where it fails.
func Unavailable(t testing.TB, service string, cause any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required on CI and is unavailable: %v", service, cause)
	}
	t.Skipf("skipping: %s is unavailable (%v)", service, cause)
}

// TestPostgres starts the PostgreSQL cluster a test package shares, from its TestMain. Without
// PostgreSQL's server binaries it returns a nil cluster and the reason (tests then call
// Unavailable); a cluster that fails to start is an error. stop removes everything.
func TestPostgres(prefix string) (pg *Postgres, missing string, stop func(), err error) {
	stop = func() {}
	if _, err := PGBinDir(); err != nil {
		return nil, err.Error(), stop, nil
	}
	dir, err := os.MkdirTemp("", prefix+"-")
	if err != nil {
		return nil, "", stop, err
	}
	// The cluster runs as the postgres user when the tests run as root: it must reach the folder.
	if err := os.Chmod(dir, 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", stop, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err = StartPostgres(ctx, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", stop, fmt.Errorf("start PostgreSQL: %w", err)
	}
	return pg, "", func() { pg.Stop(); _ = os.RemoveAll(dir) }, nil
}

// RunWithPostgres is the TestMain of a package whose tests share one PostgreSQL cluster
// (TestPostgres): setup gets the cluster (nil without PostgreSQL, missing saying why) and
// may start more around it; then the tests run, then setup's stop (when not nil) and the
// cluster's. It returns the exit code for os.Exit.
func RunWithPostgres(m *testing.M, prefix string, setup func(pg *Postgres, missing string) (stop func(), err error)) int {
	pg, missing, stopPG, err := TestPostgres(prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopPG()
	stop, err := setup(pg, missing)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if stop != nil {
		defer stop()
	}
	return m.Run()
}

// RequireMinIO starts a MinIO server of the test's own, stopped when the test ends; when MinIO
// cannot be built or started the test is Unavailable (skipped locally, failed on CI).
func RequireMinIO(ctx context.Context, t testing.TB) *MinIO {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := MinIOBinaries(ctx, root)
	if err != nil {
		Unavailable(t, "MinIO", err)
	}
	m, err := StartMinIO(ctx, bin)
	if err != nil {
		Unavailable(t, "MinIO", err)
	}
	t.Cleanup(m.Stop)
	return m
}
