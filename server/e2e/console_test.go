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
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	awsfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/aws"
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
		Failover    browserFailover   `json:"failover"`
		SSO         struct {
			DialogText     string `json:"dialogText"`
			FallbackNotice string `json:"fallbackNotice"`
			Row            string `json:"row"`
			RestoreNotice  string `json:"restoreNotice"`
		} `json:"sso"`
	} `json:"admin"`
	Member struct {
		User        struct{ ID, Username, Roles string } `json:"user"`
		State       string                               `json:"state"`
		Refusal     string                               `json:"refusal"`
		VisibleText string                               `json:"visibleText"`
		Screenshots []string                             `json:"screenshots"`
	} `json:"member"`
	Settings      []browserSection `json:"settings"`
	PageErrors    []string         `json:"pageErrors"`
	ConsoleErrors []string         `json:"consoleErrors"`
}

// browserFailover is what the failover panel showed, and what confirming in it did.
type browserFailover struct {
	Before struct {
		Summary string   `json:"summary"`
		Next    string   `json:"next"`
		Steps   []string `json:"steps"` // "name|state"
	} `json:"before"`
	DialogText  string   `json:"dialogText"`
	Notice      string   `json:"notice"`
	EndState    string   `json:"endState"`
	After       []string `json:"after"`
	Screenshots []string `json:"screenshots"`
}

