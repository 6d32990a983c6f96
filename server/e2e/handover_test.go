//go:build e2e

package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

// The hand-over (issue #14): drctl promotes the standby with Mattermost down and leaves the
// Mattermost steps to the plugin; the plugin of the new region finds the runbook at its backup
// destination, checks it, adopts it once and finishes it. This test runs the runbook as drctl
// does (failover.Service over the destination's StoreJournal, without Announcer, Settings or
// Nodes) against a real streaming standby of the harness's PostgreSQL.

const hoActor = "ops@e2e-host"

// hoLock is the drctl stand-in's runbook lock: one process, so a mutex. (drctl itself uses
// failover.StoreLock at the destination.)
type hoLock struct {
	mu   sync.Mutex
	beat *failover.Heartbeat
}

func (l *hoLock) Acquire(context.Context, time.Duration) (func(), error) {
	if !l.mu.TryLock() {
		return nil, failover.ErrLocked
	}
	return l.mu.Unlock, nil
}
func (l *hoLock) Beat(_ context.Context, hb failover.Heartbeat) error   { l.beat = &hb; return nil }
func (l *hoLock) LastBeat(context.Context) (*failover.Heartbeat, error) { return l.beat, nil }
func (l *hoLock) ClearBeat(context.Context) error                       { l.beat = nil; return nil }
func (hoRunner) Go(_ string, fn func(context.Context, failover.Job)) error {
	fn(context.Background(), hoJob{})
	return nil
}

type hoRunner struct{}
type hoJob struct{}

func (hoJob) SetProgress(string) {}
func (hoJob) Report(f func())    { f() }

// hoConfig is what drctl reads from the settings document: the regions and the standby.
type hoConfig struct{ standbyDSN string }

func (c hoConfig) Setup(context.Context) (failover.Setup, error) {
	return failover.Setup{Primary: "us-east-1", Standby: "us-west-2"}, nil
}

func (c hoConfig) Live(context.Context) (failover.Live, error) {
	return failover.Live{Regions: map[string]failover.RegionSettings{"us-east-1": {}, "us-west-2": {}},
		Postgres: failover.PostgresSettings{StandbyDSN: c.standbyDSN}, Poll: 200 * time.Millisecond}, nil
}

type hoProbes struct{}

func (hoProbes) Check(context.Context) (status.Report, error) {
	return status.Report{Verdict: "degraded"}, nil
}
func (hoProbes) NewestVerified(context.Context) (time.Time, error) { return time.Now(), nil }

// drctlFailover runs `drctl failover start --to us-west-2 --mode failover --confirm` as drctl
// wires it, journaling at dir.
func drctlFailover(ctx context.Context, t *testing.T, dir, standbyDSN string) *failover.Run {
	t.Helper()
	store, err := local.New(dir)
	require.NoError(t, err)
	j, err := failover.NewStoreJournal(store)
	require.NoError(t, err)
	svc := &failover.Service{Journal: j, Lock: &hoLock{}, Config: hoConfig{standbyDSN}, Prober: hoProbes{}, Backups: hoProbes{},
		Runner: hoRunner{}, Node: "e2e-host", Process: os.Getpid()}
	_, err = svc.Start(ctx, failover.Request{Kind: failover.KindFailover, To: "us-west-2", Mode: failover.Failover, Force: true,
		Actor: failover.Actor{ID: "drctl:" + hoActor, Name: hoActor}})
	require.NoError(t, err)
	run, err := j.Load(ctx)
	require.NoError(t, err)
	require.Equal(t, failover.RunForPlugin, run.State, failover.StatusMarkdown(run, false, time.Now()))
	return run
}

