package aurora_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	awsfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/aws"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/rds"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/aurora"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

const (
	arnA = "arn:aws:rds:us-east-1:123456789012:cluster:mm-a"
	arnB = "arn:aws:rds:us-west-2:123456789012:cluster:mm-b"
)

func healthyCluster() awsfake.GlobalCluster {
	return awsfake.GlobalCluster{ID: "mm-global", Members: []awsfake.Member{
		{ARN: arnA, IsWriter: true, WriteForwarding: awsfake.ForwardingDisabled, Sync: awsfake.SyncConnected},
		{ARN: arnB, WriteForwarding: awsfake.ForwardingEnabled, Sync: awsfake.SyncConnected},
	}}
}

func options(f *awsfake.Server) aurora.Options {
	return aurora.Options{
		GlobalClusterID: "mm-global",
		ThisRegion:      "us-east-1", ThisCluster: "mm-a",
		OtherRegion: "us-west-2", OtherCluster: "mm-b",
		AWS: rds.Options{
			AccessKeyID: awsfake.AccessKeyID, SecretAccessKey: awsfake.SecretAccessKey,
			RDSEndpoint: f.URL, CloudWatchEndpoint: f.URL, MaxAttempts: 1,
		},
	}
}

func metric(r probe.Result, name string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

func messages(r probe.Result) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString(string(f.State) + ": " + f.Message + " FIX: " + f.Fix + "\n")
	}
	return b.String()
}

