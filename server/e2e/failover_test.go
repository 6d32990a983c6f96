//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	awsfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/aws"
	osfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/opensearch"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/opensearchccr"
)

// The guided failover through the plugin on the real server: RDS, Route 53 and two OpenSearch
// clusters answered by the wire-format test servers, the runbook journaled in the real KV store,
// the bot's posts in the real ops channel, a kill -9 of the plugin mid-runbook, and the
// self-hosted variant on a real PostgreSQL primary and streaming standby.

const (
	foUser, foPass = "dr-failover", "os-Failover-Secret-8"
	foZone         = "Z0E2EFAILOVER"
	foRecord       = "chat.example.com"
	foEastARN      = "arn:aws:rds:us-east-1:123456789012:cluster:mm-east"
	foWestARN      = "arn:aws:rds:us-west-2:123456789012:cluster:mm-west"
)

var foIndices = []string{"channels", "users", "files", "posts_2026_11_25", "posts_2026_11_26"}

// foWorld is the two regions of one test.
type foWorld struct {
	env        *harness.Env
	aws        *awsfake.Server
	east, west *osfake.Cluster
}

// foSettings are every setting the failover tests change, at their defaults.
var foSettings = map[string]any{
	"drtopology": "single", "drprimaryregion": "", "drsecondaryregion": "", "drthisregion": "",
	"drauroraglobalclusterid": "", "drauroraprimarycluster": "", "draurorasecondarycluster": "",
	"drawsaccesskeyid": "", "drawssecretaccesskey": "", "drawsendpoint": "",
	"dropensearchprimaryurl": "", "dropensearchsecondaryurl": "", "dropensearchusername": "", "dropensearchpassword": "",
	"dropensearchleaderalias": "", "dropensearchreverseleaderalias": "", "drpostgresstandbydatasource": "",
	"drroute53zoneid": "", "drroute53recordname": "", "drroute53recordtype": "CNAME", "drroute53primaryvalue": "", "drroute53secondaryvalue": "",
	"drfailoverannounceall": false, "drfailoverpollinterval": "5s",
}

// newFoWorld starts the fakes (us-east-1 leads, us-west-2 follows, in sync), points the plugin
// at them, and makes sure a verified backup exists. Cleanup puts the settings back and ends
// any runbook left active.
func newFoWorld(ctx context.Context, t *testing.T) *foWorld {
	env := harness.Require(t)
	w := &foWorld{env: env, aws: awsfake.New(t)}
	w.aws.PutGlobalCluster(awsfake.GlobalCluster{ID: "mm-global", Members: []awsfake.Member{
		{ARN: foEastARN, IsWriter: true, WriteForwarding: awsfake.ForwardingDisabled, Sync: awsfake.SyncConnected},
		{ARN: foWestARN, WriteForwarding: awsfake.ForwardingEnabled, Sync: awsfake.SyncConnected},
	}})
	w.putLag()
	w.aws.PutHostedZone(foZone, "example.com")
	w.east = osfake.New(t, osfake.Options{Name: "east", Username: foUser, Password: foPass})
	w.west = osfake.New(t, osfake.Options{Name: "west", Username: foUser, Password: foPass})
	w.west.Connect("east", w.east)
	w.east.Connect("west", w.west)
	for _, ix := range foIndices {
		w.east.CreateIndex(osfake.IndexSpec{Name: ix, Docs: 30})
	}
	wc := w.client(t, w.west)
	for _, ix := range []string{"channels", "users", "files"} {
		require.NoError(t, wc.Start(ctx, ix, "east", ix, nil))
	}
	require.NoError(t, wc.AddAutoFollow(ctx, "east", "mattermost-posts", "posts*", nil))
	w.requireFollowing(ctx, t, w.west, "east")

	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = env.Command(ctx, env.Admin, "", "/dr failover abort")
		_ = env.SetFailpoints()
		_ = env.PatchPluginSettings(ctx, foSettings)
	})
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{
		"drtopology": "two_regions", "drprimaryregion": "us-east-1", "drsecondaryregion": "us-west-2", "drthisregion": "us-east-1",
		"drauroraglobalclusterid": "mm-global", "drauroraprimarycluster": "mm-east", "draurorasecondarycluster": "mm-west",
		"drawsaccesskeyid": awsfake.AccessKeyID, "drawssecretaccesskey": awsfake.SecretAccessKey, "drawsendpoint": w.aws.URL,
		"dropensearchprimaryurl": w.east.URL, "dropensearchsecondaryurl": w.west.URL, "dropensearchusername": foUser, "dropensearchpassword": foPass,
		"dropensearchleaderalias": "east", "dropensearchreverseleaderalias": "west",
		"drroute53zoneid": foZone, "drroute53recordname": foRecord, "drroute53recordtype": "CNAME",
		"drroute53primaryvalue": "east-lb.example.com", "drroute53secondaryvalue": "west-lb.example.com",
		"drfailoverannounceall": true, "drfailoverpollinterval": "200ms",
	}))
	ensureVerifiedBackup(ctx, t, env)
	return w
}

