package format

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// IndexEntry is one line of files.jsonl: a file of the file store.
type IndexEntry struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
	SHA256  string    `json:"sha256"` // of the plain content; the pool object is e.PoolKey()
	// Enc is how the pool object holds the content at this destination: "" (absent) for
	// zstd, age-encrypted when the backup is, at PoolKey(SHA256); EncodingRaw for the content
	// as is, at RawPoolKey(SHA256). Recorded, never guessed from the object's first bytes: a
	// file may itself be a zstd or age file.
	Enc string `json:"enc,omitempty"`
	// Added is when the file appeared in the file store, as far as the backups can tell (see
	// backup.copyFiles): a point-in-time restore to T restores the entries added by T. Absent
	// in indexes written before continuous file capture: see AddedAt.
	Added time.Time `json:"added,omitzero"`
}

// AddedAt is when e appeared, for an entry of the index of a backup started at started: Added,
// or for an index written before Added existed, the file's modification time if earlier than
// the backup's start (the file store's clock may be ahead), else the backup's start, by which
// the file was certainly there.
func (e IndexEntry) AddedAt(started time.Time) time.Time {
	if !e.Added.IsZero() {
		return e.Added
	}
	if !e.ModTime.IsZero() && e.ModTime.Before(started) {
		return e.ModTime
	}
	return started
}

// EncodingRaw is IndexEntry.Enc for a pool object holding the plain content, uncompressed and
// unencrypted: copied server-side from an S3 file store (see copyFiles).
const EncodingRaw = "raw"

// rawSuffix ends the key of a raw pool object. A distinct key keeps the two encodings of one
// content apart (both may exist), and plugin versions that know only zstd objects ignore it.
const rawSuffix = ".raw"

// RawPoolKey is the key of the raw pool object holding the content whose SHA-256 is sum (hex).
func RawPoolKey(sum string) string { return PoolKey(sum) + rawSuffix }

// PoolKey is the key of the pool object holding e's content at the destination whose index
// holds e.
func (e IndexEntry) PoolKey() string {
	if e.Enc == EncodingRaw {
		return RawPoolKey(e.SHA256)
	}
	return PoolKey(e.SHA256)
}

// Sum is a SHA-256, as pool keys and index entries name it in hex.
type Sum = [32]byte

// parsePoolKey returns the hash a pool key names and whether it is a raw object's.
func parsePoolKey(key string) (h Sum, raw, ok bool) {
	rest, ok := strings.CutPrefix(key, PoolPrefix)
	if !ok {
		return h, false, false
	}
	rest, raw = strings.CutSuffix(rest, rawSuffix)
	if len(rest) != 3+64 || rest[2] != '/' || rest[:2] != rest[3:5] {
		return h, false, false
	}
	if _, err := hex.Decode(h[:], []byte(rest[3:])); err != nil || hex.EncodeToString(h[:]) != rest[3:] {
		return h, false, false
	}
	return h, raw, true
}

// ParseSum decodes a hex SHA-256.
func ParseSum(s string) (Sum, bool) {
	var h Sum
	if len(s) != 64 {
		return h, false
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, false
	}
	return h, true
}

// ListPoolObjects calls fn for every well-formed, non-empty pool object of either encoding, in
// key order: by hash, a content's zstd object before its raw one.
func ListPoolObjects(ctx context.Context, s storage.Reader, fn func(h Sum, raw bool, o storage.ObjectInfo) error) error {
	return s.List(ctx, PoolPrefix, func(o storage.ObjectInfo) error {
		h, raw, ok := parsePoolKey(o.Key)
		// An empty object is never valid: a zstd frame is not empty, and empty files are never
		// copied raw.
		if !ok || o.Size == 0 {
			return nil
		}
		return fn(h, raw, o)
	})
}

// ReadIndex streams the file index of backup m at s to fn, in path order. identities are
// needed when the index is encrypted: the backup's identity or the plugin's index identity.
func ReadIndex(ctx context.Context, s storage.Reader, m *Manifest, identities []age.Identity, fn func(IndexEntry) error) error {
	return readJSONLines(ctx, s, m, ComponentFilesIndex, "file index", identities, fn)
}

// ReadReferences streams the list of files the database of backup m refers to.
func ReadReferences(ctx context.Context, s storage.Reader, m *Manifest, identities []age.Identity, fn func(Reference) error) error {
	return readJSONLines(ctx, s, m, ComponentReferenced, "list of referenced files", identities, fn)
}

// readJSONLines streams the JSON-lines object of a component of backup m to fn, one value at
// a time.
func readJSONLines[T any](ctx context.Context, s storage.Reader, m *Manifest, component, what string, identities []age.Identity, fn func(T) error) error {
	obj := m.Object(component)
	if obj == nil {
		return fmt.Errorf("backup %s has no %s", m.ID, what)
	}
	rc, err := OpenObject(ctx, s, obj.Key, identities)
	if err != nil {
		return err
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	for {
		var v T
		if err := dec.Decode(&v); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read the %s of backup %s: %w", what, m.ID, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
}

// Reference is one line of referenced.jsonl: a file the database refers to.
type Reference struct {
	Path    string `json:"path"`
	Kind    string `json:"kind"`              // "file", "thumbnail", "preview", "profile", "emoji"
	Deleted bool   `json:"deleted,omitempty"` // the referring row is soft-deleted (DeleteAt > 0)
}

// OpenFile opens the plain content of file e of a backup's index: its pool object, decrypted
// and decompressed, or read as is when stored raw (e.Enc). Verify and restore read files only
// through it; e must come from the index of the backup at s, whose Enc is per destination.
func OpenFile(ctx context.Context, s storage.Reader, e IndexEntry, identities []age.Identity) (io.ReadCloser, error) {
	want, ok := ParseSum(e.SHA256)
	if !ok {
		return nil, fmt.Errorf("file %s: invalid sha256 %q in the file index", e.Path, e.SHA256)
	}
	switch e.Enc {
	case "":
		return OpenObject(ctx, s, PoolKey(e.SHA256), identities)
	case EncodingRaw:
		key := RawPoolKey(e.SHA256)
		rc, err := s.Open(ctx, key)
		if err != nil {
			return nil, err
		}
		return &checkedReader{rc: rc, key: key, want: want, h: sha256.New()}, nil
	}
	return nil, fmt.Errorf("file %s: pool encoding %q is unknown to this plugin version: upgrade the plugin", e.Path, e.Enc)
}

// checkedReader fails at the end of a raw object whose content does not have its SHA-256: a
// raw object has no checksum of its own, unlike a zstd frame or age's chunks.
type checkedReader struct {
	rc   io.ReadCloser
	key  string
	want Sum
	h    hash.Hash
	err  error
}

func (c *checkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.rc.Read(p)
	c.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		var got Sum
		if c.h.Sum(got[:0]); got != c.want {
			err = fmt.Errorf("%s is damaged: its content does not have the SHA-256 it is stored under", c.key)
		}
		c.err = err
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.rc.Close() }
