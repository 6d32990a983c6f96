package plugin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/jobs"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/slashcmd"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/ssofallback"
)

const ssoJob = "sso"

// maxInline is how many named users a command switches while the admin waits; more, and
// --all, run in the background.
const maxInline = 50

func (p *Plugin) ssoCommands(t *slashcmd.Tree) {
	selection := []slashcmd.Flag{
		{Name: "service", Kind: slashcmd.Enum, Values: ssofallback.Services, Help: "with --all: every user of this identity provider"},
		{Name: "all", Kind: slashcmd.Bool, Help: "every user of --service (needs --confirm)"},
		{Name: "confirm", Kind: slashcmd.Bool, Help: "go ahead with --all (without it, only the count is shown)"},
	}
	t.Add(nil, &slashcmd.Command{Name: "sso", Summary: "SSO outage fallback: switch SSO users to email/password and back"})
	t.Add([]string{"sso"}, &slashcmd.Command{
		Name: "fallback", Summary: "Switch SSO users to email/password during an identity-provider outage",
		Args: "[@user …]", MaxArgs: -1,
		Flags: append(append([]slashcmd.Flag{}, selection...),
			slashcmd.Flag{Name: "reason", Kind: slashcmd.String, Help: `why, for the record, e.g. "Okta outage"`},
			slashcmd.Flag{Name: "expires", Kind: slashcmd.Duration, Help: "remind (or restore, if AutoRestoreOnExpiry) after this long, e.g. 24h; default from settings"},
			slashcmd.Flag{Name: "deliver", Kind: slashcmd.Enum, Values: ssofallback.Deliveries, Help: "how users get in: reset-link (default when email works), dm, email, or show (to you only)"},
		),
		Run: p.runSSOFallback,
	})
	t.Add([]string{"sso"}, &slashcmd.Command{Name: "list", Summary: "Who is in fallback, since when, by whom, why, until when", Run: p.runSSOList})
	t.Add([]string{"sso"}, &slashcmd.Command{
		Name: "restore", Summary: "Put users back on their SSO sign-in exactly as they were",
		Args: "[@user …]", MaxArgs: -1,
		Flags: append(append([]slashcmd.Flag{}, selection...),
			slashcmd.Flag{Name: "keep-sessions", Kind: slashcmd.Bool, Help: "keep the sessions made with the temporary password"}),
		Run: p.runSSORestore,
	})
	t.Add([]string{"sso"}, &slashcmd.Command{Name: "cancel", Summary: "Stop a running fallback or restore after the users in progress", Run: p.runSSOCancel})
}

func (p *Plugin) actor(userID string) ssofallback.Actor {
	a := ssofallback.Actor{ID: userID, Username: userID}
	if u, err := p.API.GetUser(userID); err == nil {
		a.Username = u.Username
	}
	return a
}

// selection reads the user selection shared by fallback and restore.
func selection(inv *slashcmd.Invocation, restore bool) (ssofallback.Selection, error) {
	sel := ssofallback.Selection{Usernames: inv.Mentions(), Service: inv.String("service"), All: inv.Bool("all")}
	if len(inv.Args) != len(sel.Usernames) || (len(inv.Args) > 0 && !allMentions(inv.Args)) {
		return sel, fmt.Errorf("name users as @username (got %s)", strings.Join(inv.Args, " "))
	}
	switch {
	case sel.All && len(sel.Usernames) > 0:
		return sel, fmt.Errorf("give either @users or --all, not both")
	case sel.All && sel.Service == "" && !restore:
		return sel, fmt.Errorf("--all needs --service (one of %s)", strings.Join(ssofallback.Services, ", "))
	case !sel.All && sel.Service != "":
		return sel, fmt.Errorf("--service goes with --all")
	case !sel.All && len(sel.Usernames) == 0:
		return sel, fmt.Errorf("name the users (@alice @bob) or use --all")
	}
	return sel, nil
}

func allMentions(args []string) bool {
	for _, a := range args {
		if !strings.HasPrefix(a, "@") {
			return false
		}
	}
	return true
}

