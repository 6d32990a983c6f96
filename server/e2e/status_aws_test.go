//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	awsfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/aws"
	osfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/opensearch"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/opensearchccr"
)

// The two-region checks through the plugin on the real server: Aurora (RDS + CloudWatch) and
// OpenSearch replication answered by test servers that speak their wire formats, scripted
// through healthy, lagging, paused and failing states.
func TestStatusTwoRegions(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	aws := awsfake.New(t)
	aws.PutGlobalCluster(awsfake.GlobalCluster{ID: "mm-global", Members: []awsfake.Member{
		{ARN: "arn:aws:rds:us-east-1:123456789012:cluster:mm-east", IsWriter: true, WriteForwarding: awsfake.ForwardingDisabled, Sync: awsfake.SyncConnected},
		{ARN: "arn:aws:rds:us-west-2:123456789012:cluster:mm-west", WriteForwarding: awsfake.ForwardingEnabled, Sync: awsfake.SyncConnected},
	}})
	aws.PutAuroraLag("us-west-2", "mm-west", 800*time.Millisecond, 150*time.Millisecond, 20*time.Second)

	const osUser, osPass = "dr-monitor", "os-pass-Secret-42"
	leader := osfake.New(t, osfake.Options{Name: "east", Username: osUser, Password: osPass})
	follower := osfake.New(t, osfake.Options{Name: "west", Username: osUser, Password: osPass})
	follower.Connect("east", leader)
	for _, ix := range []string{"channels", "users", "files", "posts_2026_11_25", "posts_2026_11_26"} {
		leader.CreateIndex(osfake.IndexSpec{Name: ix, Docs: 50})
	}
	fc, err := opensearchccr.New(opensearchccr.Options{Addresses: []string{follower.URL}, Username: osUser, Password: osPass})
	require.NoError(t, err)
	roles := &opensearchccr.Roles{LeaderClusterRole: "all_access", FollowerClusterRole: "all_access"}
	for _, ix := range []string{"channels", "users", "files"} {
		require.NoError(t, fc.Start(ctx, ix, "east", ix, roles))
	}
	require.NoError(t, fc.AddAutoFollow(ctx, "east", "mattermost-posts", "posts*", roles))

	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{
		"drtopology": "two_regions", "drprimaryregion": "us-east-1", "drsecondaryregion": "us-west-2", "drthisregion": "us-east-1",
		"drauroraglobalclusterid": "mm-global", "drauroraprimarycluster": "mm-east",
		"drawsaccesskeyid": awsfake.AccessKeyID, "drawssecretaccesskey": awsfake.SecretAccessKey, "drawsendpoint": aws.URL,
		"draurorasecondarycluster": "mm-west",
		"dropensearchprimaryurl":   leader.URL, "dropensearchsecondaryurl": follower.URL, "dropensearchusername": osUser, "dropensearchpassword": osPass,
		"dropensearchleaderalias": "east",
	}))
	t.Cleanup(func() {
		_ = env.PatchPluginSettings(context.Background(), map[string]any{"drtopology": "single", "drprimaryregion": "", "drsecondaryregion": "", "drthisregion": "",
			"drauroraglobalclusterid": "", "drauroraprimarycluster": "", "draurorasecondarycluster": "", "drawsaccesskeyid": "", "drawssecretaccesskey": "", "drawsendpoint": "",
			"dropensearchprimaryurl": "", "dropensearchsecondaryurl": "", "dropensearchusername": "", "dropensearchpassword": "", "dropensearchleaderalias": ""})
	})

	// Wait for the follower's bootstrap to finish (the fake moves on with each poll).
	require.Eventually(t, func() bool {
		st := getStatus(ctx, t, env, true)
		s, _ := resultOf(st, "opensearch")
		return s == "healthy"
	}, time.Minute, time.Second, "OpenSearch replication becomes healthy")
	st := getStatus(ctx, t, env, true)
	state, summary := resultOf(st, "database")
	assert.Equal(t, "healthy", state, summary)
	assert.Contains(t, summary, "mm-east")
	text := cmd(ctx, t, env, "/dr status --fresh --verbose")
	assert.Contains(t, text, "mm-west")
	assert.Contains(t, text, "posts_2026_11_26")
	assert.NotContains(t, text, osPass)
	assert.NotContains(t, text, awsfake.SecretAccessKey)
	// The primary cluster's own AWS point-in-time restore window (the fake's defaults: 7 days
	// kept, latest restorable a minute ago).
	assert.Regexp(t, `\| Restorable window \(AWS PITR\) \| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC → \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(mm-east; latest 1m0s ago\) \|`, text)
	assert.Contains(t, text, "| Backup retention | 7 days (mm-east) |")
	metricsText := func() string {
		code, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/metrics", nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code, string(body))
		return string(body)
	}
	m := metricsText()
	assert.Contains(t, m, `dr_aurora_backup_retention_days{cluster="mm-east",region="us-east-1"} 7`)
	assert.Regexp(t, `dr_aurora_restorable_lag_seconds\{cluster="mm-east",region="us-east-1"\} 60\.\d+`, m)

	// AWS's restore of the primary cluster falls 40 minutes behind and keeps one day only.
	eastARN := "arn:aws:rds:us-east-1:123456789012:cluster:mm-east"
	now := time.Now()
	aws.PutDBCluster(awsfake.DBCluster{ARN: eastARN, BackupRetentionPeriod: 1, EarliestRestorableTime: now.Add(-24 * time.Hour), LatestRestorableTime: now.Add(-40 * time.Minute)})
	st = getStatus(ctx, t, env, true)
	state, summary = resultOf(st, "database")
	assert.Equal(t, "degraded", state, summary)
	reasons := ""
	for _, r := range st.Reasons {
		reasons += r.Component + ": " + r.Message + "\n"
	}
	assert.Contains(t, reasons, "database: The latest restorable time of cluster mm-east is 40m0s old")
	assert.Contains(t, reasons, "database: Backup retention of cluster mm-east is 1 day")
	text = cmd(ctx, t, env, "/dr status --verbose")
	assert.Contains(t, text, "aws rds modify-db-cluster --db-cluster-identifier mm-east --backup-retention-period 7 --region us-east-1")
	assert.Contains(t, text, "| Backup retention | 1 day (mm-east) |")
	m = metricsText()
	assert.Contains(t, m, `dr_aurora_backup_retention_days{cluster="mm-east",region="us-east-1"} 1`)
	assert.Regexp(t, `dr_aurora_restorable_lag_seconds\{cluster="mm-east",region="us-east-1"\} 240\d\.\d+`, m)

	// DescribeDBClusters denied: the window is unknown and says why; the rest of the database
	// check stands.
	aws.PutDBCluster(awsfake.DBCluster{ARN: eastARN, BackupRetentionPeriod: 7, EarliestRestorableTime: now.AddDate(0, 0, -7), LatestRestorableTime: now})
	aws.Inject(awsfake.Fault{Service: "rds", Action: "DescribeDBClusters", Kind: awsfake.FaultAccessDenied})
	st = getStatus(ctx, t, env, true)
	state, summary = resultOf(st, "database")
	assert.Equal(t, "unknown", state, summary)
	text = cmd(ctx, t, env, "/dr status --verbose")
	assert.Contains(t, text, "| Restorable window (AWS PITR) | could not be read: describe DB cluster mm-east in us-east-1: ")
	assert.Contains(t, text, "AccessDenied")
	assert.Contains(t, text, "rds:DescribeDBClusters")
	assert.Contains(t, text, "| mm-west | us-west-2 | secondary | connected | enabled | 800ms | 150ms |")
	assert.NotContains(t, text, awsfake.SecretAccessKey)
	aws.ClearFaults()
	st = getStatus(ctx, t, env, true)
	state, summary = resultOf(st, "database")
	assert.Equal(t, "healthy", state, summary)

	// The RPO lag grows past the threshold; a follower index is paused.
	aws.ClearMetrics()
	aws.PutAuroraLag("us-west-2", "mm-west", 95*time.Second, 90*time.Second, 10*time.Second)
	follower.SetFollowerState("users", "PAUSED", "User initiated")
	st = getStatus(ctx, t, env, true)
	state, summary = resultOf(st, "database")
	assert.Equal(t, "degraded", state, summary)
	state, summary = resultOf(st, "opensearch")
	assert.Equal(t, "degraded", state, summary)
	assert.NotEqual(t, "healthy", st.Verdict)
	reasons = ""
	for _, r := range st.Reasons {
		reasons += r.Component + ": " + r.Message + "\n"
	}
	assert.Contains(t, reasons, "users")
	assert.Contains(t, strings.ToLower(reasons), "lag")

	// RDS answers 500: the database is unknown, with the cause; the rest still answers.
	aws.Inject(awsfake.Fault{Service: "rds", Kind: awsfake.FaultServer, Status: 500})
	st = getStatus(ctx, t, env, true)
	state, summary = resultOf(st, "database")
	assert.Equal(t, "unknown", state, summary)
	state, _ = resultOf(st, "opensearch")
	assert.Equal(t, "degraded", state)

	// A hanging follower: /dr status still answers within 3 s.
	aws.ClearFaults()
	follower.Inject(osfake.Fault{Kind: osfake.FaultHang})
	start := time.Now()
	text = cmd(ctx, t, env, "/dr status --fresh")
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Contains(t, text, "opensearch")
	follower.ClearFaults()
}
