package opensearchccr_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	osfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/opensearch"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/opensearchccr"
)

const (
	user         = "dr-plugin"
	leaderPass   = "leader-Secret-9f3"
	followerPass = "follower-Secret-4c1"
)

type clusters struct {
	leader, follower *osfake.Cluster
	lc, fc           *opensearchccr.Client
}

func setup(t *testing.T) clusters {
	t.Helper()
	l := osfake.New(t, osfake.Options{Name: "east", Username: user, Password: leaderPass})
	f := osfake.New(t, osfake.Options{Name: "west", Username: user, Password: followerPass})
	f.Connect("east", l)
	for _, spec := range []osfake.IndexSpec{
		{Name: "channels", Docs: 10}, {Name: "users", Docs: 5}, {Name: "files", Docs: 0},
		{Name: "posts_2026_11_01", Docs: 100}, {Name: "posts_2026_11_02", Docs: 50},
		{Name: ".kibana_1", Docs: 3}, {Name: ".plugins-ml-config", Hidden: true, Docs: 1},
	} {
		l.CreateIndex(spec)
	}
	return clusters{leader: l, follower: f, lc: newClient(t, l.URL, leaderPass), fc: newClient(t, f.URL, followerPass)}
}

func newClient(t *testing.T, url, pass string) *opensearchccr.Client {
	t.Helper()
	c, err := opensearchccr.New(opensearchccr.Options{Addresses: []string{url}, Username: user, Password: pass})
	require.NoError(t, err)
	return c
}

var roles = &opensearchccr.Roles{LeaderClusterRole: "cross_cluster_replication_leader_full_access", FollowerClusterRole: "cross_cluster_replication_follower_full_access"}

func TestStartStatusAndLag(t *testing.T) {
	cl := setup(t)
	ctx := context.Background()

	s, err := cl.fc.Status(ctx, "channels")
	require.NoError(t, err)
	assert.Equal(t, opensearchccr.Status{Status: opensearchccr.StateNotInProgress}, s)

	require.NoError(t, cl.fc.Start(ctx, "channels", "east", "channels", roles))
	s, err = cl.fc.Status(ctx, "channels")
	require.NoError(t, err)
	assert.Equal(t, opensearchccr.Status{
		Status: "SYNCING", Reason: "User initiated", LeaderAlias: "east", LeaderIndex: "channels", FollowerIndex: "channels",
		Syncing: &opensearchccr.SyncingDetails{LeaderCheckpoint: 9, FollowerCheckpoint: 9, SeqNo: 10},
	}, s)
	lag, ok := s.Lag()
	assert.True(t, ok)
	assert.Zero(t, lag)

	cl.leader.Write("channels", 7)
	cl.follower.SetLag("channels", 4)
	s, err = cl.fc.Status(ctx, "channels")
	require.NoError(t, err)
	lag, ok = s.Lag()
	assert.True(t, ok)
	assert.Equal(t, int64(4), lag)
	assert.Equal(t, int64(16), s.Syncing.LeaderCheckpoint)
}

func TestBootstrapping(t *testing.T) {
	cl := setup(t)
	cl.follower.BootstrapPolls = 2
	ctx := context.Background()
	require.NoError(t, cl.fc.Start(ctx, "users", "east", "users", nil))

	var states []string
	for range 3 {
		s, err := cl.fc.Status(ctx, "users")
		require.NoError(t, err)
		states = append(states, s.Status)
		if s.Status == opensearchccr.StateBootstrapping {
			require.NotNil(t, s.Bootstrap)
			assert.Positive(t, s.Bootstrap.BytesTotal)
			assert.Nil(t, s.Syncing)
			_, ok := s.Lag()
			assert.False(t, ok)
		}
	}
	assert.Equal(t, []string{"BOOTSTRAPPING", "BOOTSTRAPPING", "SYNCING"}, states)
}

