package failover_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
)

// scripted is a step of the engine tests: it answers results from a script, one per call
// (the last one repeats), and counts its effects: a call that ends done is one effect, unless
// the step finds its effect already in place (effects are idempotent, as real steps are).
type scripted struct {
	mu      sync.Mutex
	results []failover.Result
	calls   int
	effects int
	inPlace bool
	// during runs inside the step, between the start and the result.
	during func(sc *failover.StepContext)
}

func (s *scripted) Title() string                                                   { return "scripted" }
func (s *scripted) Calls(failover.Live, *failover.Run, *failover.StepRecord) string { return "nothing" }
func (s *scripted) Run(_ context.Context, sc *failover.StepContext) failover.Result {
	s.mu.Lock()
	i := min(s.calls, len(s.results)-1)
	s.calls++
	res := s.results[i]
	during := s.during
	s.mu.Unlock()
	if during != nil {
		during(sc)
	}
	if res.State == "" || res.State == failover.StepDone {
		s.mu.Lock()
		if !s.inPlace {
			s.effects++
			s.inPlace = true
		}
		s.mu.Unlock()
	}
	return res
}

func (s *scripted) counts() (calls, effects int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.effects
}

func done(detail string) failover.Result {
	return failover.Result{Detail: detail, Undo: "undo " + detail}
}

// recorder keeps the engine's events.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) Event(e failover.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := string(e.Kind)
	if e.Step != nil {
		s += " " + e.Step.Name + " " + string(e.Step.State)
	} else {
		s += " " + string(e.Run.State)
	}
	r.events = append(r.events, s)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// newEngine returns an engine over a journal in a memory KV store, with a scripted step for
// each kind of the sequence.
func newEngine(scripts map[string]*scripted) (*failover.Engine, *pluginapi.MemoryStore, *recorder) {
	kv := &pluginapi.MemoryStore{}
	rec := &recorder{}
	steps := map[string]failover.Step{}
	for _, k := range failover.Sequence {
		s := scripts[k]
		if s == nil {
			s = &scripted{results: []failover.Result{done(k)}}
			scripts[k] = s
		}
		steps[k] = s
	}
	return &failover.Engine{Journal: failover.NewKVJournal(kv), Steps: steps, Observer: rec, Node: "node-1"}, kv, rec
}

func newRun(t *testing.T, e *failover.Engine) *failover.Run {
	t.Helper()
	run := failover.NewRun(failover.KindFailover, failover.Switchover, "east", "west", "uid", "admin", nil, time.Now())
	e.Describe(failover.Live{}, run)
	created, err := e.Create(context.Background(), run)
	require.NoError(t, err)
	return created
}

func states(r *failover.Run) map[string]failover.StepState {
	out := map[string]failover.StepState{}
	for _, s := range r.Steps {
		out[s.Name] = s.State
	}
	return out
}

