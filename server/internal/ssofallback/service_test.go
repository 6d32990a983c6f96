package ssofallback

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
)

// fakeMM is an in-memory stand-in for the server, for the state-machine logic only; the
// end-to-end tests run the same service against a real Mattermost.
type fakeMM struct {
	mu        sync.Mutex
	users     map[string]*model.User
	passwords map[string]string // hash
	sessions  map[string][]session
	dms       map[string]string
	resets    []string
	failDM    bool
	revoked   []string
	// beforeUpdateAuth runs at the start of UpdateAuth, outside the lock: a test's way to
	// run something between the fallback's record insert and its switch.
	beforeUpdateAuth func(id, service string)
}

type session struct {
	id        string
	createdAt int64
}

func newFake() *fakeMM {
	return &fakeMM{users: map[string]*model.User{}, passwords: map[string]string{}, sessions: map[string][]session{}, dms: map[string]string{}}
}

func (f *fakeMM) add(u *model.User) *model.User {
	if u.Id == "" {
		u.Id = model.NewId()
	}
	if u.Email == "" {
		u.Email = u.Username + "@example.com"
	}
	f.users[u.Id] = u
	return u
}

func (f *fakeMM) User(id string) (*model.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return nil, ErrUserNotFound
	}
	c := *u
	c.AuthData = copyString(u.AuthData)
	return &c, nil
}

func (f *fakeMM) UserByUsername(name string) (*model.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if u.Username == name {
			c := *u
			return &c, nil
		}
	}
	return nil, ErrUserNotFound
}

func (f *fakeMM) UserIDsByAuthService(service string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, u := range f.users {
		if u.AuthService == service {
			ids = append(ids, u.Id)
		}
	}
	return ids, nil
}

func (f *fakeMM) UpdateAuth(id, service string, data *string) error {
	if f.beforeUpdateAuth != nil {
		f.beforeUpdateAuth(id, service)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.users[id]
	u.AuthService, u.AuthData = service, copyString(data)
	delete(f.passwords, id)
	return nil
}

func (f *fakeMM) AuthDataOwner(service, data, except string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if u.Id != except && u.AuthService == service && u.AuthData != nil && *u.AuthData == data {
			return u.Id, nil
		}
	}
	return "", nil
}

func (f *fakeMM) SessionsSince(id string, since int64) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.sessions[id] {
		if s.createdAt >= since {
			out = append(out, s.id)
		}
	}
	return out, nil
}

func (f *fakeMM) RevokeSession(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, id)
	return nil
}

func (f *fakeMM) SetPasswordHash(_, id, hash string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.users[id]
	u.AuthService, u.AuthData = "", nil
	f.passwords[id] = hash
	return nil
}

func (f *fakeMM) SendPasswordReset(email string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets = append(f.resets, email)
	return nil
}

func (f *fakeMM) SendDirect(id, msg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failDM {
		return errors.New("bot cannot post")
	}
	f.dms[id] = msg
	return nil
}

func (f *fakeMM) SendEmail(to, _, body string) error { return f.SendDirect(to, body) }

func str(s string) *string { return &s }

type fixture struct {
	mm    *fakeMM
	kv    *pluginapi.MemoryStore
	trail *audit.Trail
	svc   *Service
	admin Actor
}

func setup(_ *testing.T) *fixture {
	f := &fixture{mm: newFake(), kv: &pluginapi.MemoryStore{}, admin: Actor{ID: model.NewId(), Username: "admin"}}
	f.trail = audit.New(f.kv, "node-1")
	f.svc = New(f.mm, f.kv, f.trail, 4)
	f.svc.lockPoll = time.Millisecond
	return f
}

func (f *fixture) fallback(t *testing.T, names ...string) *Report {
	rep, err := f.svc.Fallback(context.Background(), FallbackRequest{Selection: Selection{Usernames: names}, Actor: f.admin, Reason: "IdP down", Delivery: DeliverDM, Expires: time.Hour}, nil)
	require.NoError(t, err)
	return rep
}

func (f *fixture) restore(t *testing.T, names ...string) *Report {
	rep, err := f.svc.Restore(context.Background(), RestoreRequest{Selection: Selection{Usernames: names}, Actor: f.admin}, nil)
	require.NoError(t, err)
	return rep
}

