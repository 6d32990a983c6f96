package plugin

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/adminapi"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/duration"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/slashcmd"
)

func (p *Plugin) auditCommands(t *slashcmd.Tree) {
	t.Add(nil, &slashcmd.Command{
		Name: "audit", Summary: "The audit trail of every DR action: who did what to whom, and when",
		Flags: []slashcmd.Flag{
			{Name: "user", Kind: slashcmd.String, Help: "only actions by @user"},
			{Name: "action", Kind: slashcmd.String, Help: "only actions starting with this, e.g. sso. or backup.verify"},
			{Name: "since", Kind: slashcmd.String, Help: "only newer than a duration ago (24h, 7d) or a date (2026-11-01)"},
			{Name: "limit", Kind: slashcmd.Int, Default: "20", Help: "how many, newest first (max 1000)"},
		},
		Run: p.runAudit,
	})
	t.Add([]string{"audit"}, &slashcmd.Command{
		Name: "verify", Summary: "Prove that the audit trail's hash chain is unbroken and matches the copies of its head in the backups",
		Flags: []slashcmd.Flag{{Name: "anchor", Kind: slashcmd.List, Help: "also check copies of the head, seq:hash, from the server log or the daily post"}},
		Run:   p.runAuditVerify,
	})
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
		if d, err := duration.Parse(since); err == nil {
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

func (p *Plugin) runAudit(_ context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	f, err := p.auditFilter(inv.String("user"), inv.String("action"), inv.String("since"), inv.Int("limit"))
	if err != nil {
		return nil, err
	}
	recs, err := p.trail.Query(f)
	if err != nil {
		return nil, fmt.Errorf("read the audit trail: %w", err)
	}
	if len(recs) == 0 {
		return &slashcmd.Response{Text: "No audit records match."}, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Audit trail** (newest first, %d shown; export: `GET /plugins/%s/api/v1/audit/export?format=csv`)\n\n| # | time (UTC) | actor | action | target | outcome | reason |\n|---|---|---|---|---|---|---|\n", len(recs), ID)
	for _, r := range recs {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s |\n", r.Seq, r.Time.Format("2006-01-02 15:04:05"),
			cell(r.Actor), cell(r.Action), cell(r.Target), cell(string(r.Outcome)), cell(r.Reason+" "+audit.FlattenDetails(r.Details)))
	}
	return &slashcmd.Response{Text: b.String()}, nil
}

// maxCell bounds a table cell, in bytes before escaping.
const maxCell = 160

// cell makes s safe inside a Markdown table cell: the values come from anywhere (a target can
// be a path an anonymous client chose), so '|' must not end the cell, a newline the row, and
// Markdown or a mention must not render.
func cell(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s))
	cut := len(s) > maxCell
	if cut {
		s = strings.ToValidUTF8(s[:maxCell], "")
	}
	s = markdownEscaper.Replace(s)
	if cut {
		s += "…"
	}
	return s
}

