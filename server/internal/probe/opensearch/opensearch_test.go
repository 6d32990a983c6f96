package opensearch_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	osfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/opensearch"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/opensearchccr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	osprobe "github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/opensearch"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

const (
	user         = "dr-plugin"
	leaderPass   = "leader-Secret-9f3"
	followerPass = "follower-Secret-4c1"
)

var roles = &opensearchccr.Roles{LeaderClusterRole: "cross_cluster_replication_leader_full_access", FollowerClusterRole: "cross_cluster_replication_follower_full_access"}

type env struct {
	leader, follower *osfake.Cluster
	fc               *opensearchccr.Client
}

// setup builds the leader's indices; with replicate, the follower follows them as the DR
// runbook sets it up (three _start calls and the posts* auto-follow rule).
func setup(t *testing.T, leaderIndices []string, replicate bool) env {
	t.Helper()
	l := osfake.New(t, osfake.Options{Name: "east", Username: user, Password: leaderPass})
	f := osfake.New(t, osfake.Options{Name: "west", Username: user, Password: followerPass})
	f.Connect("east", l)
	for _, name := range leaderIndices {
		l.CreateIndex(osfake.IndexSpec{Name: name, Docs: 20})
	}
	l.CreateIndex(osfake.IndexSpec{Name: ".kibana_1", Docs: 3})
	l.CreateIndex(osfake.IndexSpec{Name: ".opendistro-job-scheduler-lock", Hidden: true})
	f.CreateIndex(osfake.IndexSpec{Name: ".opendistro_security", Docs: 9})
	fc, err := opensearchccr.New(opensearchccr.Options{Addresses: []string{f.URL}, Username: user, Password: followerPass})
	require.NoError(t, err)
	e := env{leader: l, follower: f, fc: fc}
	if replicate {
		ctx := context.Background()
		for _, ix := range []string{"channels", "users", "files"} {
			if slices.Contains(leaderIndices, ix) {
				require.NoError(t, fc.Start(ctx, ix, "east", ix, roles))
			}
		}
		require.NoError(t, fc.AddAutoFollow(ctx, "east", "mattermost-posts", "posts*", roles))
	}
	return e
}

var mattermostIndices = []string{"channels", "users", "files", "posts_2026_11_01", "posts_2026_11_02"}

func (e env) options() osprobe.Options {
	return osprobe.Options{
		Follower:    opensearchccr.Options{Addresses: []string{e.follower.URL}, Username: user, Password: followerPass},
		Leader:      &opensearchccr.Options{Addresses: []string{e.leader.URL}, Username: user, Password: leaderPass},
		LeaderAlias: "east",
	}
}

func check(t *testing.T, o osprobe.Options) probe.Result {
	t.Helper()
	p, err := osprobe.New(o)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.Probe(ctx)
}

func messages(r probe.Result) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString(string(f.State) + ": " + f.Message + " FIX: " + f.Fix + "\n")
	}
	return b.String()
}

func gauge(r probe.Result, name string, labels map[string]string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Name != name {
			continue
		}
		match := true
		for k, v := range labels {
			if m.Labels[k] != v {
				match = false
			}
		}
		if match {
			return m.Value, true
		}
	}
	return 0, false
}

func TestHealthy(t *testing.T) {
	e := setup(t, mattermostIndices, true)
	before := len(e.follower.Requests())
	r := check(t, e.options())
	require.Equal(t, probe.Healthy, r.State, messages(r))
	assert.Empty(t, r.Findings)
	assert.Equal(t, "opensearch", r.Component)
	assert.Equal(t, "5 indices syncing, at most 0 operations behind; auto-follow posts* active", r.Summary)

	v, ok := gauge(r, "dr_opensearch_follower_indices", map[string]string{"state": "syncing"})
	assert.True(t, ok)
	assert.Equal(t, 5.0, v)
	v, ok = gauge(r, "dr_opensearch_checkpoint_lag_operations", map[string]string{"index": "posts_2026_11_02"})
	assert.True(t, ok)
	assert.Zero(t, v)
	v, _ = gauge(r, "dr_opensearch_unfollowed_leader_indices", nil)
	assert.Zero(t, v)
	v, _ = gauge(r, "dr_opensearch_autofollow_rule_present", nil)
	assert.Equal(t, 1.0, v)

	require.NotNil(t, r.Table)
	assert.Equal(t, []string{"channels", "syncing", "19", "19", "0", ""}, r.Table.Rows[0])
	assert.Len(t, r.Table.Rows, 5)

	// Hidden and system indices are never looked at, on either cluster.
	for _, req := range append(e.follower.Requests()[before:], e.leader.Requests()...) {
		assert.NotContains(t, req, "/.", req)
		assert.True(t, strings.HasPrefix(req, "GET "), "the probe only reads: %s", req)
	}
}

