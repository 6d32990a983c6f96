// Package storagetest is the conformance suite every storage backend passes: the behaviour the
// backup engine relies on, checked against a real backend (a folder, a MinIO server).
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// MiB is a mebibyte.
const MiB = 1 << 20

// Sizes used by the suite. Large is above the S3 multipart part size, so that multipart
// uploads, their failure and their cancellation are exercised.
const (
	Large   = 100 * MiB
	Partial = 40 * MiB
	Many    = 1100 // more than one S3 listing page (1000)
)

// Run runs the conformance suite. newStore returns an empty store for one subtest; the
// backend's test registers there any check that nothing was left behind (temporary files,
// incomplete multipart uploads).
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Run("PutOpenStat", func(t *testing.T) { testPutOpenStat(t, newStore(t)) })
	t.Run("EmptyObject", func(t *testing.T) { testEmpty(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, newStore(t)) })
	t.Run("DeleteIsIdempotent", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, newStore(t)) })
	t.Run("ListPrefixAndOrder", func(t *testing.T) { testListOrder(t, newStore(t)) })
	t.Run("ListStopsAtCallbackError", func(t *testing.T) { testListStops(t, newStore(t)) })
	t.Run("ListManyPages", func(t *testing.T) { testListMany(t, newStore(t)) })
	t.Run("ListCancelled", func(t *testing.T) { testListCancelled(t, newStore(t)) })
	t.Run("LargeStreamedPut", func(t *testing.T) { testLarge(t, newStore(t)) })
	t.Run("ReaderFailsHalfway", func(t *testing.T) { testReaderFails(t, newStore(t)) })
	t.Run("CancelledPut", func(t *testing.T) { testCancelledPut(t, newStore(t)) })
	t.Run("OpenHonoursContext", func(t *testing.T) { testOpenCancelled(t, newStore(t)) })
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Put stores data under key and fails the test on error.
func Put(t *testing.T, s storage.Store, key string, data []byte) {
	t.Helper()
	n, err := s.Put(ctxOf(t), key, bytes.NewReader(data))
	require.NoError(t, err, "put %s", key)
	require.Equal(t, int64(len(data)), n, "bytes written for %s", key)
}

// Read returns an object's content and fails the test on error.
func Read(t *testing.T, s storage.Store, key string) []byte {
	t.Helper()
	rc, err := s.Open(ctxOf(t), key)
	require.NoError(t, err, "open %s", key)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err, "read %s", key)
	return b
}

// Keys lists the keys under prefix and fails the test on error.
func Keys(t *testing.T, s storage.Store, prefix string) []string {
	t.Helper()
	keys := []string{}
	err := s.List(ctxOf(t), prefix, func(o storage.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	})
	require.NoError(t, err, "list %q", prefix)
	return keys
}

// RequireAbsent fails the test unless key is absent for Stat, Open and List.
func RequireAbsent(t *testing.T, s storage.Store, key string) {
	t.Helper()
	_, err := s.Stat(ctxOf(t), key)
	require.ErrorIs(t, err, storage.ErrNotFound, "stat %s", key)
	_, err = s.Open(ctxOf(t), key)
	require.ErrorIs(t, err, storage.ErrNotFound, "open %s", key)
	require.NotContains(t, Keys(t, s, key), key)
}

func testPutOpenStat(t *testing.T, s storage.Store) {
	ctx := ctxOf(t)
	before := time.Now()
	data := []byte("hello, backups\n")
	Put(t, s, "dir/sub/hello.txt", data)
	assert.Equal(t, data, Read(t, s, "dir/sub/hello.txt"))
	info, err := s.Stat(ctx, "dir/sub/hello.txt")
	require.NoError(t, err)
	assert.Equal(t, "dir/sub/hello.txt", info.Key)
	assert.Equal(t, int64(len(data)), info.Size)
	assert.WithinRange(t, info.ModTime, before.Add(-2*time.Minute), time.Now().Add(2*time.Minute), "ModTime")
	assert.NotEmpty(t, s.String())

	Put(t, s, "top", []byte("x"))
	assert.Equal(t, []string{"dir/sub/hello.txt", "top"}, Keys(t, s, ""))
}

