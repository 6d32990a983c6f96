package s3

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/storagetest"
)

func TestSwapConformance(t *testing.T) {
	requireMinIO(t)
	storagetest.RunSwap(t, func(t *testing.T) storage.Store { return newStore(t) })
}

// An S3-compatible service that accepts If-None-Match: * over an existing object and stores
// it anyway (as some do) cannot keep two writers apart: Swap refuses to use it, and says so.
func TestSwapRefusesAServiceThatIgnoresConditions(t *testing.T) {
	var puts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.Method {
		case http.MethodPut:
			puts.Add(1)
			w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotImplemented)
		}
	}))
	defer srv.Close()
	s, err := New(context.Background(), Config{Bucket: "backups", Region: "us-east-1", Endpoint: srv.URL, PathStyle: true, AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
	require.NoError(t, err)
	_, err = s.Swap(context.Background(), "journal.json", []byte("{}"), "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not enforce conditional writes")
	assert.NotContains(t, err.Error(), "wJalrXUtnFEMI")
	assert.Equal(t, int32(2), puts.Load(), "only the check's two writes were sent; the journal was not written")
}
