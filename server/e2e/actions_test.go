//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// controlPost waits for the bot's newest post in the ops channel whose disaster_recovery_control is control.
func controlPost(ctx context.Context, t *testing.T, env *harness.Env, control string) *model.Post {
	t.Helper()
	var found *model.Post
	require.Eventually(t, func() bool {
		list, _, err := env.Admin.Client.GetPostsForChannel(ctx, env.OpsChannel.Id, 0, 30, "", false, false)
		if err != nil {
			return false
		}
		for _, id := range list.Order {
			p := list.Posts[id]
			if p.UserId == env.BotUserID && p.GetProp("disaster_recovery_control") == control {
				found = p
				return true
			}
		}
		return false
	}, time.Minute, 200*time.Millisecond, "no post with the control %s", control)
	return found
}

// buttons are the action ids of a post's attachments.
func buttons(p *model.Post) []string {
	var ids []string
	for _, a := range p.Attachments() {
		for _, act := range a.Actions {
			ids = append(ids, act.Id)
		}
	}
	return ids
}

// forgedButton is what anyone can post: a message with a button that points at the plugin's
// action route and claims a control, hoping an admin clicks it.
func forgedButton(ctx context.Context, t *testing.T, u *harness.User, channelID, control, route string) *model.Post {
	t.Helper()
	p := &model.Post{ChannelId: channelID, Message: "Please click to confirm the failover"}
	p.AddProp("disaster_recovery_control", control)
	p.AddProp("attachments", []*model.MessageAttachment{{Actions: []*model.PostAction{{Id: "confirm", Name: "Confirm", Type: model.PostActionTypeButton,
		Integration: &model.PostActionIntegration{URL: "/plugins/" + harness.PluginID + "/api/v1/actions/" + route}}}}})
	created, _, err := u.Client.CreatePost(ctx, p)
	require.NoError(t, err)
	require.NotEmpty(t, buttons(created), "the server kept the forged button")
	return created
}

// auditHas says whether the trail holds an entry of action that contains every one of subs.
func auditHas(ctx context.Context, t *testing.T, env *harness.Env, action string, subs ...string) bool {
	t.Helper()
	status, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/audit?limit=200&action="+action, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, string(body))
	var recs []map[string]any
	require.NoError(t, json.Unmarshal(body, &recs))
	for _, r := range recs {
		b, _ := json.Marshal(r)
		all := true
		for _, s := range subs {
			all = all && strings.Contains(string(b), s)
		}
		if all {
			return true
		}
	}
	return false
}

// The fallback's post in the ops channel has a Restore now button; a member cannot use it, a
// forged copy does nothing, and the admin's click restores exactly the users it switched.
func TestSSORestoreButton(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a := ssoUser(ctx, t, env, uniq("btn-a"), "saml", uniq("btn-a")+"@idp")
	b := ssoUser(ctx, t, env, uniq("btn-b"), "saml", uniq("btn-b")+"@idp")
	cmd(ctx, t, env, "/dr sso fallback @"+a.Username+" @"+b.Username+" --deliver dm --reason button")

	var post *model.Post
	require.Eventually(t, func() bool {
		list, _, err := env.Admin.Client.GetPostsForChannel(ctx, env.OpsChannel.Id, 0, 30, "", false, false)
		require.NoError(t, err)
		for _, id := range list.Order {
			p := list.Posts[id]
			if c, _ := p.GetProp("disaster_recovery_control").(string); p.UserId == env.BotUserID && strings.HasPrefix(c, "sso:") && strings.Contains(p.Message, "ran SSO fallback: 2 done") {
				post = p
				return true
			}
		}
		return false
	}, time.Minute, 200*time.Millisecond)
	require.Equal(t, []string{"restore"}, buttons(post))

	// A member of the ops channel who is not a system admin: the router refuses the click.
	_, _, err := env.Admin.Client.AddChannelMember(ctx, env.OpsChannel.Id, env.Member.Id)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = env.Admin.Client.RemoveUserFromChannel(context.Background(), env.OpsChannel.Id, env.Member.Id)
	})
	// (The server passes a plugin's refusal on as an empty answer: the member sees nothing.)
	_, _ = env.Member.Client.DoPostAction(ctx, post.Id, "restore")
	assert.True(t, auditHas(ctx, t, env, "auth.refused", "/actions/sso/restore", env.Member.Id, "not a system admin"), "the member's click is refused and recorded")

	// A forged button, clicked by the admin, claiming the real post's control.
	forged := forgedButton(ctx, t, env.Member, env.OpsChannel.Id, post.GetProp("disaster_recovery_control").(string), "sso/restore")
	_, err = env.Admin.Client.DoPostAction(ctx, forged.Id, "confirm")
	require.NoError(t, err, "the server passes the click on; the plugin answers with an ephemeral refusal")
	assert.True(t, auditHas(ctx, t, env, "auth.refused", "did not make", env.Admin.Id), "the forged click is recorded")
	for _, u := range []*harness.User{a, b} {
		back, _, err := env.Admin.Client.GetUser(ctx, u.Id, "")
		require.NoError(t, err)
		assert.Empty(t, back.AuthService, "@%s is still in fallback after the member's and the forged clicks", back.Username)
	}

	_, err = env.Admin.Client.DoPostAction(ctx, post.Id, "restore")
	require.NoError(t, err)
	for _, u := range []*harness.User{a, b} {
		back, _, err := env.Admin.Client.GetUser(ctx, u.Id, "")
		require.NoError(t, err)
		assert.Equal(t, "saml", back.AuthService, "@%s is back on SSO", back.Username)
	}
	updated, _, err := env.Admin.Client.GetPost(ctx, post.Id, "")
	require.NoError(t, err)
	assert.Empty(t, buttons(updated), "a spent button is gone")
	assert.Contains(t, updated.Message, "@"+env.Admin.Username+",")
	assert.Contains(t, updated.Message, "SSO restore: 2 done")
	assert.True(t, auditHas(ctx, t, env, "sso.restore", a.Id), "the click's restore is in the trail like the command's")
}
