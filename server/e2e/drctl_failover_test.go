//go:build e2e

package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/drsettings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failpoint"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
)

// `drctl failover` with Mattermost gone: a real PostgreSQL primary and streaming standby of
// their own (not the deployment's database), the primary SIGKILLed as a lost region would be,
// the journal and the lock at a destination folder and at MinIO, drctl built from this checkout
// and run as a process (two at once, one killed at a failpoint, then resumed).

// drctlDest is one destination: where drctl reads the settings and keeps the journal.
type drctlDest struct {
	from  string   // --from
	flags []string // the S3 flags
	env   []string // credentials
	store storage.Store
}

func folderDest(t *testing.T) drctlDest {
	dir := t.TempDir()
	st, err := local.New(dir)
	require.NoError(t, err)
	return drctlDest{from: dir, store: st}
}

func minioDest(ctx context.Context, t *testing.T) drctlDest {
	m := harness.RequireMinIO(ctx, t)
	require.NoError(t, m.MakeBucket(ctx, "dr-drctl"))
	st, err := s3.New(ctx, s3.Config{Bucket: "dr-drctl", Prefix: "prod", Region: "us-east-1", Endpoint: m.Endpoint, PathStyle: true,
		AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey})
	require.NoError(t, err)
	return drctlDest{from: "s3://dr-drctl/prod", store: st,
		flags: []string{"--s3-endpoint", m.Endpoint, "--s3-region", "us-east-1", "--s3-path-style"},
		env:   []string{"AWS_ACCESS_KEY_ID=" + m.AccessKey, "AWS_SECRET_ACCESS_KEY=" + m.SecretKey}}
}

// pgPair is a primary and its streaming standby, started for one test. The settings name
// them as pgRole, whose password only PGPASSWORD gives drctl.
type pgPair struct {
	primary *harness.Postgres
	standby *harness.Standby
}

const pgRole, pgRolePassword = "mm_drctl", "pg-Drctl-Secret-41"

// roleURL is a connection string as the settings document holds one: no password.
func roleURL(pg *harness.Postgres) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/mattermost?sslmode=disable", pgRole, pg.Port)
}

func startPGPair(ctx context.Context, t *testing.T) pgPair {
	if _, err := harness.PGBinDir(); err != nil {
		harness.Unavailable(t, "PostgreSQL", err)
	}
	dir, err := os.MkdirTemp("", "dr-drctl-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	primary, err := harness.StartPostgres(ctx, filepath.Join(dir, "primary"))
	require.NoError(t, err)
	t.Cleanup(primary.Stop)
	// The role needs its password over TCP (pg_hba.conf, copied to the standby), and may promote.
	_, err = primary.PasswordRole(ctx, pgRole, pgRolePassword, "mattermost")
	require.NoError(t, err)
	db := openDB(t, primary.URL("mattermost"))
	_, err = db.ExecContext(ctx, `CREATE TABLE posts (id serial PRIMARY KEY, message text); INSERT INTO posts (message) SELECT 'post ' || g FROM generate_series(1, 50) g;
		GRANT EXECUTE ON FUNCTION pg_promote(boolean, integer) TO `+pgRole)
	require.NoError(t, err)
	standby, err := primary.StartStandby(ctx, filepath.Join(dir, "standby"), "dr_drctl_e2e")
	require.NoError(t, err)
	t.Cleanup(standby.Stop)
	sdb := openDB(t, standby.URL("mattermost"))
	require.Eventually(t, func() bool {
		var n int
		return sdb.QueryRowContext(ctx, `SELECT count(*) FROM posts`).Scan(&n) == nil && n == 50
	}, 30*time.Second, 100*time.Millisecond, "the standby replays the primary's rows")
	return pgPair{primary: primary, standby: standby}
}

func openDB(t *testing.T, url string) *sql.DB {
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// writeSignedSettings puts the document the plugin would write at the destination, signed.
func writeSignedSettings(ctx context.Context, t *testing.T, st storage.Store, d drsettings.Document) *format.SigningKey {
	key, err := format.GenerateSigningKey()
	require.NoError(t, err)
	d.SigningKey = key.PublicKey().String()
	_, err = drsettings.Write(ctx, st, d, key)
	require.NoError(t, err)
	return key
}

func pgDocument(p pgPair) drsettings.Document {
	return drsettings.Document{Topology: "two_regions",
		Regions:  drsettings.Regions{Primary: "us-east-1", Secondary: "us-west-2", This: "us-east-1"},
		Database: drsettings.Database{PostgreSQL: &drsettings.PostgreSQL{PrimaryDSN: roleURL(p.primary), StandbyDSN: roleURL(p.standby.Postgres)}}}
}

// journal reads the runbook drctl keeps at the destination.
func journal(ctx context.Context, t *testing.T, st storage.Store) *failover.Run {
	t.Helper()
	raw, _, err := st.(storage.Swapper).Load(ctx, failover.StoreKeyCurrent)
	require.NoError(t, err)
	var r failover.Run
	require.NoError(t, json.Unmarshal(raw, &r))
	return &r
}

func inRecovery(ctx context.Context, t *testing.T, db *sql.DB) bool {
	t.Helper()
	var rec bool
	require.NoError(t, db.QueryRowContext(ctx, `SELECT pg_is_in_recovery()`).Scan(&rec))
	return rec
}

func TestDrctlFailoverPostgres(t *testing.T) {
	for name, dest := range map[string]func(ctx context.Context, t *testing.T) drctlDest{
		"folder": func(_ context.Context, t *testing.T) drctlDest { return folderDest(t) },
		"s3":     minioDest,
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			testDrctlFailoverPostgres(ctx, t, dest(ctx, t))
		})
	}
}

