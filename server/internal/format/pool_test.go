package format

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

func TestParsePoolKey(t *testing.T) {
	sum := sumHex([]byte("content"))
	tests := []struct {
		key     string
		raw, ok bool
	}{
		{PoolKey(sum), false, true},
		{RawPoolKey(sum), true, true},
		{PoolKey(sum) + ".zst", false, false},
		{PoolKey(sum) + ".raw.raw", false, false},
		{PoolKey(sum) + "raw", false, false},
		{"pool/ff/" + sum, false, false},                               // not in its own folder
		{"pool/" + sum[:2] + "/" + strings.ToUpper(sum), false, false}, // hex is lower-case
		{"pool/" + sum[:2] + "/" + sum[:63], false, false},
		{"backups/" + sum[:2] + "/" + sum, false, false},
		{"pool/" + sum[:2] + "/" + sum[:63] + "g.raw", false, false},
	}
	for _, tc := range tests {
		h, raw, ok := parsePoolKey(tc.key)
		assert.Equal(t, tc.ok, ok, tc.key)
		assert.Equal(t, tc.raw, raw, tc.key)
		if ok {
			assert.Equal(t, sum, hex.EncodeToString(h[:]), tc.key)
		}
	}
}

// OpenFile reads each encoding by what the index entry says, never by the object's bytes.
func TestOpenFileEncodings(t *testing.T) {
	s := localStore(t)
	frame := []byte(zstdMagic + "not really a frame")
	sum := sumHex(frame)
	// The same content in both encodings, and a raw object whose bytes are not its name's.
	putZstd(t, s, PoolKey(sum), frame)
	_, err := s.Put(ctxOf(t), RawPoolKey(sum), bytes.NewReader(frame))
	require.NoError(t, err)
	other := sumHex([]byte("other"))
	_, err = s.Put(ctxOf(t), RawPoolKey(other), bytes.NewReader([]byte("tampered")))
	require.NoError(t, err)

	tests := []struct {
		name     string
		e        IndexEntry
		openErr  string
		notFound bool
		readErr  string
	}{
		{name: "zstd", e: IndexEntry{Path: "f", SHA256: sum}},
		{name: "raw", e: IndexEntry{Path: "f", SHA256: sum, Enc: EncodingRaw}},
		{name: "raw damaged", e: IndexEntry{Path: "g", SHA256: other, Enc: EncodingRaw}, readErr: "is damaged"},
		{name: "raw missing", e: IndexEntry{Path: "h", SHA256: sumHex([]byte("missing")), Enc: EncodingRaw}, notFound: true},
		{name: "unknown encoding", e: IndexEntry{Path: "f", SHA256: sum, Enc: "brotli"}, openErr: "upgrade the plugin"},
		{name: "invalid sum", e: IndexEntry{Path: "f", SHA256: "xyz", Enc: EncodingRaw}, openErr: "invalid sha256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := OpenFile(ctxOf(t), s, tc.e, nil)
			switch {
			case tc.notFound:
				require.ErrorIs(t, err, storage.ErrNotFound)
				return
			case tc.openErr != "":
				require.ErrorContains(t, err, tc.openErr)
				return
			}
			require.NoError(t, err)
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if tc.readErr != "" {
				require.ErrorContains(t, err, tc.readErr)
				_, err = rc.Read(make([]byte, 1))
				require.ErrorContains(t, err, tc.readErr, "the failure sticks")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, frame, b)
		})
	}
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func sumHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func localStore(t *testing.T) *local.Store {
	t.Helper()
	s, err := local.New(t.TempDir())
	require.NoError(t, err)
	return s
}

func putZstd(t *testing.T, s storage.Store, key string, b []byte) {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	_, err = s.Put(ctxOf(t), key, bytes.NewReader(enc.EncodeAll(b, nil)))
	require.NoError(t, err)
	require.NoError(t, enc.Close())
}

// An index written before Added existed: its entries appeared by its backup's start, or at
// their modification time if earlier.
func TestIndexEntryAddedAt(t *testing.T) {
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	assert.Equal(t, start.Add(-time.Hour), IndexEntry{ModTime: start.Add(-time.Hour)}.AddedAt(start))
	assert.Equal(t, start, IndexEntry{ModTime: start.Add(time.Hour)}.AddedAt(start))
	assert.Equal(t, start, IndexEntry{}.AddedAt(start))
	assert.Equal(t, start.Add(-time.Minute), IndexEntry{ModTime: start.Add(-time.Hour), Added: start.Add(-time.Minute)}.AddedAt(start))
}
