// Package failover is the guided failover runbook: moving Mattermost from one region to the other
// (and back) as an ordered list of steps, each journaled before and after it runs, idempotent,
// and checking its own result. The engine (Engine) knows steps only through the Step interface;
// the steps that drive the real systems (Aurora, PostgreSQL, OpenSearch, Route 53) live here too,
// and the ones that need the Mattermost server (posts, node reports, settings, status) reach it
// through the small interfaces in Deps, which the plugin implements.
//
// Service holds the rules around the engine (plan and preflight, start, confirm, resume, abort,
// failback, the runbook lock and heartbeat) for both front ends: the plugin gives it every
// capability; a runner without Mattermost (drctl) leaves the Mattermost steps as
// StepForPlugin, and the plugin takes them over on its next resume.
//
// The journal (the Run stored in the plugin's KV store) is the single source of truth: a node
// that dies mid-step leaves the step "running"; resuming runs that step again, and the step looks
// at the real system first (is the target already the writer?) so that its effect is not
// repeated. Only one runbook is active at a time: a new one is refused while the last is neither
// completed nor aborted.
package failover

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Mode is how the database moves.
type Mode string

// Modes.
const (
	// Switchover is planned: the old region is up, the database waits for the standby to
	// catch up, nothing is lost.
	Switchover Mode = "switchover"
	// Failover is for a region that is down: fast, and may lose the writes not yet replicated;
	// steps that need the old region are deferred to the failback when it does not answer.
	Failover Mode = "failover"
)

// ParseMode reads a mode as typed by an admin.
func ParseMode(s string) (Mode, error) {
	switch Mode(strings.ToLower(strings.TrimSpace(s))) {
	case Switchover:
		return Switchover, nil
	case Failover:
		return Failover, nil
	}
	return "", fmt.Errorf("mode %q: use switchover (planned, no data loss) or failover (the region is down)", s)
}

// Kind says which way a runbook goes: away from the home region, or back to it.
type Kind string

// Kinds.
const (
	KindFailover Kind = "failover"
	KindFailback Kind = "failback"
)

// StepState is where one step is.
type StepState string

// Step states.
const (
	StepPending StepState = "pending"
	StepRunning StepState = "running"
	StepDone    StepState = "done"
	StepFailed  StepState = "failed"
	// StepWaiting: the step needs a person (restart nodes, promote a database by hand) and
	// waits for `/dr failover confirm`, or for a resume that finds the work done.
	StepWaiting StepState = "waiting"
	// StepDeferred: the old region does not answer; the failback runs the step first.
	StepDeferred StepState = "deferred"
	// StepSkipped: nothing is configured for it.
	StepSkipped StepState = "skipped"
	// StepManual: done by a person; the instructions are in Detail. It does not hold the runbook.
	StepManual StepState = "manual"
	// StepForPlugin: the step needs Mattermost (posts, node reports, the plugin's settings),
	// which the runner did not have (drctl, with Mattermost down); the plugin runs it when it
	// takes the runbook over. It does not hold the steps after it.
	StepForPlugin StepState = "waiting-for-plugin"
)

// Finished says the engine does not run the step again.
func (s StepState) Finished() bool {
	switch s {
	case StepDone, StepDeferred, StepSkipped, StepManual, StepForPlugin:
		return true
	}
	return false
}

// RunState is where a runbook is.
type RunState string

// Runbook states.
const (
	RunRunning RunState = "running"
	RunWaiting RunState = "waiting" // a step waits for a confirm
	RunFailed  RunState = "failed"
	// RunInterrupted: the plugin stopped (deactivated, restarted) during a step.
	RunInterrupted RunState = "interrupted"
	RunAborted     RunState = "aborted"
	RunCompleted   RunState = "completed"
	// RunForPlugin: every step ran that could without Mattermost; the plugin runs the
	// StepForPlugin ones once Mattermost is up. Not over: no other runbook may start.
	RunForPlugin RunState = "waiting-for-plugin"
)

// Terminal says the runbook is over and another may start.
func (s RunState) Terminal() bool { return s == RunAborted || s == RunCompleted }