// markdownEscaper backslash-escapes the ASCII punctuation that makes Markdown inside a cell
// (CommonMark renders an escaped ASCII punctuation character as itself): emphasis, code,
// links, HTML, entities, mentions, LaTeX, and the '|' that would end the cell. "://" is
// broken up so that a URL is not turned into a link. Dots, dashes and slashes stay as they
// are: they mean nothing inside a cell, and actions and paths stay readable and searchable.
var markdownEscaper = func() *strings.Replacer {
	pairs := []string{"://", `:\/\/`}
	for _, c := range "\\`*_~[]<>|@&$" {
		pairs = append(pairs, string(c), `\`+string(c))
	}
	return strings.NewReplacer(pairs...)
}()

func (p *Plugin) runAuditVerify(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	given, err := givenAnchors(inv.List("anchor"))
	if err != nil {
		return nil, err
	}
	v, err := p.verifyAudit(ctx, given)
	if err != nil {
		return nil, err
	}
	return &slashcmd.Response{Text: v.markdown()}, nil
}

func givenAnchors(list []string) ([]audit.Anchor, error) {
	var out []audit.Anchor
	for _, s := range list {
		a, err := audit.ParseAnchor(s, "the copy given with --anchor")
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// auditVerification is a Verify result with where its anchors came from.
type auditVerification struct {
	audit.VerifyResult
	// AnchorsPerDestination counts the backups whose manifest holds the head, per destination.
	AnchorsPerDestination map[string]int
	// AnchorProblems are destinations whose backups could not be read: their anchors were not
	// checked.
	AnchorProblems []string
	// CurrentHead is the head after the check, to compare with the server log and posts.
	CurrentHead audit.Anchor
}

// verifyAudit checks the chain against every anchor it can reach: the head recorded in each
// backup at each destination, and those given.
func (p *Plugin) verifyAudit(ctx context.Context, given []audit.Anchor) (auditVerification, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	anchors, perDest, problems := p.backupAnchors(ctx)
	res, err := p.trail.Verify(append(anchors, given...)...)
	if err != nil {
		return auditVerification{}, fmt.Errorf("verify the audit trail: %w", err)
	}
	v := auditVerification{VerifyResult: res, AnchorsPerDestination: perDest, AnchorProblems: problems}
	v.CurrentHead, _ = p.trail.Head()
	return v, nil
}

func (v *auditVerification) markdown() string {
	var b strings.Builder
	if v.OK {
		fmt.Fprintf(&b, "The audit trail is intact: %d records checked, the hash chain is unbroken", v.Checked)
		if len(v.Anchors) > 0 {
			fmt.Fprintf(&b, " and matches all %d copies of its head kept outside the database", len(v.Anchors))
		}
		b.WriteString(".")
		if v.Note != "" {
			b.WriteString(" " + v.Note)
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "**The audit trail is NOT intact**: %d problem(s) in %d records checked.\n\n", v.ProblemCount, v.Checked)
		for _, pr := range v.Problems {
			fmt.Fprintf(&b, "- record %d: %s (%s)\n", pr.Seq, pr.Detail, pr.Kind)
		}
	}
	b.WriteString("\n**Anchors checked** (copies of the head outside the database): ")
	v.writeAnchors(&b)
	for _, pr := range v.AnchorProblems {
		fmt.Fprintf(&b, "- :warning: not checked: %s\n", pr)
	}
	fmt.Fprintf(&b, "\nThe head is now record %d, hash `%s`: records after the newest anchor are covered only by the server log lines %q and the daily post in the ops channel; compare them.\n",
		v.CurrentHead.Seq, v.CurrentHead.Hash, headLogMessage)
	return b.String()
}

func (v *auditVerification) writeAnchors(b *strings.Builder) {
	if len(v.Anchors) == 0 {
		b.WriteString("none. No backup records the head yet: records cut off from the end, or rewritten with the rest re-hashed, would not show. Take a backup, or pass the head from the server log with `--anchor seq:hash`.\n")
		return
	}
	var parts []string
	for _, name := range sortedKeys(v.AnchorsPerDestination) {
		parts = append(parts, fmt.Sprintf("%d backup(s) at destination %s", v.AnchorsPerDestination[name], name))
	}
	if n := len(v.Anchors) - sum(v.AnchorsPerDestination); n > 0 {
		parts = append(parts, fmt.Sprintf("%d given with --anchor", n))
	}
	b.WriteString(strings.Join(parts, ", "))
	if newest, ok := v.newestAnchor(); ok {
		fmt.Fprintf(b, "; the newest is %s, at record %d", newest.Source, newest.Seq)
	}
	b.WriteString(".\n")
}

func (v *auditVerification) newestAnchor() (audit.AnchorCheck, bool) {
	var best audit.AnchorCheck
	for _, a := range v.Anchors {
		if a.Seq > best.Seq {
			best = a
		}
	}
	return best, best.Seq > 0
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
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
	rt.Handle(http.MethodGet, "/audit/verify", func(w http.ResponseWriter, r *http.Request) {
		given, err := givenAnchors(r.URL.Query()["anchor"])
		if err != nil {
			adminapi.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		res, err := p.verifyAudit(r.Context(), given)
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
