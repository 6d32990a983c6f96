// Package filesource reads Mattermost's file store for a backup: a local folder
// (FileSettings.Directory) or an S3 bucket (FileSettings.AmazonS3*).
//
// Walk streams every file in byte-wise lexical order of its slash-separated
// path relative to the store's root: the order the backup's file index is
// written in, so that the previous index can be merged with the current walk
// without holding either in memory. Walk holds one folder listing (local) or
// one listing page (S3) at a time.
package filesource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
)

// File is one file of the store.
type File struct {
	Path    string // relative to the store's root, slash-separated, no leading slash
	Size    int64
	ModTime time.Time
}

// Source is a file store being backed up.
type Source interface {
	// Walk calls fn for every file, in byte-wise lexical order of Path, streamed. It stops at
	// fn's first error and returns it.
	Walk(ctx context.Context, fn func(File) error) error
	// Open returns a file's content; an error wrapping fs.ErrNotExist when it is gone.
	Open(ctx context.Context, path string) (io.ReadCloser, error)
	// String says where the files are, never with a secret.
	String() string
}

// ErrNotExist is what Open's error wraps when the file is gone (it is fs.ErrNotExist).
var ErrNotExist = fs.ErrNotExist

// Local is a folder on this machine, such as Mattermost's FileSettings.Directory (resolved
// against the server's root folder by the caller: the plugin's working folder is not the
// server's).
type Local struct {
	dir string
}

// NewLocal returns the source for folder dir.
func NewLocal(dir string) *Local {
	return &Local{dir: filepath.Clean(dir)}
}

// String returns the folder.
func (l *Local) String() string { return l.dir }

// Walk walks the folder. Only regular files are reported: symbolic links (to files or
// folders), sockets, devices and the like are skipped, and linked folders are not followed.
// A file that disappears during the walk is skipped. An unreadable folder fails the walk: a
// backup must not silently miss part of the store.
func (l *Local) Walk(ctx context.Context, fn func(File) error) error {
	fi, err := os.Stat(l.dir)
	if err != nil {
		return fmt.Errorf("file store %s: %w", l.dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("file store %s is not a folder", l.dir)
	}
	return l.walk(ctx, "", fn)
}

// walk lists folder rel ("" or "a/b/") and its sub-folders. Sorting a folder's entries with
// "/" appended to sub-folder names yields the lexical order of the full paths: every path
// below folder "a" starts with "a/", and "a.txt" < "a/" < "a0".
func (l *Local) walk(ctx context.Context, rel string, fn func(File) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Join(l.dir, filepath.FromSlash(rel))
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && rel != "" {
			return nil // removed during the walk
		}
		return fmt.Errorf("read folder %s: %w", dir, err)
	}
	type item struct {
		sortKey string
		entry   fs.DirEntry
	}
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		switch {
		case e.IsDir():
			items = append(items, item{e.Name() + "/", e})
		case e.Type().IsRegular():
			items = append(items, item{e.Name(), e})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].sortKey < items[j].sortKey })
	for _, it := range items {
		if it.entry.IsDir() {
			if err := l.walk(ctx, rel+it.sortKey, fn); err != nil {
				return err
			}
			continue
		}
		info, err := it.entry.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted during the walk
			}
			return fmt.Errorf("stat %s: %w", filepath.Join(dir, it.sortKey), err)
		}
		if !info.Mode().IsRegular() {
			continue // replaced by something else during the walk
		}
		if err := fn(File{Path: rel + it.sortKey, Size: info.Size(), ModTime: info.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// Open opens a regular file below the folder. path must be a clean relative slash path.
func (l *Local) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	full := filepath.Join(l.dir, filepath.FromSlash(path))
	// O_NONBLOCK: opening a FIFO put in a file's place must not wait for a writer (it has no
	// effect on regular files); O_NOFOLLOW: a symbolic link is not a regular file.
	f, err := os.OpenFile(full, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("open %s: a symbolic link, not a regular file: %w", full, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("open %s: %w", full, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open %s: %w", full, err)
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("open %s: not a regular file: %w", full, fs.ErrNotExist)
	}
	return &ctxReader{ctx: ctx, rc: f}, nil
}

// checkPath rejects paths that could leave the folder.
func checkPath(path string) error {
	if path == "" || strings.HasPrefix(path, "/") || strings.Contains(path, `\`) {
		return fmt.Errorf("invalid file path %q", path)
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("invalid file path %q", path)
		}
	}
	return nil
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	rc  io.ReadCloser
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.rc.Read(p)
}

func (r *ctxReader) Close() error { return r.rc.Close() }

// S3 is Mattermost's file store in an S3 bucket.
type S3 struct {
	store storage.Reader
}

// NewS3 returns the source for the bucket (and prefix) of store.
func NewS3(store storage.Reader) *S3 { return &S3{store: store} }

// String returns s3://bucket/prefix.
func (s *S3) String() string { return s.store.String() }

// Walk lists the bucket (under the store's prefix) page by page; S3 lists keys in byte-wise
// lexical order, which is Walk's order. Keys that are not clean relative paths (folder
// markers ending in "/", "a//b") are skipped by the store.
func (s *S3) Walk(ctx context.Context, fn func(File) error) error {
	return s.store.List(ctx, "", func(o storage.ObjectInfo) error {
		return fn(File{Path: o.Key, Size: o.Size, ModTime: o.ModTime})
	})
}

// Open reads an object; the error wraps fs.ErrNotExist when it is gone.
func (s *S3) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	rc, err := s.store.Open(ctx, path)
	if err != nil {
		return nil, notExist(err)
	}
	return rc, nil
}

func notExist(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return err
}

// Bucket returns the store the files are in when it is an *s3.Store, else nil: a destination
// reached with the same access (s3.Store.SameAccess) can copy its objects server-side.
func (s *S3) Bucket() *s3.Store {
	st, _ := s.store.(*s3.Store)
	return st
}

// OpenCopySource is Open, and also says where the file's object is and which version of it the
// reader reads, so that a server-side copy copies exactly the bytes read (and fails if the
// object changed since). It needs an *s3.Store (Bucket not nil).
func (s *S3) OpenCopySource(ctx context.Context, path string) (io.ReadCloser, s3.CopySource, error) {
	st := s.Bucket()
	if st == nil {
		return nil, s3.CopySource{}, fmt.Errorf("%s: a server-side copy needs an S3 store", s)
	}
	rc, v, err := st.OpenVersion(ctx, path)
	if err != nil {
		return nil, s3.CopySource{}, notExist(err)
	}
	return rc, s3.CopySource{Bucket: st.Bucket(), Key: st.FullKey(path), Version: v}, nil
}
