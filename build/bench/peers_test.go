//go:build bench

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// The peers: pgBackRest backs up the cluster, restic the data folder, as an admin who picked
// the usual tools would.
const (
	stanza       = "bench"
	installPeers = "install them: `bash build/scripts/install-deps.sh bench` as root (or `apt-get install -y pgbackrest restic`)"
)

// peerSettings turn WAL archiving on at start-up (archive_mode needs a restart); the
// archive_command stays empty, so PostgreSQL keeps the WAL until setUp points it at
// pgBackRest, whose configuration lives in the harness's folder, made by then.
var peerSettings = []string{"archive_mode=on"}

// lookPeers fails early, before minutes of data generation, when a peer is not installed.
func lookPeers() error {
	var missing []string
	for _, p := range []string{"pgbackrest", "restic"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the peers %s are not installed; %s", strings.Join(missing, " and "), installPeers)
	}
	return nil
}

// peers drives pgBackRest (as the cluster's OS user) and restic (as this process's user) on
// the harness's cluster and data folder, each with a repository in the harness's folder.
type peers struct {
	env        *harness.Env
	dir        string
	conf       string // pgbackrest.conf
	pgRepo     string
	resticRepo string
	resticEnv  []string // the repository, the password file and the cache; never the password itself
	cred       *syscall.Credential

	PgBackRestVersion, ResticVersion string
}

// toolRun is one measured run of a peer.
type toolRun struct {
	Wall, CPU time.Duration // CPU: user+system of the command and the children it waited for
	Stored    int64         // bytes the run added to its repository
	Note      string
	Log       string // its standard error
}

// peerRun is pgBackRest then restic, one after the other, on the same state of the server.
type peerRun struct {
	PgBackRest, Restic toolRun
}

func (p *peerRun) Wall() time.Duration { return p.PgBackRest.Wall + p.Restic.Wall }
func (p *peerRun) CPU() time.Duration  { return p.PgBackRest.CPU + p.Restic.CPU }
func (p *peerRun) Stored() int64       { return p.PgBackRest.Stored + p.Restic.Stored }

// setUpPeers writes pgBackRest's configuration, creates the stanza, points the cluster's
// archive_command at it and runs `check` (which waits for a WAL segment to reach the
// repository), then initialises restic's repository.
func setUpPeers(ctx context.Context, env *harness.Env) (*peers, error) {
	p := &peers{env: env, dir: filepath.Join(env.Dir, "peers"), cred: env.PG.Credential()}
	p.conf = filepath.Join(p.dir, "pgbackrest", "pgbackrest.conf")
	p.pgRepo = filepath.Join(p.dir, "pgbackrest", "repo")
	p.resticRepo = filepath.Join(p.dir, "restic", "repo")
	// Traversable by the cluster's user, which reads pgBackRest's folder below it.
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return nil, fmt.Errorf("peers' folder: %w", err)
	}
	for _, d := range []string{"repo", "log", "lock", "spool"} {
		if err := os.MkdirAll(filepath.Join(p.dir, "pgbackrest", d), 0o750); err != nil {
			return nil, fmt.Errorf("pgBackRest folders: %w", err)
		}
	}
	conf := fmt.Sprintf(`[global]
repo1-path=%[1]s/repo
repo1-retention-full=2
compress-type=zst
process-max=%[2]d
start-fast=y
log-path=%[1]s/log
lock-path=%[1]s/lock
spool-path=%[1]s/spool
log-level-console=warn
log-level-file=info

[%[3]s]
pg1-path=%[4]s
pg1-port=%[5]d
pg1-socket-path=%[4]s
pg1-user=postgres
`, filepath.Join(p.dir, "pgbackrest"), runtime.NumCPU(), stanza, env.PG.Dir, env.PG.Port)
	if err := os.WriteFile(p.conf, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", p.conf, err)
	}
	if p.cred != nil { // the cluster's user writes the repository and runs archive-push
		if err := chownTree(filepath.Join(p.dir, "pgbackrest"), p.cred); err != nil {
			return nil, err
		}
	}
	out, err := exec.CommandContext(ctx, "pgbackrest", "version").Output()
	if err != nil {
		return nil, fmt.Errorf("pgbackrest version: %w", err)
	}
	p.PgBackRestVersion = strings.TrimSpace(string(out))
	if _, err := p.pgbackrest(ctx, "stanza-create"); err != nil {
		return nil, err
	}
	db, err := env.PG.Open("postgres")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	archive := fmt.Sprintf("pgbackrest --config=%s --stanza=%s archive-push %%p", p.conf, stanza)
	if _, err := db.ExecContext(ctx, `ALTER SYSTEM SET archive_command = '`+strings.ReplaceAll(archive, "'", "''")+`'`); err != nil {
		return nil, fmt.Errorf("set archive_command: %w", err)
	}
	if _, err := db.ExecContext(ctx, `SELECT pg_reload_conf()`); err != nil {
		return nil, fmt.Errorf("reload the configuration: %w", err)
	}
	if _, err := p.pgbackrest(ctx, "check"); err != nil {
		return nil, fmt.Errorf("WAL archiving to pgBackRest does not work (see %s): %w", filepath.Join(env.PG.Dir, "..", "postgres.log"), err)
	}

	if err := os.MkdirAll(filepath.Join(p.dir, "restic"), 0o700); err != nil {
		return nil, err
	}
	pass := filepath.Join(p.dir, "restic", "password")
	if err := os.WriteFile(pass, []byte("bench-"+time.Now().Format(time.RFC3339Nano)+"\n"), 0o600); err != nil {
		return nil, err
	}
	p.resticEnv = []string{"RESTIC_REPOSITORY=" + p.resticRepo, "RESTIC_PASSWORD_FILE=" + pass,
		"RESTIC_CACHE_DIR=" + filepath.Join(p.dir, "restic", "cache")}
	if out, err = exec.CommandContext(ctx, "restic", "version").Output(); err != nil {
		return nil, fmt.Errorf("restic version: %w", err)
	}
	p.ResticVersion, _, _ = strings.Cut(strings.TrimSpace(string(out)), " compiled") // "restic 0.14.0 compiled with go1.19.8 on linux/amd64"
	if _, err := p.restic(ctx, "init"); err != nil {
		return nil, err
	}
	return p, nil
}

