// Package jobs runs the plugin's long work in the background on this node: one job of a kind
// at a time, each with progress text and a cancel.
package jobs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// Job is one piece of background work.
type Job struct {
	ID      string
	Kind    string
	ActorID string
	Started time.Time

	cancel   context.CancelFunc
	done     chan struct{}
	mu       sync.Mutex
	progress string
	reports  []func()
}

// Report runs f once the job has ended and its slot is free, so that whoever reads the result
// (an admin, a test) can start the next job of the kind at once instead of finding it busy.
func (j *Job) Report(f func()) {
	j.mu.Lock()
	j.reports = append(j.reports, f)
	j.mu.Unlock()
}

// SetProgress replaces the job's progress text.
func (j *Job) SetProgress(s string) {
	j.mu.Lock()
	j.progress = s
	j.mu.Unlock()
}

// Progress returns the latest progress text.
func (j *Job) Progress() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.progress
}

// Done is closed when the job has ended.
func (j *Job) Done() <-chan struct{} { return j.done }

// BusyError says a job of the same kind is already running.
type BusyError struct{ Running *Job }

func (e *BusyError) Error() string {
	return fmt.Sprintf("a %s job (%s) started %s ago is still running: wait for it, or cancel it", e.Running.Kind, e.Running.ID, time.Since(e.Running.Started).Round(time.Second))
}

// Runner holds the running jobs.
type Runner struct {
	mu      sync.Mutex
	running map[string]*Job
	wg      sync.WaitGroup
	base    context.Context
	stop    context.CancelFunc
}

// NewRunner returns an empty runner.
func NewRunner() *Runner {
	ctx, cancel := context.WithCancel(context.Background())
	return &Runner{running: map[string]*Job{}, base: ctx, stop: cancel}
}

// Start runs fn in the background unless a job of the same kind is running.
func (r *Runner) Start(kind, actorID string, fn func(ctx context.Context, j *Job)) (*Job, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if j := r.running[kind]; j != nil {
		return nil, &BusyError{Running: j}
	}
	ctx, cancel := context.WithCancel(r.base)
	j := &Job{ID: model.NewId()[:10], Kind: kind, ActorID: actorID, Started: time.Now(), cancel: cancel, done: make(chan struct{})}
	r.running[kind] = j
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(j.done)
		defer func() {
			cancel()
			r.mu.Lock()
			delete(r.running, kind)
			r.mu.Unlock()
			j.mu.Lock()
			reports := j.reports
			j.mu.Unlock()
			for _, f := range reports {
				f()
			}
		}()
		fn(ctx, j)
	}()
	return j, nil
}

// Running returns the running job of a kind, or nil.
func (r *Runner) Running(kind string) *Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[kind]
}

// Cancel asks the running job of a kind to stop; it returns the job, or nil if none ran.
func (r *Runner) Cancel(kind string) *Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	j := r.running[kind]
	if j != nil {
		j.cancel()
	}
	return j
}

// Shutdown cancels every job and waits for them, up to timeout.
func (r *Runner) Shutdown(timeout time.Duration) {
	r.stop()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}