func TestEngineOutcomes(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		scripts   map[string]*scripted
		wantState failover.RunState
		wantSteps map[string]failover.StepState
		// ran are the steps that must have run once; notRun must not have run.
		notRun []string
	}{
		{
			name:      "every step done",
			scripts:   map[string]*scripted{},
			wantState: failover.RunCompleted,
			wantSteps: map[string]failover.StepState{failover.KindDatabase: failover.StepDone, failover.KindFinal: failover.StepDone},
		},
		{
			name:      "a failing step stops the runbook",
			scripts:   map[string]*scripted{failover.KindOpenSearchFollow: {results: []failover.Result{failover.Failed(boom, "fix it")}}},
			wantState: failover.RunFailed,
			wantSteps: map[string]failover.StepState{failover.KindOpenSearchPromote: failover.StepDone, failover.KindOpenSearchFollow: failover.StepFailed, failover.KindScheduler: failover.StepPending},
			notRun:    []string{failover.KindScheduler, failover.KindDNS, failover.KindFinal},
		},
		{
			name:      "a waiting step pauses it",
			scripts:   map[string]*scripted{failover.KindScheduler: {results: []failover.Result{{State: failover.StepWaiting, Next: "restart the nodes"}}}},
			wantState: failover.RunWaiting,
			wantSteps: map[string]failover.StepState{failover.KindScheduler: failover.StepWaiting, failover.KindDNS: failover.StepPending},
			notRun:    []string{failover.KindDNS},
		},
		{
			name: "deferred, skipped and manual steps do not hold it",
			scripts: map[string]*scripted{
				failover.KindOpenSearchFollow:  {results: []failover.Result{{State: failover.StepDeferred, Detail: "old region down"}}},
				failover.KindDNS:               {results: []failover.Result{{State: failover.StepManual, Detail: "change it by hand"}}},
				failover.KindOpenSearchPromote: {results: []failover.Result{{State: failover.StepSkipped}}},
			},
			wantState: failover.RunCompleted,
			wantSteps: map[string]failover.StepState{failover.KindOpenSearchFollow: failover.StepDeferred, failover.KindDNS: failover.StepManual, failover.KindOpenSearchPromote: failover.StepSkipped},
		},
		{
			name:      "a step that panics fails",
			scripts:   map[string]*scripted{failover.KindDNS: {results: []failover.Result{done("x")}, during: func(*failover.StepContext) { panic("oops") }}},
			wantState: failover.RunFailed,
			wantSteps: map[string]failover.StepState{failover.KindDNS: failover.StepFailed},
			notRun:    []string{failover.KindRoll},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, _, rec := newEngine(tc.scripts)
			run := newRun(t, e)
			got, err := e.Run(context.Background(), run.ID)
			require.NoError(t, err)
			assert.Equal(t, tc.wantState, got.State)
			st := states(got)
			for name, want := range tc.wantSteps {
				assert.Equal(t, want, st[name], name)
			}
			for _, name := range tc.notRun {
				calls, _ := tc.scripts[name].counts()
				assert.Zero(t, calls, "%s must not run", name)
			}
			// Every step that ran was journaled before and after, in order.
			evs := rec.list()
			require.NotEmpty(t, evs)
			assert.Equal(t, "step-started announce running", evs[0])
			assert.Equal(t, "run-stopped "+string(tc.wantState), evs[len(evs)-1])
			loaded, err := e.Journal.Load(context.Background())
			require.NoError(t, err)
			assert.Equal(t, got.State, loaded.State, "the journal holds what Run returned")
		})
	}
}

// A failed step, resumed, runs again; the steps done before it do not.
func TestEngineResumeDoesNotRepeatFinishedSteps(t *testing.T) {
	scripts := map[string]*scripted{failover.KindDNS: {results: []failover.Result{failover.Failed(errors.New("AccessDenied"), "grant route53:ChangeResourceRecordSets"), done("record changed")}}}
	e, _, _ := newEngine(scripts)
	run := newRun(t, e)
	got, err := e.Run(context.Background(), run.ID)
	require.NoError(t, err)
	require.Equal(t, failover.RunFailed, got.State)
	dns := got.Step(failover.KindDNS)
	assert.Equal(t, "AccessDenied", dns.Error)
	assert.Equal(t, "grant route53:ChangeResourceRecordSets", dns.Next)
	assert.Contains(t, got.Error, "step dns failed")
	assert.Contains(t, failover.StatusMarkdown(got, false, time.Now()), "grant route53:ChangeResourceRecordSets")

	got, err = e.Run(context.Background(), run.ID)
	require.NoError(t, err)
	assert.Equal(t, failover.RunCompleted, got.State)
	for _, k := range failover.Sequence {
		calls, effects := scripts[k].counts()
		want := 1
		if k == failover.KindDNS {
			want = 2
		}
		assert.Equal(t, want, calls, "calls of %s", k)
		assert.Equal(t, 1, effects, "effects of %s", k)
	}
	assert.Equal(t, 2, got.Step(failover.KindDNS).Attempts)
	assert.Empty(t, got.Step(failover.KindDNS).Error, "the retry's success clears the error")
	_, err = e.Run(context.Background(), run.ID)
	assert.ErrorIs(t, err, failover.ErrNotActive, "a completed runbook does not run again")
}

// A node dies right after a step's effect, before the journal records it: the step is still
// "running" in the journal, and resuming runs it again (real steps then find their effect in
// place). Simulated with runtime.Goexit in the failpoint hook: nothing after it runs.
func TestEngineCrashAfterEffect(t *testing.T) {
	scripts := map[string]*scripted{}
	e, _, _ := newEngine(scripts)
	run := newRun(t, e)
	e.Hit = func(name string) {
		if name == "failover.after-"+failover.KindDatabase {
			runtime.Goexit()
		}
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_, _ = e.Run(context.Background(), run.ID)
		t.Error("Run returned: the crash did not happen")
	}()
	<-stopped
	j, err := e.Journal.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, failover.RunRunning, j.State)
	assert.Equal(t, failover.StepRunning, j.Step(failover.KindDatabase).State)
	assert.Equal(t, failover.StepDone, j.Step(failover.KindAnnounce).State)

	e.Hit = nil
	got, err := e.Run(context.Background(), run.ID)
	require.NoError(t, err)
	assert.Equal(t, failover.RunCompleted, got.State)
	calls, effects := scripts[failover.KindDatabase].counts()
	assert.Equal(t, 2, calls, "the interrupted step runs again")
	assert.Equal(t, 1, effects, "but its effect happens once")
	calls, _ = scripts[failover.KindAnnounce].counts()
	assert.Equal(t, 1, calls, "the step journaled as done does not run again")
	assert.Equal(t, 2, got.Step(failover.KindDatabase).Attempts)
}

