package failover

import (
	"fmt"
	"strings"
	"time"
)

// Plan is what `/dr failover plan` shows: the preflight and the steps, nothing changed.
type Plan struct {
	Run     *Run     `json:"run"`
	Checks  []Check  `json:"checks"`
	Blocked bool     `json:"blocked"`
	Notes   []string `json:"notes,omitempty"`
}

var checkIcon = map[CheckState]string{CheckPass: ":white_check_mark:", CheckWarn: ":warning:", CheckFail: ":x:"}

var stateIcon = map[StepState]string{
	StepPending: ":white_circle:", StepRunning: ":hourglass_flowing_sand:", StepDone: ":white_check_mark:",
	StepFailed: ":x:", StepWaiting: ":raised_hand:", StepDeferred: ":fast_forward:", StepSkipped: ":heavy_minus_sign:", StepManual: ":memo:",
	StepForPlugin: ":electric_plug:",
}

func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ")
}

// ChecksMarkdown is the preflight table.
func ChecksMarkdown(checks []Check) string {
	if len(checks) == 0 {
		return "_No preflight check applies: nothing is configured to check._\n"
	}
	var b strings.Builder
	b.WriteString("| | check | result | fix |\n|---|---|---|---|\n")
	for _, c := range checks {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", checkIcon[c.State], cell(c.Name), cell(c.Detail), cell(c.Fix))
	}
	return b.String()
}

// PlanMarkdown shows a plan; command is how to run it.
func PlanMarkdown(p Plan, command string) string {
	r := p.Run
	var b strings.Builder
	fmt.Fprintf(&b, "#### %s plan: %s → %s (%s)\n", titleCase(string(r.Kind)), r.From, r.To, r.Mode)
	for _, n := range p.Notes {
		fmt.Fprintf(&b, ":information_source: %s\n", n)
	}
	b.WriteString("\n**Preflight**\n\n")
	b.WriteString(ChecksMarkdown(p.Checks))
	b.WriteString("\n**Steps**, in order; each is journaled before and after it runs and checks its own result:\n\n")
	for i, s := range r.Steps {
		fmt.Fprintf(&b, "%d. **%s**: %s\n", i+1, s.Title, s.Calls)
	}
	b.WriteString("\nNothing was changed. ")
	switch {
	case p.Blocked && r.Mode == Switchover:
		fmt.Fprintf(&b, "Fix the failing checks first, or add `--force` to go ahead anyway (recorded), or use `--mode failover` if %s is down: `%s --confirm`", r.From, command)
	case p.Blocked:
		b.WriteString("A required check fails: fix it first.")
	default:
		fmt.Fprintf(&b, "To run it: `%s --confirm`", command)
	}
	return b.String()
}

// StatusMarkdown shows a runbook; alive says whether a node is running it now.
func StatusMarkdown(r *Run, alive bool, now time.Time) string {
	var b strings.Builder
	state := string(r.State)
	if r.State == RunRunning && !alive {
		state = "interrupted (no node is running it: `/dr failover resume`)"
	}
	fmt.Fprintf(&b, "#### %s `%s`: %s → %s (%s): **%s**\n", titleCase(string(r.Kind)), r.ID, r.From, r.To, r.Mode, state)
	fmt.Fprintf(&b, "Started %s by @%s, %s ago", r.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"), r.Actor, r.Elapsed(now).Round(time.Second))
	if r.Forced {
		b.WriteString(" (forced past failing preflight checks)")
	}
	if r.Node != "" {
		fmt.Fprintf(&b, "; node `%s`", r.Node)
	}
	b.WriteString(".\n\n")
	b.WriteString(handoverLine(r))
	b.WriteString(StepsMarkdown(r))
	if s := r.Current(); s != nil && !r.State.Terminal() {
		switch s.State {
		case StepFailed:
			fmt.Fprintf(&b, "\n:x: **%s failed**: %s\n\n**What to do:** %s\n", s.Title, s.Error, nonEmpty(s.Next, "fix the cause, then `/dr failover resume`; or `/dr failover abort`"))
		case StepWaiting:
			fmt.Fprintf(&b, "\n:raised_hand: **%s waits for you:** %s\n", s.Title, s.Next)
		}
	}
	if waiting := r.ForPlugin(); len(waiting) > 0 && !r.State.Terminal() {
		fmt.Fprintf(&b, "\n:electric_plug: **%d step(s) wait for the plugin** (they need Mattermost, which the runner did not have): %s. The plugin runs them once Mattermost is up in %s: `/dr failover resume`.\n",
			len(waiting), titles(waiting), r.To)
	}
	if r.AbortRequested && !r.State.Terminal() {
		fmt.Fprintf(&b, "\nAbort requested by @%s: the runbook stops before its next step.\n", r.AbortedBy)
	}
	return b.String()
}

func titles(steps []StepRecord) string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = "**" + s.Title + "**"
	}
	return strings.Join(out, ", ")
}

