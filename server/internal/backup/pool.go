package backup

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// hashSet is the pool objects of one encoding at a destination: the hashes listed at the start
// of the run (sorted, 32 bytes each, so a million objects take 32 MB) plus those stored since.
// used marks the listed hashes this run relies on without storing them, for the final check.
type hashSet struct {
	sorted []format.Sum
	used   []atomic.Uint64
	mu     sync.Mutex
	added  map[format.Sum]struct{}
}

// poolSet is what a destination's pool holds, in each encoding.
type poolSet struct {
	zstd, raw hashSet
	// allowRaw: raw objects may stand for content. Not in encrypted runs: an encrypted backup
	// must not refer to content stored in the clear.
	allowRaw bool
}

func newPoolSet(allowRaw bool) *poolSet {
	return &poolSet{
		zstd:     hashSet{added: map[format.Sum]struct{}{}},
		raw:      hashSet{added: map[format.Sum]struct{}{}},
		allowRaw: allowRaw,
	}
}

func (p *poolSet) load(ctx context.Context, s storage.Store) error {
	err := format.ListPoolObjects(ctx, s, func(h format.Sum, raw bool, _ storage.ObjectInfo) error {
		switch {
		case !raw:
			p.zstd.sorted = append(p.zstd.sorted, h)
		case p.allowRaw:
			p.raw.sorted = append(p.raw.sorted, h)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list the pool: %w", err)
	}
	p.zstd.seal()
	p.raw.seal()
	return nil
}

func (hs *hashSet) seal() {
	if !sort.SliceIsSorted(hs.sorted, func(i, j int) bool { return bytes.Compare(hs.sorted[i][:], hs.sorted[j][:]) < 0 }) {
		sort.Slice(hs.sorted, func(i, j int) bool { return bytes.Compare(hs.sorted[i][:], hs.sorted[j][:]) < 0 })
	}
	hs.sorted = append([]format.Sum(nil), hs.sorted...) // drop the growth slack
	hs.used = make([]atomic.Uint64, (len(hs.sorted)+63)/64)
}

func (hs *hashSet) find(h format.Sum) int {
	i := sort.Search(len(hs.sorted), func(i int) bool { return bytes.Compare(hs.sorted[i][:], h[:]) >= 0 })
	if i < len(hs.sorted) && hs.sorted[i] == h {
		return i
	}
	return -1
}

// has reports whether the set holds h; a hash found in the initial listing is marked used.
func (hs *hashSet) has(h format.Sum) bool {
	if i := hs.find(h); i >= 0 {
		hs.used[i/64].Or(1 << (i % 64))
		return true
	}
	hs.mu.Lock()
	_, ok := hs.added[h]
	hs.mu.Unlock()
	return ok
}

func (hs *hashSet) add(h format.Sum) {
	hs.mu.Lock()
	hs.added[h] = struct{}{}
	hs.mu.Unlock()
}

// has reports whether the pool holds content h in a usable encoding.
func (p *poolSet) has(h format.Sum) bool {
	_, ok := p.encoding(h)
	return ok
}

// encoding returns the IndexEntry.Enc of the object holding h that the run uses: the zstd one
// when both exist, so that the choice is the same wherever it is asked.
func (p *poolSet) encoding(h format.Sum) (string, bool) {
	if p.zstd.has(h) {
		return "", true
	}
	if p.allowRaw && p.raw.has(h) {
		return format.EncodingRaw, true
	}
	return "", false
}

// holdsRaw reports whether the initial listing found raw objects the run may use.
func (p *poolSet) holdsRaw() bool { return p.allowRaw && len(p.raw.sorted) > 0 }

func (p *poolSet) add(h format.Sum, raw bool) {
	if raw {
		p.raw.add(h)
	} else {
		p.zstd.add(h)
	}
}

// usedCursor walks a hashSet's used hashes alongside a pool listing, collecting those the
// listing lacks.
type usedCursor struct {
	hs      *hashSet
	raw     bool
	next    int // index into sorted of the next used hash to find
	missing []string
}

func (c *usedCursor) advance() {
	for c.next < len(c.hs.sorted) && c.hs.used[c.next/64].Load()&(1<<(c.next%64)) == 0 {
		c.next++
	}
}

func (c *usedCursor) key(i int) string {
	sum := hex.EncodeToString(c.hs.sorted[i][:])
	if c.raw {
		return format.RawPoolKey(sum)
	}
	return format.PoolKey(sum)
}

// listed is called with each listed hash, in order.
func (c *usedCursor) listed(h format.Sum) {
	for c.next < len(c.hs.sorted) && bytes.Compare(c.hs.sorted[c.next][:], h[:]) < 0 {
		c.missing = append(c.missing, c.key(c.next))
		c.next++
		c.advance()
	}
	if c.next < len(c.hs.sorted) && c.hs.sorted[c.next] == h {
		c.next++
		c.advance()
	}
}

func (c *usedCursor) end() {
	for ; c.next < len(c.hs.sorted); c.advance() {
		c.missing = append(c.missing, c.key(c.next))
		c.next++
	}
}

// checkUsed lists the pool again and fails if an object this run relies on without having
// stored it has gone meanwhile (removed by a PrunePool running at the same time): the backup
// would otherwise refer to missing content.
func (p *poolSet) checkUsed(ctx context.Context, s storage.Store) error {
	z, raw := &usedCursor{hs: &p.zstd}, &usedCursor{hs: &p.raw, raw: true}
	z.advance()
	raw.advance()
	err := format.ListPoolObjects(ctx, s, func(h format.Sum, isRaw bool, _ storage.ObjectInfo) error {
		if isRaw {
			raw.listed(h)
		} else {
			z.listed(h)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list the pool: %w", err)
	}
	z.end()
	raw.end()
	missing := append(z.missing, raw.missing...) //nolint:gocritic // z.missing is not used again
	if len(missing) > 0 {
		return fmt.Errorf("%d pool objects this backup uses disappeared while it ran (%s…): was the pool pruned at the same time? Run the backup again",
			len(missing), missing[0])
	}
	return nil
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
func PrunePool(ctx context.Context, s storage.Store, o PruneOptions) (deleted int, err error) {
	if o.now == nil {
		o.now = time.Now
	}
	if o.Grace <= 0 {
		o.Grace = DefaultPruneGrace
	}
	folders, err := format.ListFolders(ctx, s)
	if err != nil {
		return 0, err
	}
	cutoff := o.now().Add(-o.Grace)
	for _, f := range folders {
		if !f.HasManifest && f.Oldest.Before(cutoff) {
			cutoff = f.Oldest
		}
	}
	cutoff = cutoff.Add(-time.Minute) // clock differences between this server and the store

	// Each encoding of a content is its own object, kept only when an index refers to it in
	// that encoding.
	type entry struct {
		h    format.Sum
		raw  bool
		keep bool
	}
	less := func(a, b entry) bool {
		if c := bytes.Compare(a.h[:], b.h[:]); c != 0 {
			return c < 0
		}
		return !a.raw && b.raw
	}
	var pool []entry
	err = format.ListPoolObjects(ctx, s, func(h format.Sum, raw bool, info storage.ObjectInfo) error {
		pool = append(pool, entry{h: h, raw: raw, keep: !info.ModTime.Before(cutoff)})
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("list the pool at %s: %w", s, err)
	}
	sort.Slice(pool, func(i, j int) bool { return less(pool[i], pool[j]) })
	find := func(h format.Sum, raw bool) int {
		want := entry{h: h, raw: raw}
		i := sort.Search(len(pool), func(i int) bool { return !less(pool[i], want) })
		if i < len(pool) && pool[i].h == h && pool[i].raw == raw {
			return i
		}
		return -1
	}
	for _, f := range folders {
		if !f.HasManifest {
			continue
		}
		m, err := format.ReadManifest(ctx, s, f.ID)
		if err != nil {
			return 0, fmt.Errorf("nothing pruned: %w", err)
		}
		if !m.Components.Files || m.Object(format.ComponentFilesIndex) == nil {
			continue
		}
		err = format.ReadIndex(ctx, s, m, o.Identities, func(e format.IndexEntry) error {
			h, ok := format.ParseSum(e.SHA256)
			if !ok {
				return fmt.Errorf("backup %s: invalid sha256 %q in the file index", m.ID, e.SHA256)
			}
			if e.Enc != "" && e.Enc != format.EncodingRaw {
				return fmt.Errorf("backup %s: pool encoding %q of %s is unknown to this plugin version", m.ID, e.Enc, e.Path)
			}
			if i := find(h, e.Enc == format.EncodingRaw); i >= 0 {
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
	again, err := format.ListFolders(ctx, s)
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
		key := format.PoolKey(hex.EncodeToString(e.h[:]))
		if e.raw {
			key = format.RawPoolKey(hex.EncodeToString(e.h[:]))
		}
		if err := s.Delete(ctx, key); err != nil {
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

func sameFolders(a, b []*format.Folder) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].HasManifest != b[i].HasManifest {
			return false
		}
	}
	return true
}
