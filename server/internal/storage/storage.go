// Package storage holds what the backup destinations share: the description of a stored
// object, the not-found error every backend wraps, and the rules a key must follow.
//
// The backends are storage/local (a folder) and storage/s3 (AWS S3 or any S3-compatible
// store). Both have the same method set (see storagetest.Store) and pass the same conformance
// suite (storagetest.Run):
//
//	Put(ctx, key, r) (written int64, err error) // atomic: the object is absent or complete
//	Open(ctx, key) (io.ReadCloser, error)      // ErrNotFound when absent
//	Stat(ctx, key) (ObjectInfo, error)         // ErrNotFound when absent
//	List(ctx, prefix, fn) error                // lexical order, streamed; stops at fn's error
//	Delete(ctx, key) error                     // absent is not an error
//	String() string                            // where the store is, never a secret
package storage

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

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