// putLag publishes a small lag for both clusters: whichever is the secondary has metrics.
func (w *foWorld) putLag() {
	w.aws.ClearMetrics()
	w.aws.PutAuroraLag("us-west-2", "mm-west", 400*time.Millisecond, 100*time.Millisecond, 10*time.Second)
	w.aws.PutAuroraLag("us-east-1", "mm-east", 400*time.Millisecond, 100*time.Millisecond, 10*time.Second)
}

var verifiedOnce sync.Once

// ensureVerifiedBackup takes and verifies a config-only backup once: the preflight wants a
// fresh verified backup.
func ensureVerifiedBackup(ctx context.Context, t *testing.T, env *harness.Env) {
	verifiedOnce.Do(func() {
		runBackup(ctx, t, env, "--only config")
		result := runVerify(ctx, t, env, "latest")
		require.Contains(t, result, "verified", result)
	})
}

func (w *foWorld) client(t *testing.T, c *osfake.Cluster) *opensearchccr.Client {
	cl, err := opensearchccr.New(opensearchccr.Options{Addresses: []string{c.URL}, Username: foUser, Password: foPass})
	require.NoError(t, err)
	return cl
}

func (w *foWorld) requireFollowing(ctx context.Context, t *testing.T, c *osfake.Cluster, alias string) {
	t.Helper()
	cl := w.client(t, c)
	require.Eventually(t, func() bool {
		for _, ix := range foIndices {
			st, err := cl.Status(ctx, ix)
			if err != nil || st.Status != opensearchccr.StateSyncing || st.LeaderAlias != alias {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "%s follows %s", c.Name, alias)
}

func foRequireLeading(t *testing.T, c *osfake.Cluster) {
	t.Helper()
	for _, ix := range foIndices {
		state, exists := c.FollowerState(ix)
		assert.True(t, exists, "%s exists on %s", ix, c.Name)
		assert.Empty(t, state, "%s on %s is writable", ix, c.Name)
	}
	assert.Empty(t, c.AutoFollowRules(), "no auto-follow rule on %s", c.Name)
}

func (w *foWorld) writer(t *testing.T) string {
	gc, _, ok := w.aws.GlobalClusterState("mm-global")
	require.True(t, ok)
	for _, m := range gc.Members {
		if m.IsWriter {
			return m.ARN
		}
	}
	return ""
}

func (w *foWorld) count(action string) int {
	n := 0
	for _, r := range w.aws.Requests() {
		if r.Action == action {
			n++
		}
	}
	return n
}

func (w *foWorld) dnsValues() []string {
	rs, _ := w.aws.RecordSet(foZone, foRecord, "CNAME")
	return rs.Values
}

// foRun is what GET /api/v1/failover answers.
type foRun struct {
	Run *struct {
		ID    string `json:"id"`
		Kind  string `json:"kind"`
		Mode  string `json:"mode"`
		From  string `json:"from"`
		To    string `json:"to"`
		State string `json:"state"`
		Steps []struct {
			Name       string            `json:"name"`
			State      string            `json:"state"`
			Detail     string            `json:"detail"`
			Error      string            `json:"error"`
			Next       string            `json:"next"`
			Attempts   int               `json:"attempts"`
			DurationMS int64             `json:"duration_ms"`
			Data       map[string]string `json:"data"`
		} `json:"steps"`
	} `json:"run"`
	Running bool `json:"running"`
}

func (r foRun) step(name string) (state, detail string) {
	for _, s := range r.Run.Steps {
		if s.Name == name {
			return s.State, s.Detail + s.Error + s.Next
		}
	}
	return "", ""
}

func getFailover(ctx context.Context, t *testing.T, env *harness.Env) foRun {
	t.Helper()
	code, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/failover", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, string(body))
	var r foRun
	require.NoError(t, json.Unmarshal(body, &r))
	return r
}

// waitRunState waits until the current runbook is in one of states (and no step runs).
func waitRunState(ctx context.Context, t *testing.T, env *harness.Env, states ...string) foRun {
	t.Helper()
	var last foRun
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		last = getFailover(ctx, t, env)
		if last.Run != nil {
			for _, s := range states {
				if last.Run.State == s && (s != "running" || !last.Running) {
					return last
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	b, _ := json.MarshalIndent(last, "", "  ")
	t.Fatalf("the runbook did not reach %v: %s\n%s", states, b, env.MM.LogTail(20))
	return last
}

// A planned switchover to us-west-2 and the failback, through the commands and the REST API:
// the plan changes nothing; the runbook waits for the nodes; a step fails mid-way (Route 53
// refuses) and resumes; everything is checked on the test servers and in the journal.
func TestFailoverSwitchoverAndFailback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	w := newFoWorld(ctx, t)
	env := w.env

	plan := cmd(ctx, t, env, "/dr failover plan --to us-west-2")
	assert.Contains(t, plan, "Failover plan: us-east-1 → us-west-2 (switchover)")
	for _, want := range []string{"SwitchoverGlobalCluster", "_autofollow", "UPSERT chat.example.com CNAME → west-lb.example.com", "RunScheduler=true", "Nothing was changed", "--confirm`"} {
		assert.Contains(t, plan, want)
	}
	assert.NotContains(t, plan, ":x:", "every preflight check passes: %s", plan)
	assert.NotContains(t, plan, foPass)
	assert.NotContains(t, plan, awsfake.SecretAccessKey)
	assert.Contains(t, cmd(ctx, t, env, "/dr failover start --to us-west-2 --mode switchover"), "Nothing was changed", "without --confirm only the plan")
	assert.Contains(t, cmd(ctx, t, env, "/dr failover start --to us-east-1 --mode switchover --confirm"), "primary region already")
	assert.Zero(t, w.count("SwitchoverGlobalCluster"), "planning changed nothing")

	code, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/failover/plan?to=us-west-2&mode=switchover", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, string(body))
	var planJSON struct {
		Blocked bool `json:"blocked"`
		Run     struct {
			Steps []struct{ Name, Calls string } `json:"steps"`
		} `json:"run"`
	}
	require.NoError(t, json.Unmarshal(body, &planJSON))
	assert.False(t, planJSON.Blocked)
	assert.Len(t, planJSON.Run.Steps, 9)

	// Route 53 refuses the first change: the DNS step fails mid-way.
	w.aws.Inject(awsfake.Fault{Service: awsfake.ServiceRoute53, Action: "ChangeResourceRecordSets", Kind: awsfake.FaultAccessDenied, Count: 1})
	since := model.GetMillis()
	text := cmd(ctx, t, env, "/dr failover start --to us-west-2 --mode switchover --confirm")
	require.Contains(t, text, "started", text)
	_, err = env.WaitBotPost(ctx, env.TownSquare(ctx), since, "has started", time.Minute)
	require.NoError(t, err, "announced to every team")

	// The job scheduler: the only node is in us-east-1 and runs it, so the step waits.
	r := waitRunState(ctx, t, env, "waiting")
	state, detail := r.step("scheduler")
	assert.Equal(t, "waiting", state)
	assert.Contains(t, detail, "RunScheduler=true")
	status := cmd(ctx, t, env, "/dr failover status")
	assert.Contains(t, status, "waits for you")
	assert.Contains(t, cmd(ctx, t, env, "/dr failover start --to us-west-2 --mode switchover --confirm"), "waiting", "one runbook at a time")
	assert.Equal(t, foWestARN, w.writer(t), "the database moved before")
	assert.Equal(t, 1, w.count("SwitchoverGlobalCluster"))
	foRequireLeading(t, w.west)
	w.requireFollowing(ctx, t, w.east, "west")
	assert.Empty(t, w.dnsValues(), "DNS waits for the scheduler step")

	// The node "moves" to us-west-2 (its region setting), as a rolled node would: resuming finds
	// the scheduler where it should be, and goes on to DNS, which fails.
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"drthisregion": "us-west-2"}))
	since = model.GetMillis()
	assert.Contains(t, cmd(ctx, t, env, "/dr failover resume"), "resumes")
	r = waitRunState(ctx, t, env, "failed")
	state, detail = r.step("dns")
	assert.Equal(t, "failed", state)
	assert.Contains(t, detail, "route53:ChangeResourceRecordSets")
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "stopped", time.Minute)
	require.NoError(t, err)
	assert.Contains(t, post.Message, "What to do:")
	assert.Contains(t, cmd(ctx, t, env, "/dr failover status"), "failed")

	since = model.GetMillis()
	code, body, err = env.PluginRequest(ctx, env.Admin, http.MethodPost, "/api/v1/failover/resume", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, code, string(body))
	r = waitRunState(ctx, t, env, "completed")
	post, err = env.WaitBotPost(ctx, env.OpsChannel.Id, since, "completed", time.Minute)
	require.NoError(t, err)
	for _, want := range []string{"| took |", "Database: make the new region the writer", "Still to do by hand", "Roll the app nodes"} {
		assert.Contains(t, post.Message, want)
	}
	assert.Equal(t, 1, w.count("SwitchoverGlobalCluster"), "resuming did not switch over again")
	assert.Equal(t, 2, w.count("ChangeResourceRecordSets"), "one refused, one accepted")
	assert.Equal(t, []string{"west-lb.example.com"}, w.dnsValues())
	gc, _, _ := w.aws.GlobalClusterState("mm-global")
	for _, m := range gc.Members {
		if m.ARN == foEastARN {
			assert.Equal(t, awsfake.ForwardingEnabled, m.WriteForwarding, "write forwarding flipped to the old writer")
		}
	}
	for _, s := range r.Run.Steps {
		assert.Contains(t, []string{"done", "manual"}, s.State, s.Name)
		assert.GreaterOrEqual(t, s.Attempts, 1, s.Name)
	}
	// The plugin's settings now name us-west-2 the primary, with its resources.
	cfg, _, err := env.Admin.Client.GetConfig(ctx)
	require.NoError(t, err)
	ps := cfg.PluginSettings.Plugins[harness.PluginID]
	assert.Equal(t, "us-west-2", ps["drprimaryregion"])
	assert.Equal(t, "mm-west", ps["drauroraprimarycluster"])
	assert.Equal(t, w.west.URL, ps["dropensearchprimaryurl"])
	assert.Equal(t, "west", ps["dropensearchleaderalias"], "the follower (now us-east-1) reaches us-west-2 as west")
	// Every step is in the audit trail.
	audit := cmd(ctx, t, env, "/dr audit --action failover. --limit 100")
	for _, want := range []string{"failover.start", "failover.step", "failover.wait", "failover.fail", "failover.resume", "failover.complete", "/dns"} {
		assert.Contains(t, audit, want)
	}
	assert.NotContains(t, audit, foPass)

	// Failback, once the old region is healthy again.
	w.putLag()
	assert.Contains(t, cmd(ctx, t, env, "/dr failback"), "Failback plan: us-west-2 → us-east-1")
	text = cmd(ctx, t, env, "/dr failback --confirm")
	require.Contains(t, text, "started", text)
	waitRunState(ctx, t, env, "waiting")
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"drthisregion": "us-east-1"}))
	cmd(ctx, t, env, "/dr failover resume")
	r = waitRunState(ctx, t, env, "completed")
	assert.Equal(t, "failback", r.Run.Kind)
	assert.Equal(t, foEastARN, w.writer(t))
	assert.Equal(t, 2, w.count("SwitchoverGlobalCluster"))
	foRequireLeading(t, w.east)
	w.requireFollowing(ctx, t, w.west, "east")
	assert.Equal(t, []string{"east-lb.example.com"}, w.dnsValues())
	cfg, _, err = env.Admin.Client.GetConfig(ctx)
	require.NoError(t, err)
	assert.Equal(t, "us-east-1", cfg.PluginSettings.Plugins[harness.PluginID]["drprimaryregion"])
	assert.Contains(t, cmd(ctx, t, env, "/dr failback"), "nothing to fail back")
}

