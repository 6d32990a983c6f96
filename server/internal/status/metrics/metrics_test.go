package metrics

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func render(t *testing.T, rep status.Report, extra ...probe.Metric) (string, error) {
	t.Helper()
	reg, err := Registry(rep, extra...)
	require.NotNil(t, reg)
	var buf bytes.Buffer
	require.NoError(t, WriteText(&buf, reg))
	return buf.String(), err
}

// parse reads the text back with Prometheus' own parser, so the output is known to be valid.
func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	require.NoError(t, err, text)
	return mfs
}

func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	mf, ok := mfs[name]
	require.True(t, ok, "family %s missing", name)
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if len(got) == len(labels) && func() bool {
			for k, v := range labels {
				if got[k] != v {
					return false
				}
			}
			return true
		}() {
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return math.NaN()
}

func TestExactText(t *testing.T) {
	res := probe.Result{Component: "database", Name: "Aurora", State: probe.Degraded, Duration: 250 * time.Millisecond}
	res.Gauge("dr_replication_lag_seconds", "Replication lag behind the primary, in seconds.", 45, map[string]string{"region": "us-east-1"})
	rep := status.NewReport([]probe.Result{res}, at, time.Second)
	got, err := render(t, rep)
	require.NoError(t, err)
	want := `# HELP dr_component_configured 1 when the component is set up and checked, 0 when it is not set up.
# TYPE dr_component_configured gauge
dr_component_configured{component="database"} 1
# HELP dr_probe_duration_seconds How long the probe took, in seconds.
# TYPE dr_probe_duration_seconds gauge
dr_probe_duration_seconds{component="database",probe="Aurora"} 0.25
# HELP dr_probe_state 1 for the probe's state (healthy, degraded, critical, unknown), 0 for the others.
# TYPE dr_probe_state gauge
dr_probe_state{component="database",probe="Aurora",state="critical"} 0
dr_probe_state{component="database",probe="Aurora",state="degraded"} 1
dr_probe_state{component="database",probe="Aurora",state="healthy"} 0
dr_probe_state{component="database",probe="Aurora",state="unknown"} 0
# HELP dr_probe_up 1 when the probe could tell its component's state, 0 when it could not.
# TYPE dr_probe_up gauge
dr_probe_up{component="database",probe="Aurora"} 1
# HELP dr_replication_lag_seconds Replication lag behind the primary, in seconds.
# TYPE dr_replication_lag_seconds gauge
dr_replication_lag_seconds{region="us-east-1"} 45
# HELP dr_status_checked_timestamp_seconds When the status probes last ran, in seconds since the epoch.
# TYPE dr_status_checked_timestamp_seconds gauge
dr_status_checked_timestamp_seconds 1.7723664e+09
# HELP dr_status_verdict Disaster recovery verdict: 0 healthy, 1 degraded, 2 critical.
# TYPE dr_status_verdict gauge
dr_status_verdict 1
`
	assert.Equal(t, want, got)
	assert.Equal(t, "text/plain; version=0.0.4; charset=utf-8", ContentType)
}

func TestBuiltins(t *testing.T) {
	tests := []struct {
		state   probe.State
		verdict float64
		up      float64
	}{
		{probe.Healthy, 0, 1},
		{probe.Degraded, 1, 1},
		{probe.Unknown, 1, 0},
		{probe.Critical, 2, 1},
	}
	for _, tt := range tests {
		t.Run(string(tt.state), func(t *testing.T) {
			results := []probe.Result{
				{Component: "idp", Name: "Keycloak", State: tt.state, Duration: 3 * time.Second},
				{Component: "opensearch", Name: "domain", State: probe.NotConfigured},
			}
			text, err := render(t, status.NewReport(results, at, 0))
			require.NoError(t, err)
			mfs := parse(t, text)
			l := map[string]string{"component": "idp", "probe": "Keycloak"}
			assert.InDelta(t, tt.verdict, value(t, mfs, "dr_status_verdict", nil), 0)
			assert.InDelta(t, tt.up, value(t, mfs, "dr_probe_up", l), 0)
			assert.InDelta(t, 3, value(t, mfs, "dr_probe_duration_seconds", l), 0)
			for _, s := range probeStates {
				want := 0.0
				if s == tt.state {
					want = 1
				}
				assert.InDelta(t, want, value(t, mfs, "dr_probe_state", map[string]string{"component": "idp", "probe": "Keycloak", "state": string(s)}), 0, s)
			}
			assert.Len(t, mfs["dr_probe_up"].GetMetric(), 1, "no series for a probe that is not configured")
			// Set up but not answering (up 0) and not set up (configured 0) read differently.
			assert.InDelta(t, 1, value(t, mfs, "dr_component_configured", map[string]string{"component": "idp"}), 0)
			assert.InDelta(t, 0, value(t, mfs, "dr_component_configured", map[string]string{"component": "opensearch"}), 0)
		})
	}
}

