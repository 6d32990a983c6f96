package failover_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/nodes"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

const east, west = "us-east-1", "us-west-2"

// Fakes of the service's interfaces: the rules are what is tested here; the steps against
// real systems are tested in runbook_test.go and postgres_test.go.

type fakeLock struct {
	mu    sync.Mutex
	held  bool
	beat  *failover.Heartbeat
	beats int
}

func (l *fakeLock) Acquire(context.Context, time.Duration) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		return nil, failover.ErrLocked
	}
	l.held = true
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.held = false
	}, nil
}

func (l *fakeLock) Beat(_ context.Context, hb failover.Heartbeat) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.beat, l.beats = &hb, l.beats+1
	return nil
}

func (l *fakeLock) LastBeat(context.Context) (*failover.Heartbeat, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.beat == nil {
		return nil, nil
	}
	hb := *l.beat
	return &hb, nil
}

func (l *fakeLock) ClearBeat(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.beat = nil
	return nil
}

type fakeConfig struct {
	err  error
	live failover.Live
}

func (c *fakeConfig) Setup(context.Context) (failover.Setup, error) {
	return failover.Setup{Primary: east, Standby: west}, c.err
}

func (c *fakeConfig) Live(context.Context) (failover.Live, error) { return c.live, nil }

type fakeProber struct{}

func (fakeProber) Check(context.Context) (status.Report, error) {
	return status.Report{Verdict: "healthy"}, nil
}

type fakeBackups struct {
	newest time.Time
	err    error
}

func (b *fakeBackups) NewestVerified(context.Context) (time.Time, error) { return b.newest, b.err }

type fakeNodes struct{ src *nodeSource }

func (n fakeNodes) Reports(ctx context.Context) ([]nodes.NodeReport, error) { return n.src.get(ctx) }

// syncRunner drives in the foreground (as drctl does), so a call returns once the drive ended.
// It runs the job's reports after the drive, as the plugin's job runner does once the slot is
// free, and records whether it was busy at each post (busyAt).
type syncRunner struct {
	mu      sync.Mutex
	busy    error
	calls   int
	running bool
}

func (r *syncRunner) Go(_ string, fn func(context.Context, failover.Job)) error {
	r.mu.Lock()
	r.calls++
	busy := r.busy
	r.running = busy == nil
	r.mu.Unlock()
	if busy != nil {
		return busy
	}
	j := &syncJob{}
	fn(context.Background(), j)
	r.mu.Lock()
	r.running = false
	r.mu.Unlock()
	for _, f := range j.reports {
		f()
	}
	return nil
}

func (r *syncRunner) isRunning() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running
}

type syncJob struct{ reports []func() }

func (j *syncJob) SetProgress(string) {}
func (j *syncJob) Report(f func())    { j.reports = append(j.reports, f) }

type fakeAudit struct {
	mu      sync.Mutex
	entries []string
}

func (a *fakeAudit) Append(e audit.Entry) (audit.Record, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e.Action+" "+e.Target+" "+string(e.Outcome))
	return audit.Record{}, nil
}

