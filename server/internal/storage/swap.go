package storage

import (
	"context"
	"errors"
)

// Swapper is a Store that can replace a small object only if it is still the version the caller
// read: a compare-and-swap, so that two machines sharing a destination (two operators running
// drctl failover, or drctl and the plugin) can never both win. S3 does it with conditional
// writes (If-None-Match / If-Match on the ETag); a folder with an exclusive file lock held
// while comparing and renaming (flock, which Linux NFS clients map to POSIX locks).
type Swapper interface {
	// Load returns the object's content and its version; ErrNotFound when absent. Objects
	// larger than MaxSwapSize are refused: what Swap writes is small, anything else is not ours.
	Load(ctx context.Context, key string) (content []byte, version string, err error)
	// Swap stores content under key if the object is still at version ("" means: only if there
	// is no object) and returns the new version; ErrConflict when another writer came first.
	Swap(ctx context.Context, key string, content []byte, version string) (newVersion string, err error)
}

// MaxSwapSize is the largest object Load reads and Swap writes.
const MaxSwapSize = 8 << 20

// ErrConflict is wrapped by Swap when the object is no longer at the version given:
// errors.Is(err, storage.ErrConflict). Load again, and decide again.
var ErrConflict = errors.New("the object was changed by another writer since it was read")
