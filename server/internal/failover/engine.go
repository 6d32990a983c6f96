package failover

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// Step is one kind of step. Run must be idempotent: it looks at the real system first and does
// only what is left, because a step that was running when its node died runs again on resume.
type Step interface {
	Title() string
	// Calls says what Run will call, for the plan; never a secret.
	Calls(live Live, run *Run, rec *StepRecord) string
	Run(ctx context.Context, sc *StepContext) Result
}

// Result is how a step ended.
type Result struct {
	// State is StepDone (the zero value means done), StepWaiting, StepDeferred, StepSkipped,
	// StepManual or StepForPlugin; with Err set the step failed.
	State  StepState
	Detail string
	Err    error
	Next   string // failed or waiting: what to do
	Undo   string // done: how to undo it
}

// Failed is a failed result with what to do next.
func Failed(err error, next string) Result { return Result{State: StepFailed, Err: err, Next: next} }

// StepContext is what a running step sees.
type StepContext struct {
	Live Live
	Run  Run        // the runbook as it was when the step started
	Step StepRecord // this step, with its data and attempts
	// Progress shows what the step is doing (the job's progress, the status).
	Progress func(string)
	// Hit is a failpoint (tests kill the plugin there); never nil.
	Hit func(name string)

	save func(key, value string) error
	mu   sync.Mutex // guards Step.Data
}

// Data returns a fact the step journaled on an earlier attempt.
func (sc *StepContext) Data(key string) string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.Step.Data[key]
}

