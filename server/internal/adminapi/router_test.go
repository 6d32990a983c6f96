package adminapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type admins map[string]bool

func (a admins) IsSystemAdmin(id string) bool { return a[id] }

func TestRouterGuardsEveryRoute(t *testing.T) {
	var refusals []string
	rt := New(admins{"admin": true}, func(_ *http.Request, userID, reason string) {
		refusals = append(refusals, userID+":"+reason)
	})
	rt.Handle(http.MethodGet, "/version", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
	})
	rt.Handle(http.MethodPost, "/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	})

	tests := []struct {
		name, method, path, user string
		want                     int
	}{
		{"admin get", http.MethodGet, "/api/v1/version", "admin", http.StatusOK},
		{"admin post with path value", http.MethodPost, "/api/v1/things/x1", "admin", http.StatusOK},
		{"admin unknown route", http.MethodGet, "/api/v1/nope", "admin", http.StatusNotFound},
		{"admin wrong method", http.MethodDelete, "/api/v1/version", "admin", http.StatusMethodNotAllowed},
		{"non-admin", http.MethodGet, "/api/v1/version", "bob", http.StatusForbidden},
		{"non-admin unknown route still refused", http.MethodGet, "/api/v1/nope", "bob", http.StatusForbidden},
		{"anonymous", http.MethodPost, "/api/v1/things/x1", "", http.StatusUnauthorized},
		{"outside prefix", http.MethodGet, "/other", "admin", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.user != "" {
				req.Header.Set("Mattermost-User-ID", tt.user)
			}
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, req)
			assert.Equal(t, tt.want, rec.Code, rec.Body.String())
		})
	}
	assert.Equal(t, []string{"bob:not a system admin", "bob:not a system admin", ":not logged in"}, refusals)
	require.Equal(t, []Route{{"POST", "/api/v1/things/{id}"}, {"GET", "/api/v1/version"}}, rt.Routes(), "sorted by path")
}

func TestRouterTokenRoute(t *testing.T) {
	rt := New(admins{"admin": true}, nil)
	const secret = "scrape-token-0123456789"
	rt.HandleWithToken(http.MethodGet, "/metrics", func(tok string) bool { return tok == secret }, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("dr_up 1\n"))
	})
	rt.Handle(http.MethodGet, "/status", func(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, http.StatusOK, "ok") })
	tests := []struct {
		name, path, user, auth, header string
		want                           int
	}{
		{"scraper with the bearer token", "/api/v1/metrics", "", "Bearer " + secret, "", http.StatusOK},
		{"scraper with the token header", "/api/v1/metrics", "", "", secret, http.StatusOK},
		{"wrong token", "/api/v1/metrics", "", "Bearer nope", "", http.StatusUnauthorized},
		{"no token, anonymous", "/api/v1/metrics", "", "", "", http.StatusUnauthorized},
		{"non-admin with a wrong token", "/api/v1/metrics", "bob", "", "nope", http.StatusUnauthorized},
		{"non-admin without a token", "/api/v1/metrics", "bob", "", "", http.StatusForbidden},
		{"admin without a token", "/api/v1/metrics", "admin", "", "", http.StatusOK},
		{"the token opens no other route", "/api/v1/status", "", "Bearer " + secret, "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.user != "" {
				req.Header.Set("Mattermost-User-ID", tt.user)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.header != "" {
				req.Header.Set(TokenHeader, tt.header)
			}
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, req)
			assert.Equal(t, tt.want, rec.Code, rec.Body.String())
		})
	}
}

