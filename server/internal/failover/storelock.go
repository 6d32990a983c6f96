package failover

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// Keys of the runbook lock at a backup destination.
const (
	StoreKeyLock      = "failover/lock.json"
	StoreKeyHeartbeat = "failover/heartbeat.json"
)

// MaxClockSkew is how far apart the clocks of two machines sharing a destination may be. A
// lease whose expiry is older than that by the reader's clock is taken over at once; a younger
// one only once the reader has seen it unchanged for a whole lease, by its own clock, so that a
// reader whose clock runs ahead cannot take a lease its holder still renews.
const MaxClockSkew = time.Minute

// Holder names who holds the lock, for the message the other operators read.
type Holder struct {
	Node    string `json:"node"`
	Process int    `json:"process"`
	Actor   string `json:"actor,omitempty"`
}

func (h Holder) String() string {
	s := fmt.Sprintf("%s (process %d", h.Node, h.Process)
	if h.Actor != "" {
		s += ", " + h.Actor
	}
	return s + ")"
}

// lease is the record under StoreKeyLock. A released lease has no Token.
type lease struct {
	Token      string    `json:"token,omitempty"` // this acquisition's, random
	Holder     Holder    `json:"holder"`
	AcquiredAt time.Time `json:"acquired_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	// TTL is the holder's lease length: it renews every third of it.
	TTL time.Duration `json:"ttl_ns,omitempty"`
}

// LockedError is ErrLocked with the holder, for the message.
type LockedError struct {
	Holder    Holder
	ExpiresAt time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%v: %s holds the runbook lock at the destination (lease until %s); if that process is gone, the lease expires by itself",
		ErrLocked, e.Holder, e.ExpiresAt.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrLocked) hold.
func (e *LockedError) Unwrap() error { return ErrLocked }

// StoreLock is the runbook lock for drctl: a lease at the backup destination written only with
// compare-and-swap (storage.Swapper), so that two drctl processes, on one machine or two, never
// both hold it. The holder renews the lease while it holds it; a holder that died leaves a
// lease that expires.
type StoreLock struct {
	sw     storage.Swapper
	store  storage.Store
	holder Holder
	ttl    time.Duration
	now    func() time.Time
	// poll is how often Acquire looks again while another holder keeps the lease.
	poll time.Duration
	// OnLost is called when a renewal finds that another holder took the lease over (this
	// process was stalled longer than a lease): the caller must stop acting.
	OnLost func(error)
}

// NewStoreLock returns the lock at s for holder; ttl is how long a lease lasts without renewal.
func NewStoreLock(s storage.Store, holder Holder, ttl time.Duration) (*StoreLock, error) {
	sw, ok := s.(storage.Swapper)
	if !ok {
		return nil, fmt.Errorf("%s cannot hold the runbook lock: it does not support conditional writes", s)
	}
	if ttl <= 0 {
		ttl = DefaultLockExpiry
	}
	return &StoreLock{sw: sw, store: s, holder: holder, ttl: ttl, now: time.Now, poll: 250 * time.Millisecond}, nil
}

// held is one acquisition: the version it wrote last, renewed in the background.
type held struct {
	mu      sync.Mutex
	l       *StoreLock
	lease   lease
	version string
	stop    chan struct{}
	done    chan struct{}
}

// Acquire takes the lease, waiting up to wait while another holder keeps it; a *LockedError
// (ErrLocked) says who does.
func (l *StoreLock) Acquire(ctx context.Context, wait time.Duration) (func(), error) {
	deadline := time.Now().Add(wait)
	var seen struct {
		version string
		since   time.Time // monotonic
	}
	for {
		raw, version, err := l.sw.Load(ctx, StoreKeyLock)
		var cur lease
		switch {
		case errors.Is(err, storage.ErrNotFound):
			version = ""
		case err != nil:
			return nil, fmt.Errorf("read the runbook lock: %w", err)
		default:
			var ok bool
			if cur, ok = parseLease(raw); !ok {
				// Not ours, or damaged: a lease that expires only once it stays unchanged
				// for a whole lease.
				cur = lease{Token: "unreadable", Holder: Holder{Node: "an unreadable lock record"}, ExpiresAt: l.now().Add(l.ttl)}
			}
		}
		// A lease that changes while this process watches, to another live lease, is renewed
		// (or taken): its holder is alive and keeps it for its whole runbook, so waiting longer
		// only delays the answer.
		renewed := !seen.since.IsZero() && version != seen.version && version != "" && cur.Token != ""
		if version != seen.version || seen.since.IsZero() {
			seen.version, seen.since = version, time.Now()
		}
		if renewed {
			return nil, &LockedError{Holder: cur.Holder, ExpiresAt: cur.ExpiresAt}
		}
		if version == "" || cur.Token == "" || l.expired(cur, time.Since(seen.since)) {
			h, err := l.take(ctx, version)
			switch {
			case err == nil:
				return h.release, nil
			case !errors.Is(err, storage.ErrConflict):
				return nil, err
			}
			continue // another holder came first: look again
		}
		if !time.Now().Before(deadline) {
			return nil, &LockedError{Holder: cur.Holder, ExpiresAt: cur.ExpiresAt}
		}
		if err := sleep(ctx, min(l.poll, time.Until(deadline)+time.Millisecond)); err != nil {
			return nil, err
		}
	}
}

// expired says whether a lease may be taken over: long past its expiry by this clock, or seen
// unchanged for a whole lease (and more) by this process.
func (l *StoreLock) expired(cur lease, unchangedFor time.Duration) bool {
	// The holder's lease length counts when it is longer: it renews less often.
	ttl := max(l.ttl, min(cur.TTL, time.Hour))
	return l.now().After(cur.ExpiresAt.Add(MaxClockSkew)) || unchangedFor > ttl+ttl/2
}

// take writes a new lease over version ("": create) and starts renewing it.
func (l *StoreLock) take(ctx context.Context, version string) (*held, error) {
	now := l.now().UTC()
	ls := lease{Token: token(), Holder: l.holder, AcquiredAt: now, ExpiresAt: now.Add(l.ttl), TTL: l.ttl}
	b, err := json.Marshal(ls)
	if err != nil {
		return nil, err
	}
	v, err := l.sw.Swap(ctx, StoreKeyLock, b, version)
	if err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return nil, err
		}
		return nil, fmt.Errorf("write the runbook lock: %w", err)
	}
	h := &held{l: l, lease: ls, version: v, stop: make(chan struct{}), done: make(chan struct{})}
	go h.renewLoop()
	return h, nil
}

func token() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// renewLoop renews the lease every third of its life until released or lost.
func (h *held) renewLoop() {
	defer close(h.done)
	t := time.NewTicker(h.l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			err := h.renew()
			if errors.Is(err, storage.ErrConflict) {
				if h.l.OnLost != nil {
					h.l.OnLost(errors.New("another holder took the runbook lock over: this process was stalled for longer than a lease"))
				}
				return
			}
			// Another error (the storage did not answer): try again at the next tick; the
			// lease lasts three ticks.
		}
	}
}

// renew extends the lease, only if it is still the one this holder wrote.
func (h *held) renew() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	next := h.lease
	next.ExpiresAt = h.l.now().UTC().Add(h.l.ttl)
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.l.ttl/3)
	defer cancel()
	v, err := h.l.sw.Swap(ctx, StoreKeyLock, b, h.version)
	if err != nil {
		return err
	}
	h.lease, h.version = next, v
	return nil
}

// release stops renewing and marks the lease released, unless another holder took it over.
func (h *held) release() {
	close(h.stop)
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	b, err := json.Marshal(lease{Holder: h.lease.Holder, AcquiredAt: h.lease.AcquiredAt, ExpiresAt: h.l.now().UTC()})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Best effort: a lease that cannot be released expires.
	_, _ = h.l.sw.Swap(ctx, StoreKeyLock, b, h.version)
}

// Beat records the heartbeat at the destination.
func (l *StoreLock) Beat(ctx context.Context, hb Heartbeat) error {
	b, err := json.Marshal(hb)
	if err != nil {
		return err
	}
	if _, err := l.store.Put(ctx, StoreKeyHeartbeat, bytes.NewReader(b)); err != nil {
		return fmt.Errorf("write the runbook heartbeat: %w", err)
	}
	return nil
}

// LastBeat reads the heartbeat; nil when there is none. A record that does not parse counts as
// none: it cannot say that anybody runs the runbook.
func (l *StoreLock) LastBeat(ctx context.Context) (*Heartbeat, error) {
	raw, _, err := l.sw.Load(ctx, StoreKeyHeartbeat)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read the runbook heartbeat: %w", err)
	}
	return parseBeat(raw), nil
}

// parseBeat is the heartbeat in raw, nil when it says nothing usable.
func parseBeat(raw []byte) *Heartbeat {
	var hb Heartbeat
	if json.Unmarshal(raw, &hb) != nil || hb.Run == "" || hb.At.IsZero() {
		return nil
	}
	return &hb
}

// ClearBeat removes the heartbeat.
func (l *StoreLock) ClearBeat(ctx context.Context) error {
	if err := l.store.Delete(ctx, StoreKeyHeartbeat); err != nil {
		return fmt.Errorf("remove the runbook heartbeat: %w", err)
	}
	return nil
}

// Holder returns who holds the lease now (ok false when nobody does or it expired by this
// clock), for status output.
func (l *StoreLock) Holder(ctx context.Context) (Holder, time.Time, bool, error) {
	raw, _, err := l.sw.Load(ctx, StoreKeyLock)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return Holder{}, time.Time{}, false, nil
	case err != nil:
		return Holder{}, time.Time{}, false, fmt.Errorf("read the runbook lock: %w", err)
	}
	cur, ok := parseLease(raw)
	if !ok || cur.Token == "" || l.now().After(cur.ExpiresAt) {
		return Holder{}, time.Time{}, false, nil
	}
	return cur.Holder, cur.ExpiresAt, true, nil
}

// parseLease reads a lease record; ok is false when it is not one.
func parseLease(raw []byte) (lease, bool) {
	var cur lease
	return cur, json.Unmarshal(raw, &cur) == nil
}
