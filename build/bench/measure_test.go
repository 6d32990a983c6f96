//go:build bench

package bench

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// backupTimeout bounds one backup at the full reference set.
const backupTimeout = 60 * time.Minute

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times (100 on every Linux of interest).
const clockTicks = 100

// pluginPID finds the plugin's process: its executable lives under the server's
// plugins/disaster-recovery/server/dist/.
func pluginPID(env *harness.Env) (int, error) {
	want := filepath.Join(env.MM.Dir, "plugins", harness.PluginID, "server", "dist")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && strings.HasPrefix(exe, want) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no plugin process under %s", want)
}

// procMemory reads VmHWM (peak resident set since the process started) and VmRSS, in bytes.
func procMemory(pid int) (hwm, rss int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmHWM" && k != "VmRSS") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s of %d: %w", k, pid, err)
		}
		if k == "VmHWM" {
			hwm = kb << 10
		} else {
			rss = kb << 10
		}
	}
	return hwm, rss, sc.Err()
}

// procCPU is the CPU time of a process and of its children it has waited for (pg_dump, for
// the plugin).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // field 3 (state) on
	var ticks int64
	for _, field := range []int{14, 15, 16, 17} { // utime stime cutime cstime
		n, err := strconv.ParseInt(fields[field-3], 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// memSampler records a process's peak memory: VmHWM at the end (the kernel's own high-water
// mark, exact since the process started: the plugin is restarted before each measured backup),
// and the highest VmRSS seen every 100 ms, as a cross-check.
type memSampler struct {
	pid     int
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	peakRSS int64
	hwm     int64
}

func sampleMemory(pid int) *memSampler {
	m := &memSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memSampler) sample() {
	hwm, rss, err := procMemory(m.pid)
	if err != nil {
		return
	}
	m.mu.Lock()
	m.peakRSS = max(m.peakRSS, rss)
	m.hwm = max(m.hwm, hwm)
	m.mu.Unlock()
}

// Stop ends the sampling and returns the peak (VmHWM, and the sampled VmRSS peak).
func (m *memSampler) Stop() (hwm, sampledRSS int64) {
	close(m.stop)
	<-m.done
	m.sample()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hwm, m.peakRSS
}

// manifest is the part of a backup's manifest.json (server/internal/backup.Manifest, which
// build/ cannot import) that the benchmark reads.
type manifest struct {
	ID                string    `json:"id"`
	StartedAt         time.Time `json:"started_at"`
	FinishedAt        time.Time `json:"finished_at"`
	MattermostVersion string    `json:"mattermost_version"`
	PluginVersion     string    `json:"plugin_version"`
	PgDumpVersion     string    `json:"pg_dump_version"`
	Objects           []struct {
		Component string `json:"component"`
		Size      int64  `json:"size"`
		PlainSize int64  `json:"plain_size"`
	} `json:"objects"`
	Files *struct {
		Count          int64 `json:"count"`
		Bytes          int64 `json:"bytes"`
		Unchanged      int64 `json:"unchanged"`
		Hashed         int64 `json:"hashed"`
		NewPoolObjects int64 `json:"new_pool_objects"`
		BytesUploaded  int64 `json:"bytes_uploaded"`
	} `json:"files"`
}

// Size is the stored size of the backup's own objects (pool objects not included).
func (m *manifest) Size() int64 {
	var n int64
	for _, o := range m.Objects {
		n += o.Size
	}
	return n
}

// backupRun is one measured backup of the plugin.
type backupRun struct {
	Args       string
	Wall       time.Duration // from the slash command to the bot's result post
	Engine     time.Duration // the manifest's FinishedAt - StartedAt
	CPU        time.Duration // plugin process + pg_dump
	PeakRSS    int64         // VmHWM of the plugin process
	SampledRSS int64
	Manifest   *manifest
	Pool       int64 // bytes in the destination's pool after the run
}

var completed = regexp.MustCompile("Backup `([0-9A-Za-z._-]+)` completed")

// timer is what runBackup starts and stops around what it measures (a *testing.B).
type timer interface {
	StartTimer()
	StopTimer()
}

// runBackup restarts the plugin (so that VmHWM covers this backup alone), then runs
// `/dr backup now <args>` as the admin and waits for the bot's result in the ops channel.
func runBackup(ctx context.Context, env *harness.Env, args string, tm timer) (*backupRun, error) {
	return runCommand(ctx, env, strings.TrimSpace("/dr backup now "+args), tm)
}

// runCommand is runBackup for any command that starts a backup job (`/dr backup base`).
func runCommand(ctx context.Context, env *harness.Env, command string, tm timer) (*backupRun, error) {
	args := strings.TrimPrefix(command, "/dr backup now ")
	if err := env.RestartPlugin(ctx); err != nil {
		return nil, err
	}
	pid, err := pluginPID(env)
	if err != nil {
		return nil, err
	}
	cpu0, err := procCPU(pid)
	if err != nil {
		return nil, err
	}
	syscall.Sync() // start with nothing dirty in the page cache
	mem := sampleMemory(pid)
	since := model.GetMillis()
	tm.StartTimer()
	t0 := time.Now()
	resp, err := env.Command(ctx, env.Admin, "", command)
	if err != nil {
		mem.Stop()
		return nil, err
	}
	if !strings.Contains(resp.Text, "started") {
		mem.Stop()
		return nil, fmt.Errorf("%s: %s", command, resp.Text)
	}
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "Backup `", backupTimeout)
	wall := time.Since(t0)
	tm.StopTimer()
	hwm, sampled := mem.Stop()
	if err != nil {
		return nil, err
	}
	m := completed.FindStringSubmatch(post.Message)
	if m == nil {
		return nil, fmt.Errorf("the backup did not complete: %s", post.Message)
	}
	cpu1, err := procCPU(pid)
	if err != nil {
		return nil, fmt.Errorf("the plugin process %d ended during the backup (%w): the RSS figures would be wrong", pid, err)
	}
	dir := filepath.Join(env.MM.Dir, "dr-backups")
	raw, err := os.ReadFile(filepath.Join(dir, "backups", m[1], "manifest.json"))
	if err != nil {
		return nil, err
	}
	var man manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		return nil, err
	}
	pool, err := duBytes(filepath.Join(dir, "pool"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return &backupRun{Args: args, Wall: wall, Engine: man.FinishedAt.Sub(man.StartedAt), CPU: cpu1 - cpu0, PeakRSS: hwm, SampledRSS: sampled,
		Manifest: &man, Pool: pool}, nil
}

// duBytes is the total size of the regular files below dir.
func duBytes(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// baselineRun is the admin's serial backup: pg_dump -Fc, then tar czf of the data folder.
type baselineRun struct {
	PgDump, Tar       time.Duration
	PgDumpCPU, TarCPU time.Duration
	DumpSize, TarSize int64
	PgDumpPath        string
	PgDumpVersion     string
	// Dump and Archive are kept for the baseline's restore (RestoreBaseline), then removed.
	Dump, Archive string
}

// newestPgDump is the pg_dump the plugin picks by default: the newest
// /usr/lib/postgresql/<major>/bin/pg_dump, else the one in PATH.
func newestPgDump() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	sort.Slice(matches, func(i, j int) bool { return major(matches[i]) > major(matches[j]) })
	if len(matches) > 0 {
		return matches[0], nil
	}
	return exec.LookPath("pg_dump")
}

func major(pgDump string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(pgDump))))
	return n
}

