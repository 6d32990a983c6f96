package local

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/storagetest"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(filepath.Join(t.TempDir(), "backups"))
	require.NoError(t, err)
	return s
}

// tempFiles lists the temporary files below root.
func tempFiles(t *testing.T, root string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), storage.TempPrefix) {
			found = append(found, p)
		}
		return nil
	})
	require.NoError(t, err)
	return found
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s := newStore(t)
		t.Cleanup(func() {
			assert.Empty(t, tempFiles(t, s.Root()), "temporary files left behind")
		})
		return s
	})
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	s, err := New(filepath.Join(dir, "a", "b"))
	require.NoError(t, err)
	assert.DirExists(t, filepath.Join(dir, "a", "b"))
	assert.Equal(t, filepath.Join(dir, "a", "b"), s.String())

	_, err = New("")
	require.ErrorContains(t, err, "set LocalDirectory")

	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	_, err = New(file)
	require.ErrorContains(t, err, "is not a folder")
}

func TestKeyValidation(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	cases := map[string]string{
		"/etc/passwd":            "absolute",
		"../../etc/passwd":       `".." segment`,
		"a/../../b":              `".." segment`,
		"a//b":                   "empty segment",
		"a/":                     "empty segment",
		"":                       "empty",
		`a\b`:                    "backslash",
		`..\..\windows`:          "backslash",
		"a/.tmp-123":             "reserved",
		"ok\x00":                 "control character",
		"\xc3\x28":               "UTF-8",
		strings.Repeat("a", 901): "bytes long",
	}
	for key, want := range cases {
		_, err := s.Put(ctx, key, strings.NewReader("x"))
		require.Error(t, err, "key %q", key)
		assert.Contains(t, err.Error(), want, "key %q", key)
		assert.Contains(t, err.Error(), "invalid object key", "key %q", key)
	}
	for _, key := range []string{"k", "a/b/c.tar.gz", "2024-01-01T00:00:00Z/db.dump", "with space/é", ".hidden", "a..b", "..."} {
		_, err := s.Put(ctx, key, strings.NewReader("x"))
		require.NoError(t, err, "key %q", key)
	}
	// Nothing escaped the root.
	entries, err := os.ReadDir(filepath.Dir(s.Root()))
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}

func TestListSkipsTempAndForeignFiles(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	_, err := s.Put(ctx, "a/b", strings.NewReader("x"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(s.Root(), "a", ".tmp-12345"), []byte("partial"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(s.Root(), "a", `back\slash`), []byte("x"), 0o600))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(s.Root(), "a", "link")))
	require.NoError(t, os.Mkdir(filepath.Join(s.Root(), "empty"), 0o750))
	assert.Equal(t, []string{"a/b"}, storagetest.Keys(t, s, ""))
}

func TestDeletePrunesEmptyFolders(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	_, err := s.Put(ctx, "2024/01/01/db.dump", strings.NewReader("x"))
	require.NoError(t, err)
	_, err = s.Put(ctx, "2024/keep", strings.NewReader("x"))
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, "2024/01/01/db.dump"))
	assert.NoDirExists(t, filepath.Join(s.Root(), "2024", "01"))
	assert.DirExists(t, filepath.Join(s.Root(), "2024"))
	require.NoError(t, s.Delete(ctx, "2024/keep"))
	assert.DirExists(t, s.Root(), "the root stays")
	entries, err := os.ReadDir(s.Root())
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestCleanupTemp(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	_, err := s.Put(ctx, "a/b", strings.NewReader("x"))
	require.NoError(t, err)
	old := filepath.Join(s.Root(), "a", ".tmp-111")
	recent := filepath.Join(s.Root(), ".tmp-222")
	for _, p := range []string{old, recent} {
		require.NoError(t, os.WriteFile(p, []byte("partial"), 0o600))
	}
	past := time.Now().Add(-48 * time.Hour)
	require.NoError(t, os.Chtimes(old, past, past))

	n, err := s.CleanupTemp(24 * time.Hour)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.NoFileExists(t, old)
	assert.FileExists(t, recent)
	assert.Equal(t, "x", string(storagetest.Read(t, s, "a/b")))

	n, err = s.CleanupTemp(0)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Empty(t, tempFiles(t, s.Root()))
}

func TestObjectAndFolderNamesClash(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	_, err := s.Put(ctx, "a/b", strings.NewReader("x"))
	require.NoError(t, err)
	_, err = s.Put(ctx, "a", strings.NewReader("x"))
	require.ErrorContains(t, err, "folder")
	_, err = s.Put(ctx, "a/b/c", strings.NewReader("x"))
	require.ErrorContains(t, err, "is an object, not a folder")
	assert.Empty(t, tempFiles(t, s.Root()))
	assert.Equal(t, []string{"a/b"}, storagetest.Keys(t, s, ""))
}