// StepsMarkdown is the step table with each step's measured duration.
func StepsMarkdown(r *Run) string {
	var b strings.Builder
	b.WriteString("| # | step | state | by | took | detail |\n|---|---|---|---|---|---|\n")
	for i, s := range r.Steps {
		detail := s.Detail
		if s.Error != "" {
			detail = s.Error
		}
		took := ""
		if s.DurationMS > 0 || s.State.Finished() || s.State == StepFailed {
			took = s.Duration().Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(&b, "| %d | %s | %s %s | %s | %s | %s |\n", i+1, cell(s.Title), stateIcon[s.State], s.State, cell(s.Actor), took, cell(detail))
	}
	return b.String()
}

// SummaryMarkdown is the bot's post when a runbook stops.
func SummaryMarkdown(r *Run, now time.Time) string {
	var b strings.Builder
	switch r.State {
	case RunCompleted:
		fmt.Fprintf(&b, ":white_check_mark: **%s `%s` from %s to %s completed** in %s (%s).\n\n", titleCase(string(r.Kind)), r.ID, r.From, r.To, r.Elapsed(now).Round(100*time.Millisecond), r.Mode)
		b.WriteString(handoverLine(r))
		b.WriteString(StepsMarkdown(r))
		var manual, deferred []string
		for _, s := range r.Steps {
			switch s.State {
			case StepManual:
				manual = append(manual, "- **"+s.Title+"**: "+s.Detail)
			case StepDeferred:
				deferred = append(deferred, "- **"+s.Title+"**: "+s.Detail)
			}
		}
		if len(manual) > 0 {
			b.WriteString("\n**Still to do by hand:**\n" + strings.Join(manual, "\n") + "\n")
		}
		if len(deferred) > 0 {
			fmt.Fprintf(&b, "\n**Deferred to `/dr failback`** (it runs them first, once %s is back):\n%s\n", r.From, strings.Join(deferred, "\n"))
		}
	case RunFailed, RunInterrupted:
		s := r.Current()
		fmt.Fprintf(&b, ":x: **%s `%s` from %s to %s stopped**: %s\n\n", titleCase(string(r.Kind)), r.ID, r.From, r.To, r.Error)
		if s != nil && s.Next != "" {
			fmt.Fprintf(&b, "**What to do:** %s Or `/dr failover abort`.\n\n", s.Next)
		}
		b.WriteString(StepsMarkdown(r))
	case RunWaiting:
		s := r.Current()
		fmt.Fprintf(&b, ":raised_hand: **%s `%s` waits for you at \"%s\"**: %s\n", titleCase(string(r.Kind)), r.ID, s.Title, s.Next)
	case RunAborted:
		b.WriteString(AbortMarkdown(r))
	default:
		b.WriteString(StatusMarkdown(r, true, now))
	}
	return b.String()
}

// AbortMarkdown says what an aborted runbook did and how to undo it.
func AbortMarkdown(r *Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, ":octagonal_sign: **%s `%s` from %s to %s aborted** by @%s.\n", titleCase(string(r.Kind)), r.ID, r.From, r.To, nonEmpty(r.AbortedBy, "an admin"))
	var done, partial, notRun []string
	for _, s := range r.Steps {
		switch s.State {
		case StepDone, StepManual:
			line := "- **" + s.Title + "**: " + s.Detail
			if s.Undo != "" {
				line += "\n  - undo: " + s.Undo
			}
			done = append(done, line)
		case StepRunning, StepFailed, StepWaiting:
			partial = append(partial, fmt.Sprintf("- **%s** (%s): %s", s.Title, s.State, nonEmpty(nonEmpty(s.Error, s.Detail), "it may be partly done: check it")))
		default:
			notRun = append(notRun, "- "+s.Title+" ("+string(s.State)+")")
		}
	}
	if len(done) > 0 {
		b.WriteString("\n**Done** (and how to undo it):\n" + strings.Join(done, "\n") + "\n")
	} else {
		b.WriteString("\nNothing was changed yet.\n")
	}
	if len(partial) > 0 {
		b.WriteString("\n**Stopped during:**\n" + strings.Join(partial, "\n") + "\n")
	}
	if len(notRun) > 0 {
		b.WriteString("\n**Not run:**\n" + strings.Join(notRun, "\n") + "\n")
	}
	if len(done) > 0 {
		fmt.Fprintf(&b, "\nTo undo it all, `/dr failback` runs the runbook back to %s; every step checks what is already in place first. To go on to %s instead: `/dr failover start --to %s --mode %s --confirm`.\n", r.From, r.To, r.To, r.Mode)
	}
	return b.String()
}