func TestFamiliesMergeAcrossProbesAndExtras(t *testing.T) {
	a := probe.Result{Component: "s3", Name: "mm-files", State: probe.Healthy}
	a.Gauge("dr_s3_replication_pending_objects", "Objects waiting to replicate.", 3, map[string]string{"bucket": "mm-files"})
	b := probe.Result{Component: "s3", Name: "mm-backups", State: probe.Healthy}
	b.Gauge("dr_s3_replication_pending_objects", "Worded differently.", 7, map[string]string{"bucket": "mm-backups"})
	extra := []probe.Metric{
		{Name: "dr_backup_size_bytes", Type: "gauge", Help: "Size of the newest backup.", Value: 1 << 30},
		{Name: "dr_sso_fallback_users", Type: "gauge", Help: "Users signed in with the SSO fallback.", Value: 4},
		{Name: "dr_backups_total", Type: "counter", Help: "Backups taken.", Value: 12, Labels: map[string]string{"result": "success"}},
		{Name: "dr_backups_total", Type: "counter", Value: 1, Labels: map[string]string{"result": "failure"}},
		{Name: "dr_backup_age_seconds", Type: "gauge", Help: "Age of the newest backup (+Inf: none).", Value: math.Inf(1)},
	}
	text, err := render(t, status.NewReport([]probe.Result{a, b}, at, 0), extra...)
	require.NoError(t, err)
	mfs := parse(t, text)

	assert.Equal(t, 1, strings.Count(text, "# HELP dr_s3_replication_pending_objects "), "one family")
	assert.Contains(t, text, "# HELP dr_s3_replication_pending_objects Objects waiting to replicate.\n", "first help wins")
	assert.InDelta(t, 3, value(t, mfs, "dr_s3_replication_pending_objects", map[string]string{"bucket": "mm-files"}), 0)
	assert.InDelta(t, 7, value(t, mfs, "dr_s3_replication_pending_objects", map[string]string{"bucket": "mm-backups"}), 0)
	assert.InDelta(t, 1<<30, value(t, mfs, "dr_backup_size_bytes", nil), 0)
	assert.InDelta(t, 4, value(t, mfs, "dr_sso_fallback_users", nil), 0)
	assert.Equal(t, dto.MetricType_COUNTER, mfs["dr_backups_total"].GetType())
	assert.InDelta(t, 1, value(t, mfs, "dr_backups_total", map[string]string{"result": "failure"}), 0)
	assert.Contains(t, text, "\ndr_backup_age_seconds +Inf\n")
	assert.True(t, math.IsInf(value(t, mfs, "dr_backup_age_seconds", nil), 1))
}

func TestBadSamplesAreLeftOutAndReported(t *testing.T) {
	good := probe.Metric{Name: "dr_good", Type: "gauge", Help: "Kept.", Value: 1}
	tests := []struct {
		name    string
		bad     []probe.Metric
		wantErr string
	}{
		{"dash in metric name", []probe.Metric{{Name: "dr-lag", Type: "gauge"}}, `metric "dr-lag" from extra left out: invalid metric name`},
		{"metric name starting with a digit", []probe.Metric{{Name: "2dr", Type: "gauge"}}, "invalid metric name"},
		{"UTF-8 metric name", []probe.Metric{{Name: "dr_verzögerung", Type: "gauge"}}, "invalid metric name"},
		{"reserved metric name", []probe.Metric{{Name: "__dr", Type: "gauge"}}, "invalid metric name"},
		{"empty metric name", []probe.Metric{{Name: "", Type: "gauge"}}, "invalid metric name"},
		{"dash in label name", []probe.Metric{{Name: "dr_x", Labels: map[string]string{"region-name": "eu"}}}, `invalid label name "region-name"`},
		{"colon in label name", []probe.Metric{{Name: "dr_x", Labels: map[string]string{"a:b": "eu"}}}, `invalid label name "a:b"`},
		{"reserved label name", []probe.Metric{{Name: "dr_x", Labels: map[string]string{"__name__": "y"}}}, `invalid label name "__name__"`},
		{"label value not UTF-8", []probe.Metric{{Name: "dr_x", Labels: map[string]string{"host": "\xff"}}}, "not UTF-8"},
		{"histogram type", []probe.Metric{{Name: "dr_x", Type: "histogram"}}, `type "histogram" is neither gauge nor counter`},
		{"negative counter", []probe.Metric{{Name: "dr_x_total", Type: "counter", Value: -1}}, "negative"},
		{"type conflict", []probe.Metric{{Name: "dr_x", Type: "gauge"}, {Name: "dr_x", Type: "counter"}}, "type counter differs from the family's (gauge)"},
		{"same series twice", []probe.Metric{{Name: "dr_x", Labels: map[string]string{"a": "1"}}, {Name: "dr_x", Labels: map[string]string{"a": "1"}}}, `series {a="1"} given twice`},
		{"builtin name taken", []probe.Metric{{Name: "dr_status_verdict", Type: "gauge", Value: 0}}, "series {} given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := render(t, status.NewReport([]probe.Result{{Component: "c", Name: "p", State: probe.Healthy}}, at, 0),
				append([]probe.Metric{good}, tt.bad...)...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			mfs := parse(t, text)
			assert.InDelta(t, 1, value(t, mfs, "dr_good", nil), 0, "the rest is still exposed")
			assert.InDelta(t, 0, value(t, mfs, "dr_status_verdict", nil), 0)
		})
	}
}

func TestErrorNamesTheProbe(t *testing.T) {
	res := probe.Result{Component: "database", Name: "Aurora", State: probe.Healthy}
	res.Gauge("dr lag", "", 1, nil)
	_, err := render(t, status.NewReport([]probe.Result{res}, at, 0))
	require.Error(t, err)
	assert.Equal(t, `metric "dr lag" from database/Aurora left out: invalid metric name`, err.Error())
}