func TestFallbackAndRestoreRoundTrip(t *testing.T) {
	f := setup(t)
	data := strings.Repeat("Ab", 64) // 128 characters, mixed case
	alice := f.mm.add(&model.User{Username: "alice", AuthService: "saml", AuthData: str(data)})

	rep := f.fallback(t, "alice")
	require.Len(t, rep.Results, 1)
	assert.Equal(t, Done, rep.Results[0].Outcome, rep.Results[0].Detail)

	u, _ := f.mm.User(alice.Id)
	assert.Empty(t, u.AuthService)
	assert.Nil(t, u.AuthData)
	dm := f.mm.dms[alice.Id]
	require.NotEmpty(t, dm)
	pw := strings.Split(dm, "`")[5] // email, username, password in backticks
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(f.mm.passwords[alice.Id]), []byte(pw)), "the DM carries the password that was set")

	recs, err := f.svc.List()
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, StateDelivered, recs[0].State)
	assert.Equal(t, data, *recs[0].AuthData)
	assert.Equal(t, "IdP down", recs[0].Reason)

	// A session made during the fallback, and one from before it.
	f.mm.sessions[alice.Id] = []session{{"old", recs[0].CreatedAt - 1}, {"new", recs[0].CreatedAt + 5}}

	rep = f.restore(t, "alice")
	assert.Equal(t, Done, rep.Results[0].Outcome, rep.Results[0].Detail)
	u, _ = f.mm.User(alice.Id)
	assert.Equal(t, "saml", u.AuthService)
	assert.Equal(t, data, *u.AuthData)
	assert.Empty(t, f.mm.passwords[alice.Id], "the fallback password no longer works")
	assert.Equal(t, []string{"new"}, f.mm.revoked)
	recs, _ = f.svc.List()
	assert.Empty(t, recs)

	// Twice is fine.
	rep = f.restore(t, "alice")
	assert.Equal(t, Already, rep.Results[0].Outcome)

	// Every step is in the audit trail, without the password.
	recsA, err := f.trail.Query(audit.Filter{Action: "sso."})
	require.NoError(t, err)
	require.Len(t, recsA, 3)
	for _, r := range recsA {
		assert.NotContains(t, fmt.Sprint(r), pw)
		assert.Equal(t, alice.Id, r.Target)
	}
}

func TestSkipReasons(t *testing.T) {
	f := setup(t)
	f.mm.add(&model.User{Username: "bot", IsBot: true, AuthService: "saml", AuthData: str("b")})
	f.mm.add(&model.User{Username: "gone", DeleteAt: 1, AuthService: "saml", AuthData: str("g")})
	f.mm.add(&model.User{Username: "remote", RemoteId: str("r1"), AuthService: "saml", AuthData: str("r")})
	f.mm.add(&model.User{Username: "guest", AuthService: model.UserAuthServiceMagicLink, AuthData: str("m")})
	f.mm.add(&model.User{Username: "plain"})
	f.mm.add(&model.User{Username: "odd", AuthService: "kerberos", AuthData: str("k")})
	rep := f.fallback(t, "bot", "gone", "remote", "guest", "plain", "odd", "nobody")
	got := map[string]string{}
	for _, r := range rep.Results {
		got[r.Username] = string(r.Outcome) + ": " + r.Detail
	}
	assert.Equal(t, map[string]string{
		"bot":    "skipped: bot account",
		"gone":   "skipped: deactivated",
		"remote": "skipped: remote user (shared channels): managed by its own server",
		"guest":  "skipped: guest signing in with a magic link, not SSO",
		"plain":  "skipped: already signs in with email/password",
		"odd":    `skipped: unsupported sign-in method "kerberos"`,
		"nobody": "failed: no such user",
	}, got)
	recs, _ := f.svc.List()
	assert.Empty(t, recs)
}

func TestSecondFallbackNeverOverwritesOriginal(t *testing.T) {
	f := setup(t)
	bob := f.mm.add(&model.User{Username: "bob", AuthService: "ldap", AuthData: str("CN=Bob")})
	f.fallback(t, "bob")
	rep := f.fallback(t, "bob")
	assert.Equal(t, Already, rep.Results[0].Outcome)
	recs, _ := f.svc.List()
	require.Len(t, recs, 1)
	assert.Equal(t, "ldap", recs[0].AuthService)
	assert.Equal(t, "CN=Bob", *recs[0].AuthData)
	// Even a raw insert attempt cannot replace it.
	raw, err := f.svc.insert(&Record{UserID: bob.Id, AuthService: ""})
	require.NoError(t, err)
	assert.Nil(t, raw)
}

