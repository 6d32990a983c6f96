package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failpoint"
	walprobe "github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/walarchive"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status/probers"
)

// failoverEnv is what a failover command runs with: the service wired for drctl, and what the
// drive reported.
type failoverEnv struct {
	svc    *failover.Service
	lock   *failover.StoreLock
	actor  failover.Actor
	st     *drSettings
	runner *foregroundRunner
	log    *stderrLog
	notify *notifier // nil: no DR_WEBHOOK_TARGETS
}

// newFailoverEnv wires failover.Service to the destination: the journal and the lock there,
// the trusted document's settings, the status probes drctl status runs, and no Mattermost (its
// steps wait for the plugin).
func newFailoverEnv(ctx context.Context, f *failoverFlags, errOut io.Writer) (*failoverEnv, error) {
	st, err := f.src.load(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(errOut, st.decision.Note)
	d := st.Document
	cfg := failover.DocumentConfig{Document: d, Poll: f.poll}
	setup, err := cfg.Setup(ctx)
	if err != nil {
		return nil, err
	}
	sj, err := failover.NewStoreJournal(st.store)
	if err != nil {
		return nil, err
	}
	host := hostname()
	actor := actorName(host)
	lock, err := failover.NewStoreLock(st.store, failover.Holder{Node: host, Process: os.Getpid(), Actor: actor}, f.lockTTL)
	if err != nil {
		return nil, err
	}
	probes, err := statusProbes(ctx, st, &f.src.s3, os.Getenv(failover.EnvOpenSearchUsername), os.Getenv(failover.EnvOpenSearchPassword))
	if err != nil {
		return nil, err
	}
	notify, err := newNotifier(errOut, host)
	if err != nil {
		return nil, err
	}
	env := &failoverEnv{lock: lock, actor: failover.Actor{ID: "drctl:" + actor, Name: actor}, st: st,
		runner: &foregroundRunner{ctx: ctx, errOut: errOut}, log: &stderrLog{w: errOut}, notify: notify}
	lock.OnLost = env.runner.lost
	env.svc = &failover.Service{
		Journal: failover.CheckedJournal{Journal: sj, Regions: [2]string{setup.Primary, setup.Standby}, Where: st.store.String()},
		Lock:    lock, Config: cfg, Prober: probes, Backups: probes, Runner: env.runner, Log: env.log,
		Observer: failover.ObserverFunc(func(ev failover.Event) { env.event(errOut, ev) }),
		Node:     host, Process: os.Getpid(), Hit: failpoint.Hit, LockExpiry: f.lockTTL,
		Checks: []failover.Check{trustCheck(st)},
	}
	return env, nil
}

// trustCheck records in the preflight (and so in the journal) whether the settings document
// was trusted, or used only because of --allow-untrusted.
func trustCheck(st *drSettings) failover.Check {
	if st.decision.Signer.IsZero() {
		return failover.Check{Name: "DR settings document", State: failover.CheckWarn, Detail: st.decision.Note,
			Fix: "give --trust-key with the public key `/dr version` shows"}
	}
	return failover.Check{Name: "DR settings document", State: failover.CheckPass, Detail: st.decision.Note}
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown-host"
	}
	return h
}

