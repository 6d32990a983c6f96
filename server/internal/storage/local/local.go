// Package local stores backup objects as files under a folder.
//
// Keys are slash-separated relative paths (see storage.ValidateKey) mapped to files below the
// root. Put writes a temporary file (".tmp-…") in the object's folder, fsyncs it, renames it into
// place and fsyncs the folder, so an object is either absent or complete, even when the process
// is killed or the machine loses power. A killed process can leave temporary files behind: List
// never shows them and CleanupTemp removes them.
package local

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
)

// SettingName is the name of the plugin setting that holds the folder, used in the advice of
// error messages ("point LocalDirectory elsewhere").
const SettingName = "LocalDirectory"

const (
	dirPerm    = 0o750
	copyBuffer = 256 << 10
)

// Store is a folder holding objects. It is safe for concurrent use; concurrent Puts of the same
// key are allowed and the last rename wins.
type Store struct {
	root string
}

// New returns a store rooted at root, creating the folder if it is missing.
func New(root string) (*Store, error) {
	if strings.TrimSpace(root) == "" {
		return nil, fmt.Errorf("the backup folder is not set: set %s to an absolute path such as /var/backups/mattermost", SettingName)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("backup folder %q: %w", root, err)
	}
	s := &Store{root: filepath.Clean(abs)}
	fi, err := os.Stat(s.root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := s.mkdirAll(s.root); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, s.describe("use folder "+s.root, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("destination %s is not a folder: point %s at a folder", s.root, SettingName)
	}
	return s, nil
}

// String returns the root folder.
func (s *Store) String() string { return s.root }

// Root returns the absolute path of the root folder.
func (s *Store) Root() string { return s.root }

func (s *Store) path(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

// Put stores what r yields under key, replacing any existing object, and returns the number of
// bytes written. The object appears only once it is complete and on disk: when Put fails or ctx
// is cancelled nothing is left behind.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (written int64, err error) {
	if err := storage.ValidateKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	dst := s.path(key)
	f, err := s.createTemp(filepath.Dir(dst), "put "+key)
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			_ = f.Close()
			_ = os.Remove(tmp)
			s.pruneEmptyFolders(filepath.Dir(dst)) // the folders this Put created, if still empty
		}
	}()

	buf := make([]byte, copyBuffer)
	for {
		if err := ctx.Err(); err != nil {
			return written, fmt.Errorf("put %s: %w", key, err)
		}
		n, rerr := r.Read(buf)
		if n > 0 {
			m, werr := f.Write(buf[:n])
			written += int64(m)
			if werr != nil {
				return written, s.describe("put "+key, werr)
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return written, fmt.Errorf("put %s: read the data: %w", key, rerr)
		}
	}
	if err := f.Sync(); err != nil {
		return written, s.describe("put "+key, err)
	}
	if err := f.Close(); err != nil {
		return written, s.describe("put "+key, err)
	}
	if err := ctx.Err(); err != nil {
		return written, fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		if fi, serr := os.Stat(dst); serr == nil && fi.IsDir() {
			return written, fmt.Errorf("put %s: %s is a folder holding other objects; an object cannot have the name of a folder", key, dst)
		}
		return written, s.describe("put "+key, err)
	}
	renamed = true
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return written, s.describe("put "+key, err)
	}
	return written, nil
}

// createTemp creates the object's folder if needed and a temporary file in it. A concurrent
// Delete may remove a folder it has just emptied between the two steps, hence the retries.
func (s *Store) createTemp(dir, op string) (*os.File, error) {
	var err error
	for range 5 {
		if err = s.mkdirAll(dir); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, &Error{Op: op, Advice: e.Advice, Err: e.Err}
			}
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		var f *os.File
		f, err = os.CreateTemp(dir, storage.TempPrefix+"*")
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	return nil, s.describe(op, err)
}

// mkdirAll creates dir and its missing parents, fsyncing each parent after creating a child
// so that the new folders survive a crash along with the files renamed into them.
func (s *Store) mkdirAll(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is an object, not a folder: an object's key cannot be the folder of another", dir)
		}
		return nil
	}
	if errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("a parent of %s is an object, not a folder: an object's key cannot be the folder of another", dir)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return s.describe("use folder "+dir, err)
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := s.mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, dirPerm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return s.describe("create folder "+dir, err)
	}
	if err := syncDir(parent); err != nil {
		return s.describe("create folder "+dir, err)
	}
	return nil
}