// defaultDelivery is reset-link when the server can send email, else dm. The factory default
// (localhost:10025, a developer's mail catcher) does not count as configured.
func (p *Plugin) defaultDelivery() ssofallback.Delivery {
	es := p.API.GetConfig().EmailSettings
	on := es.SendEmailNotifications != nil && *es.SendEmailNotifications
	server, port := deref(es.SMTPServer), deref(es.SMTPPort)
	factory := server == model.EmailSMTPDefaultServer && port == model.EmailSMTPDefaultPort
	if on && server != "" && !factory {
		return ssofallback.DeliverResetLink
	}
	return ssofallback.DeliverDM
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (p *Plugin) runSSOFallback(_ context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	sel, err := selection(inv, false)
	if err != nil {
		return nil, err
	}
	cfg, _ := p.config()
	req := ssofallback.FallbackRequest{Selection: sel, Actor: p.actor(inv.Caller.UserID), Reason: inv.String("reason"),
		Expires: cfg.SSOFallbackExpiry(), Delivery: ssofallback.Delivery(inv.String("deliver"))}
	if inv.Has("expires") {
		req.Expires = inv.Duration("expires")
	}
	if req.Delivery == "" {
		req.Delivery = p.defaultDelivery()
	}
	if sel.All && req.Delivery == ssofallback.DeliverShow {
		return nil, fmt.Errorf("--deliver show is for named users only: with --all use dm, email or reset-link")
	}
	if sel.All || len(sel.Usernames) > maxInline {
		ids, _, err := p.sso.Resolve(sel)
		if err != nil {
			return nil, err
		}
		if sel.All && !inv.Bool("confirm") {
			return &slashcmd.Response{Text: fmt.Sprintf("%d %s user(s) would be switched to email/password (delivery: %s). Run the same command with `--confirm` to go ahead.", len(ids), sel.Service, req.Delivery)}, nil
		}
		return p.ssoCommandJob("fallback", inv, len(ids), func(ctx context.Context, progress func(int, int)) (*ssofallback.Report, error) {
			return p.sso.Fallback(ctx, req, progress)
		})
	}
	rep, err := p.sso.Fallback(context.Background(), req, nil)
	p.releaseSSOSessions()
	if err != nil {
		return nil, err
	}
	p.postSSOSummary("fallback", req.Actor, rep)
	return &slashcmd.Response{Text: formatSSOReport("Fallback", rep, true)}, nil
}

func (p *Plugin) runSSORestore(_ context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	sel, err := selection(inv, true)
	if err != nil {
		return nil, err
	}
	req := ssofallback.RestoreRequest{Selection: sel, Actor: p.actor(inv.Caller.UserID), KeepSessions: inv.Bool("keep-sessions")}
	if sel.All || len(sel.Usernames) > maxInline {
		if sel.All && !inv.Bool("confirm") {
			n, err := p.countInFallback(sel.Service)
			if err != nil {
				return nil, err
			}
			return &slashcmd.Response{Text: fmt.Sprintf("%d user(s) in fallback would be restored to SSO. Run the same command with `--confirm` to go ahead.", n)}, nil
		}
		return p.ssoCommandJob("restore", inv, -1, func(ctx context.Context, progress func(int, int)) (*ssofallback.Report, error) {
			return p.sso.Restore(ctx, req, progress)
		})
	}
	rep, err := p.sso.Restore(context.Background(), req, nil)
	if err != nil {
		return nil, err
	}
	p.postSSOSummary("restore", req.Actor, rep)
	return &slashcmd.Response{Text: formatSSOReport("Restore", rep, false)}, nil
}

// releaseSSOSessions revokes the temporary admin sessions after an inline run, unless a
// background run (which releases them when it ends) may still be using them.
func (p *Plugin) releaseSSOSessions() {
	if p.jobs.Running(ssoJob) == nil {
		p.ssoAdapter.Release()
	}
}

// countInFallback counts the users in fallback, of one service or ("") all.
func (p *Plugin) countInFallback(service string) (int, error) {
	recs, err := p.sso.List()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range recs {
		if service == "" || r.AuthService == service {
			n++
		}
	}
	return n, nil
}

// ssoRun is a fallback or restore that reports progress as (done, total).
type ssoRun func(ctx context.Context, progress func(done, total int)) (*ssofallback.Report, error)

// ssoCommandJob runs a large fallback or restore for a command in the background, updating
// one ephemeral post with progress.
func (p *Plugin) ssoCommandJob(what string, inv *slashcmd.Invocation, total int, run ssoRun) (*slashcmd.Response, error) {
	callerID := inv.Caller.UserID
	post := &model.Post{UserId: p.notifier.BotID(), ChannelId: inv.Caller.ChannelID, Message: fmt.Sprintf("SSO %s: starting…", what)}
	show := func(msg string) {
		post.Message = msg
		if post.Id == "" {
			post = p.API.SendEphemeralPost(callerID, post)
			return
		}
		post = p.API.UpdateEphemeralPost(callerID, post)
	}
	if _, err := p.startSSOJob(what, p.actor(callerID), run, show); err != nil {
		return nil, err
	}
	n := "the users in fallback"
	if total >= 0 {
		n = fmt.Sprintf("%d user(s)", total)
	}
	return &slashcmd.Response{Text: fmt.Sprintf("SSO %s of %s started in the background; progress follows here and the result goes to the ops channel.", what, n)}, nil
}

// startSSOJob runs a fallback or restore as the node's SSO job: progress goes to the job (and
// to show, at most once a second, when not nil), the result to the ops channel and the actor.
func (p *Plugin) startSSOJob(what string, actor ssofallback.Actor, run ssoRun, show func(string)) (*jobs.Job, error) {
	if show == nil {
		show = func(string) {}
	}
	return p.jobs.Start(ssoJob, actor.ID, func(ctx context.Context, j *jobs.Job) {
		show(fmt.Sprintf("SSO %s: starting…", what))
		last := time.Time{}
		rep, err := run(ctx, func(done, total int) {
			j.SetProgress(fmt.Sprintf("%d/%d users", done, total))
			if time.Since(last) > time.Second || done == total {
				last = time.Now()
				show(fmt.Sprintf("SSO %s: %d of %d users done (%d%%). `/dr sso cancel` stops it.", what, done, total, done*100/max(total, 1)))
			}
		})
		p.ssoAdapter.Release()
		if err != nil {
			msg := fmt.Sprintf("SSO %s failed: %v", what, err)
			j.Report(func() { _ = p.notifier.OpsAndDirect(actor.ID, msg) })
			return
		}
		show(formatSSOReport(strings.ToUpper(what[:1])+what[1:], rep, false))
		j.Report(func() { p.postSSOSummary(what, actor, rep) })
	})
}

// postSSOSummary tells the ops channel and the acting admin what happened, without passwords.
func (p *Plugin) postSSOSummary(what string, actor ssofallback.Actor, rep *ssofallback.Report) {
	msg := fmt.Sprintf("@%s ran SSO %s: %d done, %d already, %d skipped, %d failed (%s).",
		actor.Username, what, rep.Count(ssofallback.Done), rep.Count(ssofallback.Already), rep.Count(ssofallback.Skipped), rep.Count(ssofallback.Failed), rep.Duration.Round(time.Millisecond))
	if f := rep.Count(ssofallback.Failed); f > 0 {
		var lines []string
		for _, r := range rep.Results {
			if r.Outcome == ssofallback.Failed && len(lines) < 20 {
				lines = append(lines, fmt.Sprintf("- @%s: %s", r.Username, r.Detail))
			}
		}
		msg += "\n" + strings.Join(lines, "\n")
	}
	events.SSOSwitches(what == "fallback", rep.Count(ssofallback.Done))
	p.alertSSO(what, msg)
	if what != "fallback" {
		if err := p.notifier.OpsAndDirect(actor.ID, msg); err != nil {
			p.API.LogWarn("Cannot post the SSO summary", "error", err.Error())
		}
		return
	}
	post, err := p.ssoFallbackPost(msg, rep) // with a Restore now button
	if err != nil {
		p.API.LogWarn("Cannot add the Restore now button to the SSO summary", "error", err.Error())
	}
	if err := p.notifier.OpsPost(post); err != nil {
		p.API.LogWarn("Cannot post the SSO summary to the ops channel", "error", err.Error())
	}
	if err := p.notifier.Direct(actor.ID, msg); err != nil {
		p.API.LogWarn("Cannot send the SSO summary to its admin", "error", err.Error())
	}
}

func formatSSOReport(title string, rep *ssofallback.Report, withPasswords bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**SSO %s**: %d done, %d already, %d skipped, %d failed in %s.\n\n", strings.ToLower(title),
		rep.Count(ssofallback.Done), rep.Count(ssofallback.Already), rep.Count(ssofallback.Skipped), rep.Count(ssofallback.Failed), rep.Duration.Round(time.Millisecond))
	if len(rep.Results) > 100 {
		fmt.Fprintf(&b, "Details of each user are in the audit trail: `/dr audit --action sso.`\n")
		return b.String()
	}
	fmt.Fprintf(&b, "| user | outcome | detail |\n|---|---|---|\n")
	for _, r := range rep.Results {
		detail := r.Detail
		if withPasswords && r.Password != "" {
			detail += fmt.Sprintf(": `%s`", r.Password)
		}
		fmt.Fprintf(&b, "| @%s | %s | %s |\n", r.Username, r.Outcome, strings.ReplaceAll(detail, "|", "\\|"))
	}
	return b.String()
}