// actorName is $USER@hostname: who runs the runbook, as the journal and the posts name them.
func actorName(host string) string {
	name := os.Getenv("USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	return strings.TrimSpace(name + "@" + host) // "@host" when nobody can be named
}

// statusProbes are drctl status's probes, fresh each time, and the newest verified backup.
type probeSet struct {
	runner *status.Runner
	in     probers.Inputs
}

func statusProbes(ctx context.Context, st *drSettings, s3f *s3Flags, osUser, osPassword string) (*probeSet, error) {
	in := probers.Inputs{Document: st.Document, Credentials: probers.Credentials{OpenSearchUsername: osUser, OpenSearchPassword: osPassword}}
	backupStore := st.store
	if backupStore == nil {
		var err error
		if backupStore, err = documentDestination(ctx, st.Document, s3f); err != nil {
			return nil, err
		}
	}
	if backupStore != nil {
		in.Backups = probers.DestinationBackups(backupStore, backupKeys(st), st.Document.Backups.S3 != nil)
		// The window a point-in-time restore has now: with Mattermost down, how much is lost.
		if keys := backupKeys(st); len(keys) > 0 {
			in.PITRWindows = []status.Prober{probers.DestinationWindow(backupStore, keys[0], walprobe.WindowThresholds{})}
		}
	}
	return &probeSet{runner: status.NewRunner(probers.Build(in), status.WithCacheTTL(0)), in: in}, nil
}

// Check runs the probes.
func (p *probeSet) Check(ctx context.Context) (status.Report, error) { return p.runner.Fresh(ctx) }

// NewestVerified is when the newest backup signed by the trusted key was verified.
func (p *probeSet) NewestVerified(ctx context.Context) (time.Time, error) {
	if p.in.Backups == nil {
		return time.Time{}, nil
	}
	in, err := p.in.Backups(ctx)
	if err != nil {
		return time.Time{}, err
	}
	return in.NewestVerified, nil
}

// foregroundRunner runs the drive in the calling goroutine: drctl waits for the runbook. Its
// context ends when the command's does (Ctrl-C) or when the lock is lost.
type foregroundRunner struct {
	ctx    context.Context
	errOut io.Writer

	mu     sync.Mutex
	cancel context.CancelCauseFunc
}

func (r *foregroundRunner) Go(_ string, fn func(ctx context.Context, job failover.Job)) error {
	ctx, cancel := context.WithCancelCause(r.ctx)
	r.mu.Lock()
	r.cancel = cancel
	r.mu.Unlock()
	defer cancel(nil)
	job := &foregroundJob{errOut: r.errOut}
	fn(ctx, job)
	// The drive has ended: what it left to report runs now, in order.
	for _, f := range job.reports {
		f()
	}
	return nil
}

// foregroundJob is the drive as drctl runs it: progress on stderr.
type foregroundJob struct {
	errOut  io.Writer
	reports []func()
}

func (j *foregroundJob) SetProgress(text string) { fmt.Fprintln(j.errOut, "  …", text) }

func (j *foregroundJob) Report(f func()) { j.reports = append(j.reports, f) }

// lost stops the drive: another holder took the lock over.
func (r *foregroundRunner) lost(err error) {
	fmt.Fprintln(r.errOut, "drctl failover: stopping:", err)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		r.cancel(err)
	}
}

// stderrLog is the service's Logger: warnings go to stderr, and the last "error" is kept, so
// that the command can fail when the drive could not run (the lock was held elsewhere).
type stderrLog struct {
	w   io.Writer
	mu  sync.Mutex
	err string
}

func (l *stderrLog) LogWarn(msg string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	b.WriteString("drctl failover: " + msg)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
		if kv[i] == "error" {
			l.err = fmt.Sprint(kv[i+1])
		}
	}
	fmt.Fprintln(l.w, b.String())
}

func (l *stderrLog) lastError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// event shows the engine's events on stderr and sends them to the webhooks.
func (e *failoverEnv) event(w io.Writer, ev failover.Event) {
	switch ev.Kind {
	case failover.EventStepStarted:
		fmt.Fprintf(w, "[%d/%d] %s: started (attempt %d)\n", ev.Index+1, len(ev.Run.Steps), ev.Step.Title, ev.Step.Attempts)
	case failover.EventStepFinished:
		line := fmt.Sprintf("[%d/%d] %s: %s in %s", ev.Index+1, len(ev.Run.Steps), ev.Step.Title, ev.Step.State, ev.Step.Duration().Round(100*time.Millisecond))
		if ev.Step.Error != "" {
			line += ": " + ev.Step.Error
		} else if ev.Step.Detail != "" {
			line += ": " + ev.Step.Detail
		}
		fmt.Fprintln(w, line)
	case failover.EventRunStopped:
		fmt.Fprintf(w, "runbook %s: %s\n", ev.Run.ID, ev.Run.State)
	}
	e.notify.event(ev)
}
