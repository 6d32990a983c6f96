package status

import (
	"fmt"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// Debouncer decides when the bot posts a verdict change to the ops channel. A new verdict is
// posted once it has held for MinChecks consecutive checks AND for MinDuration: the count
// alone would post within seconds when checks are frequent, the duration alone would post on
// a single check when they are rare. Set MinChecks to 1 or MinDuration to 0 to use only the
// other. A verdict that flips back before that is never posted, so flapping costs no posts.
//
// A Debouncer is pure: it takes the state and the clock reading and returns the new state, so
// the plugin can keep AlertState in its KV store (one copy for the whole cluster, updated
// with compare-and-set) and survive restarts without posting twice or forgetting an outage.
type Debouncer struct {
	MinChecks   int           `json:"min_checks"`
	MinDuration time.Duration `json:"min_duration"`
	// MaxGap: checks further apart than this are not consecutive (the plugin was down, say),
	// so a change seen before the gap starts counting again.
	MaxGap time.Duration `json:"max_gap"`
}

// DefaultDebouncer posts a change that held for 2 checks and 2 minutes.
func DefaultDebouncer() Debouncer {
	return Debouncer{MinChecks: 2, MinDuration: 2 * time.Minute, MaxGap: 15 * time.Minute}
}

// AlertState is what the debouncer remembers between checks. The zero value means "healthy,
// as far as anyone was told": a deployment that starts out unhealthy is announced.
type AlertState struct {
	// Posted is the verdict last announced (empty: healthy).
	Posted   probe.State `json:"posted,omitempty"`
	PostedAt time.Time   `json:"posted_at,omitzero"`
	// Candidate is the verdict that differs from Posted and may be announced once it holds.
	Candidate       probe.State `json:"candidate,omitempty"`
	CandidateSince  time.Time   `json:"candidate_since,omitzero"`
	CandidateChecks int         `json:"candidate_checks,omitempty"`
	// UnhealthySince is when the announced problem was first seen, for the recovery post.
	UnhealthySince time.Time `json:"unhealthy_since,omitzero"`
	LastCheck      time.Time `json:"last_check,omitzero"`
}

// Alert is one post to make.
type Alert struct {
	From probe.State `json:"from"`
	To   probe.State `json:"to"`
	// Since is when the new verdict was first seen.
	Since time.Time `json:"since"`
	// Recovery: back to healthy; Outage says for how long it was not.
	Recovery bool          `json:"recovery"`
	Outage   time.Duration `json:"outage_ns,omitempty"`
}

// Observe records one check's verdict at now. It returns the new state and, when the bot
// should post, the alert (nil otherwise). Unknown and NotConfigured are mapped like the
// report's verdict (VerdictOf).
//
// A verdict moving around on the same side of the posted one still counts as one change:
// posted healthy, then degraded, critical, degraded has held "degraded or worse" for three
// checks and is posted as degraded, the mildest state seen; on the way back, the worst state
// seen is posted. Otherwise a deployment flapping between degraded and critical would never
// be announced at all.
func (d Debouncer) Observe(st AlertState, verdict probe.State, now time.Time) (AlertState, *Alert) {
	verdict = VerdictOf(verdict)
	posted := st.posted()
	gap := d.MaxGap > 0 && !st.LastCheck.IsZero() && now.Sub(st.LastCheck) > d.MaxGap
	st.LastCheck = now

	if verdict == posted {
		st.Candidate, st.CandidateSince, st.CandidateChecks = "", time.Time{}, 0
		return st, nil
	}
	dir := direction(posted, verdict)
	if st.Candidate != "" && !gap && direction(posted, st.Candidate) == dir {
		if dir > 0 {
			st.Candidate = mildest(st.Candidate, verdict)
		} else {
			st.Candidate = probe.Worst(st.Candidate, verdict)
		}
		st.CandidateChecks++
	} else {
		st.Candidate, st.CandidateSince, st.CandidateChecks = verdict, now, 1
	}

	if st.CandidateChecks < d.MinChecks || now.Sub(st.CandidateSince) < d.MinDuration {
		return st, nil
	}
	a := &Alert{From: posted, To: st.Candidate, Since: st.CandidateSince}
	switch {
	case st.Candidate == probe.Healthy:
		a.Recovery = true
		if !st.UnhealthySince.IsZero() {
			a.Outage = st.CandidateSince.Sub(st.UnhealthySince)
		}
		st.UnhealthySince = time.Time{}
	case posted == probe.Healthy:
		st.UnhealthySince = st.CandidateSince
	}
	st.Posted, st.PostedAt = st.Candidate, now
	st.Candidate, st.CandidateSince, st.CandidateChecks = "", time.Time{}, 0
	return st, a
}

func (st AlertState) posted() probe.State {
	if st.Posted == "" {
		return probe.Healthy
	}
	return st.Posted
}

// direction is +1 when to is worse than from, -1 when better.
func direction(from, to probe.State) int {
	if to.Rank() > from.Rank() {
		return 1
	}
	return -1
}

func mildest(a, b probe.State) probe.State {
	if a.Rank() < b.Rank() {
		return a
	}
	return b
}

// Message is the alert's headline for the ops channel.
func (a Alert) Message() string {
	if a.Recovery {
		if a.Outage > 0 {
			return fmt.Sprintf("Disaster recovery status is back to **Healthy** after %s (was %s).", Human(a.Outage), stateWord(a.From))
		}
		return fmt.Sprintf("Disaster recovery status is back to **Healthy** (was %s).", stateWord(a.From))
	}
	return fmt.Sprintf("Disaster recovery status is **%s** (was %s) since %s UTC.",
		Title(a.To), stateWord(a.From), a.Since.UTC().Format("2006-01-02 15:04"))
}

// AlertMarkdown is the post for an alert: the headline and, unless it is a recovery, the
// report's reasons.
func AlertMarkdown(a Alert, rep Report) string {
	var b strings.Builder
	b.WriteString(a.Message())
	b.WriteString("\n")
	if !a.Recovery {
		writeReasons(&b, rep.Reasons, DefaultMaxRows)
		b.WriteString("\nRun `/dr status` for details.\n")
	}
	return b.String()
}
