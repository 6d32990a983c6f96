package webhook

import (
	"context"
	"sync"
	"time"
)

// Dispatcher sends alerts in the background, in the order they were queued, so that the
// status check or backup that raises one never waits for a receiver.
type Dispatcher struct {
	sender *Sender
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	queue  chan job
	closed bool
}

type job struct {
	targets []Target
	alert   Alert
}

// NewDispatcher starts a dispatcher holding up to size alerts not yet sent.
func NewDispatcher(s *Sender, size int) *Dispatcher {
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{sender: s, ctx: ctx, cancel: cancel, done: make(chan struct{}), queue: make(chan job, size)}
	go d.run()
	return d
}

func (d *Dispatcher) run() {
	defer close(d.done)
	for j := range d.queue {
		_ = d.sender.Send(d.ctx, j.targets, j.alert) // failures are dead-lettered in the log
	}
}

// Enqueue queues the alert for the targets and returns at once. When the queue is full or
// the dispatcher stopped, the alert is dead-lettered in the log instead.
func (d *Dispatcher) Enqueue(targets []Target, a Alert) {
	if len(targets) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	reason := "the plugin is stopping"
	if !d.closed {
		select {
		case d.queue <- job{targets: targets, alert: a}:
			return
		default:
			reason = "too many alerts waiting to be sent"
		}
	}
	if d.sender.log != nil {
		for _, t := range targets {
			d.sender.log.Error("Disaster Recovery alert NOT delivered (dead letter)", "target", t.String(), "alert", a.String(), "attempts", 0, "error", reason)
		}
	}
}

// Stop lets the queued alerts go out for up to grace, then cancels what is left (each is
// dead-lettered) and returns once the dispatcher has stopped.
func (d *Dispatcher) Stop(grace time.Duration) {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.queue)
	}
	d.mu.Unlock()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-d.done:
	case <-t.C:
	}
	d.cancel()
	<-d.done
}
