//go:build e2e

package e2e

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// The once-a-minute check posts verdict changes to the ops channel: a standby whose server
// refuses connections makes the verdict critical, and the bot says so with the reason; when
// the standby setting is fixed, the bot posts the change back.
func TestStatusAlerts(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	// A recent backup, so that the verdict starts below critical (no backup at all is critical).
	runBackup(ctx, t, env, "--only database,config")
	st := getStatus(ctx, t, env, true)
	require.NotEqual(t, "critical", st.Verdict, "%+v", st.Reasons)
	// Let the current verdict settle first, so only this test's change is posted.
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"drstatusalertafter": "0"}))
	t.Cleanup(func() {
		_ = env.PatchPluginSettings(context.Background(), map[string]any{"drstatusalertafter": "2m", "drpostgresstandbydatasource": ""})
	})
	time.Sleep(70 * time.Second)

	since := model.GetMillis()
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"drpostgresstandbydatasource": "postgres://mmuser:pw-secret-9@" + addr + "/mattermost?sslmode=disable"}))
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "Disaster recovery status is **Critical**", 3*time.Minute)
	require.NoError(t, err)
	assert.Contains(t, post.Message, "database")
	assert.NotContains(t, post.Message, "pw-secret-9")
	assert.True(t, strings.HasPrefix(post.Message, "@here "), "a critical alert mentions @here (AlertMentionHere, on by default): %s", post.Message)

	since = model.GetMillis()
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"drpostgresstandbydatasource": ""}))
	post, err = env.WaitBotPost(ctx, env.OpsChannel.Id, since, "Disaster recovery status is", 3*time.Minute)
	require.NoError(t, err)
	assert.Contains(t, post.Message, "(was critical)")
	assert.NotContains(t, post.Message, "@here", "only critical alerts mention anyone")
}
