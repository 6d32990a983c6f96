package restore

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

// zeros reads as n zero bytes.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), z.n))
	clear(p[:k])
	z.n -= int64(k)
	return k, nil
}

// bomb is a small zstd frame of prefix followed by n zeros (1 GiB of zeros: about 32 KiB).
func bomb(t *testing.T, prefix []byte, n int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest))
	require.NoError(t, err)
	_, err = io.Copy(enc, io.MultiReader(bytes.NewReader(prefix), &zeros{n: n}))
	require.NoError(t, err)
	require.NoError(t, enc.Close())
	return buf.Bytes()
}

// rewriteManifest changes a backup's manifest as someone who can write the destination could,
// and seals and signs it again with key (nil: left unsigned), so that only the content is odd.
func rewriteManifest(t *testing.T, root, id string, key *format.SigningKey, change func(*format.Manifest)) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(format.ManifestKey(id)))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	var m format.Manifest
	require.NoError(t, json.Unmarshal(b, &m))
	change(&m)
	writeManifest(t, root, &m, key)
}

// writeManifest writes m as the backup writer does (checksum over the bytes with the checksum
// zeroed), signed by key when it is not nil.
func writeManifest(t *testing.T, root string, m *format.Manifest, key *format.SigningKey) {
	t.Helper()
	zero := strings.Repeat("0", 64)
	m.Checksum = zero
	b, err := json.MarshalIndent(m, "", "  ")
	require.NoError(t, err)
	b = append(b, '\n')
	sum := sha256.Sum256(b)
	b = bytes.Replace(b, []byte(`"checksum": "`+zero+`"`), []byte(`"checksum": "`+hex.EncodeToString(sum[:])+`"`), 1)
	p := filepath.Join(root, filepath.FromSlash(format.ManifestKey(m.ID)))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o750))
	require.NoError(t, os.WriteFile(p, b, 0o600))
	sigPath := p + ".sig"
	if key == nil {
		_ = os.Remove(sigPath)
		return
	}
	sb, err := json.Marshal(key.Sign(format.ManifestKey(m.ID), b))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(sigPath, sb, 0o600))
}

// replaceObject stores content as the backup's object of component, recording its new stored
// size and SHA-256 (and plainSize when it is not negative) in the manifest.
func replaceObject(t *testing.T, s *source, component string, content []byte, plainSize int64) {
	t.Helper()
	obj := s.m.Object(component)
	require.NotNil(t, obj)
	require.NoError(t, os.WriteFile(filepath.Join(s.store.Root(), filepath.FromSlash(obj.Key)), content, 0o600))
	rewriteManifest(t, s.store.Root(), s.m.ID, s.key, func(m *format.Manifest) {
		o := m.Object(component)
		sum := sha256.Sum256(content)
		o.Size, o.SHA256 = int64(len(content)), hex.EncodeToString(sum[:])
		if plainSize >= 0 {
			o.PlainSize = plainSize
		}
	})
}

// watchSize records the largest size any file matching glob reaches while the test runs.
func watchSize(t *testing.T, glob string) (largest func() int64) {
	t.Helper()
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			matches, _ := filepath.Glob(glob)
			for _, m := range matches {
				if fi, err := os.Lstat(m); err == nil && fi.Size() > peak.Load() {
					peak.Store(fi.Size())
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	return func() int64 {
		close(stop)
		wg.Wait()
		return peak.Load()
	}
}

const gib = 1 << 30

// A pool object whose small zstd frame decompresses to 1 GiB, for a 3-byte file: the restore
// writes at most 4 bytes of it and says the object is forged or damaged.
func TestRestoreFileBomb(t *testing.T) {
	s := newSource(t, false)
	sum := sha256.Sum256(s.files["data/b/two.bin"])
	b := bomb(t, nil, gib)
	t.Logf("bomb: %d bytes of zstd for %d bytes", len(b), gib)
	require.NoError(t, os.WriteFile(filepath.Join(s.store.Root(), filepath.FromSlash(format.PoolKey(hex.EncodeToString(sum[:])))), b, 0o600))

	o, out := s.options(t)
	largest := watchSize(t, filepath.Join(o.DataDir, "data", "b", "two.bin*"))
	_, err := Run(context.Background(), o)
	peak := largest()
	t.Log(err)
	require.Error(t, err, out.String())
	assert.Contains(t, err.Error(), "data/b/two.bin: it decompresses to more than the 3 bytes the file index records")
	assert.Contains(t, err.Error(), "not restored: files")
	assert.LessOrEqual(t, peak, int64(4), "the partial file grew to %d bytes", peak)
	assert.Less(t, dirBytes(t, o.DataDir), int64(1<<20))
}

// The database dump decompresses to far more than the manifest records: staging it stops after
// the recorded size + 1 bytes.
func TestRestoreDumpBomb(t *testing.T) {
	s := newSource(t, false)
	obj := s.m.Object(format.ComponentDatabase)
	plain, err := format.OpenObject(context.Background(), s.store, obj.Key, nil)
	require.NoError(t, err)
	dump, err := io.ReadAll(plain)
	require.NoError(t, err)
	plain.Close()
	replaceObject(t, s, format.ComponentDatabase, bomb(t, dump, gib), -1)

	o, out := s.options(t)
	o.TempDir = t.TempDir()
	largest := watchSize(t, filepath.Join(o.TempDir, "*"))
	_, err = Run(context.Background(), o)
	peak := largest()
	t.Log(err)
	require.Error(t, err, out.String())
	assert.Contains(t, err.Error(), "decompresses to more than the")
	assert.Contains(t, err.Error(), "not restored: database, config, files")
	assert.LessOrEqual(t, peak, obj.PlainSize+1, "the staged dump grew to %d bytes", peak)
	assert.Less(t, dirBytes(t, o.TempDir), int64(1<<20))
}

// config.tar holds more than a config folder can: the restore stops before holding it all in
// memory, and writes no config.
func TestRestoreConfigBomb(t *testing.T) {
	s := newSource(t, false)
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	eff := []byte(`{"SqlSettings":{}}`)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: format.EffectiveConfigName, Mode: 0o600, Size: int64(len(eff)), Typeflag: tar.TypeReg}))
	_, err := tw.Write(eff)
	require.NoError(t, err)
	const entry = 60 << 20 // each under the per-entry bound
	for _, name := range []string{"a.bin", "b.bin", "c.bin"} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: format.ConfigFilesDir + name, Mode: 0o600, Size: entry, Typeflag: tar.TypeReg}))
		_, err := io.Copy(tw, &zeros{n: entry})
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	tarBytes := tarBuf.Bytes()
	replaceObject(t, s, format.ComponentConfig, bomb(t, tarBytes, 0), int64(len(tarBytes)))

	o, out := s.options(t)
	_, err = Run(context.Background(), o)
	require.Error(t, err, out.String())
	assert.Contains(t, err.Error(), "more than the 128 MiB a config folder can hold")
	assert.NoFileExists(t, filepath.Join(o.ConfigDir, "config.json"))
	assert.NoFileExists(t, filepath.Join(o.ConfigDir, "a.bin"))
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	}))
	return n
}