func TestPauseResumeStop(t *testing.T) {
	cl := setup(t)
	ctx := context.Background()
	require.NoError(t, cl.fc.Start(ctx, "files", "east", "files", roles))

	require.NoError(t, cl.fc.Pause(ctx, "files"))
	s, err := cl.fc.Status(ctx, "files")
	require.NoError(t, err)
	assert.Equal(t, "PAUSED", s.Status)
	assert.Nil(t, s.Syncing, "a paused index reports no checkpoints")

	err = cl.fc.Pause(ctx, "files")
	require.Error(t, err)
	assert.Equal(t, http.StatusBadRequest, opensearchccr.StatusOf(err))
	assert.Contains(t, err.Error(), "resource_already_exists_exception: Index files is already paused")
	assert.Contains(t, err.Error(), "pause replication of files")

	require.NoError(t, cl.fc.Resume(ctx, "files"))
	err = cl.fc.Resume(ctx, "files")
	require.ErrorContains(t, err, "already running")

	require.NoError(t, cl.fc.Stop(ctx, "files"))
	s, err = cl.fc.Status(ctx, "files")
	require.NoError(t, err)
	assert.Equal(t, opensearchccr.StateNotInProgress, s.Status)
	err = cl.fc.Stop(ctx, "files")
	require.ErrorContains(t, err, "No replication in progress for index:files")

	// The stopped follower stays as a regular index: starting again needs it deleted first.
	err = cl.fc.Start(ctx, "files", "east", "files", roles)
	require.ErrorContains(t, err, "Delete the index:files")
	require.NoError(t, cl.fc.DeleteIndex(ctx, "files"))
	require.NoError(t, cl.fc.Start(ctx, "files", "east", "files", roles))
}

func TestAutoFollow(t *testing.T) {
	cl := setup(t)
	ctx := context.Background()
	require.NoError(t, cl.fc.AddAutoFollow(ctx, "east", "mattermost-posts", "posts*", roles))

	st, err := cl.fc.AutoFollowStats(ctx)
	require.NoError(t, err)
	require.Len(t, st.Rules, 1)
	assert.Equal(t, "mattermost-posts", st.Rules[0].Name)
	assert.Equal(t, "posts*", st.Rules[0].Pattern)
	assert.Equal(t, int64(2), st.Rules[0].SuccessStart)
	assert.Equal(t, int64(2), st.SuccessStart)
	assert.Empty(t, st.FailedIndices)

	s, err := cl.fc.Status(ctx, "posts_2026_11_02")
	require.NoError(t, err)
	assert.Equal(t, "SYNCING", s.Status)

	// A new daily index the follower may not replicate shows up as a failed start.
	cl.leader.CreateIndex(osfake.IndexSpec{Name: "posts_2026_11_03"})
	cl.follower.FailAutoFollow("posts_2026_11_03", "no permissions")
	st, err = cl.fc.AutoFollowStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"posts_2026_11_03"}, st.FailedIndices)
	assert.Equal(t, int64(1), st.Rules[0].FailedStart)

	require.NoError(t, cl.fc.DeleteAutoFollow(ctx, "east", "mattermost-posts"))
	require.NoError(t, cl.fc.DeleteAutoFollow(ctx, "east", "mattermost-posts"), "removing a missing rule is acknowledged")
	st, err = cl.fc.AutoFollowStats(ctx)
	require.NoError(t, err)
	assert.Empty(t, st.Rules)

	for _, pattern := range []string{"*", ".kibana*"} {
		err := cl.fc.AddAutoFollow(ctx, "east", "everything", pattern, nil)
		require.ErrorContains(t, err, "system indices", pattern)
	}
	err = cl.fc.AddAutoFollow(ctx, "nowhere", "r", "posts*", nil)
	require.ErrorContains(t, err, "no_such_remote_cluster_exception")
}

func TestStats(t *testing.T) {
	cl := setup(t)
	ctx := context.Background()
	for _, ix := range []string{"channels", "users", "files"} {
		require.NoError(t, cl.fc.Start(ctx, ix, "east", ix, roles))
	}
	cl.follower.SetFollowerState("users", osfake.Paused, "AutoPaused: leader unreachable")
	cl.follower.SetFollowerState("files", osfake.Failed, "Failed to replay changes")

	fs, err := cl.fc.FollowerStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, fs.Syncing)
	assert.Equal(t, 1, fs.Paused)
	assert.Equal(t, 1, fs.Failed)
	assert.Equal(t, int64(9), fs.Indices["channels"].FollowerCheckpoint)
	assert.Equal(t, int64(9), fs.LeaderCheckpoint)

	ls, err := cl.lc.LeaderStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, ls.ReplicatedIndices)
	assert.Equal(t, int64(10), ls.Indices["channels"].OperationsRead)

	s, err := cl.fc.Status(ctx, "files")
	require.NoError(t, err)
	assert.Equal(t, opensearchccr.Status{Status: "FAILED", Reason: "Failed to replay changes", LeaderAlias: "east", LeaderIndex: "files", FollowerIndex: "files"}, s)
}