// Save journals a fact before the step acts on it, so that a resumed step knows.
func (sc *StepContext) Save(key, value string) error {
	if err := sc.save(key, value); err != nil {
		return err
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.Step.Data == nil {
		sc.Step.Data = map[string]string{}
	}
	sc.Step.Data[key] = value
	return nil
}

func (sc *StepContext) progress(format string, args ...any) {
	if sc.Progress != nil {
		sc.Progress(fmt.Sprintf(format, args...))
	}
}

// EventKind says what happened.
type EventKind string

// Events.
const (
	EventStepStarted  EventKind = "step-started"
	EventStepFinished EventKind = "step-finished"
	// EventRunStopped: the engine stopped: the run completed, failed, waits, was aborted or
	// interrupted (Run.State says which).
	EventRunStopped EventKind = "run-stopped"
)

// Event is reported to the Observer.
type Event struct {
	Kind EventKind
	Run  *Run
	Step *StepRecord // step events only
	// Index is the step's position (0-based) in Run.Steps.
	Index int
}

// Observer hears what the engine does (the plugin writes the audit trail and posts).
type Observer interface{ Event(Event) }

// ObserverFunc adapts a function.
type ObserverFunc func(Event)

// Event implements Observer.
func (f ObserverFunc) Event(e Event) { f(e) }

// Engine runs runbooks.
type Engine struct {
	Journal Journal
	Steps   map[string]Step // by step kind
	// Live reads the current settings (with secrets) when a step starts.
	Live     func(ctx context.Context) (Live, error)
	Observer Observer
	// Hit is the failpoint hook; AfterStep names are "failover.after-<step>".
	Hit  func(name string)
	Node string
	// Actor is recorded on each step it starts.
	Actor    string
	Progress func(string)
	Now      func() time.Time
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e *Engine) emit(ev Event) {
	if e.Observer != nil {
		e.Observer.Event(ev)
	}
}

func (e *Engine) hit(name string) {
	if e.Hit != nil {
		e.Hit(name)
	}
}

// Describe fills in each step's title and what it will call.
func (e *Engine) Describe(live Live, run *Run) {
	for i := range run.Steps {
		s := &run.Steps[i]
		st := e.Steps[s.Kind]
		if st == nil {
			s.Title, s.Calls = s.Kind, "unknown step"
			continue
		}
		s.Title = st.Title()
		if s.DeferredFrom != "" {
			s.Title += " (deferred by " + s.DeferredFrom + ")"
		}
		s.Calls = st.Calls(live, run, s)
	}
}

// Create stores run as the current runbook, unless one is still active.
func (e *Engine) Create(ctx context.Context, run *Run) (*Run, error) {
	return e.Journal.Update(ctx, func(cur *Run) (*Run, error) {
		if cur != nil && !cur.State.Terminal() {
			return nil, coded(ErrActive, "runbook %s (%s to %s) is %s: resume it (`/dr failover resume`) or abort it (`/dr failover abort`) first", cur.ID, cur.From, cur.To, cur.State)
		}
		return run, nil
	})
}

// Run runs the runbook id from its first unfinished step until it completes, fails, waits for
// a confirmation, is aborted, or ctx ends. The caller holds the cluster-wide runbook lock.
func (e *Engine) Run(ctx context.Context, id string) (*Run, error) {
	for {
		var (
			idx     int
			stopped bool
		)
		run, err := e.Journal.Update(ctx, func(r *Run) (*Run, error) {
			idx, stopped = -1, false
			if r == nil {
				return nil, coded(ErrNoRun, "no runbook to run")
			}
			if r.ID != id {
				return nil, coded(ErrOtherRun, "runbook %s was replaced by %s", id, r.ID)
			}
			now := e.now()
			switch i := r.next(); {
			case r.State.Terminal():
				return nil, coded(ErrNotActive, "runbook %s is %s", r.ID, r.State)
			case i < 0 && len(r.ForPlugin()) > 0:
				r.State, r.UpdatedAt = RunForPlugin, now
				stopped = true
			case i < 0:
				r.finish(RunCompleted, now)
				stopped = true
			case r.AbortRequested:
				r.finish(RunAborted, now)
				stopped = true
			case ctx.Err() != nil:
				r.State, r.UpdatedAt = RunInterrupted, now
				stopped = true
			default:
				s := &r.Steps[i]
				s.State, s.Attempts, s.StartedAt, s.Actor = StepRunning, s.Attempts+1, &now, e.Actor
				s.Error, s.Next = "", ""
				r.State, r.Node, r.UpdatedAt, r.Error = RunRunning, e.Node, now, ""
				idx = i
			}
			return r, nil
		})
		if err != nil {
			return nil, err
		}
		if stopped {
			e.emit(Event{Kind: EventRunStopped, Run: run})
			return run, nil
		}
		rec := run.Steps[idx]
		e.emit(Event{Kind: EventStepStarted, Run: run, Step: &rec, Index: idx})
		start := time.Now()
		res := e.runStep(ctx, run, rec)
		// A kill here leaves the step "running" with its effect done: resume must not repeat it.
		e.hit("failover.after-" + rec.Name)
		took := time.Since(start)
		run, err = e.Journal.Update(ctx, func(r *Run) (*Run, error) {
			if r == nil || r.ID != id {
				return nil, coded(ErrOtherRun, "runbook %s was replaced while step %s ran", id, rec.Name)
			}
			e.record(r, rec.Name, res, took, ctx.Err() != nil)
			return r, nil
		})
		if err != nil {
			return nil, err
		}
		s := run.Step(rec.Name)
		e.emit(Event{Kind: EventStepFinished, Run: run, Step: s, Index: idx})
		if s.State == StepFailed || s.State == StepWaiting {
			e.emit(Event{Kind: EventRunStopped, Run: run})
			return run, nil
		}
	}
}

// record writes a step's result into r.
func (e *Engine) record(r *Run, name string, res Result, took time.Duration, interrupted bool) {
	now := e.now()
	s := r.Step(name)
	s.DurationMS += took.Milliseconds()
	s.FinishedAt = &now
	r.UpdatedAt = now
	if res.State == "" {
		res.State = StepDone
	}
	if res.Err != nil || res.State == StepFailed {
		if res.Err == nil {
			res.Err = errors.New("the step failed without saying why")
		}
		s.State, s.Error, s.Next = StepFailed, res.Err.Error(), res.Next
		r.State, r.Error = RunFailed, fmt.Sprintf("step %s failed: %v", name, res.Err)
		if interrupted {
			s.Next = "The plugin stopped during this step. `/dr failover resume` runs it again; it checks what was already done first."
			r.State = RunInterrupted
		}
		return
	}
	s.State, s.Detail, s.Next, s.Undo, s.Error = res.State, res.Detail, res.Next, res.Undo, ""
	if res.State == StepWaiting {
		r.State = RunWaiting
	}
}

func (e *Engine) runStep(ctx context.Context, run *Run, rec StepRecord) (res Result) {
	defer func() {
		if v := recover(); v != nil {
			res = Failed(fmt.Errorf("step %s panicked: %v\n%s", rec.Name, v, debug.Stack()), "Report this as a bug of the Disaster Recovery plugin; `/dr failover resume` tries the step again.")
		}
	}()
	st := e.Steps[rec.Kind]
	if st == nil {
		return Failed(fmt.Errorf("unknown step kind %q", rec.Kind), "This plugin version cannot run the step: abort the runbook.")
	}
	var live Live
	if e.Live != nil {
		var err error
		if live, err = e.Live(ctx); err != nil {
			return Failed(fmt.Errorf("read the settings: %w", err), "Fix the settings, then `/dr failover resume`.")
		}
	}
	sc := &StepContext{Live: live, Run: *run, Step: rec, Progress: e.Progress, Hit: e.hit}
	sc.save = func(key, value string) error {
		_, err := e.Journal.Update(ctx, func(r *Run) (*Run, error) {
			if r == nil || r.ID != run.ID {
				return nil, coded(ErrOtherRun, "runbook %s was replaced", run.ID)
			}
			s := r.Step(rec.Name)
			if s.Data == nil {
				s.Data = map[string]string{}
			}
			s.Data[key] = value
			return r, nil
		})
		return err
	}
	return st.Run(ctx, sc)
}

// TakeOver makes the steps of runbook id that wait for the plugin pending again, for an engine
// that has what they need (Mattermost) to run them.
func (e *Engine) TakeOver(ctx context.Context, id string) (*Run, error) {
	return e.Journal.Update(ctx, func(r *Run) (*Run, error) {
		switch {
		case r == nil:
			return nil, coded(ErrNoRun, "no runbook was started")
		case r.ID != id:
			return nil, coded(ErrOtherRun, "runbook %s was replaced by %s", id, r.ID)
		case r.State.Terminal():
			return nil, coded(ErrNotActive, "runbook %s is %s", r.ID, r.State)
		}
		for i := range r.Steps {
			if s := &r.Steps[i]; s.State == StepForPlugin {
				s.State, s.Detail = StepPending, ""
			}
		}
		return r, nil
	})
}

// Confirm marks the waiting step as confirmed by actor; the caller then runs the runbook.
func (e *Engine) Confirm(ctx context.Context, actor string) (*Run, error) {
	return e.Journal.Update(ctx, func(r *Run) (*Run, error) {
		if r == nil {
			return nil, coded(ErrNoRun, "no runbook was started")
		}
		if r.State.Terminal() {
			return nil, coded(ErrNotActive, "runbook %s is %s", r.ID, r.State)
		}
		i := r.next()
		if i < 0 || r.Steps[i].State != StepWaiting {
			return nil, coded(ErrNotWaiting, "no step of runbook %s waits for a confirmation (it is %s)", r.ID, r.State)
		}
		r.Steps[i].Confirmed, r.Steps[i].ConfirmedBy = true, actor
		r.UpdatedAt = e.now()
		return r, nil
	})
}

// Abort stops the runbook. With now (the caller holds the runbook lock, so no node runs it)
// it ends at once; otherwise the node running it stops before its next step.
func (e *Engine) Abort(ctx context.Context, actor string, now bool) (*Run, error) {
	run, err := e.Journal.Update(ctx, func(r *Run) (*Run, error) {
		if r == nil {
			return nil, coded(ErrNoRun, "no runbook was started")
		}
		if r.State.Terminal() {
			return nil, coded(ErrNotActive, "runbook %s is already %s", r.ID, r.State)
		}
		r.AbortRequested, r.AbortedBy = true, actor
		r.UpdatedAt = e.now()
		if now {
			r.finish(RunAborted, e.now())
		}
		return r, nil
	})
	if err == nil && now {
		e.emit(Event{Kind: EventRunStopped, Run: run})
	}
	return run, err
}
