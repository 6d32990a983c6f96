// Package status runs the DR probes and turns their results into one verdict: the report that
// `/dr status`, GET /api/v1/status, the metrics endpoint and the ops-channel alerts all show.
// It knows probes only through the Prober interface and probe.Result, so a new probe needs no
// change here.
package status

import (
	"sort"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// Report is the outcome of one run of all probes. Reports may be shared between callers (the
// runner caches them): treat them as read-only.
type Report struct {
	// Verdict is probe.Healthy, probe.Degraded or probe.Critical; see VerdictOf.
	Verdict probe.State `json:"verdict"`
	// Reasons are the findings behind a verdict that is not healthy, worst first.
	Reasons []Reason `json:"reasons"`
	// Results are every probe's result, in the order the probes were given to the runner.
	Results   []probe.Result `json:"results"`
	CheckedAt time.Time      `json:"checked_at"`
	Duration  time.Duration  `json:"duration_ns"`
	// Cached says the report comes from the runner's cache rather than from this call's run.
	Cached bool `json:"cached"`
}

// Reason is one finding of one probe, with the component and probe it comes from.
type Reason struct {
	Component string `json:"component"`
	Probe     string `json:"probe"`
	probe.Finding
}

// String is the reason as one line, prefixed with its component: "database: lag is 45s".
func (r Reason) String() string {
	return r.Component + ": " + r.Message
}

// VerdictOf maps a state to the three-valued verdict. Unknown becomes degraded: probe.Rank puts
// it between degraded and critical (not knowing is worse than a known small lag, but is not a
// known outage), and the verdict has no such step, so it takes the milder one; the reason still
// sorts above plain degraded ones. NotConfigured (no state) becomes healthy.
func VerdictOf(s probe.State) probe.State {
	switch s {
	case probe.Critical:
		return probe.Critical
	case probe.Degraded, probe.Unknown:
		return probe.Degraded
	default:
		return probe.Healthy
	}
}

// NewReport combines results into a report. Results that are NotConfigured do not count. With
// no configured result at all the verdict is degraded: nothing was checked, and saying
// "healthy" about a deployment nobody looked at would be the one wrong answer.
func NewReport(results []probe.Result, checkedAt time.Time, took time.Duration) Report {
	rep := Report{Results: results, CheckedAt: checkedAt, Duration: took, Reasons: []Reason{}}
	worst := probe.NotConfigured
	for _, res := range results {
		if res.State == probe.NotConfigured {
			continue
		}
		worst = probe.Worst(worst, res.State)
		if res.State == probe.Healthy {
			continue
		}
		rep.Reasons = append(rep.Reasons, reasonsOf(res)...)
	}
	if worst == probe.NotConfigured {
		rep.Verdict = probe.Degraded
		rep.Reasons = append(rep.Reasons, Reason{Component: "status", Probe: "status", Finding: probe.Finding{
			State:   probe.Unknown,
			Message: "no check is configured, so nothing was checked",
			Fix:     "configure the deployment's databases, storage and backups in the plugin settings",
		}})
		return rep
	}
	rep.Verdict = VerdictOf(worst)
	sort.SliceStable(rep.Reasons, func(i, j int) bool {
		return rep.Reasons[i].State.Rank() > rep.Reasons[j].State.Rank()
	})
	return rep
}

// reasonsOf lists a non-healthy result's non-healthy findings. A probe that set a bad state
// without saying why still yields one reason, made from its summary, so that a verdict is never
// worse than healthy without a reason.
func reasonsOf(res probe.Result) []Reason {
	var out []Reason
	for _, f := range res.Findings {
		if f.State.Rank() > probe.Healthy.Rank() {
			out = append(out, Reason{Component: res.Component, Probe: res.Name, Finding: f})
		}
	}
	if len(out) == 0 {
		msg := res.Summary
		if msg == "" {
			msg = res.Name + " is " + string(res.State)
		}
		out = append(out, Reason{Component: res.Component, Probe: res.Name, Finding: probe.Finding{State: res.State, Message: msg}})
	}
	return out
}