// plantRun writes a runbook at dir as someone with access to the storage could.
func plantRun(ctx context.Context, t *testing.T, dir string, from, to string) *failover.Run {
	t.Helper()
	store, err := local.New(dir)
	require.NoError(t, err)
	j, err := failover.NewStoreJournal(store)
	require.NoError(t, err)
	run := failover.NewRun(failover.KindFailover, failover.Failover, from, to, "drctl:mallory@x", "mallory@x", nil, time.Now())
	run.State = failover.RunForPlugin
	for i := range run.Steps {
		run.Steps[i].State = failover.StepDone
		if k := run.Steps[i].Kind; k == failover.KindSettings || k == failover.KindAnnounce {
			run.Steps[i].State = failover.StepForPlugin
		}
	}
	_, err = j.Update(ctx, func(*failover.Run) (*failover.Run, error) { return run, nil })
	require.NoError(t, err)
	return run
}

func opsPostsSince(ctx context.Context, t *testing.T, env *harness.Env, since int64, text string) int {
	t.Helper()
	posts, err := env.BotPosts(ctx, env.OpsChannel.Id, since)
	require.NoError(t, err)
	n := 0
	for _, p := range posts {
		if strings.Contains(p.Message, text) {
			n++
		}
	}
	return n
}

func TestHandover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := harness.Require(t)
	sb, dir := standbyOf(ctx, t, env, "dr_handover_e2e")
	dest := filepath.Join(dir, "backups")
	require.NoError(t, os.MkdirAll(dest, 0o777))
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = env.Command(ctx, env.Admin, "", "/dr failover abort")
		_ = env.PatchPluginSettings(ctx, foSettings)
		_ = env.PatchPluginSettings(ctx, map[string]any{"backuplocaldirectory": ""})
	})
	// The standby region's Mattermost, now serving: this node is in us-west-2.
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{
		"drtopology": "two_regions", "drprimaryregion": "us-east-1", "drsecondaryregion": "us-west-2", "drthisregion": "us-west-2",
		"drpostgresstandbydatasource": sb.URL("mattermost"), "drfailoverpollinterval": "200ms", "backuplocaldirectory": dest,
	}))

	run := drctlFailover(ctx, t, dest, sb.URL("mattermost"))
	store, err := local.New(dest)
	require.NoError(t, err)
	j, err := failover.NewStoreJournal(store)
	require.NoError(t, err)
	db := run.Step(failover.KindDatabase)
	require.Equal(t, failover.StepDone, db.State, db.Error)
	assert.Equal(t, hoActor, db.Actor)
	standby, err := sb.Open("mattermost")
	require.NoError(t, err)
	defer standby.Close()
	var recovering bool
	require.NoError(t, standby.QueryRowContext(ctx, `SELECT pg_is_in_recovery()`).Scan(&recovering))
	require.False(t, recovering, "drctl's step promoted the standby")

	// The plugin dies right after its adoption mark (kill -9): back up, it finishes the hand-over.
	since := model.GetMillis()
	require.NoError(t, env.SetFailpoints("failover.handover.marked"))
	require.NoError(t, env.RestartPlugin(ctx))
	pid := pluginPID(t, env)
	require.Eventually(t, func() bool { return !processAlive(pid) }, time.Minute, 100*time.Millisecond, "the plugin died after its mark")
	require.NoError(t, env.SetFailpoints())
	marked, err := j.Load(ctx)
	require.NoError(t, err)
	require.NotNil(t, marked.Adopted, "the intent was recorded first")
	assert.False(t, marked.Adopted.Copied)
	waitPluginBack(ctx, t, env)
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, ":handshake: **Failover `"+run.ID+"`", time.Minute)
	require.NoError(t, err, env.MM.LogTail(30))
	assert.Equal(t, 1, opsPostsSince(ctx, t, env, since, ":handshake:"), "posted once")
	for _, want := range []string{"was started by drctl (`" + hoActor + "`)", "**What drctl did:**", "Database: make the new region the writer", "| " + hoActor + " |", "pg_is_in_recovery() is false"} {
		assert.Contains(t, post.Message, want)
	}
	summary, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "`"+run.ID+"` from us-east-1 to us-west-2 completed", 2*time.Minute)
	require.NoError(t, err, env.MM.LogTail(30))
	assert.Contains(t, summary.Message, "Started by drctl (`"+hoActor+"`); adopted by the plugin on node")
	assert.Contains(t, summary.Message, "| "+hoActor+" |")

	r := waitRunState(ctx, t, env, "completed")
	assert.Equal(t, run.ID, r.Run.ID)
	status := cmd(ctx, t, env, "/dr failover status")
	assert.Contains(t, status, "**completed**")
	assert.Contains(t, status, "| by | took |")
	assert.Contains(t, status, "Started by drctl")
	for _, s := range run.Steps {
		assert.Contains(t, status, s.Title)
	}
	assert.Regexp(t, `Database: make the new region the writer \| :white_check_mark: done \| `+hoActor+` \| [0-9.]+m?s \|`, status)
	assert.Regexp(t, `Make the new region the primary in the plugin settings \| :white_check_mark: done \| dr-plugin@[^|]+ \| [0-9.]+m?s \|`, status)

	// The table escapes @ so that it mentions nobody.
	audit := strings.ReplaceAll(cmd(ctx, t, env, "/dr audit --action failover. --limit 100"), `\@`, "@")
	for _, want := range []string{"failover.adopt", "drctl: " + hoActor, run.ID + "/database", "failover.complete"} {
		assert.Contains(t, audit, want)
	}
	cfg, _, err := env.Admin.Client.GetConfig(ctx)
	require.NoError(t, err)
	assert.Equal(t, "us-west-2", cfg.PluginSettings.Plugins[harness.PluginID]["drprimaryregion"], "the settings swap happened")

	// drctl sees the end at the destination.
	require.Eventually(t, func() bool {
		at, err := j.Load(ctx)
		return err == nil && at.State == failover.RunCompleted && at.Adopted != nil
	}, 30*time.Second, 200*time.Millisecond)

	// A second restart adopts, posts and audits nothing.
	since = model.GetMillis()
	auditBefore := strings.Count(cmd(ctx, t, env, "/dr audit --action failover.adopt --limit 100"), "failover.adopt")
	assert.Equal(t, 1, auditBefore, "one adoption, although the plugin died half-way through it")
	require.NoError(t, env.RestartPlugin(ctx))
	time.Sleep(10 * time.Second) // the look runs 3 s after activation
	assert.Equal(t, 0, opsPostsSince(ctx, t, env, since, run.ID), "nothing new about the runbook")
	assert.Equal(t, auditBefore, strings.Count(cmd(ctx, t, env, "/dr audit --action failover.adopt --limit 100"), "failover.adopt"))

	// /dr failback reverses the adopted runbook.
	assert.Contains(t, cmd(ctx, t, env, "/dr failback"), "Failback plan: us-west-2 → us-east-1")

	// Planted runbooks are not adopted, and the ops channel hears why, once.
	for _, tc := range []struct{ from, to, why string }{
		{"us-west-2", "eu-central-1", "moves to eu-central-1, but this node is in us-west-2"},
		{"ap-south-1", "us-west-2", "goes from ap-south-1 to us-west-2"},
	} {
		planted := plantRun(ctx, t, dest, tc.from, tc.to)
		since = model.GetMillis()
		require.NoError(t, env.RestartPlugin(ctx))
		p, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "was not adopted", time.Minute)
		require.NoError(t, err, env.MM.LogTail(30))
		assert.Contains(t, p.Message, planted.ID)
		assert.Contains(t, p.Message, tc.why)
		cur := getFailover(ctx, t, env)
		assert.Equal(t, run.ID, cur.Run.ID, "the plugin's journal still holds the adopted runbook")
		require.NoError(t, env.RestartPlugin(ctx))
		time.Sleep(8 * time.Second)
		assert.Equal(t, 1, opsPostsSince(ctx, t, env, since, "was not adopted"), "posted once")
	}
	if err := os.Remove(filepath.Join(dest, failover.StoreKeyCurrent)); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Logf("remove the planted runbook: %v", err)
	}
}
