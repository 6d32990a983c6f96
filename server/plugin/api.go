package plugin

import (
	"net/http"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/adminapi"
)

// VersionInfo is the answer of GET /api/v1/version.
type VersionInfo struct {
	Plugin   string   `json:"plugin"`
	Server   string   `json:"server"`
	Node     string   `json:"node"`
	PgDump   string   `json:"pg_dump"` // the pg_dump backups run, "" when none is found (problems says what to do)
	Problems []string `json:"problems"`
}

// routes builds the REST API; adminapi.Router refuses non-admins before any route runs.
func (p *Plugin) routes() *adminapi.Router {
	anon := newAnonRefusals(func(msg string, kv ...any) { p.API.LogWarn(msg, kv...) })
	rt := adminapi.New(p, func(r *http.Request, userID, reason string) {
		if userID == "" {
			anon.note(r.Method+" "+r.URL.Path, reason) // no session: logged, rate-limited, not audited
			return
		}
		p.refused(userID, "http", r.Method+" "+r.URL.Path, reason)
	})
	rt.Handle(http.MethodGet, "/version", p.handleVersion)
	p.backupRoutes(rt)
	p.verifyRoutes(rt)
	p.statusRoutes(rt)
	p.ssoRoutes(rt)
	p.auditRoutes(rt)
	p.failoverRoutes(rt)
	p.actionRoutes(rt)
	return rt
}

func (p *Plugin) handleVersion(w http.ResponseWriter, _ *http.Request) {
	problems := append(p.configProblems(), p.toolProblems()...)
	if problems == nil {
		problems = []string{}
	}
	pgDump, _ := p.pgDump()
	adminapi.WriteJSON(w, http.StatusOK, VersionInfo{Plugin: Version, Server: p.API.GetServerVersion(), Node: p.node, PgDump: pgDump, Problems: problems})
}