func TestEngineConfirm(t *testing.T) {
	var confirmed []bool
	scripts := map[string]*scripted{failover.KindScheduler: {results: []failover.Result{{State: failover.StepWaiting, Next: "restart the nodes"}, done("confirmed")},
		during: func(sc *failover.StepContext) { confirmed = append(confirmed, sc.Step.Confirmed) }}}
	e, _, _ := newEngine(scripts)
	run := newRun(t, e)
	ctx := context.Background()

	_, err := e.Confirm(ctx, "admin")
	assert.ErrorIs(t, err, failover.ErrNotWaiting, "nothing waits before the runbook reaches the step")
	got, err := e.Run(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, failover.RunWaiting, got.State)
	assert.Contains(t, failover.SummaryMarkdown(got, time.Now()), "restart the nodes")

	got, err = e.Confirm(ctx, "alice")
	require.NoError(t, err)
	assert.True(t, got.Step(failover.KindScheduler).Confirmed)
	assert.Equal(t, "alice", got.Step(failover.KindScheduler).ConfirmedBy)
	got, err = e.Run(ctx, run.ID)
	require.NoError(t, err)
	assert.Equal(t, failover.RunCompleted, got.State)
	assert.Equal(t, []bool{false, true}, confirmed, "the step sees the confirmation on its next run")
}

func TestEngineAbort(t *testing.T) {
	ctx := context.Background()
	t.Run("requested during a step: stops before the next", func(t *testing.T) {
		scripts := map[string]*scripted{}
		e, _, rec := newEngine(scripts)
		scripts[failover.KindOpenSearchPromote].during = func(*failover.StepContext) {
			_, err := e.Abort(ctx, "bob", false)
			assert.NoError(t, err)
		}
		run := newRun(t, e)
		got, err := e.Run(ctx, run.ID)
		require.NoError(t, err)
		assert.Equal(t, failover.RunAborted, got.State)
		assert.Equal(t, failover.StepDone, got.Step(failover.KindOpenSearchPromote).State, "the current step finishes")
		calls, _ := scripts[failover.KindOpenSearchFollow].counts()
		assert.Zero(t, calls, "the next step does not start")
		text := failover.AbortMarkdown(got)
		assert.Contains(t, text, "aborted** by @bob")
		assert.Contains(t, text, "undo: undo "+failover.KindDatabase, "says how to undo what was done")
		assert.Contains(t, text, "**Not run:**")
		assert.Contains(t, text, "`/dr failback`")
		assert.Equal(t, "run-stopped aborted", rec.list()[len(rec.list())-1])
	})
	t.Run("now, while it waits", func(t *testing.T) {
		scripts := map[string]*scripted{failover.KindScheduler: {results: []failover.Result{{State: failover.StepWaiting, Next: "restart"}}}}
		e, _, rec := newEngine(scripts)
		run := newRun(t, e)
		_, err := e.Run(ctx, run.ID)
		require.NoError(t, err)
		got, err := e.Abort(ctx, "bob", true)
		require.NoError(t, err)
		assert.Equal(t, failover.RunAborted, got.State)
		assert.Contains(t, failover.AbortMarkdown(got), "**Stopped during:**")
		assert.Equal(t, "run-stopped aborted", rec.list()[len(rec.list())-1])
		_, err = e.Abort(ctx, "bob", true)
		assert.ErrorIs(t, err, failover.ErrNotActive)
		_, err = e.Run(ctx, run.ID)
		assert.ErrorIs(t, err, failover.ErrNotActive, "an aborted runbook does not resume")
	})
	t.Run("before anything ran", func(t *testing.T) {
		e, _, _ := newEngine(map[string]*scripted{})
		newRun(t, e)
		got, err := e.Abort(ctx, "bob", true)
		require.NoError(t, err)
		assert.Contains(t, failover.AbortMarkdown(got), "Nothing was changed yet")
	})
}