func (a *fakeAudit) has(prefix, outcome string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.entries {
		if strings.HasPrefix(e, prefix) && strings.HasSuffix(e, " "+outcome) {
			return true
		}
	}
	return false
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a service with every capability (the plugin's case) over an in-memory journal.
// Nothing is configured, so the database step waits for a confirmation and the DNS step is
// manual: every rule can be driven without real systems.
type fixture struct {
	svc      *failover.Service
	lock     *fakeLock
	runner   *syncRunner
	ann      *announcer
	settings *settings
	nodes    *nodeSource
	audit    *fakeAudit
	clock    *fakeClock
	backups  *fakeBackups
	config   *fakeConfig
}

var admin = failover.Actor{ID: "u1", Name: "alice"}

func newFixture() *fixture {
	f := &fixture{lock: &fakeLock{}, runner: &syncRunner{}, ann: &announcer{teams: map[string]int{}}, settings: &settings{primary: east},
		nodes: &nodeSource{}, audit: &fakeAudit{}, clock: &fakeClock{now: time.Now()}, backups: &fakeBackups{newest: time.Now().Add(-time.Hour)},
		config: &fakeConfig{live: failover.Live{Regions: map[string]failover.RegionSettings{east: {}, west: {}}, Poll: time.Millisecond}}}
	f.nodes.set(west)
	f.svc = &failover.Service{
		Journal: failover.NewKVJournal(&pluginapi.MemoryStore{}), Lock: f.lock, Config: f.config, Prober: fakeProber{}, Backups: f.backups,
		Runner: f.runner, Clock: f.clock, Announcer: f.ann, Settings: f.settings, Nodes: fakeNodes{f.nodes}, Audit: f.audit,
		Node: "node-a", Process: 100,
	}
	return f
}

// withoutMattermost is the same deployment run from a shell: no posts, settings, node
// reports or audit trail, the same journal and lock.
func (f *fixture) withoutMattermost() *failover.Service {
	return &failover.Service{Journal: f.svc.Journal, Lock: f.lock, Config: f.config, Prober: fakeProber{}, Backups: f.backups,
		Runner: f.runner, Clock: f.clock, Node: "laptop", Process: 7}
}

func (f *fixture) start(t *testing.T) *failover.Run {
	t.Helper()
	_, err := f.svc.Start(context.Background(), failover.Request{Kind: failover.KindFailover, To: west, Mode: failover.Switchover, Actor: admin})
	require.NoError(t, err)
	return f.load(t)
}

func (f *fixture) load(t *testing.T) *failover.Run {
	t.Helper()
	run, err := f.svc.Current(context.Background())
	require.NoError(t, err)
	require.NotNil(t, run)
	return run
}

// set rewrites the journaled run (a crash, another node's work).
func (f *fixture) set(t *testing.T, fn func(r *failover.Run)) {
	t.Helper()
	_, err := f.svc.Journal.Update(context.Background(), func(r *failover.Run) (*failover.Run, error) {
		fn(r)
		return r, nil
	})
	require.NoError(t, err)
}

func (f *fixture) announcements() int {
	f.ann.mu.Lock()
	defer f.ann.mu.Unlock()
	n := 0
	for _, m := range f.ann.ops {
		if strings.Contains(m, "has started**") {
			n++
		}
	}
	return n
}

func TestServiceStartRunsUntilTheDatabaseWaits(t *testing.T) {
	f := newFixture()
	run := f.start(t)
	assert.Equal(t, failover.RunWaiting, run.State)
	assert.Equal(t, failover.StepDone, run.Step(failover.KindAnnounce).State)
	assert.Equal(t, failover.StepWaiting, run.Step(failover.KindDatabase).State)
	assert.Equal(t, 1, f.announcements())
	assert.True(t, f.audit.has("failover.start "+run.ID, "started"))
	assert.True(t, f.audit.has("failover.wait "+run.ID, "started"))
	assert.Nil(t, f.lock.beat, "the heartbeat is cleared when the drive stops")
	assert.Positive(t, f.lock.beats)
	assert.False(t, f.lock.held, "the lock is released")
	f.ann.mu.Lock()
	assert.Len(t, f.ann.direct, 1, "the result also goes to the admin who started it")
	f.ann.mu.Unlock()
}

func TestServiceStartRefusedWhileActive(t *testing.T) {
	for _, state := range []failover.RunState{failover.RunRunning, failover.RunWaiting, failover.RunFailed, failover.RunInterrupted, failover.RunForPlugin,
		failover.RunCompleted, failover.RunAborted} {
		t.Run(string(state), func(t *testing.T) {
			f := newFixture()
			first := f.start(t)
			f.set(t, func(r *failover.Run) { r.State = state })
			_, err := f.svc.Start(context.Background(), failover.Request{Kind: failover.KindFailover, To: west, Mode: failover.Switchover, Actor: admin})
			if state.Terminal() {
				require.NoError(t, err)
				assert.NotEqual(t, first.ID, f.load(t).ID)
				return
			}
			require.ErrorIs(t, err, failover.ErrActive)
			assert.Contains(t, err.Error(), "runbook `"+first.ID+"`")
			assert.Equal(t, first.ID, f.load(t).ID)
		})
	}
}

// Two admins start at once: the journal's compare-and-set lets exactly one through.
func TestServiceConcurrentStartsOneWins(t *testing.T) {
	f := newFixture()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.Start(context.Background(), failover.Request{Kind: failover.KindFailover, To: west, Mode: failover.Switchover, Actor: admin})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			assert.ErrorIs(t, err, failover.ErrActive)
		}
	}
	assert.Equal(t, 1, ok)
	assert.Equal(t, 1, f.announcements())
}

