package s3repl

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

func check(t *testing.T, o Options) probe.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := New(o).Probe(ctx)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	assert.NotContains(t, string(b), harness.MinIORootPassword, "the result shows a secret key")
	assert.Equal(t, Component, res.Component)
	return res
}

func describe(res probe.Result) string {
	b, _ := json.MarshalIndent(res, "", "  ")
	return string(b)
}

func metric(res probe.Result, name, bucket string) (float64, bool) {
	for _, m := range res.Metrics {
		if m.Name == name && m.Labels["bucket"] == bucket {
			return m.Value, true
		}
	}
	return 0, false
}

func findingWith(res probe.Result, state probe.State, text string) bool {
	for _, f := range res.Findings {
		if f.State == state && strings.Contains(f.Message, text) {
			return true
		}
	}
	return false
}

// row is the table row of bucket.
func row(t *testing.T, res probe.Result, bucket string) []string {
	t.Helper()
	require.NotNil(t, res.Table)
	for _, r := range res.Table.Rows {
		if r[0] == bucket {
			return r
		}
	}
	t.Fatalf("no row for %s: %s", bucket, describe(res))
	return nil
}

func TestHealthyTwoWay(t *testing.T) {
	p := newPair(t, true)
	put(t, minioA, p.a, "a1", "a2", "a3")
	put(t, minioB, p.b, "b1", "b2")
	waitStatus(t, minioA, p.a, types.ReplicationStatusCompleted, "a1", "a2", "a3")
	waitStatus(t, minioB, p.b, types.ReplicationStatusCompleted, "b1", "b2")
	waitStatus(t, minioA, p.a, types.ReplicationStatusReplica, "b1", "b2")
	waitStatus(t, minioB, p.b, types.ReplicationStatusReplica, "a1", "a2", "a3")

	res := check(t, p.options())
	require.Equal(t, probe.Healthy, res.State, describe(res))
	assert.Empty(t, res.Findings)
	assert.Equal(t, fmt.Sprintf("S3 replication %s ⇄ %s", p.a, p.b), res.Name)
	assert.Equal(t, "10 newest objects sampled: 0 pending, 0 failed", res.Summary)
	ra := row(t, res, p.a)
	assert.Equal(t, []string{p.a, "Enabled", p.b, p.ruleA + " Enabled", "Enabled", "5 newest of 5", "3", "0", "0", "2", "0", "-"}, ra)
	rb := row(t, res, p.b)
	assert.Equal(t, []string{p.b, "Enabled", p.a, p.ruleB + " Enabled", "Enabled", "5 newest of 5", "2", "0", "0", "3", "0", "-"}, rb)
	for _, b := range []string{p.a, p.b} {
		v, ok := metric(res, MetricVersioning, b)
		assert.True(t, ok)
		assert.Equal(t, 1.0, v)
		v, ok = metric(res, MetricPending, b)
		assert.True(t, ok)
		assert.Zero(t, v)
		v, ok = metric(res, MetricFailed, b)
		assert.True(t, ok)
		assert.Zero(t, v)
	}

	// The sample is the newest objects, bounded: the two newest of each bucket.
	o := p.options()
	o.SampleSize = 2
	res = check(t, o)
	assert.Equal(t, "2 newest of 5", row(t, res, p.a)[5])
	assert.Equal(t, "2", row(t, res, p.a)[9], "b1 and b2 arrived last in region A")
}

