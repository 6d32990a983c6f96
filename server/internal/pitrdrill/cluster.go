package pitrdrill

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pitr"
)

// serverBin finds the folder of the postgres program of major version major: binDir when
// given, else Debian's /usr/lib/postgresql/<major>/bin, else the folder of pgDumpPath's
// pg_dump (a server package installs beside its client programs).
func serverBin(ctx context.Context, binDir, pgDumpPath, major string) (string, error) {
	var candidates []string
	if binDir != "" {
		candidates = []string{binDir}
	} else {
		candidates = append(candidates, filepath.Join("/usr/lib/postgresql", major, "bin"))
		if pgDumpPath != "" {
			dir := pgDumpPath
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				dir = filepath.Dir(dir)
			}
			candidates = append(candidates, dir)
		}
	}
	var tried []string
	for _, dir := range candidates {
		path := filepath.Join(dir, "postgres")
		out, err := exec.CommandContext(ctx, path, "--version").Output()
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", path, err))
			continue
		}
		got := versionMajor(string(out))
		if got != major {
			tried = append(tried, fmt.Sprintf("%s is PostgreSQL %s", path, got))
			continue
		}
		return dir, nil
	}
	return "", fmt.Errorf("the base backup is of PostgreSQL %[1]s and the drill needs that version's server programs on this node (%[2]s): install them (Debian/Ubuntu: apt-get install postgresql-%[1]s; they are not started)",
		major, strings.Join(tried, "; "))
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// versionMajor is 15 in "postgres (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)".
func versionMajor(out string) string {
	if m := versionRE.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return "?"
}

// cluster is the scratch cluster's postmaster.
type cluster struct {
	cmd  *exec.Cmd
	done chan struct{}
	sock string
	log  string
}

// drillPort names the socket file only: the cluster listens on no TCP port.
const drillPort = "5432"

// startCluster starts postgres on pgdata. The settings given here override the restored
// ones that would reach out or would not fit: no TCP listener, a socket only the drill can
// reach, the drill's pg_hba.conf, messages in English (the drill reads them), no hot standby (it answers once promoted), no libraries
// preloaded (the primary's may not be installed here) and modest shared memory.
func startCluster(ctx context.Context, bin, pgdata, sock, logPath string, owner *pitr.Owner) (*cluster, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	args := []string{"-D", pgdata, "-p", drillPort,
		"-c", "listen_addresses=", "-c", "unix_socket_directories=" + sock,
		"-c", "hba_file=" + filepath.Join(pgdata, "pg_hba.conf"), "-c", "ident_file=" + filepath.Join(pgdata, "pg_ident.conf"),
		"-c", "hot_standby=off", "-c", "shared_preload_libraries=", "-c", "shared_buffers=128MB",
		"-c", "logging_collector=off", "-c", "log_destination=stderr", "-c", "archive_mode=off",
		"-c", "cluster_name=dr-drill", "-c", "fsync=off", "-c", "lc_messages=C"}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "postgres"), args...) //nolint:gosec // the server program found by serverBin
	// A cancelled drill stops the cluster as stop does: immediate shutdown, its children with it.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 15 * time.Second
	cmd.Stdout, cmd.Stderr = logf, logf
	// And a plugin that dies mid-drill takes it along: an orphaned scratch cluster would hold
	// its memory and its folder until someone noticed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	if owner != nil && os.Geteuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(owner.UID), Gid: uint32(owner.GID)} //nolint:gosec // from the user database
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the scratch cluster: %w", err)
	}
	c := &cluster{cmd: cmd, done: make(chan struct{}), sock: sock, log: logPath}
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// waitPromoted waits until the recovery reached the restore point and the cluster promoted
// (with hot_standby off it takes no connection before), and connects to database.
func (c *cluster) waitPromoted(ctx context.Context, user, database string, timeout time.Duration) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable connect_timeout=5",
		kvQuote(c.sock), drillPort, kvQuote(user), kvQuote(database)))
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	var last error
	for {
		select {
		case <-c.done:
			if ctx.Err() != nil { // stopped by the cancellation
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("the scratch cluster stopped during recovery: %s", c.logTail(15))
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			var inRecovery bool
			if err = conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery); err == nil && !inRecovery {
				return conn, nil
			}
			_ = conn.Close(ctx)
		}
		last = err
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the scratch cluster did not finish its recovery within %s (last: %w): %s", timeout, last, c.logTail(15))
		}
	}
}

// stop ends the cluster at once (its data is thrown away): SIGQUIT, then SIGKILL.
func (c *cluster) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
}

// logText is the scratch cluster's log ("" when unreadable).
func (c *cluster) logText() string {
	b, _ := os.ReadFile(c.log)
	return string(b)
}

// logTail is the end of the scratch cluster's log, for an error: what PostgreSQL said.
func (c *cluster) logTail(n int) string {
	b, err := os.ReadFile(c.log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "PostgreSQL's log ends with:\n" + strings.Join(lines, "\n")
}

// kvQuote quotes a libpq key/value connection string value.
func kvQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