func TestFindings(t *testing.T) {
	cases := []struct {
		name      string
		indices   []string // leader indices (default mattermostIndices)
		replicate *bool
		script    func(t *testing.T, e env)
		opts      func(o *osprobe.Options)
		state     probe.State
		want      []string
		gauges    map[string]float64 // "name state=x" or "name index=x" → value
	}{
		{
			name: "bootstrapping",
			script: func(_ *testing.T, e env) {
				e.follower.SetFollowerState("users", osfake.Bootstrapping, "User initiated")
			},
			state:  probe.Degraded,
			want:   []string{"users is still copying its leader index (50% of 8.0 MiB copied)"},
			gauges: map[string]float64{"dr_opensearch_follower_indices state=bootstrapping": 1},
		},
		{
			name: "paused",
			script: func(_ *testing.T, e env) {
				e.follower.SetFollowerState("posts_2026_11_02", osfake.Paused, "AutoPaused: leader cluster unreachable")
			},
			state:  probe.Degraded,
			want:   []string{"Replication of posts_2026_11_02 is paused (AutoPaused: leader cluster unreachable)", "Resume with POST _plugins/_replication/posts_2026_11_02/_resume on the follower"},
			gauges: map[string]float64{"dr_opensearch_follower_indices state=paused": 1, "dr_opensearch_follower_indices state=syncing": 4},
		},
		{
			name: "failed",
			script: func(_ *testing.T, e env) {
				e.follower.SetFollowerState("channels", osfake.Failed, "Failed to replay changes")
			},
			state: probe.Critical,
			want: []string{"Replication of channels failed (Failed to replay changes)",
				`POST _plugins/_replication/channels/_stop, DELETE /channels, then PUT _plugins/_replication/channels/_start {"leader_alias":"east","leader_index":"channels"`},
			gauges: map[string]float64{"dr_opensearch_follower_indices state=failed": 1},
		},
		{
			name:   "failed posts index restarts through the rule",
			script: func(_ *testing.T, e env) { e.follower.SetFollowerState("posts_2026_11_01", osfake.Failed, "") },
			state:  probe.Critical,
			want:   []string{"Replication of posts_2026_11_01 failed:", "the auto-follow rule then starts it again"},
		},
		{
			name: "lagging",
			script: func(_ *testing.T, e env) {
				e.leader.Write("channels", 3000)
				e.follower.SetLag("channels", 1500)
			},
			state:  probe.Degraded,
			want:   []string{"channels is 1500 operations behind its leader (threshold 1000)"},
			gauges: map[string]float64{"dr_opensearch_checkpoint_lag_operations index=channels": 1500},
		},
		{
			name: "lagging far",
			script: func(_ *testing.T, e env) {
				e.leader.Write("posts_2026_11_02", 50000)
				e.follower.SetLag("posts_2026_11_02", 20000)
			},
			state: probe.Critical,
			want:  []string{"posts_2026_11_02 is 20000 operations behind its leader (over 10000, 10× the threshold)"},
		},
		{
			name:      "no auto-follow rule",
			replicate: ptr(false),
			script: func(t *testing.T, e env) {
				for _, ix := range []string{"channels", "users", "files"} {
					require.NoError(t, e.fc.Start(context.Background(), ix, "east", ix, roles))
				}
			},
			state: probe.Critical,
			want: []string{"The follower has no auto-follow rule for posts*", `"pattern":"posts*"`,
				"Leader indices posts_2026_11_01, posts_2026_11_02 are not replicated."},
			gauges: map[string]float64{"dr_opensearch_unfollowed_leader_indices": 2, "dr_opensearch_autofollow_rule_present": 0},
		},
		{
			name: "auto-follow cannot start an index",
			script: func(_ *testing.T, e env) {
				e.follower.FailAutoFollow("posts_2026_11_03", "no permissions")
				e.leader.CreateIndex(osfake.IndexSpec{Name: "posts_2026_11_03"})
			},
			state: probe.Degraded,
			want:  []string{"Auto-follow rule mattermost-posts could not start replicating posts_2026_11_03.", "PUT _plugins/_replication/posts_2026_11_03/_start"},
		},
		{
			name:    "expected index never started",
			indices: mattermostIndices,
			script: func(t *testing.T, e env) {
				require.NoError(t, e.fc.Stop(context.Background(), "files"))
				require.NoError(t, e.fc.DeleteIndex(context.Background(), "files"))
			},
			state: probe.Critical,
			want:  []string{"files is not replicated: the follower has no such index.", "PUT _plugins/_replication/files/_start"},
		},
		{
			name:   "regular index in the way",
			script: func(t *testing.T, e env) { require.NoError(t, e.fc.Stop(context.Background(), "users")) },
			state:  probe.Critical,
			want:   []string{"users exists on the follower but does not follow the leader", "DELETE /users, then PUT _plugins/_replication/users/_start"},
			gauges: map[string]float64{"dr_opensearch_follower_indices state=not_following": 1},
		},
		{
			name:    "index on neither cluster",
			indices: []string{"channels", "users", "posts_2026_11_01"},
			state:   probe.Degraded,
			want:    []string{"Index files exists on neither cluster"},
		},
		{
			name:   "rule replicating everything",
			script: func(t *testing.T, e env) { e.follower.Connect("east2", e.leader); addRule(t, e, "east2", "all", "*") },
			state:  probe.Degraded,
			want:   []string{`Auto-follow rule all replicates "*", which takes hidden and system indices too.`},
		},
		{
			name: "one status unreadable",
			script: func(_ *testing.T, e env) {
				e.follower.Inject(osfake.Fault{PathPrefix: "/_plugins/_replication/users/_status"})
			},
			state: probe.Unknown,
			want:  []string{"The replication status of users could not be read: replication status of users: OpenSearch answered 500"},
		},
		{
			name:   "leader unreachable",
			script: func(_ *testing.T, e env) { e.leader.Inject(osfake.Fault{Kind: osfake.FaultServer, Status: 503}) },
			state:  probe.Unknown,
			want:   []string{"The leader's indices could not be listed", "503", "leader cluster's health"},
		},
		{
			name:  "wrong leader password",
			opts:  func(o *osprobe.Options) { o.Leader.Password = "nope-Nope-123" },
			state: probe.Unknown,
			want:  []string{"401", "username and password of the leader cluster"},
		},
		{
			name: "no leader configured",
			opts: func(o *osprobe.Options) { o.Leader = nil },
			script: func(t *testing.T, e env) {
				require.NoError(t, e.fc.Stop(context.Background(), "files"))
				require.NoError(t, e.fc.DeleteIndex(context.Background(), "files"))
			},
			state: probe.Critical,
			want:  []string{"files is not replicated: the follower has no such index."},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			indices := tc.indices
			if indices == nil {
				indices = mattermostIndices
			}
			replicate := tc.replicate == nil || *tc.replicate
			e := setup(t, indices, replicate)
			if tc.script != nil {
				tc.script(t, e)
			}
			o := e.options()
			if tc.opts != nil {
				tc.opts(&o)
			}
			r := check(t, o)
			all := messages(r)
			assert.Equal(t, tc.state, r.State, all)
			for _, w := range tc.want {
				assert.Contains(t, all, w)
			}
			for _, f := range r.Findings {
				assert.NotEmpty(t, f.Fix, "every finding says what to do: %s", f.Message)
			}
			for key, want := range tc.gauges {
				name, label, _ := strings.Cut(key, " ")
				labels := map[string]string{}
				if k, v, ok := strings.Cut(label, "="); ok {
					labels[k] = v
				}
				got, ok := gauge(r, name, labels)
				if assert.True(t, ok, key) {
					assert.Equal(t, want, got, key)
				}
			}
			assert.NotContains(t, all+r.Summary, leaderPass)
			assert.NotContains(t, all+r.Summary, followerPass)
			assert.NotEmpty(t, r.Summary)
		})
	}
}