func TestErrorMessages(t *testing.T) {
	s := &Store{root: "/backups"}
	cases := []struct {
		errno syscall.Errno
		want  string
	}{
		{syscall.ENOSPC, "put x: destination /backups is full (no space left on device): free space or point LocalDirectory elsewhere"},
		{syscall.EDQUOT, "disk quota"},
		{syscall.EROFS, "destination /backups is read-only (read-only file system): remount it read-write or point LocalDirectory elsewhere"},
		{syscall.EACCES, "destination /backups is not writable by the Mattermost server (permission denied on /backups/x/.tmp-1)"},
		{syscall.EPERM, "give the user it runs as"},
		{syscall.EIO, "input/output error"},
	}
	for _, c := range cases {
		err := s.describe("put x", &fs.PathError{Op: "open", Path: "/backups/x/.tmp-1", Err: c.errno})
		assert.Contains(t, err.Error(), c.want)
		assert.ErrorIs(t, err, c.errno)
	}
	// Reading (drctl; PostgreSQL's restore_command as its own user) says so, not "writable".
	for _, op := range []string{"open wal/system.json", "stat x", "list"} {
		err := s.describe(op, &fs.PathError{Op: "open", Path: "/backups/wal/system.json", Err: syscall.EACCES})
		assert.Contains(t, err.Error(), "destination /backups is not readable by this user (uid ")
		assert.Contains(t, err.Error(), "permission denied on /backups/wal/system.json): give it read access")
		assert.NotContains(t, err.Error(), "writable")
	}
	err := s.describe("put x", &fs.PathError{Op: "open", Path: "/backups/x", Err: syscall.ENAMETOOLONG})
	assert.ErrorIs(t, err, syscall.ENAMETOOLONG)
	assert.Contains(t, err.Error(), "/backups")
}

// mountTmpfs mounts a small tmpfs on a new folder, unmounted when the test ends. It needs
// root: the test is skipped otherwise.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (run the tests as root to check full and read-only destinations)")
	}
	dir := filepath.Join(t.TempDir(), "mnt")
	require.NoError(t, os.Mkdir(dir, 0o750))
	require.NoError(t, syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size), "mount a tmpfs on %s", dir)
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func TestFullDestination(t *testing.T) {
	dir := mountTmpfs(t, "2m")
	s, err := New(dir)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = s.Put(ctx, "backup/db.dump", bytes.NewReader(make([]byte, 4<<20)))
	require.Error(t, err)
	t.Log(err)
	assert.Contains(t, err.Error(), "destination "+dir+" is full (no space left on device): free space or point LocalDirectory elsewhere")
	assert.ErrorIs(t, err, syscall.ENOSPC)
	storagetest.RequireAbsent(t, s, "backup/db.dump")
	assert.Empty(t, tempFiles(t, dir), "the partial temporary file was removed")

	// The space is usable again: a small object fits.
	storagetest.Put(t, s, "backup/small", []byte("fits"))
}

func TestReadOnlyDestination(t *testing.T) {
	dir := mountTmpfs(t, "2m")
	s, err := New(dir)
	require.NoError(t, err)
	ctx := context.Background()
	storagetest.Put(t, s, "existing", []byte("x"))
	require.NoError(t, syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, "size=2m"), "remount read-only")

	for _, key := range []string{"new-object", "existing", "new/folder/object"} {
		_, err = s.Put(ctx, key, strings.NewReader("data"))
		require.Error(t, err, key)
		t.Log(err)
		assert.Contains(t, err.Error(), "destination "+dir+" is read-only (read-only file system): remount it read-write or point LocalDirectory elsewhere")
		assert.ErrorIs(t, err, syscall.EROFS)
	}
	err = s.Delete(ctx, "existing")
	assert.ErrorIs(t, err, syscall.EROFS)
	assert.Equal(t, "x", string(storagetest.Read(t, s, "existing")), "reading still works")
}

func TestPutKeepsNoPartialFileWhenReaderFails(t *testing.T) {
	s := newStore(t)
	broken := errors.New("broken")
	g := storagetest.NewGenerator(1<<20, 9)
	g.At, g.Fail = 300<<10, broken
	n, err := s.Put(context.Background(), "x/y", g)
	require.ErrorIs(t, err, broken)
	assert.Equal(t, int64(300<<10), n)
	assert.Empty(t, tempFiles(t, s.Root()))
	assert.NoDirExists(t, filepath.Join(s.Root(), "x"), "the folder the failed Put created")
}

func TestSwapConformance(t *testing.T) {
	storagetest.RunSwap(t, func(t *testing.T) storage.Store { return newStore(t) })
}

// A Swap waits for the lock another writer holds, and gives up when its context ends; cleaning
// up temporary files never removes a lock file (the next writer would lock a new file and run
// beside the holder).
func TestSwapWaitsForTheLock(t *testing.T) {
	s := newStore(t)
	unlock, err := s.lock(t.Context(), "journal")
	require.NoError(t, err)
	removed, err := s.CleanupTemp(0)
	require.NoError(t, err)
	assert.Zero(t, removed, "the held lock file was removed")

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = s.Swap(ctx, "journal", []byte("x"), "")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	unlock()
	_, err = s.Swap(t.Context(), "journal", []byte("x"), "")
	require.NoError(t, err)
}