func TestProbe(t *testing.T) {
	cases := []struct {
		name    string
		script  func(f *awsfake.Server)
		opts    func(o *aurora.Options)
		state   probe.State
		want    []string // substrings of the findings
		metrics map[string]float64
	}{
		{
			name:  "healthy",
			state: probe.Healthy,
			metrics: map[string]float64{
				"dr_aurora_rpo_lag_seconds": 1.5, "dr_aurora_replication_lag_seconds": 0.2,
				"dr_aurora_members": 2, "dr_aurora_members_connected": 2, "dr_aurora_writer_expected": 1,
				"dr_aurora_failover_in_progress": 0, "dr_aurora_write_forwarding_enabled": 1,
				"dr_aurora_backup_retention_days": 7,
			},
		},
		{
			name:    "writer in the wrong region",
			opts:    func(o *aurora.Options) { o.PrimaryRegion = "us-west-2" },
			state:   probe.Critical,
			want:    []string{"writer of mm-global is mm-a in us-east-1, but the primary region us-west-2 expects mm-b", "switchover-global-cluster"},
			metrics: map[string]float64{"dr_aurora_writer_expected": 0},
		},
		{
			name: "switchover in progress",
			script: func(f *awsfake.Server) {
				f.SetFailoverState("mm-global", &awsfake.FailoverState{Status: "switching-over", From: arnA, To: arnB})
			},
			state:   probe.Degraded,
			want:    []string{"A switchover of global cluster mm-global is running (switching-over): writer moving from mm-a to mm-b", "do not start another"},
			metrics: map[string]float64{"dr_aurora_failover_in_progress": 1},
		},
		{
			name: "failover with data loss in progress",
			script: func(f *awsfake.Server) {
				f.SetFailoverState("mm-global", &awsfake.FailoverState{Status: "failing-over", From: arnA, To: arnB, DataLoss: true})
			},
			state: probe.Degraded,
			want:  []string{"A failover allowing data loss of global cluster mm-global is running (failing-over)"},
		},
		{
			name: "member resynchronising",
			script: func(f *awsfake.Server) {
				f.UpdateMember("mm-global", "mm-b", func(m *awsfake.Member) { m.Sync = awsfake.SyncPendingResync })
			},
			state:   probe.Degraded,
			want:    []string{"Cluster mm-b (us-west-2) is pending-resync, not connected"},
			metrics: map[string]float64{"dr_aurora_members_connected": 1},
		},
		{
			name: "write forwarding off",
			script: func(f *awsfake.Server) {
				f.UpdateMember("mm-global", arnB, func(m *awsfake.Member) { m.WriteForwarding = awsfake.ForwardingDisabled })
			},
			state:   probe.Degraded,
			want:    []string{"Write forwarding is disabled on secondary cluster mm-b", "--enable-global-write-forwarding --region us-west-2"},
			metrics: map[string]float64{"dr_aurora_write_forwarding_enabled": 0},
		},
		{
			name: "write forwarding being enabled",
			script: func(f *awsfake.Server) {
				f.UpdateMember("mm-global", arnB, func(m *awsfake.Member) { m.WriteForwarding = awsfake.ForwardingEnabling })
			},
			state: probe.Degraded,
			want:  []string{"Write forwarding is being enabled on secondary cluster mm-b"},
		},
		{
			name: "RPO lag over the threshold",
			script: func(f *awsfake.Server) {
				f.PutAuroraLag("us-west-2", "mm-b", 45*time.Second, 200*time.Millisecond, 10*time.Second)
			},
			state:   probe.Degraded,
			want:    []string{"RPO lag of mm-b is 45s, over the 30s threshold", "a failover now would lose"},
			metrics: map[string]float64{"dr_aurora_rpo_lag_seconds": 45},
		},
		{
			name: "replication lag critical",
			script: func(f *awsfake.Server) {
				f.PutAuroraLag("us-west-2", "mm-b", time.Second, 6*time.Minute, 10*time.Second)
			},
			state: probe.Critical,
			want:  []string{"Replication lag of mm-b is 6m0s, over 5m0s (10× the 30s threshold)"},
		},
		{
			name:   "no datapoints",
			script: func(f *awsfake.Server) { f.ClearMetrics() },
			state:  probe.Unknown,
			want:   []string{"CloudWatch has no AuroraGlobalDBRPOLag datapoint for mm-b in us-west-2 over the last 5m0s", "cloudwatch:GetMetricData"},
		},
		{
			name:   "global cluster missing",
			script: func(f *awsfake.Server) { f.DeleteGlobalCluster("mm-global") },
			state:  probe.Critical,
			want:   []string{"Global cluster mm-global does not exist (asked RDS in us-east-1)"},
		},
		{
			name:  "other cluster not a member",
			opts:  func(o *aurora.Options) { o.OtherCluster = "mm-c" },
			state: probe.Critical,
			want:  []string{"Cluster mm-c (us-west-2) is not a member of global cluster mm-global"},
		},
		{
			name:  "unknown access key",
			opts:  func(o *aurora.Options) { o.AWS.AccessKeyID = "AKIAWRONGKEY00000000" },
			state: probe.Unknown,
			want:  []string{"InvalidClientTokenId", "IAM policy allows rds:DescribeGlobalClusters"},
		},
		{
			name: "RDS 5xx",
			script: func(f *awsfake.Server) {
				f.Inject(awsfake.Fault{Service: awsfake.ServiceRDS, Kind: awsfake.FaultServer, Status: 503})
			},
			state: probe.Unknown,
			want:  []string{"503", "AWS Health Dashboard"},
		},
		{
			name: "CloudWatch access denied",
			script: func(f *awsfake.Server) {
				f.Inject(awsfake.Fault{Service: awsfake.ServiceCloudWatch, Kind: awsfake.FaultAccessDenied})
			},
			state: probe.Unknown,
			want:  []string{"The lag of secondary cluster mm-b could not be read", "AccessDenied", "cloudwatch:GetMetricData in us-west-2"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := awsfake.New(t)
			f.PutGlobalCluster(healthyCluster())
			f.PutAuroraLag("us-west-2", "mm-b", 1500*time.Millisecond, 200*time.Millisecond, 30*time.Second)
			if tc.script != nil {
				tc.script(f)
			}
			o := options(f)
			if tc.opts != nil {
				tc.opts(&o)
			}
			p, err := aurora.New(o)
			require.NoError(t, err)
			// Through the status runner, as /dr status runs it: the runner gives the deadline
			// and stamps the time.
			rep, err := status.NewRunner([]status.Prober{p}, status.WithTimeout(10*time.Second), status.WithCacheTTL(0)).Report(context.Background())
			require.NoError(t, err)
			r := rep.Results[0]

			all := messages(r)
			assert.Equal(t, tc.state, r.State, all)
			assert.Equal(t, "database", r.Component)
			assert.Equal(t, "Aurora global database mm-global", r.Name)
			assert.NotEmpty(t, r.Summary)
			assert.False(t, r.CheckedAt.IsZero())
			for _, w := range tc.want {
				assert.Contains(t, all, w)
			}
			if tc.state == probe.Healthy {
				assert.Empty(t, r.Findings)
			}
			for _, fd := range r.Findings {
				assert.NotEmpty(t, fd.Fix, "every finding says what to do: %s", fd.Message)
			}
			for name, v := range tc.metrics {
				got, ok := metric(r, name)
				if assert.True(t, ok, name) {
					assert.InDelta(t, v, got, 0.001, name)
				}
			}
			assert.NotContains(t, all+r.Summary, awsfake.SecretAccessKey)
		})
	}
}