func addRule(t *testing.T, e env, alias, name, pattern string) {
	t.Helper()
	// The client refuses "*" on purpose; an admin may have added it by hand.
	req := `{"leader_alias":"` + alias + `","name":"` + name + `","pattern":"` + pattern + `"}`
	r, err := newRawRequest(e.follower.URL+"/_plugins/_replication/_autofollow", req)
	require.NoError(t, err)
	require.Equal(t, 200, r)
}

func ptr[T any](v T) *T { return &v }

func TestFollowerUnavailable(t *testing.T) {
	cases := []struct {
		name  string
		fault *osfake.Fault
		pass  string
		want  []string
	}{
		{name: "wrong password", pass: "wrong-Password-1", want: []string{"401", "username and password of the follower cluster"}},
		{name: "forbidden", fault: &osfake.Fault{Kind: osfake.FaultForbidden}, want: []string{"403 security_exception", "cross_cluster_replication roles"}},
		{name: "5xx", fault: &osfake.Fault{Kind: osfake.FaultServer, Status: 503}, want: []string{"503", "follower cluster's health"}},
		{name: "hang", fault: &osfake.Fault{Kind: osfake.FaultHang}, want: []string{"did not answer in time"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, mattermostIndices, true)
			if tc.fault != nil {
				e.follower.Inject(*tc.fault)
			}
			o := e.options()
			if tc.pass != "" {
				o.Follower.Password = tc.pass
			}
			p, err := osprobe.New(o)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond) // the caller's deadline
			defer cancel()
			start := time.Now()
			r := p.Probe(ctx)
			assert.Less(t, time.Since(start), 3*time.Second)
			assert.Equal(t, probe.Unknown, r.State, messages(r))
			require.Len(t, r.Findings, 1)
			for _, w := range tc.want {
				assert.Contains(t, r.Findings[0].Message+" "+r.Findings[0].Fix, w)
			}
			assert.NotContains(t, messages(r), followerPass)
		})
	}
}