func testEmpty(t *testing.T, s storage.Store) {
	Put(t, s, "empty", nil)
	assert.Empty(t, Read(t, s, "empty"))
	info, err := s.Stat(ctxOf(t), "empty")
	require.NoError(t, err)
	assert.Zero(t, info.Size)
	assert.Equal(t, []string{"empty"}, Keys(t, s, ""))
}

func testNotFound(t *testing.T, s storage.Store) {
	RequireAbsent(t, s, "missing")
	Put(t, s, "folder/object", []byte("x"))
	// "folder" is a folder on disk and no object on S3: absent for both.
	RequireAbsent(t, s, "folder")
	RequireAbsent(t, s, "folder/object/below")
	RequireAbsent(t, s, "folder/obj")
	_, err := s.Stat(ctxOf(t), "missing")
	assert.Contains(t, err.Error(), "missing", "the error names the key")
}

func testOverwrite(t *testing.T, s storage.Store) {
	Put(t, s, "k", []byte("first version, longer"))
	Put(t, s, "k", []byte("second"))
	assert.Equal(t, "second", string(Read(t, s, "k")))
	info, err := s.Stat(ctxOf(t), "k")
	require.NoError(t, err)
	assert.Equal(t, int64(6), info.Size)
	assert.Equal(t, []string{"k"}, Keys(t, s, ""))
}

func testDelete(t *testing.T, s storage.Store) {
	ctx := ctxOf(t)
	require.NoError(t, s.Delete(ctx, "never/existed"))
	Put(t, s, "a/b/c", []byte("1"))
	Put(t, s, "a/d", []byte("2"))
	require.NoError(t, s.Delete(ctx, "a/b/c"))
	RequireAbsent(t, s, "a/b/c")
	require.NoError(t, s.Delete(ctx, "a/b/c"), "deleting twice")
	assert.Equal(t, []string{"a/d"}, Keys(t, s, ""))
	require.NoError(t, s.Delete(ctx, "a"), "a folder is no object: nothing to delete")
	assert.Equal(t, "2", string(Read(t, s, "a/d")))
	require.NoError(t, s.Delete(ctx, "a/d"))
	assert.Empty(t, Keys(t, s, ""))
}

// InvalidKeys are rejected by every method of every backend.
var InvalidKeys = []string{
	"", "/abs", "a//b", "a/", "../up", "a/../b", "a/./b", ".", "..", `a\b`, "a/.tmp-x", ".tmp-1",
	"bad\x00nul", "new\nline", "\xff\xfe", strings.Repeat("k", storage.MaxKeyLength+1),
}