func chownTree(dir string, cred *syscall.Credential) error {
	err := filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(cred.Uid), int(cred.Gid))
	})
	if err != nil {
		return fmt.Errorf("chown %s to the cluster's user: %w", dir, err)
	}
	return nil
}

// pgbackrest runs one pgBackRest command for the stanza as the cluster's user.
func (p *peers) pgbackrest(ctx context.Context, args ...string) (*toolRun, error) {
	args = append([]string{"--config=" + p.conf, "--stanza=" + stanza}, args...)
	cmd := exec.CommandContext(ctx, "pgbackrest", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	return runTool(cmd)
}

// restic runs one restic command on the repository.
func (p *peers) restic(ctx context.Context, args ...string) (*toolRun, error) {
	cmd := exec.CommandContext(ctx, "restic", args...)
	cmd.Env = append(os.Environ(), p.resticEnv...)
	return runTool(cmd)
}

// runTool runs cmd after a sync (nothing dirty left from before), timing it; Note holds its
// standard output.
func runTool(cmd *exec.Cmd) (*toolRun, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	syscall.Sync()
	t0 := time.Now()
	err := cmd.Run()
	took := time.Since(t0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s%s", strings.Join(cmd.Args, " "), err, stdout.String(), stderr.String())
	}
	return &toolRun{Wall: took, CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), Note: stdout.String(), Log: stderr.String()}, nil
}

// measured runs fn and sets the run's Stored to what the repository under repo grew by.
func measured(repo string, fn func() (*toolRun, error)) (toolRun, error) {
	before, err := duBytes(repo)
	if err != nil {
		return toolRun{}, err
	}
	run, err := fn()
	if err != nil {
		return toolRun{}, err
	}
	after, err := duBytes(repo)
	if err != nil {
		return toolRun{}, err
	}
	run.Stored = after - before
	return *run, nil
}

// Backup runs `pgbackrest backup --type=kind` (full or incr), then `restic backup` of the
// data folder, one after the other, as an admin's script would. Their timers run only around
// the two commands.
func (p *peers) Backup(ctx context.Context, kind string, tm timer) (*peerRun, error) {
	res := &peerRun{}
	var err error
	tm.StartTimer()
	res.PgBackRest, err = measured(p.pgRepo, func() (*toolRun, error) { return p.pgbackrest(ctx, "--type="+kind, "backup") })
	tm.StopTimer()
	if err != nil {
		return nil, err
	}
	if res.PgBackRest.Note, err = p.lastBackup(ctx, kind); err != nil {
		return nil, err
	}
	tm.StartTimer()
	res.Restic, err = measured(p.resticRepo, func() (*toolRun, error) {
		return p.restic(ctx, "backup", "--quiet", "--json", filepath.Join(p.env.MM.Dir, "data"))
	})
	tm.StopTimer()
	if err != nil {
		return nil, err
	}
	res.Restic.Note = resticSummary(res.Restic.Note)
	return res, nil
}

