// Package probe holds what every DR status probe returns, so that the status service can
// combine probes it knows nothing else about into one verdict, one table per component and
// one set of metrics. Each probe lives in its own subpackage and depends only on this one.
package probe

import (
	"encoding/json"
	"math"
	"sort"
	"time"
)

// State is a probe's verdict, ordered from best to worst by Rank.
type State string

// The states, from best to worst (see Rank).
const (
	Healthy       State = "healthy"
	Degraded      State = "degraded"
	Critical      State = "critical"
	Unknown       State = "unknown"        // the probe could not tell (timeout, auth error, 5xx)
	NotConfigured State = "not_configured" // nothing to check: not part of the verdict
)

// Rank orders states for the overall verdict: the worst one wins. Unknown ranks between
// degraded and critical: not knowing whether a region can take over is worse than a known,
// small lag, but is not a known outage.
func (s State) Rank() int {
	switch s {
	case Healthy:
		return 1
	case Degraded:
		return 2
	case Unknown:
		return 3
	case Critical:
		return 4
	default:
		return 0
	}
}

// Worst returns the worst of states (NotConfigured when there is none).
func Worst(states ...State) State {
	w := NotConfigured
	for _, s := range states {
		if s.Rank() > w.Rank() {
			w = s
		}
	}
	return w
}

// Finding is one reason for a state that is not healthy: what is wrong and what to do.
type Finding struct {
	State   State  `json:"state"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Table is a probe's details, shown as one table per component by `/dr status`.
type Table struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// Metric is one Prometheus sample a probe exposes. Names are full metric names
// (dr_replication_lag_seconds); Help and Type ("gauge" or "counter") describe the family.
type Metric struct {
	Name   string            `json:"name"`
	Help   string            `json:"help"`
	Type   string            `json:"type"`
	Labels map[string]string `json:"labels,omitempty"`
	Value  float64           `json:"value"`
}

// Result is what one probe found.
type Result struct {
	// Component groups results in the output: database, s3, opensearch, scheduler, idp, backups.
	Component string `json:"component"`
	// Name says what was checked, for the admin: "Aurora global database mm-global".
	Name      string        `json:"name"`
	State     State         `json:"state"`
	Summary   string        `json:"summary"`
	Findings  []Finding     `json:"findings,omitempty"`
	Table     *Table        `json:"table,omitempty"`
	Metrics   []Metric      `json:"metrics,omitempty"`
	CheckedAt time.Time     `json:"checked_at"`
	Duration  time.Duration `json:"duration_ns"`
}

// Add records a finding and lowers the result's state to it when it is worse.
func (r *Result) Add(state State, fix, message string) {
	r.Findings = append(r.Findings, Finding{State: state, Message: message, Fix: fix})
	if state.Rank() > r.State.Rank() {
		r.State = state
	}
}

// Gauge appends a gauge sample.
func (r *Result) Gauge(name, help string, value float64, labels map[string]string) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Help: help, Type: "gauge", Labels: labels, Value: value})
}

// SortFindings puts the worst findings first, keeping the order of equal ones.
func (r *Result) SortFindings() {
	sort.SliceStable(r.Findings, func(i, j int) bool { return r.Findings[i].State.Rank() > r.Findings[j].State.Rank() })
}

// Failed is the result of a probe that could not do its job (err says why): Unknown, with the
// cause as its finding.
func Failed(component, name string, err error, fix string) Result {
	r := Result{Component: component, Name: name, State: Unknown, Summary: "could not be checked", CheckedAt: time.Now()}
	r.Add(Unknown, fix, err.Error())
	return r
}

// MarshalJSON writes Value as a number, or as "+Inf", "-Inf" or "NaN", which JSON numbers
// cannot hold (an age with no backup yet is +Inf).
func (m Metric) MarshalJSON() ([]byte, error) {
	type plain Metric
	if math.IsInf(m.Value, 0) || math.IsNaN(m.Value) {
		s := "NaN"
		if math.IsInf(m.Value, 1) {
			s = "+Inf"
		} else if math.IsInf(m.Value, -1) {
			s = "-Inf"
		}
		return json.Marshal(struct {
			plain
			Value string `json:"value"`
		}{plain(m), s})
	}
	return json.Marshal(plain(m))
}