// Another holder keeps the lock: the journaled runbook is not run here, and the admin is told.
func TestServiceDriveRefusedWhileAnotherHolderHasTheLock(t *testing.T) {
	f := newFixture()
	f.lock.held = true
	_, err := f.svc.Start(context.Background(), failover.Request{Kind: failover.KindFailover, To: west, Mode: failover.Switchover, Actor: admin})
	require.NoError(t, err, "the runbook is journaled; the drive reports the lock")
	run := f.load(t)
	assert.Equal(t, failover.StepPending, run.Steps[0].State)
	assert.Equal(t, 0, f.announcements())
	f.ann.mu.Lock()
	defer f.ann.mu.Unlock()
	require.NotEmpty(t, f.ann.direct)
	assert.Contains(t, f.ann.direct[0], "did not start here: another node holds the runbook lock")
}

func TestServiceStartRunnerBusy(t *testing.T) {
	f := newFixture()
	f.runner.busy = errors.New("a failover job is still running")
	_, err := f.svc.Start(context.Background(), failover.Request{Kind: failover.KindFailover, To: west, Mode: failover.Switchover, Actor: admin})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is journaled but could not start here: a failover job is still running")
	assert.Equal(t, failover.RunRunning, f.load(t).State)
}

func TestServicePreflightRefusal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backups fakeBackups
		mode    failover.Mode
		force   bool
		want    string // "" : starts
		forced  bool
	}{
		{name: "fresh backup", backups: fakeBackups{newest: time.Now().Add(-time.Hour)}, mode: failover.Switchover},
		{name: "never verified", mode: failover.Switchover, want: "preflight checks fail, fix them, or add --force"},
		{name: "never verified, forced", mode: failover.Switchover, force: true, forced: true},
		{name: "stale, failover mode warns", backups: fakeBackups{newest: time.Now().Add(-72 * time.Hour)}, mode: failover.Failover},
		{name: "record unreadable", backups: fakeBackups{err: errors.New("kv down")}, mode: failover.Switchover, want: "cannot read when a backup was last verified: kv down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			*f.backups = tc.backups
			_, err := f.svc.Start(context.Background(), failover.Request{Kind: failover.KindFailover, To: west, Mode: tc.mode, Force: tc.force, Actor: admin})
			if tc.want != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				run, err := f.svc.Current(context.Background())
				require.NoError(t, err)
				assert.Nil(t, run, "nothing is journaled")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.forced, f.load(t).Forced)
		})
	}
}

func TestServicePlanDirection(t *testing.T) {
	for _, tc := range []struct {
		name     string
		to       string
		setupErr error
		want     string
	}{
		{name: "to the standby", to: "US-WEST-2"},
		{name: "to the primary", to: east, want: "us-east-1 is the primary region already (the standby is us-west-2)"},
		{name: "unknown region", to: "eu-west-1", want: `unknown region "eu-west-1": the primary region is us-east-1 and the standby us-west-2`},
		{name: "settings unusable", to: west, setupErr: errors.New("a failover needs two regions"), want: "a failover needs two regions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			f.config.err = tc.setupErr
			plan, err := f.svc.Plan(context.Background(), failover.Request{Kind: failover.KindFailover, To: tc.to, Mode: failover.Switchover, Actor: admin})
			if tc.want != "" {
				require.EqualError(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, east, plan.Run.From)
			assert.Equal(t, west, plan.Run.To)
			assert.Equal(t, "alice", plan.Run.Actor)
			assert.False(t, plan.Blocked)
			run, err := f.svc.Current(context.Background())
			require.NoError(t, err)
			assert.Nil(t, run, "a plan changes nothing")
		})
	}
}

