package ssofallback

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refusalSpy is the KV store with a signal for every conditional write it refuses: the sign
// that an action is held off by another one on the same user.
type refusalSpy struct {
	*pluginapi.MemoryStore
	refused chan struct{}
}

func (k *refusalSpy) Set(key string, value any, options ...pluginapi.KVSetOption) (bool, error) {
	ok, err := k.MemoryStore.Set(key, value, options...)
	if err == nil && !ok {
		select {
		case k.refused <- struct{}{}:
		default:
		}
	}
	return ok, err
}

// binding says whether the user has either a fallback record holding the original binding,
// or the original binding itself: the invariant. "neither" is data loss.
func binding(t *testing.T, f *fixture, userID, service, data string) string {
	t.Helper()
	rec, _, err := f.svc.load(userID)
	require.NoError(t, err)
	u, err := f.mm.User(userID)
	require.NoError(t, err)
	switch {
	case rec != nil && rec.AuthService == service && rec.AuthData != nil && *rec.AuthData == data:
		return "record"
	case u.AuthService == service && u.AuthData != nil && *u.AuthData == data:
		return "bound"
	}
	return fmt.Sprintf("neither (user on %q, record %v)", u.AuthService, rec)
}

// The interleaving of the issue, made deterministic: a restore of the user runs after the
// fallback recorded the binding and before it switches the user.
func TestRestoreBetweenRecordAndSwitchLosesNothing(t *testing.T) {
	f := setup(t)
	spy := &refusalSpy{MemoryStore: f.kv, refused: make(chan struct{}, 1)}
	f.svc = New(f.mm, spy, f.trail, 4)
	f.svc.lockPoll = time.Millisecond
	u := f.mm.add(&model.User{Username: "lee", AuthService: "saml", AuthData: str("Lee@IdP")})

	var restoreRep *Report
	var restoreErr error
	restored := make(chan struct{})
	var once sync.Once
	f.mm.beforeUpdateAuth = func(id, service string) {
		if id != u.Id || service != "" {
			return
		}
		once.Do(func() {
			go func() {
				defer close(restored)
				restoreRep, restoreErr = f.svc.Restore(context.Background(), RestoreRequest{Selection: Selection{Usernames: []string{"lee"}}, Actor: f.admin}, nil)
			}()
			// Let the switch go on once the restore has finished, or is held off.
			select {
			case <-restored:
			case <-spy.refused:
			}
		})
	}
	rep := f.fallback(t, "lee")
	<-restored
	require.NoError(t, restoreErr)

	assert.NotContains(t, binding(t, f, u.Id, "saml", "Lee@IdP"), "neither", "the original binding was lost")
	// Serialised, the fallback completes and the restore then undoes it.
	assert.Equal(t, Done, rep.Results[0].Outcome, rep.Results[0].Detail)
	assert.Equal(t, Done, restoreRep.Results[0].Outcome, restoreRep.Results[0].Detail)
	assert.Equal(t, "bound", binding(t, f, u.Id, "saml", "Lee@IdP"))
	recs, _ := f.svc.List()
	assert.Empty(t, recs)
}

// Two admins racing: fallback and restore of the same users, over and over.
func TestConcurrentFallbackAndRestoreNeverLoseBinding(t *testing.T) {
	f := setup(t)
	var names []string
	var users []*model.User
	for i := 0; i < 20; i++ {
		u := f.mm.add(&model.User{Username: fmt.Sprintf("r%02d", i), AuthService: "saml", AuthData: str(fmt.Sprintf("R.%d@IdP", i))})
		names, users = append(names, u.Username), append(users, u)
	}
	// bcrypt under the race detector would take most of the time; the hash is not under test.
	f.svc.hash = func(p string) (string, error) { return "plain:" + p, nil }
	const rounds = 200
	var wg sync.WaitGroup
	start := time.Now()
	for _, fallback := range []bool{true, false} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				var err error
				if fallback {
					_, err = f.svc.Fallback(context.Background(), FallbackRequest{Selection: Selection{Usernames: names}, Actor: f.admin, Delivery: DeliverShow}, nil)
				} else {
					_, err = f.svc.Restore(context.Background(), RestoreRequest{Selection: Selection{Usernames: names}, Actor: f.admin}, nil)
				}
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d rounds of fallback and restore of %d users from two goroutines in %s", rounds, len(users), time.Since(start).Round(time.Millisecond))
	lost := 0
	for i, u := range users {
		if got := binding(t, f, u.Id, "saml", fmt.Sprintf("R.%d@IdP", i)); got != "record" && got != "bound" {
			lost++
			t.Errorf("@%s: %s", u.Username, got)
		}
	}
	assert.Zero(t, lost, "users left with neither a record nor their original binding")
}