// StepRecord is one step as the journal holds it.
type StepRecord struct {
	Name  string `json:"name"` // unique in the run
	Kind  string `json:"kind"` // which Step runs it
	Title string `json:"title"`
	// From and To are the regions the step moves away from and to; a step carried over from
	// an earlier runbook keeps that runbook's direction.
	From  string `json:"from"`
	To    string `json:"to"`
	Calls string `json:"calls"` // what it calls, as the plan shows it

	State  StepState `json:"state"`
	Detail string    `json:"detail,omitempty"`
	Error  string    `json:"error,omitempty"`
	Next   string    `json:"next,omitempty"` // what to do, when failed or waiting
	Undo   string    `json:"undo,omitempty"` // how to undo it, once done

	Attempts   int        `json:"attempts"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	DurationMS int64      `json:"duration_ms"` // running time over all attempts
	// Actor is who ran the step last: the admin in chat, or drctl's user@host.
	Actor       string `json:"actor,omitempty"`
	Confirmed   bool   `json:"confirmed,omitempty"`
	ConfirmedBy string `json:"confirmed_by,omitempty"`
	// DeferredFrom is the runbook that deferred this step to this one.
	DeferredFrom string `json:"deferred_from,omitempty"`
	// Data are facts the step journaled while it ran (a request sent, a change id), so that a
	// resumed step knows what it already did.
	Data map[string]string `json:"data,omitempty"`
}

// Duration is the step's running time.
func (s StepRecord) Duration() time.Duration { return time.Duration(s.DurationMS) * time.Millisecond }

// Run is one runbook.
type Run struct {
	ID      string   `json:"id"`
	Kind    Kind     `json:"kind"`
	Mode    Mode     `json:"mode"`
	From    string   `json:"from"`
	To      string   `json:"to"`
	ActorID string   `json:"actor_id"`
	Actor   string   `json:"actor"`
	State   RunState `json:"state"`
	Error   string   `json:"error,omitempty"`
	// Forced: started although preflight checks failed.
	Forced bool    `json:"forced,omitempty"`
	Checks []Check `json:"checks,omitempty"` // preflight, as it was at the start

	Steps []StepRecord `json:"steps"`

	Node           string     `json:"node,omitempty"` // the node that ran it last
	AbortRequested bool       `json:"abort_requested,omitempty"`
	AbortedBy      string     `json:"aborted_by,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	FinishedAt     *time.Time `json:"finished_at,omitempty"`
	// Adopted is set once the plugin took over a runbook it found at a backup destination
	// (started by drctl); see Handover.
	Adopted *Adoption `json:"adopted,omitempty"`
}

// NewID returns a runbook id: sortable by time, unique enough across nodes.
func NewID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// Step returns the step named name, or nil.
func (r *Run) Step(name string) *StepRecord {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// next returns the first step the engine has to run, or -1 when all are finished.
func (r *Run) next() int {
	for i := range r.Steps {
		if !r.Steps[i].State.Finished() {
			return i
		}
	}
	return -1
}

// Current is the step the runbook is at (running, waiting, failed or next), or nil when all
// are finished.
func (r *Run) Current() *StepRecord {
	if i := r.next(); i >= 0 {
		return &r.Steps[i]
	}
	return nil
}

// ForPlugin lists the steps that wait for the plugin.
func (r *Run) ForPlugin() []StepRecord {
	var out []StepRecord
	for _, s := range r.Steps {
		if s.State == StepForPlugin {
			out = append(out, s)
		}
	}
	return out
}

// Deferred lists the steps a failback must run first: the ones this runbook deferred, and the
// ones it carried over from an earlier runbook but did not finish.
func (r *Run) Deferred() []StepRecord {
	var out []StepRecord
	for _, s := range r.Steps {
		if s.State == StepDeferred || (s.DeferredFrom != "" && !s.State.Finished()) {
			out = append(out, s)
		}
	}
	return out
}

// Elapsed is the time from the start to the end (or to now while it is not over).
func (r *Run) Elapsed(now time.Time) time.Duration {
	end := now
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	return end.Sub(r.CreatedAt)
}

func (r *Run) finish(state RunState, now time.Time) {
	r.State, r.UpdatedAt = state, now
	r.FinishedAt = &now
}

// Sequence is the order of the steps of a runbook, by step kind.
var Sequence = []string{
	KindAnnounce, KindDatabase, KindOpenSearchPromote, KindOpenSearchFollow,
	KindScheduler, KindDNS, KindRoll, KindSettings, KindFinal,
}

// NewRun lays out a runbook from from to to. A failback passes the runbook it undoes as
// carriedFrom: the steps that one deferred run right after the announcement, before anything
// moves back, because the failback builds on them (the old region's OpenSearch must follow the
// new one before it can lead again).
func NewRun(kind Kind, mode Mode, from, to, actorID, actor string, carriedFrom *Run, now time.Time) *Run {
	r := &Run{ID: NewID(now), Kind: kind, Mode: mode, From: from, To: to, ActorID: actorID, Actor: actor,
		State: RunRunning, CreatedAt: now, UpdatedAt: now}
	var carried []StepRecord
	if carriedFrom != nil {
		carried = carriedFrom.Deferred()
	}
	for _, k := range Sequence {
		r.Steps = append(r.Steps, StepRecord{Name: k, Kind: k, From: from, To: to, State: StepPending})
		if k != KindAnnounce {
			continue
		}
		for i, c := range carried {
			name := "deferred-" + c.Kind
			if i > 0 {
				name = fmt.Sprintf("%s-%d", name, i+1)
			}
			r.Steps = append(r.Steps, StepRecord{Name: name, Kind: c.Kind, From: c.From, To: c.To, State: StepPending,
				DeferredFrom: nonEmpty(c.DeferredFrom, carriedFrom.ID)})
		}
	}
	return r
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