// drctlRunner runs `drctl failover <sub>` against one destination with the shared flags.
type drctlRunner struct {
	bin  string
	d    drctlDest
	base []string
}

func (r drctlRunner) args(sub string, args ...string) []string {
	return append(append([]string{"failover", sub}, r.base...), args...)
}

func (r drctlRunner) run(ctx context.Context, t *testing.T, sub string, args ...string) harness.DrctlResult {
	t.Helper()
	res, err := harness.RunDrctl(ctx, r.bin, append(r.d.env, "PGPASSWORD="+pgRolePassword), r.args(sub, args...)...)
	require.NoError(t, err)
	assert.NotContains(t, res.Stdout+res.Stderr, pgRolePassword, "the password from the environment is never shown")
	return res
}

func testDrctlFailoverPostgres(ctx context.Context, t *testing.T, d drctlDest) {
	bin, err := harness.BuildDrctl(ctx)
	require.NoError(t, err)
	pair := startPGPair(ctx, t)
	key := writeSignedSettings(ctx, t, d.store, pgDocument(pair))
	r := drctlRunner{bin: bin, d: d, base: append([]string{"--from", d.from, "--trust-key", key.PublicKey().String(), "--poll", "200ms", "--lock-ttl", "8s"}, d.flags...)}
	sdb := openDB(t, pair.standby.URL("mattermost"))
	pair.primary.Kill() // the region is lost

	planChangesNothing(ctx, t, r, sdb)
	winnerPid, run := startTwiceWithCrash(ctx, t, r)
	require.False(t, inRecovery(ctx, t, sdb), "the standby was promoted before the crash")
	db := run.Step(failover.KindDatabase)
	require.Equal(t, failover.StepDone, db.State, db.Error)
	require.Equal(t, 1, db.Attempts)
	assert.Equal(t, failover.RunRunning, run.State)
	assert.Equal(t, "drctl:", run.ActorID[:6])

	// While the dead drctl's lease lasts, another start is refused and names it.
	again := r.run(ctx, t, "start", "--to", "us-west-2", "--mode", "failover", "--confirm")
	require.Equal(t, 1, again.Code, again.Stdout+again.Stderr)
	assert.Contains(t, again.Stderr, "(process "+strconv.Itoa(winnerPid))

	resumeAfterCrash(ctx, t, r, sdb)
	plantedJournalRefused(ctx, t, r)
}

// planChangesNothing: the plan and an unconfirmed start show what would run, and do nothing.
func planChangesNothing(ctx context.Context, t *testing.T, r drctlRunner, sdb *sql.DB) {
	plan := r.run(ctx, t, "plan", "--to", "us-west-2", "--mode", "failover")
	require.Equal(t, 0, plan.Code, plan.Stdout+plan.Stderr)
	assert.Contains(t, plan.Stdout, "pg_promote")
	assert.Contains(t, plan.Stdout, "waits for the plugin")
	assert.Contains(t, plan.Stdout, "signed by", "the preflight says the settings are trusted")
	unconfirmed := r.run(ctx, t, "start", "--to", "us-west-2", "--mode", "failover")
	require.Equal(t, 2, unconfirmed.Code, unconfirmed.Stdout+unconfirmed.Stderr)
	assert.Contains(t, unconfirmed.Stderr, "add --confirm")
	require.True(t, inRecovery(ctx, t, sdb), "nothing was done without --confirm")
}

