package pgdump

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// RunClient runs a PostgreSQL client program (pg_restore) with args and env, reading stdin
// (nil: none) and writing its standard output to stdout (nil: discarded). Like pg_dump, it
// runs in its own process group, killed when ctx ends and when this process dies (a plugin
// killed mid-drill leaves no pg_restore behind). Its error holds the end of what it printed.
// Input it did not read (pg_restore --list stops after the catalogue) is not an error.
func RunClient(ctx context.Context, path string, env []string, stdin io.Reader, stdout io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, path, args...) //nolint:gosec // the admin's PostgreSQL client
	cmd.Env = env
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	stderr := &tailBuffer{limit: stderrLimit}
	cmd.Stderr = stderr
	// Pdeathsig fires when the thread that started the child exits: keep it until Wait.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return killGroup(cmd.Process) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return canceled(ctx)
		}
		msg := stderr.String()
		if msg == "" {
			msg = "no error output"
		}
		return fmt.Errorf("%s failed (%w): %s", filepath.Base(path), err, msg)
	}
	return nil
}
