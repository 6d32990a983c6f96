package failover_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	osfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/opensearch"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

func result(component string, state probe.State, finding string) probe.Result {
	r := probe.Result{Component: component, Name: component + " probe", State: probe.Healthy, Summary: "summary of " + component}
	if state != probe.Healthy {
		r.Add(state, "fix "+component, finding)
	}
	return r
}

func TestPreflight(t *testing.T) {
	healthy := status.Report{Results: []probe.Result{
		result("database", probe.Healthy, ""), result("opensearch", probe.Healthy, ""),
		result("scheduler", probe.Healthy, ""), result("idp", probe.Critical, "IdP down"),
		{Component: "s3", State: probe.NotConfigured},
	}}
	lagging := status.Report{Results: []probe.Result{
		result("database", probe.Degraded, "RPO lag 95s is above 30s"), result("opensearch", probe.Unknown, "follower does not answer"),
		result("s3", probe.Critical, "3 objects FAILED"),
	}}
	staleBackup := failover.Check{Name: "A fresh verified backup", State: failover.CheckFail, Detail: "none"}
	badSetting := failover.Check{Name: "Settings", State: failover.CheckFail, Required: true, Detail: "target cluster not set"}
	tests := []struct {
		name        string
		rep         status.Report
		o           failover.PreflightOptions
		extra       []failover.Check
		want        map[string]failover.CheckState // by name prefix
		blocked     bool
		requiredBad bool
	}{
		{name: "healthy switchover", rep: healthy, o: failover.PreflightOptions{Mode: failover.Switchover},
			want: map[string]failover.CheckState{"Database": failover.CheckPass, "OpenSearch": failover.CheckPass, "Job scheduler": failover.CheckPass}},
		{name: "lagging switchover fails", rep: lagging, o: failover.PreflightOptions{Mode: failover.Switchover}, extra: []failover.Check{staleBackup},
			want:    map[string]failover.CheckState{"Database": failover.CheckFail, "OpenSearch": failover.CheckFail, "S3": failover.CheckFail, "A fresh": failover.CheckFail},
			blocked: true},
		{name: "region down: the same problems only warn", rep: lagging, o: failover.PreflightOptions{Mode: failover.Failover}, extra: []failover.Check{staleBackup},
			want: map[string]failover.CheckState{"Database": failover.CheckWarn, "OpenSearch": failover.CheckWarn, "S3": failover.CheckWarn, "A fresh": failover.CheckWarn}},
		{name: "required checks block in failover mode too", rep: healthy, o: failover.PreflightOptions{Mode: failover.Failover}, extra: []failover.Check{badSetting},
			want: map[string]failover.CheckState{"Settings": failover.CheckFail}, blocked: true, requiredBad: true},
		{name: "a waived component warns", rep: lagging, o: failover.PreflightOptions{Mode: failover.Switchover, Waived: map[string]string{"opensearch": "the deferred step fixes it"}},
			want: map[string]failover.CheckState{"OpenSearch": failover.CheckWarn, "Database": failover.CheckFail}, blocked: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checks := failover.Preflight(tc.rep, tc.o, tc.extra...)
			for prefix, want := range tc.want {
				var found bool
				for _, c := range checks {
					if strings.HasPrefix(c.Name, prefix) {
						found = true
						assert.Equal(t, want, c.State, c.Name+": "+c.Detail)
					}
				}
				assert.True(t, found, "a check %q", prefix)
			}
			for _, c := range checks {
				assert.NotContains(t, c.Name, "idp", "the IdP does not gate a failover")
				assert.NotContains(t, c.Name, "sign-on")
			}
			assert.Equal(t, tc.blocked, failover.Blocked(checks))
			assert.Equal(t, tc.requiredBad, failover.RequiredFailed(checks))
		})
	}
	checks := failover.Preflight(lagging, failover.PreflightOptions{Mode: failover.Switchover})
	assert.Contains(t, checks[0].Detail, "RPO lag 95s", "the finding says why")
	assert.Contains(t, checks[0].Fix, "fix database")
}

func TestBackupCheck(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		verified time.Time
		want     failover.CheckState
	}{
		{time.Time{}, failover.CheckFail},
		{now.Add(-30 * time.Hour), failover.CheckFail},
		{now.Add(-2 * time.Hour), failover.CheckPass},
	} {
		c := failover.BackupCheck(tc.verified, 26*time.Hour, now)
		assert.Equal(t, tc.want, c.State, c.Detail)
		if tc.want == failover.CheckFail {
			assert.Contains(t, c.Fix, "/dr backup verify")
		}
	}
}

// The followers' checkpoints, read through the real client from the wire-format test server.
func TestFollowerCheckpoints(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script func(f *osfake.Cluster)
		want   failover.CheckState
		detail string
	}{
		{"in sync", func(*osfake.Cluster) {}, failover.CheckPass, "5 indices syncing with equal checkpoints"},
		{"lagging", func(f *osfake.Cluster) { f.SetLag("users", 7) }, failover.CheckFail, "users is 7 operations behind"},
		{"paused", func(f *osfake.Cluster) { f.SetFollowerState("files", osfake.Paused, "User initiated") }, failover.CheckFail, "files is PAUSED"},
		{"bootstrapping", func(f *osfake.Cluster) {
			f.SetFollowerState("posts_2026_01_02", osfake.Bootstrapping, "User initiated")
			f.BootstrapPolls = 100
		}, failover.CheckFail, "posts_2026_01_02 is BOOTSTRAPPING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			tc.script(w.west)
			c := failover.FollowerCheckpoints(context.Background(), w.live, "us-west-2")
			assert.Equal(t, tc.want, c.State, c.Detail)
			assert.Contains(t, c.Detail, tc.detail)
		})
	}
}

func TestPlanMarkdownHidesSecrets(t *testing.T) {
	w := newWorld(t)
	w.live.Regions["us-east-1"] = failover.RegionSettings{AuroraCluster: "mm-east", OpenSearchURL: "https://dr:url-Secret-55@search-east.example.com", OpenSearchAlias: "west"}
	run := failover.NewRun(failover.KindFailover, failover.Switchover, "us-east-1", "us-west-2", "uid", "admin", nil, time.Now())
	w.engine.Describe(w.live, run)
	checks := []failover.Check{{Name: "Database", State: failover.CheckFail, Detail: "lag | 95s", Fix: "wait"}}
	text := failover.PlanMarkdown(failover.Plan{Run: run, Checks: checks, Blocked: true}, "/dr failover start --to us-west-2 --mode switchover")
	assert.NotContains(t, text, "url-Secret-55")
	assert.Contains(t, text, "search-east.example.com")
	assert.Contains(t, text, "lag \\| 95s", "table cells are escaped")
	assert.Contains(t, text, "--force")
	assert.Contains(t, text, "Nothing was changed")
	// The steps are listed in order, numbered.
	last := -1
	for i, s := range run.Steps {
		at := strings.Index(text, s.Title)
		require.GreaterOrEqual(t, at, 0, s.Title)
		assert.Greater(t, at, last, "step %d in order", i+1)
		last = at
	}
	text = failover.PlanMarkdown(failover.Plan{Run: run}, "/dr failover start --to us-west-2 --mode switchover")
	assert.Contains(t, text, "`/dr failover start --to us-west-2 --mode switchover --confirm`")
}
