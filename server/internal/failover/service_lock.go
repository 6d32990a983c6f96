package failover

import (
	"context"
	"errors"
	"time"
)

// Lock is the runbook lock, held while an engine runs so that only one runs at a time (the
// plugin's cluster mutex in the KV store; for drctl, a conditional write or a file lock at the
// destination), and the heartbeat that says a holder still runs the runbook.
type Lock interface {
	// Acquire waits up to wait for the lock, and returns ErrLocked when another holder keeps
	// it; release frees it.
	Acquire(ctx context.Context, wait time.Duration) (release func(), err error)
	// Beat records that hb's holder runs hb.Run now.
	Beat(ctx context.Context, hb Heartbeat) error
	// LastBeat returns the last heartbeat, nil when there is none.
	LastBeat(ctx context.Context) (*Heartbeat, error)
	// ClearBeat removes the heartbeat: the runbook stopped.
	ClearBeat(ctx context.Context) error
}

// ErrLocked says another holder keeps the runbook lock.
var ErrLocked = errors.New("another node is running the failover runbook")

// Heartbeat marks the holder running a runbook.
type Heartbeat struct {
	Run     string
	Node    string
	Process int
	// At is when it was written. Zero when the store expires old heartbeats itself and keeps
	// no time (older plugin versions).
	At time.Time
}

// Defaults of the lock's timing.
const (
	DefaultLockExpiry   = 15 * time.Second
	DefaultHeartbeatTTL = 30 * time.Second
)

func (s *Service) lockExpiry() time.Duration {
	if s.LockExpiry > 0 {
		return s.LockExpiry
	}
	return DefaultLockExpiry
}

func (s *Service) heartbeatTTL() time.Duration {
	if s.HeartbeatTTL > 0 {
		return s.HeartbeatTTL
	}
	return DefaultHeartbeatTTL
}

// withLock runs fn holding the runbook lock: one engine at a time.
func (s *Service) withLock(ctx context.Context, wait time.Duration, fn func() error) error {
	release, err := s.Lock.Acquire(ctx, wait)
	if err != nil {
		if errors.Is(err, ErrLocked) {
			return ErrLocked
		}
		return err
	}
	defer release()
	return fn()
}

// heartbeat marks runbook id as run by this holder until stop is called. A runbook that says
// "running" without a fresh mark was interrupted (its holder died).
func (s *Service) heartbeat(ctx context.Context, id string) (stop func()) {
	// The mark outlives a cancelled drive only until stop clears it.
	ctx = context.WithoutCancel(ctx)
	mark := func() {
		if err := s.Lock.Beat(ctx, Heartbeat{Run: id, Node: s.Node, Process: s.Process, At: s.now().UTC()}); err != nil {
			s.warn("Cannot mark the runbook as running here", "run", id, "error", err.Error())
		}
	}
	mark()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(s.heartbeatTTL() / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				mark()
			}
		}
	}()
	return func() {
		close(done)
		_ = s.Lock.ClearBeat(ctx)
	}
}

// Alive says whether a holder runs runbook id now: its heartbeat names the run and is fresh.
func (s *Service) Alive(ctx context.Context, id string) bool {
	hb, err := s.Lock.LastBeat(ctx)
	if err != nil || hb == nil || hb.Run != id {
		return false
	}
	// This node's own mark from a process that died (kill -9, crash) is stale at once.
	if hb.Node == s.Node && hb.Process != s.Process {
		return false
	}
	return hb.At.IsZero() || s.now().Sub(hb.At) <= s.heartbeatTTL()
}
