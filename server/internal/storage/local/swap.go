package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

var _ storage.Swapper = (*Store)(nil)

// lockPrefix names the lock file kept beside a swapped object. It starts with TempPrefix so that
// List never shows it, and CleanupTemp leaves it alone: removing a lock file someone holds would
// let the next writer lock a new file and run beside them.
const lockPrefix = storage.TempPrefix + "lock-"

// lockPoll is how often a writer waiting for the lock tries again.
const lockPoll = 20 * time.Millisecond

// Load returns the object's content and version (its SHA-256).
func (s *Store) Load(ctx context.Context, key string) ([]byte, string, error) {
	rc, err := s.Open(ctx, key)
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, storage.MaxSwapSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("load %s: %w", key, err)
	}
	if len(b) > storage.MaxSwapSize {
		return nil, "", fmt.Errorf("load %s: the object is larger than %d bytes; it was not written by this tool", key, storage.MaxSwapSize)
	}
	return b, version(b), nil
}

func version(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Swap writes content under key if the object is still at version, holding the folder's lock
// for that key while it compares and renames, so that no other Swap on any machine mounting
// the folder runs in between.
func (s *Store) Swap(ctx context.Context, key string, content []byte, want string) (string, error) {
	if err := storage.ValidateKey(key); err != nil {
		return "", err
	}
	if len(content) > storage.MaxSwapSize {
		return "", fmt.Errorf("swap %s: %d bytes is more than the %d a swapped object may hold", key, len(content), storage.MaxSwapSize)
	}
	unlock, err := s.lock(ctx, key)
	if err != nil {
		return "", err
	}
	defer unlock()
	_, cur, err := s.Load(ctx, key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		cur = ""
	case err != nil:
		return "", fmt.Errorf("swap %s: %w", key, err)
	}
	if cur != want {
		return "", fmt.Errorf("swap %s: %w", key, storage.ErrConflict)
	}
	if _, err := s.Put(ctx, key, bytes.NewReader(content)); err != nil {
		return "", err
	}
	return version(content), nil
}

// lock takes the exclusive lock of key's lock file, waiting until ctx ends.
func (s *Store) lock(ctx context.Context, key string) (unlock func(), err error) {
	dst := s.path(key)
	if err := s.mkdirAll(filepath.Dir(dst)); err != nil {
		return nil, s.describe("lock "+key, err)
	}
	name := filepath.Join(filepath.Dir(dst), lockPrefix+filepath.Base(dst))
	// O_RDWR: an exclusive lock on NFS is a POSIX write lock, which needs a writable file.
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, s.describe("lock "+key, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, s.describe("lock "+key, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", key, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}
