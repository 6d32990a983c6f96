package nodes

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func node(host, region, cluster string, sched bool, version string, age time.Duration) NodeReport {
	return NodeReport{NodeID: "id-" + host, Hostname: host, Region: region, ClusterName: cluster,
		RunScheduler: sched, Version: version, ReportedAt: now.Add(-age)}
}

var twoRegions = Expect{Topology: TwoRegions, PrimaryRegion: "eu-west-1", SecondaryRegion: "us-east-1"}

// healthyTwoRegions is a correct deployment: scheduler on in the primary only, separate
// clusters, one version, fresh reports.
func healthyTwoRegions() []NodeReport {
	return []NodeReport{
		node("eu-a", "eu-west-1", "mm-eu", true, "10.5.1", 20*time.Second),
		node("eu-b", "eu-west-1", "mm-eu", true, "10.5.1", 40*time.Second),
		node("us-a", "us-east-1", "mm-us", false, "10.5.1", 30*time.Second),
	}
}

func TestAnalyze(t *testing.T) {
	tests := []struct {
		name      string
		reports   []NodeReport
		exp       Expect
		wantState probe.State
		// wantFindings are the findings' messages, worst first.
		wantFindings []string
		wantSummary  string
	}{
		{
			name:        "healthy two regions",
			reports:     healthyTwoRegions(),
			exp:         twoRegions,
			wantState:   probe.Healthy,
			wantSummary: "3 live nodes in 2 regions, 2 running the scheduler",
		},
		{
			name: "healthy single region",
			reports: []NodeReport{
				node("a", "", "mm", true, "10.5.1", time.Minute),
				node("b", "", "mm", false, "10.5.1", time.Minute),
			},
			exp:         Expect{},
			wantState:   probe.Healthy,
			wantSummary: "2 live nodes, 1 running the scheduler",
		},
		{
			name:         "no reports",
			exp:          twoRegions,
			wantState:    probe.Unknown,
			wantFindings: []string{"no Mattermost node has reported its settings, so the scheduler cannot be checked"},
			wantSummary:  "no node has reported",
		},
		{
			name: "secondary node runs the scheduler",
			reports: append(healthyTwoRegions()[:2],
				node("us-a", "us-east-1", "mm-us", true, "10.5.1", 30*time.Second)),
			exp:       twoRegions,
			wantState: probe.Critical,
			wantFindings: []string{
				"node us-a in region us-east-1 runs the job scheduler: jobs would run in both regions, or fail against the read-only replica",
			},
			wantSummary: "3 live nodes in 2 regions, 3 running the scheduler",
		},
		{
			name: "explicit expectation overrides the default",
			reports: append(healthyTwoRegions()[:2],
				node("us-a", "us-east-1", "mm-us", true, "10.5.1", 30*time.Second)),
			exp: Expect{Topology: TwoRegions, PrimaryRegion: "eu-west-1", SecondaryRegion: "us-east-1",
				Scheduler: map[string]bool{"us-east-1": true}},
			wantState:   probe.Healthy,
			wantSummary: "3 live nodes in 2 regions, 3 running the scheduler",
		},
		{
			name: "no scheduler in the primary",
			reports: []NodeReport{
				node("eu-a", "eu-west-1", "mm-eu", false, "10.5.1", 0),
				node("eu-b", "eu-west-1", "mm-eu", false, "10.5.1", 0),
				node("us-a", "us-east-1", "mm-us", false, "10.5.1", 0),
			},
			exp:       twoRegions,
			wantState: probe.Critical,
			wantFindings: []string{
				"none of the 2 live nodes in the primary region eu-west-1 runs the job scheduler: scheduled jobs (data retention, exports, LDAP sync) do not run",
			},
		},
		{
			name: "no scheduler in a single region",
			reports: []NodeReport{
				node("a", "", "", false, "10.5.1", 0),
			},
			exp:          Expect{Topology: Single},
			wantState:    probe.Critical,
			wantFindings: []string{"none of the 1 live nodes runs the job scheduler: scheduled jobs (data retention, exports, LDAP sync) do not run"},
		},
		{
			name: "primary region has no live node: after a failover the setting is stale",
			reports: []NodeReport{
				node("us-a", "us-east-1", "mm-us", false, "10.5.1", 0),
			},
			exp:          twoRegions,
			wantState:    probe.Critical,
			wantFindings: []string{"no live Mattermost node in the primary region eu-west-1, so no node runs the job scheduler"},
		},
		{
			name: "regions share a cluster name",
			reports: []NodeReport{
				node("eu-a", "eu-west-1", "mm", true, "10.5.1", 0),
				node("us-a", "us-east-1", "mm", false, "10.5.1", 0),
			},
			exp:          twoRegions,
			wantState:    probe.Degraded,
			wantFindings: []string{`regions eu-west-1 and us-east-1 share the cluster name "mm": their nodes would gossip and elect one leader across regions`},
		},
		{
			name: "one region split into two cluster names",
			reports: []NodeReport{
				node("eu-a", "eu-west-1", "mm-eu", true, "10.5.1", 0),
				node("eu-b", "eu-west-1", "mm-eu2", false, "10.5.1", 0),
			},
			exp:          twoRegions,
			wantState:    probe.Degraded,
			wantFindings: []string{"nodes in region eu-west-1 report 2 cluster names (mm-eu, mm-eu2): they form separate clusters"},
		},
		{
			name: "version skew",
			reports: append(healthyTwoRegions(),
				node("us-b", "us-east-1", "mm-us", false, "10.4.0", 0)),
			exp:          twoRegions,
			wantState:    probe.Degraded,
			wantFindings: []string{"nodes run different Mattermost versions: 10.5.1 on eu-a, eu-b, us-a; 10.4.0 on us-b"},
		},
		{
			name: "stale node is reported and left out of the other checks",
			reports: append(healthyTwoRegions(),
				node("us-old", "us-east-1", "mm-us", true, "9.0.0", 20*time.Minute)),
			exp:          twoRegions,
			wantState:    probe.Degraded,
			wantFindings: []string{"node us-old (region us-east-1) last reported 20m ago: is it gone?"},
			wantSummary:  "3 live nodes in 2 regions, 2 running the scheduler, 1 not reporting",
		},
		{
			name: "a stale scheduler does not count as running",
			reports: []NodeReport{
				node("eu-a", "eu-west-1", "mm-eu", true, "10.5.1", 2*time.Hour),
				node("eu-b", "eu-west-1", "mm-eu", false, "10.5.1", 0),
			},
			exp:       Expect{Topology: TwoRegions, PrimaryRegion: "eu-west-1", StaleAfter: time.Hour},
			wantState: probe.Critical,
			wantFindings: []string{
				"none of the 1 live nodes in the primary region eu-west-1 runs the job scheduler: scheduled jobs (data retention, exports, LDAP sync) do not run",
				"node eu-a (region eu-west-1) last reported 2h ago: is it gone?",
			},
		},
		{
			name: "newest report of a node wins",
			reports: []NodeReport{
				node("eu-a", "eu-west-1", "mm-eu", false, "10.4.0", 30*time.Minute),
				node("eu-a", "eu-west-1", "mm-eu", true, "10.5.1", 0),
			},
			exp:         twoRegions,
			wantState:   probe.Healthy,
			wantSummary: "1 live node in 1 region, 1 running the scheduler",
		},
		{
			name: "node without region in two regions",
			reports: append(healthyTwoRegions(),
				node("x", "", "mm-eu", true, "10.5.1", 0)),
			exp:          twoRegions,
			wantState:    probe.Degraded,
			wantFindings: []string{"node x reports no region, so it cannot be told apart from the other region's nodes"},
		},
		{
			name: "unexpected third region",
			reports: append(healthyTwoRegions(),
				node("ap-a", "ap-south-1", "mm-ap", false, "10.5.1", 0)),
			exp:          twoRegions,
			wantState:    probe.Degraded,
			wantFindings: []string{"nodes report 3 regions; unexpected: ap-south-1"},
		},
		{
			name:         "primary region not set",
			reports:      healthyTwoRegions(),
			exp:          Expect{Topology: TwoRegions},
			wantState:    probe.Unknown,
			wantFindings: []string{"the primary region is not set, so the scheduler's placement cannot be checked"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Analyze(tt.reports, tt.exp, now)
			assert.Equal(t, Component, r.Component)
			assert.Equal(t, tt.wantState, r.State)
			var got []string
			for _, f := range r.Findings {
				got = append(got, f.Message)
				assert.NotEmpty(t, f.Fix, f.Message)
			}
			assert.Equal(t, tt.wantFindings, got)
			if tt.wantSummary != "" {
				assert.Equal(t, tt.wantSummary, r.Summary)
			}
			if len(tt.reports) > 0 {
				require.NotNil(t, r.Table)
				assert.Len(t, r.Table.Rows, len(newest(tt.reports)), "one row per node")
			}
		})
	}
}

