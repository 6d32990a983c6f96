package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logCapture is a Logger that keeps every line, for checks that no secret is logged.
type logCapture struct {
	mu    sync.Mutex
	lines []string
}

func (l *logCapture) add(level, msg string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+msg+" "+fmt.Sprint(kv...))
}
func (l *logCapture) Warn(msg string, kv ...any)  { l.add("warn", msg, kv...) }
func (l *logCapture) Error(msg string, kv ...any) { l.add("error", msg, kv...) }
func (l *logCapture) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
func (l *logCapture) count(substr string) int {
	return strings.Count(l.all(), substr)
}

// fakeClock moves on by each wait instead of waiting, and records the waits.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	waits []time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.t = c.t.Add(d)
	return ctx.Err()
}

func testSender(log Logger) (*Sender, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := NewSender(nil, DefaultPolicy(), log)
	s.now, s.sleep = clock.now, clock.sleep
	return s, clock
}

// receiver answers with the statuses in order (the last one repeats) and keeps the bodies of
// the requests it accepted.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	header   http.Header
	body     string
	attempts atomic.Int32
	accepted []string
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		n := int(r.attempts.Add(1))
		r.mu.Lock()
		defer r.mu.Unlock()
		st := r.statuses[min(n, len(r.statuses))-1]
		for k, vs := range r.header {
			w.Header()[k] = vs
		}
		if st >= 200 && st < 300 {
			r.accepted = append(r.accepted, string(b))
		}
		w.WriteHeader(st)
		_, _ = io.WriteString(w, r.body)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) delivered() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.accepted...)
}

var testAlert = Alert{Event: "status.critical", Key: "chat.example.com/status", Action: Trigger, Severity: Critical,
	Summary: "Disaster recovery status is Critical", Text: ":rotating_light: Disaster recovery status is **Critical**\n- database: standby unreachable",
	Source: "https://chat.example.com", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}

