package rds_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	awsfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/aws"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/rds"
)

const (
	arnA = "arn:aws:rds:us-east-1:123456789012:cluster:mm-a"
	arnB = "arn:aws:rds:us-west-2:123456789012:cluster:mm-b"
)

func healthy() awsfake.GlobalCluster {
	return awsfake.GlobalCluster{ID: "mm-global", Members: []awsfake.Member{
		{ARN: arnA, IsWriter: true, WriteForwarding: awsfake.ForwardingDisabled, Sync: awsfake.SyncConnected},
		{ARN: arnB, WriteForwarding: awsfake.ForwardingEnabled, Sync: awsfake.SyncConnected},
	}}
}

func newClient(t *testing.T, f *awsfake.Server, mod ...func(*rds.Options)) *rds.Client {
	t.Helper()
	o := rds.Options{
		Region: "us-west-2", AccessKeyID: awsfake.AccessKeyID, SecretAccessKey: awsfake.SecretAccessKey,
		RDSEndpoint: f.URL, CloudWatchEndpoint: f.URL, MaxAttempts: 1,
	}
	for _, m := range mod {
		m(&o)
	}
	c, err := rds.New(context.Background(), o)
	require.NoError(t, err)
	return c
}

func TestNewValidates(t *testing.T) {
	for name, o := range map[string]rds.Options{
		"no region":     {AccessKeyID: "a", SecretAccessKey: "b"},
		"half the keys": {Region: "us-east-1", AccessKeyID: "a"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := rds.New(context.Background(), o)
			require.Error(t, err)
		})
	}
}

func TestGlobalCluster(t *testing.T) {
	f := awsfake.New(t)
	f.PutGlobalCluster(healthy())
	c := newClient(t, f)

	g, err := c.GlobalCluster(context.Background(), "mm-global")
	require.NoError(t, err)
	assert.Equal(t, "mm-global", g.ID)
	assert.Equal(t, "available", g.Status)
	assert.Equal(t, "aurora-postgresql", g.Engine)
	assert.Nil(t, g.Failover)
	require.Len(t, g.Members, 2)
	w, ok := g.Writer()
	require.True(t, ok)
	assert.Equal(t, rds.Member{ARN: arnA, ID: "mm-a", Region: "us-east-1", IsWriter: true, Readers: []string{arnB}, WriteForwarding: "disabled", Sync: "connected"}, w)
	b, ok := g.Member("mm-b")
	require.True(t, ok)
	assert.Equal(t, rds.Member{ARN: arnB, ID: "mm-b", Region: "us-west-2", WriteForwarding: "enabled", Sync: "connected"}, b)

	reqs := f.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, awsfake.Request{Service: "rds", Action: "DescribeGlobalClusters", Region: "us-west-2", AccessKeyID: awsfake.AccessKeyID}, reqs[0])
}

func TestGlobalClusterErrors(t *testing.T) {
	cases := []struct {
		name   string
		fault  *awsfake.Fault
		id     string
		key    string
		check  func(t *testing.T, err error)
		within time.Duration
	}{
		{name: "not found", id: "nope", check: func(t *testing.T, err error) {
			assert.ErrorIs(t, err, rds.ErrNotFound)
			assert.Contains(t, err.Error(), "describe global cluster nope in us-west-2")
		}},
		{name: "unknown access key", id: "mm-global", key: "AKIAWRONGKEY00000000", check: func(t *testing.T, err error) {
			assert.True(t, rds.IsAuthError(err), "%v", err)
			assert.Contains(t, err.Error(), "InvalidClientTokenId")
			assert.Contains(t, err.Error(), "403")
		}},
		{name: "access denied", id: "mm-global", fault: &awsfake.Fault{Kind: awsfake.FaultAccessDenied}, check: func(t *testing.T, err error) {
			assert.True(t, rds.IsAuthError(err), "%v", err)
			assert.Contains(t, err.Error(), "AccessDenied")
		}},
		{name: "server error", id: "mm-global", fault: &awsfake.Fault{Kind: awsfake.FaultServer}, check: func(t *testing.T, err error) {
			assert.False(t, rds.IsAuthError(err))
			assert.Contains(t, err.Error(), "500")
			assert.Contains(t, err.Error(), "InternalFailure")
		}},
		{name: "unavailable", id: "mm-global", fault: &awsfake.Fault{Kind: awsfake.FaultServer, Status: 503}, check: func(t *testing.T, err error) {
			assert.Contains(t, err.Error(), "503")
		}},
		{name: "hang", id: "mm-global", fault: &awsfake.Fault{Kind: awsfake.FaultHang}, within: 300 * time.Millisecond, check: func(t *testing.T, err error) {
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := awsfake.New(t)
			f.PutGlobalCluster(healthy())
			if tc.fault != nil {
				f.Inject(*tc.fault)
			}
			c := newClient(t, f, func(o *rds.Options) {
				if tc.key != "" {
					o.AccessKeyID = tc.key
				}
			})
			ctx := context.Background()
			if tc.within > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.within)
				defer cancel()
			}
			start := time.Now()
			_, err := c.GlobalCluster(ctx, tc.id)
			require.Error(t, err)
			tc.check(t, err)
			assert.NotContains(t, err.Error(), awsfake.SecretAccessKey)
			if tc.within > 0 {
				assert.Less(t, time.Since(start), tc.within+2*time.Second)
			}
		})
	}
}