func TestAnalyzeTable(t *testing.T) {
	reports := []NodeReport{
		node("us-a", "us-east-1", "mm-us", true, "10.5.1", 30*time.Second),
		node("eu-b", "eu-west-1", "mm-eu", false, "10.5.1", 10*time.Minute),
		node("eu-a", "eu-west-1", "mm-eu", true, "10.5.1", 2*time.Minute),
	}
	r := Analyze(reports, twoRegions, now)
	require.NotNil(t, r.Table)
	assert.Equal(t, []string{"Node", "Region", "Cluster", "Scheduler", "Version", "Last report", "Note"}, r.Table.Columns)
	assert.Equal(t, [][]string{
		{"eu-a", "eu-west-1", "mm-eu", "yes", "10.5.1", "2m ago", ""},
		{"eu-b", "eu-west-1", "mm-eu", "no", "10.5.1", "10m ago (stale)", "no recent report"},
		{"us-a", "us-east-1", "mm-us", "yes", "10.5.1", "30s ago", "should not run the scheduler"},
	}, r.Table.Rows, "primary region first, then by name")
}

func TestAnalyzeMetrics(t *testing.T) {
	reports := []NodeReport{
		node("eu-a", "eu-west-1", "mm-eu", true, "10.5.1", 0),
		node("eu-b", "eu-west-1", "mm-eu", false, "10.5.1", 0),
		node("eu-c", "eu-west-1", "mm-eu", true, "10.5.1", time.Hour), // stale: not counted
	}
	r := Analyze(reports, twoRegions, now)
	got := map[string]float64{}
	for _, m := range r.Metrics {
		assert.Equal(t, "gauge", m.Type)
		assert.NotEmpty(t, m.Help)
		got[m.Name+"/"+m.Labels["region"]] = m.Value
	}
	assert.Equal(t, map[string]float64{
		"dr_nodes/eu-west-1": 2, "dr_nodes/us-east-1": 0,
		"dr_scheduler_nodes/eu-west-1": 1, "dr_scheduler_nodes/us-east-1": 0,
	}, got, "expected regions get a sample even with no node")
}

func TestProbe(t *testing.T) {
	t.Run("reports from the source", func(t *testing.T) {
		p := New(Options{
			Source: func(context.Context) ([]NodeReport, error) { return healthyTwoRegions(), nil },
			Expect: twoRegions,
			Now:    func() time.Time { return now },
		})
		assert.Equal(t, "scheduler", p.Component())
		r := p.Probe(context.Background())
		assert.Equal(t, probe.Healthy, r.State)
		assert.Equal(t, p.Name(), r.Name)
		assert.Equal(t, now, r.CheckedAt)
	})
	t.Run("source error is unknown, with the cause", func(t *testing.T) {
		p := New(Options{
			Source: func(context.Context) ([]NodeReport, error) { return nil, errors.New("kv: timeout") },
			Expect: twoRegions,
		})
		r := p.Probe(context.Background())
		assert.Equal(t, probe.Unknown, r.State)
		require.Len(t, r.Findings, 1)
		assert.Equal(t, "reading the node reports: kv: timeout", r.Findings[0].Message)
	})
}