// A lease left by a holder that died (kill -9 between two steps) holds others off until it
// expires; then the same command goes ahead.
func TestLeaseOfDeadHolderExpires(t *testing.T) {
	f := setup(t)
	u := f.mm.add(&model.User{Username: "mo", AuthService: "saml", AuthData: str("mo")})
	_, err := f.kv.Set(lockKey(u.Id), []byte("dead-node"), pluginapi.SetExpiry(time.Second))
	require.NoError(t, err)

	f.svc.lockWait = 100 * time.Millisecond
	rep := f.fallback(t, "mo")
	assert.Equal(t, Failed, rep.Results[0].Outcome)
	assert.Contains(t, rep.Results[0].Detail, "still running")
	assert.Equal(t, "bound", binding(t, f, u.Id, "saml", "mo"), "nothing was done while held off")
	recs, _ := f.svc.List()
	assert.Empty(t, recs)

	f.svc.lockWait = 5 * time.Second
	start := time.Now()
	rep = f.fallback(t, "mo")
	assert.Equal(t, Done, rep.Results[0].Outcome, rep.Results[0].Detail)
	assert.Greater(t, time.Since(start), 500*time.Millisecond, "waited for the lease to expire")
	var left []byte
	require.NoError(t, f.kv.Get(lockKey(u.Id), &left))
	assert.Empty(t, left, "the lease is released")
}

// refreshRefuser refuses every refresh of a lease, as a KV store cut off would.
type refreshRefuser struct{ *pluginapi.MemoryStore }

func (k *refreshRefuser) Set(key string, value any, options ...pluginapi.KVSetOption) (bool, error) {
	if b, ok := value.([]byte); ok && strings.HasPrefix(key, lockPrefix) {
		var cur []byte
		if err := k.Get(key, &cur); err != nil {
			return false, err
		}
		if bytes.Equal(cur, b) { // the holder writing its own token again
			return false, nil
		}
	}
	return k.MemoryStore.Set(key, value, options...)
}

// A holder whose lease lapsed knows it before its next change, and its release cannot
// remove the lease another holder took since.
func TestLapsedLease(t *testing.T) {
	kv := &refreshRefuser{&pluginapi.MemoryStore{}}
	s := New(newFake(), kv, nil, 1)
	// The KV store counts expiry in whole seconds.
	s.lockTTL, s.lockWait, s.lockPoll = time.Second, 5*time.Second, time.Millisecond
	first, err := s.lockUser(context.Background(), "u1")
	require.NoError(t, err)
	require.NoError(t, first.check())
	second, err := s.lockUser(context.Background(), "u1")
	require.NoError(t, err, "the first lease expired, not refreshed")
	assert.ErrorIs(t, first.check(), errLeaseLost)
	first.release()
	var v []byte
	require.NoError(t, kv.Get(lockKey("u1"), &v))
	assert.Equal(t, second.token, v, "the lapsed holder's release left the new lease alone")
	second.release()
	var after []byte
	require.NoError(t, kv.Get(lockKey("u1"), &after))
	assert.Empty(t, after)
}

// A restore that stopped after saying so, before or after the binding came back: a fallback
// does not report the user as switched, and the restore run again finishes.
func TestRestoreStoppedHalfWay(t *testing.T) {
	for _, rebound := range []bool{false, true} {
		t.Run(fmt.Sprintf("binding back: %v", rebound), func(t *testing.T) {
			f := setup(t)
			u := f.mm.add(&model.User{Username: "nia", AuthService: "ldap", AuthData: str("CN=Nia")})
			f.fallback(t, "nia")
			rec, raw, err := f.svc.load(u.Id)
			require.NoError(t, err)
			rec.State = StateRestoring
			_, err = f.svc.update(rec, raw)
			require.NoError(t, err)
			if rebound {
				require.NoError(t, f.mm.UpdateAuth(u.Id, "ldap", str("CN=Nia")))
			}
			rep := f.fallback(t, "nia")
			assert.Equal(t, Failed, rep.Results[0].Outcome)
			assert.Contains(t, rep.Results[0].Detail, "run restore for this user")
			assert.Equal(t, "record", binding(t, f, u.Id, "ldap", "CN=Nia"))

			rep = f.restore(t, "nia")
			assert.Equal(t, Done, rep.Results[0].Outcome, rep.Results[0].Detail)
			assert.Equal(t, "bound", binding(t, f, u.Id, "ldap", "CN=Nia"))
			recs, _ := f.svc.List()
			assert.Empty(t, recs)
		})
	}
}

// A user in fallback renames themselves and another user takes the old name: selecting by
// id restores the right one.
func TestRestoreByUserID(t *testing.T) {
	f := setup(t)
	oli := f.mm.add(&model.User{Username: "oli", AuthService: "saml", AuthData: str("Oli@IdP")})
	f.fallback(t, "oli")
	f.mm.users[oli.Id].Username = "oliver"
	other := f.mm.add(&model.User{Username: "oli", AuthService: "saml", AuthData: str("Other@IdP")})
	f.fallback(t, "oli") // the new @oli is in fallback too

	rep, err := f.svc.Restore(context.Background(), RestoreRequest{Selection: Selection{UserIDs: []string{oli.Id}}, Actor: f.admin}, nil)
	require.NoError(t, err)
	require.Len(t, rep.Results, 1)
	assert.Equal(t, Done, rep.Results[0].Outcome, rep.Results[0].Detail)
	assert.Equal(t, "oliver", rep.Results[0].Username, "reported under the current name")
	assert.Equal(t, "bound", binding(t, f, oli.Id, "saml", "Oli@IdP"))
	rec, _, err := f.svc.load(other.Id)
	require.NoError(t, err)
	require.NotNil(t, rec, "the other user stays in fallback")
	u, _ := f.mm.User(other.Id)
	assert.Empty(t, u.AuthService)
}