func TestServiceConfirm(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, f *fixture)
		err   error
	}{
		{name: "waiting", setup: func(t *testing.T, f *fixture) { f.start(t) }},
		{name: "no runbook", setup: func(*testing.T, *fixture) {}, err: failover.ErrNoRun},
		{name: "failed, not waiting", setup: func(t *testing.T, f *fixture) {
			f.start(t)
			f.set(t, func(r *failover.Run) {
				r.State = failover.RunFailed
				r.Step(failover.KindDatabase).State = failover.StepFailed
			})
		}, err: failover.ErrNotWaiting},
		{name: "completed", setup: func(t *testing.T, f *fixture) {
			f.start(t)
			f.set(t, func(r *failover.Run) { r.State = failover.RunCompleted })
		}, err: failover.ErrNotActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			tc.setup(t, f)
			_, err := f.svc.Confirm(context.Background(), failover.Actor{ID: "u2", Name: "bob"})
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			run := f.load(t)
			assert.Equal(t, failover.RunCompleted, run.State)
			db := run.Step(failover.KindDatabase)
			assert.Equal(t, failover.StepDone, db.State)
			assert.Equal(t, "bob", db.ConfirmedBy)
			assert.Equal(t, west, f.settings.PrimaryRegion())
			assert.True(t, f.audit.has("failover.confirm "+run.ID+"/database", "succeeded"))
			assert.True(t, f.audit.has("failover.complete "+run.ID, "succeeded"))
		})
	}
}

// The result of a runbook is posted once the runner is free: an admin (or a test) who reads
// "completed" and answers with a failback at once must not find the runbook still busy.
func TestServiceResultPostedOnceTheRunnerIsFree(t *testing.T) {
	f := newFixture()
	f.start(t)
	busyAtSummary := true
	f.ann.onOps = func(m string) {
		if strings.Contains(m, "completed") {
			busyAtSummary = f.runner.isRunning()
		}
	}
	_, err := f.svc.Confirm(context.Background(), failover.Actor{ID: "u2", Name: "bob"})
	require.NoError(t, err)
	require.Equal(t, failover.RunCompleted, f.load(t).State)
	assert.False(t, busyAtSummary, "the completed summary was posted while the runner was still busy")
}

func TestServiceResume(t *testing.T) {
	for _, tc := range []struct {
		name string
		// crash rewrites the run the fixture started (it waits at the database step).
		crash func(f *fixture, r *failover.Run)
		want  string // error; "" resumes
	}{
		{name: "waiting: looks again", crash: func(*fixture, *failover.Run) {}},
		{name: "failed", crash: func(_ *fixture, r *failover.Run) {
			r.State = failover.RunFailed
			r.Step(failover.KindDatabase).State = failover.StepFailed
		}},
		{name: "interrupted", crash: func(_ *fixture, r *failover.Run) {
			r.State = failover.RunInterrupted
			r.Step(failover.KindDatabase).State = failover.StepRunning
		}},
		{name: "running, its holder beats", crash: func(f *fixture, r *failover.Run) {
			r.State = failover.RunRunning
			f.lock.beat = &failover.Heartbeat{Run: r.ID, Node: "node-b", Process: 1, At: f.clock.Now()}
		}, want: "is running (node `node-a`)"},
		{name: "running, its holder died", crash: func(f *fixture, r *failover.Run) {
			r.State = failover.RunRunning
			r.Step(failover.KindDatabase).State = failover.StepRunning
			f.lock.beat = &failover.Heartbeat{Run: r.ID, Node: "node-b", Process: 1, At: f.clock.Now().Add(-31 * time.Second)}
		}},
		{name: "completed", crash: func(_ *fixture, r *failover.Run) { r.State = failover.RunCompleted }, want: "there is nothing to resume"},
		{name: "aborted", crash: func(_ *fixture, r *failover.Run) { r.State = failover.RunAborted }, want: "there is nothing to resume"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			f.start(t)
			f.set(t, func(r *failover.Run) { tc.crash(f, r) })
			_, err := f.svc.Resume(context.Background(), failover.Actor{ID: "u2", Name: "bob"})
			if tc.want != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				return
			}
			require.NoError(t, err)
			run := f.load(t)
			assert.Equal(t, 1, f.announcements(), "the finished announcement is not posted again")
			assert.Equal(t, 1, run.Step(failover.KindAnnounce).Attempts)
			assert.Equal(t, 2, run.Step(failover.KindDatabase).Attempts, "the unfinished step runs again")
			assert.Equal(t, failover.StepWaiting, run.Step(failover.KindDatabase).State, "nothing promoted it: it still waits")
			assert.True(t, f.audit.has("failover.resume "+run.ID, "started"))
		})
	}
}

