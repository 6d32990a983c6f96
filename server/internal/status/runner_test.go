package status

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

func TestRunnerResults(t *testing.T) {
	clock := newClock()
	tests := []struct {
		name        string
		prober      Prober
		wantState   probe.State
		wantSummary string
		wantFinding string // substring of the first finding's message
		wantFix     string // substring of the first finding's fix
	}{
		{
			name:        "healthy result kept",
			prober:      returns("database", "Aurora", probe.Healthy),
			wantState:   probe.Healthy,
			wantSummary: "Aurora ok",
		},
		{
			name:        "critical result kept",
			prober:      returns("s3", "bucket", probe.Critical),
			wantState:   probe.Critical,
			wantSummary: "bucket is critical",
			wantFinding: "bucket problem",
			wantFix:     "fix bucket",
		},
		{
			name:        "panic becomes unknown",
			prober:      fake("idp", "Keycloak", func(context.Context) probe.Result { panic("nil map") }),
			wantState:   probe.Unknown,
			wantSummary: "the check failed",
			wantFinding: "the Keycloak check crashed: nil map",
			wantFix:     "bug in the Disaster Recovery plugin",
		},
		{
			name:        "no state becomes unknown",
			prober:      fake("opensearch", "domain", func(context.Context) probe.Result { return probe.Result{Summary: "?"} }),
			wantState:   probe.Unknown,
			wantSummary: "?",
			wantFinding: "the check returned no state",
		},
		{
			name: "probe that gives up at its deadline reads as a timeout",
			prober: endpointProber{fake("s3", "bucket mm-files", func(ctx context.Context) probe.Result {
				<-ctx.Done()
				return probe.Failed("s3", "bucket mm-files", ctx.Err(), "")
			}), "https://s3.eu-west-1.amazonaws.com"},
			wantState:   probe.Unknown,
			wantSummary: "did not answer within 50ms",
			wantFinding: "the bucket mm-files check did not answer within 50ms",
			wantFix:     "check that https://s3.eu-west-1.amazonaws.com is reachable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var panicked []byte
			r := NewRunner([]Prober{tt.prober}, WithClock(clock.Now), WithTimeout(50*time.Millisecond),
				WithPanicHandler(func(_, _ string, _ any, stack []byte) { panicked = stack }))
			rep, err := r.Fresh(context.Background())
			require.NoError(t, err)
			require.Len(t, rep.Results, 1)
			res := rep.Results[0]
			assert.Equal(t, tt.prober.Component(), res.Component)
			assert.Equal(t, tt.prober.Name(), res.Name)
			assert.Equal(t, tt.wantState, res.State)
			assert.Equal(t, tt.wantSummary, res.Summary)
			assert.False(t, res.CheckedAt.IsZero())
			assert.Positive(t, res.Duration)
			if tt.wantFinding == "" {
				assert.Empty(t, res.Findings)
				return
			}
			require.NotEmpty(t, res.Findings)
			assert.Contains(t, res.Findings[0].Message, tt.wantFinding)
			assert.Contains(t, res.Findings[0].Fix, tt.wantFix)
			if tt.wantState == probe.Unknown && strings.Contains(tt.wantFinding, "crashed") {
				assert.Contains(t, string(panicked), "runtime/debug.Stack", "the panic handler gets the stack")
			}
		})
	}
}

func TestRunnerRunsProbesInParallel(t *testing.T) {
	// Each probe waits until all have started: run one after the other, they would all
	// time out instead.
	const n = 8
	var started sync.WaitGroup
	started.Add(n)
	all := make(chan struct{})
	go func() { started.Wait(); close(all) }()
	var probers []Prober
	for i := 0; i < n; i++ {
		probers = append(probers, fake("c", "p"+string(rune('a'+i)), func(ctx context.Context) probe.Result {
			started.Done()
			select {
			case <-all:
				return probe.Result{State: probe.Healthy}
			case <-ctx.Done():
				return probe.Result{State: probe.Unknown}
			}
		}))
	}
	rep, err := NewRunner(probers, WithTimeout(2*time.Second)).Fresh(context.Background())
	require.NoError(t, err)
	assert.Equal(t, probe.Healthy, rep.Verdict, "%+v", rep.Reasons)
	for i, res := range rep.Results {
		assert.Equal(t, probers[i].Name(), res.Name, "results keep the probers' order")
	}
}

