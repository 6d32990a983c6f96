//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/plugin"
)

// A public channel with the ops channel's name, made by a non-admin before the plugin was
// enabled, is not adopted: the bot neither joins nor posts, and /dr version, the API the
// dashboard reads and the server log say why, naming the creator. Once an admin makes it
// private, it is used, and its non-admin member is named.
func TestPublicOpsChannelNotAdopted(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	name := "dr-ops-pub-" + strings.ToLower(model.NewId()[:6])
	t.Cleanup(func() {
		ctx := context.Background()
		_ = env.PatchPluginSettings(ctx, map[string]any{"opschannelname": harness.OpsChannelName})
		_, _ = env.Admin.Client.EnablePlugin(ctx, harness.PluginID)
		_ = env.WaitPluginRunning(ctx, time.Minute)
	})

	_, err := env.Admin.Client.DisablePlugin(ctx, harness.PluginID)
	require.NoError(t, err)
	ch, _, err := env.Member.Client.CreateChannel(ctx, &model.Channel{TeamId: env.Team.Id, Name: name, DisplayName: "DR ops", Type: model.ChannelTypeOpen})
	require.NoError(t, err, "a team member may create public channels")
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"opschannelname": name, "createopschannel": true}))
	_, err = env.Admin.Client.EnablePlugin(ctx, harness.PluginID)
	require.NoError(t, err)
	require.NoError(t, env.WaitPluginRunning(ctx, time.Minute))

	refusal := `ops channel ~` + name + ` in team "` + harness.TeamName + `" is public (created by @member, not a system admin)`
	resp, err := env.Command(ctx, env.Admin, "", "/dr version")
	require.NoError(t, err)
	assert.Contains(t, resp.Text, "need attention")
	assert.Contains(t, resp.Text, refusal)
	assert.Contains(t, resp.Text, "Convert it to private")
	assert.Contains(t, versionProblems(ctx, t, env), "ops channel: "+refusal+": the bot does not post DR reports where every team member can read them. "+
		"Convert it to private (channel menu > Convert to Private Channel, or System Console > User Management > Channels), or set OpsChannelName to a new name (with CreateOpsChannel on, the bot creates it private)")
	assert.True(t, strings.Contains(env.MM.LogTail(500), "The Disaster Recovery ops channel cannot be used"), "the server log says why")

	_, _, err = env.Admin.Client.GetChannelMember(ctx, ch.Id, env.BotUserID, "")
	assert.Error(t, err, "the bot did not join the public channel")
	posts, err := env.BotPosts(ctx, ch.Id, 0)
	require.NoError(t, err)
	assert.Empty(t, posts)
	_, _, err = env.Admin.Client.GetChannelByName(ctx, name+"-1", env.Team.Id, "")
	assert.Error(t, err, "no other channel was made beside it")

	// An admin converts it: it becomes the ops channel, and who else reads it is said.
	_, _, err = env.Admin.Client.UpdateChannelPrivacy(ctx, ch.Id, model.ChannelTypePrivate)
	require.NoError(t, err)
	exposure := "ops channel: ~" + name + " (created by @member, not a system admin) has 1 members who are not system admins and read every DR report: @member. Remove from the channel whoever should not read them"
	require.Eventually(t, func() bool {
		return slices.Contains(versionProblems(ctx, t, env), exposure)
	}, 15*time.Second, 250*time.Millisecond, "problems: %q", versionProblems(ctx, t, env))
	_, _, err = env.Admin.Client.GetChannelMember(ctx, ch.Id, env.BotUserID, "")
	assert.NoError(t, err, "the bot is in the private channel")
	resp, err = env.Command(ctx, env.Admin, "", "/dr version")
	require.NoError(t, err)
	assert.Contains(t, resp.Text, "has 1 members who are not system admins and read every DR report: @member")

	// Without the non-admin, nothing is left to say.
	_, err = env.Admin.Client.RemoveUserFromChannel(ctx, ch.Id, env.Member.Id)
	require.NoError(t, err)
	for _, p := range versionProblems(ctx, t, env) {
		assert.NotContains(t, p, "ops channel", p)
	}
}

func versionProblems(ctx context.Context, t *testing.T, env *harness.Env) []string {
	t.Helper()
	status, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/version", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, string(body))
	var v plugin.VersionInfo
	require.NoError(t, json.Unmarshal(body, &v))
	return v.Problems
}