// kill -9 of the plugin mid-runbook, twice (right after RDS accepted the switchover, and right
// after Route 53 accepted the change, before the journal said so): resuming completes the
// runbook and neither effect happens twice. Then a failback is aborted while it waits, and the
// abort says what was done and how to undo it; `/dr failback` undoes it.
func TestFailoverCrashResumeAndAbort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	w := newFoWorld(ctx, t)
	env := w.env

	kill := func(fp string, line string) {
		t.Helper()
		require.NoError(t, env.SetFailpoints(fp))
		pid := pluginPID(t, env)
		_, _ = env.Command(ctx, env.Admin, "", line) // may not answer: the process dies
		require.Eventually(t, func() bool { return !processAlive(pid) }, time.Minute, 100*time.Millisecond, "the plugin died at %s", fp)
		require.NoError(t, env.SetFailpoints())
		waitPluginBack(ctx, t, env)
	}
	kill("failover.database.requested", "/dr failover start --to us-west-2 --mode switchover --confirm")
	r := getFailover(ctx, t, env)
	require.NotNil(t, r.Run)
	state, _ := r.step("database")
	assert.Equal(t, "running", state, "the journal shows the step that was running")
	assert.Equal(t, "running", r.Run.State)
	assert.False(t, r.Running, "no node runs it")
	assert.Contains(t, cmd(ctx, t, env, "/dr failover status"), "interrupted")
	assert.Equal(t, 1, w.count("SwitchoverGlobalCluster"))

	cmd(ctx, t, env, "/dr failover resume")
	waitRunState(ctx, t, env, "waiting") // the scheduler step
	kill("failover.after-dns", "/dr failover confirm")
	r = getFailover(ctx, t, env)
	state, _ = r.step("dns")
	assert.Equal(t, "running", state)
	assert.Equal(t, []string{"west-lb.example.com"}, w.dnsValues(), "the change was made before the kill")

	since := model.GetMillis()
	cmd(ctx, t, env, "/dr failover resume")
	r = waitRunState(ctx, t, env, "completed")
	_, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "completed", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, 1, w.count("SwitchoverGlobalCluster"), "one switchover in all")
	assert.Equal(t, 1, w.count("ChangeResourceRecordSets"), "one DNS change in all")
	assert.Equal(t, foWestARN, w.writer(t))
	state, detail := r.step("scheduler")
	assert.Equal(t, "done", state)
	assert.Contains(t, detail, "confirmed by @"+env.Admin.Username)
	foRequireLeading(t, w.west)
	w.requireFollowing(ctx, t, w.east, "west")
	posts, err := env.BotPosts(ctx, env.OpsChannel.Id, 0)
	require.NoError(t, err)
	announced := 0
	for _, p := range posts {
		if strings.Contains(p.Message, "has started") && strings.Contains(p.Message, r.Run.ID) {
			announced++
		}
	}
	assert.Equal(t, 1, announced, "the announcement was not repeated by the resumes")

	// The failback waits for the nodes of us-east-1 (the node says it is in us-west-2 now):
	// abort it there.
	w.putLag()
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"drthisregion": "us-west-2"}))
	require.Contains(t, cmd(ctx, t, env, "/dr failback --confirm"), "started")
	waitRunState(ctx, t, env, "waiting")
	assert.Equal(t, foEastARN, w.writer(t), "the failback moved the database back")
	text := cmd(ctx, t, env, "/dr failover abort")
	for _, want := range []string{"aborted** by @" + env.Admin.Username, "**Done** (and how to undo it)", "undo:", "Database: make the new region the writer", "**Not run:**", "DNS: point users at the new region", "`/dr failback`"} {
		assert.Contains(t, text, want)
	}
	r = getFailover(ctx, t, env)
	assert.Equal(t, "aborted", r.Run.State)
	assert.Contains(t, cmd(ctx, t, env, "/dr failover resume"), "aborted", "an aborted runbook does not resume")
	assert.Contains(t, cmd(ctx, t, env, "/dr audit --action failover.abort"), "failover.abort")

	// Undo: the failback of the aborted failback moves back to us-west-2. Its preflight fails
	// (the database's writer is not the configured primary, half-way as it is), hence --force.
	blocked := cmd(ctx, t, env, "/dr failback --confirm")
	assert.Contains(t, blocked, "preflight checks fail")
	require.Contains(t, cmd(ctx, t, env, "/dr failback --confirm --force"), "started")
	r = waitRunState(ctx, t, env, "completed")
	assert.Equal(t, "us-east-1", r.Run.From)
	assert.Equal(t, foWestARN, w.writer(t))
	foRequireLeading(t, w.west)
	w.requireFollowing(ctx, t, w.east, "west")
	assert.Equal(t, []string{"west-lb.example.com"}, w.dnsValues())
}