func testInvalidKeys(t *testing.T, s storage.Store) {
	ctx := ctxOf(t)
	for _, key := range InvalidKeys {
		_, err := s.Put(ctx, key, strings.NewReader("x"))
		assert.Error(t, err, "Put %q", key)
		assert.NotErrorIs(t, err, storage.ErrNotFound, "Put %q", key)
		_, err = s.Open(ctx, key)
		assert.Error(t, err, "Open %q", key)
		assert.NotErrorIs(t, err, storage.ErrNotFound, "Open %q", key)
		_, err = s.Stat(ctx, key)
		assert.Error(t, err, "Stat %q", key)
		assert.NotErrorIs(t, err, storage.ErrNotFound, "Stat %q", key)
		assert.Error(t, s.Delete(ctx, key), "Delete %q", key)
	}
	for _, prefix := range []string{"/abs", "../", "a//", `a\`} {
		err := s.List(ctx, prefix, func(storage.ObjectInfo) error { return nil })
		assert.Error(t, err, "List %q", prefix)
	}
	assert.Empty(t, Keys(t, s, ""), "nothing was written")
}

func testListOrder(t *testing.T, s storage.Store) {
	keys := []string{"z/é", "c d", "b0", "b/x", "ab", "a/c", "a/b/c", "a/b.txt", "a.txt", "a-b", "A"}
	putMany(t, s, keys)
	sorted := append([]string(nil), keys...)
	sort.Strings(sorted)
	cases := map[string][]string{
		"":        sorted,
		"a":       {"a-b", "a.txt", "a/b.txt", "a/b/c", "a/c", "ab"},
		"a/":      {"a/b.txt", "a/b/c", "a/c"},
		"a/b":     {"a/b.txt", "a/b/c"},
		"a/b/":    {"a/b/c"},
		"b":       {"b/x", "b0"},
		"c d":     {"c d"},
		"z/":      {"z/é"},
		"nothing": {},
		"a/b/c/":  {},
	}
	for prefix, want := range cases {
		assert.Equal(t, want, Keys(t, s, prefix), "List(%q)", prefix)
	}
	err := s.List(ctxOf(t), "b/", func(o storage.ObjectInfo) error {
		assert.Equal(t, "b/x", o.Key)
		assert.Equal(t, int64(3), o.Size)
		assert.False(t, o.ModTime.IsZero())
		return nil
	})
	require.NoError(t, err)
}

func testListStops(t *testing.T, s storage.Store) {
	for i := range 5 {
		Put(t, s, fmt.Sprintf("k%d", i), []byte("x"))
	}
	stop := errors.New("enough")
	var seen []string
	err := s.List(ctxOf(t), "", func(o storage.ObjectInfo) error {
		seen = append(seen, o.Key)
		if len(seen) == 2 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	assert.Equal(t, []string{"k0", "k1"}, seen)
}

func manyKeys() []string {
	keys := make([]string, Many)
	for i := range keys {
		keys[i] = fmt.Sprintf("many/%04d", i)
	}
	return keys
}

func putMany(t *testing.T, s storage.Store, keys []string) {
	t.Helper()
	ctx := ctxOf(t)
	work := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for k := range work {
				if _, err := s.Put(ctx, k, strings.NewReader(k)); err != nil {
					t.Errorf("put %s: %v", k, err)
				}
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	require.False(t, t.Failed(), "every Put succeeded")
}

func testListMany(t *testing.T, s storage.Store) {
	keys := manyKeys()
	putMany(t, s, keys)
	Put(t, s, "other", []byte("x"))
	assert.Equal(t, keys, Keys(t, s, "many/"))
	assert.Equal(t, keys[1000:], Keys(t, s, "many/1"))
	all := Keys(t, s, "")
	assert.Len(t, all, Many+1)
	assert.Equal(t, "other", all[len(all)-1])
	// Stopping on the second page.
	n := 0
	stop := errors.New("stop")
	err := s.List(ctxOf(t), "many/", func(storage.ObjectInfo) error {
		n++
		if n == 1050 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	assert.Equal(t, 1050, n)
}

func testListCancelled(t *testing.T, s storage.Store) {
	for i := range 3 {
		Put(t, s, fmt.Sprintf("k%d", i), []byte("x"))
	}
	ctx, cancel := context.WithCancel(ctxOf(t))
	n := 0
	err := s.List(ctx, "", func(storage.ObjectInfo) error {
		n++
		cancel()
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, n, "no callback after the context is cancelled")

	err = s.List(ctx, "", func(storage.ObjectInfo) error {
		t.Error("callback called with a cancelled context")
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
}

// Generator yields n deterministic pseudo-random bytes without holding them, and hashes what it
// yields. OnByte, when set, is called once when the position reaches At (to cancel a context,
// kill a server…); Fail, when set, is returned instead of data from position At on.
type Generator struct {
	N      int64
	At     int64
	OnByte func()
	Fail   error
	pos    int64
	src    *rand.ChaCha8
	h      hash.Hash
}

// NewGenerator returns a generator of n bytes from seed.
func NewGenerator(n int64, seed byte) *Generator {
	var s [32]byte
	s[0] = seed
	return &Generator{N: n, src: rand.NewChaCha8(s), h: sha256.New()}
}

func (g *Generator) Read(p []byte) (int, error) {
	if g.pos >= g.N {
		return 0, io.EOF
	}
	if g.At > 0 && g.pos >= g.At {
		if g.OnByte != nil {
			g.OnByte()
			g.OnByte = nil
		}
		if g.Fail != nil {
			return 0, g.Fail
		}
	}
	if rest := g.N - g.pos; int64(len(p)) > rest {
		p = p[:rest]
	}
	if g.At > 0 && g.pos < g.At && int64(len(p)) > g.At-g.pos {
		p = p[:g.At-g.pos]
	}
	n, _ := g.src.Read(p)
	g.h.Write(p[:n])
	g.pos += int64(n)
	return n, nil
}

// Sum is the SHA-256 of what the generator yielded so far.
func (g *Generator) Sum() []byte { return g.h.Sum(nil) }

// SumOf reads an object and returns its SHA-256 and length.
func SumOf(t *testing.T, s storage.Store, key string) ([]byte, int64) {
	t.Helper()
	rc, err := s.Open(ctxOf(t), key)
	require.NoError(t, err, "open %s", key)
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	require.NoError(t, err, "read %s", key)
	return h.Sum(nil), n
}

func testLarge(t *testing.T, s storage.Store) {
	if testing.Short() {
		t.Skip("100 MiB upload skipped in -short mode")
	}
	g := NewGenerator(Large+12345, 1)
	n, err := s.Put(ctxOf(t), "big/object.bin", g)
	require.NoError(t, err)
	require.Equal(t, g.N, n)
	info, err := s.Stat(ctxOf(t), "big/object.bin")
	require.NoError(t, err)
	assert.Equal(t, g.N, info.Size)
	sum, size := SumOf(t, s, "big/object.bin")
	assert.Equal(t, g.N, size)
	assert.Equal(t, g.Sum(), sum, "SHA-256 of the read-back content")
}

func testReaderFails(t *testing.T, s storage.Store) {
	broken := errors.New("the source broke")
	sizes := []int64{1024, Partial}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, at := range sizes {
		key := fmt.Sprintf("fail/%d", at)
		g := NewGenerator(2*at, 2)
		g.At, g.Fail = at, broken
		_, err := s.Put(ctxOf(t), key, g)
		require.ErrorIs(t, err, broken, "Put returns the reader's error")
		RequireAbsent(t, s, key)
	}
	assert.Empty(t, Keys(t, s, ""))

	// A failed overwrite keeps the previous version.
	Put(t, s, "keep", []byte("previous"))
	g := NewGenerator(2*Partial, 3)
	g.At, g.Fail = sizes[len(sizes)-1], broken
	_, err := s.Put(ctxOf(t), "keep", g)
	require.ErrorIs(t, err, broken)
	assert.Equal(t, "previous", string(Read(t, s, "keep")))
}

func testCancelledPut(t *testing.T, s storage.Store) {
	ctx, cancel := context.WithCancel(ctxOf(t))
	cancel()
	_, err := s.Put(ctx, "cancelled/before", strings.NewReader("x"))
	require.ErrorIs(t, err, context.Canceled)
	RequireAbsent(t, s, "cancelled/before")

	sizes := []int64{1024, Partial}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, at := range sizes {
		key := fmt.Sprintf("cancelled/%d", at)
		ctx, cancel := context.WithCancel(ctxOf(t))
		g := NewGenerator(3*at, 4)
		g.At, g.OnByte = at, cancel
		_, err := s.Put(ctx, key, g)
		cancel()
		require.ErrorIs(t, err, context.Canceled, "Put of %s", key)
		RequireAbsent(t, s, key)
	}
	assert.Empty(t, Keys(t, s, ""))
}

func testOpenCancelled(t *testing.T, s storage.Store) {
	g := NewGenerator(8*MiB, 5)
	_, err := s.Put(ctxOf(t), "obj", g)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(ctxOf(t))
	rc, err := s.Open(ctx, "obj")
	require.NoError(t, err)
	defer rc.Close()
	buf := make([]byte, 1024)
	_, err = io.ReadFull(rc, buf)
	require.NoError(t, err)
	cancel()
	_, err = io.Copy(io.Discard, rc)
	require.ErrorIs(t, err, context.Canceled, "reading after cancel")

	_, err = s.Open(ctx, "obj")
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Stat(ctx, "obj")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, s.Delete(ctx, "obj"), context.Canceled)
	assert.Equal(t, []string{"obj"}, Keys(t, s, ""), "a cancelled Delete deletes nothing")
}
