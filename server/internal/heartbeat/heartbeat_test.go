package heartbeat

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFailURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://hc-ping.com/5f2a-uuid", "https://hc-ping.com/5f2a-uuid/fail"},
		{"https://hc-ping.com/5f2a-uuid/", "https://hc-ping.com/5f2a-uuid/fail"},
		{"https://hc-ping.com/ping-key/dr-prod?rid=1", "https://hc-ping.com/ping-key/dr-prod/fail?rid=1"},
	} {
		got, err := FailURL(c.in)
		require.NoError(t, err)
		assert.Equal(t, c.want, got)
	}
}

func TestPing(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		paths = append(paths, r.Method+" "+r.URL.RequestURI())
		w.WriteHeader(status)
	}))
	defer srv.Close()
	p := New(nil)
	u := srv.URL + "/SECRETUUID"

	require.NoError(t, p.Ping(context.Background(), u, false))
	require.NoError(t, p.Ping(context.Background(), u, true))
	assert.Equal(t, []string{"GET /SECRETUUID", "GET /SECRETUUID/fail"}, paths)

	status = http.StatusNotFound
	err := p.Ping(context.Background(), u, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "answered 404")
	assert.NotContains(t, err.Error(), "SECRETUUID")

	srv.Close()
	err = p.Ping(context.Background(), u, true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "heartbeat http://127.0.0.1:")
	assert.NotContains(t, err.Error(), "SECRETUUID")
}