// runBaseline runs, one after the other as an admin's script would, `pg_dump -Fc` of the
// Mattermost database and `tar czf` of the server's data folder, both into a folder on the
// same disk as the plugin's backups. pg_dump fsyncs its output before it exits (its default);
// the tar archive is fsynced after tar, inside tar's time, since the plugin's local store
// fsyncs every object it writes.
func runBaseline(ctx context.Context, env *harness.Env) (*baselineRun, error) {
	pgDump, err := newestPgDump()
	if err != nil {
		return nil, err
	}
	out := filepath.Join(env.Dir, "baseline")
	if err := os.RemoveAll(out); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	res := &baselineRun{PgDumpPath: pgDump}
	if v, err := exec.CommandContext(ctx, pgDump, "--version").Output(); err == nil {
		res.PgDumpVersion = strings.TrimSpace(string(v))
	}
	run := func(name string, args []string, dir string) (time.Duration, time.Duration, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		t0 := time.Now()
		err := cmd.Run()
		took := time.Since(t0)
		if err != nil {
			return 0, 0, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
		}
		return took, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
	}
	dump := filepath.Join(out, "mattermost.dump")
	syscall.Sync()
	if res.PgDump, res.PgDumpCPU, err = run(pgDump, []string{"-Fc", "-f", dump, env.PG.URL("mattermost")}, out); err != nil {
		return nil, err
	}
	archive := filepath.Join(out, "data.tar.gz")
	t0 := time.Now()
	if res.Tar, res.TarCPU, err = run("tar", []string{"czf", archive, "-C", env.MM.Dir, "data"}, out); err != nil {
		return nil, err
	}
	if err := fsyncFile(archive); err != nil {
		return nil, err
	}
	res.Tar = time.Since(t0)
	for p, n := range map[string]*int64{dump: &res.DumpSize, archive: &res.TarSize} {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		*n = fi.Size()
	}
	res.Dump, res.Archive = dump, archive
	return res, nil
}