func TestProbeTable(t *testing.T) {
	f := awsfake.New(t)
	f.PutGlobalCluster(healthyCluster())
	f.PutAuroraLag("us-west-2", "mm-b", 1500*time.Millisecond, 200*time.Millisecond, 30*time.Second)
	p, err := aurora.New(options(f))
	require.NoError(t, err)
	r := p.Probe(context.Background())
	require.NotNil(t, r.Table)
	require.Len(t, r.Table.Rows, 4)
	assert.Equal(t, [][]string{
		{"mm-a", "us-east-1", "writer", "connected", "-", "-", "-"},
		{"mm-b", "us-west-2", "secondary", "connected", "enabled", "1.5s", "200ms"},
	}, r.Table.Rows[:2])
	assert.Equal(t, "Restorable window (AWS PITR)", r.Table.Rows[2][0])
	assert.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC → \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(mm-a; latest 1m0s ago\)$`, r.Table.Rows[2][1])
	assert.Equal(t, []string{"Backup retention", "7 days (mm-a)"}, r.Table.Rows[3])
	assert.Equal(t, "writer mm-a in us-east-1, mm-b RPO lag 1.5s", r.Summary)

	// CloudWatch was asked in the secondary's region, RDS in this one (the global cluster,
	// and this cluster's restorable window).
	regions := map[string]string{}
	actions := map[string]bool{}
	for _, req := range f.Requests() {
		regions[req.Service] = req.Region
		actions[req.Action] = true
	}
	assert.Equal(t, map[string]string{"rds": "us-east-1", "monitoring": "us-west-2"}, regions)
	assert.Equal(t, map[string]bool{"DescribeGlobalClusters": true, "DescribeDBClusters": true, "GetMetricData": true}, actions)
}

// TestProbeDuringSwitchover runs the probe while a real switchover (through the client)
// progresses: degraded while it runs, healthy with the other region as primary once done.
func TestProbeDuringSwitchover(t *testing.T) {
	f := awsfake.New(t)
	f.PutGlobalCluster(healthyCluster())
	f.PutAuroraLag("us-west-2", "mm-b", time.Second, time.Second, 30*time.Second)
	f.PutAuroraLag("us-east-1", "mm-a", time.Second, time.Second, 30*time.Second)
	o := options(f)
	o.PrimaryRegion = "us-west-2"
	p, err := aurora.New(o)
	require.NoError(t, err)
	ao := o.AWS
	ao.Region = "us-west-2"
	c, err := rds.New(context.Background(), ao)
	require.NoError(t, err)
	_, err = c.Switchover(context.Background(), "mm-global", arnB)
	require.NoError(t, err)

	r := p.Probe(context.Background())
	assert.Equal(t, probe.Degraded, r.State, messages(r))
	assert.Contains(t, r.Summary, "A switchover of global cluster mm-global is running")

	_, err = c.WaitWriter(context.Background(), "mm-global", arnB, time.Millisecond)
	require.NoError(t, err)
	for range 3 { // the new secondary turns write forwarding on
		r = p.Probe(context.Background())
	}
	assert.Equal(t, probe.Healthy, r.State, messages(r))
	assert.Equal(t, "writer mm-b in us-west-2, mm-a RPO lag 1s", r.Summary)
}

func TestProbeHang(t *testing.T) {
	for _, service := range []string{awsfake.ServiceRDS, awsfake.ServiceCloudWatch} {
		t.Run(service, func(t *testing.T) {
			f := awsfake.New(t)
			f.PutGlobalCluster(healthyCluster())
			f.Inject(awsfake.Fault{Service: service, Kind: awsfake.FaultHang})
			o := options(f)
			p, err := aurora.New(o)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond) // the caller's deadline
			defer cancel()
			start := time.Now()
			r := p.Probe(ctx)
			assert.Less(t, time.Since(start), 3*time.Second)
			assert.Equal(t, probe.Unknown, r.State, messages(r))
			assert.Contains(t, messages(r), "did not answer in time")
		})
	}
}

func TestNewValidates(t *testing.T) {
	f := awsfake.New(t)
	for name, mod := range map[string]func(*aurora.Options){
		"no global cluster":       func(o *aurora.Options) { o.GlobalClusterID = "" },
		"no cluster here":         func(o *aurora.Options) { o.ThisCluster = "" },
		"other cluster no region": func(o *aurora.Options) { o.OtherRegion = "" },
		"primary region unknown":  func(o *aurora.Options) { o.PrimaryRegion = "eu-west-1" },
	} {
		t.Run(name, func(t *testing.T) {
			o := options(f)
			mod(&o)
			_, err := aurora.New(o)
			require.Error(t, err)
		})
	}
}

var (
	_ status.Prober     = (*aurora.Probe)(nil)
	_ status.Endpointer = (*aurora.Probe)(nil)
)

// TestInStatusRunner runs the probe the way the status service does, with its deadline, against
// a hanging RDS endpoint.
func TestInStatusRunner(t *testing.T) {
	f := awsfake.New(t)
	f.PutGlobalCluster(healthyCluster())
	f.Inject(awsfake.Fault{Kind: awsfake.FaultHang})
	p, err := aurora.New(options(f))
	require.NoError(t, err)
	assert.Equal(t, f.URL, p.Endpoint())
	r := status.NewRunner([]status.Prober{p}, status.WithTimeout(300*time.Millisecond), status.WithCacheTTL(0))
	start := time.Now()
	rep, err := r.Report(context.Background())
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
	require.Len(t, rep.Results, 1)
	res := rep.Results[0]
	assert.Equal(t, probe.Unknown, res.State)
	assert.Equal(t, "database", res.Component)
	assert.Contains(t, messages(res), "check that "+f.URL+" is reachable")
}

// TestRestorableWindow judges this region's cluster's AWS point-in-time restore window: how
// recent its latest restorable time is and how many days of backups RDS keeps.
func TestRestorableWindow(t *testing.T) {
	const (
		rowWindow    = "Restorable window (AWS PITR)"
		rowRetention = "Backup retention"
		lagMetric    = "dr_aurora_restorable_lag_seconds"
		daysMetric   = "dr_aurora_backup_retention_days"
	)
	cases := []struct {
		name     string
		script   func(f *awsfake.Server, now time.Time)
		opts     func(o *aurora.Options)
		timeout  time.Duration // the status runner's (default 10 s)
		state    probe.State
		want     []string // substrings of the findings
		fix      string   // substring of the fixes
		window   string   // regexp of the window row's value
		days     string   // the retention row's value
		lag      float64  // dr_aurora_restorable_lag_seconds; -1: no series
		retained float64  // dr_aurora_backup_retention_days; -1: no series
		others   bool     // the other findings and metrics still there (RPO lag over its threshold)
	}{
		{
			name:   "fresh",
			state:  probe.Healthy,
			window: `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC → \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(mm-a; latest 1m0s ago\)$`,
			days:   "7 days (mm-a)", lag: 60, retained: 7,
		},
		{
			name: "just under the threshold",
			script: func(f *awsfake.Server, now time.Time) {
				f.PutDBCluster(awsfake.DBCluster{ARN: arnA, BackupRetentionPeriod: 2, EarliestRestorableTime: now.AddDate(0, 0, -2), LatestRestorableTime: now.Add(-14 * time.Minute)})
			},
			state:  probe.Healthy,
			window: `\(mm-a; latest 14m0s ago\)$`, days: "2 days (mm-a)", lag: 14 * 60, retained: 2,
		},
		{
			name: "stale",
			script: func(f *awsfake.Server, now time.Time) {
				f.PutDBCluster(awsfake.DBCluster{ARN: arnA, BackupRetentionPeriod: 7, EarliestRestorableTime: now.AddDate(0, 0, -7), LatestRestorableTime: now.Add(-40 * time.Minute)})
			},
			state:  probe.Degraded,
			want:   []string{"The latest restorable time of cluster mm-a is 40m0s old", "over the 15m0s threshold: an AWS point-in-time restore now would lose the writes since then"},
			fix:    "aws rds describe-events --source-type db-cluster --source-identifier mm-a --region us-east-1",
			window: `\(mm-a; latest 40m0s ago\)$`, days: "7 days (mm-a)", lag: 40 * 60, retained: 7,
		},
		{
			name: "stale against a set threshold",
			script: func(f *awsfake.Server, now time.Time) {
				f.PutDBCluster(awsfake.DBCluster{ARN: arnA, EarliestRestorableTime: now.AddDate(0, 0, -7), LatestRestorableTime: now.Add(-6 * time.Minute)})
			},
			opts:   func(o *aurora.Options) { o.RestorableLagThreshold = 5 * time.Minute },
			state:  probe.Degraded,
			want:   []string{"is 6m0s old", "over the 5m0s threshold"},
			window: `latest 6m0s ago\)$`, days: "7 days (mm-a)", lag: 6 * 60, retained: 7,
		},
		{
			name: "short retention",
			script: func(f *awsfake.Server, now time.Time) {
				f.PutDBCluster(awsfake.DBCluster{ARN: arnA, BackupRetentionPeriod: 1, EarliestRestorableTime: now.AddDate(0, 0, -1), LatestRestorableTime: now.Add(-2 * time.Minute)})
			},
			state:  probe.Degraded,
			want:   []string{"Backup retention of cluster mm-a is 1 day: AWS point-in-time restore reaches back no further"},
			fix:    "aws rds modify-db-cluster --db-cluster-identifier mm-a --backup-retention-period 7 --region us-east-1",
			window: `latest 2m0s ago\)$`, days: "1 day (mm-a)", lag: 2 * 60, retained: 1,
		},
		{
			name: "no automated backup yet",
			script: func(f *awsfake.Server, _ time.Time) {
				f.PutDBCluster(awsfake.DBCluster{ARN: arnA, BackupRetentionPeriod: 7})
			},
			state:  probe.Degraded,
			want:   []string{"RDS reports no latest restorable time for cluster mm-a (us-east-1): AWS point-in-time restore cannot restore it yet"},
			fix:    "aws rds describe-events --source-type db-cluster --source-identifier mm-a",
			window: `^not reported$`, days: "7 days (mm-a)", lag: -1, retained: 7,
		},
		{
			name: "unreadable: access denied",
			script: func(f *awsfake.Server, _ time.Time) {
				f.Inject(awsfake.Fault{Service: awsfake.ServiceRDS, Action: "DescribeDBClusters", Kind: awsfake.FaultAccessDenied})
			},
			state:  probe.Unknown,
			want:   []string{"The restorable window (AWS point-in-time restore) of cluster mm-a could not be read: describe DB cluster mm-a in us-east-1", "AccessDenied"},
			fix:    "IAM policy allows rds:DescribeDBClusters",
			window: `^could not be read: describe DB cluster mm-a in us-east-1: .*AccessDenied`, days: "unknown", lag: -1, retained: -1,
			others: true,
		},
		{
			name: "unreadable: 5xx",
			script: func(f *awsfake.Server, _ time.Time) {
				f.Inject(awsfake.Fault{Service: awsfake.ServiceRDS, Action: "DescribeDBClusters", Kind: awsfake.FaultServer, Status: 503})
			},
			state:  probe.Unknown,
			want:   []string{"could not be read", "503"},
			fix:    "AWS Health Dashboard",
			window: `^could not be read: .*503`, days: "unknown", lag: -1, retained: -1,
			others: true,
		},
		{
			// A hanging DescribeDBClusters gives up before the runner's deadline: the rest of
			// the result stands instead of "did not answer".
			name: "unreadable: hangs",
			script: func(f *awsfake.Server, _ time.Time) {
				f.Inject(awsfake.Fault{Service: awsfake.ServiceRDS, Action: "DescribeDBClusters", Kind: awsfake.FaultHang})
			},
			timeout: time.Second,
			state:   probe.Unknown,
			want:    []string{"could not be read", "deadline exceeded"},
			fix:     "AWS did not answer in time",
			window:  `^could not be read: .*deadline exceeded`, days: "unknown", lag: -1, retained: -1,
			others: true,
		},
		{
			name:   "unreadable: no such cluster",
			opts:   func(o *aurora.Options) { o.ThisCluster = "mm-x" },
			state:  probe.Critical, // mm-x is not a member either
			want:   []string{"The restorable window (AWS point-in-time restore) of cluster mm-x could not be read: describe DB cluster mm-x in us-east-1: DB cluster not found", "Cluster mm-x (us-east-1) is not a member"},
			fix:    "Check the cluster name for us-east-1 in the Disaster Recovery settings (aws rds describe-db-clusters --region us-east-1 lists them)",
			window: `^could not be read: describe DB cluster mm-x in us-east-1: DB cluster not found$`, days: "unknown", lag: -1, retained: -1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := awsfake.New(t)
			f.PutGlobalCluster(healthyCluster())
			rpo := 1500 * time.Millisecond
			if tc.others {
				rpo = 45 * time.Second
			}
			f.PutAuroraLag("us-west-2", "mm-b", rpo, 200*time.Millisecond, 30*time.Second)
			if tc.script != nil {
				tc.script(f, time.Now())
			}
			o := options(f)
			if tc.opts != nil {
				tc.opts(&o)
			}
			p, err := aurora.New(o)
			require.NoError(t, err)
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			rep, err := status.NewRunner([]status.Prober{p}, status.WithTimeout(timeout), status.WithCacheTTL(0)).Report(context.Background())
			require.NoError(t, err)
			r := rep.Results[0]

			all := messages(r)
			assert.Equal(t, tc.state, r.State, all)
			for _, w := range tc.want {
				assert.Contains(t, all, w)
			}
			if tc.fix != "" {
				found := false
				for _, fd := range r.Findings {
					found = found || strings.Contains(fd.Fix, tc.fix)
				}
				assert.True(t, found, "a fix says %q:\n%s", tc.fix, all)
			}
			if tc.state == probe.Healthy {
				assert.Empty(t, r.Findings)
			}
			require.NotNil(t, r.Table, all)
			rows := map[string]string{}
			for _, row := range r.Table.Rows {
				if row[0] == rowWindow || row[0] == rowRetention {
					require.Len(t, row, 2)
					rows[row[0]] = row[1]
				}
			}
			assert.Regexp(t, tc.window, rows[rowWindow])
			assert.Equal(t, tc.days, rows[rowRetention])
			assert.Equal(t, "mm-a", r.Table.Rows[0][0], "the clusters' rows come first")

			for name, want := range map[string]float64{lagMetric: tc.lag, daysMetric: tc.retained} {
				got, ok := metric(r, name)
				if want < 0 {
					assert.False(t, ok, "no %s series", name)
					continue
				}
				if assert.True(t, ok, name) {
					assert.InDelta(t, want, got, 5, name)
				}
			}
			for _, m := range r.Metrics {
				if m.Name == lagMetric || m.Name == daysMetric {
					assert.Equal(t, map[string]string{"cluster": "mm-a", "region": "us-east-1"}, m.Labels)
				}
			}
			if tc.others {
				assert.Contains(t, all, "RPO lag of mm-b is 45s, over the 30s threshold")
				got, ok := metric(r, "dr_aurora_rpo_lag_seconds")
				assert.True(t, ok)
				assert.InDelta(t, 45, got, 0.001)
			}
			assert.NotContains(t, all+r.Summary+fmt.Sprint(r.Table.Rows), awsfake.SecretAccessKey)
		})
	}
}
