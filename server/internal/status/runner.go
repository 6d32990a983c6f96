package status

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// Prober is one check, built by its package's New(options). The runner owns what every probe
// would otherwise repeat: each call's deadline, panic recovery and timing (CheckedAt,
// Duration, sorted findings). Probe must honour ctx: the runner stops waiting at the timeout
// either way, but a probe that ignores ctx keeps its goroutine until it returns.
type Prober interface {
	// Component groups results: database, s3, opensearch, scheduler, idp, backups.
	Component() string
	// Name says what is checked, for the admin.
	Name() string
	Probe(ctx context.Context) probe.Result
}

// PartialReporter is implemented by probers that check several endpoints at once and, when
// some do not answer, still have a result worth reading (which answered, which did not and
// where it was stuck). The runner ends their context a little before its own deadline, so
// that this result stands instead of "did not answer".
type PartialReporter interface {
	ReportsPartial() bool
}

// Endpointer is implemented by probers that talk to one endpoint; the runner names it when
// the probe does not answer in time, so the admin knows where to look.
type Endpointer interface {
	Endpoint() string
}

// Defaults: each probe gets 2.5 s so that `/dr status` answers within 3 s even when an endpoint
// hangs; results are reused for 15 s so a burst of commands and scrapes runs the probes once.
const (
	DefaultTimeout  = 2500 * time.Millisecond
	DefaultCacheTTL = 15 * time.Second

	deadlineGrace = 100 * time.Millisecond
	// partialReserve bounds how much earlier a PartialReporter's context ends (a tenth of the
	// timeout, at most this).
	partialReserve = 250 * time.Millisecond
)

// Option configures a Runner.
type Option func(*Runner)

// WithTimeout sets how long each probe may take.
func WithTimeout(d time.Duration) Option { return func(r *Runner) { r.timeout = d } }

// WithCacheTTL sets how long a report is reused; 0 runs the probes on every call.
func WithCacheTTL(d time.Duration) Option { return func(r *Runner) { r.ttl = d } }

// WithClock sets the clock used for CheckedAt and the cache (tests step it instead of sleeping).
// Probe timeouts use real timers regardless.
func WithClock(now func() time.Time) Option { return func(r *Runner) { r.now = now } }

// WithPanicHandler is called with the stack of a probe that panicked, to log it: the result
// shown to the admin carries only the panic value.
func WithPanicHandler(fn func(component, name string, value any, stack []byte)) Option {
	return func(r *Runner) { r.onPanic = fn }
}

// Runner runs probers in parallel and caches the report.
type Runner struct {
	probers []*slot
	timeout time.Duration
	ttl     time.Duration
	now     func() time.Time
	onPanic func(component, name string, value any, stack []byte)

	mu       sync.Mutex
	cached   *Report
	inflight *call
}

// slot is one prober plus whether an earlier run's call to it is still running: a probe that
// ignores its context is not called again until it returns, so a hung endpoint costs one
// goroutine, not one per check.
type slot struct {
	p       Prober
	mu      sync.Mutex
	busy    bool
	started time.Time
}

type call struct {
	done    chan struct{}
	rep     Report
	waiters int // callers sharing this run (under Runner.mu), for tests
}

