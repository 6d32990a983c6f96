//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// browserResult is what webapp/e2e/console.mjs saw in the browser.
type browserResult struct {
	Browser string `json:"browser"`
	Admin   struct {
		User          struct{ ID, Username, Roles string } `json:"user"`
		BundleURL     string                               `json:"bundleURL"`
		RegistryCalls []struct {
			Method string `json:"method"`
			Args   []any  `json:"args"`
		} `json:"registryCalls"`
		Before     []string `json:"before"`
		NewBackups []string `json:"newBackups"`
		NewRow     string   `json:"newRow"`
		Seen       []string `json:"seen"`
		// Verify, pin, unpin and delete of the new backup, from the page.
		VerifyNotice              string `json:"verifyNotice"`
		Verification              string `json:"verification"`
		DeleteDisabledWhilePinned bool   `json:"deleteDisabledWhilePinned"`
		DialogText                string `json:"dialogText"`
		KeptAfterCancel           bool   `json:"keptAfterCancel"`
		DeleteNotice              string `json:"deleteNotice"`
		StatusAfterJobs           struct {
			VerifiedAt string `json:"verifiedAt"`
			Fresh      bool   `json:"fresh"`
			Verdict    string `json:"verdict"`
			Text       string `json:"text"`
		} `json:"statusAfterJobs"`
		Alerts      []string          `json:"alerts"`
		State       string            `json:"state"`
		HostCalls   []json.RawMessage `json:"hostCalls"`
		Screenshots []string          `json:"screenshots"`
	} `json:"admin"`
	Member struct {
		User        struct{ ID, Username, Roles string } `json:"user"`
		State       string                               `json:"state"`
		Refusal     string                               `json:"refusal"`
		VisibleText string                               `json:"visibleText"`
		Screenshots []string                             `json:"screenshots"`
	} `json:"member"`
	PageErrors    []string `json:"pageErrors"`
	ConsoleErrors []string `json:"consoleErrors"`
}

// dashboardSetting is the custom setting of plugin.json the System Console renders as the
// dashboard: the bundle must register a component under this key, or the page stays empty.
func dashboardSetting(t *testing.T, env *harness.Env) *model.PluginSetting {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(env.Root, "plugin.json"))
	require.NoError(t, err)
	var m model.Manifest
	require.NoError(t, json.Unmarshal(b, &m))
	require.NotNil(t, m.SettingsSchema)
	var custom []*model.PluginSetting
	for _, s := range m.SettingsSchema.Sections {
		for _, st := range s.Settings {
			if st.Type == "custom" {
				custom = append(custom, st)
			}
		}
	}
	require.Len(t, custom, 1, "plugin.json has one custom setting, the dashboard")
	return custom[0]
}

// strictCSRF makes the server refuse cookie-authenticated writes without the session's CSRF
// token (instead of only logging them) for the rest of the test, so that the browser's POSTs
// prove the dashboard sends X-CSRF-Token.
func strictCSRF(ctx context.Context, t *testing.T, env *harness.Env) {
	t.Helper()
	cfg, _, err := env.Admin.Client.GetConfig(ctx)
	require.NoError(t, err)
	old := cfg.ServiceSettings.ExperimentalStrictCSRFEnforcement
	_, _, err = env.Admin.Client.PatchConfig(ctx, &model.Config{ServiceSettings: model.ServiceSettings{ExperimentalStrictCSRFEnforcement: model.NewPointer(true)}})
	require.NoError(t, err)
	t.Cleanup(func() {
		if old == nil {
			old = model.NewPointer(false)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _, err := env.Admin.Client.PatchConfig(ctx, &model.Config{ServiceSettings: model.ServiceSettings{ExperimentalStrictCSRFEnforcement: old}})
		assert.NoError(t, err, "restore ExperimentalStrictCSRFEnforcement")
	})

	// A cookie session that sends X-Requested-With but no CSRF token is now unauthenticated.
	c := model.NewAPIv4Client(env.MM.URL)
	_, _, err = c.Login(ctx, env.Admin.Username, env.Admin.Password)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.MM.URL+"/plugins/"+harness.PluginID+"/api/v1/backups/cancel", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: model.SessionCookieToken, Value: c.AuthToken})
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "with strict CSRF, a cookie POST without the token is refused")
}

