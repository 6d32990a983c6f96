package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/nodes"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

// Service is the runbook's orchestration: the plan and its preflight, and the rules of start,
// confirm, resume and abort, over the engine. The front ends (the plugin's `/dr failover` and
// REST, drctl) only parse requests and show results.
//
// Journal, Lock, Config, Prober, Backups and Runner are required. The Mattermost-side
// capabilities (Announcer, Settings, Nodes, Audit) are optional: without them (drctl, with
// Mattermost down) the steps that need them are recorded as StepForPlugin, for the plugin to
// run once Mattermost is up, and nothing is audited or posted.
type Service struct {
	Journal Journal
	Lock    Lock
	Config  Config
	Prober  Prober
	Backups Backups
	Runner  Runner
	Clock   Clock // nil: the system clock

	Announcer Announcer
	Settings  Settings
	Nodes     NodeReporter
	Audit     Auditor
	Log       Logger
	// Observer also hears the engine's events (drctl prints them).
	Observer Observer

	// Node and Process name this holder in the journal and the heartbeat.
	Node    string
	Process int
	// Hit is the failpoint hook (tests kill the plugin there).
	Hit func(name string)
	// LockExpiry is how long the lock of a holder that died lasts (default 15 s): a drive waits
	// that long and more before it says another holder runs the runbook.
	LockExpiry time.Duration
	// HeartbeatTTL is how long a heartbeat counts (default 30 s); the holder beats every third.
	HeartbeatTTL time.Duration
	// Checks are added to every preflight (drctl: whether the settings document is trusted).
	Checks []Check
}

// Config reads the deployment's settings each time the service needs them: the plugin's
// settings, or drctl's settings document.
type Config interface {
	// Setup names the regions; its error says what to fix before a runbook can be planned.
	Setup(ctx context.Context) (Setup, error)
	// Live is what the steps need, secrets included.
	Live(ctx context.Context) (Live, error)
}

// Setup is what a plan reads from the settings besides Live.
type Setup struct {
	Primary, Standby string
	// BackupMaxAge is how old the newest verified backup may be (0: 26 h).
	BackupMaxAge time.Duration
}

// DefaultBackupMaxAge is the preflight's backup freshness when the settings give none.
const DefaultBackupMaxAge = 26 * time.Hour

// Prober runs the status probes, fresh, with the current settings.
type Prober interface {
	Check(ctx context.Context) (status.Report, error)
}

// Backups says when the newest backup was verified (zero: never).
type Backups interface {
	NewestVerified(ctx context.Context) (time.Time, error)
}

// NodeReporter asks every app node for its report now (Mattermost's cluster).
type NodeReporter interface {
	Reports(ctx context.Context) ([]nodes.NodeReport, error)
}

// Auditor appends to the audit trail.
type Auditor interface {
	Append(e audit.Entry) (audit.Record, error)
}

// Logger warns in the server log.
type Logger interface {
	LogWarn(msg string, keyValuePairs ...any)
}

// Runner runs fn in the background on this machine, one drive at a time; its error says why
// it cannot start (another one runs). drctl runs fn in the foreground.
type Runner interface {
	Go(actorID string, fn func(ctx context.Context, job Job)) error
}

// Job is the drive as its Runner runs it.
type Job interface {
	SetProgress(text string)
	// Report runs f once the drive has ended and the runner is free again: the runbook's
	// result is posted from there, so that an admin who reads it and answers at once (a
	// failback) does not find the runbook still busy.
	Report(f func())
}

// Clock tells the time.
type Clock interface{ Now() time.Time }

// Actor is the person acting.
type Actor struct {
	ID   string
	Name string
}

// Request is what a plan or a start asks for.
type Request struct {
	Kind  Kind
	To    string // a failover's target; a failback reverses the last runbook
	Mode  Mode
	Force bool
	Actor Actor
}

func (s *Service) now() time.Time {
	if s.Clock != nil {
		return s.Clock.Now()
	}
	return time.Now()
}

// deps wires the steps to the capabilities the service has; a nil one stays nil, so the step
// records that it waits for the plugin.
func (s *Service) deps() Deps {
	d := Deps{Announce: s.Announcer, Settings: s.Settings, Check: s.Prober.Check, Now: s.now}
	if s.Nodes != nil {
		d.Nodes = s.Nodes.Reports
	}
	return d
}

// engine wires the runbook engine; actor hears about its events.
func (s *Service) engine(actor Actor) *Engine { return s.engineReporting(actor, nil) }