// lastBackup describes the newest backup in pgBackRest's repository, which must be of kind.
func (p *peers) lastBackup(ctx context.Context, kind string) (string, error) {
	run, err := p.pgbackrest(ctx, "--output=json", "info")
	if err != nil {
		return "", err
	}
	var info []struct {
		Backup []struct {
			Label string `json:"label"`
			Type  string `json:"type"`
			Info  struct {
				Size       int64 `json:"size"`
				Delta      int64 `json:"delta"`
				Repository struct {
					Size  int64 `json:"size"`
					Delta int64 `json:"delta"`
				} `json:"repository"`
			} `json:"info"`
		} `json:"backup"`
	}
	if err := json.Unmarshal([]byte(run.Note), &info); err != nil {
		return "", fmt.Errorf("pgbackrest info: %w", err)
	}
	if len(info) == 0 || len(info[0].Backup) == 0 {
		return "", errors.New("pgbackrest info: no backup in the repository")
	}
	b := info[0].Backup[len(info[0].Backup)-1]
	if b.Type != kind {
		return "", fmt.Errorf("pgbackrest info: the newest backup %s is %s, not %s", b.Label, b.Type, kind)
	}
	return fmt.Sprintf("%s: cluster %s, %s copied -> %s in repo", b.Label, human(b.Info.Size), human(b.Info.Delta), human(b.Info.Repository.Delta)), nil
}

// resticSummary keeps what the summary line of `restic backup --json` says of the run.
func resticSummary(out string) string {
	for _, line := range strings.Split(out, "\n") {
		var s struct {
			MessageType  string `json:"message_type"`
			FilesNew     int64  `json:"files_new"`
			FilesChanged int64  `json:"files_changed"`
			DataAdded    int64  `json:"data_added"`
			SnapshotID   string `json:"snapshot_id"`
		}
		if json.Unmarshal([]byte(line), &s) == nil && s.MessageType == "summary" {
			return fmt.Sprintf("snapshot %.8s: %d new, %d changed files, data_added %s", s.SnapshotID, s.FilesNew, s.FilesChanged, human(s.DataAdded))
		}
	}
	return "no summary from restic"
}

// restoreRun is one measured restore of ours and of the peers, each onto new folders (and,
// for ours, a new empty cluster).
type restoreRun struct {
	Ours                 toolRun // drctl restore of our incremental backup (c): database, config, files
	PgBackRest, Recovery toolRun // pgbackrest restore into a new data folder; then PostgreSQL until out of recovery
	Restic               toolRun // restic restore of the second snapshot
}

func (r *restoreRun) Peers() time.Duration {
	return r.PgBackRest.Wall + r.Recovery.Wall + r.Restic.Wall
}

// drctlSteps finds the duration of drctl restore's database and files steps in its log.
var drctlSteps = regexp.MustCompile(`(?m)^(?:\[\s*[0-9.]+s\] )?(database|files): .*restored in ([0-9hms.]+)`)

var signingKey = regexp.MustCompile("Backup signing key \\| `[^`]+` \\(`([^`]+)`\\)")

// drctlBinary is the drctl `make dist` built.
func drctlBinary(env *harness.Env) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(env.Root, "dist", "drctl-*-linux-"+runtime.GOARCH))
	if len(matches) == 0 {
		return "", errors.New("no dist/drctl-*-linux-" + runtime.GOARCH + ": run `make dist` (make bench does)")
	}
	return matches[0], nil
}

// restoreTools are what a restore of ours needs: drctl, the plugin's signing key as `/dr
// version` gives it to the admin, and the Mattermost build (its version).
func (p *peers) restoreTools(ctx context.Context) (drctl, key, build string, err error) {
	if drctl, err = drctlBinary(p.env); err != nil {
		return "", "", "", err
	}
	resp, err := p.env.Command(ctx, p.env.Admin, "", "/dr version")
	if err != nil {
		return "", "", "", err
	}
	m := signingKey.FindStringSubmatch(resp.Text)
	if m == nil {
		return "", "", "", fmt.Errorf("no backup signing key in /dr version: %s", resp.Text)
	}
	build, err = harness.ServerBuild(ctx, p.env.Root)
	return drctl, m[1], build, err
}

