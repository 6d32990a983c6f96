package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/adminapi"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/duration"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/jobs"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/ssofallback"
)

// The SSO routes behave like the chat commands: the same selection rules, `all` only with
// `confirm`, durations with days and weeks, and large runs in the background (202 and a job).

type ssoRequest struct {
	Usernames    []string `json:"usernames"`
	Service      string   `json:"service"`
	All          bool     `json:"all"`
	Confirm      bool     `json:"confirm"`
	Reason       string   `json:"reason"`
	Expires      string   `json:"expires"`
	Delivery     string   `json:"delivery"`
	KeepSessions bool     `json:"keep_sessions"`
}

// ssoStarted is the 202 answer of a run that went to the background.
type ssoStarted struct {
	Job   *backupJobInfo `json:"job"`
	Users int            `json:"users"` // -1: every user in fallback, counted as the job runs
}

// ssoInput says what is wrong with a request (400); other errors are the server's (500).
type ssoInput struct{ msg string }

func (e *ssoInput) Error() string { return e.msg }

func badSSO(format string, args ...any) error { return &ssoInput{fmt.Sprintf(format, args...)} }

func (p *Plugin) ssoRoutes(rt *adminapi.Router) {
	rt.Handle(http.MethodGet, "/sso/fallbacks", func(w http.ResponseWriter, _ *http.Request) {
		recs, err := p.sso.List()
		if err != nil {
			adminapi.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if recs == nil {
			recs = []ssofallback.Record{}
		}
		adminapi.WriteJSON(w, http.StatusOK, map[string]any{"fallbacks": recs, "running": jobInfo(p.jobs.Running(ssoJob))})
	})
	rt.Handle(http.MethodPost, "/sso/fallback", p.handleSSO(true))
	rt.Handle(http.MethodPost, "/sso/restore", p.handleSSO(false))
	rt.Handle(http.MethodPost, "/sso/cancel", func(w http.ResponseWriter, _ *http.Request) {
		adminapi.WriteJSON(w, http.StatusOK, map[string]any{"cancelled": jobInfo(p.jobs.Cancel(ssoJob))})
	})
}

func (p *Plugin) handleSSO(fallback bool) http.HandlerFunc {
	what := map[bool]string{true: "fallback", false: "restore"}[fallback]
	return func(w http.ResponseWriter, r *http.Request) {
		var body ssoRequest
		if err := adminapi.DecodeJSON(r, &body); err != nil {
			adminapi.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		actor := p.actor(r.Header.Get("Mattermost-User-ID"))
		run, total, err := p.ssoRESTRun(body, actor, fallback)
		if err != nil {
			writeSSOError(w, err)
			return
		}
		if body.All || len(body.Usernames) > maxInline {
			j, err := p.startSSOJob(what, actor, run, nil)
			if err != nil {
				writeSSOError(w, err)
				return
			}
			adminapi.WriteJSON(w, http.StatusAccepted, ssoStarted{Job: jobInfo(j), Users: total})
			return
		}
		rep, err := run(r.Context(), nil)
		if fallback {
			p.releaseSSOSessions()
		}
		if err != nil {
			writeSSOError(w, err)
			return
		}
		p.postSSOSummary(what, actor, rep)
		adminapi.WriteJSON(w, http.StatusOK, rep)
	}
}

func writeSSOError(w http.ResponseWriter, err error) {
	var input *ssoInput
	var busy *jobs.BusyError
	switch {
	case errors.As(err, &input):
		adminapi.WriteError(w, http.StatusBadRequest, err.Error())
	case errors.As(err, &busy):
		adminapi.WriteError(w, http.StatusConflict, err.Error())
	default:
		adminapi.WriteError(w, http.StatusInternalServerError, err.Error())
	}
}

// ssoRESTRun checks a request as the chat command does and returns the run it asks for, with
// the number of users it selects (-1 for a restore of everyone, counted as it runs).
func (p *Plugin) ssoRESTRun(body ssoRequest, actor ssofallback.Actor, fallback bool) (ssoRun, int, error) {
	sel := ssofallback.Selection{Usernames: trimAt(body.Usernames), Service: body.Service, All: body.All}
	if err := checkSSOSelection(sel, fallback); err != nil {
		return nil, 0, err
	}
	if !fallback {
		req := ssofallback.RestoreRequest{Selection: sel, Actor: actor, KeepSessions: body.KeepSessions}
		total := len(sel.Usernames)
		if sel.All {
			n, err := p.countInFallback(sel.Service)
			if err != nil {
				return nil, 0, err
			}
			if !body.Confirm {
				return nil, 0, badSSO(`"all" restores %d user(s) in fallback to SSO: send the same request with "confirm": true to go ahead`, n)
			}
			total = n
		}
		return func(ctx context.Context, progress func(int, int)) (*ssofallback.Report, error) {
			return p.sso.Restore(ctx, req, progress)
		}, total, nil
	}
	req, err := p.fallbackRequest(body, sel, actor)
	if err != nil {
		return nil, 0, err
	}
	total := len(sel.Usernames)
	if sel.All {
		ids, _, err := p.sso.Resolve(sel)
		if err != nil {
			return nil, 0, err
		}
		if !body.Confirm {
			return nil, 0, badSSO(`"all" switches %d %s user(s) to email/password (delivery: %s): send the same request with "confirm": true to go ahead`, len(ids), sel.Service, req.Delivery)
		}
		total = len(ids)
	}
	return func(ctx context.Context, progress func(int, int)) (*ssofallback.Report, error) {
		return p.sso.Fallback(ctx, req, progress)
	}, total, nil
}

// fallbackRequest reads the fallback-only fields: expires (30m, 24h, 7d, 2w), delivery, reason.
func (p *Plugin) fallbackRequest(body ssoRequest, sel ssofallback.Selection, actor ssofallback.Actor) (ssofallback.FallbackRequest, error) {
	cfg, _ := p.config()
	req := ssofallback.FallbackRequest{Selection: sel, Actor: actor, Reason: body.Reason, Expires: cfg.SSOFallbackExpiry(), Delivery: ssofallback.Delivery(body.Delivery)}
	if body.KeepSessions {
		return req, badSSO(`"keep_sessions" goes with a restore, not a fallback`)
	}
	if body.Expires != "" {
		d, err := duration.Parse(body.Expires)
		if err != nil {
			return req, badSSO("expires: %v", err)
		}
		req.Expires = d
	}
	if req.Delivery == "" {
		req.Delivery = p.defaultDelivery()
	}
	if !slices.Contains(ssofallback.Deliveries, string(req.Delivery)) {
		return req, badSSO("unknown delivery %q: use one of %s", req.Delivery, strings.Join(ssofallback.Deliveries, ", "))
	}
	if sel.All && req.Delivery == ssofallback.DeliverShow {
		return req, badSSO(`delivery "show" is for named users only: with "all" use dm, email or reset-link`)
	}
	if req.Delivery == ssofallback.DeliverShow && len(sel.Usernames) > ssofallback.MaxShow {
		return req, badSSO(`delivery "show" answers with the passwords, so it is for at most %d users: use dm or reset-link`, ssofallback.MaxShow)
	}
	return req, nil
}

// checkSSOSelection applies the chat command's selection rules to a request's fields.
func checkSSOSelection(sel ssofallback.Selection, fallback bool) error {
	switch {
	case sel.All && len(sel.Usernames) > 0:
		return badSSO(`give either "usernames" or "all", not both`)
	case sel.All && sel.Service == "" && fallback:
		return badSSO(`"all" needs "service" (one of %s)`, strings.Join(ssofallback.Services, ", "))
	case !sel.All && sel.Service != "":
		return badSSO(`"service" goes with "all"`)
	case !sel.All && len(sel.Usernames) == 0:
		return badSSO(`name the users ("usernames": ["alice"]) or send "all": true with a "service"`)
	case sel.Service != "" && !slices.Contains(ssofallback.Services, sel.Service):
		return badSSO("unknown service %q: use one of %s", sel.Service, strings.Join(ssofallback.Services, ", "))
	}
	for _, n := range sel.Usernames {
		if n == "" {
			return badSSO(`"usernames" holds an empty name`)
		}
	}
	return nil
}

func trimAt(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.ToLower(strings.TrimPrefix(strings.TrimSpace(n), "@")))
	}
	return out
}
