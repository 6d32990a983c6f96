package failover_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
)

func localStore(t *testing.T) storage.Store {
	t.Helper()
	s, err := local.New(t.TempDir())
	require.NoError(t, err)
	return s
}

func newLock(t *testing.T, s storage.Store, node string, ttl time.Duration) *failover.StoreLock {
	t.Helper()
	l, err := failover.NewStoreLock(s, failover.Holder{Node: node, Process: 42, Actor: "alice@" + node}, ttl)
	require.NoError(t, err)
	return l
}

// Each case runs on a fresh local folder, and on MinIO below: the same cases hold for any
// storage.Swapper.
func TestStoreLock(t *testing.T) {
	runStoreLockCases(t, localStore)
}

// The lease on real S3 conditional writes (If-None-Match / If-Match), each case under a prefix
// of its own in one bucket.
func TestStoreLockMinIO(t *testing.T) {
	ctx := context.Background()
	m := harness.RequireMinIO(ctx, t)
	require.NoError(t, m.MakeBucket(ctx, "locks"))
	var n atomic.Int32
	runStoreLockCases(t, func(t *testing.T) storage.Store {
		s, err := s3.New(ctx, s3.Config{Bucket: "locks", Prefix: fmt.Sprintf("case-%d", n.Add(1)), Region: "us-east-1",
			Endpoint: m.Endpoint, PathStyle: true, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey})
		require.NoError(t, err)
		return s
	})
}

func runStoreLockCases(t *testing.T, newStore func(t *testing.T) storage.Store) {
	for name, fn := range map[string]func(t *testing.T, s storage.Store){
		"SecondHolderIsRefusedByName": testLockSecondHolder,
		"ReleaseLetsTheNextIn":        testLockRelease,
		"RenewKeepsTheLeaseAlive":     testLockRenew,
		"ExpiredLeaseIsTakenOver":     testLockTakeover,
		"OldLeaseIsTakenOverAtOnce":   testLockOldLease,
		"RaceHasExactlyOneWinner":     testLockRace,
		"HeartbeatRoundTrip":          testLockHeartbeat,
	} {
		t.Run(name, func(t *testing.T) { fn(t, newStore(t)) })
	}
}

func testLockSecondHolder(t *testing.T, s storage.Store) {
	ctx := context.Background()
	a, b := newLock(t, s, "host-a", 5*time.Second), newLock(t, s, "host-b", 5*time.Second)
	release, err := a.Acquire(ctx, 0)
	require.NoError(t, err)
	defer release()
	_, err = b.Acquire(ctx, 300*time.Millisecond)
	require.ErrorIs(t, err, failover.ErrLocked)
	var le *failover.LockedError
	require.True(t, errors.As(err, &le))
	assert.Equal(t, "host-a", le.Holder.Node)
	assert.Contains(t, err.Error(), "host-a (process 42, alice@host-a)")
}

func testLockRelease(t *testing.T, s storage.Store) {
	ctx := context.Background()
	a, b := newLock(t, s, "host-a", 5*time.Second), newLock(t, s, "host-b", 5*time.Second)
	release, err := a.Acquire(ctx, 0)
	require.NoError(t, err)
	got := make(chan error, 1)
	go func() {
		rel, err := b.Acquire(ctx, 3*time.Second) // waits for a's release
		if err == nil {
			rel()
		}
		got <- err
	}()
	time.Sleep(300 * time.Millisecond)
	release()
	require.NoError(t, <-got)
	_, _, held, err := a.Holder(ctx)
	require.NoError(t, err)
	assert.False(t, held, "released leases are not held")
}

// A holder that renews keeps the lease past its ttl; a contender waiting longer is refused.
func testLockRenew(t *testing.T, s storage.Store) {
	ctx := context.Background()
	ttl := 600 * time.Millisecond
	a, b := newLock(t, s, "host-a", ttl), newLock(t, s, "host-b", ttl)
	release, err := a.Acquire(ctx, 0)
	require.NoError(t, err)
	defer release()
	_, first, _, err := a.Holder(ctx)
	require.NoError(t, err)
	_, err = b.Acquire(ctx, 3*ttl)
	require.ErrorIs(t, err, failover.ErrLocked, "a renewed lease is never taken over")
	_, later, held, err := a.Holder(ctx)
	require.NoError(t, err)
	assert.True(t, held)
	assert.True(t, later.After(first), "the expiry moved on: %s then %s", first, later)
}

// A holder that died (no release, no renewal) loses its lease once a contender has seen it
// unchanged for long enough; the dead holder's late renewal then fails and it hears so.
func testLockTakeover(t *testing.T, s storage.Store) {
	ctx := context.Background()
	ttl := 400 * time.Millisecond
	deadLease(t, s, "host-a", time.Now().Add(ttl))
	b := newLock(t, s, "host-b", ttl)
	start := time.Now()
	release, err := b.Acquire(ctx, 5*time.Second)
	require.NoError(t, err)
	defer release()
	assert.GreaterOrEqual(t, time.Since(start), ttl, "not before the lease had time to expire")
	holder, _, held, err := b.Holder(ctx)
	require.NoError(t, err)
	require.True(t, held)
	assert.Equal(t, "host-b", holder.Node)
}

