package backup

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// IndexEntry is one line of files.jsonl: a file of the file store.
type IndexEntry struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
	SHA256  string    `json:"sha256"` // of the plain content; the pool object is PoolKey(SHA256)
}

type sum256 = [32]byte

// parsePoolKey returns the hash a pool key names.
func parsePoolKey(key string) (sum256, bool) {
	var h sum256
	rest, ok := strings.CutPrefix(key, poolPrefix)
	if !ok || len(rest) != 3+64 || rest[2] != '/' || rest[:2] != rest[3:5] {
		return h, false
	}
	if _, err := hex.Decode(h[:], []byte(rest[3:])); err != nil || hex.EncodeToString(h[:]) != rest[3:] {
		return h, false
	}
	return h, true
}

func parseSum(s string) (sum256, bool) {
	var h sum256
	if len(s) != 64 {
		return h, false
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, false
	}
	return h, true
}

// poolSet is what a destination's pool holds: the hashes listed at the start of the run
// (sorted, 32 bytes each, so a million objects take 32 MB) plus those uploaded since. used
// marks the listed hashes this run relies on without uploading them, for the final check.
type poolSet struct {
	sorted []sum256
	used   []atomic.Uint64
	mu     sync.Mutex
	added  map[sum256]struct{}
}

func newPoolSet() *poolSet { return &poolSet{added: map[sum256]struct{}{}} }

// listPool calls fn for every well-formed, non-empty pool object, in key (= hash) order.
func listPool(ctx context.Context, s Store, fn func(sum256, storage.ObjectInfo) error) error {
	return s.List(ctx, poolPrefix, func(o storage.ObjectInfo) error {
		h, ok := parsePoolKey(o.Key)
		if !ok || o.Size == 0 { // an empty object is never valid (a zstd frame is not empty)
			return nil
		}
		return fn(h, o)
	})
}

