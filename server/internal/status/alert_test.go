package status

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// check is one observed verdict at minute `at` and the post it should cause ("" for none):
// "degraded", "critical" or "recovery <outage>".
type check struct {
	at   float64 // minutes since the start
	v    probe.State
	post string
}

const (
	H = probe.Healthy
	D = probe.Degraded
	C = probe.Critical
	U = probe.Unknown
)

func TestDebouncer(t *testing.T) {
	tests := []struct {
		name   string
		d      Debouncer
		checks []check
	}{
		{
			name:   "healthy stays quiet",
			d:      DefaultDebouncer(),
			checks: []check{{0, H, ""}, {1, H, ""}, {2, H, ""}},
		},
		{
			name: "degraded posted after 2 checks and 2 minutes, recovery after it held too",
			d:    DefaultDebouncer(),
			checks: []check{
				{0, H, ""}, {1, D, ""}, {2, D, ""}, {3, D, "degraded"}, {4, D, ""},
				{10, H, ""}, {11, H, ""}, {12, H, "recovery 9m"}, {13, H, ""},
			},
		},
		{
			name: "two quick checks are not two minutes",
			d:    DefaultDebouncer(),
			checks: []check{
				{0, D, ""}, {0.25, D, ""}, {0.5, D, ""}, {1.75, D, ""}, {2, D, "degraded"},
			},
		},
		{
			name: "two minutes are not two checks",
			d:    DefaultDebouncer(),
			checks: []check{
				{0, D, ""}, {5, D, "degraded"},
			},
		},
		{
			name: "flapping never posts",
			d:    DefaultDebouncer(),
			checks: []check{
				{0, D, ""}, {1, H, ""}, {2, D, ""}, {3, H, ""}, {4, D, ""}, {5, H, ""}, {6, D, ""}, {7, H, ""},
			},
		},
		{
			name: "flapping between degraded and critical is still posted, as the mildest",
			d:    DefaultDebouncer(),
			checks: []check{
				{0, D, ""}, {1, C, ""}, {2, D, "degraded"}, {3, C, ""}, {4, D, ""}, {5, C, ""}, {6, D, ""},
			},
		},
		{
			name: "worsening in steps posts the state that held, then the next",
			d:    DefaultDebouncer(),
			checks: []check{
				{0, D, ""}, {1, C, ""}, {2, C, "degraded"}, {3, C, ""}, {4, C, ""}, {5, C, "critical"},
			},
		},
		{
			name: "improving with a bump posts the worst state seen on the way",
			d:    DefaultDebouncer(),
			checks: []check{
				{0, C, ""}, {2, C, "critical"}, {3, H, ""}, {4, D, ""}, {5, H, "degraded"},
				{6, H, ""}, {7, H, ""}, {8, H, "recovery 6m"},
			},
		},
		{
			name: "escalation to critical after degraded was posted",
			d:    DefaultDebouncer(),
			checks: []check{
				{0, D, ""}, {2, D, "degraded"}, {3, C, ""}, {4, C, ""}, {5, C, "critical"},
				{6, D, ""}, {7, H, ""}, {8, D, "degraded"}, // improving, the worst seen on the way
				{9, H, ""}, {10, H, ""}, {11, H, "recovery 9m"},
			},
		},
		{
			name: "recovery counts from first unhealthy sighting to first healthy one",
			d:    DefaultDebouncer(),
			checks: []check{
				{0, H, ""}, {10, C, ""}, {11, C, ""}, {12, C, "critical"}, {24, H, ""}, {25, H, ""}, {26, H, "recovery 14m"},
			},
		},
		{
			name: "unknown counts as degraded",
			d:    DefaultDebouncer(),
			checks: []check{
				{0, U, ""}, {1, D, ""}, {2, U, "degraded"},
			},
		},
		{
			name: "a gap restarts the count",
			d:    DefaultDebouncer(),
			checks: []check{
				{0, C, ""}, {60, C, ""}, {61, C, ""}, {62, C, "critical"},
			},
		},
		{
			name: "one check is enough when so configured",
			d:    Debouncer{MinChecks: 1},
			checks: []check{
				{0, C, "critical"}, {0.1, H, "recovery 6s"},
			},
		},
		{
			name:   "not configured is no problem",
			d:      Debouncer{MinChecks: 1},
			checks: []check{{0, probe.NotConfigured, ""}},
		},
	}
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st AlertState
			for i, c := range tt.checks {
				var a *Alert
				st, a = tt.d.Observe(st, c.v, start.Add(time.Duration(c.at*float64(time.Minute))))
				assert.Equal(t, c.post, describe(a), "check %d at %vm: %s", i, c.at, c.v)
			}
		})
	}
}

func describe(a *Alert) string {
	switch {
	case a == nil:
		return ""
	case a.Recovery:
		return "recovery " + Human(a.Outage)
	default:
		return string(a.To)
	}
}

// The plugin keeps the state in the KV store between checks, possibly on another node: a
// run through JSON at every step must decide exactly like one kept in memory.
func TestAlertStateSurvivesJSON(t *testing.T) {
	d := DefaultDebouncer()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	seq := []probe.State{H, D, C, D, D, C, C, C, H, D, H, H, H, H}
	var mem, stored AlertState
	var blob []byte
	posts := 0
	for i, v := range seq {
		now := start.Add(time.Duration(i) * time.Minute)
		var am, as *Alert
		mem, am = d.Observe(mem, v, now)

		if blob != nil {
			stored = AlertState{}
			require.NoError(t, json.Unmarshal(blob, &stored))
		}
		stored, as = d.Observe(stored, v, now)
		var err error
		blob, err = json.Marshal(stored)
		require.NoError(t, err)

		assert.Equal(t, am, as, "step %d", i)
		assert.Equal(t, mem, stored, "step %d", i)
		if am != nil {
			posts++
		}
	}
	assert.Equal(t, 4, posts, "degraded at 3m, critical at 7m, degraded at 10m, recovery at 13m")
	at := start.Add(13 * time.Minute).Format(time.RFC3339)
	assert.JSONEq(t, fmt.Sprintf(`{"posted":"healthy","posted_at":%q,"last_check":%q}`, at, at), string(blob),
		"a settled state keeps only what it needs")
}

func TestAlertMarkdown(t *testing.T) {
	rep := NewReport([]probe.Result{result("database", "Aurora", probe.Critical, finding(probe.Critical, "replica down"))}, time.Time{}, 0)
	since := time.Date(2026, 3, 1, 12, 3, 0, 0, time.UTC)
	tests := []struct {
		name string
		a    Alert
		want string
	}{
		{
			name: "problem with reasons",
			a:    Alert{From: H, To: C, Since: since},
			want: "Disaster recovery status is **Critical** (was healthy) since 2026-03-01 12:03 UTC.\n\n" +
				"- **database** (critical): replica down\n\nRun `/dr status` for details.\n",
		},
		{
			name: "recovery",
			a:    Alert{From: C, To: H, Since: since, Recovery: true, Outage: 14 * time.Minute},
			want: "Disaster recovery status is back to **Healthy** after 14m (was critical).\n",
		},
		{
			name: "recovery without known start",
			a:    Alert{From: D, To: H, Since: since, Recovery: true},
			want: "Disaster recovery status is back to **Healthy** (was degraded).\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, AlertMarkdown(tt.a, rep))
		})
	}
}