// TestSwitchover follows a planned switchover the way the runbook does: start it, watch the
// states RDS reports, wait for the new writer.
func TestSwitchover(t *testing.T) {
	f := awsfake.New(t)
	f.PutGlobalCluster(healthy())
	c := newClient(t, f)
	ctx := context.Background()

	g, err := c.Switchover(ctx, "mm-global", "mm-b") // an identifier: resolved to the ARN
	require.NoError(t, err)
	require.NotNil(t, g.Failover)
	assert.Equal(t, rds.FailoverState{Status: "pending", From: arnA, To: arnB}, *g.Failover)
	assert.Equal(t, "switching-over", g.Status)

	// A second operation while one runs is refused, as RDS does.
	_, err = c.Switchover(ctx, "mm-global", arnB)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "InvalidGlobalClusterStateFault")

	var seen []string
	for range 3 {
		g, err = c.GlobalCluster(ctx, "mm-global")
		require.NoError(t, err)
		w, _ := g.Writer()
		st := "-"
		if g.Failover != nil {
			st = g.Failover.Status
		}
		seen = append(seen, st+" "+w.ID)
	}
	assert.Equal(t, []string{"pending mm-a", "switching-over mm-a", "switching-over mm-a"}, seen)
	b, _ := g.Member("mm-b")
	assert.Equal(t, "disabling", b.WriteForwarding)

	g, err = c.WaitWriter(ctx, "mm-global", arnB, time.Millisecond)
	require.NoError(t, err)
	w, _ := g.Writer()
	assert.Equal(t, arnB, w.ARN)
	assert.Nil(t, g.Failover)
	assert.Equal(t, "available", g.Status)
	a, _ := g.Member(arnA)
	assert.Equal(t, "enabling", a.WriteForwarding)
	assert.Equal(t, []string{arnA}, w.Readers)

	g, err = c.GlobalCluster(ctx, "mm-global")
	require.NoError(t, err)
	a, _ = g.Member(arnA)
	assert.Equal(t, "enabled", a.WriteForwarding)
}

func TestFailoverWithDataLoss(t *testing.T) {
	f := awsfake.New(t)
	f.PutGlobalCluster(healthy())
	c := newClient(t, f)
	ctx := context.Background()

	g, err := c.Failover(ctx, "mm-global", arnB, true)
	require.NoError(t, err)
	require.NotNil(t, g.Failover)
	assert.True(t, g.Failover.DataLossAllowed)
	assert.Equal(t, "failing-over", g.Status)

	g, err = c.WaitWriter(ctx, "mm-global", "mm-b", time.Millisecond)
	require.NoError(t, err)
	a, _ := g.Member("mm-a")
	assert.False(t, a.IsWriter)
	assert.Equal(t, "pending-resync", a.Sync, "the old primary resynchronises after a failover with data loss")

	g, err = c.GlobalCluster(ctx, "mm-global")
	require.NoError(t, err)
	a, _ = g.Member("mm-a")
	assert.Equal(t, "connected", a.Sync)
}

