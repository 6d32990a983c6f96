package plugin

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/jobs"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/ssofallback"
)

func TestCheckSSOSelection(t *testing.T) {
	tests := []struct {
		name     string
		sel      ssofallback.Selection
		fallback bool
		says     string // "" = accepted
	}{
		{"named users", ssofallback.Selection{Usernames: []string{"alice"}}, true, ""},
		{"a whole provider", ssofallback.Selection{All: true, Service: "saml"}, true, ""},
		{"restore everyone in fallback", ssofallback.Selection{All: true}, false, ""},
		{"fallback of all needs a provider", ssofallback.Selection{All: true}, true, `"all" needs "service"`},
		{"users and all", ssofallback.Selection{All: true, Service: "saml", Usernames: []string{"a"}}, true, "not both"},
		{"service without all", ssofallback.Selection{Usernames: []string{"a"}, Service: "saml"}, false, `"service" goes with "all"`},
		{"nobody", ssofallback.Selection{}, true, "name the users"},
		{"unknown provider", ssofallback.Selection{All: true, Service: "cas"}, false, `unknown service "cas"`},
		{"an empty name", ssofallback.Selection{Usernames: []string{"a", ""}}, true, "empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkSSOSelection(tt.sel, tt.fallback)
			if tt.says == "" {
				assert.NoError(t, err)
				return
			}
			var input *ssoInput
			assert.ErrorAs(t, err, &input, "bad input is the client's (400)")
			assert.ErrorContains(t, err, tt.says)
		})
	}
}

// Only what the client sent wrong is a 400: the server's own failures (the KV store, the
// users' API) are 500s, so a client knows whether to fix the request or retry.
func TestSSOErrorStatus(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{badSSO("unknown delivery"), http.StatusBadRequest},
		{fmt.Errorf("check: %w", badSSO("wrapped")), http.StatusBadRequest},
		{&jobs.BusyError{Running: &jobs.Job{Kind: ssoJob}}, http.StatusConflict},
		{errors.New("list fallback records: kv: connection refused"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		writeSSOError(rec, tt.err)
		assert.Equal(t, tt.want, rec.Code, tt.err.Error())
		assert.Contains(t, rec.Body.String(), `"error"`)
	}
}
