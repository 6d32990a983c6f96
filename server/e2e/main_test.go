//go:build e2e

// Package e2e tests the plugin bundle on a real Mattermost server with a real PostgreSQL,
// started by build/harness. Run with `make e2e` (it builds the bundle first).
package e2e

import (
	"os"
	"testing"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

func TestMain(m *testing.M) {
	os.Exit(harness.RunTests(m))
}