func TestServiceResumeNoRun(t *testing.T) {
	_, err := newFixture().svc.Resume(context.Background(), admin)
	require.ErrorIs(t, err, failover.ErrNoRun)
}

func TestServiceAbort(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, f *fixture)
		state failover.RunState // after the abort
		err   error
	}{
		{name: "no runbook", setup: func(*testing.T, *fixture) {}, err: failover.ErrNoRun},
		{name: "waiting: ends at once", setup: func(t *testing.T, f *fixture) { f.start(t) }, state: failover.RunAborted},
		{name: "holder died, lock expired: ends at once", setup: func(t *testing.T, f *fixture) {
			f.start(t)
			f.set(t, func(r *failover.Run) { r.State = failover.RunRunning })
		}, state: failover.RunAborted},
		{name: "running elsewhere: stops before its next step", setup: func(t *testing.T, f *fixture) {
			run := f.start(t)
			f.set(t, func(r *failover.Run) { r.State = failover.RunRunning })
			f.lock.held = true
			f.lock.beat = &failover.Heartbeat{Run: run.ID, Node: "node-b", Process: 1, At: f.clock.Now()}
		}, state: failover.RunRunning},
		{name: "completed", setup: func(t *testing.T, f *fixture) {
			f.start(t)
			f.set(t, func(r *failover.Run) { r.State = failover.RunCompleted })
		}, err: failover.ErrNotActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			tc.setup(t, f)
			run, err := f.svc.Abort(context.Background(), failover.Actor{ID: "u2", Name: "bob"})
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.state, run.State)
			assert.True(t, run.AbortRequested)
			assert.Equal(t, "bob", run.AbortedBy)
			outcome := "succeeded"
			if tc.state != failover.RunAborted {
				outcome = "started"
			}
			assert.True(t, f.audit.has("failover.abort "+run.ID, outcome))
		})
	}
}

// An abort requested while another node runs the runbook stops it before its next step.
func TestServiceAbortRequestedStopsTheDrive(t *testing.T) {
	f := newFixture()
	run := f.start(t)
	f.set(t, func(r *failover.Run) { r.State = failover.RunRunning })
	f.lock.held = true
	f.lock.beat = &failover.Heartbeat{Run: run.ID, Node: "node-b", Process: 1, At: f.clock.Now()}
	_, err := f.svc.Abort(context.Background(), admin)
	require.NoError(t, err)
	f.lock.held, f.lock.beat = false, nil
	_, err = f.svc.Resume(context.Background(), admin)
	require.NoError(t, err)
	assert.Equal(t, failover.RunAborted, f.load(t).State)
}

