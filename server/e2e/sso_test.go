//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// Fifty SSO users; a few fall back, sign in with the temporary password through the real
// login API, and are restored byte for byte with their fallback sessions revoked.
func TestSSOFallbackRoundTrip(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	services := []string{"saml", "ldap", "gitlab"}
	var users []*harness.User
	original := map[string]string{}
	for i := 0; i < 50; i++ {
		svc := services[i%3]
		data := map[string]string{
			"saml":   fmt.Sprintf("User.%d@Example.COM", i),
			"ldap":   fmt.Sprintf("CN=Dr User %d,OU=People,DC=Example,DC=com", i),
			"gitlab": fmt.Sprintf("%d", 4000+i),
		}[svc]
		if i == 3 {
			data = strings.Repeat("aB3", 42) + "Zz" // the 128-character maximum, mixed case
		}
		u := ssoUser(ctx, t, env, uniq(fmt.Sprintf("sso%02d", i)), svc, data)
		users = append(users, u)
		original[u.Id] = svc + "|" + data
	}
	require.Len(t, original[users[3].Id], len("saml|")+128)

	show := []*harness.User{users[0], users[1], users[2], users[3]}
	line := "/dr sso fallback"
	for _, u := range show {
		line += " @" + u.Username
	}
	text := cmd(ctx, t, env, line+` --reason "IdP down" --expires 2h --deliver show`)
	passwords := shownPasswords(text)
	require.Len(t, passwords, len(show), text)

	// Signing in with email and the temporary password works through the real login API.
	fallbackClient := model.NewAPIv4Client(env.MM.URL)
	_, _, err := fallbackClient.Login(ctx, show[0].Email, passwords[show[0].Username])
	require.NoError(t, err, "the temporary password signs in")
	_, _, err = fallbackClient.GetMe(ctx, "")
	require.NoError(t, err)

	// dm: the user reads the password on a device that is still signed in.
	dmUser := users[4]
	text = cmd(ctx, t, env, "/dr sso fallback @"+dmUser.Username+" --deliver dm")
	assert.Contains(t, text, "temporary password sent by direct message")
	dmChannel, _, err := dmUser.Client.CreateDirectChannel(ctx, dmUser.Id, env.BotUserID)
	require.NoError(t, err)
	posts, _, err := dmUser.Client.GetPostsForChannel(ctx, dmChannel.Id, 0, 10, "", false, false)
	require.NoError(t, err)
	require.NotEmpty(t, posts.Order)
	msg := posts.Posts[posts.Order[0]].Message
	dmPassword := strings.Split(msg, "`")[5]
	dmLogin := model.NewAPIv4Client(env.MM.URL)
	_, _, err = dmLogin.Login(ctx, dmUser.Username, dmPassword)
	require.NoError(t, err, "the DM'd password signs in")

	// Listed, with who and why; and over REST.
	text = cmd(ctx, t, env, "/dr sso list")
	for _, u := range append(show, dmUser) {
		assert.Contains(t, text, "@"+u.Username)
	}
	assert.Contains(t, text, "IdP down")
	status, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/sso/fallbacks", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	assert.GreaterOrEqual(t, len(getSSOList(ctx, t, env).Fallbacks), 5)
	assert.NotContains(t, string(body), passwords[show[0].Username], "records never hold a password")

	// A second fallback does not overwrite the original.
	text = cmd(ctx, t, env, "/dr sso fallback @"+show[0].Username+" --deliver show")
	assert.Contains(t, text, "| already |")

	// Restore, over REST for one, by command for the rest.
	status, body, err = env.PluginRequest(ctx, env.Admin, http.MethodPost, "/api/v1/sso/restore", strings.NewReader(`{"usernames":["`+dmUser.Username+`"]}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, string(body))
	line = "/dr sso restore"
	for _, u := range show {
		line += " @" + u.Username
	}
	text = cmd(ctx, t, env, line)
	assert.Equal(t, len(show), strings.Count(text, "| done |"), text)

	for _, u := range users {
		back, _, err := env.Admin.Client.GetUser(ctx, u.Id, "")
		require.NoError(t, err)
		require.NotNil(t, back.AuthData)
		assert.Equal(t, original[u.Id], back.AuthService+"|"+*back.AuthData, "@%s restored byte for byte", u.Username)
	}
	_, _, err = model.NewAPIv4Client(env.MM.URL).Login(ctx, show[0].Email, passwords[show[0].Username])
	assert.Error(t, err, "the temporary password no longer works")
	_, resp, err := fallbackClient.GetMe(ctx, "")
	require.Error(t, err, "the session made during the fallback is revoked")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_, _, err = dmLogin.GetMe(ctx, "")
	assert.Error(t, err, "the DM user's fallback session is revoked")
	_, _, err = dmUser.Client.GetMe(ctx, "")
	assert.NoError(t, err, "a session from before the fallback is left alone")

	assert.Contains(t, cmd(ctx, t, env, "/dr sso list"), "Nobody is in SSO fallback")
	text = cmd(ctx, t, env, "/dr sso restore @"+show[1].Username)
	assert.Contains(t, text, "not in fallback", "restoring twice is harmless")

	// Each switch and restore is in the audit trail, by the admin, without any password.
	text = cmd(ctx, t, env, "/dr audit --action sso. --limit 200")
	for _, u := range show {
		assert.Contains(t, text, u.Id)
	}
	assert.Contains(t, text, "sso.fallback")
	assert.Contains(t, text, "sso.restore")
	for _, pw := range passwords {
		assert.NotContains(t, text, pw)
	}
	status, body, err = env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/audit/export?format=jsonl", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	for _, pw := range passwords {
		assert.NotContains(t, string(body), pw)
	}
}

func TestSSOBadInput(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	for line, want := range map[string]string{
		"/dr sso fallback":                                               "name the users",
		"/dr sso fallback --all":                                         "--all needs --service",
		"/dr sso fallback --service saml":                                "--service goes with --all",
		"/dr sso fallback --all --service cas":                           `"cas"`,
		"/dr sso fallback @nobody-here --deliver show":                   "no such user",
		"/dr sso fallback @a --deliver pigeon":                           "pigeon",
		"/dr sso fallback --all --service saml --deliver show --confirm": "named users only",
		"/dr sso fallback @a --expires soon":                             "invalid duration",
		"/dr sso restore":                                                "name the users",
	} {
		assert.Contains(t, cmd(ctx, t, env, line), want, line)
	}
	// --all without --confirm only counts.
	text := cmd(ctx, t, env, "/dr sso fallback --all --service google")
	assert.Contains(t, text, "would be switched")
	assert.Contains(t, text, "--confirm")
}

// kill -9 of the plugin at each step of a fallback (and of a restore): running the command
// again, or restoring, converges and loses nothing.
func TestSSOCrashRecovery(t *testing.T) {
	env := harness.Require(t)
	for _, fp := range []string{"sso.after-record", "sso.after-switch", "sso.before-deliver", "sso.restore.after-auth"} {
		t.Run(fp, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			data := "Crash.Test." + fp + "@Example.com"
			u := ssoUser(ctx, t, env, uniq("crash"), "saml", data)

			restoreCrash := fp == "sso.restore.after-auth"
			if restoreCrash {
				cmd(ctx, t, env, "/dr sso fallback @"+u.Username+" --deliver show")
			}
			require.NoError(t, env.SetFailpoints(fp))
			line := "/dr sso fallback @" + u.Username + " --deliver show"
			if restoreCrash {
				line = "/dr sso restore @" + u.Username
			}
			pidBefore := pluginPID(t, env)
			_, err := env.Command(ctx, env.Admin, "", line)
			require.NoError(t, env.SetFailpoints())
			require.Error(t, err, "the plugin process died at %s, so the command got no answer", fp)
			require.Eventually(t, func() bool { return !processAlive(pidBefore) }, 10*time.Second, 100*time.Millisecond, "plugin process %d still alive", pidBefore)
			waitPluginBack(ctx, t, env)
			require.NotEqual(t, pidBefore, pluginPID(t, env), "a new plugin process serves")

			if !restoreCrash {
				assert.Contains(t, cmd(ctx, t, env, "/dr sso list"), "@"+u.Username, "the intent was recorded before acting")
				if fp != "sso.after-record" {
					// Running the fallback again finishes it.
					text := cmd(ctx, t, env, "/dr sso fallback @"+u.Username+" --deliver show")
					assert.Contains(t, text, "| done |", text)
				}
			}
			text := cmd(ctx, t, env, "/dr sso restore @"+u.Username)
			assert.Contains(t, text, "| done |", text)
			back, _, err := env.Admin.Client.GetUser(ctx, u.Id, "")
			require.NoError(t, err)
			assert.Equal(t, "saml", back.AuthService)
			assert.Equal(t, data, *back.AuthData)
			assert.NotContains(t, cmd(ctx, t, env, "/dr sso list"), "@"+u.Username)
		})
	}
}

func TestAuditRefusalsAndTamper(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	_, err := env.Command(ctx, env.Member, "", "/dr sso list")
	require.NoError(t, err)
	_, _, err = env.PluginRequest(ctx, env.Member, http.MethodGet, "/api/v1/audit", nil)
	require.NoError(t, err)
	text := cmd(ctx, t, env, "/dr audit --action auth.refused --user @"+env.Member.Username)
	assert.Contains(t, text, "/dr sso list")
	assert.Contains(t, text, "GET /plugins/disaster-recovery/api/v1/audit")

	assert.Contains(t, cmd(ctx, t, env, "/dr audit verify"), "is intact")

	// Edit one stored record in the database, as an intruder with DB access would.
	db := mmDB(t, env)
	const key = "audit/r/0000000000000001"
	var raw []byte
	require.NoError(t, db.QueryRowContext(ctx, `SELECT PValue FROM PluginKeyValueStore WHERE PluginId = $1 AND PKey = $2`, harness.PluginID, key).Scan(&raw))
	var rec map[string]any
	require.NoError(t, json.Unmarshal(raw, &rec))
	rec["actor"] = "someone-else"
	edited, _ := json.Marshal(rec)
	_, err = db.ExecContext(ctx, `UPDATE PluginKeyValueStore SET PValue = $3 WHERE PluginId = $1 AND PKey = $2`, harness.PluginID, key, edited)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = db.ExecContext(context.Background(), `UPDATE PluginKeyValueStore SET PValue = $3 WHERE PluginId = $1 AND PKey = $2`, harness.PluginID, key, raw)
	})
	text = cmd(ctx, t, env, "/dr audit verify")
	assert.Contains(t, text, "NOT intact")
	assert.Contains(t, text, "record 1:")

	_, err = db.ExecContext(ctx, `UPDATE PluginKeyValueStore SET PValue = $3 WHERE PluginId = $1 AND PKey = $2`, harness.PluginID, key, raw)
	require.NoError(t, err)
	assert.Contains(t, cmd(ctx, t, env, "/dr audit verify"), "is intact")

	// CSV export.
	status, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/audit/export?format=csv&action=auth.", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	assert.True(t, strings.HasPrefix(string(body), "seq,"), string(body[:min(len(body), 80)]))
	assert.Contains(t, string(body), "auth.refused")
}

var resetToken = regexp.MustCompile(`token=([a-zA-Z0-9]{16,})`)

// With email configured, the default delivery is Mattermost's own password-reset email: the
// user follows the link, sets a password, signs in; restore puts SSO back and the password
// stops working.
func TestSSOFallbackResetLink(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	sink, err := harness.StartSMTPSink()
	require.NoError(t, err)
	defer sink.Close()
	disable, err := env.EnableEmail(ctx, sink)
	require.NoError(t, err)
	defer disable()

	u := ssoUser(ctx, t, env, uniq("reset"), "gitlab", "987654")
	text := cmd(ctx, t, env, "/dr sso fallback @"+u.Username+` --reason "GitLab down"`)
	require.Contains(t, text, "password-reset email sent", text)

	// Adding the user to the team sent a welcome email too: find the one with the reset link.
	var token string
	require.Eventually(t, func() bool {
		for _, mail := range sink.To(u.Email) {
			flat := strings.NewReplacer("=\r\n", "", "=\n", "", "=3D", "=").Replace(mail.Data) // undo quoted-printable
			if m := resetToken.FindStringSubmatch(flat); m != nil {
				token = m[1]
				return true
			}
		}
		return false
	}, 20*time.Second, 100*time.Millisecond, "no password-reset email reached the SMTP sink")

	newPassword := "Back-In-" + model.NewId()[:10] + "!"
	_, err = model.NewAPIv4Client(env.MM.URL).ResetPassword(ctx, token, newPassword)
	require.NoError(t, err, "the reset link works for a user switched to email")
	c := model.NewAPIv4Client(env.MM.URL)
	_, _, err = c.Login(ctx, u.Email, newPassword)
	require.NoError(t, err)

	text = cmd(ctx, t, env, "/dr sso restore @"+u.Username)
	require.Contains(t, text, "| done |", text)
	back, _, err := env.Admin.Client.GetUser(ctx, u.Id, "")
	require.NoError(t, err)
	assert.Equal(t, "gitlab", back.AuthService)
	assert.Equal(t, "987654", *back.AuthData)
	_, _, err = model.NewAPIv4Client(env.MM.URL).Login(ctx, u.Email, newPassword)
	assert.Error(t, err, "the password set during the fallback no longer works")
	_, _, err = c.GetMe(ctx, "")
	assert.Error(t, err, "its session is revoked")

	// --deliver email: the temporary password arrives by email (plugin API SendMail).
	mailed := ssoUser(ctx, t, env, uniq("mailed"), "saml", "Mailed@Example.com")
	text = cmd(ctx, t, env, "/dr sso fallback @"+mailed.Username+" --deliver email")
	require.Contains(t, text, "temporary password sent by email", text)
	var password string
	require.Eventually(t, func() bool {
		for _, mail := range sink.To(mailed.Email) {
			flat := strings.NewReplacer("=\r\n", "", "=\n", "", "=3D", "=").Replace(mail.Data)
			if i := strings.Index(flat, "temporary password:"); i >= 0 {
				parts := strings.Split(flat[i:], "`")
				if len(parts) > 1 {
					password = parts[1]
					return true
				}
			}
		}
		return false
	}, 20*time.Second, 100*time.Millisecond, "no email with the temporary password")
	_, _, err = model.NewAPIv4Client(env.MM.URL).Login(ctx, mailed.Email, password)
	require.NoError(t, err, "the emailed password signs in")
	assert.Contains(t, cmd(ctx, t, env, "/dr sso restore @"+mailed.Username), "| done |")
}

