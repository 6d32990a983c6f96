package failover

import (
	"fmt"
	"strconv"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
)

// observer writes the audit trail and the posts for the engine's events, and passes them on
// to the front end's Observer. The result of a stopped runbook is posted through report (nil:
// at once).
func (s *Service) observer(actor Actor, report func(func())) Observer {
	if report == nil {
		report = func(f func()) { f() }
	}
	return ObserverFunc(func(ev Event) {
		switch ev.Kind {
		case EventStepStarted:
			s.stepStarted(actor, ev)
		case EventStepFinished:
			s.stepFinished(actor, ev)
		case EventRunStopped:
			s.runStopped(actor, ev.Run, report)
		}
		if s.Observer != nil {
			s.Observer.Event(ev)
		}
	})
}

func (s *Service) stepStarted(actor Actor, ev Event) {
	run, st := ev.Run, ev.Step
	s.audit(audit.Entry{ActorID: actor.ID, Actor: actor.Name, Action: "failover.step", Target: run.ID + "/" + st.Name, Outcome: audit.OutcomeStarted,
		Details: map[string]string{"kind": string(run.Kind), "mode": string(run.Mode), "from": st.From, "to": st.To, "attempt": strconv.Itoa(st.Attempts)}})
}

// stepOutcomes are how each step state is audited (done: succeeded).
var stepOutcomes = map[StepState]audit.Outcome{
	StepFailed: audit.OutcomeFailed, StepWaiting: audit.OutcomeStarted, StepForPlugin: audit.OutcomeStarted,
	StepSkipped: audit.OutcomeSkipped, StepManual: audit.OutcomeSkipped, StepDeferred: audit.OutcomeSkipped,
}

func (s *Service) stepFinished(actor Actor, ev Event) {
	run, st := ev.Run, ev.Step
	outcome, ok := stepOutcomes[st.State]
	if !ok {
		outcome = audit.OutcomeSucceeded
	}
	s.audit(audit.Entry{ActorID: actor.ID, Actor: actor.Name, Action: "failover.step", Target: run.ID + "/" + st.Name, Outcome: outcome, Reason: st.Error,
		Details: map[string]string{"state": string(st.State), "duration_ms": strconv.FormatInt(st.DurationMS, 10), "from": st.From, "to": st.To}})
	if st.State.Finished() && s.Announcer != nil {
		_ = s.Announcer.Ops(fmt.Sprintf("%s `%s` step %d/%d **%s**: %s in %s. %s", titleCase(string(run.Kind)), run.ID, ev.Index+1, len(run.Steps), st.Title, st.State,
			st.Duration().Round(100*time.Millisecond), st.Detail))
	}
}

// runActions are the audit action and outcome of each way a runbook stops.
var runActions = map[RunState]struct {
	action  string
	outcome audit.Outcome
}{
	RunCompleted:   {"failover.complete", audit.OutcomeSucceeded},
	RunFailed:      {"failover.fail", audit.OutcomeFailed},
	RunWaiting:     {"failover.wait", audit.OutcomeStarted},
	RunForPlugin:   {"failover.wait", audit.OutcomeStarted},
	RunAborted:     {"failover.abort", audit.OutcomeSucceeded},
	RunInterrupted: {"failover.interrupt", audit.OutcomeFailed},
}

func (s *Service) runStopped(actor Actor, run *Run, report func(func())) {
	a, ok := runActions[run.State]
	if !ok {
		return
	}
	s.audit(audit.Entry{ActorID: actor.ID, Actor: actor.Name, Action: a.action, Target: run.ID, Outcome: a.outcome, Reason: run.Error,
		Details: map[string]string{"kind": string(run.Kind), "mode": string(run.Mode), "from": run.From, "to": run.To, "elapsed": run.Elapsed(s.now()).Round(time.Millisecond).String()}})
	summary := SummaryMarkdown(run, s.now())
	report(func() {
		if err := s.opsAndDirect(actor.ID, summary); err != nil {
			s.warn("Cannot post the runbook's result", "run", run.ID, "error", err.Error())
		}
	})
}