// Region down: us-east-1's OpenSearch does not answer. Failover mode fails the database over
// with data loss allowed, defers the OpenSearch reversal there and completes; once the region is
// back, the failback runs the deferred step first and moves everything back.
func TestFailoverRegionDownThenFailback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	w := newFoWorld(ctx, t)
	env := w.env
	w.east.Inject(osfake.Fault{Kind: osfake.FaultServer, Status: 503})
	// Only us-west-2's nodes run (the node says it is there, running the scheduler).
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"drthisregion": "us-west-2"}))

	plan := cmd(ctx, t, env, "/dr failover plan --to us-west-2 --mode failover")
	assert.Contains(t, plan, "AllowDataLoss=true")
	assert.Contains(t, plan, ":warning:", "the old region's problems warn")
	assert.NotContains(t, plan, "Fix the failing checks")
	require.Contains(t, cmd(ctx, t, env, "/dr failover start --to us-west-2 --mode failover --confirm"), "started")
	r := waitRunState(ctx, t, env, "completed")
	state, detail := r.step("opensearch-follow")
	assert.Equal(t, "deferred", state)
	assert.Contains(t, detail, "deferred to `/dr failback`")
	assert.Equal(t, 1, w.count("FailoverGlobalCluster"))
	assert.Zero(t, w.count("SwitchoverGlobalCluster"))
	assert.Equal(t, foWestARN, w.writer(t))
	foRequireLeading(t, w.west)
	assert.Contains(t, cmd(ctx, t, env, "/dr failover status"), "deferred")

	// The region is back.
	w.east.ClearFaults()
	w.putLag()
	plan = cmd(ctx, t, env, "/dr failback")
	assert.Contains(t, plan, "(deferred by "+r.Run.ID+")")
	require.Contains(t, cmd(ctx, t, env, "/dr failback --confirm"), "started")
	waitRunState(ctx, t, env, "waiting") // the nodes are in us-west-2
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"drthisregion": "us-east-1"}))
	cmd(ctx, t, env, "/dr failover resume")
	r = waitRunState(ctx, t, env, "completed")
	require.Equal(t, "deferred-opensearch-follow", r.Run.Steps[1].Name, "the deferred step ran first")
	state, detail = r.step("deferred-opensearch-follow")
	assert.Equal(t, "done", state)
	assert.Contains(t, detail, "us-east-1 follows us-west-2")
	assert.Equal(t, foEastARN, w.writer(t))
	assert.Equal(t, 1, w.count("SwitchoverGlobalCluster"))
	foRequireLeading(t, w.east)
	w.requireFollowing(ctx, t, w.west, "east")
	assert.Equal(t, []string{"east-lb.example.com"}, w.dnsValues())
}

