//go:build e2e

package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// mmDB opens the Mattermost database of the harness.
func mmDB(t *testing.T, env *harness.Env) *sql.DB {
	db, err := env.OpenDB()
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

// waitPluginBack brings the plugin back after its process was killed. Mattermost's health
// check restarts a crashed plugin every 30 s, but only three times an hour, so tests that
// crash it on purpose restart it themselves: disable and enable, as an admin would.
func waitPluginBack(ctx context.Context, t *testing.T, env *harness.Env) {
	t.Helper()
	require.NoError(t, env.RestartPlugin(ctx))
	resp, err := env.Command(ctx, env.Admin, "", "/dr version")
	require.NoError(t, err)
	require.Contains(t, resp.Text, "Plugin", "the plugin answers again")
}

func uniq(prefix string) string {
	return fmt.Sprintf("%s%s", prefix, strings.ToLower(model.NewId()[:6]))
}

// pluginPID finds the process id of the plugin under the harness's server folder.
func pluginPID(t *testing.T, env *harness.Env) int {
	t.Helper()
	want := filepath.Join(env.MM.Dir, "plugins", harness.PluginID, "server", "dist")
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && strings.HasPrefix(exe, want) {
			return pid
		}
	}
	t.Fatalf("no plugin process under %s", want)
	return 0
}

func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b))
	return len(fields) > 2 && fields[2] != "Z" // a zombie has died
}

// standbyOf starts a streaming standby of the deployment's database in a folder of its own
// (returned: the postgres user can read it), removed with the standby's slot when the test ends.
func standbyOf(ctx context.Context, t *testing.T, env *harness.Env, slot string) (*harness.Standby, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "dr-"+strings.ReplaceAll(slot, "_", "-")+"-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	sb, err := env.PG.StartStandby(ctx, filepath.Join(dir, "standby"), slot)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := sb.DropSlot(context.Background()); err != nil {
			t.Logf("drop the standby's slot: %v", err)
		}
	})
	return sb, dir
}
