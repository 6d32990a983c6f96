package failover_test

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	awsfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/aws"
	osfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/opensearch"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/opensearchccr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/nodes"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

// The whole runbook against the wire-format test servers, driven through the real clients:
// Aurora (RDS) and Route 53 answered by awsfake, two OpenSearch clusters by opensearchfake.
// Only the Mattermost side (posts, node reports, settings, status) is a fake of this package's
// own small interfaces.

const (
	osUser, osPass = "dr-plugin", "os-Secret-pass-77"
	zoneID         = "Z0FAILOVER"
	record         = "chat.example.com"
	eastARN        = "arn:aws:rds:us-east-1:123456789012:cluster:mm-east"
	westARN        = "arn:aws:rds:us-west-2:123456789012:cluster:mm-west"
)

var replicated = []string{"channels", "users", "files", "posts_2026_01_01", "posts_2026_01_02"}

type announcer struct {
	mu     sync.Mutex
	onOps  func(string) // called with each ops post, outside the lock
	ops    []string
	direct []string
	teams  map[string]int
}

func (a *announcer) Ops(m string) error {
	a.mu.Lock()
	a.ops = append(a.ops, m)
	hook := a.onOps
	a.mu.Unlock()
	if hook != nil {
		hook(m)
	}
	return nil
}

func (a *announcer) Direct(userID, m string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.direct = append(a.direct, userID+": "+m)
	return nil
}

func (a *announcer) Everyone(_ string, done func(string) bool, mark func(string) error) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, team := range []string{"team-a", "team-b"} {
		n++
		if done(team) {
			continue
		}
		a.teams[team]++
		if err := mark(team); err != nil {
			return n, err
		}
	}
	return n, nil
}

type settings struct {
	mu      sync.Mutex
	primary string
}

func (s *settings) PrimaryRegion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.primary
}

func (s *settings) MakePrimary(_ context.Context, region string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.primary = region
	return nil
}

type nodeSource struct {
	mu      sync.Mutex
	reports []nodes.NodeReport
}

// set makes the scheduler run in region (true) and not elsewhere.
func (n *nodeSource) set(schedulerIn string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.reports = nil
	for _, reg := range []string{"us-east-1", "us-west-2"} {
		n.reports = append(n.reports, nodes.NodeReport{NodeID: "app-" + reg, Hostname: "app-" + reg, Region: reg, RunScheduler: reg == schedulerIn, ReportedAt: time.Now()})
	}
}

func (n *nodeSource) get(context.Context) ([]nodes.NodeReport, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.reports), nil
}

type world struct {
	aws        *awsfake.Server
	east, west *osfake.Cluster
	live       failover.Live
	ann        *announcer
	nodes      *nodeSource
	settings   *settings
	engine     *failover.Engine
}

// newWorld is the primary region us-east-1 (Aurora writer, OpenSearch leader) and the standby
// us-west-2 (Aurora secondary forwarding writes, OpenSearch follower), in sync.
func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{aws: awsfake.New(t), ann: &announcer{teams: map[string]int{}}, nodes: &nodeSource{}, settings: &settings{primary: "us-east-1"}}
	w.aws.PutGlobalCluster(awsfake.GlobalCluster{ID: "mm-global", Members: []awsfake.Member{
		{ARN: eastARN, IsWriter: true, WriteForwarding: awsfake.ForwardingDisabled, Sync: awsfake.SyncConnected},
		{ARN: westARN, WriteForwarding: awsfake.ForwardingEnabled, Sync: awsfake.SyncConnected},
	}})
	w.aws.PutHostedZone(zoneID, "example.com")
	w.east = osfake.New(t, osfake.Options{Name: "east", Username: osUser, Password: osPass})
	w.west = osfake.New(t, osfake.Options{Name: "west", Username: osUser, Password: osPass})
	w.west.Connect("east", w.east)
	w.east.Connect("west", w.west)
	for _, ix := range replicated {
		w.east.CreateIndex(osfake.IndexSpec{Name: ix, Docs: 40})
	}
	ctx := context.Background()
	wc := osClient(t, w.west.URL)
	for _, ix := range []string{"channels", "users", "files"} {
		require.NoError(t, wc.Start(ctx, ix, "east", ix, nil))
	}
	require.NoError(t, wc.AddAutoFollow(ctx, "east", "mattermost-posts", "posts*", nil))
	w.requireFollowing(t, w.west, "east")

	w.live = failover.Live{
		Regions: map[string]failover.RegionSettings{
			"us-east-1": {AuroraCluster: "mm-east", OpenSearchURL: w.east.URL, OpenSearchAlias: "west", DNSValues: []string{"east-lb.example.com"}},
			"us-west-2": {AuroraCluster: "mm-west", OpenSearchURL: w.west.URL, OpenSearchAlias: "east", DNSValues: []string{"west-lb.example.com"}},
		},
		AuroraGlobalID: "mm-global",
		AWS:            failover.AWSSettings{AccessKeyID: awsfake.AccessKeyID, SecretAccessKey: awsfake.SecretAccessKey, Endpoint: w.aws.URL},
		OpenSearch:     failover.OpenSearchSettings{Username: osUser, Password: osPass},
		DNS:            failover.DNSRecord{ZoneID: zoneID, Name: record, Type: "CNAME", TTL: 60},
		AnnounceAll:    true,
		Poll:           5 * time.Millisecond,
		Wait:           20 * time.Second,
	}
	w.engine = &failover.Engine{
		Journal: failover.NewKVJournal(&pluginapi.MemoryStore{}),
		Steps: failover.Steps(failover.Deps{Announce: w.ann, Nodes: w.nodes.get, Settings: w.settings,
			Check: func(context.Context) (status.Report, error) { return status.Report{Verdict: "healthy"}, nil }}),
		Live: func(context.Context) (failover.Live, error) { return w.live, nil },
		Node: "test",
	}
	return w
}