// holdBackupLock takes the plugin's cluster-wide backup lock for d, as a backup running on
// another node would hold it: the row pluginapi/cluster.Mutex writes, expiring after d (the
// next attempt to lock deletes an expired row). A backup started meanwhile waits and says so.
func holdBackupLock(ctx context.Context, t *testing.T, env *harness.Env, d time.Duration) {
	t.Helper()
	db := mmDB(t, env)
	now := time.Now()

	// An expired row (left by a plugin killed while it held the lock) is taken over, as the
	// mutex itself does; a live one means a backup really runs, and the test cannot go on.
	r, err := db.ExecContext(ctx, `INSERT INTO pluginkeyvaluestore (pluginid, pkey, pvalue, expireat) VALUES ($1, $2, $3, $4)
		ON CONFLICT (pluginid, pkey) DO UPDATE SET pvalue = EXCLUDED.pvalue, expireat = EXCLUDED.expireat
		WHERE pluginkeyvaluestore.expireat <> 0 AND pluginkeyvaluestore.expireat < $5`,
		harness.PluginID, "mutex_backup-lock", []byte{1}, now.Add(d).UnixMilli(), now.UnixMilli())
	require.NoError(t, err, "hold the backup lock")
	n, err := r.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "the backup lock is held: a backup is running")
}

type auditRecord struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	Outcome string    `json:"outcome"`
}