func TestReplicaServerDown(t *testing.T) {
	p := newPair(t, true)
	put(t, minioA, p.a, "before")
	waitStatus(t, minioA, p.a, types.ReplicationStatusCompleted, "before")
	o := p.options()
	o.PendingThreshold = 3
	require.Equal(t, probe.Healthy, check(t, o).State)

	minioB.Kill()
	restarted := false
	t.Cleanup(func() {
		if restarted {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := minioB.Restart(ctx); err != nil {
			t.Errorf("restart region B's MinIO: %v", err)
		}
	})
	put(t, minioA, p.a, "w1", "w2", "w3", "w4")
	res := check(t, o)
	// MinIO marks an object PENDING, then FAILED once an attempt to reach the target fails
	// (and retries it later): depending on timing the four new objects are in either state.
	pending, _ := metric(res, MetricPending, p.a)
	failed, _ := metric(res, MetricFailed, p.a)
	assert.Equal(t, 4.0, pending+failed, describe(res))
	if pending >= 3 {
		assert.True(t, findingWith(res, probe.Degraded, fmt.Sprintf("of the 5 newest objects of bucket %s are still PENDING replication to %s (threshold 3)", p.a, p.b)), describe(res))
	}
	if failed > 0 {
		assert.True(t, findingWith(res, probe.Critical, fmt.Sprintf("of the 5 newest objects of bucket %s failed to replicate to %s", p.a, p.b)), describe(res))
	}
	assert.Equal(t, probe.Critical, res.State)
	assert.True(t, findingWith(res, probe.Critical, "cannot check bucket "+p.b), describe(res))
	assert.True(t, findingWith(res, probe.Critical, "connection refused"), describe(res))
	assert.Equal(t, "unreachable", row(t, res, p.b)[1])
	_, ok := metric(res, MetricVersioning, p.b)
	assert.False(t, ok, "unknown is not reported as a value")

	// Back up: MinIO replicates what waited.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, minioB.Restart(ctx))
	restarted = true
	require.Eventually(t, func() bool {
		res = check(t, o)
		return res.State == probe.Healthy
	}, 90*time.Second, time.Second, "still not healthy after region B came back")
	assert.Equal(t, "5", row(t, res, p.a)[6], "all completed")
}

func TestRuleDisabled(t *testing.T) {
	p := newPair(t, true)
	mc(t, minioA, "replicate", "update", "local/"+p.a, "--id", p.ruleA, "--state", "disable")
	res := check(t, p.options())
	assert.Equal(t, probe.Critical, res.State, describe(res))
	assert.True(t, findingWith(res, probe.Critical, fmt.Sprintf("replication rule %s on bucket %s towards %s is Disabled: objects written to %s are not copied to %s",
		p.ruleA, p.a, p.b, p.a, p.b)), describe(res))
	assert.Len(t, res.Findings, 1, "region B's rule is fine: %s", describe(res))
	assert.Equal(t, p.ruleA+" Disabled", row(t, res, p.a)[3])

	mc(t, minioA, "replicate", "update", "local/"+p.a, "--id", p.ruleA, "--state", "enable")
	assert.Equal(t, probe.Healthy, check(t, p.options()).State)
}

func TestReplicaModificationsNotSynced(t *testing.T) {
	p := newPair(t, true)
	mc(t, minioB, "replicate", "update", "local/"+p.b, "--id", p.ruleB, "--replicate", "delete,delete-marker,existing-objects")
	res := check(t, p.options())
	assert.Equal(t, probe.Degraded, res.State, describe(res))
	assert.True(t, findingWith(res, probe.Degraded, fmt.Sprintf("replication rule %s on bucket %s does not sync replica modifications", p.ruleB, p.b)), describe(res))
	assert.Equal(t, "Disabled", row(t, res, p.b)[4])
}

func TestVersioningSuspended(t *testing.T) {
	p := newPair(t, true)
	// MinIO, like AWS, refuses to suspend versioning on a bucket with a replication rule: it
	// happens to a bucket whose own rule was removed, which then only receives.
	mc(t, minioB, "replicate", "rm", "--all", "--force", "local/"+p.b)
	mc(t, minioB, "version", "suspend", "local/"+p.b)
	res := check(t, p.options())
	assert.Equal(t, probe.Critical, res.State, describe(res))
	assert.True(t, findingWith(res, probe.Critical, "versioning is Suspended on bucket "+p.b+": replication needs it on both buckets"), describe(res))
	assert.True(t, findingWith(res, probe.Critical, "no replication rule on bucket "+p.b), describe(res))
	assert.Len(t, res.Findings, 2, describe(res))
	assert.Equal(t, "Suspended", row(t, res, p.b)[1])
	v, ok := metric(res, MetricVersioning, p.b)
	assert.True(t, ok)
	assert.Zero(t, v)
}

func TestNoReplication(t *testing.T) {
	p := newPair(t, false)
	put(t, minioA, p.a, "lonely")
	res := check(t, p.options())
	assert.Equal(t, probe.Critical, res.State, describe(res))
	for _, b := range [][2]string{{p.a, p.b}, {p.b, p.a}} {
		assert.True(t, findingWith(res, probe.Critical, fmt.Sprintf("no replication rule on bucket %s: objects written there are not copied to %s", b[0], b[1])), describe(res))
		assert.True(t, findingWith(res, probe.Critical, "versioning is never enabled on bucket "+b[0]), describe(res))
	}
	assert.Equal(t, "1", row(t, res, p.a)[10], "an object without replication status")
}

func TestUnreachableAndHangingEndpoints(t *testing.T) {
	requireMinIO(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := closed.Addr().String()
	require.NoError(t, closed.Close())
	// Accepts connections and never answers: only the deadline ends the wait.
	hanging, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer hanging.Close()
	go func() {
		for {
			c, err := hanging.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	client := func(addr string) Bucket {
		c, err := NewClient(context.Background(), ClientOptions{Region: harness.MinIORegion, Endpoint: "http://" + addr, PathStyle: true,
			AccessKeyID: harness.MinIORootUser, SecretAccessKey: harness.MinIORootPassword})
		require.NoError(t, err)
		return Bucket{Name: "files", Client: c, Label: addr}
	}
	tests := []struct {
		name    string
		addr    string
		timeout time.Duration
		want    probe.State
		text    string
	}{
		{"connection refused", closedAddr, 30 * time.Second, probe.Critical, "connection refused"},
		{"no answer", hanging.Addr().String(), time.Second, probe.Unknown, "deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			t0 := time.Now()
			res := New(Options{A: client(tt.addr), B: Bucket{Name: "files", Client: minioB.S3Client(), Label: "b"}}).Probe(ctx)
			assert.Less(t, time.Since(t0), tt.timeout+2*time.Second)
			assert.Equal(t, tt.want, res.State, describe(res))
			assert.True(t, findingWith(res, tt.want, "cannot check bucket "+tt.addr), describe(res))
			assert.True(t, findingWith(res, tt.want, tt.text), describe(res))
			assert.NotContains(t, describe(res), harness.MinIORootPassword)
		})
	}
}

func TestNotConfigured(t *testing.T) {
	assert.Equal(t, probe.NotConfigured, New(Options{}).Probe(context.Background()).State)
	res := New(Options{A: Bucket{Name: "x"}}).Probe(context.Background())
	assert.Equal(t, probe.Unknown, res.State, describe(res))
	assert.True(t, findingWith(res, probe.Unknown, "no bucket name or no S3 client given"), describe(res))
}

// TestInStatusRunner runs the probe as /dr status does, with the runner's deadline, while one
// region's S3 endpoint never answers: the probe reports that itself, with the other bucket's
// findings, before the runner gives up.
func TestInStatusRunner(t *testing.T) {
	p := newPair(t, true)
	hanging, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer hanging.Close()
	go func() {
		for {
			c, err := hanging.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	client, err := NewClient(context.Background(), ClientOptions{Region: harness.MinIORegion, Endpoint: "http://" + hanging.Addr().String(),
		PathStyle: true, AccessKeyID: harness.MinIORootUser, SecretAccessKey: harness.MinIORootPassword})
	require.NoError(t, err)
	o := p.options()
	o.B = Bucket{Name: p.b, Client: client}
	r := status.NewRunner([]status.Prober{New(o)}, status.WithTimeout(1500*time.Millisecond), status.WithCacheTTL(0))
	t0 := time.Now()
	rep, err := r.Report(context.Background())
	require.NoError(t, err)
	assert.Less(t, time.Since(t0), 3*time.Second)
	res := rep.Results[0]
	assert.NotContains(t, res.Summary, "did not answer", describe(res))
	assert.True(t, findingWith(res, probe.Unknown, "cannot check bucket "+p.b), describe(res))
	assert.Equal(t, "Enabled", row(t, res, p.a)[1], "bucket A was checked: %s", describe(res))
}