func TestManyPostsIndices(t *testing.T) {
	var indices []string
	indices = append(indices, "channels", "users", "files")
	for d := 1; d <= 40; d++ {
		indices = append(indices, fmt.Sprintf("posts_2026_10_%02d", d))
	}
	e := setup(t, indices, true)
	e.follower.SetFollowerState("posts_2026_10_17", osfake.Paused, "User initiated")
	r := check(t, e.options())
	assert.Equal(t, probe.Degraded, r.State, messages(r))
	assert.Len(t, r.Table.Rows, 43)
	v, _ := gauge(r, "dr_opensearch_follower_indices", map[string]string{"state": "syncing"})
	assert.Equal(t, 42.0, v)
}

func newRawRequest(url, body string) (int, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(user, followerPass)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	return res.StatusCode, nil
}

var (
	_ status.Prober     = (*osprobe.Probe)(nil)
	_ status.Endpointer = (*osprobe.Probe)(nil)
)

// TestInStatusRunner runs the probe the way the status service does, with its deadline, against
// a hanging follower.
func TestInStatusRunner(t *testing.T) {
	e := setup(t, mattermostIndices, true)
	e.follower.Inject(osfake.Fault{Kind: osfake.FaultHang})
	o := e.options()
	o.Follower.Addresses = []string{strings.Replace(e.follower.URL, "http://", "http://"+user+":"+followerPass+"@", 1)}
	o.Follower.Password = ""
	p, err := osprobe.New(o)
	require.NoError(t, err)
	assert.Equal(t, e.follower.URL, p.Endpoint(), "no credentials in the endpoint")
	r := status.NewRunner([]status.Prober{p}, status.WithTimeout(300*time.Millisecond), status.WithCacheTTL(0))
	start := time.Now()
	rep, err := r.Report(context.Background())
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
	res := rep.Results[0]
	assert.Equal(t, probe.Unknown, res.State)
	assert.Equal(t, "opensearch", res.Component)
	assert.Contains(t, messages(res), "check that "+e.follower.URL+" is reachable")
	assert.NotContains(t, messages(res), followerPass)
}