// Crash injection at each point of the state machine: the process dies, the admin runs the
// same command again, and it converges.
func TestResumeAfterCrash(t *testing.T) {
	tests := []struct {
		name  string
		crash func(f *fixture, u *model.User, rec *Record)
	}{
		{"after recording, before switching", func(f *fixture, _ *model.User, rec *Record) {
			_, _ = f.svc.insert(rec)
		}},
		{"after switching, before saving that", func(f *fixture, u *model.User, rec *Record) {
			_, _ = f.svc.insert(rec)
			_ = f.mm.UpdateAuth(u.Id, "", nil)
		}},
		{"after saving the switch, before delivering", func(f *fixture, u *model.User, rec *Record) {
			rec.State = StateSwitched
			_, _ = f.svc.insert(rec)
			_ = f.mm.UpdateAuth(u.Id, "", nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, then := range []string{"fallback", "restore"} {
				t.Run("then "+then, func(t *testing.T) {
					f := setup(t)
					u := f.mm.add(&model.User{Username: "carol", AuthService: "gitlab", AuthData: str("4711")})
					tt.crash(f, u, &Record{UserID: u.Id, Username: "carol", AuthService: "gitlab", AuthData: str("4711"), State: StateRecorded, Delivery: DeliverDM, CreatedAt: time.Now().UnixMilli()})
					if then == "fallback" {
						rep := f.fallback(t, "carol")
						assert.Equal(t, Done, rep.Results[0].Outcome, rep.Results[0].Detail)
						assert.NotEmpty(t, f.mm.dms[u.Id])
					}
					rep := f.restore(t, "carol")
					assert.Equal(t, Done, rep.Results[0].Outcome, rep.Results[0].Detail)
					back, _ := f.mm.User(u.Id)
					assert.Equal(t, "gitlab", back.AuthService)
					assert.Equal(t, "4711", *back.AuthData)
					recs, _ := f.svc.List()
					assert.Empty(t, recs)
				})
			}
		})
	}
}

func TestRestoreAfterCrashBeforeRecordDeleted(t *testing.T) {
	f := setup(t)
	u := f.mm.add(&model.User{Username: "dan", AuthService: "openid", AuthData: str("sub-1")})
	f.fallback(t, "dan")
	_ = f.mm.UpdateAuth(u.Id, "openid", str("sub-1")) // restored, then the plugin died
	rep := f.restore(t, "dan")
	assert.Equal(t, Done, rep.Results[0].Outcome, rep.Results[0].Detail)
	recs, _ := f.svc.List()
	assert.Empty(t, recs)
}

func TestRestoreKeepsRecordWhenItCannot(t *testing.T) {
	t.Run("AuthData taken by another user", func(t *testing.T) {
		f := setup(t)
		f.mm.add(&model.User{Username: "erin", AuthService: "saml", AuthData: str("erin@idp")})
		f.fallback(t, "erin")
		f.mm.add(&model.User{Username: "impostor", AuthService: "saml", AuthData: str("erin@idp")})
		rep := f.restore(t, "erin")
		assert.Equal(t, Failed, rep.Results[0].Outcome)
		assert.Contains(t, rep.Results[0].Detail, "now belongs to another user (@impostor)")
		recs, _ := f.svc.List()
		assert.Len(t, recs, 1)
	})
	t.Run("user deleted", func(t *testing.T) {
		f := setup(t)
		u := f.mm.add(&model.User{Username: "fay", AuthService: "saml", AuthData: str("fay")})
		f.fallback(t, "fay")
		delete(f.mm.users, u.Id)
		rep, err := f.svc.Restore(context.Background(), RestoreRequest{Selection: Selection{All: true}, Actor: f.admin}, nil)
		require.NoError(t, err)
		assert.Equal(t, Failed, rep.Results[0].Outcome)
		assert.Contains(t, rep.Results[0].Detail, "deleted")
		recs, _ := f.svc.List()
		assert.Len(t, recs, 1)
	})
	t.Run("switched to another SSO by hand", func(t *testing.T) {
		f := setup(t)
		u := f.mm.add(&model.User{Username: "gus", AuthService: "saml", AuthData: str("gus")})
		f.fallback(t, "gus")
		_ = f.mm.UpdateAuth(u.Id, "ldap", str("CN=gus"))
		rep := f.restore(t, "gus")
		assert.Equal(t, Failed, rep.Results[0].Outcome)
		assert.Contains(t, rep.Results[0].Detail, `changed to "ldap"`)
	})
}

func TestDeliveryFailureCanBeRetried(t *testing.T) {
	f := setup(t)
	u := f.mm.add(&model.User{Username: "hal", AuthService: "saml", AuthData: str("hal")})
	f.mm.failDM = true
	rep := f.fallback(t, "hal")
	assert.Equal(t, Failed, rep.Results[0].Outcome)
	assert.Contains(t, rep.Results[0].Detail, "delivery by dm failed")
	recs, _ := f.svc.List()
	assert.Equal(t, StateSwitched, recs[0].State)
	f.mm.failDM = false
	rep = f.fallback(t, "hal")
	assert.Equal(t, Done, rep.Results[0].Outcome)
	assert.NotEmpty(t, f.mm.dms[u.Id])
}

func TestDeliveries(t *testing.T) {
	f := setup(t)
	f.mm.add(&model.User{Username: "ivy", AuthService: "saml", AuthData: str("ivy")})
	f.mm.add(&model.User{Username: "jo", AuthService: "saml", AuthData: str("jo")})
	rep, err := f.svc.Fallback(context.Background(), FallbackRequest{Selection: Selection{Usernames: []string{"ivy"}}, Actor: f.admin, Delivery: DeliverShow}, nil)
	require.NoError(t, err)
	assert.Len(t, rep.Results[0].Password, passwordLength)
	rep, err = f.svc.Fallback(context.Background(), FallbackRequest{Selection: Selection{Usernames: []string{"jo"}}, Actor: f.admin, Delivery: DeliverResetLink}, nil)
	require.NoError(t, err)
	assert.Empty(t, rep.Results[0].Password)
	assert.Equal(t, []string{"jo@example.com"}, f.mm.resets)

	_, err = f.svc.Fallback(context.Background(), FallbackRequest{Selection: Selection{Usernames: []string{"jo"}}, Delivery: "pigeon"}, nil)
	assert.ErrorContains(t, err, `unknown delivery "pigeon"`)
}

func TestAllOfAService(t *testing.T) {
	f := setup(t)
	for i := 0; i < 60; i++ {
		svc := "saml"
		if i%3 == 0 {
			svc = "ldap"
		}
		f.mm.add(&model.User{Username: fmt.Sprintf("u%02d", i), AuthService: svc, AuthData: str(fmt.Sprintf("id-%d", i))})
	}
	var last int
	rep, err := f.svc.Fallback(context.Background(), FallbackRequest{Selection: Selection{Service: "saml", All: true}, Actor: f.admin, Delivery: DeliverDM}, func(done, total int) { last = done; assert.Equal(t, 40, total) })
	require.NoError(t, err)
	assert.Equal(t, 40, rep.Count(Done))
	assert.Equal(t, 40, last)

	_, err = f.svc.Fallback(context.Background(), FallbackRequest{Selection: Selection{Service: "saml", All: true}, Delivery: DeliverShow}, nil)
	require.NoError(t, err, "nobody left on saml, so show has nothing to exceed")
	_, err = f.svc.Fallback(context.Background(), FallbackRequest{Selection: Selection{Service: "ldap", All: true}, Delivery: DeliverShow}, nil)
	assert.NoError(t, err, "20 users is within the show limit")

	rep, err = f.svc.Restore(context.Background(), RestoreRequest{Selection: Selection{Service: "saml", All: true}, Actor: f.admin}, nil)
	require.NoError(t, err)
	assert.Equal(t, 40, rep.Count(Done))
	recs, _ := f.svc.List()
	assert.Len(t, recs, 20, "the ldap users stay in fallback")

	_, err = f.svc.Fallback(context.Background(), FallbackRequest{Selection: Selection{Service: "cas", All: true}, Delivery: DeliverDM}, nil)
	assert.ErrorContains(t, err, `unknown SSO service "cas"`)
}

func TestExpiryReminderOncePerUser(t *testing.T) {
	f := setup(t)
	now := time.Now()
	f.svc.now = func() time.Time { return now }
	u := f.mm.add(&model.User{Username: "kim", AuthService: "saml", AuthData: str("kim")})
	f.fallback(t, "kim")
	exp, err := f.svc.Expired()
	require.NoError(t, err)
	assert.Empty(t, exp)
	now = now.Add(2 * time.Hour)
	exp, _ = f.svc.Expired()
	require.Len(t, exp, 1)
	ok, err := f.svc.MarkReminded(u.Id)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, _ = f.svc.MarkReminded(u.Id)
	assert.False(t, ok)
	exp, _ = f.svc.Expired()
	assert.Empty(t, exp)
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		pw, err := GeneratePassword()
		require.NoError(t, err)
		require.Len(t, pw, passwordLength)
		assert.True(t, strings.ContainsAny(pw, lower) && strings.ContainsAny(pw, upper) && strings.ContainsAny(pw, digits) && strings.ContainsAny(pw, symbols), pw)
		assert.False(t, seen[pw])
		seen[pw] = true
	}
	h, err := HashPassword("x-Y-1!")
	require.NoError(t, err)
	assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(h), []byte("x-Y-1!")))
}

// The KV store pages over all of the plugin's keys; records spread over many pages among
// other keys (the audit trail's) must all be listed.
func TestListAcrossPagesOfOtherKeys(t *testing.T) {
	f := setup(t)
	for i := 0; i < 1500; i++ {
		_, err := f.kv.Set(fmt.Sprintf("audit/r/%016d", i), "x")
		require.NoError(t, err)
		_, err = f.kv.Set(fmt.Sprintf("zz/%04d", i), "x")
		require.NoError(t, err)
	}
	for i := 0; i < 1200; i++ {
		_, err := f.svc.insert(&Record{UserID: fmt.Sprintf("u%04d", i), CreatedAt: int64(i)})
		require.NoError(t, err)
	}
	recs, err := f.svc.List()
	require.NoError(t, err)
	assert.Len(t, recs, 1200)
}