// The self-hosted variant: a real streaming standby of Mattermost's own database is promoted
// with pg_promote, then takes writes.
func TestFailoverSelfHostedPostgres(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sb, _ := standbyOf(ctx, t, env, "dr_failover_e2e")
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = env.Command(ctx, env.Admin, "", "/dr failover abort")
		_ = env.PatchPluginSettings(ctx, foSettings)
	})
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{
		"drtopology": "two_regions", "drprimaryregion": "us-east-1", "drsecondaryregion": "us-west-2", "drthisregion": "us-east-1",
		"drpostgresstandbydatasource": sb.URL("mattermost"), "drfailoverpollinterval": "200ms",
	}))
	ensureVerifiedBackup(ctx, t, env)
	standby, err := sb.Open("mattermost")
	require.NoError(t, err)
	defer standby.Close()
	var recovering bool
	require.NoError(t, standby.QueryRowContext(ctx, `SELECT pg_is_in_recovery()`).Scan(&recovering))
	require.True(t, recovering)

	plan := cmd(ctx, t, env, "/dr failover plan --to us-west-2")
	assert.Contains(t, plan, "pg_promote")
	assert.Contains(t, plan, "PostgreSQL streaming replication")
	require.Contains(t, cmd(ctx, t, env, "/dr failover start --to us-west-2 --mode switchover --confirm"), "started")
	waiting := waitRunState(ctx, t, env, "waiting")

	// Confirmed with the button on the bot's post, after a forged copy of it did nothing.
	step := ""
	for _, st := range waiting.Run.Steps {
		if st.State == "waiting" {
			step = st.Name
		}
	}
	require.NotEmpty(t, step)
	control := "failover:" + waiting.Run.ID + "/" + step
	post := controlPost(ctx, t, env, control)
	assert.Equal(t, []string{"confirm", "abort"}, buttons(post))
	square, _, err := env.Member.Client.GetChannelByName(ctx, model.DefaultChannelName, env.Team.Id, "")
	require.NoError(t, err)
	forged := forgedButton(ctx, t, env.Member, square.Id, control, "failover/confirm")
	_, err = env.Admin.Client.DoPostAction(ctx, forged.Id, "confirm")
	require.NoError(t, err)
	assert.Equal(t, "waiting", getFailover(ctx, t, env).Run.State, "a forged button confirms nothing")
	// A confirm for another step than the one that waits (a page left open) is refused.
	for body, want := range map[string]string{
		`{"run":"` + waiting.Run.ID + `","step":"dns"}`: `it is now at "` + step + `"`,
		`{"run":"someotherrun"}`:                        "the current one is `" + waiting.Run.ID + "`",
	} {
		code, out, err := env.PluginRequest(ctx, env.Admin, http.MethodPost, "/api/v1/failover/confirm", strings.NewReader(body))
		require.NoError(t, err)
		assert.Equal(t, http.StatusConflict, code, string(out))
		var e struct{ Error string }
		require.NoError(t, json.Unmarshal(out, &e))
		assert.Contains(t, e.Error, want)
	}
	assert.Equal(t, "waiting", getFailover(ctx, t, env).Run.State, "a confirm for a step nobody saw confirms nothing")
	_, err = env.Admin.Client.DoPostAction(ctx, post.Id, "confirm")
	require.NoError(t, err)
	r := waitRunState(ctx, t, env, "completed")
	updated, _, err := env.Admin.Client.GetPost(ctx, post.Id, "")
	require.NoError(t, err)
	assert.Empty(t, buttons(updated), "a spent button is gone")
	assert.Contains(t, updated.Message, "@"+env.Admin.Username+",")
	state, detail := r.step("database")
	assert.Equal(t, "done", state)
	assert.Contains(t, detail, "promoted")
	require.NoError(t, standby.QueryRowContext(ctx, `SELECT pg_is_in_recovery()`).Scan(&recovering))
	assert.False(t, recovering, "the standby was promoted")
	_, err = standby.ExecContext(ctx, `CREATE TABLE dr_failover_e2e_write (id int); DROP TABLE dr_failover_e2e_write`)
	assert.NoError(t, err, "the promoted server takes writes")
	var users int
	require.NoError(t, standby.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&users))
	assert.Positive(t, users, "it holds Mattermost's data")
	state, detail = r.step("dns")
	assert.Equal(t, "manual", state)
	assert.Contains(t, detail, "127.0.0.1", "the manual DNS step names the site's host")
	state, _ = r.step("opensearch-promote")
	assert.Equal(t, "skipped", state)
}

// The REST routes answer admins with JSON and the right codes.
func TestFailoverREST(t *testing.T) {
	env := harness.Require(t)
	ctx := ctxFor(t)
	code, body, err := env.PluginRequest(ctx, env.Admin, http.MethodPost, "/api/v1/failover/start", strings.NewReader(`{"to":"us-west-2","mode":"switchover"}`))
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, code, string(body))
	assert.Contains(t, string(body), "confirm")
	code, body, err = env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/failover/plan?to=us-west-2&mode=sideways", nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, code, string(body))
	code, body, err = env.PluginRequest(ctx, env.Admin, http.MethodPost, "/api/v1/failover/confirm", nil)
	require.NoError(t, err)
	assert.Contains(t, []int{http.StatusNotFound, http.StatusConflict}, code, "nothing waits: %s", body)
}
