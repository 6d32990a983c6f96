package status

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// fakeProber is a Prober whose Probe runs fn, counting calls.
type fakeProber struct {
	component, name string
	fn              func(ctx context.Context) probe.Result
	calls           atomic.Int32
}

func (f *fakeProber) Component() string { return f.component }
func (f *fakeProber) Name() string      { return f.name }
func (f *fakeProber) Probe(ctx context.Context) probe.Result {
	f.calls.Add(1)
	return f.fn(ctx)
}

// endpointProber also names its endpoint.
type endpointProber struct {
	*fakeProber
	endpoint string
}

func (e endpointProber) Endpoint() string { return e.endpoint }

func fake(component, name string, fn func(ctx context.Context) probe.Result) *fakeProber {
	return &fakeProber{component: component, name: name, fn: fn}
}

// returns is a probe that answers at once with state.
func returns(component, name string, state probe.State) *fakeProber {
	return fake(component, name, func(context.Context) probe.Result {
		r := probe.Result{Component: component, Name: name, State: probe.Healthy, Summary: name + " ok"}
		if state != probe.Healthy {
			r.Summary = name + " is " + string(state)
			r.Add(state, "fix "+name, name+" problem")
		}
		if state == probe.NotConfigured {
			r = probe.Result{Component: component, Name: name, State: probe.NotConfigured, Summary: "not configured"}
		}
		return r
	})
}

// manualClock is a clock tests move by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *manualClock {
	return &manualClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
