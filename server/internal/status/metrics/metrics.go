// Package metrics exposes a status report as Prometheus metrics: the probes' own samples plus
// a few the status service adds about every probe. It is apart from package status only
// because it pulls in the Prometheus client.
//
// Added to every report:
//
//	dr_status_verdict                       0 healthy, 1 degraded, 2 critical
//	dr_status_checked_timestamp_seconds     when the report's probes ran (reports are cached)
//	dr_probe_up{component,probe}            1 when the probe could tell the state (healthy,
//	                                        degraded or critical), 0 when it could not (unknown)
//	dr_probe_state{component,probe,state}   1 for the probe's state, 0 for the other three
//	dr_probe_duration_seconds{component,probe}
//	dr_component_configured{component}      1 when set up and checked, 0 when not set up
//
// Catalog (catalog.go) documents every family; the README's table is generated from it.
//
// dr_probe_up follows Prometheus' own up: it says whether the check worked, not whether the
// thing checked is fine, so "the replica is down" (up 1, state critical) and "we cannot reach
// the replica's API" (up 0) page differently. Probes that are not configured get none of these.
package metrics

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

// ContentType is the Content-Type of WriteText's output (text format 0.0.4).
var ContentType = string(expfmt.NewFormat(expfmt.TypeTextPlain))

// probeStates are the states dr_probe_state has a series for.
var probeStates = []probe.State{probe.Healthy, probe.Degraded, probe.Critical, probe.Unknown}

// Registry returns a registry holding the report's metrics and extra ones from the caller
// (backup age and size, SSO users in fallback, ...). Families with the same name from several
// probes are merged. A sample that cannot be exposed (invalid name or label, a type other
// than the family's, a series already given, a negative counter) is left out and described
// in the error, which is for the log: the registry still holds every other sample, so one
// probe's mistake does not blank the whole endpoint.
func Registry(rep status.Report, extra ...probe.Metric) (*prometheus.Registry, error) {
	var b builder
	b.addBuiltins(rep)
	for _, res := range rep.Results {
		for _, m := range res.Metrics {
			b.add(m, res.Component+"/"+res.Name)
		}
	}
	for _, m := range extra {
		b.add(m, "extra")
	}
	metrics := b.build()

	reg := prometheus.NewRegistry()
	if err := reg.Register(metrics); err != nil {
		return nil, fmt.Errorf("registering status metrics: %w", err)
	}
	return reg, errors.Join(b.errs...)
}

// WriteText writes what g gathers in the Prometheus text format.
func WriteText(w io.Writer, g prometheus.Gatherer) error {
	mfs, err := g.Gather()
	if err != nil {
		return fmt.Errorf("gathering status metrics: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("writing metric family %s: %w", mf.GetName(), err)
		}
	}
	return nil
}

// constCollector is a collector of fixed samples. It describes nothing, which makes it
// "unchecked": the families differ from one report to the next, and builder has already done
// the consistency checks a described collector would get.
type constCollector []prometheus.Metric

func (c constCollector) Describe(chan<- *prometheus.Desc) {}

func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c {
		ch <- m
	}
}

// builder validates samples and groups them into families.
type builder struct {
	order    []string
	families map[string]*family
	errs     []error
}

type family struct {
	help    string
	typ     prometheus.ValueType
	series  map[string]bool
	samples []probe.Metric
}

func (b *builder) addBuiltins(rep status.Report) {
	verdict := map[probe.State]float64{probe.Healthy: 0, probe.Degraded: 1, probe.Critical: 2}[rep.Verdict]
	b.add(probe.Metric{Name: "dr_status_verdict", Type: "gauge", Value: verdict,
		Help: "Disaster recovery verdict: 0 healthy, 1 degraded, 2 critical."}, "status")
	if !rep.CheckedAt.IsZero() {
		b.add(probe.Metric{Name: "dr_status_checked_timestamp_seconds", Type: "gauge",
			Value: float64(rep.CheckedAt.UnixNano()) / 1e9,
			Help:  "When the status probes last ran, in seconds since the epoch."}, "status")
	}
	b.addConfigured(rep)
	for _, res := range rep.Results {
		if res.State == probe.NotConfigured {
			continue
		}
		labels := map[string]string{"component": res.Component, "probe": res.Name}
		up := 1.0
		if res.State == probe.Unknown || res.State.Rank() == 0 {
			up = 0
		}
		b.add(probe.Metric{Name: "dr_probe_up", Type: "gauge", Labels: labels, Value: up,
			Help: "1 when the probe could tell its component's state, 0 when it could not."}, "status")
		for _, s := range probeStates {
			v := 0.0
			if res.State == s {
				v = 1
			}
			b.add(probe.Metric{Name: "dr_probe_state", Type: "gauge", Value: v,
				Labels: map[string]string{"component": res.Component, "probe": res.Name, "state": string(s)},
				Help:   "1 for the probe's state (healthy, degraded, critical, unknown), 0 for the others."}, "status")
		}
		b.add(probe.Metric{Name: "dr_probe_duration_seconds", Type: "gauge", Labels: labels, Value: res.Duration.Seconds(),
			Help: "How long the probe took, in seconds."}, "status")
	}
}