// NewRunner returns a runner for probers.
func NewRunner(probers []Prober, opts ...Option) *Runner {
	r := &Runner{timeout: DefaultTimeout, ttl: DefaultCacheTTL, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	for _, p := range probers {
		r.probers = append(r.probers, &slot{p: p})
	}
	return r
}

// Report returns a report no older than the cache TTL, running the probes if needed.
// Concurrent callers share one run. The error is ctx's, when the caller gave up waiting.
func (r *Runner) Report(ctx context.Context) (Report, error) { return r.get(ctx, false) }

// Fresh runs the probes now, ignoring the cache (a run already in flight counts as fresh).
func (r *Runner) Fresh(ctx context.Context) (Report, error) { return r.get(ctx, true) }

func (r *Runner) get(ctx context.Context, fresh bool) (Report, error) {
	r.mu.Lock()
	if !fresh && r.cached != nil && r.now().Sub(r.cached.CheckedAt) < r.ttl {
		rep := *r.cached
		r.mu.Unlock()
		rep.Cached = true
		return rep, nil
	}
	c := r.inflight
	if c == nil {
		c = &call{done: make(chan struct{})}
		r.inflight = c
		// The run outlives the caller that started it, since others may be waiting on it;
		// each probe's timeout bounds it instead. Values (request ids, loggers) are kept.
		go r.run(context.WithoutCancel(ctx), c)
	}
	c.waiters++
	r.mu.Unlock()

	select {
	case <-c.done:
		return c.rep, nil
	case <-ctx.Done():
		return Report{}, fmt.Errorf("waiting for the status probes: %w", ctx.Err())
	}
}

func (r *Runner) run(ctx context.Context, c *call) {
	rep := r.runAll(ctx)
	r.mu.Lock()
	c.rep = rep
	r.cached = &rep
	r.inflight = nil
	r.mu.Unlock()
	close(c.done)
}

func (r *Runner) runAll(ctx context.Context) Report {
	start := r.now()
	realStart := time.Now()
	// The grace lets a probe that honours its context report the timeout itself, with
	// whatever it knows about where it was stuck.
	deadline := time.NewTimer(r.timeout + deadlineGrace)
	defer deadline.Stop()

	chans := make([]chan probe.Result, len(r.probers))
	for i, s := range r.probers {
		chans[i] = r.start(ctx, s)
	}
	results := make([]probe.Result, len(r.probers))
	expired := false
	for i, ch := range chans {
		got := false
		if !expired {
			select {
			case results[i] = <-ch:
				got = true
			case <-deadline.C:
				expired = true
			}
		}
		if got {
			continue
		}
		// Past the deadline: take what has arrived, do not wait for the rest.
		select {
		case results[i] = <-ch:
		default:
			results[i] = r.timedOut(r.probers[i].p, start, nil)
		}
	}
	return NewReport(results, start, time.Since(realStart))
}

// start calls the slot's probe in its own goroutine. The channel is buffered, so a probe that
// answers after the runner stopped waiting does not block.
func (r *Runner) start(ctx context.Context, s *slot) chan probe.Result {
	ch := make(chan probe.Result, 1)
	s.mu.Lock()
	if s.busy {
		since := s.started
		s.mu.Unlock()
		ch <- r.stillRunning(s.p, since)
		return ch
	}
	s.busy, s.started = true, time.Now()
	s.mu.Unlock()

	go r.runOne(ctx, s, ch)
	return ch
}

// runOne calls the slot's probe within the timeout and sends its result.
func (r *Runner) runOne(ctx context.Context, s *slot, ch chan<- probe.Result) {
	pctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	checked, began := r.now(), time.Now()
	res := r.call(pctx, s.p)
	took := time.Since(began)
	s.mu.Lock()
	s.busy = false
	s.mu.Unlock()
	if errors.Is(pctx.Err(), context.DeadlineExceeded) && res.State != probe.Healthy {
		// Whatever the probe made of its cancelled calls, the admin should read the
		// same "did not answer" as for a probe that ignored its context.
		ch <- r.timedOut(s.p, r.now(), res.Findings)
		return
	}
	ch <- r.normalise(s.p, res, checked, took)
}

// probeContext is the context p runs with: ctx, ending a little earlier for a PartialReporter.
func (r *Runner) probeContext(ctx context.Context, p Prober) (context.Context, context.CancelFunc) {
	pr, ok := p.(PartialReporter)
	dl, has := ctx.Deadline()
	if !ok || !pr.ReportsPartial() || !has {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, dl.Add(-min(time.Until(dl)/10, partialReserve)))
}

// call runs one probe, turning a panic into an unknown result.
func (r *Runner) call(ctx context.Context, p Prober) (res probe.Result) {
	ctx, cancel := r.probeContext(ctx, p)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			if r.onPanic != nil {
				r.onPanic(p.Component(), p.Name(), v, debug.Stack())
			}
			res = probe.Result{Component: p.Component(), Name: p.Name(), State: probe.Unknown, Summary: "the check failed"}
			res.Add(probe.Unknown, "this is a bug in the Disaster Recovery plugin: report it with the server log",
				fmt.Sprintf("the %s check crashed: %v", p.Name(), v))
		}
	}()
	return p.Probe(ctx)
}

// normalise fills what a probe left out, so renderers and the verdict can rely on it.
func (r *Runner) normalise(p Prober, res probe.Result, checked time.Time, took time.Duration) probe.Result {
	if res.Component == "" {
		res.Component = p.Component()
	}
	if res.Name == "" {
		res.Name = p.Name()
	}
	if res.State == "" {
		res.Add(probe.Unknown, "this is a bug in the Disaster Recovery plugin: report it with the server log",
			"the check returned no state")
	}
	if res.CheckedAt.IsZero() {
		res.CheckedAt = checked
	}
	if res.Duration == 0 {
		res.Duration = took
	}
	res.SortFindings()
	return res
}

// timedOut is the result of a probe that did not answer in time; also holds the findings of
// a probe that returned after its context expired.
func (r *Runner) timedOut(p Prober, start time.Time, also []probe.Finding) probe.Result {
	res := probe.Result{
		Component: p.Component(), Name: p.Name(), State: probe.Unknown,
		Summary:   "did not answer within " + Human(r.timeout),
		CheckedAt: start, Duration: r.timeout,
	}
	res.Add(probe.Unknown, checkFix(p), fmt.Sprintf("the %s check did not answer within %s", p.Name(), Human(r.timeout)))
	res.Findings = append(res.Findings, also...)
	res.SortFindings()
	return res
}

func (r *Runner) stillRunning(p Prober, since time.Time) probe.Result {
	res := probe.Result{
		Component: p.Component(), Name: p.Name(), State: probe.Unknown,
		Summary:   "still hung from an earlier check",
		CheckedAt: r.now(),
	}
	res.Add(probe.Unknown, checkFix(p),
		fmt.Sprintf("the %s check started %s ago has not returned, so it was not started again", p.Name(), Human(time.Since(since))))
	return res
}

func checkFix(p Prober) string {
	if e, ok := p.(Endpointer); ok && e.Endpoint() != "" {
		return fmt.Sprintf("check that %s is reachable from this Mattermost server and answering", e.Endpoint())
	}
	return fmt.Sprintf("check that the service behind %q is reachable from this Mattermost server", p.Name())
}
