//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status/metrics"
)

const promJob = "mattermost-dr"

// A real Prometheus scrapes the plugin on the real server with the scrape token and evaluates
// the shipped rules file, unchanged: after a failed backup the last-backup-failed and the
// backup-stale alerts fire (the stale threshold comes from the BackupStaleAfter setting through
// dr_backup_stale_after_seconds); after a good backup the failure alert resolves. Every metric
// Prometheus stored is in the catalog, and every dashboard query runs.
func TestPrometheusAlertRules(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	token := "prom-" + strings.Repeat("k3", 14)
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"drmetricstoken": token, "backupstaleafter": "1s"}))
	t.Cleanup(func() {
		_ = env.PatchPluginSettings(context.Background(), map[string]any{"drmetricstoken": "", "backupstaleafter": "26h", "backuppgdumppath": ""})
	})
	mm, err := url.Parse(env.MM.URL)
	require.NoError(t, err)
	prom, err := harness.StartPrometheus(ctx, harness.PrometheusOptions{Job: promJob, Target: mm.Host,
		MetricsPath: "/plugins/" + harness.PluginID + "/api/v1/metrics", Token: token,
		RuleFiles: []string{filepath.Join(env.Root, "assets", "prometheus", "dr-alerts.yml")}})
	if err != nil {
		harness.Unavailable(t, "prometheus", err)
	}
	t.Cleanup(prom.Stop)

	// The token works: up is 1 and the threshold gauge carries the setting.
	waitPromValue(ctx, t, prom, `up{job="`+promJob+`"}`, 1)
	waitPromValue(ctx, t, prom, `dr_backup_stale_after_seconds{job="`+promJob+`"}`, 1)

	failuresBefore := promValue(ctx, t, prom, `dr_backup_runs_total{outcome="failure"}`)
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backuppgdumppath": "/nonexistent/pg_dump"}))
	failurePost(ctx, t, env, startBackup(ctx, t, env, "--only database"))
	waitPromValue(ctx, t, prom, `dr_backup_runs_total{outcome="failure"}`, failuresBefore+1)

	require.Eventually(t, func() bool {
		alerts := activeAlerts(ctx, t, prom)
		return alerts["DRLastBackupFailed"] == "firing" && alerts["DRBackupStale"] == "firing"
	}, time.Minute, 500*time.Millisecond, "the shipped rules never raised DRLastBackupFailed and DRBackupStale: %v\n%s",
		activeAlerts(ctx, t, prom), prom.LogTail())

	checkNamesAndDashboard(ctx, t, env, prom)

	// A good backup resolves the failure alert.
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backuppgdumppath": ""}))
	runBackup(ctx, t, env, "--only database,config")
	require.Eventually(t, func() bool {
		_, active := activeAlerts(ctx, t, prom)["DRLastBackupFailed"]
		return !active
	}, time.Minute, 500*time.Millisecond, "DRLastBackupFailed did not resolve after a good backup")
}

// checkNamesAndDashboard: every dr_ metric Prometheus stored from the plugin is documented, and
// every dashboard query is valid PromQL on a real Prometheus.
func checkNamesAndDashboard(ctx context.Context, t *testing.T, env *harness.Env, prom *harness.Prometheus) {
	t.Helper()
	names, err := prom.MetricNames(ctx)
	require.NoError(t, err)
	var dr []string
	for _, n := range names {
		if strings.HasPrefix(n, "dr_") {
			dr = append(dr, n)
			_, ok := metrics.Lookup(n)
			assert.True(t, ok, "the plugin exposes %s, which is not in metrics.Catalog", n)
		}
	}
	assert.Contains(t, dr, "dr_component_configured")
	assert.Contains(t, dr, "dr_backup_last_success_timestamp_seconds")

	b, err := os.ReadFile(filepath.Join(env.Root, "assets", "grafana", "dr-dashboard.json"))
	require.NoError(t, err)
	exprs := regexp.MustCompile(`"expr": "((?:[^"\\]|\\.)*)"`).FindAllSubmatch(b, -1)
	require.NotEmpty(t, exprs)
	for _, m := range exprs {
		var e string
		require.NoError(t, json.Unmarshal([]byte(`"`+string(m[1])+`"`), &e))
		e = strings.ReplaceAll(e, "$job", ".*")
		_, err := prom.Query(ctx, e)
		assert.NoError(t, err, "dashboard query")
	}
}

func activeAlerts(ctx context.Context, t *testing.T, prom *harness.Prometheus) map[string]string {
	t.Helper()
	alerts, err := prom.Alerts(ctx)
	require.NoError(t, err)
	out := map[string]string{}
	for _, a := range alerts {
		if a.Labels["job"] == promJob || a.Labels["job"] == "" {
			out[a.Labels["alertname"]] = a.State
		}
	}
	return out
}

// promValue is the sum of expr's samples now (0 when there are none).
func promValue(ctx context.Context, t *testing.T, prom *harness.Prometheus, expr string) float64 {
	t.Helper()
	s, err := prom.Query(ctx, "sum("+expr+")")
	require.NoError(t, err)
	if len(s) == 0 {
		return 0
	}
	return s[0].Float()
}

func waitPromValue(ctx context.Context, t *testing.T, prom *harness.Prometheus, expr string, want float64) {
	t.Helper()
	require.Eventually(t, func() bool { return promValue(ctx, t, prom, expr) == want }, time.Minute, 250*time.Millisecond,
		"%s never became %v (now %v):\n%s", expr, want, promValue(ctx, t, prom, expr), prom.LogTail())
}
