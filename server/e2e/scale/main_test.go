//go:build e2e

// Package scale runs the large end-to-end tests on a deployment of their own: a Team Edition
// server refuses new users past its safe limit, which thousands of test users would reach
// for every test that runs after them.
package scale

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

func TestMain(m *testing.M) {
	os.Exit(harness.RunTests(m))
}

func cmd(ctx context.Context, t *testing.T, env *harness.Env, text string) string {
	t.Helper()
	resp, err := env.Command(ctx, env.Admin, "", text)
	require.NoError(t, err, text)
	return resp.Text
}