// browserSection is one section of the settings page as a laptop screen showed it.
type browserSection struct {
	Key      string `json:"key"`
	Title    string `json:"title"`
	Count    int    `json:"count"`
	Viewport struct {
		Width  int `json:"width"`
		Height int `json:"height"`
	} `json:"viewport"`
	ScrollWidth int      `json:"scrollWidth"`
	Height      int      `json:"height"`
	Clipped     []string `json:"clipped"`
	Settings    []struct {
		Key, Label, Placeholder, Value string
	} `json:"settings"`
	Text       string `json:"text"`
	Screenshot string `json:"screenshot"`
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

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	setting := dashboardSetting(t, env)

	// A real runbook for the failover panel: a switchover on the wire-format AWS and OpenSearch
	// servers that waits at the job scheduler step for a confirm; and an SAML user to switch.
	w := newFoWorld(ctx, t)
	require.Contains(t, cmd(ctx, t, env, "/dr failover start --to us-west-2 --mode switchover --confirm"), "started")
	waitRunState(ctx, t, env, "waiting")
	checkFailoverContract(ctx, t, env)
	ssoData := "Console.User@Example.COM"
	ssoU := ssoUser(ctx, t, env, uniq("ssoconsole"), "saml", ssoData)
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
		"DR_ARTIFACTS="+artifacts, "DR_CHROMIUM="+chromium, "DR_SSO_USERNAME="+ssoU.Username,
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
		step, isReady := strings.CutPrefix(line, "READY ")
		switch rest, isResult := strings.CutPrefix(line, "RESULT "); {
		case isReady:
			prepareBrowserStep(ctx, t, env, step, ssoU, ssoData)
			_, err := fmt.Fprintln(stdin, "GO")
			require.NoError(t, err)
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

	checkFailoverPanel(ctx, t, w, res.Admin.Failover)
	checkSSOFromDashboard(ctx, t, env, ssoU, res)
	checkSettingsPages(t, env, res.Settings, []string{foPass, awsfake.SecretAccessKey})

	for _, shot := range append(res.Admin.Screenshots, res.Member.Screenshots...) {
		b, err := os.ReadFile(shot)
		require.NoError(t, err)
		assert.True(t, bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")), "%s is a PNG", shot)
		assert.Greater(t, len(b), 10_000, "%s shows a page, not a blank", shot)
	}
	copyDocs(t, env, res)
}

// prepareBrowserStep does what the Go side does before the browser goes on with step (the
// page printed READY <step>): set the server up for it, or check what the page just did.
func prepareBrowserStep(ctx context.Context, t *testing.T, env *harness.Env, step string, u *harness.User, authData string) {
	t.Helper()
	switch step {
	case "backup":
		holdBackupLock(ctx, t, env, 5*time.Second)
	case "sso-fallback":
		// The page's fallback really switched the user: no SSO sign-in left until the restore.
		back, _, err := env.Admin.Client.GetUser(ctx, u.Id, "")
		require.NoError(t, err)
		assert.Empty(t, back.AuthService, "@%s signs in with email/password after the fallback from the dashboard", u.Username)
	case "sso-restored":
		back, _, err := env.Admin.Client.GetUser(ctx, u.Id, "")
		require.NoError(t, err)
		assert.Equal(t, "saml", back.AuthService, "the dashboard's Restore put @%s back on SAML", u.Username)
		require.NotNil(t, back.AuthData)
		assert.Equal(t, authData, *back.AuthData, "restored byte for byte")
	default:
		t.Fatalf("console.mjs is ready for a step this test does not know: %q", step)
	}
}

// checkFailoverPanel: the panel showed the waiting runbook the server has, and its Confirm
// (behind the dialog) confirmed that step on the server, as the admin, and the runbook went on.
func checkFailoverPanel(ctx context.Context, t *testing.T, w *foWorld, fo browserFailover) {
	t.Helper()
	env := w.env
	assert.Contains(t, fo.Before.Summary, "Failover us-east-1 → us-west-2 (switchover): Waits for you")
	assert.Contains(t, fo.Before.Steps, "scheduler|waiting")
	assert.Contains(t, fo.Before.Steps, "database|done")
	assert.Contains(t, fo.Before.Next, "waits for you")
	assert.Contains(t, fo.DialogText, "Confirm only once it is done")
	assert.Regexp(t, `^Confirmed "Job scheduler: [^"]+"; runbook \S+ goes on\.$`, fo.Notice)

	r := waitRunState(ctx, t, env, "completed")
	assert.Equal(t, "completed", fo.EndState, "the panel followed the runbook to its end")
	code, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/failover", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, string(body))
	var run struct {
		Run struct {
			ID    string `json:"id"`
			Steps []struct {
				Name        string `json:"name"`
				State       string `json:"state"`
				Confirmed   bool   `json:"confirmed"`
				ConfirmedBy string `json:"confirmed_by"`
			} `json:"steps"`
		} `json:"run"`
	}
	require.NoError(t, json.Unmarshal(body, &run))
	assert.Equal(t, r.Run.ID, run.Run.ID)
	for _, s := range run.Run.Steps {
		assert.Contains(t, fo.After, s.Name+"|"+s.State, "the panel shows the server's final step states")
		if s.Name == "scheduler" {
			assert.True(t, s.Confirmed, "the scheduler step was confirmed from the page")
			assert.Equal(t, env.Admin.Username, s.ConfirmedBy)
		}
	}
	assert.Equal(t, []string{"west-lb.example.com"}, w.dnsValues(), "the runbook went on after the confirm and moved DNS")
	audit := cmd(ctx, t, env, "/dr audit --action failover.confirm --limit 10")
	assert.Contains(t, audit, run.Run.ID+"/scheduler")
	assert.Contains(t, audit, env.Admin.Username)
}

// checkSSOFromDashboard: the confirmation named the user in the chat's words, and the page
// reported the server's results (the server side was checked at each READY step).
func checkSSOFromDashboard(ctx context.Context, t *testing.T, env *harness.Env, u *harness.User, res browserResult) {
	t.Helper()
	sso := res.Admin.SSO
	assert.Contains(t, sso.DialogText, "1 user(s) would be switched to email/password (delivery: dm): @"+u.Username+".")
	assert.True(t, strings.HasPrefix(sso.FallbackNotice, "Fallback of @"+u.Username+": 1 done, 0 already, 0 skipped, 0 failed"), sso.FallbackNotice)
	assert.Contains(t, sso.Row, "IdP outage (browser test)")
	assert.Contains(t, sso.Row, "@"+env.Admin.Username)
	assert.True(t, strings.HasPrefix(sso.RestoreNotice, "Restore of @"+u.Username+": 1 done"), sso.RestoreNotice)
	audit := cmd(ctx, t, env, "/dr audit --action sso. --limit 20")
	assert.Contains(t, audit, "sso.fallback")
	assert.Contains(t, audit, "sso.restore")
}

// checkSettingsPages: every section of plugin.json was shown at laptop size, whole (nothing
// cut off or scrolling sideways), with its display names and placeholders, and without a
// secret the server holds.
func checkSettingsPages(t *testing.T, env *harness.Env, got []browserSection, secrets []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(env.Root, "plugin.json"))
	require.NoError(t, err)
	var m model.Manifest
	require.NoError(t, json.Unmarshal(b, &m))
	byKey := map[string]browserSection{}
	for _, s := range got {
		byKey[s.Key] = s
	}
	for _, sec := range m.SettingsSchema.Sections {
		if len(sec.Settings) == 1 && sec.Settings[0].Type == "custom" {
			continue // the dashboard: its own screenshots
		}
		s, ok := byKey[sec.Key]
		if !assert.True(t, ok, "section %s was not shown", sec.Key) {
			continue
		}
		assert.LessOrEqual(t, s.Viewport.Width, 1440, "a laptop screen")
		assert.LessOrEqual(t, s.ScrollWidth, s.Viewport.Width, "%s scrolls sideways", sec.Title)
		assert.Empty(t, s.Clipped, "%s: cut off at %dx%d", sec.Title, s.Viewport.Width, s.Viewport.Height)
		assert.LessOrEqual(t, s.Height, 3*s.Viewport.Height, "%s is more than three screens long: split it", sec.Title)
		require.Len(t, s.Settings, len(sec.Settings), sec.Title)
		for i, want := range sec.Settings {
			assert.Equal(t, want.Key, s.Settings[i].Key)
			assert.Equal(t, want.DisplayName, s.Settings[i].Label)
			if want.Type == "text" || want.Type == "longtext" {
				assert.Equal(t, want.Placeholder, s.Settings[i].Placeholder, want.Key)
			}
		}
		for _, secret := range secrets {
			assert.NotContains(t, s.Text, secret, "%s shows a secret", sec.Title)
			for _, f := range s.Settings {
				assert.NotContains(t, f.Value, secret, "%s: %s holds a secret in clear", sec.Title, f.Key)
			}
		}
		t.Logf("settings %q: %d settings, %d px high at %dx%d", sec.Title, len(sec.Settings), s.Height, s.Viewport.Width, s.Viewport.Height)
	}
	// A secret that is set shows as the server's mask: the page really had values to hide.
	for _, s := range got {
		for _, f := range s.Settings {
			if f.Key == "DROpenSearchPassword" {
				assert.Equal(t, model.FakeSetting, f.Value)
			}
		}
	}
}

// copyDocs puts the screenshots for webapp/docs/ in place once the run checked out.
func copyDocs(t *testing.T, env *harness.Env, res browserResult) {
	t.Helper()
	if t.Failed() {
		t.Log("webapp/docs/ left as it was: the test failed")
		return
	}
	docs := filepath.Join(env.Root, "webapp", "docs")
	shots := append([]string{}, res.Admin.Screenshots...)
	for _, s := range res.Settings {
		shots = append(shots, s.Screenshot)
	}
	for _, shot := range shots {
		if filepath.Base(filepath.Dir(shot)) != "docs" {
			continue // an artifact of the run, not a picture for the docs
		}
		b, err := os.ReadFile(shot)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(docs, filepath.Base(shot)), b, 0o644))
	}
}

