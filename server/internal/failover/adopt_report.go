package failover

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
)

// drctlActorID is the audit actor id of a runbook's runner outside Mattermost when it gave none.
const drctlActorID = "drctl"

// stepActor is who ran a step: its own record, else the runbook's starter.
func stepActor(r *Run, s StepRecord) string { return nonEmpty(s.Actor, r.Actor) }

// ranBefore lists the steps the runner outside Mattermost ran (or recorded) before the hand-over.
func ranBefore(r *Run) []StepRecord {
	var out []StepRecord
	for _, s := range r.Steps {
		if s.StartedAt != nil || s.State != StepPending {
			out = append(out, s)
		}
	}
	return out
}

// HandoverAudit are the audit entries of a hand-over: the start and every step the runner
// outside Mattermost ran, under its actor ("drctl: user@host"), then the adoption by the plugin.
func HandoverAudit(r *Run, plugin Actor) []audit.Entry {
	id := nonEmpty(r.ActorID, drctlActorID)
	out := []audit.Entry{{ActorID: id, Actor: "drctl: " + r.Actor, Action: "failover.start", Target: r.ID, Outcome: audit.OutcomeStarted,
		Details: map[string]string{"kind": string(r.Kind), "mode": string(r.Mode), "from": r.From, "to": r.To, "via": "drctl",
			"at": r.CreatedAt.UTC().Format(time.RFC3339), "forced": strconv.FormatBool(r.Forced)}}}
	for _, s := range ranBefore(r) {
		outcome, ok := stepOutcomes[s.State]
		if !ok {
			outcome = audit.OutcomeSucceeded
		}
		d := map[string]string{"state": string(s.State), "duration_ms": strconv.FormatInt(s.DurationMS, 10), "attempts": strconv.Itoa(s.Attempts),
			"from": s.From, "to": s.To, "via": "drctl"}
		if s.StartedAt != nil {
			d["started_at"] = s.StartedAt.UTC().Format(time.RFC3339)
		}
		if s.FinishedAt != nil {
			d["finished_at"] = s.FinishedAt.UTC().Format(time.RFC3339)
		}
		out = append(out, audit.Entry{ActorID: id, Actor: "drctl: " + stepActor(r, s), Action: "failover.step", Target: r.ID + "/" + s.Name,
			Outcome: outcome, Reason: s.Error, Details: d})
	}
	a := r.Adopted
	d := map[string]string{"kind": string(r.Kind), "mode": string(r.Mode), "from": r.From, "to": r.To, "started_by": "drctl: " + r.Actor,
		"waiting_steps": strconv.Itoa(len(r.ForPlugin()))}
	if a != nil {
		d["source"], d["node"], d["region"] = a.Source, a.Node, a.Region
	}
	return append(out, audit.Entry{ActorID: plugin.ID, Actor: plugin.Name, Action: "failover.adopt", Target: r.ID, Outcome: audit.OutcomeSucceeded, Details: d})
}

// HandoverMarkdown is the bot's post when the plugin takes a runbook over: what drctl did, who
// ran it, when, and how long each step took; then what the plugin runs now.
func HandoverMarkdown(r *Run, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, ":handshake: **%s `%s` from %s to %s (%s) was started by drctl (`%s`)** at %s and is handed over to the plugin",
		titleCase(string(r.Kind)), r.ID, r.From, r.To, r.Mode, r.Actor, r.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	if a := r.Adopted; a != nil {
		fmt.Fprintf(&b, " on node `%s` (%s, found at destination `%s`)", a.Node, a.Region, a.Source)
	}
	fmt.Fprintf(&b, ", %s after it started.", r.Elapsed(now).Round(time.Second))
	if r.Forced {
		b.WriteString(" It was forced past failing preflight checks.")
	}
	b.WriteString("\n\n**What drctl did:**\n\n| # | step | state | by | started | took | attempts | detail |\n|---|---|---|---|---|---|---|---|\n")
	for i, s := range r.Steps {
		if s.StartedAt == nil && s.State == StepPending {
			continue
		}
		started := ""
		if s.StartedAt != nil {
			started = s.StartedAt.UTC().Format("15:04:05")
		}
		fmt.Fprintf(&b, "| %d | %s | %s %s | %s | %s | %s | %d | %s |\n", i+1, cell(s.Title), stateIcon[s.State], s.State, cell(stepActor(r, s)),
			started, s.Duration().Round(100*time.Millisecond), s.Attempts, cell(nonEmpty(s.Error, s.Detail)))
	}
	if waiting := r.ForPlugin(); len(waiting) > 0 {
		fmt.Fprintf(&b, "\nThe plugin now runs the %d step(s) that need Mattermost: %s. `/dr failover status` shows where it is.\n", len(waiting), titles(waiting))
	} else {
		b.WriteString("\nThe plugin goes on with the steps left. `/dr failover status` shows where it is.\n")
	}
	return b.String()
}

// handoverLine says, in a runbook's status and summary, that drctl started it.
func handoverLine(r *Run) string {
	a := r.Adopted
	if a == nil {
		return ""
	}
	return fmt.Sprintf(":handshake: Started by drctl (`%s`); adopted by the plugin on node `%s` (%s) at %s from destination `%s`.\n\n",
		r.Actor, a.Node, a.Region, a.At.UTC().Format("2006-01-02 15:04:05 UTC"), a.Source)
}
