//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

const (
	rpoBucket = "dr-rpo"
	rpoPrefix = "prod"
)

// ackedPost is a post the server confirmed: the user saw it sent.
type ackedPost struct {
	id string
	at time.Time
}

// TestRPOLostPrimary is the bad day point-in-time recovery is for, measured end to end with
// the default settings: the plugin archives the WAL to S3 (MinIO) while a writer posts all the
// time; the primary is killed (SIGKILL) and its data folder removed; from a shell, `drctl
// restore --to-latest --pgdata` builds a new cluster from the base backup and the archive,
// PostgreSQL's own recovery replays it, and Mattermost starts on it. The posts the server had
// confirmed but the new cluster lacks are the RPO (goal: at most 10 s of them); the time from
// the kill until Mattermost answers again is the RTO.
func TestRPOLostPrimary(t *testing.T) {
	harness.Require(t) // the build and the bundle exist
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	// synchronous_commit=on, PostgreSQL's default (the harness turns it off for speed): a post
	// is confirmed only once its commit is on the primary's disk, as on a production server.
	env, err := harness.Start(ctx, harness.Options{PostgresSettings: []string{"synchronous_commit=on"}})
	require.NoError(t, err)
	t.Cleanup(env.Close)
	minio := harness.RequireMinIO(ctx, t)
	require.NoError(t, minio.MakeBucket(ctx, rpoBucket))
	build, err := harness.ServerBuild(ctx, env.Root)
	require.NoError(t, err)

	// What restore_command runs must be reachable by the postgres user: drctl and the identity
	// in a folder it may enter (env.Dir is), the identity its own.
	shared := filepath.Join(env.Dir, "pitr")
	require.NoError(t, os.MkdirAll(shared, 0o755))
	bin := filepath.Join(shared, "drctl")
	copyFile(t, drctlBinary(t, env), bin, 0o755)
	identity, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	identityFile := filepath.Join(shared, "dr.key")
	require.NoError(t, os.WriteFile(identityFile, []byte(identity.String()+"\n"), 0o600))
	owner := []string{}
	if cred := env.PG.Credential(); cred != nil {
		require.NoError(t, os.Chown(identityFile, int(cred.Uid), int(cred.Gid)))
		owner = []string{"--pgdata-owner", "postgres"}
	}
	// The S3 credentials as the postgres user's environment gives them to restore_command (on
	// AWS: the instance role); the restored cluster and drctl inherit them from this process.
	t.Setenv("AWS_ACCESS_KEY_ID", minio.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", minio.SecretKey)
	t.Setenv("AWS_REGION", harness.MinIORegion)

	// WAL archiving on, with its defaults (WALArchiveMaxDelaySeconds 10), encrypted and off-site.
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{
		"backups3bucket": rpoBucket, "backups3prefix": rpoPrefix, "backups3endpoint": minio.Endpoint, "backups3pathstyle": true,
		"backups3accesskeyid": minio.AccessKey, "backups3secretaccesskey": minio.SecretKey, "backups3region": harness.MinIORegion,
		"backupagerecipients": identity.Recipient().String(), "walarchiveenabled": true,
	}))
	require.Eventually(t, func() bool {
		out, err := minio.MC(ctx, "stat", "local/"+rpoBucket+"/"+rpoPrefix+"/wal/system.json")
		return err == nil && strings.Contains(string(out), "system.json")
	}, 2*time.Minute, time.Second, "the plugin starts archiving WAL to the bucket")
	since := model.GetMillis()
	require.Contains(t, cmd(ctx, t, env, "/dr backup base"), "Base backup job")
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "Backup `", 5*time.Minute)
	require.NoError(t, err)
	require.NotNil(t, backupID.FindStringSubmatch(post.Message), "the base backup did not complete: %s", post.Message)
	trustKey := signingKey(ctx, t, env)
	// /dr status shows the window a restore has at the bucket, as the archiving node read it.
	text := waitStatus(ctx, t, env, 3*time.Minute, func(s string) bool { return strings.Contains(s, "restorable from ") })
	assert.Contains(t, text, "Point-in-time window at s3")
	assert.Regexp(t, `\| Base backups usable \| 1, the newest \S+ old \|`, text)
	code, metrics, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/metrics", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(metrics), `dr_pitr_window_seconds{destination="s3://`+rpoBucket+`/`+rpoPrefix)

	// The writer: posts one after the other, as fast as the server confirms them, and keeps
	// those it confirmed. It stops at the first error (the database is gone).
	channel, _, err := env.Admin.Client.CreateChannel(ctx, &model.Channel{TeamId: env.Team.Id, Name: uniq("rpo-"), DisplayName: "RPO", Type: model.ChannelTypeOpen})
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		acked []ackedPost
		wg    sync.WaitGroup
	)
	wctx, stopWriter := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; wctx.Err() == nil; i++ {
			p, _, err := env.Admin.Client.CreatePost(wctx, &model.Post{ChannelId: channel.Id, Message: fmt.Sprintf("rpo %d", i)})
			if err != nil {
				return
			}
			mu.Lock()
			acked = append(acked, ackedPost{id: p.Id, at: time.Now()})
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	// Long enough for several partial copies and a completed segment or two.
	time.Sleep(rpoWriteFor())
	pgDir := env.PG.Dir
	env.PG.Kill()
	killed := time.Now()
	require.NoError(t, os.RemoveAll(pgDir), "the primary's data folder is destroyed")
	go func() { time.Sleep(5 * time.Second); stopWriter() }()
	wg.Wait()
	stopWriter()
	mu.Lock()
	confirmed := append([]ackedPost(nil), acked...)
	mu.Unlock()
	require.NotEmpty(t, confirmed)
	require.False(t, confirmed[len(confirmed)-1].at.After(killed.Add(time.Second)), "no post is confirmed after the database died")

	// From a shell, at once: a new cluster to the newest archived WAL.
	pgdata := filepath.Join(shared, "pgdata")
	args := append([]string{"restore", "--to-latest", "--pgdata", pgdata, "--from", "s3://" + rpoBucket + "/" + rpoPrefix,
		"--s3-endpoint", minio.Endpoint, "--s3-path-style", "--trust-key", trustKey, "--identity", identityFile}, owner...)
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput() //nolint:gosec // the built tool
	require.NoError(t, err, string(out))
	t.Logf("drctl restore --to-latest:\n%s", out)
	assert.NotContains(t, string(out), minio.SecretKey)
	restored := time.Now()
	pg, err := harness.StartDataDir(ctx, pgdata, filepath.Join(shared, "postgres.log"))
	require.NoError(t, err)
	t.Cleanup(pg.Stop)
	db, err := pg.Open("mattermost")
	require.NoError(t, err)
	defer db.Close()
	require.Eventually(t, func() bool {
		var inRecovery bool
		return db.QueryRowContext(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery) == nil && !inRecovery
	}, 5*time.Minute, 200*time.Millisecond, "recovery ends and the cluster is promoted:\n%s", pg.LogTail(30))
	recovered := time.Now()
	assert.Contains(t, pg.LogTail(400), "archive recovery complete", pg.LogTail(40))

	// Mattermost on the new cluster, same folder and config.
	env.MM.Stop()
	mm, err := harness.StartMattermost(ctx, harness.MattermostOptions{Build: build, Dir: env.MM.Dir, DataSource: pg.URL("mattermost"), KeepConfig: true})
	require.NoError(t, err)
	t.Cleanup(mm.Stop)
	client := model.NewAPIv4Client(mm.URL)
	_, _, err = client.Login(ctx, env.Admin.Username, env.Admin.Password)
	require.NoError(t, err, mm.LogTail(40))
	answered := time.Now()

	// RPO: the confirmed posts the new cluster lacks, and the time they span.
	ids := make([]string, len(confirmed))
	for i, p := range confirmed {
		ids[i] = p.id
	}
	present := map[string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT id FROM posts WHERE id = ANY($1)`, ids)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		present[id] = true
	}
	require.NoError(t, rows.Err())
	rows.Close()
	var lost []ackedPost
	for _, p := range confirmed {
		if !present[p.id] {
			lost = append(lost, p)
		}
	}
	// Lost posts, if any, are the newest ones: the restore never leaves a hole.
	kept := len(confirmed) - len(lost)
	for i, p := range lost {
		require.Equal(t, confirmed[kept+i].id, p.id, "the lost posts are the last ones confirmed")
	}
	rpo := time.Duration(0)
	if len(lost) > 0 {
		rpo = killed.Sub(lost[0].at) // the confirmed writes the restore did not give back
	}
	if kept > 0 {
		last, _, err := client.GetPost(ctx, confirmed[kept-1].id, "")
		require.NoError(t, err, "the newest post the restore kept is served by Mattermost on the new cluster")
		assert.Equal(t, confirmed[kept-1].id, last.Id)
	}
	fmt.Printf("RPO (lost primary, point-in-time restore --to-latest, WALArchiveMaxDelaySeconds 10): %d of %d confirmed posts lost, spanning %s before the kill; "+
		"RTO %s from the kill until Mattermost answered on the new cluster (drctl restore %s, PostgreSQL recovery %s, Mattermost start %s)\n",
		len(lost), len(confirmed), rpo.Round(10*time.Millisecond), answered.Sub(killed).Round(100*time.Millisecond),
		restored.Sub(killed).Round(100*time.Millisecond), recovered.Sub(restored).Round(100*time.Millisecond), answered.Sub(recovered).Round(100*time.Millisecond))
	assert.LessOrEqual(t, rpo, 10*time.Second, "RPO goal: at most 10 s of confirmed posts lost")
}

// rpoWriteFor is how long the writer runs before the kill: DR_RPO_WRITE_SECONDS, else 20 s
// (two partial copies at the default MaxDelay, and a segment switch or not).
func rpoWriteFor() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("DR_RPO_WRITE_SECONDS") + "s"); err == nil && d > 0 {
		return d
	}
	return 20 * time.Second
}

// signingKey is the public key the plugin signs its backups and WAL with, as `/dr version`
// and the backups route give it to the admin.
func signingKey(ctx context.Context, t *testing.T, env *harness.Env) string {
	t.Helper()
	status, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/backups", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, string(body))
	var resp struct {
		SigningKey struct {
			PublicKey string `json:"public_key"`
		} `json:"signing_key"`
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	require.NotEmpty(t, resp.SigningKey.PublicKey)
	return resp.SigningKey.PublicKey
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
	require.NoError(t, os.Chmod(to, mode))
}