// checkFailoverContract holds GET /failover, with a runbook that waits for a confirm, to the
// fixture the webapp's contract test checks types.ts against (webapp/src/api/contract.test.ts).
// With DR_SAVE_CONTRACT=dir it writes the fixture instead; `make contract-fixtures` runs only
// TestContractWebappAPI, so refresh this one with
// DR_SAVE_CONTRACT=$PWD/webapp/src/api/__fixtures__ go test -tags e2e -run TestConsoleDashboardInBrowser ./server/e2e/.
func checkFailoverContract(ctx context.Context, t *testing.T, env *harness.Env) {
	t.Helper()
	r := contractFixture{file: "failover.json", path: "/api/v1/failover", own: stepDataByKind}
	answer := contractAnswer(ctx, t, env, r)
	if dir := os.Getenv("DR_SAVE_CONTRACT"); dir != "" {
		writeContractFixture(t, filepath.Join(dir, r.file), answer)
		return
	}
	fixture := readContractFixture(t, filepath.Join(env.Root, contractDir, r.file))
	assert.Empty(t, contractDiff(fixture, answer), "GET %s no longer has the shape of %s/%s: refresh it (DR_SAVE_CONTRACT, see checkFailoverContract), then make webapp/src/api/types.ts follow", r.path, contractDir, r.file)
}

// stepDataByKind collapses each step's data map (keyed by data: team ids, index names) to one
// entry under "key", as the contract does for the other maps keyed by data.
func stepDataByKind(v any) any {
	run, _ := v.(map[string]any)["run"].(map[string]any)
	steps, _ := run["steps"].([]any)
	for _, st := range steps {
		step, _ := st.(map[string]any)
		data, ok := step["data"].(map[string]any)
		if !ok || len(data) == 0 {
			continue
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		step["data"] = map[string]any{"key": data[keys[0]]}
	}
	return v
}
