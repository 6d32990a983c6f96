package restore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

// The files of a point-in-time restore: file A is in a backup, B is uploaded and captured, C
// uploaded after the target time and captured. Restored to a time between B's capture and C's
// upload: A and B, not C; to a time before B's upload: A only; to the latest: all three.
func TestPointInTimeFiles(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	store, err := local.New(t.TempDir())
	require.NoError(t, err)
	key, err := format.GenerateSigningKey()
	require.NoError(t, err)
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	indexKey, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	content := map[string][]byte{"data/a.bin": []byte("file A, from long ago"), "data/b.bin": []byte("file B"), "data/c.bin": []byte("file C, after T"), "data/d.bin": []byte("file D, in an unsigned capture")}
	write := func(p string, mtime time.Time) {
		t.Helper()
		full := filepath.Join(dataDir, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, content[p], 0o644))
		require.NoError(t, os.Chtimes(full, mtime, mtime))
	}
	run := func(capture bool, signer *format.SigningKey) *format.Manifest {
		t.Helper()
		ms, err := backup.Run(ctx, backup.Options{Components: format.Components{Files: true}, Capture: capture, Files: filesource.NewLocal(dataDir),
			Destinations: []backup.Destination{{Name: "local", Store: store}}, Recipients: []string{id.Recipient().String()}, IndexIdentity: indexKey,
			SigningKey: signer, MattermostVersion: "11.4.0"})
		require.NoError(t, err)
		return ms["local"]
	}
	pause := func() { time.Sleep(20 * time.Millisecond) }

	write("data/a.bin", time.Now().Add(-time.Hour))
	logical := run(false, key)
	pause()
	beforeB := time.Now()
	pause()
	write("data/b.bin", time.Now())
	first := run(true, key)
	pause()
	target := time.Now()
	pause()
	write("data/c.bin", time.Now())
	second := run(true, key)
	write("data/d.bin", time.Now())
	unsigned := run(true, nil) // planted, or from before signing: never chosen
	require.Equal(t, format.ClassCapture, second.Class())

	ms, err := format.List(ctx, store)
	require.NoError(t, err)
	tr := Trust{Key: key.PublicKey()}
	pick := func(at time.Time, latest bool) (*format.Manifest, []string) {
		t.Helper()
		m, notes, err := tr.PickFiles(ms, at, latest, time.Now(), store.String())
		require.NoError(t, err)
		return m, notes
	}
	m, notes := pick(target, false)
	assert.Equal(t, second.ID, m.ID, "the first index started after the target")
	assert.Contains(t, strings.Join(notes, "\n"), "passed over backup "+unsigned.ID+": it is not signed")
	m, _ = pick(beforeB, false)
	assert.Equal(t, first.ID, m.ID)
	m, _ = pick(logical.StartedAt.Add(-time.Minute), false)
	assert.Equal(t, logical.ID, m.ID)
	m, notes = pick(time.Now().Add(time.Hour), false)
	assert.Equal(t, second.ID, m.ID)
	assert.Contains(t, strings.Join(notes, "\n"), "is older than the target")
	m, _ = pick(time.Time{}, true)
	assert.Equal(t, second.ID, m.ID)

	ids := []age.Identity{id}
	n, size, err := FileSet(ctx, store, second, ids, target)
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	assert.Equal(t, int64(len(content["data/a.bin"])+len(content["data/b.bin"])), size)

	restoreTo := func(m *format.Manifest, at time.Time, dryRun bool) (string, *Result, string) {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "data")
		out := &bytes.Buffer{}
		res, err := Run(ctx, Options{From: store, ID: m.ID, DataDir: dir, PointInTimeFiles: true, FilesAt: at, TrustKey: key.PublicKey(), Identities: ids, Jobs: 2, DryRun: dryRun, Out: out})
		require.NoError(t, err, out.String())
		return dir, res, out.String()
	}
	present := func(dir string) []string {
		var got []string
		for _, p := range []string{"data/a.bin", "data/b.bin", "data/c.bin"} {
			if b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p))); err == nil {
				assert.Equal(t, content[p], b, p)
				got = append(got, p)
			}
		}
		return got
	}
	dir, res, out := restoreTo(second, target, false)
	assert.Equal(t, []string{"data/a.bin", "data/b.bin"}, present(dir))
	assert.Equal(t, int64(2), res.Files)
	assert.Contains(t, out, "files: restoring 2 files")
	dir, _, _ = restoreTo(first, beforeB, false)
	assert.Equal(t, []string{"data/a.bin"}, present(dir))
	dir, res, _ = restoreTo(second, time.Time{}, false)
	assert.Equal(t, []string{"data/a.bin", "data/b.bin", "data/c.bin"}, present(dir))
	assert.Equal(t, int64(3), res.Files)
	dir, res, _ = restoreTo(second, target, true)
	assert.NoDirExists(t, dir)
	assert.Contains(t, strings.Join(res.Plan, "\n"), "files: 2 files (")
	assert.Contains(t, strings.Join(res.Plan, "\n"), "added by "+target.UTC().Format(time.RFC3339))

	_, err = Run(ctx, Options{From: store, ID: second.ID, DataDir: t.TempDir(), DatabaseURL: "postgres://x/y", PointInTimeFiles: true, FilesAt: target, TrustKey: key.PublicKey(), Identities: ids})
	assert.ErrorContains(t, err, "restored alone")
}