// Restore restores, one after the other: our backup id with drctl (into a new, empty cluster
// and new config and data folders), then pgBackRest's newest backup into a new data folder,
// started until PostgreSQL has replayed the archive and left recovery (the database is not
// usable before), then restic's newest snapshot into a new folder. Each measured part runs
// after a sync with its timer on.
func (p *peers) Restore(ctx context.Context, id string, tm timer) (*restoreRun, error) {
	res := &restoreRun{}
	drctl, key, build, err := p.restoreTools(ctx)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(p.dir, "restore")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir) // a copy of the whole set

	target, err := harness.StartPostgres(ctx, filepath.Join(dir, "ours-pg"))
	if err != nil {
		return nil, fmt.Errorf("the cluster to restore ours into: %w", err)
	}
	defer target.Stop()
	if err := target.CreateDatabase(ctx, "mattermost"); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, drctl, "restore", "--from", filepath.Join(p.env.MM.Dir, "dr-backups"), "--id", id,
		"--trust-key", key, "--database-url", target.URL("mattermost"),
		"--config-dir", filepath.Join(dir, "ours-mm", "config"), "--data-dir", filepath.Join(dir, "ours-mm", "data"),
		"--mattermost-bin", filepath.Join(build, "bin", "mattermost"), "--jobs", strconv.Itoa(runtime.NumCPU()))
	tm.StartTimer()
	run, err := runTool(cmd)
	tm.StopTimer()
	if err != nil {
		return nil, err
	}
	res.Ours = *run
	if res.Ours.Note, err = restored(ctx, target, filepath.Join(dir, "ours-mm", "data")); err != nil {
		return nil, err
	}
	if steps := drctlSteps.FindAllStringSubmatch(res.Ours.Log, -1); len(steps) > 0 {
		var parts []string
		for _, m := range steps {
			parts = append(parts, m[1]+" "+m[2])
		}
		res.Ours.Note += " (" + strings.Join(parts, ", ") + ")"
	}
	target.Stop()
	if err := p.restorePeers(ctx, dir, res, tm); err != nil {
		return nil, err
	}
	return res, nil
}

// pitrRestoreRun is the point-in-time restore of ours and the same restore of the peers.
type pitrRestoreRun struct {
	restoreRun
	// Ours is drctl restore --to-latest --pgdata (unpack, recovery settings); OursRecovery
	// PostgreSQL until out of recovery (replaying our WAL archive through drctl wal-fetch);
	// OursFiles drctl restore of the files-only backup into a new data folder.
	OursRecovery, OursFiles toolRun
}

func (r *pitrRestoreRun) OursTotal() time.Duration {
	return r.Ours.Wall + r.OursRecovery.Wall + r.OursFiles.Wall
}

// RestorePITR restores the newest state, ours by point in time (the newest base backup and the
// WAL archive, to the newest archived WAL, then the files of filesID), and the peers' newest
// backups, one after the other, each into new folders.
func (p *peers) RestorePITR(ctx context.Context, filesID string, tm timer) (*pitrRestoreRun, error) {
	res := &pitrRestoreRun{}
	built, key, build, err := p.restoreTools(ctx)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(p.dir, "restore-pitr")
	if err := os.MkdirAll(dir, 0o755); err != nil { // traversable by the cluster's user
		return nil, err
	}
	defer os.RemoveAll(dir)
	// restore_command runs drctl as the cluster's user: a copy it can reach.
	drctl := filepath.Join(dir, "drctl")
	raw, err := os.ReadFile(built)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(drctl, raw, 0o755); err != nil { //nolint:gosec // an executable, for the cluster's user
		return nil, err
	}
	from := filepath.Join(p.env.MM.Dir, "dr-backups")
	// restore_command reads the archive as the cluster's user: the admin grants it read access.
	err = filepath.Walk(from, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chmod(path, fi.Mode().Perm()|0o044|map[bool]os.FileMode{true: 0o011}[fi.IsDir()])
	})
	if err != nil {
		return nil, fmt.Errorf("let the cluster's user read the archive: %w", err)
	}
	pgdata := filepath.Join(dir, "ours-pgdata")
	args := []string{"restore", "--from", from, "--trust-key", key, "--to-latest", "--pgdata", pgdata}
	if p.cred != nil {
		args = append(args, "--pgdata-owner", "postgres")
	}
	tm.StartTimer()
	run, err := runTool(exec.CommandContext(ctx, drctl, args...)) //nolint:gosec // the built tool
	tm.StopTimer()
	if err != nil {
		return nil, err
	}
	res.Ours = *run
	res.Ours.Note, _, _ = strings.Cut(strings.TrimSpace(res.Ours.Note), "\n") // what it unpacked; the rest is advice
	tm.StartTimer()
	t0 := time.Now()
	cluster, err := harness.StartDataDir(ctx, pgdata, filepath.Join(dir, "ours-postgres.log"))
	if err == nil {
		defer cluster.Stop()
		err = waitPromoted(ctx, cluster)
	}
	res.OursRecovery.Wall = time.Since(t0)
	tm.StopTimer()
	if err != nil {
		return nil, fmt.Errorf("start the cluster drctl restored to the newest WAL: %w", err)
	}
	if res.OursRecovery.Note, err = restored(ctx, cluster, ""); err != nil {
		return nil, err
	}
	cluster.Stop()
	data := filepath.Join(dir, "ours-mm", "data")
	tm.StartTimer()
	run, err = runTool(exec.CommandContext(ctx, drctl, "restore", "--from", from, "--id", filesID, "--trust-key", key, //nolint:gosec // the built tool
		"--data-dir", data, "--mattermost-bin", filepath.Join(build, "bin", "mattermost")))
	tm.StopTimer()
	if err != nil {
		return nil, err
	}
	res.OursFiles = *run
	if res.OursFiles.Note, err = restored(ctx, nil, data); err != nil {
		return nil, err
	}
	if err := p.restorePeers(ctx, dir, &res.restoreRun, tm); err != nil {
		return nil, err
	}
	return res, nil
}

