//go:build e2e

package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// mmDB opens the Mattermost database of the harness.
func mmDB(t *testing.T, env *harness.Env) *sql.DB {
	db, err := sql.Open("pgx", env.PG.URL("mattermost"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// ssoUser creates a user with a password and a live session, then binds it to an SSO
// service through the REST API, as an IdP sync would. The session stays valid: it stands for
// a device the user is still signed in on.
func ssoUser(ctx context.Context, t *testing.T, env *harness.Env, username, service, authData string) *harness.User {
	u, err := env.CreateUser(ctx, username, false)
	require.NoError(t, err)
	_, _, err = env.Admin.Client.AddTeamMember(ctx, env.Team.Id, u.Id)
	require.NoError(t, err)
	_, _, err = env.Admin.Client.UpdateUserAuth(ctx, u.Id, &model.UserAuth{AuthService: service, AuthData: &authData})
	require.NoError(t, err)
	back, _, err := env.Admin.Client.GetUser(ctx, u.Id, "")
	require.NoError(t, err)
	require.Equal(t, service, back.AuthService)
	require.Equal(t, authData, *back.AuthData)
	u.User = back
	return u
}

// cmd runs a /dr command as the admin and fails the test on a transport error.
func cmd(ctx context.Context, t *testing.T, env *harness.Env, text string) string {
	t.Helper()
	resp, err := env.Command(ctx, env.Admin, "", text)
	require.NoError(t, err, text)
	return resp.Text
}

var passwordCell = regexp.MustCompile("\\| @([a-z0-9._-]+) \\| done \\| [^|]*: `([^`]+)` \\|")

// shownPasswords reads the temporary passwords of a `--deliver show` answer.
func shownPasswords(text string) map[string]string {
	out := map[string]string{}
	for _, m := range passwordCell.FindAllStringSubmatch(text, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// waitPluginBack waits until the plugin answers again after its process died: Mattermost's
// plugin health check restarts it.
func waitPluginBack(ctx context.Context, t *testing.T, env *harness.Env) {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := env.Command(ctx, env.Admin, "", "/dr version")
		if err == nil && strings.Contains(resp.Text, "Plugin") {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("the plugin did not come back within 90 s\n%s", env.MM.LogTail(30))
}

func uniq(prefix string) string {
	return fmt.Sprintf("%s%s", prefix, strings.ToLower(model.NewId()[:6]))
}
