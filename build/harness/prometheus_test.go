package harness

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A real Prometheus scrapes with the bearer token from its file, and loads the shipped rules.
func TestPrometheusScrapesWithTheToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const token = "scrape-token-for-the-test"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/m" || r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		fmt.Fprintln(w, "dr_status_verdict 1")
	}))
	defer srv.Close()
	root, err := RepoRoot()
	require.NoError(t, err)
	rules := filepath.Join(root, "assets", "prometheus", "dr-alerts.yml")

	start := func(tok string) *Prometheus {
		p, err := StartPrometheus(ctx, PrometheusOptions{Job: "dr", Target: strings.TrimPrefix(srv.URL, "http://"),
			MetricsPath: "/m", Token: tok, RuleFiles: []string{rules}})
		if err != nil {
			Unavailable(t, "prometheus", err)
		}
		t.Cleanup(p.Stop)
		return p
	}
	waitUp := func(p *Prometheus, want float64) {
		require.Eventually(t, func() bool {
			s, err := p.Query(ctx, `up{job="dr"}`)
			return err == nil && len(s) == 1 && s[0].Float() == want
		}, 30*time.Second, 200*time.Millisecond, "up is never %v:\n%s", want, p.LogTail())
	}

	good := start(token)
	waitUp(good, 1)
	s, err := good.Query(ctx, `dr_status_verdict`)
	require.NoError(t, err)
	require.Len(t, s, 1)
	assert.InDelta(t, 1, s[0].Float(), 0)
	var groups struct {
		Groups []struct {
			Rules []struct{ Name string } `json:"rules"`
		} `json:"groups"`
	}
	require.NoError(t, good.get(ctx, "/api/v1/rules", &groups))
	require.Len(t, groups.Groups, 1)
	assert.Len(t, groups.Groups[0].Rules, 12, "the shipped rules are loaded")
	_, err = good.Query(ctx, `sum(`)
	assert.Error(t, err, "a bad expression is an error")

	wrong := start("wrong-token")
	waitUp(wrong, 0)
}
