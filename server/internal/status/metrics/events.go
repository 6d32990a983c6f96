package metrics

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// Events counts what this node finished since the plugin started: the counters of Catalog
// and the last-failure timestamps. It lives in memory: counters restart at 0 with the plugin,
// which Prometheus' rate and increase handle. Safe for concurrent use.
type Events struct {
	mu       sync.Mutex
	counts   map[string]map[string]float64 // family -> label value -> count
	failures map[string]time.Time          // family -> last failure
}

// Label values the counters start with at 0, so that increase() sees the first event.
var initialLabels = map[string][]string{
	"dr_backup_runs_total":    {"success", "failure"},
	"dr_verify_runs_total":    {"success", "failure"},
	"dr_sso_switches_total":   {"to_fallback", "to_sso"},
	"dr_failover_steps_total": {"done", "failed"},
	"dr_alerts_total":         {""},
}

// NewEvents returns counters at 0.
func NewEvents() *Events {
	e := &Events{counts: map[string]map[string]float64{}, failures: map[string]time.Time{}}
	for name, values := range initialLabels {
		e.counts[name] = map[string]float64{}
		for _, v := range values {
			e.counts[name][v] = 0
		}
	}
	return e
}

// BackupRun counts a finished backup run.
func (e *Events) BackupRun(ok bool, at time.Time) {
	e.run("dr_backup_runs_total", "dr_backup_last_failure_timestamp_seconds", ok, at)
}

// VerifyRun counts a finished verification.
func (e *Events) VerifyRun(ok bool, at time.Time) {
	e.run("dr_verify_runs_total", "dr_verify_last_failure_timestamp_seconds", ok, at)
}

func (e *Events) run(counter, failure string, ok bool, at time.Time) {
	outcome := "success"
	if !ok {
		outcome = "failure"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.counts[counter][outcome]++
	if !ok {
		e.failures[failure] = at
	}
}

// SSOSwitches counts users switched: toFallback from SSO to email/password, else back.
func (e *Events) SSOSwitches(toFallback bool, users int) {
	if users <= 0 {
		return
	}
	direction := "to_sso"
	if toFallback {
		direction = "to_fallback"
	}
	e.add("dr_sso_switches_total", direction, float64(users))
}

// FailoverStep counts a finished runbook step by its outcome (the step's state).
func (e *Events) FailoverStep(outcome string) {
	if outcome == "" {
		outcome = "done" // the journal's zero state is done
	}
	e.add("dr_failover_steps_total", outcome, 1)
}

// Alert counts an alert raised.
func (e *Events) Alert() { e.add("dr_alerts_total", "", 1) }

func (e *Events) add(name, value string, n float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.counts[name][value] += n
}

// Metrics are the samples for Registry's extras.
func (e *Events) Metrics() []probe.Metric {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []probe.Metric
	for _, name := range slices.Sorted(maps.Keys(e.counts)) {
		d, _ := Lookup(name)
		for _, v := range slices.Sorted(maps.Keys(e.counts[name])) {
			var labels map[string]string
			if len(d.Labels) == 1 {
				labels = map[string]string{d.Labels[0]: v}
			}
			out = append(out, probe.Metric{Name: name, Type: "counter", Help: d.Help, Value: e.counts[name][v], Labels: labels})
		}
	}
	for _, name := range []string{"dr_backup_last_failure_timestamp_seconds", "dr_verify_last_failure_timestamp_seconds"} {
		d, _ := Lookup(name)
		v := 0.0
		if t := e.failures[name]; !t.IsZero() {
			v = float64(t.UnixNano()) / 1e9
		}
		out = append(out, probe.Metric{Name: name, Type: "gauge", Help: d.Help, Value: v})
	}
	return out
}