func TestFailoverWithoutDataLossIsASwitchover(t *testing.T) {
	f := awsfake.New(t)
	f.PutGlobalCluster(healthy())
	c := newClient(t, f)
	g, err := c.Failover(context.Background(), "mm-global", arnB, false)
	require.NoError(t, err)
	require.NotNil(t, g.Failover)
	assert.False(t, g.Failover.DataLossAllowed)
	assert.Equal(t, "switching-over", g.Status)
}

func TestOperationErrors(t *testing.T) {
	cases := []struct {
		name, global, target, want string
	}{
		{"unknown global cluster", "nope", arnB, "GlobalClusterNotFoundFault"},
		{"target not a member", "mm-global", "mm-c", "not a member"},
		{"target not a member by ARN", "mm-global", "arn:aws:rds:eu-west-1:123456789012:cluster:mm-c", "DBClusterNotFoundFault"},
		{"target already the writer", "mm-global", arnA, "already the primary"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := awsfake.New(t)
			f.PutGlobalCluster(healthy())
			c := newClient(t, f)
			_, err := c.Switchover(context.Background(), tc.global, tc.target)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "switch over global cluster "+tc.global)
		})
	}
}

func TestWaitWriter(t *testing.T) {
	t.Run("polls through 5xx", func(t *testing.T) {
		f := awsfake.New(t)
		f.PutGlobalCluster(healthy())
		c := newClient(t, f)
		_, err := c.Switchover(context.Background(), "mm-global", arnB)
		require.NoError(t, err)
		f.Inject(awsfake.Fault{Kind: awsfake.FaultServer, Status: 503, Count: 2})
		g, err := c.WaitWriter(context.Background(), "mm-global", arnB, time.Millisecond)
		require.NoError(t, err)
		w, _ := g.Writer()
		assert.Equal(t, arnB, w.ARN)
	})
	t.Run("stops on an auth error", func(t *testing.T) {
		f := awsfake.New(t)
		f.PutGlobalCluster(healthy())
		c := newClient(t, f)
		f.Inject(awsfake.Fault{Kind: awsfake.FaultAuth})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := c.WaitWriter(ctx, "mm-global", arnB, time.Millisecond)
		require.Error(t, err)
		assert.True(t, rds.IsAuthError(err))
		assert.NoError(t, ctx.Err(), "returned before the deadline")
	})
	t.Run("deadline says what it saw", func(t *testing.T) {
		f := awsfake.New(t)
		f.PutGlobalCluster(healthy())
		c := newClient(t, f)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := c.WaitWriter(ctx, "mm-global", arnB, 10*time.Millisecond)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "writer "+arnA)
	})
	t.Run("target not a member", func(t *testing.T) {
		f := awsfake.New(t)
		f.PutGlobalCluster(healthy())
		c := newClient(t, f)
		_, err := c.WaitWriter(context.Background(), "mm-global", "mm-c", time.Millisecond)
		require.ErrorContains(t, err, "not a member")
	})
}

func TestLag(t *testing.T) {
	f := awsfake.New(t)
	now := time.Now()
	dims := map[string]string{"DBClusterIdentifier": "mm-b"}
	for _, dp := range []struct {
		ago    time.Duration
		metric string
		ms     float64
	}{
		{4 * time.Minute, awsfake.MetricRPOLag, 9000},
		{90 * time.Second, awsfake.MetricRPOLag, 1500},
		{3 * time.Minute, awsfake.MetricReplicationLag, 700},
		{30 * time.Second, awsfake.MetricReplicationLag, 120},
		{20 * time.Minute, awsfake.MetricReplicationLag, 99999}, // outside the window
	} {
		f.PutMetric("us-west-2", "AWS/RDS", dp.metric, dims, awsfake.Datapoint{At: now.Add(-dp.ago), Value: dp.ms})
	}
	// Same metric in another region or with other dimensions is another metric.
	f.PutMetric("us-east-1", "AWS/RDS", awsfake.MetricRPOLag, dims, awsfake.Datapoint{At: now, Value: 1})
	f.PutMetric("us-west-2", "AWS/RDS", awsfake.MetricRPOLag, map[string]string{"DBClusterIdentifier": "mm-b", "Role": "WRITER"}, awsfake.Datapoint{At: now, Value: 2})

	c := newClient(t, f, func(o *rds.Options) {
		o.Region = "us-east-1"
		o.ClusterRegions = map[string]string{"mm-b": "us-west-2"}
	})
	for _, cluster := range []string{arnB, "mm-b"} {
		lag, err := c.Lag(context.Background(), cluster)
		require.NoError(t, err)
		assert.Equal(t, "mm-b", lag.Cluster)
		assert.Equal(t, "us-west-2", lag.Region)
		require.NotNil(t, lag.RPO)
		require.NotNil(t, lag.Replication)
		assert.Equal(t, 1500*time.Millisecond, lag.RPO.Value)
		assert.Equal(t, 120*time.Millisecond, lag.Replication.Value)
		assert.WithinDuration(t, now.Add(-30*time.Second), lag.Replication.At, time.Minute)
	}
	for _, r := range f.Requests() {
		assert.Equal(t, awsfake.Request{Service: "monitoring", Action: "GetMetricData", Region: "us-west-2", AccessKeyID: awsfake.AccessKeyID}, r)
	}
}

