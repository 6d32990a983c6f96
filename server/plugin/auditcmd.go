package plugin

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/adminapi"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/cmdline"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/command"
)

func (p *Plugin) auditCommands(t *command.Tree) {
	t.Add(nil, &command.Command{
		Name: "audit", Summary: "The audit trail of every DR action: who did what to whom, and when",
		Flags: []command.Flag{
			{Name: "user", Kind: command.String, Help: "only actions by @user"},
			{Name: "action", Kind: command.String, Help: "only actions starting with this, e.g. sso. or backup.verify"},
			{Name: "since", Kind: command.String, Help: "only newer than a duration ago (24h, 7d) or a date (2026-11-01)"},
			{Name: "limit", Kind: command.Int, Default: "20", Help: "how many, newest first (max 1000)"},
		},
		Run: p.runAudit,
	})
	t.Add([]string{"audit"}, &command.Command{Name: "verify", Summary: "Prove that the audit trail's hash chain is unbroken", Run: p.runAuditVerify})
}

// auditFilter builds a filter from the shared options of the command and the REST API.
func (p *Plugin) auditFilter(user, action, since string, limit int) (audit.Filter, error) {
	f := audit.Filter{Action: action, Limit: limit}
	if user = strings.TrimPrefix(strings.TrimSpace(user), "@"); user != "" {
		u, err := p.API.GetUserByUsername(strings.ToLower(user))
		if err != nil {
			return f, fmt.Errorf("no user @%s", user)
		}
		f.ActorID = u.Id
	}
	if since != "" {
		if d, err := cmdline.ParseDuration(since); err == nil {
			f.Since = time.Now().Add(-d)
		} else if t, err := time.Parse("2006-01-02", since); err == nil {
			f.Since = t
		} else if t, err := time.Parse(time.RFC3339, since); err == nil {
			f.Since = t
		} else {
			return f, fmt.Errorf("--since %q: use a duration (24h, 7d) or a date (2026-11-01)", since)
		}
	}
	return f, nil
}

func (p *Plugin) runAudit(_ context.Context, inv *command.Invocation) (*command.Response, error) {
	f, err := p.auditFilter(inv.String("user"), inv.String("action"), inv.String("since"), inv.Int("limit"))
	if err != nil {
		return nil, err
	}
	recs, err := p.trail.Query(f)
	if err != nil {
		return nil, fmt.Errorf("read the audit trail: %w", err)
	}
	if len(recs) == 0 {
		return &command.Response{Text: "No audit records match."}, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Audit trail** (newest first, %d shown; export: `GET /plugins/%s/api/v1/audit/export?format=csv`)\n\n| # | time (UTC) | actor | action | target | outcome | reason |\n|---|---|---|---|---|---|---|\n", len(recs), ID)
	for _, r := range recs {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s |\n", r.Seq, r.Time.Format("2006-01-02 15:04:05"), r.Actor, r.Action, r.Target, r.Outcome, cell(r.Reason+" "+audit.FlattenDetails(r.Details)))
	}
	return &command.Response{Text: b.String()}, nil
}

func cell(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " "))
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func (p *Plugin) runAuditVerify(context.Context, *command.Invocation) (*command.Response, error) {
	res, err := p.trail.Verify()
	if err != nil {
		return nil, fmt.Errorf("verify the audit trail: %w", err)
	}
	if res.OK {
		text := fmt.Sprintf("The audit trail is intact: %d records checked, the hash chain is unbroken.", res.Checked)
		if res.Note != "" {
			text += " " + res.Note
		}
		return &command.Response{Text: text}, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**The audit trail is NOT intact**: %d problem(s) in %d records checked.\n\n", res.ProblemCount, res.Checked)
	for _, pr := range res.Problems {
		fmt.Fprintf(&b, "- record %d: %s (%s)\n", pr.Seq, pr.Detail, pr.Kind)
	}
	return &command.Response{Text: b.String()}, nil
}

func (p *Plugin) auditRoutes(rt *adminapi.Router) {
	rt.Handle(http.MethodGet, "/audit", func(w http.ResponseWriter, r *http.Request) {
		f, ok := p.auditFilterFromQuery(w, r)
		if !ok {
			return
		}
		recs, err := p.trail.Query(f)
		if err != nil {
			adminapi.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		adminapi.WriteJSON(w, http.StatusOK, recs)
	})
	rt.Handle(http.MethodGet, "/audit/export", func(w http.ResponseWriter, r *http.Request) {
		f, ok := p.auditFilterFromQuery(w, r)
		if !ok {
			return
		}
		if r.URL.Query().Get("limit") == "" {
			f.Limit = 0 // exports take everything unless asked otherwise
		}
		var err error
		switch format := r.URL.Query().Get("format"); format {
		case "", "jsonl":
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("Content-Disposition", `attachment; filename="dr-audit.jsonl"`)
			err = p.trail.ExportJSONL(w, f)
		case "csv":
			w.Header().Set("Content-Type", "text/csv")
			w.Header().Set("Content-Disposition", `attachment; filename="dr-audit.csv"`)
			err = p.trail.ExportCSV(w, f)
		default:
			adminapi.WriteError(w, http.StatusBadRequest, "format must be jsonl or csv")
			return
		}
		if err != nil {
			p.API.LogError("Audit export failed", "error", err.Error())
		}
	})
	rt.Handle(http.MethodGet, "/audit/verify", func(w http.ResponseWriter, _ *http.Request) {
		res, err := p.trail.Verify()
		if err != nil {
			adminapi.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		adminapi.WriteJSON(w, http.StatusOK, res)
	})
}

func (p *Plugin) auditFilterFromQuery(w http.ResponseWriter, r *http.Request) (audit.Filter, bool) {
	q := r.URL.Query()
	limit := 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			adminapi.WriteError(w, http.StatusBadRequest, "limit must be a positive number")
			return audit.Filter{}, false
		}
		limit = n
	}
	f, err := p.auditFilter(q.Get("user"), q.Get("action"), q.Get("since"), limit)
	if err != nil {
		adminapi.WriteError(w, http.StatusBadRequest, err.Error())
		return f, false
	}
	return f, true
}
