// Package storage holds what the backup destinations share: the description of a stored
// object, the not-found error every backend wraps, and the rules a key must follow.
//
// It also holds the one contract every backend satisfies (Store), its read-only subset
// (Reader) and the optional capabilities a backend may add (Cleaner, Swapper). Server-side copy is the
// other capability (backup.ServerSideCopier): it is declared by its user because its source
// and errors are S3's own types, which this package cannot name. The backends are
// storage/local (a folder) and storage/s3 (AWS S3 or any S3-compatible store); both pass the
// same conformance suite (storagetest.Run).
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Reader is the read-only part of Store: what a reader of objects (a file source, a restore)
// needs of a bucket or folder.
type Reader interface {
	// Open returns the object's content; ErrNotFound when absent.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// List calls fn for every object whose key starts with prefix, in lexical order, page by
	// page; it stops at fn's first error and returns it.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// String says where the store is, never with a secret.
	String() string
}

// Store is where backups are kept: the method set the backup engine, the verifier and restore
// use, implemented by local.Store and s3.Store and checked by storagetest.Run.
type Store interface {
	Reader
	// Put stores what r yields under key and returns the number of bytes written. The object
	// is absent or complete, never partial: a failed or cancelled Put leaves nothing behind.
	Put(ctx context.Context, key string, r io.Reader) (written int64, err error)
	// Stat describes the object; ErrNotFound when absent.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// Delete removes the object; an absent object is not an error.
	Delete(ctx context.Context, key string) error
}

// Cleaner is a Store that can leave partial writes behind when its process is killed during a
// Put (temporary files, incomplete multipart uploads) and can remove them.
type Cleaner interface {
	// CleanupPartial removes the partial writes last touched more than olderThan ago and
	// returns how many it removed. Zero removes them all: only safe when no Put is running.
	CleanupPartial(ctx context.Context, olderThan time.Duration) (removed int, err error)
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key     string // relative to the store, slash-separated
	Size    int64
	ModTime time.Time
}

// ErrNotFound is wrapped by the backends when an object does not exist:
// errors.Is(err, storage.ErrNotFound).
var ErrNotFound = errors.New("object not found")

// TempPrefix starts the names of the temporary files the local backend writes before renaming
// them into place. No key segment may start with it, so that no object is ever hidden by it.
const TempPrefix = ".tmp-"

// MaxKeyLength is the longest key accepted, in bytes. S3 allows 1024 bytes including the
// store's prefix; 900 leaves room for a prefix.
const MaxKeyLength = 900

// ValidateKey checks that key is a clean, relative, slash-separated path that means the same
// thing on every backend: not empty, not absolute, no empty, "." or ".." segments, no
// backslashes or control characters, no segment starting with ".tmp-", valid UTF-8, and at most
// MaxKeyLength bytes.
func ValidateKey(key string) error {
	return validate(key, false)
}

// ValidatePrefix checks a List prefix: empty, or what ValidateKey accepts, optionally followed
// by a slash ("backups/" lists a folder, "backups/2024-" matches partial names).
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return validate(strings.TrimSuffix(prefix, "/"), true)
}

func validate(key string, isPrefix bool) error {
	what := "key"
	if isPrefix {
		what = "prefix"
	}
	bad := func(why string) error { return fmt.Errorf("invalid object %s %q: %s", what, key, why) }
	switch {
	case key == "":
		return bad("it is empty")
	case len(key) > MaxKeyLength:
		return bad(fmt.Sprintf("it is %d bytes long, the limit is %d", len(key), MaxKeyLength))
	case strings.HasPrefix(key, "/"):
		return bad("it is absolute; keys are relative slash-separated paths such as backups/2024-01-01/db.dump")
	case strings.Contains(key, `\`):
		return bad("it contains a backslash; separate folders with /")
	case !utf8.ValidString(key):
		return bad("it is not valid UTF-8")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return bad("it contains a control character")
		}
	}
	for _, seg := range strings.Split(key, "/") {
		switch {
		case seg == "":
			return bad("it has an empty segment (a leading, trailing or double slash)")
		case seg == "." || seg == "..":
			return bad(`it has a "." or ".." segment`)
		case strings.HasPrefix(seg, TempPrefix):
			return bad(fmt.Sprintf("segments starting with %q are reserved for temporary files", TempPrefix))
		}
	}
	return nil
}
