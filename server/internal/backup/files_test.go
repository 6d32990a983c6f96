package backup_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// fakeSource is an in-memory file source whose content can change between reads.
type fakeSource struct {
	files []filesource.File
	open  func(path string, n int64) (io.ReadCloser, error)
	opens atomic.Int64
}

func (s *fakeSource) Walk(_ context.Context, fn func(filesource.File) error) error {
	for _, f := range s.files {
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (s *fakeSource) Open(_ context.Context, p string) (io.ReadCloser, error) {
	return s.open(p, s.opens.Add(1))
}

func (s *fakeSource) String() string { return "fake" }

func filesOptions(src filesource.Source, s storage.Store) backup.Options {
	return backup.Options{Components: format.Components{Files: true}, Files: src, Destinations: []backup.Destination{{Name: "local", Store: s}}}
}

func indexOf(t *testing.T, s storage.Store, m *format.Manifest) map[string]format.IndexEntry {
	t.Helper()
	out := map[string]format.IndexEntry{}
	require.NoError(t, format.ReadIndex(backuptest.Ctx(t), s, m, nil, func(e format.IndexEntry) error {
		out[e.Path] = e
		return nil
	}))
	return out
}

// A file that changes between the hash pass and the upload is never stored under the old hash.
func TestContentChangesDuringUpload(t *testing.T) {
	s := backuptest.LocalStore(t)
	now := time.Now()
	src := &fakeSource{files: []filesource.File{{Path: "f", Size: 5, ModTime: now}}}
	src.open = func(_ string, n int64) (io.ReadCloser, error) {
		if n == 1 {
			return io.NopCloser(strings.NewReader("first")), nil // hashed
		}
		return io.NopCloser(strings.NewReader("later")), nil // changed by the time it is uploaded
	}
	ms, err := backup.Run(backuptest.Ctx(t), filesOptions(src, s))
	require.NoError(t, err)
	e := indexOf(t, s, ms["local"])["f"]
	assert.Equal(t, sumHex([]byte("later")), e.SHA256)
	assert.Equal(t, []string{format.PoolKey(sumHex([]byte("later")))}, poolKeys(t, s))
	assert.Equal(t, []byte("later"), readObject(t, s, format.PoolKey(e.SHA256), nil))

	// A file that never stops changing fails the backup.
	var n atomic.Int64
	src.open = func(string, int64) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(strings.Repeat("x", int(n.Add(1))))), nil
	}
	src.files[0].Path = "g"
	_, err = backup.Run(backuptest.Ctx(t), filesOptions(src, s))
	assert.ErrorIs(t, err, backup.ErrContentChanged)
}

func TestVanishedFileIsSkipped(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a", "b", "c"} {
		backuptest.WriteFile(t, dir, p, []byte("content "+p), time.Now())
	}
	s := backuptest.LocalStore(t)
	src := &hookSource{Source: filesource.NewLocal(dir)}
	src.onOpen = func(int64) { _ = os.Remove(filepath.Join(dir, "b")) }
	ms, err := backup.Run(backuptest.Ctx(t), filesOptions(src, s))
	require.NoError(t, err)
	m := ms["local"]
	idx := indexOf(t, s, m)
	assert.Contains(t, idx, "a")
	assert.NotContains(t, idx, "b")
	assert.Equal(t, int64(2), m.Files.Count)
	assert.Equal(t, int64(1), m.Files.Skipped)
	assert.Contains(t, strings.Join(m.Warnings, "\n"), "vanished")
}

func TestSourceOutOfOrder(t *testing.T) {
	s := backuptest.LocalStore(t)
	src := &fakeSource{files: []filesource.File{{Path: "b"}, {Path: "a"}}}
	src.open = func(string, int64) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("")), nil }
	_, err := backup.Run(backuptest.Ctx(t), filesOptions(src, s))
	assert.ErrorContains(t, err, "not in path order")
	assert.Empty(t, backuptest.Keys(t, s, format.BackupsPrefix))
}

func TestEmptyFileStore(t *testing.T) {
	s := backuptest.LocalStore(t)
	ms, err := backup.Run(backuptest.Ctx(t), filesOptions(filesource.NewLocal(t.TempDir()), s))
	require.NoError(t, err)
	assert.Empty(t, indexOf(t, s, ms["local"]))
	assert.Equal(t, int64(0), ms["local"].Files.Count)
}

// A pool object the run relies on, removed while it runs (a concurrent prune), fails the run.
func TestPoolObjectRemovedDuringRun(t *testing.T) {
	dir := t.TempDir()
	backuptest.WriteFile(t, dir, "a", []byte("reused"), time.Now())
	s := backuptest.LocalStore(t)
	_, err := backup.Run(backuptest.Ctx(t), filesOptions(filesource.NewLocal(dir), s))
	require.NoError(t, err)

	backuptest.WriteFile(t, dir, "b", []byte("new"), time.Now())
	src := &hookSource{Source: filesource.NewLocal(dir), onOpen: func(int64) {
		_ = s.Delete(context.Background(), format.PoolKey(sumHex([]byte("reused"))))
	}}
	_, err = backup.Run(backuptest.Ctx(t), filesOptions(src, s))
	assert.ErrorContains(t, err, "disappeared while it ran")
	listed, err := format.List(backuptest.Ctx(t), s)
	require.NoError(t, err)
	assert.Len(t, listed, 1)
}

// Many files with the same new content: uploaded once.
func TestSameContentUploadedOnce(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("same"), 1<<18)
	for i := range 40 {
		backuptest.WriteFile(t, dir, filepath.Join("d", string(rune('a'+i%26)), string(rune('a'+i))), big, time.Now())
	}
	s := backuptest.LocalStore(t)
	o := filesOptions(filesource.NewLocal(dir), s)
	o.FileWorkers = 8
	ms, err := backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	assert.Equal(t, int64(1), ms["local"].Files.NewPoolObjects)
	assert.Equal(t, int64(40), ms["local"].Files.Count)
	assert.Len(t, poolKeys(t, s), 1)
}

func TestProgress(t *testing.T) {
	dir := t.TempDir()
	backuptest.FileTree(t, dir, 50)
	s := backuptest.LocalStore(t)
	o := filesOptions(filesource.NewLocal(dir), s)
	var last backup.Progress
	var calls int
	o.Progress = func(p backup.Progress) {
		calls++
		assert.GreaterOrEqual(t, p.BytesRead, last.BytesRead)
		last = p
	}
	_, err := backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	assert.Equal(t, backup.PhaseDone, last.Phase)
	assert.Equal(t, int64(50), last.FilesDone)
	assert.Equal(t, int64(50), last.FilesTotal)
	assert.True(t, last.FilesCounted)
	assert.Equal(t, float64(100), last.Percent)
	assert.Positive(t, last.BytesWritten)
	assert.Less(t, calls, 20)
}