func osClient(t *testing.T, url string) *opensearchccr.Client {
	t.Helper()
	c, err := opensearchccr.New(opensearchccr.Options{Addresses: []string{url}, Username: osUser, Password: osPass})
	require.NoError(t, err)
	return c
}

// requireFollowing checks that every replicated index of c follows alias and is syncing.
func (w *world) requireFollowing(t *testing.T, c *osfake.Cluster, alias string) {
	t.Helper()
	cl := osClient(t, c.URL)
	require.Eventually(t, func() bool {
		for _, ix := range replicated {
			st, err := cl.Status(context.Background(), ix)
			if err != nil || st.Status != opensearchccr.StateSyncing || st.LeaderAlias != alias {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "%s follows %s", c.Name, alias)
}

// requireLeading checks that every replicated index of c is a regular, writable index.
func requireLeading(t *testing.T, c *osfake.Cluster) {
	t.Helper()
	for _, ix := range replicated {
		state, exists := c.FollowerState(ix)
		assert.True(t, exists, "%s exists on %s", ix, c.Name)
		assert.Empty(t, state, "%s on %s is not a follower", ix, c.Name)
	}
	assert.Empty(t, c.AutoFollowRules(), "no auto-follow rule on the leader %s", c.Name)
}

func (w *world) writer(t *testing.T) string {
	t.Helper()
	gc, _, ok := w.aws.GlobalClusterState("mm-global")
	require.True(t, ok)
	for _, m := range gc.Members {
		if m.IsWriter {
			return m.ARN
		}
	}
	return ""
}

func (w *world) member(t *testing.T, arn string) awsfake.Member {
	t.Helper()
	gc, _, _ := w.aws.GlobalClusterState("mm-global")
	for _, m := range gc.Members {
		if m.ARN == arn {
			return m
		}
	}
	t.Fatalf("no member %s", arn)
	return awsfake.Member{}
}

func (w *world) count(action string) int {
	n := 0
	for _, r := range w.aws.Requests() {
		if r.Action == action {
			n++
		}
	}
	return n
}

func (w *world) start(t *testing.T, kind failover.Kind, mode failover.Mode, from, to string, carriedFrom *failover.Run) *failover.Run {
	t.Helper()
	run := failover.NewRun(kind, mode, from, to, "uid", "admin", carriedFrom, time.Now())
	w.engine.Describe(w.live, run)
	created, err := w.engine.Create(context.Background(), run)
	require.NoError(t, err)
	return created
}

func (w *world) run(t *testing.T, id string) *failover.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := w.engine.Run(ctx, id)
	require.NoError(t, err)
	return got
}

func stepDetails(r *failover.Run) string {
	var b strings.Builder
	for _, s := range r.Steps {
		b.WriteString(s.Name + " " + string(s.State) + ": " + s.Detail + s.Error + "\n")
	}
	return b.String()
}

// A planned switchover: the switchover takes several polls, write forwarding flips to the old
// writer, the old region's new followers bootstrap before they sync, the scheduler step waits
// until the nodes report the right values, Route 53 is PENDING then INSYNC. Then the failback
// puts everything back.
func TestRunbookSwitchoverAndFailback(t *testing.T) {
	w := newWorld(t)
	w.aws.Steps = 4
	w.east.BootstrapPolls = 3
	w.nodes.set("us-east-1") // the nodes still run the scheduler in the old region

	run := w.start(t, failover.KindFailover, failover.Switchover, "us-east-1", "us-west-2", nil)
	for _, s := range run.Steps {
		assert.NotEmpty(t, s.Calls, "the plan says what %s calls", s.Name)
		assert.NotContains(t, s.Calls, osPass)
	}
	assert.Contains(t, run.Step(failover.KindDatabase).Calls, "SwitchoverGlobalCluster")

	got := w.run(t, run.ID)
	require.Equal(t, failover.RunWaiting, got.State, stepDetails(got))
	sched := got.Step(failover.KindScheduler)
	assert.Equal(t, failover.StepWaiting, sched.State)
	assert.Contains(t, sched.Next, "RunScheduler=true")
	assert.Contains(t, sched.Next, "app-us-east-1")

	// The database moved, once, and the old writer forwards writes now.
	assert.Equal(t, westARN, w.writer(t))
	assert.Equal(t, 1, w.count("SwitchoverGlobalCluster"))
	assert.Zero(t, w.count("FailoverGlobalCluster"))
	assert.Equal(t, awsfake.ForwardingEnabled, w.member(t, eastARN).WriteForwarding, "write forwarding flipped to the old writer")
	db := got.Step(failover.KindDatabase)
	assert.Contains(t, db.Detail, "mm-west is the writer")
	assert.Contains(t, db.Detail, "forwards writes again")
	assert.Contains(t, db.Undo, "/dr failback")
	// OpenSearch is reversed: west leads, east follows (after bootstrapping).
	requireLeading(t, w.west)
	w.requireFollowing(t, w.east, "west")
	assert.Equal(t, []string{"west/mattermost-posts posts*"}, w.east.AutoFollowRules())
	assert.Contains(t, got.Step(failover.KindOpenSearchFollow).Detail, "5 indices SYNCING")
	// Nothing after the waiting step ran.
	_, ok := w.aws.RecordSet(zoneID, record, "CNAME")
	assert.False(t, ok, "DNS is not touched before the scheduler step is done")

	// The nodes are restarted with the right settings: resuming finds them right.
	w.nodes.set("us-west-2")
	got = w.run(t, run.ID)
	require.Equal(t, failover.RunCompleted, got.State, stepDetails(got))
	assert.False(t, got.Step(failover.KindScheduler).Confirmed)
	rs, ok := w.aws.RecordSet(zoneID, record, "CNAME")
	require.True(t, ok)
	assert.Equal(t, []string{"west-lb.example.com"}, rs.Values)
	assert.Equal(t, "us-west-2", w.settings.PrimaryRegion())
	assert.Equal(t, failover.StepManual, got.Step(failover.KindRoll).State)
	assert.Contains(t, got.Step(failover.KindFinal).Detail, "healthy")
	assert.Len(t, w.ann.ops, 1)
	assert.Equal(t, map[string]int{"team-a": 1, "team-b": 1}, w.ann.teams)
	summary := failover.SummaryMarkdown(got, time.Now())
	assert.Contains(t, summary, "completed")
	assert.Contains(t, summary, "Still to do by hand")
	for _, s := range got.Steps {
		assert.Contains(t, summary, s.Title)
		assert.NotNil(t, s.FinishedAt, s.Name)
	}
	assert.Empty(t, got.Deferred())

	// Failback: everything back to us-east-1.
	w.nodes.set("us-east-1")
	w.west.BootstrapPolls = 2
	back := w.start(t, failover.KindFailback, failover.Switchover, "us-west-2", "us-east-1", got)
	got = w.run(t, back.ID)
	require.Equal(t, failover.RunCompleted, got.State, stepDetails(got))
	assert.Equal(t, eastARN, w.writer(t))
	assert.Equal(t, 2, w.count("SwitchoverGlobalCluster"))
	assert.Equal(t, awsfake.ForwardingEnabled, w.member(t, westARN).WriteForwarding)
	requireLeading(t, w.east)
	w.requireFollowing(t, w.west, "east")
	rs, _ = w.aws.RecordSet(zoneID, record, "CNAME")
	assert.Equal(t, []string{"east-lb.example.com"}, rs.Values)
	assert.Equal(t, "us-east-1", w.settings.PrimaryRegion())
}

// A step that fails mid-way stops the runbook with its error and what to do; resuming retries
// it and does not repeat what was done before it.
func TestRunbookStepFailsThenResumes(t *testing.T) {
	w := newWorld(t)
	w.nodes.set("us-west-2")
	w.aws.Inject(awsfake.Fault{Service: awsfake.ServiceRoute53, Action: "ChangeResourceRecordSets", Kind: awsfake.FaultAccessDenied, Count: 1})
	run := w.start(t, failover.KindFailover, failover.Switchover, "us-east-1", "us-west-2", nil)
	got := w.run(t, run.ID)
	require.Equal(t, failover.RunFailed, got.State, stepDetails(got))
	dns := got.Step(failover.KindDNS)
	assert.Equal(t, failover.StepFailed, dns.State)
	assert.Contains(t, dns.Error, "AccessDenied")
	assert.Contains(t, dns.Next, "route53:ChangeResourceRecordSets")
	assert.Equal(t, failover.StepPending, got.Step(failover.KindRoll).State)
	assert.Contains(t, failover.SummaryMarkdown(got, time.Now()), "What to do:")
	assert.NotContains(t, failover.SummaryMarkdown(got, time.Now()), awsfake.SecretAccessKey)

	got = w.run(t, run.ID)
	require.Equal(t, failover.RunCompleted, got.State, stepDetails(got))
	assert.Equal(t, 1, w.count("SwitchoverGlobalCluster"), "the database step did not run again")
	assert.Equal(t, 2, w.count("ChangeResourceRecordSets"), "one refused, one accepted")
	assert.Len(t, w.ann.ops, 1, "the announcement was not posted again")
	assert.Equal(t, 2, got.Step(failover.KindDNS).Attempts)
}

// The node dies (kill -9: nothing after the failpoint runs) at each point where an effect has
// happened but the journal does not say the step is done; resuming completes the runbook
// without repeating the effect.
func TestRunbookCrashAndResume(t *testing.T) {
	for _, fp := range []string{
		"failover.database.requested", "failover.after-database",
		"failover.opensearch.deleted", "failover.after-opensearch-follow",
		"failover.dns.requested", "failover.after-dns", "failover.after-announce",
	} {
		t.Run(fp, func(t *testing.T) {
			w := newWorld(t)
			w.nodes.set("us-west-2")
			run := w.start(t, failover.KindFailover, failover.Switchover, "us-east-1", "us-west-2", nil)
			w.engine.Hit = func(name string) {
				if name == fp {
					runtime.Goexit()
				}
			}
			crashed := make(chan struct{})
			go func() {
				defer close(crashed)
				_, _ = w.engine.Run(context.Background(), run.ID)
				t.Errorf("the runbook did not reach %s", fp)
			}()
			<-crashed
			j, err := w.engine.Journal.Load(context.Background())
			require.NoError(t, err)
			require.NotNil(t, j.Current())
			assert.Equal(t, failover.StepRunning, j.Current().State, "the journal shows the step as running")

			w.engine.Hit = nil
			got := w.run(t, run.ID)
			require.Equal(t, failover.RunCompleted, got.State, stepDetails(got))
			assert.Equal(t, 1, w.count("SwitchoverGlobalCluster"), "one switchover")
			assert.Equal(t, 1, w.count("ChangeResourceRecordSets"), "one DNS change")
			assert.Len(t, w.ann.ops, 1, "one announcement")
			assert.Equal(t, map[string]int{"team-a": 1, "team-b": 1}, w.ann.teams)
			assert.Equal(t, westARN, w.writer(t))
			requireLeading(t, w.west)
			w.requireFollowing(t, w.east, "west")
			rs, _ := w.aws.RecordSet(zoneID, record, "CNAME")
			assert.Equal(t, []string{"west-lb.example.com"}, rs.Values)
		})
	}
}

// The primary region is down (its OpenSearch answers 503): failover mode uses Aurora's failover
// with data loss allowed, the old region's OpenSearch step is deferred and the runbook goes on;
// the failback, once the region is back, runs the deferred step first and then moves back.
func TestRunbookRegionDownThenFailback(t *testing.T) {
	w := newWorld(t)
	w.nodes.set("us-west-2")
	w.east.Inject(osfake.Fault{Kind: osfake.FaultServer, Status: 503})
	run := w.start(t, failover.KindFailover, failover.Failover, "us-east-1", "us-west-2", nil)
	assert.Contains(t, run.Step(failover.KindDatabase).Calls, "AllowDataLoss=true")
	got := w.run(t, run.ID)
	require.Equal(t, failover.RunCompleted, got.State, stepDetails(got))
	assert.Equal(t, 1, w.count("FailoverGlobalCluster"))
	assert.Zero(t, w.count("SwitchoverGlobalCluster"))
	assert.Equal(t, westARN, w.writer(t))
	assert.Equal(t, "failover", got.Step(failover.KindDatabase).Data["requested"])
	follow := got.Step(failover.KindOpenSearchFollow)
	assert.Equal(t, failover.StepDeferred, follow.State)
	assert.Contains(t, follow.Detail, "deferred to `/dr failback`")
	requireLeading(t, w.west)
	require.Len(t, got.Deferred(), 1)
	summary := failover.SummaryMarkdown(got, time.Now())
	assert.Contains(t, summary, "Deferred to `/dr failback`")

	// The region is back; its Aurora cluster resynchronises (the fake moves on with polls).
	w.east.ClearFaults()
	w.nodes.set("us-east-1")
	back := w.start(t, failover.KindFailback, failover.Switchover, "us-west-2", "us-east-1", got)
	assert.Equal(t, "deferred-"+failover.KindOpenSearchFollow, back.Steps[1].Name, "the deferred step runs first")
	got = w.run(t, back.ID)
	require.Equal(t, failover.RunCompleted, got.State, stepDetails(got))
	carried := got.Step("deferred-" + failover.KindOpenSearchFollow)
	assert.Equal(t, failover.StepDone, carried.State)
	assert.Contains(t, carried.Detail, "us-east-1 follows us-west-2")
	assert.Equal(t, eastARN, w.writer(t))
	assert.Equal(t, 1, w.count("SwitchoverGlobalCluster"))
	requireLeading(t, w.east)
	w.requireFollowing(t, w.west, "east")
	assert.Empty(t, got.Deferred())
	assert.Equal(t, "us-east-1", w.settings.PrimaryRegion())
}

// Failover mode with the old region up does the whole reversal; switchover mode with the old
// region down fails the step instead of deferring it.
func TestRunbookOldOpenSearchDown(t *testing.T) {
	for _, tc := range []struct {
		mode  failover.Mode
		down  bool
		state failover.StepState
	}{
		{failover.Failover, false, failover.StepDone},
		{failover.Failover, true, failover.StepDeferred},
		{failover.Switchover, true, failover.StepFailed},
	} {
		t.Run(string(tc.mode)+map[bool]string{true: " old region down", false: " old region up"}[tc.down], func(t *testing.T) {
			w := newWorld(t)
			w.nodes.set("us-west-2")
			if tc.down {
				w.east.Inject(osfake.Fault{PathPrefix: "/_cat", Kind: osfake.FaultServer, Status: 503})
			}
			run := w.start(t, failover.KindFailover, tc.mode, "us-east-1", "us-west-2", nil)
			got := w.run(t, run.ID)
			assert.Equal(t, tc.state, got.Step(failover.KindOpenSearchFollow).State, stepDetails(got))
		})
	}
}

// Without any database replication configured, the database step waits for a person.
func TestRunbookDatabaseByHand(t *testing.T) {
	w := newWorld(t)
	w.nodes.set("us-west-2")
	w.live.AuroraGlobalID = ""
	run := w.start(t, failover.KindFailover, failover.Switchover, "us-east-1", "us-west-2", nil)
	got := w.run(t, run.ID)
	require.Equal(t, failover.RunWaiting, got.State)
	assert.Contains(t, got.Step(failover.KindDatabase).Next, "promote the database of us-west-2 by hand")
	assert.Equal(t, failover.StepPending, got.Step(failover.KindOpenSearchPromote).State, "nothing after it runs")
	_, err := w.engine.Confirm(context.Background(), "alice")
	require.NoError(t, err)
	got = w.run(t, run.ID)
	require.Equal(t, failover.RunCompleted, got.State, stepDetails(got))
	assert.Contains(t, got.Step(failover.KindDatabase).Detail, "confirmed by @alice")
	assert.Zero(t, w.count("SwitchoverGlobalCluster"))
}