// startTwiceWithCrash: two operators start at once; exactly one gets the runbook, and it dies
// between two steps (after the promotion). It returns the dead one's pid and the journal.
func startTwiceWithCrash(ctx context.Context, t *testing.T, r drctlRunner) (int, *failover.Run) {
	fp := filepath.Join(t.TempDir(), "failpoints")
	require.NoError(t, os.WriteFile(fp, []byte("failover.after-opensearch-promote\n"), 0o600))
	starts := make([]*harness.Drctl, 2)
	results := make([]harness.DrctlResult, 2)
	for i := range starts {
		starts[i] = &harness.Drctl{Bin: r.bin, Env: append(r.d.env, failpoint.EnvVar+"="+fp, "PGPASSWORD="+pgRolePassword),
			Args: r.args("start", "--to", "us-west-2", "--mode", "failover", "--confirm")}
		require.NoError(t, starts[i].Start(ctx))
	}
	var wg sync.WaitGroup
	for i := range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			results[i], err = starts[i].Wait()
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	winner, loser := 0, 1
	if results[1].Signal == syscall.SIGKILL {
		winner, loser = 1, 0
	}
	require.Equal(t, syscall.SIGKILL, results[winner].Signal, "one start ran into the failpoint: %+v", results)
	require.Equal(t, 1, results[loser].Code, "the other was refused: %+v", results[loser])
	run := journal(ctx, t, r.d.store)
	assert.Contains(t, results[loser].Stderr, run.ID, "the refusal names the runbook that runs")
	return starts[winner].Pid(), run
}

// crashAfterEveryStep: drctl dies (SIGKILL) after each of the steps that follow the first
// crash in turn, with the step's effect done and the journal not saying so, and is resumed
// each time: every such step runs twice (it checks what is in place first), none more. Their
// lease lasts 1 s, so that each resume takes the dead one's over without a long wait.
func crashAfterEveryStep(ctx context.Context, t *testing.T, r drctlRunner, after string) []string {
	run := journal(ctx, t, r.d.store)
	var crashed []string
	seen := false
	for _, st := range run.Steps {
		if !seen {
			seen = st.Name == after
			continue
		}
		fp := filepath.Join(t.TempDir(), "failpoints")
		require.NoError(t, os.WriteFile(fp, []byte("failover.after-"+st.Name+"\n"), 0o600))
		res, err := harness.RunDrctl(ctx, r.bin, append(r.d.env, failpoint.EnvVar+"="+fp, "PGPASSWORD="+pgRolePassword), r.args("resume", "--lock-ttl", "1s")...)
		require.NoError(t, err)
		require.Equal(t, syscall.SIGKILL, res.Signal, "drctl died after step %s: %+v", st.Name, res)
		crashed = append(crashed, st.Name)
	}
	require.NotEmpty(t, crashed)
	return crashed
}

// resumeAfterCrash: resume finishes what drctl can do, without promoting again.
func resumeAfterCrash(ctx context.Context, t *testing.T, r drctlRunner, sdb *sql.DB) {
	crashed := crashAfterEveryStep(ctx, t, r, failover.KindOpenSearchPromote)
	resumed := r.run(ctx, t, "resume")
	t.Logf("drctl failover resume:\n%s\n%s", resumed.Stderr, resumed.Stdout)
	require.Equal(t, 0, resumed.Code, resumed.Stdout+resumed.Stderr)
	run := journal(ctx, t, r.d.store)
	assert.Equal(t, failover.RunForPlugin, run.State)
	db := run.Step(failover.KindDatabase)
	assert.Equal(t, 1, db.Attempts, "resume does not promote again")
	assert.Equal(t, "pg_promote", db.Data["requested"])
	assert.Equal(t, 2, run.Step(failover.KindOpenSearchPromote).Attempts, "the interrupted step ran again")
	for _, name := range crashed {
		assert.Equal(t, 2, run.Step(name).Attempts, "step %s: once before the crash, once after", name)
	}
	for _, k := range []string{failover.KindAnnounce, failover.KindScheduler, failover.KindSettings} {
		assert.Equal(t, failover.StepForPlugin, run.Step(k).State, k)
	}
	assert.Contains(t, resumed.Stdout, "waiting-for-plugin")
	_, err := sdb.ExecContext(ctx, `INSERT INTO posts (message) VALUES ('after the failover')`)
	require.NoError(t, err, "the promoted standby takes writes")

	status := r.run(ctx, t, "status")
	require.Equal(t, 0, status.Code, status.Stderr)
	assert.Contains(t, status.Stdout, run.ID)
	assert.NotContains(t, status.Stdout, "held by", "nobody holds the lock any more")
}

// plantedJournalRefused: a journal planted at the destination (other regions) does not steer drctl.
func plantedJournalRefused(ctx context.Context, t *testing.T, r drctlRunner) {
	planted := *journal(ctx, t, r.d.store)
	planted.From, planted.To = "eu-west-1", "us-west-2"
	b, err := json.Marshal(planted)
	require.NoError(t, err)
	_, err = r.d.store.Put(ctx, failover.StoreKeyCurrent, strings.NewReader(string(b)))
	require.NoError(t, err)
	refused := r.run(ctx, t, "resume")
	require.Equal(t, 1, refused.Code, refused.Stdout+refused.Stderr)
	assert.Contains(t, refused.Stderr, "drctl will not act on it")
}
