package status

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

func result(component, name string, state probe.State, findings ...probe.Finding) probe.Result {
	return probe.Result{Component: component, Name: name, State: state, Summary: name + " summary", Findings: findings}
}

func finding(state probe.State, msg string) probe.Finding {
	return probe.Finding{State: state, Message: msg}
}

func TestNewReportVerdictAndReasons(t *testing.T) {
	tests := []struct {
		name        string
		results     []probe.Result
		wantVerdict probe.State
		wantReasons []string
	}{
		{
			name:        "all healthy",
			results:     []probe.Result{result("database", "db", probe.Healthy), result("s3", "b", probe.Healthy)},
			wantVerdict: probe.Healthy,
			wantReasons: []string{},
		},
		{
			name: "degraded wins over healthy",
			results: []probe.Result{
				result("database", "db", probe.Healthy),
				result("s3", "b", probe.Degraded, finding(probe.Degraded, "replication 20m behind")),
			},
			wantVerdict: probe.Degraded,
			wantReasons: []string{"s3: replication 20m behind"},
		},
		{
			name:        "unknown alone is degraded",
			results:     []probe.Result{result("idp", "Keycloak", probe.Unknown, finding(probe.Unknown, "401 from token endpoint"))},
			wantVerdict: probe.Degraded,
			wantReasons: []string{"idp: 401 from token endpoint"},
		},
		{
			name: "critical wins; reasons worst first, unknown above degraded",
			results: []probe.Result{
				result("s3", "b", probe.Degraded, finding(probe.Degraded, "lag")),
				result("idp", "k", probe.Unknown, finding(probe.Unknown, "timeout")),
				result("database", "db", probe.Critical, finding(probe.Degraded, "slow"), finding(probe.Critical, "replica down")),
			},
			wantVerdict: probe.Critical,
			wantReasons: []string{"database: replica down", "idp: timeout", "s3: lag", "database: slow"},
		},
		{
			name: "healthy findings are not reasons",
			results: []probe.Result{
				result("backups", "newest", probe.Degraded, finding(probe.Healthy, "verified yesterday"), finding(probe.Degraded, "26h old")),
				result("scheduler", "nodes", probe.Healthy, finding(probe.Healthy, "fine")),
			},
			wantVerdict: probe.Degraded,
			wantReasons: []string{"backups: 26h old"},
		},
		{
			name:        "bad state without findings gives its summary as reason",
			results:     []probe.Result{result("opensearch", "domain", probe.Critical)},
			wantVerdict: probe.Critical,
			wantReasons: []string{"opensearch: domain summary"},
		},
		{
			name: "not configured does not count",
			results: []probe.Result{
				result("opensearch", "domain", probe.NotConfigured, finding(probe.Critical, "ignored")),
				result("database", "db", probe.Healthy),
			},
			wantVerdict: probe.Healthy,
			wantReasons: []string{},
		},
		{
			name:        "nothing configured is not healthy",
			results:     []probe.Result{result("opensearch", "domain", probe.NotConfigured)},
			wantVerdict: probe.Degraded,
			wantReasons: []string{"status: no check is configured, so nothing was checked"},
		},
		{
			name:        "no probes at all is not healthy",
			results:     nil,
			wantVerdict: probe.Degraded,
			wantReasons: []string{"status: no check is configured, so nothing was checked"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := NewReport(tt.results, time.Unix(0, 0), time.Second)
			assert.Equal(t, tt.wantVerdict, rep.Verdict)
			got := []string{}
			for _, r := range rep.Reasons {
				got = append(got, r.String())
			}
			assert.Equal(t, tt.wantReasons, got)
		})
	}
}

func TestVerdictOf(t *testing.T) {
	for in, want := range map[probe.State]probe.State{
		probe.Healthy: probe.Healthy, probe.Degraded: probe.Degraded, probe.Unknown: probe.Degraded,
		probe.Critical: probe.Critical, probe.NotConfigured: probe.Healthy, "": probe.Healthy,
	} {
		assert.Equal(t, want, VerdictOf(in), "%q", in)
	}
}

func TestReportJSON(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	res := probe.Result{Component: "database", Name: "Aurora", State: probe.Critical, Summary: "replica down",
		Table: &probe.Table{Columns: []string{"Cluster"}, Rows: [][]string{{"mm-eu"}}}, CheckedAt: at, Duration: 3 * time.Millisecond}
	res.Add(probe.Critical, "promote", "replica mm-us is down")
	rep := NewReport([]probe.Result{res}, at, 1500*time.Millisecond)

	b, err := json.Marshal(rep)
	require.NoError(t, err)
	var shape map[string]any
	require.NoError(t, json.Unmarshal(b, &shape))
	assert.Equal(t, "critical", shape["verdict"])
	assert.Equal(t, "2026-03-01T12:00:00Z", shape["checked_at"])
	assert.InDelta(t, 1.5e9, shape["duration_ns"], 0)
	assert.Equal(t, false, shape["cached"])
	assert.Equal(t, []any{map[string]any{
		"component": "database", "probe": "Aurora", "state": "critical", "message": "replica mm-us is down", "fix": "promote",
	}}, shape["reasons"], "reasons are flat objects")

	var back Report
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, rep, back, "a report survives a round trip, so the webapp sees what the bot sees")
}