func TestIndices(t *testing.T) {
	cl := setup(t)
	ctx := context.Background()
	all, err := cl.lc.Indices(ctx, "")
	require.NoError(t, err)
	var names []string
	for _, ix := range all {
		names = append(names, ix.Name)
		assert.Equal(t, "open", ix.Status)
		assert.NotEmpty(t, ix.UUID)
	}
	assert.Equal(t, []string{".kibana_1", "channels", "files", "posts_2026_11_01", "posts_2026_11_02", "users"}, names, "hidden indices are left out")

	posts, err := cl.lc.Indices(ctx, "posts*")
	require.NoError(t, err)
	require.Len(t, posts, 2)
	assert.Equal(t, "100", posts[0].DocsCount)

	none, err := cl.fc.Indices(ctx, "posts*")
	require.NoError(t, err)
	assert.Empty(t, none)

	_, err = cl.fc.Indices(ctx, "channels")
	require.ErrorContains(t, err, "index_not_found_exception")
}

func TestDeleteAndRefresh(t *testing.T) {
	cl := setup(t)
	ctx := context.Background()
	for _, name := range []string{".kibana_1", "*", "_all", "a,b", ""} {
		err := cl.lc.DeleteIndex(ctx, name)
		require.Error(t, err, name)
	}
	assert.Contains(t, cl.leader.IndexNames(), ".kibana_1")
	for _, r := range cl.leader.Requests() {
		assert.False(t, strings.HasPrefix(r, "DELETE"), "refused before any request: %s", r)
	}

	err := cl.lc.DeleteIndex(ctx, "nope")
	require.Error(t, err)
	assert.Equal(t, http.StatusNotFound, opensearchccr.StatusOf(err))
	assert.Contains(t, err.Error(), "index_not_found_exception: no such index [nope]")

	require.NoError(t, cl.lc.DeleteIndex(ctx, "posts_2026_11_01"))
	assert.NotContains(t, cl.leader.IndexNames(), "posts_2026_11_01")

	require.NoError(t, cl.lc.Refresh(ctx))
	require.NoError(t, cl.lc.Refresh(ctx, "channels", "users"))
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name    string
		pass    string
		fault   *osfake.Fault
		timeout time.Duration
		check   func(t *testing.T, err error)
	}{
		{name: "wrong password", pass: "wrong-Password-77", check: func(t *testing.T, err error) {
			assert.True(t, opensearchccr.IsAuthError(err))
			assert.Equal(t, 401, opensearchccr.StatusOf(err))
			assert.Contains(t, err.Error(), "username or password is wrong")
		}},
		{name: "forbidden", fault: &osfake.Fault{Kind: osfake.FaultForbidden}, check: func(t *testing.T, err error) {
			assert.True(t, opensearchccr.IsAuthError(err))
			assert.Contains(t, err.Error(), "403 security_exception: no permissions")
		}},
		{name: "500", fault: &osfake.Fault{Kind: osfake.FaultServer}, check: func(t *testing.T, err error) {
			assert.False(t, opensearchccr.IsAuthError(err))
			assert.Equal(t, 500, opensearchccr.StatusOf(err))
		}},
		{name: "503 after retries", fault: &osfake.Fault{Kind: osfake.FaultServer, Status: 503}, check: func(t *testing.T, err error) {
			assert.Contains(t, err.Error(), "503 cluster_block_exception")
		}},
		{name: "hang", fault: &osfake.Fault{Kind: osfake.FaultHang}, timeout: 200 * time.Millisecond, check: func(t *testing.T, err error) {
			assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := setup(t)
			if tc.fault != nil {
				cl.follower.Inject(*tc.fault)
			}
			pass := followerPass
			if tc.pass != "" {
				pass = tc.pass
			}
			c := newClient(t, cl.follower.URL, pass)
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			start := time.Now()
			_, err := c.Status(ctx, "channels")
			require.Error(t, err)
			tc.check(t, err)
			assert.Contains(t, err.Error(), "replication status of channels")
			assert.NotContains(t, err.Error(), pass)
			assert.Less(t, time.Since(start), 3*time.Second)
		})
	}
}