func TestServiceFailback(t *testing.T) {
	for _, tc := range []struct {
		name string
		last func(t *testing.T, f *fixture) // the runbook before the failback
		want string                         // error; "" plans
	}{
		{name: "no failover yet", last: func(*testing.T, *fixture) {}, want: "no failover to fail back from"},
		{name: "last still active", last: func(t *testing.T, f *fixture) { f.start(t) }, want: "resume it (`/dr failover resume`) or abort it"},
		{name: "last was a completed failback", last: func(t *testing.T, f *fixture) {
			f.start(t)
			f.set(t, func(r *failover.Run) { r.Kind, r.State = failover.KindFailback, failover.RunCompleted })
		}, want: "was a completed failback to us-west-2: there is nothing to fail back"},
		{name: "last completed with a deferred step", last: func(t *testing.T, f *fixture) {
			f.start(t)
			f.set(t, func(r *failover.Run) {
				r.State = failover.RunCompleted
				r.Step(failover.KindOpenSearchFollow).State = failover.StepDeferred
			})
		}},
		{name: "last aborted half-way", last: func(t *testing.T, f *fixture) {
			f.start(t)
			_, err := f.svc.Abort(context.Background(), admin)
			require.NoError(t, err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			tc.last(t, f)
			plan, err := f.svc.Plan(context.Background(), failover.Request{Kind: failover.KindFailback, Mode: failover.Switchover, Actor: admin})
			if tc.want != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				return
			}
			require.NoError(t, err)
			last := f.load(t)
			assert.Equal(t, west, plan.Run.From, "a failback goes back along the last runbook")
			assert.Equal(t, east, plan.Run.To)
			var deferred []string
			for _, s := range plan.Run.Steps {
				if s.DeferredFrom != "" {
					deferred = append(deferred, s.Name)
					assert.Equal(t, last.ID, s.DeferredFrom)
					assert.Equal(t, east, s.From, "a deferred step keeps its direction")
				}
			}
			if last.State == failover.RunCompleted {
				require.Equal(t, []string{"deferred-" + failover.KindOpenSearchFollow}, deferred)
				assert.Equal(t, deferred[0], plan.Run.Steps[1].Name, "deferred steps run first, right after the announcement")
			} else {
				assert.Empty(t, deferred)
			}
		})
	}
}

func TestServiceAlive(t *testing.T) {
	const id = "run-1"
	for _, tc := range []struct {
		name string
		beat *failover.Heartbeat
		age  time.Duration
		want bool
	}{
		{name: "no heartbeat"},
		{name: "another runbook", beat: &failover.Heartbeat{Run: "run-0", Node: "node-b", Process: 1}, want: false},
		{name: "fresh, another node", beat: &failover.Heartbeat{Run: id, Node: "node-b", Process: 1}, age: 29 * time.Second, want: true},
		{name: "stale, another node", beat: &failover.Heartbeat{Run: id, Node: "node-b", Process: 1}, age: 31 * time.Second},
		{name: "this node, this process", beat: &failover.Heartbeat{Run: id, Node: "node-a", Process: 100}, age: time.Second, want: true},
		{name: "this node, a process that died", beat: &failover.Heartbeat{Run: id, Node: "node-a", Process: 99}, age: time.Second},
		{name: "no time: the store expires it", beat: &failover.Heartbeat{Run: id, Node: "node-b", Process: 1}, age: -1, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			if tc.beat != nil {
				hb := *tc.beat
				if tc.age >= 0 {
					hb.At = f.clock.Now()
					f.clock.add(tc.age)
				}
				f.lock.beat = &hb
			}
			assert.Equal(t, tc.want, f.svc.Alive(context.Background(), id))
		})
	}
}

// A node that crashed mid-step leaves the runbook "running"; once its heartbeat is stale,
// another node resumes it and the step runs again.
func TestServiceCrashedRunResumedByAnotherNode(t *testing.T) {
	f := newFixture()
	run := f.start(t)
	f.set(t, func(r *failover.Run) {
		r.State, r.Node = failover.RunRunning, "node-b"
		r.Step(failover.KindDatabase).State = failover.StepRunning
	})
	f.lock.beat = &failover.Heartbeat{Run: run.ID, Node: "node-b", Process: 1, At: f.clock.Now()}
	_, err := f.svc.Resume(context.Background(), admin)
	require.Error(t, err, "refused while node-b beats")
	f.clock.add(failover.DefaultHeartbeatTTL + time.Second)
	assert.Contains(t, failover.StatusMarkdown(f.load(t), f.svc.Alive(context.Background(), run.ID), f.clock.Now()), "interrupted (no node is running it")
	_, err = f.svc.Resume(context.Background(), admin)
	require.NoError(t, err)
	got := f.load(t)
	assert.Equal(t, "node-a", got.Node)
	assert.Equal(t, 2, got.Step(failover.KindDatabase).Attempts)
}

