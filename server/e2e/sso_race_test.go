//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/ssofallback"
)

// raceRounds is 200, or 50 when CI=true (a round takes about half a second on a busy 2-core
// machine); DR_SSO_RACE_ROUNDS sets it, never below 1.
func raceRounds(t *testing.T) int {
	rounds := 200
	if os.Getenv("CI") == "true" {
		rounds = 50
	}
	if v := os.Getenv("DR_SSO_RACE_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "DR_SSO_RACE_ROUNDS")
		rounds = max(n, 1)
	}
	return rounds
}

// ssoCall posts a fallback or restore to the plugin's REST API and tallies the outcomes.
func ssoCall(ctx context.Context, t *testing.T, env *harness.Env, u *harness.User, path, body string, tally map[ssofallback.Outcome]int) {
	status, out, err := env.PluginRequest(ctx, u, http.MethodPost, path, strings.NewReader(body))
	if !assert.NoError(t, err, path) || !assert.Equal(t, http.StatusOK, status, "%s: %s", path, out) {
		return
	}
	var rep ssofallback.Report
	if assert.NoError(t, json.Unmarshal(out, &rep)) {
		for _, r := range rep.Results {
			tally[r.Outcome]++
		}
	}
}

// fallbackRecords reads every record over REST, by user id.
func fallbackRecords(ctx context.Context, t *testing.T, env *harness.Env) map[string]ssofallback.Record {
	out := map[string]ssofallback.Record{}
	for _, r := range getSSOList(ctx, t, env).Fallbacks {
		out[r.UserID] = r
	}
	return out
}

// Two admins race POST /sso/fallback and POST /sso/restore for the same 20 SAML users. At
// the end every user has either a record of their original binding or that binding, byte for
// byte; before the fix, about half of them had neither.
func TestSSOFallbackRestoreRace(t *testing.T) {
	env := harness.Require(t)
	rounds := raceRounds(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rounds)*3*time.Second+2*time.Minute)
	defer cancel()
	second, err := env.CreateUser(ctx, uniq("admin2"), true)
	require.NoError(t, err)

	var names []string
	original := map[string]string{}
	for i := 0; i < 20; i++ {
		data := fmt.Sprintf("Race.%02d.%s@Example.COM", i, model.NewId()[:6])
		u := ssoUser(ctx, t, env, uniq(fmt.Sprintf("race%02d", i)), "saml", data)
		names = append(names, u.Username)
		original[u.Id] = "saml|" + data
	}
	users, _ := json.Marshal(names)
	fallbackBody := `{"usernames":` + string(users) + `,"delivery":"show","reason":"race test"}`
	restoreBody := `{"usernames":` + string(users) + `}`

	tallies := map[string]map[ssofallback.Outcome]int{"fallback": {}, "restore": {}}
	start := time.Now()
	var wg sync.WaitGroup
	for what, run := range map[string]func(){
		"fallback": func() { ssoCall(ctx, t, env, env.Admin, "/api/v1/sso/fallback", fallbackBody, tallies["fallback"]) },
		"restore":  func() { ssoCall(ctx, t, env, second, "/api/v1/sso/restore", restoreBody, tallies["restore"]) },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds && ctx.Err() == nil; r++ {
				run()
			}
			t.Logf("%s outcomes: %v", what, tallies[what])
		}()
	}
	wg.Wait()
	took := time.Since(start)
	t.Logf("%d rounds of concurrent fallback and restore of %d SAML users in %s (%s a round)", rounds, len(names), took.Round(time.Millisecond), (took / time.Duration(rounds)).Round(time.Millisecond))
	assert.Positive(t, tallies["fallback"][ssofallback.Done], "the fallbacks did switch users")
	assert.Positive(t, tallies["restore"][ssofallback.Done], "the restores did restore users")

	recs := fallbackRecords(ctx, t, env)
	inFallback, lost := 0, 0
	for id, want := range original {
		back, _, err := env.Admin.Client.GetUser(ctx, id, "")
		require.NoError(t, err)
		rec, recorded := recs[id]
		switch {
		case recorded && rec.AuthData != nil && rec.AuthService+"|"+*rec.AuthData == want:
			inFallback++
		case back.AuthData != nil && back.AuthService+"|"+*back.AuthData == want:
		default:
			lost++
			t.Errorf("@%s has neither a record nor the original binding: now %q, record %v", back.Username, back.AuthService, recorded)
		}
	}
	t.Logf("at the end: %d in fallback with their record, %d on their original binding, %d with neither", inFallback, len(original)-inFallback-lost, lost)

	// Restoring everyone afterwards puts every binding back.
	ssoCall(ctx, t, env, env.Admin, "/api/v1/sso/restore", restoreBody, map[ssofallback.Outcome]int{})
	for id, want := range original {
		back, _, err := env.Admin.Client.GetUser(ctx, id, "")
		require.NoError(t, err)
		require.NotNil(t, back.AuthData, "@%s", back.Username)
		assert.Equal(t, want, back.AuthService+"|"+*back.AuthData, "@%s", back.Username)
	}
}

