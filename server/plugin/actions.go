package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/pluginapi"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/adminapi"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/kvstate"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/ssofallback"
)

// Buttons on the bot's posts (Confirm, Resume and Abort on a runbook that stopped; Restore now
// on an SSO fallback). A click reaches these routes through the server as the admin who
// clicked, so the router's admin check, the commands' services and their audit trail apply
// unchanged. Anyone can post a message with buttons pointing here and hope an admin clicks:
// a click counts only on a post the bot made with the control it names.

// propControl marks the bot's posts that carry buttons: "failover:<run id>/<step>" or "sso:<token>".
const propControl = "disaster_recovery_control"

func actionURL(name string) string { return "/plugins/" + ID + adminapi.Prefix + "/actions/" + name }

func (p *Plugin) actionRoutes(rt *adminapi.Router) {
	rt.Handle(http.MethodPost, "/actions/failover/{op}", func(w http.ResponseWriter, r *http.Request) {
		p.handleAction(w, r, "failover", func(ctx context.Context, userID, target string) (string, error) {
			return p.failoverButton(ctx, r.PathValue("op"), userID, target)
		})
	})
	rt.Handle(http.MethodPost, "/actions/sso/restore", func(w http.ResponseWriter, r *http.Request) {
		p.handleAction(w, r, "sso", p.ssoRestoreButton)
	})
}

// handleAction checks that the click came from the bot's own post carrying a control of kind,
// runs it as the clicking admin, and answers the way the server expects from a button: 200,
// with the outcome as an ephemeral message and the post updated to say who did what.
func (p *Plugin) handleAction(w http.ResponseWriter, r *http.Request, kind string, run func(ctx context.Context, userID, target string) (string, error)) {
	userID := r.Header.Get("Mattermost-User-ID") // from the clicker's session, not the body
	var req model.PostActionIntegrationRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		adminapi.WriteError(w, http.StatusBadRequest, "bad button request: "+err.Error())
		return
	}
	post, target, why := p.controlPost(req.PostId, kind)
	if why != "" {
		p.refused(userID, "button", r.URL.Path, why)
		adminapi.WriteJSON(w, http.StatusOK, model.PostActionIntegrationResponse{EphemeralText: "Nothing was done: " + why + "."})
		return
	}
	text, err := run(r.Context(), userID, target)
	if err != nil {
		adminapi.WriteJSON(w, http.StatusOK, model.PostActionIntegrationResponse{EphemeralText: "Nothing was done: " + err.Error()})
		return
	}
	adminapi.WriteJSON(w, http.StatusOK, model.PostActionIntegrationResponse{Update: p.clickedPost(post, userID, text), EphemeralText: text})
}

// controlPost returns the post of a click and the target of its control, or why the click
// does not count.
func (p *Plugin) controlPost(postID, kind string) (*model.Post, string, string) {
	if postID == "" {
		return nil, "", "the button is not on a post"
	}
	post, appErr := p.API.GetPost(postID)
	if appErr != nil {
		return nil, "", "the button's post cannot be read (" + appErr.Error() + ")"
	}
	control, _ := post.GetProp(propControl).(string)
	target, ok := strings.CutPrefix(control, kind+":")
	switch {
	case post.UserId != p.notifier.BotID():
		return nil, "", "the button is on a post the Disaster Recovery bot did not make"
	case !ok || target == "":
		return nil, "", "the post carries no " + kind + " button of the Disaster Recovery bot"
	}
	return post, target, ""
}