func TestEngineOneRunbookAtATime(t *testing.T) {
	ctx := context.Background()
	e, _, _ := newEngine(map[string]*scripted{failover.KindScheduler: {results: []failover.Result{{State: failover.StepWaiting}}}})
	first := newRun(t, e)
	_, err := e.Run(ctx, first.ID)
	require.NoError(t, err)
	second := failover.NewRun(failover.KindFailover, failover.Switchover, "east", "west", "uid", "admin", nil, time.Now())
	_, err = e.Create(ctx, second)
	require.ErrorIs(t, err, failover.ErrActive)
	assert.Contains(t, err.Error(), first.ID)
	_, err = e.Run(ctx, second.ID)
	assert.ErrorIs(t, err, failover.ErrOtherRun, "a runbook that is not the current one never runs")

	_, err = e.Abort(ctx, "admin", true)
	require.NoError(t, err)
	_, err = e.Create(ctx, second)
	assert.NoError(t, err, "another may start once the last is over")
}

func TestEngineInterrupted(t *testing.T) {
	scripts := map[string]*scripted{}
	e, _, _ := newEngine(scripts)
	ctx, cancel := context.WithCancel(context.Background())
	scripts[failover.KindDatabase].during = func(*failover.StepContext) { cancel() }
	scripts[failover.KindDatabase].results = []failover.Result{failover.Failed(context.Canceled, ""), done("db")}
	run := newRun(t, e)
	got, err := e.Run(ctx, run.ID)
	require.NoError(t, err)
	assert.Equal(t, failover.RunInterrupted, got.State)
	assert.Contains(t, got.Step(failover.KindDatabase).Next, "resume")
	scripts[failover.KindDatabase].during = nil
	got, err = e.Run(context.Background(), run.ID)
	require.NoError(t, err)
	assert.Equal(t, failover.RunCompleted, got.State)
}

// Abort and a running engine write the same journal: compare-and-set keeps both updates.
func TestEngineConcurrentJournalWrites(t *testing.T) {
	ctx := context.Background()
	scripts := map[string]*scripted{}
	e, _, _ := newEngine(scripts)
	var wg sync.WaitGroup
	scripts[failover.KindDatabase].during = func(sc *failover.StepContext) {
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.NoError(t, sc.Save(fmt.Sprintf("k%d", i), "v"))
			}()
		}
		wg.Wait()
	}
	run := newRun(t, e)
	got, err := e.Run(ctx, run.ID)
	require.NoError(t, err)
	assert.Len(t, got.Step(failover.KindDatabase).Data, 20, "no concurrent write was lost")
}

func TestNewRunCarriesDeferredSteps(t *testing.T) {
	now := time.Now()
	first := failover.NewRun(failover.KindFailover, failover.Failover, "east", "west", "u", "admin", nil, now)
	first.Step(failover.KindOpenSearchFollow).State = failover.StepDeferred
	first.State = failover.RunCompleted
	back := failover.NewRun(failover.KindFailback, failover.Switchover, "west", "east", "u", "admin", first, now)
	var names []string
	for _, s := range back.Steps {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{failover.KindAnnounce, "deferred-" + failover.KindOpenSearchFollow, failover.KindDatabase, failover.KindOpenSearchPromote,
		failover.KindOpenSearchFollow, failover.KindScheduler, failover.KindDNS, failover.KindRoll, failover.KindSettings, failover.KindFinal}, names)
	carried := back.Step("deferred-" + failover.KindOpenSearchFollow)
	assert.Equal(t, "east", carried.From, "the deferred step keeps its own direction")
	assert.Equal(t, "west", carried.To)
	assert.Equal(t, first.ID, carried.DeferredFrom)
	assert.Equal(t, failover.StepPending, carried.State)

	// Aborted before it ran, the carried step is carried again, still naming where it came from.
	back.State = failover.RunAborted
	again := failover.NewRun(failover.KindFailback, failover.Switchover, "west", "east", "u", "admin", back, now)
	assert.Equal(t, first.ID, again.Step("deferred-"+failover.KindOpenSearchFollow).DeferredFrom)
	assert.Empty(t, failover.NewRun(failover.KindFailover, failover.Switchover, "east", "west", "u", "a", nil, now).Deferred())
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]failover.Mode{"switchover": failover.Switchover, "\tFailover\n": failover.Failover} {
		got, err := failover.ParseMode(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := failover.ParseMode("planned")
	assert.ErrorContains(t, err, "use switchover")
}