// syncDir makes a folder's entries durable. File systems that cannot fsync a folder say
// EINVAL; there is nothing more to do on those.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) {
		return nil
	}
	return err
}

// Open returns the object's content. Reads fail once ctx is done.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := storage.ValidateKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	f, err := os.Open(s.path(key))
	if err != nil {
		if isNotFound(err) {
			return nil, s.notFound("open", key)
		}
		return nil, s.describe("open "+key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, s.describe("open "+key, err)
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, s.notFound("open", key)
	}
	return &reader{ctx: ctx, f: f}, nil
}

type reader struct {
	ctx context.Context
	f   *os.File
}

func (r *reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.f.Read(p)
}

func (r *reader) Close() error { return r.f.Close() }

// Stat describes the object.
func (s *Store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := storage.ValidateKey(key); err != nil {
		return storage.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	fi, err := os.Stat(s.path(key))
	if err != nil {
		if isNotFound(err) {
			return storage.ObjectInfo{}, s.notFound("stat", key)
		}
		return storage.ObjectInfo{}, s.describe("stat "+key, err)
	}
	if !fi.Mode().IsRegular() {
		return storage.ObjectInfo{}, s.notFound("stat", key)
	}
	return storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List calls fn for every object whose key starts with prefix, in lexical (byte) order of the
// keys. It reads one folder at a time, so memory grows with the largest folder, not with the
// number of objects. It stops at the first error from fn and returns it. Temporary files,
// non-regular files and files whose names are not valid keys are skipped.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return err
	}
	dirKey, namePrefix := "", prefix
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dirKey, namePrefix = prefix[:i+1], prefix[i+1:]
	}
	return s.walk(ctx, dirKey, namePrefix, fn)
}

// walk lists the folder of dirKey ("" or ending in "/"), keeping the entries whose names start
// with namePrefix. Sorting each folder's entries with "/" appended to sub-folder names gives
// the lexical order of the full keys: every key below folder "a" starts with "a/".
func (s *Store) walk(ctx context.Context, dirKey, namePrefix string, fn func(storage.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", s, err)
	}
	entries, err := os.ReadDir(s.path(strings.TrimSuffix(dirKey, "/")))
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return s.describe("list", err)
	}
	type item struct {
		sortKey string
		entry   fs.DirEntry
	}
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, storage.TempPrefix) {
			continue
		}
		sortKey := name
		if e.IsDir() {
			sortKey += "/"
		} else if !e.Type().IsRegular() {
			continue
		}
		if !strings.HasPrefix(sortKey, namePrefix) {
			continue
		}
		items = append(items, item{sortKey, e})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].sortKey < items[j].sortKey })
	for _, it := range items {
		key := dirKey + it.sortKey
		if it.entry.IsDir() {
			if storage.ValidatePrefix(key) != nil {
				continue
			}
			if err := s.walk(ctx, key, "", fn); err != nil {
				return err
			}
			continue
		}
		if storage.ValidateKey(key) != nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", s, err)
		}
		fi, err := it.entry.Info()
		if err != nil {
			if isNotFound(err) { // deleted while listing
				continue
			}
			return s.describe("list", err)
		}
		if err := fn(storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes the object; an absent object is not an error. Folders it leaves empty are
// removed too, up to the root.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := storage.ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	p := s.path(key)
	fi, err := os.Lstat(p)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return s.describe("delete "+key, err)
	}
	if fi.IsDir() {
		return nil // a folder is not an object
	}
	if err := os.Remove(p); err != nil {
		if isNotFound(err) {
			return nil
		}
		return s.describe("delete "+key, err)
	}
	dir := filepath.Dir(p)
	if err := syncDir(dir); err != nil && !isNotFound(err) {
		return s.describe("delete "+key, err)
	}
	s.pruneEmptyFolders(dir)
	return nil
}

// pruneEmptyFolders removes dir and its parents up to the root while they are empty.
func (s *Store) pruneEmptyFolders(dir string) {
	for dir != s.root && strings.HasPrefix(dir, s.root+string(filepath.Separator)) {
		if os.Remove(dir) != nil { // not empty, or in use by a concurrent Put
			return
		}
		dir = filepath.Dir(dir)
	}
}

