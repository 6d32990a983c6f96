//go:build e2e

package scale

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// Fall back and restore thousands of SAML users on the real server (5,000 by default,
// DR_SSO_SCALE_USERS to change), then check every user's binding: zero lost.
func TestSSOScale(t *testing.T) {
	env := harness.Require(t)
	n := 5000
	if s := os.Getenv("DR_SSO_SCALE_USERS"); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	db, err := env.OpenDB()
	require.NoError(t, err)
	defer db.Close()

	// Users are inserted by SQL, copying a real user row: creating 5,000 users through REST
	// would spend minutes hashing their passwords, which is not what is measured here.
	tag := model.NewId()[:6]
	_, err = db.ExecContext(ctx, `INSERT INTO users
		SELECT (jsonb_populate_record(u, jsonb_build_object(
			'id', substr(md5('scale' || g || $1), 1, 26),
			'username', 'scale' || lpad(g::text, 5, '0') || $1,
			'email', 'scale' || g || $1 || '@example.com',
			'authservice', 'saml',
			'authdata', 'Scale.User.' || g || '.' || $1 || '@Example.COM',
			'password', '',
			'createat', u.createat + g, 'updateat', u.updateat + g))).*
		FROM users u, generate_series(1, $2::int) g WHERE u.id = $3`, tag, n, env.Member.Id)
	require.NoError(t, err)

	before := bindings(ctx, t, db)
	require.GreaterOrEqual(t, len(before), n)

	// The way an admin switches a whole identity provider: Mattermost's reset-link email (the
	// default when email works), then again with a temporary password by DM to each user.
	sink, err := harness.StartSMTPSink()
	require.NoError(t, err)
	defer sink.Close()
	disable, err := env.EnableEmail(ctx, sink)
	require.NoError(t, err)
	var timings []string
	for _, delivery := range []string{"reset-link", "dm"} {
		if delivery == "dm" {
			disable()
		}
		fallback, restore := roundTrip(ctx, t, env, db, before, delivery)
		timings = append(timings, fmt.Sprintf("%s: fallback %.1fs, restore %.1fs", delivery, fallback.Seconds(), restore.Seconds()))
		if delivery == "reset-link" {
			assert.GreaterOrEqual(t, sink.Count(), len(before), "one reset email per user")
		}
	}
	t.Logf("SSO scale, %d users, 0 lost: %s", len(before), strings.Join(timings, "; "))
}

// roundTrip falls every SAML user back and restores them, checking that no binding is lost.
func roundTrip(ctx context.Context, t *testing.T, env *harness.Env, db *sql.DB, before map[string]string, delivery string) (time.Duration, time.Duration) {
	since := model.GetMillis()
	start := time.Now()
	text := cmd(ctx, t, env, "/dr sso fallback --all --service saml --reason scale --confirm --deliver "+delivery)
	require.Contains(t, text, "started in the background", text)
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "ran SSO fallback", 10*time.Minute)
	require.NoError(t, err)
	fallbackTook := time.Since(start)
	assert.Contains(t, post.Message, fmt.Sprintf("%d done", len(before)), post.Message)
	assert.Contains(t, post.Message, "0 failed")
	assert.Empty(t, bindings(ctx, t, db), "every SAML user is on email/password")

	since = model.GetMillis()
	start = time.Now()
	text = cmd(ctx, t, env, "/dr sso restore --all --service saml --confirm")
	require.Contains(t, text, "started in the background", text)
	post, err = env.WaitBotPost(ctx, env.OpsChannel.Id, since, "ran SSO restore", 10*time.Minute)
	require.NoError(t, err)
	restoreTook := time.Since(start)
	assert.Contains(t, post.Message, fmt.Sprintf("%d done", len(before)), post.Message)

	after := bindings(ctx, t, db)
	require.Equal(t, len(before), len(after))
	lost := 0
	for id, b := range before {
		if after[id] != b {
			lost++
		}
	}
	require.Zero(t, lost, "users whose binding differs after the round trip (%s)", delivery)
	assert.Contains(t, cmd(ctx, t, env, "/dr sso list"), "Nobody is in SSO fallback")
	return fallbackTook, restoreTook
}

// bindings maps user id to AuthData for every SAML user.
func bindings(ctx context.Context, t *testing.T, db *sql.DB) map[string]string {
	rows, err := db.QueryContext(ctx, `SELECT Id, AuthData FROM Users WHERE AuthService = 'saml'`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, data string
		require.NoError(t, rows.Scan(&id, &data))
		out[id] = data
	}
	require.NoError(t, rows.Err())
	return out
}
