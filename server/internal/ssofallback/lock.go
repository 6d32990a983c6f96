package ssofallback

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/pluginapi"
)

// A fallback and a restore of the same user must never interleave: a restore that reads the
// binding between the fallback's record insert and its switch would see nothing to undo,
// delete the record, and the switch would then erase the only copy of the binding. Every step
// that reads or changes a user or its record therefore runs under a per-user lease in the
// KV store, which every node of the cluster shares.
//
// pluginapi/cluster.Mutex would do across nodes too, but it polls once a second and its
// Unlock deletes the key whoever holds it; this lease is owned by a random token (only the
// holder can refresh or release it) and is polled every few tens of milliseconds.
const (
	lockPrefix = "sso/lock/"
	// defaultLockTTL is how long a lease outlives a holder that died (kill -9, node lost).
	defaultLockTTL = 15 * time.Second
	// defaultLockWait is how long a step waits for another one on the same user; longer than
	// the TTL, so that a lease left by a dead holder expires while waiting.
	defaultLockWait = 30 * time.Second
	defaultLockPoll = 50 * time.Millisecond
)

// errBusy says another fallback or restore of the user holds the lease for too long.
var errBusy = errors.New("another fallback or restore of this user is still running (or one died less than a minute ago): run the command again for this user")

// errLeaseLost says the lease could not be refreshed, so another node may act on the user.
var errLeaseLost = errors.New("lost the lock on this user (the KV store did not answer in time); stopped before changing the user: run the command again")

func lockKey(userID string) string { return lockPrefix + userID }

// lease is a held per-user lock.
type lease struct {
	kv         KV
	key        string
	token      []byte
	ttl        time.Duration
	validUntil atomic.Int64 // unix ms; past it, another holder may have the key
	stop, done chan struct{}
}

// lockUser waits for the user's lease and keeps it refreshed until release.
func (s *Service) lockUser(ctx context.Context, userID string) (*lease, error) {
	l := &lease{kv: s.kv, key: lockKey(userID), token: []byte(model.NewId()), ttl: s.lockTTL}
	deadline := time.Now().Add(s.lockWait)
	for {
		start := time.Now()
		ok, err := s.kv.Set(l.key, l.token, pluginapi.SetAtomic(nil), pluginapi.SetExpiry(l.ttl))
		if err != nil {
			return nil, fmt.Errorf("lock user %s: %w (run the command again)", userID, err)
		}
		if ok {
			l.validUntil.Store(start.Add(l.ttl).UnixMilli())
			break
		}
		if time.Now().After(deadline) {
			return nil, errBusy
		}
		// Jitter, so that two waiters on one node or on two do not poll in step.
		wait := s.lockPoll/2 + rand.N(s.lockPoll+1) //nolint:gosec // jitter, not a secret
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cancelled while waiting for another fallback or restore of this user: %w", ctx.Err())
		case <-time.After(wait):
		}
	}
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go l.refresh()
	return l, nil
}

func (l *lease) refresh() {
	defer close(l.done)
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			start := time.Now()
			ok, err := l.kv.Set(l.key, l.token, pluginapi.SetAtomic(l.token), pluginapi.SetExpiry(l.ttl))
			if err != nil || !ok {
				return // held() turns false when validUntil passes
			}
			l.validUntil.Store(start.Add(l.ttl).UnixMilli())
		}
	}
}

// check returns errLeaseLost unless the lease is safely held; call it right before each
// change to the user, so that a holder cut off from the KV store stops short.
func (l *lease) check() error {
	margin := l.ttl / 5
	if time.Now().Add(margin).UnixMilli() >= l.validUntil.Load() {
		return errLeaseLost
	}
	return nil
}

// release ends the lease; only this holder's token is deleted.
func (l *lease) release() {
	close(l.stop)
	<-l.done
	// If this fails, the lease expires after its TTL.
	_, _ = l.kv.Set(l.key, nil, pluginapi.SetAtomic(l.token))
}