func TestRetriesTransient503(t *testing.T) {
	cl := setup(t)
	cl.follower.Inject(osfake.Fault{Kind: osfake.FaultServer, Status: 503, Count: 1})
	s, err := cl.fc.Status(context.Background(), "channels")
	require.NoError(t, err)
	assert.Equal(t, opensearchccr.StateNotInProgress, s.Status)
}

func TestCredentialsInURL(t *testing.T) {
	cl := setup(t)
	u := strings.Replace(cl.follower.URL, "http://", "http://"+user+":"+followerPass+"@", 1)
	c, err := opensearchccr.New(opensearchccr.Options{Addresses: []string{u}})
	require.NoError(t, err)
	_, err = c.Status(context.Background(), "channels")
	require.NoError(t, err)

	// A refused connection's error names the address, never the password.
	cl.follower.Close()
	_, err = c.Status(context.Background(), "channels")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), followerPass)

	_, err = opensearchccr.New(opensearchccr.Options{Addresses: []string{"ftp://" + user + ":" + followerPass + "@host"}})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), followerPass)
}

func TestTLS(t *testing.T) {
	f := osfake.New(t, osfake.Options{TLS: true})
	ctx := context.Background()

	c, err := opensearchccr.New(opensearchccr.Options{Addresses: []string{f.URL}, CACert: f.CACertPEM()})
	require.NoError(t, err)
	_, err = c.Status(ctx, "channels")
	require.NoError(t, err)

	c, err = opensearchccr.New(opensearchccr.Options{Addresses: []string{f.URL}, InsecureSkipVerify: true})
	require.NoError(t, err)
	_, err = c.Status(ctx, "channels")
	require.NoError(t, err)

	c, err = opensearchccr.New(opensearchccr.Options{Addresses: []string{f.URL}, MaxRetries: -1})
	require.NoError(t, err)
	_, err = c.Status(ctx, "channels")
	require.ErrorContains(t, err, "certificate")

	_, err = opensearchccr.New(opensearchccr.Options{Addresses: []string{f.URL}, CACert: []byte("not pem")})
	require.ErrorContains(t, err, "not valid PEM")
}

func TestArgumentChecks(t *testing.T) {
	cl := setup(t)
	ctx := context.Background()
	for name, err := range map[string]error{
		"status wildcard":   func() error { _, err := cl.fc.Status(ctx, "posts*"); return err }(),
		"start no alias":    cl.fc.Start(ctx, "channels", "", "channels", nil),
		"start bad leader":  cl.fc.Start(ctx, "channels", "east", "", nil),
		"pause all":         cl.fc.Pause(ctx, "_all"),
		"autofollow empty":  cl.fc.AddAutoFollow(ctx, "east", "", "posts*", nil),
		"delete rule empty": cl.fc.DeleteAutoFollow(ctx, "", "x"),
	} {
		assert.Error(t, err, name)
	}
	assert.Empty(t, cl.follower.Requests(), "argument errors never reach OpenSearch")
}

func TestActionsAreNotRetried(t *testing.T) {
	cl := setup(t)
	ctx := context.Background()
	require.NoError(t, cl.fc.Start(ctx, "channels", "east", "channels", roles))
	cl.follower.Inject(osfake.Fault{PathPrefix: "/_plugins/_replication/channels/_pause", Kind: osfake.FaultServer, Status: 503, Count: 1})
	err := cl.fc.Pause(ctx, "channels")
	require.Error(t, err)
	assert.Equal(t, 503, opensearchccr.StatusOf(err))
	state, _ := cl.follower.FollowerState("channels")
	assert.Equal(t, osfake.Syncing, state, "the one 503 was the answer: no second attempt")
	require.NoError(t, cl.fc.Pause(ctx, "channels"), "the admin's retry works")
}