// clickedPost is the post without its buttons, saying who clicked and what came of it, so
// the channel sees it and nobody clicks a spent button again.
func (p *Plugin) clickedPost(post *model.Post, userID, text string) *model.Post {
	next := post.Clone()
	next.DelProp("attachments")
	next.DelProp(propControl)
	who := userID
	if u, appErr := p.API.GetUser(userID); appErr == nil {
		who = "@" + u.Username
	}
	next.Message = post.Message + fmt.Sprintf("\n\n%s, %s: %s", who, time.Now().UTC().Format("15:04:05 UTC"), firstLine(text))
	return next
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func button(id, name, style, path string) *model.PostAction {
	return &model.PostAction{Id: id, Name: name, Type: model.PostActionTypeButton, Style: style, Integration: &model.PostActionIntegration{URL: actionURL(path)}}
}

// failoverButton runs a runbook button, but only on the runbook and step the post was about:
// a button left on an older post must not confirm a later step, or abort a newer runbook.
func (p *Plugin) failoverButton(ctx context.Context, op, userID, target string) (string, error) {
	runID, step, _ := strings.Cut(target, "/")
	if err := p.checkFailoverSeen(ctx, runID, step); err != nil {
		return "", err
	}
	return p.failoverOp(ctx, op, userID)
}

// postFailoverControls posts the buttons a stopped runbook needs: Confirm or Resume, and Abort.
func (p *Plugin) postFailoverControls(ctx context.Context) {
	run, err := p.failoverService().Current(ctx)
	if err != nil || run == nil {
		return
	}
	var text string
	var first *model.PostAction
	step := run.Current()
	switch {
	case run.State == failover.RunWaiting && step != nil:
		text = fmt.Sprintf("%s `%s` waits at **%s**: %s\nConfirm once it is done, or abort the runbook.", titleWord(run.Kind), run.ID, step.Title, step.Detail)
		first = button("confirm", "Confirm", "primary", "failover/confirm")
	case (run.State == failover.RunFailed || run.State == failover.RunInterrupted) && step != nil:
		text = fmt.Sprintf("%s `%s` stopped at **%s**: %s\nFix the cause, then resume (finished steps are not run again), or abort the runbook.", titleWord(run.Kind), run.ID, step.Title, nonEmpty(step.Error, string(run.State)))
		first = button("resume", "Resume", "primary", "failover/resume")
	default:
		return
	}
	post := &model.Post{Message: text}
	post.AddProp(propControl, "failover:"+run.ID+"/"+step.Name)
	post.AddProp("attachments", []*model.MessageAttachment{{Actions: []*model.PostAction{first, button("abort", "Abort", "danger", "failover/abort")}}})
	if err := p.notifier.OpsPost(post); err != nil {
		p.API.LogWarn("Cannot post the runbook's buttons", "run", run.ID, "error", err.Error())
	}
}

// ssoButtonKey holds the user IDs a fallback switched, for its Restore now button (a post's
// props are no place for thousands of IDs).
func ssoButtonKey(token string) string { return "sso/button/" + token }

// ssoFallbackPost is the ops channel's post of a fallback, with a Restore now button for the
// users it switched.
func (p *Plugin) ssoFallbackPost(msg string, rep *ssofallback.Report) (*model.Post, error) {
	var ids []string
	for _, r := range rep.Results {
		if r.Outcome == ssofallback.Done {
			ids = append(ids, r.UserID)
		}
	}
	post := &model.Post{Message: msg}
	if len(ids) == 0 {
		return post, nil
	}
	token := model.NewId()
	if _, err := p.client.KV.Set(ssoButtonKey(token), ids, pluginapi.SetExpiry(kvstate.SSOButtonTTL)); err != nil {
		return post, fmt.Errorf("keep the users for the Restore now button: %w", err)
	}
	post.AddProp(propControl, "sso:"+token)
	post.AddProp("attachments", []*model.MessageAttachment{{Actions: []*model.PostAction{button("restore", fmt.Sprintf("Restore now (%d)", len(ids)), "default", "sso/restore")}}})
	return post, nil
}

// ssoRestoreButton restores the users a fallback switched, as the clicking admin: inline for
// a few, in the background for more, like `/dr sso restore`.
func (p *Plugin) ssoRestoreButton(ctx context.Context, userID, token string) (string, error) {
	var ids []string
	if err := p.client.KV.Get(ssoButtonKey(token), &ids); err != nil {
		return "", fmt.Errorf("read the users of this fallback: %w", err)
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("this fallback's users are no longer known here: `/dr sso list` shows who is in fallback, `/dr sso restore` restores them")
	}
	req := ssofallback.RestoreRequest{Selection: ssofallback.Selection{UserIDs: ids}, Actor: p.actor(userID)}
	restore := func(ctx context.Context, progress func(int, int)) (*ssofallback.Report, error) {
		return p.sso.Restore(ctx, req, progress)
	}
	if len(ids) > maxInline {
		if _, err := p.startSSOJob("restore", req.Actor, restore, nil); err != nil {
			return "", err
		}
		return fmt.Sprintf("SSO restore of %d user(s) started in the background; the result goes to the ops channel.", len(ids)), nil
	}
	rep, err := restore(ctx, nil)
	if err != nil {
		return "", err
	}
	p.postSSOSummary("restore", req.Actor, rep)
	return fmt.Sprintf("SSO restore: %d done, %d already, %d skipped, %d failed.", rep.Count(ssofallback.Done), rep.Count(ssofallback.Already), rep.Count(ssofallback.Skipped), rep.Count(ssofallback.Failed)), nil
}