var (
	_ storage.Store   = (*Store)(nil)
	_ storage.Cleaner = (*Store)(nil)
)

// CleanupPartial is CleanupTemp, as storage.Cleaner.
func (s *Store) CleanupPartial(_ context.Context, olderThan time.Duration) (int, error) {
	return s.CleanupTemp(olderThan)
}

// CleanupTemp removes the temporary files that a process killed during Put left behind, when
// they were last written more than olderThan ago, and returns how many it removed. Use an age
// well above the longest Put (a day, say) so that a Put in progress keeps its file.
func (s *Store) CleanupTemp(olderThan time.Duration) (removed int, err error) {
	cutoff := time.Now().Add(-olderThan)
	root, err := os.OpenRoot(s.root) // removals cannot follow a symlink out of the root
	if err != nil {
		return 0, s.describe("clean up", err)
	}
	defer root.Close()
	var errs []error
	walkErr := filepath.WalkDir(s.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if !isNotFound(err) {
				errs = append(errs, s.describe("clean up", err))
			}
			return nil
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), storage.TempPrefix) || strings.HasPrefix(d.Name(), lockPrefix) || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil || fi.ModTime().After(cutoff) {
			return nil //nolint:nilerr // vanished since listed, or recent: leave it
		}
		rel, err := filepath.Rel(s.root, path)
		if err != nil {
			return err
		}
		if err := root.Remove(rel); err != nil {
			if !isNotFound(err) {
				errs = append(errs, s.describe("clean up", err))
			}
			return nil
		}
		removed++
		return nil
	})
	if walkErr != nil {
		errs = append(errs, walkErr)
	}
	return removed, errors.Join(errs...)
}

func (s *Store) notFound(op, key string) error {
	return fmt.Errorf("%s %s in %s: %w", op, key, s.root, storage.ErrNotFound)
}

func isNotFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Error is a file-system failure explained for an administrator: what happened to the
// destination and what to do. It wraps the system error (errors.Is(err, syscall.ENOSPC)).
type Error struct {
	Op     string // what was being done: "put backups/x"
	Advice string // what happened to the destination and what to do
	Err    error
}

func (e *Error) Error() string { return e.Op + ": " + e.Advice }

// Unwrap returns the underlying system error.
func (e *Error) Unwrap() error { return e.Err }

// describe turns a file-system error met while doing op ("put backups/x") into one that
// says what happened to the destination and what to do about it.
func (s *Store) describe(op string, err error) error {
	if err == nil {
		return nil
	}
	var advice string
	switch {
	case errors.Is(err, syscall.ENOSPC):
		advice = fmt.Sprintf("destination %s is full (no space left on device): free space or point %s elsewhere", s.root, SettingName)
	case errors.Is(err, syscall.EDQUOT):
		advice = fmt.Sprintf("destination %s is over its disk quota (disk quota exceeded): free space, raise the quota or point %s elsewhere", s.root, SettingName)
	case errors.Is(err, syscall.EROFS):
		advice = fmt.Sprintf("destination %s is read-only (read-only file system): remount it read-write or point %s elsewhere", s.root, SettingName)
	case (errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)) && isRead(op):
		// A reader (drctl, or PostgreSQL's restore_command as its own user) is not the server.
		advice = fmt.Sprintf("destination %s is not readable by this user (uid %d; permission denied on %s): give it read access to the folder and its files",
			s.root, os.Geteuid(), pathOf(err, s.root))
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		advice = fmt.Sprintf("destination %s is not writable by the Mattermost server (permission denied on %s): give the user it runs as (uid %d) write access, or point %s elsewhere",
			s.root, pathOf(err, s.root), os.Geteuid(), SettingName)
	case errors.Is(err, syscall.EIO):
		advice = fmt.Sprintf("destination %s had an input/output error (the disk or network share failed): check the device and the system log, or point %s elsewhere", s.root, SettingName)
	default:
		return fmt.Errorf("%s (destination %s): %w", op, s.root, err)
	}
	return &Error{Op: op, Advice: advice, Err: err}
}

// isRead says whether op only reads the destination.
func isRead(op string) bool {
	return strings.HasPrefix(op, "open ") || strings.HasPrefix(op, "stat ") || op == "list"
}

func pathOf(err error, fallback string) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.New
	}
	return fallback
}