// engineReporting is engine whose final posts go through report (nil: at once).
func (s *Service) engineReporting(actor Actor, report func(func())) *Engine {
	return &Engine{
		Journal:  s.Journal,
		Steps:    Steps(s.deps()),
		Live:     s.Config.Live,
		Observer: s.observer(actor, report),
		Hit:      s.Hit,
		Node:     s.Node,
		Actor:    actor.Name,
		Now:      s.now,
	}
}

// Current is the runbook in the journal, nil when none was ever started.
func (s *Service) Current(ctx context.Context) (*Run, error) { return s.Journal.Load(ctx) }

// Start journals a new runbook after its preflight, and drives it in the background.
func (s *Service) Start(ctx context.Context, req Request) (*Run, error) {
	// One runbook at a time: say so before spending time on the preflight.
	if last, err := s.Journal.Load(ctx); err != nil {
		return nil, err
	} else if last != nil && !last.State.Terminal() {
		return nil, fmt.Errorf("%w: runbook `%s` (%s to %s) is %s; resume it (`/dr failover resume`) or abort it (`/dr failover abort`) first", ErrActive, last.ID, last.From, last.To, last.State)
	}
	plan, err := s.Plan(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := refusal(plan, req.Force); err != nil {
		return nil, err
	}
	run := plan.Run
	run.Checks, run.Forced = plan.Checks, plan.Blocked
	created, err := s.engine(req.Actor).Create(ctx, run)
	if err != nil {
		return nil, err
	}
	details := map[string]string{"kind": string(run.Kind), "mode": string(run.Mode), "from": run.From, "to": run.To}
	if run.Forced {
		details["forced"] = "true"
	}
	s.audit(audit.Entry{ActorID: req.Actor.ID, Actor: req.Actor.Name, Action: "failover.start", Target: created.ID, Outcome: audit.OutcomeStarted, Details: details})
	if err := s.drive(created.ID, req.Actor); err != nil {
		return nil, fmt.Errorf("runbook %s is journaled but could not start here: %w; `/dr failover resume` starts it", created.ID, err)
	}
	return created, nil
}

// refusal says why a plan cannot start: failing checks, unless forced past the ones --force may skip.
func refusal(plan Plan, force bool) error {
	if !plan.Blocked || (force && !RequiredFailed(plan.Checks)) {
		return nil
	}
	var failing []string
	for _, c := range plan.Checks {
		if c.State == CheckFail {
			failing = append(failing, fmt.Sprintf("- %s: %s", c.Name, c.Detail))
		}
	}
	hint := "fix them, or add --force to go ahead anyway (recorded)"
	if RequiredFailed(plan.Checks) {
		hint = "fix them: --force cannot skip these"
	}
	return fmt.Errorf("preflight checks fail, %s:\n%s", hint, strings.Join(failing, "\n"))
}

// Confirm confirms the waiting step and goes on.
func (s *Service) Confirm(ctx context.Context, actor Actor) (*Run, error) {
	run, err := s.engine(actor).Confirm(ctx, actor.Name)
	if err != nil {
		return nil, err
	}
	s.audit(audit.Entry{ActorID: actor.ID, Actor: actor.Name, Action: "failover.confirm", Target: run.ID + "/" + run.Current().Name, Outcome: audit.OutcomeSucceeded})
	if err := s.drive(run.ID, actor); err != nil {
		return nil, fmt.Errorf("confirmed, but the runbook could not go on here: %w; `/dr failover resume`", err)
	}
	return run, nil
}

// Resume goes on with a runbook that failed, waits, or was interrupted (its holder died).
func (s *Service) Resume(ctx context.Context, actor Actor) (*Run, error) {
	run, err := s.Journal.Load(ctx)
	switch {
	case err != nil:
		return nil, err
	case run == nil:
		return nil, ErrNoRun
	case run.State.Terminal():
		return nil, fmt.Errorf("runbook `%s` is %s: there is nothing to resume", run.ID, run.State)
	case run.State == RunRunning && s.Alive(ctx, run.ID):
		return nil, fmt.Errorf("runbook `%s` is running (node `%s`): `/dr failover status` shows where it is", run.ID, run.Node)
	}
	if err := s.adoptedByPlugin(run); err != nil {
		return nil, err
	}
	s.audit(audit.Entry{ActorID: actor.ID, Actor: actor.Name, Action: "failover.resume", Target: run.ID, Outcome: audit.OutcomeStarted,
		Details: map[string]string{"state": string(run.State)}})
	if err := s.drive(run.ID, actor); err != nil {
		return nil, err
	}
	return run, nil
}

// Abort ends the runbook at once when no holder runs it, and otherwise asks the one that does
// to stop before its next step.
func (s *Service) Abort(ctx context.Context, actor Actor) (*Run, error) {
	eng := s.engine(actor)
	cur, err := s.Journal.Load(ctx)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, ErrNoRun
	}
	if err := s.adoptedByPlugin(cur); err != nil {
		return nil, err
	}
	// A holder that died keeps the lock until it expires: wait that long when nobody says it
	// runs the runbook, so that an interrupted runbook ends now.
	wait := 2 * time.Second
	if !s.Alive(ctx, cur.ID) {
		wait = s.lockExpiry() + 10*time.Second
	}
	var run *Run
	err = s.withLock(ctx, wait, func() error {
		var err error
		run, err = eng.Abort(ctx, actor.Name, true)
		return err
	})
	if errors.Is(err, ErrLocked) {
		run, err = eng.Abort(ctx, actor.Name, false)
	}
	if err != nil {
		return nil, err
	}
	outcome := audit.OutcomeSucceeded
	if run.State != RunAborted {
		outcome = audit.OutcomeStarted
	}
	s.audit(audit.Entry{ActorID: actor.ID, Actor: actor.Name, Action: "failover.abort", Target: run.ID, Outcome: outcome,
		Details: map[string]string{"state": string(run.State)}})
	return run, nil
}

