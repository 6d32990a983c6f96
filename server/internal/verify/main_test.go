package verify_test

import (
	"os"
	"testing"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
)

// TestMain starts one PostgreSQL cluster for the package's backups and drills. Tests that
// need it skip, saying why, when it cannot be started, except under CI (CI set), where they
// fail.
func TestMain(m *testing.M) {
	os.Exit(harness.RunWithPostgres(m, "verify-test-pg", func(pg *harness.Postgres, missing string) (stop func(), _ error) {
		backuptest.UsePostgres(pg, missing)
		return nil, nil
	}))
}