func TestRunnerHungProbeDoesNotHoldTheReport(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	hung := fake("database", "Aurora mm-global", func(context.Context) probe.Result {
		<-release // ignores its context: the worst case
		return probe.Result{State: probe.Healthy}
	})
	ok := returns("s3", "bucket", probe.Healthy)
	r := NewRunner([]Prober{hung, ok}, WithTimeout(100*time.Millisecond))

	start := time.Now()
	rep, err := r.Fresh(context.Background())
	took := time.Since(start)
	require.NoError(t, err)
	assert.Less(t, took, 100*time.Millisecond+deadlineGrace+2*time.Second, "does not wait for the hung probe")
	assert.Equal(t, probe.Degraded, rep.Verdict, "unknown counts as degraded")
	assert.Equal(t, probe.Unknown, rep.Results[0].State)
	assert.Equal(t, "did not answer within 100ms", rep.Results[0].Summary)
	assert.Contains(t, rep.Results[0].Findings[0].Fix, `"Aurora mm-global"`)
	assert.Equal(t, probe.Healthy, rep.Results[1].State)
	require.Len(t, rep.Reasons, 1)
	assert.Equal(t, "database: the Aurora mm-global check did not answer within 100ms", rep.Reasons[0].String())

	// Still hung: not called again, so goroutines do not pile up behind a dead endpoint.
	rep, err = r.Fresh(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int32(1), hung.calls.Load())
	assert.Equal(t, "still hung from an earlier check", rep.Results[0].Summary)
	assert.Equal(t, int32(2), ok.calls.Load())
}

func TestRunnerCallsAHungProbeAgainOnceItReturns(t *testing.T) {
	release := make(chan struct{})
	returned := make(chan struct{})
	var calls int
	p := fake("c", "p", func(context.Context) probe.Result {
		calls++
		if calls == 1 {
			<-release
			defer close(returned)
		}
		return probe.Result{State: probe.Healthy}
	})
	r := NewRunner([]Prober{p}, WithTimeout(20*time.Millisecond))
	rep, err := r.Fresh(context.Background())
	require.NoError(t, err)
	assert.Equal(t, probe.Unknown, rep.Results[0].State)

	close(release)
	<-returned
	// The slot is freed just after the probe returns; wait for it without sleeping blindly.
	require.Eventually(t, func() bool {
		rep, err = r.Fresh(context.Background())
		return err == nil && rep.Results[0].State == probe.Healthy
	}, 2*time.Second, 5*time.Millisecond)
}

func TestRunnerCache(t *testing.T) {
	clock := newClock()
	p := returns("backups", "newest backup", probe.Healthy)
	r := NewRunner([]Prober{p}, WithClock(clock.Now), WithCacheTTL(15*time.Second))
	ctx := context.Background()

	steps := []struct {
		name      string
		advance   time.Duration
		fresh     bool
		wantCalls int32
		wantCache bool
	}{
		{"first call runs", 0, false, 1, false},
		{"within ttl uses cache", 14 * time.Second, false, 1, true},
		{"fresh ignores cache", 0, true, 2, false},
		{"cache restarts at fresh run", 10 * time.Second, false, 2, true},
		{"ttl elapsed runs again", 5 * time.Second, false, 3, false},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		var rep Report
		var err error
		if s.fresh {
			rep, err = r.Fresh(ctx)
		} else {
			rep, err = r.Report(ctx)
		}
		require.NoError(t, err, s.name)
		assert.Equal(t, s.wantCalls, p.calls.Load(), s.name)
		assert.Equal(t, s.wantCache, rep.Cached, s.name)
	}
}

func TestRunnerConcurrentCallersShareOneRun(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	p := fake("c", "p", func(context.Context) probe.Result {
		entered <- struct{}{}
		<-release
		return probe.Result{State: probe.Healthy}
	})
	r := NewRunner([]Prober{p}, WithTimeout(5*time.Second))

	const callers = 10
	reports := make(chan Report, callers)
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func(fresh bool) {
			defer wg.Done()
			var rep Report
			var err error
			if fresh {
				rep, err = r.Fresh(context.Background())
			} else {
				rep, err = r.Report(context.Background())
			}
			assert.NoError(t, err)
			reports <- rep
		}(i%2 == 0)
	}
	<-entered
	// Release the probe only once every caller waits on the run in flight.
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.inflight != nil && r.inflight.waiters == callers
	}, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	close(reports)
	assert.Equal(t, int32(1), p.calls.Load())
	var first time.Time
	for rep := range reports {
		if first.IsZero() {
			first = rep.CheckedAt
		}
		assert.Equal(t, first, rep.CheckedAt)
	}
}

func TestRunnerCallerGivingUpDoesNotCancelTheRun(t *testing.T) {
	release := make(chan struct{})
	sawCancel := make(chan bool, 1)
	p := fake("c", "p", func(ctx context.Context) probe.Result {
		<-release
		sawCancel <- ctx.Err() != nil
		return probe.Result{State: probe.Healthy}
	})
	r := NewRunner([]Prober{p}, WithTimeout(5*time.Second))

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := r.Report(ctx); errc <- err }()
	cancel()
	err := <-errc
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, errors.Is(err, context.Canceled) && strings.Contains(err.Error(), "waiting for the status probes"))

	close(release)
	assert.False(t, <-sawCancel, "the probe's context outlives the caller that started the run")
	rep, err := r.Report(context.Background())
	require.NoError(t, err)
	assert.Equal(t, probe.Healthy, rep.Verdict)
	assert.Equal(t, int32(1), p.calls.Load(), "the abandoned run's report is cached and reused")
}
