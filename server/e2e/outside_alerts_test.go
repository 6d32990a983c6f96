//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// alertReceiver stands in for the webhook receivers and the heartbeat monitor: each webhook
// path answers 500 to its first request and 202 afterwards, as a receiver that restarts would.
type alertReceiver struct {
	*httptest.Server
	mu        sync.Mutex
	attempts  map[string]int      // by path prefix
	delivered map[string][]string // accepted bodies, by path prefix
	pings     []string            // heartbeat paths, in order
}

func newAlertReceiver(t *testing.T) *alertReceiver {
	r := &alertReceiver{attempts: map[string]int{}, delivered: map[string][]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		prefix := strings.SplitN(strings.TrimPrefix(req.URL.Path, "/"), "/", 2)[0]
		if prefix == "hb" {
			r.pings = append(r.pings, req.Method+" "+req.URL.Path)
			return
		}
		r.attempts[prefix]++
		if r.attempts[prefix] == 1 {
			http.Error(w, "warming up", http.StatusInternalServerError)
			return
		}
		r.delivered[prefix] = append(r.delivered[prefix], string(b))
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *alertReceiver) got(prefix string) (attempts int, bodies []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts[prefix], append([]string(nil), r.delivered[prefix]...)
}

func (r *alertReceiver) pingCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pings)
}

// A failed backup reaches a generic webhook and PagerDuty (a receiver that answers 500 first,
// so each is retried) exactly once each, and the next good backup resolves it; the heartbeat
// is pinged every minute and stops when the plugin is disabled. No secret reaches the log.
func TestOutsideAlerts(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	recv := newAlertReceiver(t)
	const routingKey = "e2eROUTINGkey0123456789abcdefXYZ"
	targets := "# e2e\ngeneric " + recv.URL + "/generic/GENERICPATHSECRET?token=GENERICQUERYSECRET\n" +
		"pagerduty " + routingKey + " " + recv.URL + "/pd/v2/enqueue\n"
	hb := recv.URL + "/hb/HEARTBEATSECRET"
	reset := map[string]any{"alertwebhooktargets": "", "alertheartbeaturl": "", "backuppgdumppath": ""}
	t.Cleanup(func() {
		_, _ = env.Admin.Client.EnablePlugin(context.Background(), harness.PluginID)
		_ = env.WaitPluginRunning(context.Background(), time.Minute)
		_ = env.PatchPluginSettings(context.Background(), reset)
	})

	// A bad target line is refused with the line and what to do, and without the URL.
	err := env.PatchPluginSettings(ctx, map[string]any{"alertwebhooktargets": "slak " + recv.URL + "/x/TYPOSECRET"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 1: the line does not start with a target format")
	assert.NotContains(t, err.Error(), "TYPOSECRET")

	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"alertwebhooktargets": targets, "alertheartbeaturl": hb,
		"backuppgdumppath": "/nonexistent/pg_dump"}))

	// A failed manual backup: one notification per target, after one retry each.
	failurePost(ctx, t, env, startBackup(ctx, t, env, "--only database"))
	for _, prefix := range []string{"generic", "pd"} {
		require.Eventually(t, func() bool { _, b := recv.got(prefix); return len(b) > 0 }, time.Minute, 100*time.Millisecond, "%s got no notification", prefix)
	}
	time.Sleep(5 * time.Second) // room for a duplicate, were one sent
	attempts, bodies := recv.got("generic")
	assert.Equal(t, 2, attempts, "the 500 was retried once")
	require.Len(t, bodies, 1, "exactly one notification")
	var generic struct{ Schema, Event, Key, Action, Severity, Summary, Text, Source, Time string }
	require.NoError(t, json.Unmarshal([]byte(bodies[0]), &generic))
	assert.Equal(t, "mattermost-disaster-recovery.alert.v1", generic.Schema)
	assert.Equal(t, "backup.failed", generic.Event)
	assert.Equal(t, "trigger", generic.Action)
	assert.Equal(t, "warning", generic.Severity)
	assert.True(t, strings.HasSuffix(generic.Key, "/backup-failed"), generic.Key)
	assert.Contains(t, generic.Text, "pg_dump")
	assert.Contains(t, generic.Summary, "failed")
	attempts, bodies = recv.got("pd")
	assert.Equal(t, 2, attempts)
	require.Len(t, bodies, 1)
	var pd struct {
		RoutingKey  string `json:"routing_key"`
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
		Payload     struct{ Summary, Severity, Source string }
	}
	require.NoError(t, json.Unmarshal([]byte(bodies[0]), &pd))
	assert.Equal(t, routingKey, pd.RoutingKey)
	assert.Equal(t, "trigger", pd.EventAction)
	assert.Equal(t, generic.Key, pd.DedupKey)
	assert.Equal(t, "warning", pd.Payload.Severity)

	// The next good backup resolves the incident, once.
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backuppgdumppath": ""}))
	runBackup(ctx, t, env, "--only database,config")
	require.Eventually(t, func() bool { _, b := recv.got("pd"); return len(b) == 2 }, time.Minute, 100*time.Millisecond, "no resolve")
	time.Sleep(3 * time.Second)
	_, bodies = recv.got("pd")
	require.Len(t, bodies, 2)
	require.NoError(t, json.Unmarshal([]byte(bodies[1]), &pd))
	assert.Equal(t, "resolve", pd.EventAction)
	assert.Equal(t, generic.Key, pd.DedupKey)

	// The heartbeat: pinged on every minute tick.
	require.Eventually(t, func() bool { return recv.pingCount() >= 2 }, 3*time.Minute, time.Second, "heartbeat pings")
	recv.mu.Lock()
	assert.Equal(t, "GET /hb/HEARTBEATSECRET", recv.pings[0])
	recv.mu.Unlock()

	// Disabled, the plugin pings no more.
	_, err = env.Admin.Client.DisablePlugin(ctx, harness.PluginID)
	require.NoError(t, err)
	before := recv.pingCount()
	time.Sleep(150 * time.Second) // two and a half ticks
	assert.Equal(t, before, recv.pingCount(), "pings after the plugin was disabled")

	// No secret in the server's log.
	log, err := os.ReadFile(filepath.Join(env.MM.Dir, "logs", "mattermost.log"))
	require.NoError(t, err)
	for _, secret := range []string{routingKey, "GENERICPATHSECRET", "GENERICQUERYSECRET", "HEARTBEATSECRET", "TYPOSECRET"} {
		assert.NotContains(t, string(log), secret)
	}
}