// Before the inter-plugin bridge, a plugin calling API.PluginHTTP set Mattermost-User-ID
// itself; the server only added Mattermost-Plugin-ID. Such a request is refused whatever user
// it claims, also on a token route; the server's own calls keep the admin check.
func TestRouterRefusesOtherPlugins(t *testing.T) {
	var refusals []string
	rt := New(admins{"admin": true}, func(_ *http.Request, userID, reason string) {
		refusals = append(refusals, userID+":"+reason)
	})
	rt.Handle(http.MethodGet, "/version", func(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, http.StatusOK, "ok") })
	rt.HandleWithToken(http.MethodGet, "/metrics", func(tok string) bool { return tok == "scrape-token-0123456789" }, func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, "ok")
	})
	tests := []struct {
		name, path, plugin, user, token string
		want                            int
	}{
		{"another plugin claiming an admin", "/api/v1/version", "com.example.evil", "admin", "", http.StatusForbidden},
		{"another plugin with the metrics token", "/api/v1/metrics", "com.example.evil", "", "scrape-token-0123456789", http.StatusForbidden},
		{"the server's own call for an admin", "/api/v1/version", CoreServerID, "admin", "", http.StatusOK},
		{"the server's own call for a non-admin", "/api/v1/version", CoreServerID, "bob", "", http.StatusForbidden},
		{"the server's own call for nobody", "/api/v1/version", CoreServerID, "", "", http.StatusUnauthorized},
		{"an admin's request", "/api/v1/version", "", "admin", "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			for k, v := range map[string]string{PluginIDHeader: tt.plugin, "Mattermost-User-ID": tt.user, TokenHeader: tt.token} {
				if v != "" {
					req.Header.Set(k, v)
				}
			}
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, req)
			assert.Equal(t, tt.want, rec.Code, rec.Body.String())
		})
	}
	assert.Equal(t, []string{
		":request from the plugin com.example.evil (claiming user admin)",
		":request from the plugin com.example.evil (claiming user none)",
		"bob:not a system admin", ":not logged in",
	}, refusals)
}

// A client that decodes every answer as JSON must be able to read why a path or method is
// wrong; a non-admin still learns nothing about which routes exist.
func TestRouterUnknownRoutesAnswerJSON(t *testing.T) {
	rt := New(admins{"admin": true}, nil)
	rt.Handle(http.MethodGet, "/backups/{id}", func(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, http.StatusOK, "ok") })
	rt.Handle(http.MethodDelete, "/backups/{id}", func(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, http.StatusOK, "ok") })
	tests := []struct {
		name, method, path, user string
		want                     int
		allow, says              string
	}{
		{"matched", http.MethodGet, "/api/v1/backups/x", "admin", http.StatusOK, "", "ok"},
		{"unknown path", http.MethodGet, "/api/v1/nope", "admin", http.StatusNotFound, "", "no such route: GET /api/v1/nope"},
		{"wrong method", http.MethodPost, "/api/v1/backups/x", "admin", http.StatusMethodNotAllowed, "GET, DELETE", "use GET or DELETE"},
		{"outside the prefix", http.MethodGet, "/elsewhere", "admin", http.StatusNotFound, "", "under /api/v1/"},
		{"non-admin on an unknown path", http.MethodGet, "/api/v1/nope", "bob", http.StatusForbidden, "", "system admins only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			req.Header.Set("Mattermost-User-ID", tt.user)
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, req)
			assert.Equal(t, tt.want, rec.Code)
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			assert.Contains(t, rec.Body.String(), tt.says)
			assert.Equal(t, tt.allow, rec.Header().Get("Allow"))
			if tt.want != http.StatusOK {
				var body ErrorBody
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
				assert.NotEmpty(t, body.Error)
			}
		})
	}
}

func TestDecodeOptionalJSON(t *testing.T) {
	type body struct {
		Run string `json:"run"`
	}
	for _, c := range []struct{ in, want string }{{"", ""}, {" \n", ""}, {`{"run":"r1"}`, "r1"}} {
		var b body
		require.NoError(t, DecodeOptionalJSON(httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.in)), &b), c.in)
		assert.Equal(t, c.want, b.Run, c.in)
	}
	var b body
	assert.ErrorContains(t, DecodeOptionalJSON(httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"rum":"r1"}`)), &b), "unknown field")
}