// deadLease writes the lease a killed holder leaves behind.
func deadLease(t *testing.T, s storage.Store, node string, expires time.Time) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"token": "dead", "holder": map[string]any{"node": node, "process": 1},
		"acquired_at": expires.Add(-time.Second), "expires_at": expires})
	require.NoError(t, err)
	_, err = s.(storage.Swapper).Swap(context.Background(), failover.StoreKeyLock, b, "")
	require.NoError(t, err)
	return b
}

func testLockOldLease(t *testing.T, s storage.Store) {
	deadLease(t, s, "host-a", time.Now().Add(-failover.MaxClockSkew-time.Minute))
	b := newLock(t, s, "host-b", time.Hour)
	release, err := b.Acquire(context.Background(), 0)
	require.NoError(t, err, "a lease long expired is taken over without waiting")
	release()
}

// N holders on one destination at the same instant: exactly one gets the lock.
func testLockRace(t *testing.T, s storage.Store) {
	const n = 8
	var wg sync.WaitGroup
	var won, locked atomic.Int32
	start := make(chan struct{})
	releases := make(chan func(), n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := newLock(t, s, "host-"+string(rune('a'+i)), 5*time.Second)
			<-start
			rel, err := l.Acquire(context.Background(), 200*time.Millisecond)
			switch {
			case err == nil:
				won.Add(1)
				releases <- rel
			case errors.Is(err, failover.ErrLocked):
				locked.Add(1)
			default:
				t.Errorf("acquire: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(releases)
	for rel := range releases {
		rel()
	}
	assert.Equal(t, int32(1), won.Load())
	assert.Equal(t, int32(n-1), locked.Load())
}

func testLockHeartbeat(t *testing.T, s storage.Store) {
	ctx := context.Background()
	l := newLock(t, s, "host-a", time.Second)
	hb, err := l.LastBeat(ctx)
	require.NoError(t, err)
	assert.Nil(t, hb)
	at := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, l.Beat(ctx, failover.Heartbeat{Run: "r1", Node: "host-a", Process: 7, At: at}))
	hb, err = l.LastBeat(ctx)
	require.NoError(t, err)
	require.NotNil(t, hb)
	assert.Equal(t, failover.Heartbeat{Run: "r1", Node: "host-a", Process: 7, At: at}, *hb)
	require.NoError(t, l.ClearBeat(ctx))
	hb, err = l.LastBeat(ctx)
	require.NoError(t, err)
	assert.Nil(t, hb)
}

// A holder stalled past its lease (here: its lease replaced under it) hears that it lost it.
func TestStoreLockLostIsReported(t *testing.T) {
	s := localStore(t)
	ttl := 300 * time.Millisecond
	a := newLock(t, s, "host-a", ttl)
	lost := make(chan error, 1)
	a.OnLost = func(err error) { lost <- err }
	release, err := a.Acquire(context.Background(), 0)
	require.NoError(t, err)
	defer release()
	_, version, err := s.(storage.Swapper).Load(context.Background(), failover.StoreKeyLock)
	require.NoError(t, err)
	_, err = s.(storage.Swapper).Swap(context.Background(), failover.StoreKeyLock, []byte(`{"token":"other","holder":{"node":"host-b"},"expires_at":"2999-01-01T00:00:00Z"}`), version)
	require.NoError(t, err)
	select {
	case err := <-lost:
		assert.Contains(t, err.Error(), "took the runbook lock over")
	case <-time.After(3 * time.Second):
		t.Fatal("the holder did not hear that it lost the lease")
	}
}

// A contender with a short lease does not take over a live holder whose lease is longer (it
// renews less often than the contender would expect).
func TestStoreLockRespectsTheHoldersLease(t *testing.T) {
	s := localStore(t)
	a := newLock(t, s, "host-a", 1500*time.Millisecond)
	release, err := a.Acquire(context.Background(), 0)
	require.NoError(t, err)
	defer release()
	b := newLock(t, s, "host-b", 100*time.Millisecond)
	_, err = b.Acquire(context.Background(), 2*time.Second)
	require.ErrorIs(t, err, failover.ErrLocked)
}

// A contender that sees the lease renewed knows its holder is alive and answers at once
// instead of waiting out the whole wait (which is meant for a holder that died).
func TestStoreLockLiveHolderAnswersEarly(t *testing.T) {
	s := localStore(t)
	a := newLock(t, s, "host-a", 300*time.Millisecond)
	release, err := a.Acquire(context.Background(), 0)
	require.NoError(t, err)
	defer release()
	b := newLock(t, s, "host-b", 300*time.Millisecond)
	start := time.Now()
	_, err = b.Acquire(context.Background(), time.Minute)
	require.ErrorIs(t, err, failover.ErrLocked)
	assert.Less(t, time.Since(start), 5*time.Second)
}
