// Package adminapi is the plugin's REST surface under /api/v1/: a router that lets only system
// admins through, and can list its routes so a test can prove that for every one of them.
package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
)

// Prefix is where every route lives, below /plugins/<id>.
const Prefix = "/api/v1"

// Authorizer answers whether a Mattermost user may use the API. The plugin implements it with
// HasPermissionTo(userID, PermissionManageSystem).
type Authorizer interface {
	IsSystemAdmin(userID string) bool
}

// RefusalFunc is told about every refused request, so it can be logged and audited.
type RefusalFunc func(r *http.Request, userID, reason string)

// Route is one registered method and path pattern (Go ServeMux syntax, e.g. "/api/v1/backups/{id}").
type Route struct {
	Method string
	Path   string
}

// Router routes /api/v1/... requests after checking that the caller is a system admin.
type Router struct {
	mux    *http.ServeMux
	auth   Authorizer
	refuse RefusalFunc
	routes []Route
	tokens map[string]TokenFunc // "METHOD /api/v1/path" -> token check, for HandleWithToken
}

// TokenFunc says whether a bearer token grants access to a route (compare in constant time).
type TokenFunc func(token string) bool

// TokenHeader carries a route token when the Authorization header is taken (Mattermost reads
// "Authorization: Bearer" as a session token before the plugin sees the request).
const TokenHeader = "X-DR-Token"

// PluginIDHeader names the plugin that sent a request through API.PluginHTTP; the server strips
// it from every other request. Servers before the inter-plugin bridge (11.1; the plugin
// supports 9.5) passed such a request's Mattermost-User-ID through as the calling plugin set
// it, so any plugin could claim to be an admin: requests from plugins are refused. CoreServerID marks the server's own calls,
// whose user ID the server sets from a session.
const (
	PluginIDHeader = "Mattermost-Plugin-ID"
	CoreServerID   = "com.mattermost.server"
)

// New returns an empty router. refuse may be nil.
func New(auth Authorizer, refuse RefusalFunc) *Router {
	return &Router{mux: http.NewServeMux(), auth: auth, refuse: refuse}
}

// Handle registers h for method and a path below Prefix ("/backups/{id}").
func (rt *Router) Handle(method, path string, h http.HandlerFunc) {
	full := Prefix + path
	rt.mux.HandleFunc(method+" "+full, h)
	rt.routes = append(rt.routes, Route{Method: method, Path: full})
}

// HandleWithToken registers a route that a system admin may call, and also a client without a
// Mattermost session that presents a token ok accepts ("Authorization: Bearer <token>" or the
// X-DR-Token header): a Prometheus scraper.
func (rt *Router) HandleWithToken(method, path string, ok TokenFunc, h http.HandlerFunc) {
	rt.Handle(method, path, h)
	if rt.tokens == nil {
		rt.tokens = map[string]TokenFunc{}
	}
	rt.tokens[method+" "+Prefix+path] = ok
}

func bearer(r *http.Request) string {
	if t := r.Header.Get(TokenHeader); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// Routes lists every registered route, sorted, for sweeps in tests.
func (rt *Router) Routes() []Route {
	out := append([]Route(nil), rt.routes...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// ServeHTTP refuses anyone who is not a system admin before any route is matched, so that a
// route added without thinking about permissions is still guarded, and so that a non-admin
// cannot probe which routes exist.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Prefix && !strings.HasPrefix(r.URL.Path, Prefix+"/") {
		WriteError(w, http.StatusNotFound, "not found: the plugin's API is under "+Prefix+"/")
		return
	}
	if src := r.Header.Get(PluginIDHeader); src != "" && src != CoreServerID {
		rt.refused(r, "", "request from the plugin "+src+" (claiming user "+nonEmpty(r.Header.Get("Mattermost-User-ID"), "none")+")")
		WriteError(w, http.StatusForbidden, "forbidden: the Disaster Recovery API does not serve other plugins; call it with a system admin's session or personal access token")
		return
	}
	userID := r.Header.Get("Mattermost-User-ID")
	if ok := rt.tokens[r.Method+" "+r.URL.Path]; ok != nil {
		if t := bearer(r); t != "" {
			if ok(t) {
				rt.mux.ServeHTTP(w, r)
				return
			}
			if userID == "" || !rt.auth.IsSystemAdmin(userID) {
				rt.refused(r, userID, "wrong token")
				WriteError(w, http.StatusUnauthorized, "wrong token: use the token of the plugin setting DRMetricsToken")
				return
			}
		}
	}
	if userID == "" {
		rt.refused(r, "", "not logged in")
		WriteError(w, http.StatusUnauthorized, "not logged in: the Disaster Recovery API needs a Mattermost session or a personal access token of a system admin")
		return
	}
	if !rt.auth.IsSystemAdmin(userID) {
		rt.refused(r, userID, "not a system admin")
		WriteError(w, http.StatusForbidden, "forbidden: the Disaster Recovery API is for system admins only")
		return
	}
	rt.serve(w, r)
}

// serve runs the matching route, and answers in JSON, like every other error, when none
// matches: ServeMux's own 404 and 405 are plain text that a client's JSON decoding trips on.
func (rt *Router) serve(w http.ResponseWriter, r *http.Request) {
	if _, pattern := rt.mux.Handler(r); pattern != "" {
		rt.mux.ServeHTTP(w, r)
		return
	}
	if allow := rt.allowed(r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		WriteError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+": use "+strings.Join(allow, " or "))
		return
	}
	WriteError(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path+" (the routes are listed in the plugin's README, REST API)")
}

// allowed lists the methods some route serves at r's path.
func (rt *Router) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := rt.mux.Handler(probe); pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

func (rt *Router) refused(r *http.Request, userID, reason string) {
	if rt.refuse != nil {
		rt.refuse(r, userID, reason)
	}
}

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error string `json:"error"`
}

// WriteJSON answers with status and v encoded as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	// Encoded first, so that a value JSON cannot hold is a 500 with a message, not an empty 200.
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(ErrorBody{Error: "the answer could not be encoded: " + err.Error()})
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // the client went away; nothing useful to do
}

// WriteError answers with status and a message that says what to do.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, ErrorBody{Error: msg})
}

// DecodeJSON reads a JSON body into v, refusing unknown fields and oversized bodies so that a
// typo in a field name is reported instead of silently ignored.
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("bad JSON body: " + err.Error())
	}
	return nil
}

// DecodeOptionalJSON is DecodeJSON for a body that may be empty (then v is left as it is). It
// reads the body rather than trust Content-Length, which the server does not pass on to plugins.
func DecodeOptionalJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return errors.New("bad JSON body: " + err.Error())
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return DecodeJSON(r, v)
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