// When a fallback window ends, the bot reminds the ops channel and the admin; with
// AutoRestoreOnExpiry it also restores the user. The check runs once a minute across the
// cluster, so this test waits for one cycle.
func TestSSOExpiry(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	remind := ssoUser(ctx, t, env, uniq("expire"), "saml", "Expire.Remind@Example.com")
	since := model.GetMillis()
	cmd(ctx, t, env, "/dr sso fallback @"+remind.Username+` --expires 1s --deliver show --reason "expiry test"`)
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "The SSO fallback of @"+remind.Username, 100*time.Second)
	require.NoError(t, err)
	assert.Contains(t, post.Message, "/dr sso restore @"+remind.Username)
	assert.Contains(t, cmd(ctx, t, env, "/dr sso list"), "@"+remind.Username, "a reminder does not restore")

	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"autorestoreonexpiry": true}))
	t.Cleanup(func() {
		_ = env.PatchPluginSettings(context.Background(), map[string]any{"autorestoreonexpiry": false})
	})
	auto := ssoUser(ctx, t, env, uniq("expire"), "ldap", "CN=Expire Auto,DC=example,DC=com")
	since = model.GetMillis()
	cmd(ctx, t, env, "/dr sso fallback @"+auto.Username+" --expires 1s --deliver show")
	post, err = env.WaitBotPost(ctx, env.OpsChannel.Id, since, "The SSO fallback of @"+auto.Username, 100*time.Second)
	require.NoError(t, err)
	assert.Contains(t, post.Message, "AutoRestoreOnExpiry restored it: done")
	back, _, err := env.Admin.Client.GetUser(ctx, auto.Id, "")
	require.NoError(t, err)
	assert.Equal(t, "ldap", back.AuthService)
	assert.Equal(t, "CN=Expire Auto,DC=example,DC=com", *back.AuthData)

	cmd(ctx, t, env, "/dr sso restore @"+remind.Username)
}