func TestLagNoDatapoints(t *testing.T) {
	f := awsfake.New(t)
	c := newClient(t, f)
	lag, err := c.Lag(context.Background(), arnB)
	require.NoError(t, err)
	assert.Nil(t, lag.RPO)
	assert.Nil(t, lag.Replication)
	assert.Equal(t, 5*time.Minute, lag.Window)
}

func TestLagErrors(t *testing.T) {
	cases := []struct {
		name    string
		cluster string
		fault   *awsfake.Fault
		want    []string
		auth    bool
	}{
		{name: "unknown region", cluster: "mm-z", want: []string{"region of cluster mm-z is unknown"}},
		{name: "bad ARN", cluster: "arn:aws:ec2:us-east-1:1:instance/i-1", want: []string{"not an Aurora DB cluster ARN"}},
		{name: "auth", cluster: arnB, fault: &awsfake.Fault{Service: awsfake.ServiceCloudWatch, Kind: awsfake.FaultAuth}, want: []string{"InvalidClientTokenId", "403"}, auth: true},
		{name: "denied", cluster: arnB, fault: &awsfake.Fault{Kind: awsfake.FaultAccessDenied}, want: []string{"AccessDenied"}, auth: true},
		{name: "5xx", cluster: arnB, fault: &awsfake.Fault{Kind: awsfake.FaultServer}, want: []string{"InternalServiceError", "500"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := awsfake.New(t)
			if tc.fault != nil {
				f.Inject(*tc.fault)
			}
			c := newClient(t, f)
			_, err := c.Lag(context.Background(), tc.cluster)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, tc.auth, rds.IsAuthError(err), "%v", err)
			assert.NotContains(t, err.Error(), awsfake.SecretAccessKey)
		})
	}
}

func TestLagHang(t *testing.T) {
	f := awsfake.New(t)
	f.Inject(awsfake.Fault{Kind: awsfake.FaultHang})
	c := newClient(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Lag(ctx, arnB)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "deadline"), "%v", err)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestParseClusterARN(t *testing.T) {
	for _, tc := range []struct {
		in, region, id string
		ok             bool
	}{
		{arnA, "us-east-1", "mm-a", true},
		{"arn:aws-cn:rds:cn-north-1:1:cluster:x", "cn-north-1", "x", true},
		{"mm-a", "", "", false},
		{"arn:aws:rds:us-east-1:1:db:mm-a", "", "", false},
		{"arn:aws:rds::1:global-cluster:g", "", "", false},
	} {
		region, id, ok := rds.ParseClusterARN(tc.in)
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.region, region, tc.in)
		assert.Equal(t, tc.id, id, tc.in)
	}
}