// AutoRestoreOnExpiry restores the user whose fallback expired, by id: that user renamed
// themselves while switched and another user in fallback took the old name.
func TestSSOExpiryRestoresByUserID(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"autorestoreonexpiry": true}))
	t.Cleanup(func() {
		_ = env.PatchPluginSettings(context.Background(), map[string]any{"autorestoreonexpiry": false})
	})

	renamer := ssoUser(ctx, t, env, uniq("renamer"), "saml", "Renamer@Example.com")
	oldName, newName := renamer.Username, uniq("renamed")
	since := model.GetMillis()
	// The check runs once a minute: 20 s leaves time to set the scene before it can expire.
	text := cmd(ctx, t, env, "/dr sso fallback @"+oldName+" --expires 20s --deliver show")
	require.Contains(t, text, "| done |", text)
	// The user renames themselves, on a device still signed in.
	_, _, err := renamer.Client.PatchUser(ctx, renamer.Id, &model.UserPatch{Username: &newName})
	require.NoError(t, err)
	// Another user takes the freed name (renamed by an admin before joining SAML: the server
	// refuses to rename a SAML user), and is switched too.
	other, err := env.CreateUser(ctx, uniq("other"), false)
	require.NoError(t, err)
	_, _, err = env.Admin.Client.PatchUser(ctx, other.Id, &model.UserPatch{Username: &oldName})
	require.NoError(t, err)
	otherData := "Other.Holder@Example.com"
	_, _, err = env.Admin.Client.UpdateUserAuth(ctx, other.Id, &model.UserAuth{AuthService: "saml", AuthData: &otherData})
	require.NoError(t, err)
	text = cmd(ctx, t, env, "/dr sso fallback @"+oldName+" --expires 24h --deliver show")
	require.Contains(t, text, "| done |", text)
	t.Cleanup(func() { _, _ = env.Command(context.Background(), env.Admin, "", "/dr sso restore @"+oldName) })

	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "AutoRestoreOnExpiry restored it", 150*time.Second)
	require.NoError(t, err)
	assert.Contains(t, post.Message, "The SSO fallback of @"+newName, "named as the user is called now")
	assert.Contains(t, post.Message, "restored it: done")

	back, _, err := env.Admin.Client.GetUser(ctx, renamer.Id, "")
	require.NoError(t, err)
	assert.Equal(t, "saml", back.AuthService, "the user whose fallback expired is back on SSO")
	if assert.NotNil(t, back.AuthData) {
		assert.Equal(t, "Renamer@Example.com", *back.AuthData)
	}
	o, _, err := env.Admin.Client.GetUser(ctx, other.Id, "")
	require.NoError(t, err)
	assert.Empty(t, o.AuthService, "the user who took the old name stays in fallback")
	recs := fallbackRecords(ctx, t, env)
	assert.NotContains(t, recs, renamer.Id)
	if assert.Contains(t, recs, other.Id) {
		assert.Equal(t, "Other.Holder@Example.com", *recs[other.Id].AuthData)
	}
}