// addConfigured says which components are set up, so that a dashboard and alert rules tell
// "not set up" (0) from "set up but not answering" (1, with dr_probe_up 0).
func (b *builder) addConfigured(rep status.Report) {
	configured := map[string]bool{}
	var order []string
	for _, res := range rep.Results {
		if _, seen := configured[res.Component]; !seen {
			order = append(order, res.Component)
		}
		configured[res.Component] = configured[res.Component] || res.State != probe.NotConfigured
	}
	for _, c := range order {
		v := 0.0
		if configured[c] {
			v = 1
		}
		b.add(probe.Metric{Name: "dr_component_configured", Type: "gauge", Value: v, Labels: map[string]string{"component": c},
			Help: "1 when the component is set up and checked, 0 when it is not set up."}, "status")
	}
}

func (b *builder) add(m probe.Metric, source string) {
	if err := b.try(m); err != nil {
		b.errs = append(b.errs, fmt.Errorf("metric %q from %s left out: %w", m.Name, source, err))
	}
}

func (b *builder) try(m probe.Metric) error {
	var typ prometheus.ValueType
	switch m.Type {
	case "", "gauge":
		typ = prometheus.GaugeValue
	case "counter":
		typ = prometheus.CounterValue
		if m.Value < 0 {
			return fmt.Errorf("counter value %v is negative", m.Value)
		}
	default:
		return fmt.Errorf("type %q is neither gauge nor counter", m.Type)
	}
	// The legacy character set, although the client accepts any UTF-8: scrapers that predate
	// UTF-8 names would choke on the quoted names it would then write.
	if !model.LegacyValidation.IsValidMetricName(m.Name) || strings.HasPrefix(m.Name, "__") {
		return errors.New("invalid metric name")
	}
	for name, value := range m.Labels {
		if !model.LegacyValidation.IsValidLabelName(name) || strings.HasPrefix(name, "__") {
			return fmt.Errorf("invalid label name %q", name)
		}
		if !utf8.ValidString(value) {
			return fmt.Errorf("label %s has a value that is not UTF-8", name)
		}
	}

	f, ok := b.families[m.Name]
	if !ok {
		if b.families == nil {
			b.families = map[string]*family{}
		}
		f = &family{typ: typ, series: map[string]bool{}}
		b.families[m.Name] = f
		b.order = append(b.order, m.Name)
	}
	if f.typ != typ {
		return fmt.Errorf("type %s differs from the family's (%s)", typeName(typ), typeName(f.typ))
	}
	key := seriesKey(m.Labels)
	if f.series[key] {
		return fmt.Errorf("series {%s} given twice", key)
	}
	f.series[key] = true
	// The first help given describes the family: the client refuses a family whose samples
	// disagree on it, and probes sharing a metric should not have to agree word for word.
	if f.help == "" {
		f.help = m.Help
	}
	f.samples = append(f.samples, m)
	return nil
}

func (b *builder) build() constCollector {
	var out constCollector
	for _, name := range b.order {
		f := b.families[name]
		for _, m := range f.samples {
			names := slices.Sorted(maps.Keys(m.Labels))
			values := make([]string, len(names))
			for i, n := range names {
				values[i] = m.Labels[n]
			}
			desc := prometheus.NewDesc(name, f.help, names, nil)
			cm, err := prometheus.NewConstMetric(desc, f.typ, m.Value, values...)
			if err != nil {
				// try has checked what NewConstMetric checks; kept for safety, not expected.
				b.errs = append(b.errs, fmt.Errorf("metric %q left out: %w", name, err))
				continue
			}
			out = append(out, cm)
		}
	}
	return out
}

func seriesKey(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, n := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, fmt.Sprintf("%s=%q", n, labels[n]))
	}
	return strings.Join(parts, ",")
}

func typeName(t prometheus.ValueType) string {
	if t == prometheus.CounterValue {
		return "counter"
	}
	return "gauge"
}