// restorePeers restores pgBackRest's newest backup into a new data folder under dir, started
// until PostgreSQL has replayed the archive and left recovery, then restic's newest snapshot
// into a new folder, and sets their parts of res.
func (p *peers) restorePeers(ctx context.Context, dir string, res *restoreRun, tm timer) error {
	pgdata := filepath.Join(dir, "pgbackrest-pgdata")
	if err := os.Mkdir(pgdata, 0o700); err != nil {
		return err
	}
	if p.cred != nil {
		if err := chownTree(pgdata, p.cred); err != nil {
			return err
		}
	}
	tm.StartTimer()
	run, err := p.pgbackrest(ctx, "--pg1-path="+pgdata, "restore")
	tm.StopTimer()
	if err != nil {
		return err
	}
	res.PgBackRest = *run
	tm.StartTimer()
	t0 := time.Now()
	cluster, err := harness.StartDataDir(ctx, pgdata, filepath.Join(dir, "pgbackrest-postgres.log"))
	if err == nil {
		defer cluster.Stop()
		err = waitPromoted(ctx, cluster)
	}
	res.Recovery.Wall = time.Since(t0)
	tm.StopTimer()
	if err != nil {
		return fmt.Errorf("start the cluster pgBackRest restored: %w", err)
	}
	if res.Recovery.Note, err = restored(ctx, cluster, ""); err != nil {
		return err
	}
	cluster.Stop()

	tm.StartTimer()
	run, err = p.restic(ctx, "restore", "latest", "--target", filepath.Join(dir, "restic"))
	tm.StopTimer()
	if err != nil {
		return err
	}
	res.Restic = *run
	// restic restores the data folder under its absolute path.
	res.Restic.Note, err = restored(ctx, nil, filepath.Join(dir, "restic", p.env.MM.Dir, "data"))
	return err
}

// restored says what a restore produced, for the reader to compare with the set: the posts in
// the cluster's mattermost database, the files in the data folder.
func restored(ctx context.Context, pg *harness.Postgres, data string) (string, error) {
	var parts []string
	if pg != nil {
		db, err := pg.Open("mattermost")
		if err != nil {
			return "", err
		}
		defer db.Close()
		var posts int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM posts`).Scan(&posts); err != nil {
			return "", fmt.Errorf("count the restored posts: %w", err)
		}
		parts = append(parts, fmt.Sprintf("%d posts", posts))
	}
	if data != "" {
		var files int
		var bytes int64
		err := filepath.Walk(data, func(_ string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if fi.Mode().IsRegular() {
				files++
				bytes += fi.Size()
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("the restored data folder: %w", err)
		}
		parts = append(parts, fmt.Sprintf("%d files, %s", files, human(bytes)))
	}
	return strings.Join(parts, ", ") + " restored", nil
}

// waitPromoted waits until the cluster has left recovery: hot_standby lets it answer as soon
// as it is consistent, before the archive is replayed.
func waitPromoted(ctx context.Context, pg *harness.Postgres) error {
	db, err := pg.Open("postgres")
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(backupTimeout)
	for {
		var inRecovery bool
		if err := db.QueryRowContext(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery); err != nil {
			return fmt.Errorf("pg_is_in_recovery: %w", err)
		}
		if !inRecovery {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still in recovery after %s", backupTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
