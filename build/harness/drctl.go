package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

var drctlBuild struct {
	once sync.Once
	path string
	err  error
}

// BuildDrctl builds drctl from this checkout once per test binary (into a temporary folder
// that lives as long as the process) and returns its path. A build is always fresh: a drctl
// left in dist/ by an older `make dist` would test old code.
func BuildDrctl(ctx context.Context) (string, error) {
	b := &drctlBuild
	b.once.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			b.err = err
			return
		}
		dir, err := os.MkdirTemp("", "drctl-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "drctl")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.path, "./server/cmd/drctl") //nolint:gosec // the checkout's own tool
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build drctl: %w\n%s", err, out)
		}
	})
	return b.path, b.err
}

// DrctlResult is how one drctl run ended.
type DrctlResult struct {
	Code           int // exit status; -1 when killed by a signal
	Signal         syscall.Signal
	Stdout, Stderr string
}

// Drctl is a drctl command line with its environment, run with Run or started with Start.
type Drctl struct {
	Bin  string
	Env  []string // added to the test's environment
	Args []string

	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
}

// Start starts it in the background; Wait ends it.
func (d *Drctl) Start(ctx context.Context) error {
	d.cmd = exec.CommandContext(ctx, d.Bin, d.Args...) //nolint:gosec // the built tool
	d.cmd.Env = append(os.Environ(), d.Env...)
	d.cmd.Stdout, d.cmd.Stderr = &d.stdout, &d.stderr
	d.cmd.WaitDelay = 5 * time.Second
	return d.cmd.Start()
}

// Wait waits for it and says how it ended.
func (d *Drctl) Wait() (DrctlResult, error) {
	err := d.cmd.Wait()
	res := DrctlResult{Code: d.cmd.ProcessState.ExitCode(), Stdout: d.stdout.String(), Stderr: d.stderr.String()}
	if ws, ok := d.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return res, err
	}
	return res, nil
}

// RunDrctl runs drctl bin with args and env (added to the test's environment) to its end.
func RunDrctl(ctx context.Context, bin string, env []string, args ...string) (DrctlResult, error) {
	d := &Drctl{Bin: bin, Env: env, Args: args}
	if err := d.Start(ctx); err != nil {
		return DrctlResult{}, err
	}
	return d.Wait()
}

// Pid is the started process's id.
func (d *Drctl) Pid() int { return d.cmd.Process.Pid }