func TestRestorableWindow(t *testing.T) {
	f := awsfake.New(t)
	f.PutGlobalCluster(healthy())
	latest := time.Date(2026, 12, 6, 21, 14, 30, 250e6, time.UTC)
	earliest := latest.AddDate(0, 0, -14)
	f.PutDBCluster(awsfake.DBCluster{ARN: arnA, BackupRetentionPeriod: 14, EarliestRestorableTime: earliest, LatestRestorableTime: latest})
	c := newClient(t, f, func(o *rds.Options) {
		o.Region = "us-west-2" // RDS calls about the global database go elsewhere: this one goes to the cluster's region
		o.ClusterRegions = map[string]string{"mm-a": "us-east-1", "MM-A": "us-east-1"}
	})
	for _, cluster := range []string{arnA, "mm-a", "MM-A"} { // RDS matches identifiers regardless of case
		w, err := c.RestorableWindow(context.Background(), cluster)
		require.NoError(t, err, cluster)
		assert.Equal(t, rds.RestorableWindow{Cluster: "mm-a", Region: "us-east-1", Earliest: earliest, Latest: latest, RetentionDays: 14}, w, cluster)
	}
	for _, r := range f.Requests() {
		assert.Equal(t, awsfake.Request{Service: "rds", Action: "DescribeDBClusters", Region: "us-east-1", AccessKeyID: awsfake.AccessKeyID}, r)
	}

	// A member not scripted answers with the fake's defaults, which follow its clock.
	w, err := c.RestorableWindow(context.Background(), arnB)
	require.NoError(t, err)
	assert.Equal(t, "mm-b", w.Cluster)
	assert.Equal(t, "us-west-2", w.Region)
	assert.Equal(t, awsfake.DefaultBackupRetentionDays, w.RetentionDays)
	assert.WithinDuration(t, time.Now().Add(-awsfake.DefaultRestorableLag), w.Latest, 5*time.Second)
	assert.WithinDuration(t, time.Now().AddDate(0, 0, -awsfake.DefaultBackupRetentionDays), w.Earliest, 5*time.Second)

	// Before the first automated backup RDS reports no restorable times: zero, not an error.
	arnC := "arn:aws:rds:us-east-1:123456789012:cluster:mm-c"
	f.PutDBCluster(awsfake.DBCluster{ARN: arnC, BackupRetentionPeriod: 1})
	w, err = c.RestorableWindow(context.Background(), arnC)
	require.NoError(t, err)
	assert.Equal(t, rds.RestorableWindow{Cluster: "mm-c", Region: "us-east-1", RetentionDays: 1}, w)
}

func TestRestorableWindowErrors(t *testing.T) {
	cases := []struct {
		name     string
		cluster  string
		fault    *awsfake.Fault
		want     []string
		auth     bool
		notFound bool
	}{
		{name: "unknown cluster", cluster: "arn:aws:rds:us-east-1:123456789012:cluster:nope", want: []string{"describe DB cluster nope in us-east-1"}, notFound: true},
		// RDS is regional: an identifier asked in another region is not found there.
		{name: "identifier in the wrong region", cluster: "mm-b", want: []string{"describe DB cluster mm-b in us-east-1"}, notFound: true},
		{name: "unknown region", cluster: "mm-z", want: []string{"read the restorable window of mm-z", "region of cluster mm-z is unknown"}},
		{name: "bad ARN", cluster: "arn:aws:rds:us-east-1:1:db:mm-a", want: []string{"not an Aurora DB cluster ARN"}},
		{name: "unknown access key", cluster: arnA, fault: &awsfake.Fault{Service: awsfake.ServiceRDS, Kind: awsfake.FaultAuth}, want: []string{"InvalidClientTokenId", "403"}, auth: true},
		{name: "access denied", cluster: arnA, fault: &awsfake.Fault{Action: "DescribeDBClusters", Kind: awsfake.FaultAccessDenied}, want: []string{"AccessDenied", "describe DB cluster mm-a in us-east-1"}, auth: true},
		{name: "5xx", cluster: arnA, fault: &awsfake.Fault{Kind: awsfake.FaultServer, Status: 503}, want: []string{"ServiceUnavailable", "503"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := awsfake.New(t)
			f.PutGlobalCluster(healthy())
			if tc.fault != nil {
				f.Inject(*tc.fault)
			}
			c := newClient(t, f, func(o *rds.Options) { o.ClusterRegions = map[string]string{"mm-b": "us-east-1"} })
			_, err := c.RestorableWindow(context.Background(), tc.cluster)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, tc.auth, rds.IsAuthError(err), "%v", err)
			assert.Equal(t, tc.notFound, errors.Is(err, rds.ErrClusterNotFound), "%v", err)
			assert.NotContains(t, err.Error(), awsfake.SecretAccessKey)
		})
	}
}

func TestRestorableWindowHang(t *testing.T) {
	f := awsfake.New(t)
	f.PutGlobalCluster(healthy())
	f.Inject(awsfake.Fault{Action: "DescribeDBClusters", Kind: awsfake.FaultHang})
	c := newClient(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.RestorableWindow(ctx, arnA)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 3*time.Second)
}