// baselineRestore is the restore an admin with the baseline would run: pg_restore -j of the
// dump into a new cluster's empty database, then tar xzf of the data folder.
type baselineRestore struct {
	PgRestore, Tar       time.Duration
	PgRestoreCPU, TarCPU time.Duration
	Note                 string
}

func (b *baselineRestore) Total() time.Duration { return b.PgRestore + b.Tar }

// RestoreBaseline restores the baseline's dump and archive under dir with jobs pg_restore
// jobs, each part timed, and then removes them (a few GB at the full set).
func (bl *baselineRun) Restore(ctx context.Context, dir string, jobs int, tm timer) (*baselineRestore, error) {
	defer os.RemoveAll(filepath.Dir(bl.Dump))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	target, err := harness.StartPostgres(ctx, filepath.Join(dir, "pg"))
	if err != nil {
		return nil, fmt.Errorf("the cluster to restore the baseline into: %w", err)
	}
	defer target.Stop()
	if err := target.CreateDatabase(ctx, "mattermost"); err != nil {
		return nil, err
	}
	pgRestore := filepath.Join(filepath.Dir(bl.PgDumpPath), "pg_restore")
	res := &baselineRestore{}
	tm.StartTimer()
	run, err := runTool(exec.CommandContext(ctx, pgRestore, "-j", strconv.Itoa(jobs), "-d", target.URL("mattermost"), bl.Dump)) //nolint:gosec // the baseline's pg_restore
	tm.StopTimer()
	if err != nil {
		return nil, err
	}
	res.PgRestore, res.PgRestoreCPU = run.Wall, run.CPU
	data := filepath.Join(dir, "mm")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	tm.StartTimer()
	run, err = runTool(exec.CommandContext(ctx, "tar", "xzf", bl.Archive, "-C", data)) //nolint:gosec // the baseline's archive
	tm.StopTimer()
	if err != nil {
		return nil, err
	}
	res.Tar, res.TarCPU = run.Wall, run.CPU
	res.Note, err = restored(ctx, target, filepath.Join(data, "data"))
	return res, err
}

func fsyncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// human formats a byte count.
func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// walSegment is a completed WAL segment's name in pg_receivewal's spool.
var walSegment = regexp.MustCompile(`^[0-9A-F]{24}$`)

// waitArchiving waits until the plugin's WAL archiver has claimed the local destination.
func waitArchiving(ctx context.Context, env *harness.Env) error {
	claim := filepath.Join(env.MM.Dir, "dr-backups", "wal", "system.json")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if _, err := os.Stat(claim); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("WAL archiving did not start within 3 minutes (no %s)", claim)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// waitArchived waits until the WAL archiver has received everything written so far and stored
// every completed segment (what remains is the segment being written, stored within
// WALArchiveMaxDelaySeconds), and says how long that took. Without archiving (no slot) it
// returns at once.
func waitArchived(ctx context.Context, env *harness.Env, db *sql.DB) (time.Duration, error) {
	t0 := time.Now()
	var target string
	if err := db.QueryRowContext(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&target); err != nil {
		return 0, err
	}
	var slots int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'mattermost_dr_archive'`).Scan(&slots); err != nil || slots == 0 {
		return 0, err
	}
	spool := filepath.Join(env.MM.Dir, "dr-wal-spool")
	deadline := time.Now().Add(backupTimeout)
	for {
		var received bool
		err := db.QueryRowContext(ctx, `SELECT coalesce(bool_or(write_lsn >= $1::pg_lsn), false) FROM pg_stat_replication WHERE application_name = 'pg_receivewal'`, target).Scan(&received)
		if err != nil {
			return 0, err
		}
		if received {
			entries, err := os.ReadDir(spool)
			if err != nil {
				return 0, err
			}
			pending := 0
			for _, e := range entries {
				if walSegment.MatchString(e.Name()) {
					pending++
				}
			}
			if pending == 0 {
				return time.Since(t0), nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the WAL archiver did not store the WAL up to %s within %s", target, backupTimeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
