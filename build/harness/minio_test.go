package harness

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func startTestMinIO(t *testing.T) *MinIO {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root, err := RepoRoot()
	require.NoError(t, err)
	bin, err := MinIOBinaries(ctx, root)
	if err == nil {
		var m *MinIO
		if m, err = StartMinIO(ctx, bin); err == nil {
			t.Cleanup(m.Stop)
			return m
		}
	}
	Unavailable(t, "MinIO", err)
	return nil
}

func ready(m *MinIO) bool {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, m.Endpoint+"/minio/health/ready", http.NoBody)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func getObject(ctx context.Context, t *testing.T, m *MinIO, bucket, key string) string {
	t.Helper()
	out, err := m.S3Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	return string(b)
}

func TestMinIOServer(t *testing.T) {
	m := startTestMinIO(t)
	ctx := context.Background()
	assert.True(t, strings.HasPrefix(m.Endpoint, "http://127.0.0.1:"))
	require.NoError(t, m.MakeBucket(ctx, "harness"))
	_, err := m.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("harness"), Key: aws.String("a/b"), Body: strings.NewReader("kept")})
	require.NoError(t, err)

	out, err := m.MC(ctx, "ls", "--recursive", "local/harness")
	require.NoError(t, err)
	assert.Contains(t, string(out), "a/b")
	assert.FileExists(t, m.Dir+"/mc/config.json", "mc's configuration lives in the server's folder")

	endpoint := m.Endpoint
	require.NoError(t, m.Restart(ctx))
	assert.Equal(t, endpoint, m.Endpoint)
	assert.Equal(t, "kept", getObject(ctx, t, m, "harness", "a/b"))

	m.Kill()
	assert.False(t, ready(m), "killed")
	require.NoError(t, m.Restart(ctx))
	assert.Equal(t, "kept", getObject(ctx, t, m, "harness", "a/b"))
	_, err = m.MC(ctx, "stat", "local/harness/a/b")
	require.NoError(t, err)

	dir := m.Dir
	m.Stop()
	assert.False(t, ready(m), "stopped")
	if os.Getenv("DR_HARNESS_KEEP") == "" {
		assert.NoDirExists(t, dir)
	}
	require.Error(t, m.Restart(ctx), "Stop is final")
}
