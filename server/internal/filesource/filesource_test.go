package filesource

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
)

const testBucket = "dr-filesource-test"

var (
	minio    *harness.MinIO
	minioErr error
)

// TestMain starts one MinIO server for the S3 tests. Without it they skip, saying why, except
// under CI (CI set), where they fail.
func TestMain(m *testing.M) {
	os.Exit(harness.RunWithMinIO(m, "filesource tests", testBucket, func(s *harness.MinIO, err error) { minio, minioErr = s, err }))
}

// tree is a file store's content: path → content.
var tree = map[string]string{
	"a.txt":                          "a dot",
	"a/b":                            "under a",
	"a/c/d.bin":                      "deep",
	"a0":                             "a zero",
	"A":                              "upper",
	"empty":                          "",
	"z/é/ü.txt":                      "unicode",
	"20261126/teams/t1/file one.pdf": "space in name",
	"users/u1/profile.png":           "png",
}

func sortedPaths() []string {
	var paths []string
	for p := range tree {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

func walkAll(t *testing.T, s Source) []File {
	t.Helper()
	var files []File
	require.NoError(t, s.Walk(context.Background(), func(f File) error {
		files = append(files, f)
		return nil
	}))
	return files
}

func readAll(t *testing.T, s Source, path string) string {
	t.Helper()
	rc, err := s.Open(context.Background(), path)
	require.NoError(t, err, path)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err, path)
	return string(b)
}

func TestLocal(t *testing.T) {
	dir := t.TempDir()
	mtime := time.Date(2026, 11, 26, 13, 5, 1, 123456789, time.UTC)
	for p, c := range tree {
		full := filepath.Join(dir, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o750))
		require.NoError(t, os.WriteFile(full, []byte(c), 0o600))
		require.NoError(t, os.Chtimes(full, mtime, mtime))
	}
	// Not regular files: skipped, and linked folders are not followed.
	require.NoError(t, os.Symlink(filepath.Join(dir, "a.txt"), filepath.Join(dir, "link.txt")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "linkdir")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "emptydir", "x"), 0o750))

	s := NewLocal(dir)
	assert.Equal(t, dir, s.String())
	files := walkAll(t, s)
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
		assert.Equal(t, int64(len(tree[f.Path])), f.Size, f.Path)
		assert.True(t, f.ModTime.Equal(mtime), "%s: %s", f.Path, f.ModTime)
	}
	assert.Equal(t, sortedPaths(), paths)
	for p, c := range tree {
		assert.Equal(t, c, readAll(t, s, p))
	}

	_, err := s.Open(context.Background(), "missing")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = s.Open(context.Background(), "fifo")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = s.Open(context.Background(), "link.txt")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	for _, bad := range []string{"", "/etc/passwd", "../x", "a/../../x", "a//b", `a\b`, "./a.txt"} {
		_, err := s.Open(context.Background(), bad)
		assert.ErrorContains(t, err, "invalid file path", bad)
	}

	// fn's error stops the walk.
	stop := fmt.Errorf("stop")
	n := 0
	err = s.Walk(context.Background(), func(File) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 2, n)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, s.Walk(ctx, func(File) error { return nil }), context.Canceled)

	assert.Error(t, NewLocal(filepath.Join(dir, "nope")).Walk(context.Background(), func(File) error { return nil }))
	assert.ErrorContains(t, NewLocal(filepath.Join(dir, "a.txt")).Walk(context.Background(), func(File) error { return nil }), "not a folder")
}

func TestLocalUnreadableFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		// Root reads every folder, and CI runs as root: run this test again as nobody.
		asNobody(t, "TestLocalUnreadableFolder")
		return
	}
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "locked"), 0o750))
	require.NoError(t, os.Chmod(filepath.Join(dir, "locked"), 0))
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(dir, "locked"), 0o750) })
	assert.Error(t, NewLocal(dir).Walk(context.Background(), func(File) error { return nil }))
}

func TestS3(t *testing.T) {
	if minio == nil {
		harness.Unavailable(t, "MinIO", minioErr)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	store, err := s3.New(context.Background(), s3.Config{
		Bucket: testBucket, Prefix: "mm-" + hex.EncodeToString(rnd[:]), Region: harness.MinIORegion,
		Endpoint: minio.Endpoint, PathStyle: true, AccessKeyID: minio.AccessKey, SecretAccessKey: minio.SecretKey,
	})
	require.NoError(t, err)
	before := time.Now().Add(-time.Minute)
	for p, c := range tree {
		_, err := store.Put(context.Background(), p, bytes.NewReader([]byte(c)))
		require.NoError(t, err)
	}
	s := NewS3(store)
	assert.Contains(t, s.String(), "s3://"+testBucket+"/mm-")
	files := walkAll(t, s)
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
		assert.Equal(t, int64(len(tree[f.Path])), f.Size, f.Path)
		assert.True(t, f.ModTime.After(before), f.Path)
	}
	assert.Equal(t, sortedPaths(), paths)
	for p, c := range tree {
		assert.Equal(t, c, readAll(t, s, p))
	}
	_, err = s.Open(context.Background(), "missing")
	assert.ErrorIs(t, err, fs.ErrNotExist)

	// For a server-side copy: where the object is, and the version that was read.
	require.Same(t, store, s.Bucket())
	for p, c := range tree {
		rc, src, err := s.OpenCopySource(context.Background(), p)
		require.NoError(t, err, p)
		b, err := io.ReadAll(rc)
		require.NoError(t, err, p)
		require.NoError(t, rc.Close())
		assert.Equal(t, c, string(b), p)
		assert.Equal(t, testBucket, src.Bucket, p)
		assert.Equal(t, store.FullKey(p), src.Key, p)
		assert.NotEmpty(t, src.Version.ETag, p)
		assert.Equal(t, int64(len(c)), src.Version.Size, p)
	}
	_, _, err = s.OpenCopySource(context.Background(), "missing")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	other := NewS3(objectStoreOnly{store})
	assert.Nil(t, other.Bucket(), "not an *s3.Store: no server-side copy")
	_, _, err = other.OpenCopySource(context.Background(), "a.txt")
	assert.Error(t, err)
}

// objectStoreOnly hides every method of an s3.Store but storage.Reader's.
type objectStoreOnly struct{ storage.Reader }

// asNobody runs one test of this binary again as the user nobody, from a copy of the binary
// that nobody may execute, and fails if it fails.
func asNobody(t *testing.T, test string) {
	t.Helper()
	bin, err := os.ReadFile(os.Args[0])
	require.NoError(t, err)
	dir, err := os.MkdirTemp("", "as-nobody-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	exe := filepath.Join(dir, "test.bin")
	require.NoError(t, os.WriteFile(exe, bin, 0o755)) //nolint:gosec // nobody must be able to run it
	cmd := exec.Command(exe, "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "TMPDIR=" + os.TempDir()} // no CI: the child needs no MinIO
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "as nobody:\n%s", out)
	require.Contains(t, string(out), "--- PASS: "+test, "as nobody:\n%s", out)
}