// TestConsoleDashboardInBrowser renders the System Console dashboard of the built bundle in
// Chromium against this deployment: an admin backs up from it and sees the progress and then
// the new backup, verifies, pins, unpins and deletes it (through the confirmation dialog); a
// non-admin sees the server's refusal. Screenshots go to dist/e2e-artifacts/.
func TestConsoleDashboardInBrowser(t *testing.T) {
	env := harness.Require(t)
	chromium := os.Getenv("DR_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		msg := fmt.Sprintf("no Chromium at %s (%v): `apt-get install -y chromium` (build/scripts/install-deps.sh does it) or set DR_CHROMIUM", chromium, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	require.NoError(t, err, "the browser test runs webapp/e2e/console.mjs with Node.js")
	webapp := filepath.Join(env.Root, "webapp")
	_, err = os.Stat(filepath.Join(webapp, "node_modules", "playwright-core", "package.json"))
	require.NoError(t, err, "playwright-core is missing: run `npm ci` in webapp/ (make dist does)")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	setting := dashboardSetting(t, env)
	strictCSRF(ctx, t, env)

	// What the dashboard must show about the status and about a non-admin.
	statusCode, statusBody, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/status", nil)
	require.NoError(t, err)
	code, body, err := env.PluginRequest(ctx, env.Member, http.MethodGet, "/api/v1/backups", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, code, string(body))
	var refusal struct{ Error string }
	require.NoError(t, json.Unmarshal(body, &refusal))

	// dist/ is git-ignored and already holds the build output the test runs.
	artifacts := filepath.Join(env.Root, "dist", "e2e-artifacts")
	require.NoError(t, os.MkdirAll(artifacts, 0o755))
	started := time.Now()
	cmd := exec.CommandContext(ctx, node, filepath.Join(webapp, "e2e", "console.mjs"))
	cmd.Dir = webapp
	cmd.Env = append(os.Environ(),
		"DR_MM_URL="+env.MM.URL,
		"DR_ADMIN_USERNAME="+env.Admin.Username, "DR_ADMIN_PASSWORD="+env.Admin.Password,
		"DR_MEMBER_USERNAME="+env.Member.Username, "DR_MEMBER_PASSWORD="+env.Member.Password,
		"DR_SETTING_KEY="+setting.Key, "DR_SETTING_LABEL="+setting.DisplayName,
		"DR_ARTIFACTS="+artifacts, "DR_CHROMIUM="+chromium,
	)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	var res browserResult
	var other []string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		switch rest, isResult := strings.CutPrefix(line, "RESULT "); {
		case line == "READY backup":
			holdBackupLock(ctx, t, env, 5*time.Second)
			_, err := fmt.Fprintln(stdin, "GO")
			require.NoError(t, err)
			require.NoError(t, stdin.Close())
		case isResult:
			require.NoError(t, json.Unmarshal([]byte(rest), &res))
		default:
			other = append(other, line)
		}
	}
	runErr := cmd.Wait()
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		t.Log(line)
	}
	require.NoError(t, runErr, "console.mjs failed (its log is above)\n%s", env.MM.LogTail(20))
	require.NotEmpty(t, res.Browser, "console.mjs printed no RESULT line:\n%s", strings.Join(other, "\n"))
	t.Logf("Chromium %s; screenshots: %s", res.Browser, strings.Join(append(res.Admin.Screenshots, res.Member.Screenshots...), ", "))
	assert.Empty(t, res.PageErrors)
	for _, e := range res.ConsoleErrors {
		t.Logf("browser console: %s", e) // the member's refused requests log here, as in any browser
	}

	// The bundle the server serves registered the dashboard under plugin.json's custom setting,
	// full width, and registered nothing else.
	assert.True(t, strings.HasPrefix(res.Admin.BundleURL, env.MM.URL+"/static/plugins/"+harness.PluginID+"/"), res.Admin.BundleURL)
	require.Len(t, res.Admin.RegistryCalls, 1, "%+v", res.Admin.RegistryCalls)
	call := res.Admin.RegistryCalls[0]
	assert.Equal(t, "registerAdminConsoleCustomSetting", call.Method)
	require.Len(t, call.Args, 3)
	assert.Equal(t, setting.Key, call.Args[0])
	assert.Equal(t, map[string]any{"showTitle": false}, call.Args[2])
	assert.Empty(t, res.Admin.HostCalls, "the dashboard never calls onChange: it stores nothing in the config")

	// The admin: logged in for real, the backup started from the page ran as that admin.
	assert.Equal(t, env.Admin.Username, res.Admin.User.Username)
	assert.Equal(t, "ready", res.Admin.State)
	require.Len(t, res.Admin.NewBackups, 1)
	backupID := res.Admin.NewBackups[0]
	assert.Contains(t, res.Admin.NewRow, backupID)
	assert.Contains(t, res.Admin.NewRow, "Complete")
	require.NotEmpty(t, res.Admin.Seen, "the page showed the running job")
	jobID, _, _ := strings.Cut(res.Admin.Seen[0], "|")
	for _, s := range res.Admin.Seen {
		assert.True(t, strings.HasPrefix(s, jobID+"|"), "one job followed throughout: %q", res.Admin.Seen)
	}
	assert.Contains(t, res.Admin.Seen, jobID+"|waiting for the cluster-wide backup lock", "the page followed the job's progress while it waited for the lock")
	t.Logf("job %s, progress seen in the page: %q", jobID, res.Admin.Seen)

	// What the page did, as the server recorded it: every action as the admin (the session
	// cookie and, under strict CSRF, the token), in the order the page did them.
	code, body, err = env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/audit?action=backup.&since="+started.Add(-time.Second).UTC().Format(time.RFC3339)+"&limit=100", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, string(body))
	var recs []auditRecord
	require.NoError(t, json.Unmarshal(body, &recs))
	find := func(action, target string) *auditRecord {
		for i := range recs {
			if recs[i].Action == action && recs[i].Target == target {
				return &recs[i]
			}
		}
		t.Fatalf("no %s of %s in the audit trail: %+v", action, target, recs)
		return nil
	}
	startRec := find("backup.start", jobID)
	assert.Equal(t, env.Admin.Username, startRec.Actor, "the browser's POST was authenticated as the admin (cookie + CSRF token)")
	find("backup.complete", backupID)
	verifyStart := find("backup.verify.start", backupID)
	assert.Equal(t, env.Admin.Username, verifyStart.Actor)
	for _, action := range []string{"backup.pin", "backup.unpin", "backup.delete"} {
		rec := find(action, backupID)
		assert.Equal(t, env.Admin.Username, rec.Actor, action)
		assert.Equal(t, "succeeded", rec.Outcome, action)
	}

	// The verification the page showed is the one the server ran.
	assert.Contains(t, res.Admin.VerifyNotice, "Verification of backup "+backupID+" started (job ")
	verifyDone := find("backup.verify.complete", backupID)
	if verifyDone.Outcome == "succeeded" {
		assert.Regexp(t, `^(Passed|Partial) check, \d{4}-\d\d-\d\d \d\d:\d\d UTC`, res.Admin.Verification)
	} else {
		assert.Regexp(t, `^Failed check`, res.Admin.Verification)
	}
	t.Logf("verification shown: %s", res.Admin.Verification)

	assert.True(t, res.Admin.DeleteDisabledWhilePinned, "a pinned backup cannot be deleted from the page")
	assert.Contains(t, res.Admin.DialogText, "Delete backup "+backupID+"?")
	assert.Contains(t, res.Admin.DialogText, "It cannot be undone.")
	assert.True(t, res.Admin.KeptAfterCancel, "Cancel in the dialog keeps the backup")
	assert.Equal(t, "Backup "+backupID+" deleted.", res.Admin.DeleteNotice)

	code, body, err = env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/backups", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, string(body))
	var list struct {
		Backups []struct{ ID string } `json:"backups"`
		Running *struct{ ID string }  `json:"running"`
	}
	require.NoError(t, json.Unmarshal(body, &list))
	for _, b := range list.Backups {
		assert.NotEqual(t, backupID, b.ID, "deleted from the page")
	}
	assert.Nil(t, list.Running)

	// Status: once the jobs ended the page asked for a fresh run, and shows its verdict (or
	// says clearly that the server has no status route).
	switch statusCode {
	case http.StatusOK:
		st := res.Admin.StatusAfterJobs
		assert.True(t, st.Fresh, "the page shows a status checked after the verification (%s): %s", st.VerifiedAt, st.Text)
		label := map[string]string{"healthy": "Healthy", "degraded": "Degraded", "critical": "Critical"}[st.Verdict]
		require.NotEmpty(t, label, "verdict %q", st.Verdict)
		assert.True(t, strings.HasPrefix(st.Text, "Status"+label), st.Text)
		assert.Empty(t, res.Admin.Alerts)
	case http.StatusNotFound:
		assert.Equal(t, []string{"Could not load the status: This plugin's server does not offer GET /api/v1/status (HTTP 404: 404 page not found). " +
			"It comes with a newer version of the plugin: update the plugin on the server."}, res.Admin.Alerts)
	default:
		t.Fatalf("GET /api/v1/status: HTTP %d %s", statusCode, statusBody)
	}

	// The member: the server's own refusal, rendered, not an empty page.
	assert.Equal(t, env.Member.Username, res.Member.User.Username)
	assert.Equal(t, "refused", res.Member.State)
	assert.Equal(t, "The Disaster Recovery dashboard is for system admins only.The server refused this session: "+refusal.Error+" (HTTP 403)", res.Member.Refusal)
	assert.Contains(t, res.Member.VisibleText, "Disaster recovery dashboard")
	assert.Contains(t, res.Member.VisibleText, refusal.Error)

	for _, shot := range append(res.Admin.Screenshots, res.Member.Screenshots...) {
		b, err := os.ReadFile(shot)
		require.NoError(t, err)
		assert.True(t, bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")), "%s is a PNG", shot)
		assert.Greater(t, len(b), 10_000, "%s shows a page, not a blank", shot)
	}
}
