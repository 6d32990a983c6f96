package status

import (
	"context"
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// sleeper answers healthy after d, or unknown if its context ends first.
func sleeper(name string, d time.Duration) Prober {
	return fake("bench", name, func(ctx context.Context) probe.Result {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return probe.Result{State: probe.Healthy, Summary: "ok"}
		case <-ctx.Done():
			return probe.Result{State: probe.Unknown, Summary: "cancelled"}
		}
	})
}

// fastProbers are n probes taking 2 to 5 ms, like calls to AWS APIs in the same region.
func fastProbers(n int) []Prober {
	var ps []Prober
	for i := 0; i < n; i++ {
		ps = append(ps, sleeper(fmt.Sprintf("fast%d", i), time.Duration(2+i%4)*time.Millisecond))
	}
	return ps
}

// hanging never answers and ignores its context until stop is closed: the worst case.
func hanging(stop <-chan struct{}) Prober {
	return fake("bench", "hung", func(context.Context) probe.Result {
		<-stop
		return probe.Result{State: probe.Healthy}
	})
}

// percentile is the p-th percentile (0 < p <= 1) by the nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func TestPercentile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		p    float64
		want time.Duration
	}{{0.5, 5}, {0.95, 10}, {0.9, 9}, {0.01, 1}, {1, 10}}
	for _, tt := range tests {
		assert.Equal(t, tt.want, percentile(d, tt.p), "p%v", tt.p)
	}
	assert.Equal(t, time.Duration(0), percentile(nil, 0.5))
}

// benchRunner times one fresh report per iteration and reports the p50 and p95 latency.
func benchRunner(b *testing.B, newRunner func() *Runner) {
	b.Helper()
	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := newRunner()
		start := time.Now()
		rep, err := r.Fresh(context.Background())
		durations = append(durations, time.Since(start))
		if err != nil || len(rep.Results) == 0 {
			b.Fatalf("report: %v, %d results", err, len(rep.Results))
		}
	}
	b.StopTimer()
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	b.ReportMetric(float64(percentile(durations, 0.5))/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(percentile(durations, 0.95))/float64(time.Millisecond), "p95-ms")
}

// BenchmarkRunnerHealthy: 8 probes of a few ms each. Goal: p95 <= 500 ms.
func BenchmarkRunnerHealthy(b *testing.B) {
	r := NewRunner(fastProbers(8), WithCacheTTL(0))
	benchRunner(b, func() *Runner { return r })
}

// BenchmarkRunnerOneHanging: the same plus one probe that never answers, with the default
// timeout. A new runner each time, so the hung probe is called every time rather than being
// skipped as still running. Goal: p95 <= 3 s.
func BenchmarkRunnerOneHanging(b *testing.B) {
	stop := make(chan struct{})
	b.Cleanup(func() { close(stop) })
	benchRunner(b, func() *Runner {
		return NewRunner(append(fastProbers(8), hanging(stop)), WithCacheTTL(0))
	})
}

// The promise behind the default timeout: `/dr status` answers within 3 s even when an
// endpoint hangs. This takes the full default timeout, hence skipped with -short.
func TestRunnerAnswersWithinThreeSecondsWithAHungProbe(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the default timeout")
	}
	stop := make(chan struct{})
	defer close(stop)
	r := NewRunner(append(fastProbers(8), hanging(stop)))
	start := time.Now()
	rep, err := r.Report(context.Background())
	took := time.Since(start)
	require.NoError(t, err)
	assert.Less(t, took, 3*time.Second)
	assert.GreaterOrEqual(t, took, DefaultTimeout, "the hung probe was given its full time")
	assert.Equal(t, "did not answer within 2.5s", rep.Results[8].Summary)
	for _, res := range rep.Results[:8] {
		assert.Equal(t, probe.Healthy, res.State, res.Name)
	}
}