// drctl's case: without Mattermost the steps that need it wait for the plugin, the others run;
// the plugin then takes the runbook over on resume and finishes it.
func TestServiceWithoutMattermostLeavesStepsToThePlugin(t *testing.T) {
	f := newFixture()
	shell := f.withoutMattermost()
	ctx := context.Background()

	plan, err := shell.Plan(ctx, failover.Request{Kind: failover.KindFailover, To: west, Mode: failover.Failover, Actor: failover.Actor{Name: "ops@laptop"}})
	require.NoError(t, err)
	for _, s := range plan.Run.Steps {
		switch s.Kind {
		case failover.KindAnnounce, failover.KindScheduler, failover.KindSettings:
			assert.Contains(t, s.Calls, "waits for the plugin", s.Name)
		default:
			assert.NotContains(t, s.Calls, "waits for the plugin", s.Name)
		}
	}

	_, err = shell.Start(ctx, failover.Request{Kind: failover.KindFailover, To: west, Mode: failover.Failover, Actor: failover.Actor{Name: "ops@laptop"}})
	require.NoError(t, err)
	_, err = shell.Confirm(ctx, failover.Actor{Name: "ops@laptop"}) // the database, promoted by hand
	require.NoError(t, err)
	run := f.load(t)
	assert.Equal(t, failover.RunForPlugin, run.State)
	for _, s := range run.Steps {
		switch s.Kind {
		case failover.KindAnnounce, failover.KindScheduler, failover.KindSettings:
			assert.Equal(t, failover.StepForPlugin, s.State, s.Name)
			assert.Contains(t, s.Detail, "needs Mattermost")
		case failover.KindDatabase, failover.KindFinal:
			assert.Equal(t, failover.StepDone, s.State, s.Name)
		}
	}
	assert.Empty(t, f.ann.ops, "nothing posted without Mattermost")
	assert.Equal(t, east, f.settings.PrimaryRegion())
	md := failover.StatusMarkdown(run, false, time.Now())
	assert.Contains(t, md, ":electric_plug: waiting-for-plugin")
	assert.Contains(t, md, "**3 step(s) wait for the plugin**")

	_, err = shell.Resume(ctx, failover.Actor{Name: "ops@laptop"})
	require.NoError(t, err)
	assert.Equal(t, failover.RunForPlugin, f.load(t).State, "a resume without Mattermost leaves them waiting")
	_, err = shell.Start(ctx, failover.Request{Kind: failover.KindFailover, To: west, Mode: failover.Failover})
	require.ErrorIs(t, err, failover.ErrActive, "no new runbook until the plugin finishes this one")

	dbAttempts := run.Step(failover.KindDatabase).Attempts
	_, err = f.svc.Resume(ctx, admin)
	require.NoError(t, err)
	run = f.load(t)
	assert.Equal(t, failover.RunCompleted, run.State)
	for _, s := range run.Steps {
		assert.NotEqual(t, failover.StepForPlugin, s.State, s.Name)
	}
	assert.Equal(t, dbAttempts, run.Step(failover.KindDatabase).Attempts, "the plugin does not repeat what drctl did")
	assert.Equal(t, 1, f.announcements())
	assert.Equal(t, west, f.settings.PrimaryRegion())
}

// Once the plugin adopted a runbook, drctl (no Mattermost) neither resumes nor aborts it: the
// plugin runs the remaining steps, and a second driver would run them too.
func TestServiceWithoutMattermostLeavesAdoptedRunsAlone(t *testing.T) {
	f := newFixture()
	shell := f.withoutMattermost()
	ctx := context.Background()
	f.start(t)
	f.set(t, func(r *failover.Run) {
		r.State = failover.RunForPlugin
		r.Adopted = &failover.Adoption{Source: "s3", Node: "app-west-1", Region: west, At: time.Now()}
	})
	_, err := shell.Resume(ctx, failover.Actor{Name: "ops@laptop"})
	require.ErrorIs(t, err, failover.ErrPluginDrives)
	assert.Contains(t, err.Error(), "app-west-1")
	_, err = shell.Abort(ctx, failover.Actor{Name: "ops@laptop"})
	require.ErrorIs(t, err, failover.ErrPluginDrives)
	assert.Equal(t, failover.RunForPlugin, f.load(t).State, "nothing changed")

	_, err = f.svc.Resume(ctx, admin)
	require.NoError(t, err, "the plugin itself drives it")
	assert.NotEqual(t, failover.RunForPlugin, f.load(t).State, "the plugin went on with it")
}