func (p *Plugin) runSSOList(context.Context, *slashcmd.Invocation) (*slashcmd.Response, error) {
	recs, err := p.sso.List()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return &slashcmd.Response{Text: "Nobody is in SSO fallback."}, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**%d user(s) in SSO fallback**\n\n| user | was | since | by | reason | until | state |\n|---|---|---|---|---|---|---|\n", len(recs))
	for i, r := range recs {
		if i == 200 {
			fmt.Fprintf(&b, "\n…and %d more (the REST API lists all).\n", len(recs)-200)
			break
		}
		until := "no expiry"
		if r.ExpiresAt != 0 {
			until = r.Expires().Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "| @%s | %s | %s | @%s | %s | %s | %s |\n", r.Username, r.AuthService, r.Created().Format(time.RFC3339), r.Actor, r.Reason, until, r.State)
	}
	return &slashcmd.Response{Text: b.String()}, nil
}

func (p *Plugin) runSSOCancel(context.Context, *slashcmd.Invocation) (*slashcmd.Response, error) {
	j := p.jobs.Cancel(ssoJob)
	if j == nil {
		return &slashcmd.Response{Text: "No SSO fallback or restore is running on this node."}, nil
	}
	return &slashcmd.Response{Text: fmt.Sprintf("Cancelling the SSO job %s (%s done). Users already switched stay switched; run restore to undo them.", j.ID, j.Progress())}, nil
}

