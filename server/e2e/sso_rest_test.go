//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/ssofallback"
)

// ssoList is the answer of GET /sso/fallbacks.
type ssoList struct {
	Fallbacks []ssofallback.Record `json:"fallbacks"`
	Running   *struct {
		ID       string `json:"id"`
		Progress string `json:"progress"`
	} `json:"running"`
}

func getSSOList(ctx context.Context, t *testing.T, env *harness.Env) ssoList {
	t.Helper()
	status, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/sso/fallbacks", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, string(body))
	var l ssoList
	require.NoError(t, json.Unmarshal(body, &l), string(body))
	require.NotNil(t, l.Fallbacks, "the list is wrapped: %s", body)
	return l
}

// The SSO routes behave like the chat commands: "all" only with "confirm", durations in days
// and weeks, a whole identity provider in the background (202 and a job the list shows until
// it ends), bad input 400 with what to do; and unknown routes answer JSON.
func TestSSORESTConventions(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ids := map[string]bool{}
	for _, n := range []string{"oidc1", "oidc2", "oidc3"} {
		ids[ssoUser(ctx, t, env, uniq(n), "openid", uniq(n)+"-subject").Id] = true
	}
	// post answers the status and, for an error, its message; else the body.
	post := func(path, body string) (int, string) {
		status, out, err := env.PluginRequest(ctx, env.Admin, http.MethodPost, path, strings.NewReader(body))
		require.NoError(t, err, path)
		var e struct{ Error string }
		if status >= 400 && json.Unmarshal(out, &e) == nil && e.Error != "" {
			return status, e.Error
		}
		return status, string(out)
	}
	for body, says := range map[string]string{
		`{"all":true,"service":"openid"}`:                                  `3 openid user(s) to email/password`,
		`{"all":true}`:                                                     `"all" needs "service"`,
		`{"usernames":["a"],"service":"openid"}`:                           `"service" goes with "all"`,
		`{"usernames":["a"],"expires":"soon"}`:                             `expires: invalid duration "soon"`,
		`{"usernames":["a"],"delivery":"pigeon"}`:                          `unknown delivery "pigeon"`,
		`{"all":true,"service":"cas","confirm":true}`:                      `unknown service "cas"`,
		`{"usernames":["a"],"keep_sessions":true}`:                         `goes with a restore`,
		`{"all":true,"service":"openid","delivery":"show","confirm":true}`: `named users only`,
	} {
		status, out := post("/api/v1/sso/fallback", body)
		assert.Equal(t, http.StatusBadRequest, status, body)
		assert.Contains(t, out, says, body)
	}
	require.Empty(t, inFallback(getSSOList(ctx, t, env), ids), "nothing was switched by a refused request")

	status, out := post("/api/v1/sso/fallback", `{"all":true,"service":"openid","confirm":true,"delivery":"dm","expires":"2w","reason":"REST test"}`)
	require.Equal(t, http.StatusAccepted, status, out)
	var started struct {
		Job   struct{ ID string } `json:"job"`
		Users int                 `json:"users"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &started))
	assert.NotEmpty(t, started.Job.ID)
	assert.GreaterOrEqual(t, started.Users, 3)
	l := waitSSOJob(ctx, t, env)
	recs := inFallback(l, ids)
	require.Len(t, recs, 3)
	for _, r := range recs {
		assert.InDelta(t, float64(time.Now().Add(14*24*time.Hour).UnixMilli()), float64(r.ExpiresAt), float64(5*time.Minute/time.Millisecond), "expires 2w")
		u, _, err := env.Admin.Client.GetUser(ctx, r.UserID, "")
		require.NoError(t, err)
		assert.Empty(t, u.AuthService, "@%s is on email/password", u.Username)
	}

	status, out = post("/api/v1/sso/restore", `{"all":true,"service":"openid"}`)
	assert.Equal(t, http.StatusBadRequest, status, out)
	assert.Contains(t, out, `restores 3 user(s)`)
	status, out = post("/api/v1/sso/restore", `{"all":true,"service":"openid","confirm":true}`)
	require.Equal(t, http.StatusAccepted, status, out)
	require.Empty(t, inFallback(waitSSOJob(ctx, t, env), ids))
	for id := range ids {
		u, _, err := env.Admin.Client.GetUser(ctx, id, "")
		require.NoError(t, err)
		assert.Equal(t, "openid", u.AuthService, "@%s is back on its SSO sign-in", u.Username)
	}

	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/api/v1/no-such-route", http.StatusNotFound},
		{http.MethodDelete, "/api/v1/status", http.StatusMethodNotAllowed},
	} {
		status, body, err := env.PluginRequest(ctx, env.Admin, c.method, c.path, nil)
		require.NoError(t, err)
		assert.Equal(t, c.want, status, string(body))
		var e struct{ Error string }
		assert.NoError(t, json.Unmarshal(body, &e), "JSON: %s", body)
		assert.NotEmpty(t, e.Error)
	}
}

// waitSSOJob polls the list until no SSO job runs.
func waitSSOJob(ctx context.Context, t *testing.T, env *harness.Env) ssoList {
	t.Helper()
	var l ssoList
	require.Eventually(t, func() bool { l = getSSOList(ctx, t, env); return l.Running == nil }, 2*time.Minute, 200*time.Millisecond)
	return l
}

func inFallback(l ssoList, ids map[string]bool) []ssofallback.Record {
	var out []ssofallback.Record
	for _, r := range l.Fallbacks {
		if ids[r.UserID] {
			out = append(out, r)
		}
	}
	return out
}
