//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// regionLoss is a two-region self-hosted deployment: Mattermost A on PostgreSQL primary A in
// us-east-1, a streaming standby in us-west-2, and backups (with the DR settings document) in
// MinIO, which stands for the off-site bucket that survives the region.
type regionLoss struct {
	a     *harness.Env
	sb    *harness.Standby
	minio *harness.MinIO
	build string
	posts []string // ids of the posts written on A
}

const (
	rlBucket  = "dr-region"
	rlPrefix  = "prod"
	rlPrimary = "us-east-1"
	rlStandby = "us-west-2"
)

func newRegionLoss(ctx context.Context, t *testing.T) *regionLoss {
	t.Helper()
	harness.Require(t) // the shared deployment's services are up: the build and the bundle exist
	a, err := harness.Start(ctx, harness.Options{})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	w := &regionLoss{a: a}
	// Under a.Dir (readable by the postgres user), stopped before a.Close removes it.
	w.sb, err = a.PG.StartStandby(ctx, filepath.Join(a.Dir, "standby"), "dr_region_loss")
	require.NoError(t, err)
	t.Cleanup(w.sb.Stop)
	w.minio = harness.RequireMinIO(ctx, t)
	require.NoError(t, w.minio.MakeBucket(ctx, rlBucket))
	w.build, err = harness.ServerBuild(ctx, a.Root)
	require.NoError(t, err)

	require.NoError(t, a.PatchPluginSettings(ctx, map[string]any{
		"backups3bucket": rlBucket, "backups3prefix": rlPrefix, "backups3endpoint": w.minio.Endpoint, "backups3pathstyle": true,
		"backups3accesskeyid": w.minio.AccessKey, "backups3secretaccesskey": w.minio.SecretKey, "backups3region": harness.MinIORegion,
		"drtopology": "two_regions", "drprimaryregion": rlPrimary, "drsecondaryregion": rlStandby, "drthisregion": rlPrimary,
		"drpostgresstandbydatasource": w.sb.URL("mattermost"), "drfailoverpollinterval": "200ms",
	}))
	// A's own backup (ensureVerifiedBackup is the shared deployment's), verified: drctl trusts
	// the settings document because the key that signs these backups signed it.
	runBackup(ctx, t, a, "")
	require.Contains(t, runVerify(ctx, t, a, "latest"), "verified")
	// The document drctl needs is off-site, beside the backups.
	require.Eventually(t, func() bool {
		_, err := w.minio.MC(ctx, "stat", "local/"+rlBucket+"/"+rlPrefix+"/dr-settings.json")
		return err == nil
	}, time.Minute, 500*time.Millisecond, "the plugin writes dr-settings.json to the S3 destination")
	return w
}

// writePosts posts n messages on A and remembers them.
func (w *regionLoss) writePosts(ctx context.Context, t *testing.T, n int) {
	t.Helper()
	for i := range n {
		p, _, err := w.a.Admin.Client.CreatePost(ctx, &model.Post{ChannelId: w.a.OpsChannel.Id, Message: fmt.Sprintf("before the region loss %d", i)})
		require.NoError(t, err)
		w.posts = append(w.posts, p.Id)
	}
}