// drive runs the runbook in the background, holding the lock and beating the heartbeat.
func (s *Service) drive(id string, actor Actor) error {
	return s.Runner.Go(actor.ID, func(ctx context.Context, job Job) {
		job.SetProgress("waiting for the cluster-wide runbook lock")
		// After a crash the dead holder's lock lasts a while more.
		err := s.withLock(ctx, s.lockExpiry()+25*time.Second, func() error {
			stop := s.heartbeat(ctx, id)
			defer stop()
			eng := s.engineReporting(actor, job.Report)
			eng.Progress = job.SetProgress
			if s.mattermost() {
				if _, err := eng.TakeOver(ctx, id); err != nil {
					return err
				}
			}
			_, err := eng.Run(ctx, id)
			return err
		})
		if err == nil {
			return
		}
		msg := fmt.Sprintf(":x: Runbook `%s` could not run: %v", id, err)
		if errors.Is(err, ErrLocked) {
			msg = fmt.Sprintf(":warning: Runbook `%s` did not start here: another node holds the runbook lock (it runs the runbook, or died less than a minute ago). `/dr failover status`, then `/dr failover resume` if nothing runs it.", id)
		}
		s.warn("Disaster Recovery runbook stopped", "run", id, "error", err.Error())
		job.Report(func() { _ = s.opsAndDirect(actor.ID, msg) })
	})
}

// adoptedByPlugin refuses, outside Mattermost, to drive a runbook the plugin took over: the
// plugin runs its remaining steps, and two drivers would run them twice.
func (s *Service) adoptedByPlugin(run *Run) error {
	if s.mattermost() || run.Adopted == nil || run.State.Terminal() {
		return nil
	}
	a := run.Adopted
	return fmt.Errorf("%w: node %s (%s) took runbook %s over at %s and runs its remaining steps; follow it with `/dr failover status`, and resume or abort it there", ErrPluginDrives,
		a.Node, a.Region, run.ID, a.At.UTC().Format(time.RFC3339))
}

// mattermost says whether the service can run every step (it has what Mattermost gives).
func (s *Service) mattermost() bool {
	return s.Announcer != nil && s.Settings != nil && s.Nodes != nil
}

func (s *Service) audit(e audit.Entry) {
	if s.Audit != nil {
		_, _ = s.Audit.Append(e)
	}
}

func (s *Service) warn(msg string, kv ...any) {
	if s.Log != nil {
		s.Log.LogWarn(msg, kv...)
	}
}

// opsAndDirect posts to the ops channel and to the acting admin, so that the admin hears about
// the end even when the ops channel is misconfigured; it returns the ops channel's error first.
func (s *Service) opsAndDirect(userID, message string) error {
	if s.Announcer == nil {
		return nil
	}
	opsErr := s.Announcer.Ops(message)
	if userID != "" && userID != audit.ActorSystem { // the plugin itself (a hand-over) has no inbox
		if err := s.Announcer.Direct(userID, message); err != nil && opsErr == nil {
			return err
		}
	}
	return opsErr
}