// checkSSOExpiry reminds about fallbacks whose window ended, once each across the cluster,
// and restores them when AutoRestoreOnExpiry is on.
func (p *Plugin) checkSSOExpiry() {
	expired, err := p.sso.Expired()
	if err != nil {
		p.API.LogWarn("Cannot check SSO fallback expiry", "error", err.Error())
		return
	}
	cfg, _ := p.config()
	for _, r := range expired {
		ok, err := p.sso.MarkReminded(r.UserID)
		if err != nil || !ok {
			continue
		}
		// By id, and named as the user is called now: a switched user may have renamed
		// themselves and another user taken the recorded name.
		name := r.Username
		if u, appErr := p.API.GetUser(r.UserID); appErr == nil {
			name = u.Username
		}
		if cfg.AutoRestoreOnExpiry {
			rep, err := p.sso.Restore(context.Background(), ssofallback.RestoreRequest{Selection: ssofallback.Selection{UserIDs: []string{r.UserID}}, Actor: ssofallback.Actor{ID: audit.ActorSystem, Username: audit.ActorSystem}}, nil)
			msg := fmt.Sprintf("The SSO fallback of @%s (started by @%s) expired; AutoRestoreOnExpiry restored it: ", name, r.Actor)
			if err != nil {
				msg += err.Error()
			} else {
				msg += fmt.Sprintf("%s %s", rep.Results[0].Outcome, rep.Results[0].Detail)
			}
			_ = p.notifier.OpsAndDirect(r.ActorID, msg)
			continue
		}
		_ = p.notifier.OpsAndDirect(r.ActorID, fmt.Sprintf("The SSO fallback of @%s (started by @%s, reason: %q) expired at %s. When the identity provider works again, run `/dr sso restore @%s`.",
			name, r.Actor, r.Reason, r.Expires().Format(time.RFC3339), name))
	}
}