// waitCaughtUp waits until the standby has replayed everything the primary wrote.
func (w *regionLoss) waitCaughtUp(ctx context.Context, t *testing.T) {
	t.Helper()
	primary, err := w.a.PG.Open("postgres")
	require.NoError(t, err)
	defer primary.Close()
	standby, err := w.sb.Open("postgres")
	require.NoError(t, err)
	defer standby.Close()
	var target string
	// The insert position, not pg_current_wal_lsn() (the write position): the test cluster runs
	// synchronous_commit=off, so the last post's commit may still sit in WAL buffers, before the
	// write position, when this is asked; a standby "caught up" to that would miss it.
	require.NoError(t, primary.QueryRowContext(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&target))
	require.Eventually(t, func() bool {
		var caught bool
		err := standby.QueryRowContext(ctx, `SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, target).Scan(&caught)
		return err == nil && caught
	}, time.Minute, 100*time.Millisecond, "the standby catches up with %s", target)
}

// drctl runs drctl with the operator's environment: MinIO's keys as the AWS chain reads them.
func (w *regionLoss) drctl(ctx context.Context, t *testing.T, args ...string) (string, error) {
	t.Helper()
	c := exec.CommandContext(ctx, drctlBinary(t, w.a), args...) //nolint:gosec // the built tool
	c.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+w.minio.AccessKey, "AWS_SECRET_ACCESS_KEY="+w.minio.SecretKey, "AWS_REGION="+harness.MinIORegion)
	out, err := c.CombinedOutput()
	return string(out), err
}

func (w *regionLoss) from() []string {
	return []string{"--from", "s3://" + rlBucket + "/" + rlPrefix, "--s3-endpoint", w.minio.Endpoint, "--s3-path-style"}
}

// startB starts Mattermost B in the standby region on the promoted standby, with A's config
// and file store (the replicated bucket) and the plugin installed there.
func (w *regionLoss) startB(ctx context.Context, t *testing.T) *harness.Env {
	t.Helper()
	dir := filepath.Join(w.a.Dir, "mattermost-b")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "config"), 0o755))
	for _, d := range []string{"config/config.json", "data", "plugins"} {
		out, err := exec.CommandContext(ctx, "cp", "-a", filepath.Join(w.a.MM.Dir, d), filepath.Join(dir, d)).CombinedOutput()
		require.NoError(t, err, string(out))
	}
	mm, err := harness.StartMattermost(ctx, harness.MattermostOptions{Build: w.build, Dir: dir, DataSource: w.sb.URL("mattermost"), KeepConfig: true,
		ExtraEnv: map[string]string{"DR_REGION": rlStandby}})
	require.NoError(t, err)
	t.Cleanup(mm.Stop)
	c := model.NewAPIv4Client(mm.URL)
	_, _, err = c.Login(ctx, w.a.Admin.Username, w.a.Admin.Password)
	require.NoError(t, err, "the admin logs in on B with the same password")
	admin := *w.a.Admin
	admin.Client = c
	return &harness.Env{Root: w.a.Root, Dir: dir, Bundle: w.a.Bundle, PG: w.sb.Postgres, MM: mm, Admin: &admin,
		Team: w.a.Team, OpsChannel: w.a.OpsChannel, BotUserID: w.a.BotUserID}
}

// The region is lost: Mattermost A and its PostgreSQL are killed (SIGKILL). From a shell,
// drctl promotes the standby, journaling in MinIO; a second drctl at the same time is refused.
// Mattermost B starts on the promoted standby, adopts the runbook and finishes it; every post
// written on A is on B. RPO and RTO are printed.
func TestRegionLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	w := newRegionLoss(ctx, t)
	w.writePosts(ctx, t, 100)
	w.waitCaughtUp(ctx, t)

	w.a.MM.Kill()
	w.a.PG.Kill()
	killed := time.Now()

	// Two operators at once: exactly one runs the runbook.
	start := append(append([]string{"failover", "start"}, w.from()...), "--to", rlStandby, "--mode", "failover", "--confirm")
	var wg sync.WaitGroup
	outs, errs := make([]string, 2), make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = w.drctl(ctx, t, start...)
		}()
	}
	wg.Wait()
	won := 0
	for i := range 2 {
		if errs[i] == nil {
			won++
			t.Logf("drctl failover start:\n%s", outs[i])
		} else {
			assert.Regexp(t, `(?i)runbook|lock`, outs[i], "the refusal says another runbook runs")
		}
	}
	require.Equal(t, 1, won, "exactly one drctl runs the runbook:\n%s\n---\n%s", outs[0], outs[1])
	promoted := time.Now()

	standby, err := w.sb.Open("mattermost")
	require.NoError(t, err)
	defer standby.Close()
	var recovering bool
	require.NoError(t, standby.QueryRowContext(ctx, `SELECT pg_is_in_recovery()`).Scan(&recovering))
	require.False(t, recovering, "drctl promoted the standby")

	status, err := w.drctl(ctx, t, append([]string{"failover", "status"}, w.from()...)...)
	require.NoError(t, err, status)
	assert.Regexp(t, `(?i)waiting.for.(the.)?plugin`, status)

	b := w.startB(ctx, t)
	answered := time.Now()

	// B adopts the runbook: the summary names drctl's operator.
	summary, err := b.WaitBotPost(ctx, b.OpsChannel.Id, killed.UnixMilli(), "drctl", 3*time.Minute)
	require.NoError(t, err, b.MM.LogTail(40))
	adopted := time.Now()
	t.Logf("hand-over post:\n%s", summary.Message)
	run := waitRunState(ctx, t, b, "completed")
	for _, s := range run.Run.Steps {
		assert.NotEqual(t, "waiting-for-plugin", s.State, "step %s was finished by the plugin", s.Name)
	}
	st, detail := run.step("database")
	assert.Equal(t, "done", st, detail)
	fo := cmd(ctx, t, b, "/dr failover status")
	assert.Contains(t, fo, "@", "the status names drctl's operator (user@host)")
	audit := cmd(ctx, t, b, "/dr audit --action failover.")
	assert.Contains(t, audit, "failover.adopt")
	assert.Contains(t, audit, "failover.step")

	// RPO: every post written on A is on B.
	lost := 0
	for _, id := range w.posts {
		if _, _, err := b.Admin.Client.GetPost(ctx, id, ""); err != nil {
			lost++
		}
	}
	assert.Zero(t, lost, "posts written on A before the kill and lost")
	rto := answered.Sub(killed)
	fmt.Printf("region loss: RPO %d of %d posts lost (a caught-up standby); RTO %s from the kill until B answered (drctl promote %s, B start %s), hand-over posted %s after the kill\n",
		lost, len(w.posts), rto.Round(10*time.Millisecond), promoted.Sub(killed).Round(10*time.Millisecond),
		answered.Sub(promoted).Round(10*time.Millisecond), adopted.Sub(killed).Round(10*time.Millisecond))
	require.NotContains(t, strings.Join(outs, ""), w.minio.SecretKey, "no secret in drctl's output")
}