func (p *poolSet) load(ctx context.Context, s Store) error {
	err := listPool(ctx, s, func(h sum256, _ storage.ObjectInfo) error {
		p.sorted = append(p.sorted, h)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list the pool: %w", err)
	}
	if !sort.SliceIsSorted(p.sorted, func(i, j int) bool { return bytes.Compare(p.sorted[i][:], p.sorted[j][:]) < 0 }) {
		sort.Slice(p.sorted, func(i, j int) bool { return bytes.Compare(p.sorted[i][:], p.sorted[j][:]) < 0 })
	}
	p.sorted = append([]sum256(nil), p.sorted...) // drop the growth slack
	p.used = make([]atomic.Uint64, (len(p.sorted)+63)/64)
	return nil
}

func (p *poolSet) find(h sum256) int {
	i := sort.Search(len(p.sorted), func(i int) bool { return bytes.Compare(p.sorted[i][:], h[:]) >= 0 })
	if i < len(p.sorted) && p.sorted[i] == h {
		return i
	}
	return -1
}

// has reports whether the pool holds h; a hash found in the initial listing is marked used.
func (p *poolSet) has(h sum256) bool {
	if i := p.find(h); i >= 0 {
		p.used[i/64].Or(1 << (i % 64))
		return true
	}
	p.mu.Lock()
	_, ok := p.added[h]
	p.mu.Unlock()
	return ok
}

func (p *poolSet) add(h sum256) {
	p.mu.Lock()
	p.added[h] = struct{}{}
	p.mu.Unlock()
}

// checkUsed lists the pool again and fails if an object this run relies on without having
// uploaded it has gone meanwhile (removed by a PrunePool running at the same time): the backup
// would otherwise refer to missing content.
func (p *poolSet) checkUsed(ctx context.Context, s Store) error {
	next := 0 // index into sorted of the next used hash to find
	advance := func() {
		for next < len(p.sorted) && p.used[next/64].Load()&(1<<(next%64)) == 0 {
			next++
		}
	}
	advance()
	var missing []string
	err := listPool(ctx, s, func(h sum256, _ storage.ObjectInfo) error {
		for next < len(p.sorted) && bytes.Compare(p.sorted[next][:], h[:]) < 0 {
			missing = append(missing, hex.EncodeToString(p.sorted[next][:]))
			next++
			advance()
		}
		if next < len(p.sorted) && p.sorted[next] == h {
			next++
			advance()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list the pool: %w", err)
	}
	for ; next < len(p.sorted); advance() {
		missing = append(missing, hex.EncodeToString(p.sorted[next][:]))
		next++
	}
	if len(missing) > 0 {
		return fmt.Errorf("%d pool objects this backup uses disappeared while it ran (%s…): was the pool pruned at the same time? Run the backup again",
			len(missing), PoolKey(missing[0]))
	}
	return nil
}

// ReadIndex streams the file index of backup m at s to fn, in path order. identities are
// needed when the index is encrypted: the backup's identity or the plugin's index identity.
func ReadIndex(ctx context.Context, s Store, m *Manifest, identities []age.Identity, fn func(IndexEntry) error) error {
	return readJSONLines(ctx, s, m, ComponentFilesIndex, "file index", identities, fn)
}

// ReadReferences streams the list of files the database of backup m refers to.
func ReadReferences(ctx context.Context, s Store, m *Manifest, identities []age.Identity, fn func(Reference) error) error {
	return readJSONLines(ctx, s, m, ComponentReferenced, "list of referenced files", identities, fn)
}

// readJSONLines streams the JSON-lines object of a component of backup m to fn, one value at
// a time.
func readJSONLines[T any](ctx context.Context, s Store, m *Manifest, component, what string, identities []age.Identity, fn func(T) error) error {
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

// DefaultPruneGrace is PruneOptions.Grace's default.
const DefaultPruneGrace = time.Hour

// PruneOptions configures PrunePool and Delete.
type PruneOptions struct {
	// Identities read encrypted file indexes: the plugin's index identity (Options.IndexIdentity)
	// or the backups' own. Without one, encrypted backups cannot be pruned and PrunePool says so.
	Identities []age.Identity
	// Grace keeps pool objects younger than this (default DefaultPruneGrace), besides those
	// newer than the oldest incomplete backup, which a running backup may be about to use.
	Grace time.Duration

	now func() time.Time
}

// PrunePool deletes the pool objects that no complete backup's file index refers to. It never
// deletes objects newer than the oldest incomplete (running, failed or crashed) backup folder,
// nor younger than o.Grace: a backup running meanwhile may have just uploaded them. It deletes
// nothing when any complete backup's manifest or index cannot be read. The plugin should not
// run it at the same time as a backup to the same destination: a backup that started before
// PrunePool's deletions and reuses an object it deletes fails its final check (no manifest),
// and has to be run again.
func PrunePool(ctx context.Context, s Store, o PruneOptions) (deleted int, err error) {
	if o.now == nil {
		o.now = time.Now
	}
	if o.Grace <= 0 {
		o.Grace = DefaultPruneGrace
	}
	folders, err := listFolders(ctx, s)
	if err != nil {
		return 0, err
	}
	cutoff := o.now().Add(-o.Grace)
	for _, f := range folders {
		if !f.hasManifest && f.oldest.Before(cutoff) {
			cutoff = f.oldest
		}
	}
	cutoff = cutoff.Add(-time.Minute) // clock differences between this server and the store

	type entry struct {
		h    sum256
		keep bool
	}
	var pool []entry
	err = listPool(ctx, s, func(h sum256, info storage.ObjectInfo) error {
		pool = append(pool, entry{h: h, keep: !info.ModTime.Before(cutoff)})
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("list the pool at %s: %w", s, err)
	}
	sort.Slice(pool, func(i, j int) bool { return bytes.Compare(pool[i].h[:], pool[j].h[:]) < 0 })
	find := func(h sum256) int {
		i := sort.Search(len(pool), func(i int) bool { return bytes.Compare(pool[i].h[:], h[:]) >= 0 })
		if i < len(pool) && pool[i].h == h {
			return i
		}
		return -1
	}
	for _, f := range folders {
		if !f.hasManifest {
			continue
		}
		m, err := ReadManifest(ctx, s, f.id)
		if err != nil {
			return 0, fmt.Errorf("nothing pruned: %w", err)
		}
		if !m.Components.Files || m.Object(ComponentFilesIndex) == nil {
			continue
		}
		err = ReadIndex(ctx, s, m, o.Identities, func(e IndexEntry) error {
			h, ok := parseSum(e.SHA256)
			if !ok {
				return fmt.Errorf("backup %s: invalid sha256 %q in the file index", m.ID, e.SHA256)
			}
			if i := find(h); i >= 0 {
				pool[i].keep = true
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("nothing pruned: the file index of backup %s at %s cannot be read (%w); "+
				"encrypted backups need the plugin's index identity or the backup identity", m.ID, s, err)
		}
	}
	// A backup that completed or started while the indexes were read: start again later.
	again, err := listFolders(ctx, s)
	if err != nil {
		return 0, err
	}
	if !sameFolders(folders, again) {
		return 0, errors.New("nothing pruned: backups were added or completed while the pool was checked; prune again")
	}
	var errs []error
	for _, e := range pool {
		if e.keep {
			continue
		}
		if err := s.Delete(ctx, PoolKey(hex.EncodeToString(e.h[:]))); err != nil {
			if ctx.Err() != nil {
				return deleted, ctx.Err()
			}
			errs = append(errs, err)
			continue
		}
		deleted++
	}
	if len(errs) > 0 {
		return deleted, fmt.Errorf("%d pool objects could not be deleted: %w", len(errs), errors.Join(errs[:min(len(errs), 5)]...))
	}
	return deleted, nil
}

func sameFolders(a, b []*folder) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].id != b[i].id || a[i].hasManifest != b[i].hasManifest {
			return false
		}
	}
	return true
}

// OpenFile opens the plain content of file e of a backup's index: its pool object, decrypted
// and decompressed. Verify and restore read files only through it.
func OpenFile(ctx context.Context, s Store, e IndexEntry, identities []age.Identity) (io.ReadCloser, error) {
	if _, ok := parseSum(e.SHA256); !ok {
		return nil, fmt.Errorf("file %s: invalid sha256 %q in the file index", e.Path, e.SHA256)
	}
	return OpenObject(ctx, s, PoolKey(e.SHA256), identities)
}
