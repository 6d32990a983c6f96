// Package adminapi is the plugin's REST surface under /api/v1/: a router that lets only system
// admins through, and can list its routes so a test can prove that for every one of them.
package adminapi

import (
	"encoding/json"
	"errors"
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
}

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
	userID := r.Header.Get("Mattermost-User-ID")
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
	rt.mux.ServeHTTP(w, r)
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
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing useful to do
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