func TestBodyOfEachFormat(t *testing.T) {
	resolve := testAlert
	resolve.Action, resolve.Event, resolve.Severity = Resolve, "status.recovered", Info
	cases := []struct {
		name   string
		target Target
		alert  Alert
		want   string
	}{
		{"generic", Target{Format: Generic, URL: "https://h/x"}, testAlert,
			`{"schema":"mattermost-disaster-recovery.alert.v1","event":"status.critical","key":"chat.example.com/status","action":"trigger","severity":"critical",` +
				`"summary":"Disaster recovery status is Critical","text":":rotating_light: Disaster recovery status is **Critical**\n- database: standby unreachable",` +
				`"source":"https://chat.example.com","time":"2026-01-02T03:04:05Z"}`},
		{"pagerduty trigger", Target{Format: PagerDuty, URL: PagerDutyEventsURL, RoutingKey: "R0UTINGKEY0123456789abcdefABCDEF"}, testAlert,
			`{"routing_key":"R0UTINGKEY0123456789abcdefABCDEF","event_action":"trigger","dedup_key":"chat.example.com/status","client":"Mattermost Disaster Recovery",` +
				`"payload":{"summary":"Disaster recovery status is Critical","source":"https://chat.example.com","severity":"critical","timestamp":"2026-01-02T03:04:05Z",` +
				`"component":"mattermost","class":"status.critical","custom_details":{"text":":rotating_light: Disaster recovery status is **Critical**\n- database: standby unreachable"}}}`},
		{"pagerduty resolve", Target{Format: PagerDuty, URL: PagerDutyEventsURL, RoutingKey: "R0UTINGKEY0123456789abcdefABCDEF"}, resolve,
			`{"routing_key":"R0UTINGKEY0123456789abcdefABCDEF","event_action":"resolve","dedup_key":"chat.example.com/status","client":"Mattermost Disaster Recovery"}`},
		{"slack", Target{Format: Slack, URL: "https://hooks.slack.com/services/T/B/X"}, testAlert,
			`{"text":":rotating_light: Disaster recovery status is **Critical**\n- database: standby unreachable\n_Disaster Recovery on https://chat.example.com_"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Body(c.target, c.alert)
			require.NoError(t, err)
			assert.Equal(t, c.want, string(b))
		})
	}
	_, err := Body(Target{Format: "teams"}, testAlert)
	assert.Error(t, err)
}

func TestPagerDutyLimits(t *testing.T) {
	a := testAlert
	a.Summary, a.Key = strings.Repeat("é", 600), strings.Repeat("k", 300)
	b, err := Body(Target{Format: PagerDuty, RoutingKey: "k"}, a)
	require.NoError(t, err)
	var ev pagerDutyEvent
	require.NoError(t, json.Unmarshal(b, &ev))
	assert.LessOrEqual(t, len(ev.Payload.Summary), maxSummary)
	assert.True(t, strings.HasSuffix(ev.Payload.Summary, "é…"), "cut on a character boundary")
	assert.Len(t, ev.DedupKey, maxDedupKey)
	a.Summary = ""
	b, _ = Body(Target{Format: PagerDuty, RoutingKey: "k"}, a)
	require.NoError(t, json.Unmarshal(b, &ev))
	assert.Equal(t, ":rotating_light: Disaster recovery status is **Critical**", ev.Payload.Summary, "the text's first line stands in for a missing summary")
}

func TestRetries(t *testing.T) {
	cases := []struct {
		name       string
		statuses   []int
		retryAfter string
		attempts   int32
		delivered  int
		waits      []time.Duration // exact waits; nil: only their count is checked
		errPart    string
	}{
		{name: "500 then 200", statuses: []int{500, 200}, attempts: 2, delivered: 1},
		{name: "503 twice then 202", statuses: []int{503, 503, 202}, attempts: 3, delivered: 1},
		{name: "400 is not retried", statuses: []int{400}, attempts: 1, errPart: "answered 400 Bad Request"},
		{name: "404 is not retried", statuses: []int{404}, attempts: 1, errPart: "answered 404"},
		{name: "a redirect is not followed", statuses: []int{302}, attempts: 1, errPart: "redirects are not followed"},
		{name: "429 waits as told", statuses: []int{429, 200}, retryAfter: "7", attempts: 2, delivered: 1, waits: []time.Duration{7 * time.Second}},
		{name: "Retry-After beyond the budget gives up", statuses: []int{429}, retryAfter: "3600", attempts: 1, errPart: "no time left to wait 1h0m0s"},
		{name: "always 500 stops after the attempts", statuses: []int{500}, attempts: 6, errPart: "after 6 attempt(s): answered 500"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newReceiver(t, c.statuses...)
			if c.retryAfter != "" {
				r.header = http.Header{"Retry-After": {c.retryAfter}}
			}
			log := &logCapture{}
			s, clock := testSender(log)
			err := s.Send(context.Background(), []Target{{Format: Generic, URL: r.URL + "/hook"}}, testAlert)
			assert.Equal(t, c.attempts, r.attempts.Load(), "attempts")
			assert.Len(t, r.delivered(), c.delivered, "delivered notifications")
			if c.errPart == "" {
				require.NoError(t, err)
				assert.Zero(t, log.count("dead letter"))
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.errPart)
				assert.Equal(t, 1, log.count("NOT delivered (dead letter)"), "one dead letter: %s", log.all())
				assert.Contains(t, log.all(), testAlert.Key, "the dead letter names the alert")
			}
			if c.waits != nil {
				assert.Equal(t, c.waits, clock.waits)
			} else {
				assert.Len(t, clock.waits, int(c.attempts)-1)
			}
		})
	}
}

func TestBackoffGrowsWithJitterWithinTheBudget(t *testing.T) {
	r := newReceiver(t, 500)
	s, clock := testSender(nil)
	s.policy.Attempts = 20
	_ = s.Send(context.Background(), []Target{{Format: Slack, URL: r.URL}}, testAlert)
	var total time.Duration
	for i, w := range clock.waits {
		total += w
		assert.LessOrEqual(t, w, s.policy.MaxWait*3/2, "wait %d", i)
		if i == 0 {
			assert.InDelta(t, float64(s.policy.FirstWait), float64(w), float64(s.policy.FirstWait)/2+1, "first wait")
		}
	}
	assert.LessOrEqual(t, total, s.policy.Budget, "all waits fit the budget")
	assert.Greater(t, len(clock.waits), 3)
}

func TestNetworkErrorsAreRetriedAndShowNoURL(t *testing.T) {
	r := newReceiver(t, 200)
	u := r.URL + "/hooks/SECRETPATHTOKEN123?token=SECRETQUERY456"
	r.Close() // nothing listens any more
	log := &logCapture{}
	s, clock := testSender(log)
	err := s.Send(context.Background(), []Target{{Format: Generic, URL: u}}, testAlert)
	require.Error(t, err)
	assert.Len(t, clock.waits, s.policy.Attempts-1, "every attempt was made")
	assert.Contains(t, err.Error(), "generic http://127.0.0.1:")
	for _, secret := range []string{"SECRETPATHTOKEN123", "SECRETQUERY456", "/hooks/"} {
		assert.NotContains(t, err.Error(), secret)
		assert.NotContains(t, log.all(), secret)
	}
}

// Each receiver echoes its target's secrets back in its error answer (as some do): they are
// still never logged nor in the error.
func TestSecretsNeverShown(t *testing.T) {
	const key = "PDROUTINGKEYSECRET0123456789abcd"
	secrets := []string{key, "T0SECRET", "B0SECRET", "XXSLACKSECRETXX", "GENERICQUERYSECRET", "USERSECRET"}
	for _, status := range []int{400, 500} {
		pd, slack, generic := newReceiver(t, status), newReceiver(t, status), newReceiver(t, status)
		slackURL := slack.URL + "/services/T0SECRET/B0SECRET/XXSLACKSECRETXX"
		genericURL := strings.Replace(generic.URL, "http://", "http://dr:USERSECRET@", 1) + "/dr?token=GENERICQUERYSECRET"
		pd.body = `{"status":"invalid event","message":"Event object is invalid","errors":["unknown routing_key ` + key + `"]}`
		slack.body = "no_service for /services/T0SECRET/B0SECRET/XXSLACKSECRETXX"
		generic.body = "bad token GENERICQUERYSECRET in " + genericURL
		log := &logCapture{}
		s, _ := testSender(log)
		targets := []Target{{Format: PagerDuty, URL: pd.URL + "/v2/enqueue", RoutingKey: key}, {Format: Slack, URL: slackURL}, {Format: Generic, URL: genericURL}}
		err := s.Send(context.Background(), targets, testAlert)
		require.Error(t, err)
		shown := err.Error() + "\n" + log.all()
		for _, secret := range secrets {
			assert.NotContains(t, shown, secret, "status %d", status)
		}
		for _, tg := range targets {
			assert.Contains(t, err.Error(), tg.String(), "each target is named")
		}
		assert.Equal(t, 3, log.count("dead letter"))
		assert.Contains(t, err.Error(), "unknown routing_key …", "the answer is shown, without the key")
	}
}

func TestTargetString(t *testing.T) {
	assert.Equal(t, "pagerduty https://events.pagerduty.com/…", Target{Format: PagerDuty, URL: PagerDutyEventsURL, RoutingKey: "k"}.String())
	assert.Equal(t, "slack https://hooks.slack.com/…", Target{Format: Slack, URL: "https://hooks.slack.com/services/T/B/X"}.String())
}

func TestDispatcherSendsInTheBackgroundAndDeadLettersOnStop(t *testing.T) {
	release := make(chan struct{})
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		<-release
		got.Add(1)
	}))
	defer srv.Close()
	log := &logCapture{}
	s := NewSender(nil, Policy{Attempts: 1, Budget: time.Minute, AttemptTimeout: 30 * time.Second}, log)
	d := NewDispatcher(s, 2)
	targets := []Target{{Format: Generic, URL: srv.URL}}

	start := time.Now()
	d.Enqueue(targets, testAlert) // taken by the worker, which waits for the receiver
	require.Eventually(t, func() bool { return len(d.queue) == 0 }, 5*time.Second, 5*time.Millisecond)
	d.Enqueue(targets, testAlert)
	d.Enqueue(targets, testAlert)
	d.Enqueue(targets, testAlert) // the queue holds two: this one is dead-lettered at once
	assert.Less(t, time.Since(start), 2*time.Second, "Enqueue never waits for the receiver")
	assert.Equal(t, 1, log.count("too many alerts waiting"))

	close(release)
	d.Stop(10 * time.Second)
	assert.Equal(t, int32(3), got.Load(), "the queued alerts went out before the stop")
	d.Enqueue(targets, testAlert)
	assert.Equal(t, 1, log.count("the plugin is stopping"))
	d.Enqueue(nil, testAlert) // no targets: nothing to do, nothing logged
	assert.Equal(t, 2, log.count("dead letter"))
}

func TestDispatcherStopCancelsAfterTheGrace(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	log := &logCapture{}
	d := NewDispatcher(NewSender(nil, DefaultPolicy(), log), 10)
	d.Enqueue([]Target{{Format: Generic, URL: srv.URL}}, testAlert)
	start := time.Now()
	d.Stop(200 * time.Millisecond)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, 1, log.count("dead letter"), log.all())
}
