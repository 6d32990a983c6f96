package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/drsettings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

// Usage errors exit 2 before anything is read or changed; -h exits 0.
func TestFailoverUsage(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", []string{"failover"}, 2, "plan, start, status, resume or abort"},
		{"unknown subcommand", []string{"failover", "promote"}, 2, `unknown subcommand "promote"`},
		{"help", []string{"failover", "-h"}, 0, ""},
		{"subcommand help", []string{"failover", "start", "-h"}, 0, ""},
		{"no destination", []string{"failover", "plan", "--to", "us-west-2", "--mode", "failover"}, 2, "--from is required"},
		{"no region", []string{"failover", "plan", "--from", dir, "--mode", "failover"}, 2, "--to is required"},
		{"no mode", []string{"failover", "start", "--from", dir, "--to", "us-west-2", "--confirm"}, 2, "--mode is required"},
		{"bad mode", []string{"failover", "start", "--from", dir, "--to", "us-west-2", "--mode", "sideways"}, 2, `mode "sideways"`},
		{"unknown flag", []string{"failover", "status", "--from", dir, "--to", "x"}, 2, "flag provided but not defined"},
		{"extra argument", []string{"failover", "resume", "--from", dir, "now"}, 2, `unexpected argument "now"`},
		{"bad poll", []string{"failover", "resume", "--from", dir, "--poll", "0s"}, 2, "--poll must be positive"},
		{"confirm on plan", []string{"failover", "plan", "--from", dir, "--to", "r", "--mode", "failover", "--confirm"}, 2, "flag provided but not defined"},
		{"bad webhook targets", []string{"status", "--from", dir, "--notify"}, 2, "DR_WEBHOOK_TARGETS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envWebhookTargets, "")
			code, stdout, stderr := drctl(tc.args...)
			assert.Equal(t, tc.code, code, "stdout: %s\nstderr: %s", stdout, stderr)
			assert.Contains(t, stderr, tc.want)
		})
	}
}

// DR_WEBHOOK_TARGETS that do not parse are a usage error that quotes no secret.
func TestFailoverBadWebhookTargets(t *testing.T) {
	t.Setenv(envWebhookTargets, "pagerduty R0UTINGKEYSECRET0123456789abcdef extra words\nsmtp https://hooks.example.com/T000/SECRET")
	_, err := webhookTargets()
	if assert.Error(t, err) {
		assert.ErrorIs(t, err, errUsage)
		assert.NotContains(t, err.Error(), "R0UTINGKEYSECRET")
		assert.NotContains(t, err.Error(), "SECRET")
	}
}

// Without a trusted settings document nothing runs: the refusal says how to trust it; with
// --allow-untrusted the plan runs and its preflight (journaled with a runbook) says so.
func TestFailoverRefusesUntrustedSettings(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := drctl("failover", "plan", "--from", dir, "--to", "us-west-2", "--mode", "failover")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no DR settings document")

	st, err := local.New(dir)
	require.NoError(t, err)
	_, err = drsettings.Write(context.Background(), st, drsettings.Document{Topology: "two_regions",
		Regions: drsettings.Regions{Primary: "us-east-1", Secondary: "us-west-2"}}, nil)
	require.NoError(t, err)
	code, _, stderr = drctl("failover", "start", "--from", dir, "--to", "us-west-2", "--mode", "failover", "--confirm")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "not trusted")
	assert.Contains(t, stderr, "--trust-key")

	code, stdout, stderr := drctl("failover", "plan", "--from", dir, "--to", "us-west-2", "--mode", "failover", "--allow-untrusted")
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "NOT trusted")
	code, _, stderr = drctl("failover", "plan", "--from", dir, "--to", "eu-west-1", "--mode", "failover", "--allow-untrusted")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `unknown region "eu-west-1"`)
}

// drctl status --notify sends a critical or degraded verdict to DR_WEBHOOK_TARGETS, once,
// without showing the target.
func TestStatusNotify(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var a map[string]string
		_ = json.NewDecoder(r.Body).Decode(&a)
		mu.Lock()
		got = append(got, a)
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	st, err := local.New(dir)
	require.NoError(t, err)
	// No backup at the destination: the backups probe is critical.
	_, err = drsettings.Write(context.Background(), st, drsettings.Document{Topology: "two_regions",
		Regions: drsettings.Regions{Primary: "us-east-1", Secondary: "us-west-2"}}, nil)
	require.NoError(t, err)
	t.Setenv(envWebhookTargets, "generic "+srv.URL+"/hooks/S3CRET-PATH-TOKEN")
	code, stdout, stderr := drctl("status", "--from", dir, "--allow-untrusted", "--notify")
	require.Contains(t, []int{exitDegraded, exitCritical}, code, stdout+stderr)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 1)
	verdict := map[int]string{exitDegraded: "degraded", exitCritical: "critical"}[code]
	assert.Equal(t, "status."+verdict, got[0]["event"])
	assert.Equal(t, "status", got[0]["key"])
	assert.Contains(t, got[0]["text"], "no backup has succeeded yet")
	assert.NotContains(t, stdout+stderr, "S3CRET-PATH-TOKEN")
}

// A runbook that failed with nobody running it is aborted at once; then nothing is left to
// resume, and status shows it aborted.
func TestFailoverAbort(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := local.New(dir)
	require.NoError(t, err)
	_, err = drsettings.Write(ctx, st, drsettings.Document{Topology: "two_regions",
		Regions: drsettings.Regions{Primary: "us-east-1", Secondary: "us-west-2"}}, nil)
	require.NoError(t, err)
	j, err := failover.NewStoreJournal(st)
	require.NoError(t, err)
	run := failover.NewRun(failover.KindFailover, failover.Failover, "us-east-1", "us-west-2", "drctl:a@h", "a@h", nil, time.Now())
	run.State = failover.RunFailed
	_, err = j.Update(ctx, func(*failover.Run) (*failover.Run, error) { return run, nil })
	require.NoError(t, err)

	code, stdout, stderr := drctl("failover", "abort", "--from", dir, "--allow-untrusted")
	require.Equal(t, 0, code, stdout+stderr)
	assert.Contains(t, stdout, run.ID)
	got, err := j.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, failover.RunAborted, got.State)

	code, _, stderr = drctl("failover", "resume", "--from", dir, "--allow-untrusted")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "nothing to resume")
	code, stdout, _ = drctl("failover", "status", "--from", dir, "--allow-untrusted", "--json")
	require.Equal(t, 0, code)
	var v struct {
		Run *failover.Run `json:"run"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &v))
	assert.Equal(t, failover.RunAborted, v.Run.State)
}
