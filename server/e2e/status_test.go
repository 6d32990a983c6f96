//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// statusJSON is what GET /api/v1/status answers.
type statusJSON struct {
	Verdict string `json:"verdict"`
	Reasons []struct {
		Component string `json:"component"`
		Message   string `json:"message"`
	} `json:"reasons"`
	Results []struct {
		Component string `json:"component"`
		Name      string `json:"name"`
		State     string `json:"state"`
		Summary   string `json:"summary"`
	} `json:"results"`
}

func getStatus(ctx context.Context, t *testing.T, env *harness.Env, fresh bool) statusJSON {
	t.Helper()
	path := "/api/v1/status"
	if fresh {
		path += "?fresh=true"
	}
	code, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, path, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, string(body))
	var st statusJSON
	require.NoError(t, json.Unmarshal(body, &st))
	return st
}

func resultOf(st statusJSON, component string) (state, summary string) {
	for _, r := range st.Results {
		if r.Component == component {
			return r.State, r.Summary
		}
	}
	return "", ""
}

// /dr status, the JSON route and the metrics route on the real server; a scraper's token;
// a PostgreSQL standby that hangs does not hold the answer past 3 s.
func TestStatus(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// A default single-server install: what is not set up says so, and what that means for DR,
	// apart from the checks and without making the verdict worse.
	text := cmd(ctx, t, env, "/dr status --fresh")
	assert.Contains(t, text, "**Not set up** (not checked, not counted in the verdict):")
	assert.Contains(t, text, "- **database**: no database replica: losing the database server loses everything since the last backup")
	assert.Contains(t, text, "- **s3**: no file store replication")
	assert.NotContains(t, text, "Not reported")
	st := getStatus(ctx, t, env, true)
	for _, c := range []string{"database", "s3", "opensearch", "idp"} {
		state, summary := resultOf(st, c)
		assert.Equal(t, "not_configured", state, c)
		assert.True(t, strings.HasPrefix(summary, "not set up: "), summary)
	}
	for _, r := range st.Reasons {
		assert.NotContains(t, []string{"database", "s3", "opensearch", "idp"}, r.Component, "not set up is no reason: %s", r.Message)
	}

	text = cmd(ctx, t, env, "/dr status --fresh --verbose")
	assert.Regexp(t, `(?i)\*\*(healthy|degraded|critical)\*\*`, text)
	assert.Contains(t, text, "#### database: not set up")
	assert.Contains(t, text, "scheduler")
	hostname, _ := os.Hostname()
	assert.Contains(t, text, hostname, "the node's own report is in the scheduler table")

	// A local-only, unencrypted backup: /dr status says it is not off-site and holds secrets in clear.
	runBackup(ctx, t, env, "--only database,config")
	st = getStatus(ctx, t, env, true)
	assert.Contains(t, []string{"healthy", "degraded", "critical"}, st.Verdict)
	var backupReasons []string
	for _, r := range st.Reasons {
		if r.Component == "backups" {
			backupReasons = append(backupReasons, r.Message)
		}
	}
	assert.Contains(t, strings.Join(backupReasons, "\n"), "local-only backups are not off-site")
	assert.Contains(t, strings.Join(backupReasons, "\n"), "backups hold secrets unencrypted")
	state, summary := resultOf(st, "scheduler")
	assert.Equal(t, "healthy", state, summary)
	state, _ = resultOf(st, "backups")
	assert.NotEmpty(t, state)

	// Metrics: admins with their session; a scraper with the token; nobody else.
	code, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/metrics", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, string(body))
	for _, want := range []string{"dr_status_verdict", "dr_probe_up{", "dr_nodes{", "dr_backup_last_success_timestamp_seconds", "dr_backup_runs_total{outcome=\"success\"}",
		"dr_component_configured{component=\"database\"} 0", "dr_sso_fallback_users"} {
		assert.Contains(t, string(body), want)
	}
	token := "scrape-" + strings.Repeat("x7", 12)
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"drmetricstoken": token}))
	t.Cleanup(func() { _ = env.PatchPluginSettings(context.Background(), map[string]any{"drmetricstoken": ""}) })
	scrape := func(header, value string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.MM.URL+"/plugins/"+harness.PluginID+"/api/v1/metrics", nil)
		require.NoError(t, err)
		if header != "" {
			req.Header.Set(header, value)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, out := scrape("X-DR-Token", token)
	assert.Equal(t, http.StatusOK, code, out)
	assert.Contains(t, out, "dr_status_verdict")
	code, out = scrape("Authorization", "Bearer "+token)
	assert.Equal(t, http.StatusOK, code, "Authorization: Bearer reaches the plugin: %s", out)
	code, out = scrape("X-DR-Token", "wrong-token-wrong-token")
	assert.Equal(t, http.StatusUnauthorized, code, out)
	assert.NotContains(t, out, "dr_status_verdict")
	code, _ = scrape("", "")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, _, _ = env.PluginRequest(ctx, env.Member, http.MethodGet, "/api/v1/metrics", nil)
	assert.Equal(t, http.StatusForbidden, code)

	// A standby whose server accepts connections and never answers: the status still comes
	// back within 3 s, with the database marked unknown and why.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent
		}
	}()
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"drpostgresstandbydatasource": "postgres://mmuser:hush-hush@" + ln.Addr().String() + "/mattermost?sslmode=disable&connect_timeout=60"}))
	t.Cleanup(func() {
		_ = env.PatchPluginSettings(context.Background(), map[string]any{"drpostgresstandbydatasource": ""})
	})
	start := time.Now()
	text = cmd(ctx, t, env, "/dr status --fresh")
	took := time.Since(start)
	assert.Less(t, took, 3*time.Second, "status answered in %s", took)
	t.Logf("/dr status with a hanging standby answered in %s", took.Round(time.Millisecond))
	assert.Contains(t, text, "database")
	assert.NotContains(t, text, "hush-hush", "no password in the status")
	st = getStatus(ctx, t, env, true)
	state, summary = resultOf(st, "database")
	assert.Contains(t, []string{"unknown", "critical"}, state, summary)
}
