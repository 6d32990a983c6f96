package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
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
	SHA256  string    `json:"sha256"` // of the plain content; the pool object is e.PoolKey()
	// Enc is how the pool object holds the content at this destination: "" (absent) for
	// zstd, age-encrypted when the backup is, at PoolKey(SHA256); EncodingRaw for the content
	// as is, at RawPoolKey(SHA256). Recorded, never guessed from the object's first bytes: a
	// file may itself be a zstd or age file.
	Enc string `json:"enc,omitempty"`
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

type sum256 = [32]byte

// parsePoolKey returns the hash a pool key names and whether it is a raw object's.
func parsePoolKey(key string) (h sum256, raw, ok bool) {
	rest, ok := strings.CutPrefix(key, poolPrefix)
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

// hashSet is the pool objects of one encoding at a destination: the hashes listed at the start
// of the run (sorted, 32 bytes each, so a million objects take 32 MB) plus those stored since.
// used marks the listed hashes this run relies on without storing them, for the final check.
type hashSet struct {
	sorted []sum256
	used   []atomic.Uint64
	mu     sync.Mutex
	added  map[sum256]struct{}
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
		zstd:     hashSet{added: map[sum256]struct{}{}},
		raw:      hashSet{added: map[sum256]struct{}{}},
		allowRaw: allowRaw,
	}
}

// listPoolObjects calls fn for every well-formed, non-empty pool object of either encoding, in
// key order: by hash, a content's zstd object before its raw one.
func listPoolObjects(ctx context.Context, s Store, fn func(h sum256, raw bool, o storage.ObjectInfo) error) error {
	return s.List(ctx, poolPrefix, func(o storage.ObjectInfo) error {
		h, raw, ok := parsePoolKey(o.Key)
		// An empty object is never valid: a zstd frame is not empty, and empty files are never
		// copied raw.
		if !ok || o.Size == 0 {
			return nil
		}
		return fn(h, raw, o)
	})
}

func (p *poolSet) load(ctx context.Context, s Store) error {
	err := listPoolObjects(ctx, s, func(h sum256, raw bool, _ storage.ObjectInfo) error {
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
	hs.sorted = append([]sum256(nil), hs.sorted...) // drop the growth slack
	hs.used = make([]atomic.Uint64, (len(hs.sorted)+63)/64)
}

func (hs *hashSet) find(h sum256) int {
	i := sort.Search(len(hs.sorted), func(i int) bool { return bytes.Compare(hs.sorted[i][:], h[:]) >= 0 })
	if i < len(hs.sorted) && hs.sorted[i] == h {
		return i
	}
	return -1
}

// has reports whether the set holds h; a hash found in the initial listing is marked used.
func (hs *hashSet) has(h sum256) bool {
	if i := hs.find(h); i >= 0 {
		hs.used[i/64].Or(1 << (i % 64))
		return true
	}
	hs.mu.Lock()
	_, ok := hs.added[h]
	hs.mu.Unlock()
	return ok
}

func (hs *hashSet) add(h sum256) {
	hs.mu.Lock()
	hs.added[h] = struct{}{}
	hs.mu.Unlock()
}

// has reports whether the pool holds content h in a usable encoding.
func (p *poolSet) has(h sum256) bool {
	_, ok := p.encoding(h)
	return ok
}

// encoding returns the IndexEntry.Enc of the object holding h that the run uses: the zstd one
// when both exist, so that the choice is the same wherever it is asked.
func (p *poolSet) encoding(h sum256) (string, bool) {
	if p.zstd.has(h) {
		return "", true
	}
	if p.allowRaw && p.raw.has(h) {
		return EncodingRaw, true
	}
	return "", false
}

// holdsRaw reports whether the initial listing found raw objects the run may use.
func (p *poolSet) holdsRaw() bool { return p.allowRaw && len(p.raw.sorted) > 0 }

func (p *poolSet) add(h sum256, raw bool) {
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
		return RawPoolKey(sum)
	}
	return PoolKey(sum)
}

// listed is called with each listed hash, in order.
func (c *usedCursor) listed(h sum256) {
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
func (p *poolSet) checkUsed(ctx context.Context, s Store) error {
	z, raw := &usedCursor{hs: &p.zstd}, &usedCursor{hs: &p.raw, raw: true}
	z.advance()
	raw.advance()
	err := listPoolObjects(ctx, s, func(h sum256, isRaw bool, _ storage.ObjectInfo) error {
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

	// Each encoding of a content is its own object, kept only when an index refers to it in
	// that encoding.
	type entry struct {
		h    sum256
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
	err = listPoolObjects(ctx, s, func(h sum256, raw bool, info storage.ObjectInfo) error {
		pool = append(pool, entry{h: h, raw: raw, keep: !info.ModTime.Before(cutoff)})
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("list the pool at %s: %w", s, err)
	}
	sort.Slice(pool, func(i, j int) bool { return less(pool[i], pool[j]) })
	find := func(h sum256, raw bool) int {
		want := entry{h: h, raw: raw}
		i := sort.Search(len(pool), func(i int) bool { return !less(pool[i], want) })
		if i < len(pool) && pool[i].h == h && pool[i].raw == raw {
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
			if e.Enc != "" && e.Enc != EncodingRaw {
				return fmt.Errorf("backup %s: pool encoding %q of %s is unknown to this plugin version", m.ID, e.Enc, e.Path)
			}
			if i := find(h, e.Enc == EncodingRaw); i >= 0 {
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
		key := PoolKey(hex.EncodeToString(e.h[:]))
		if e.raw {
			key = RawPoolKey(hex.EncodeToString(e.h[:]))
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
// and decompressed, or read as is when stored raw (e.Enc). Verify and restore read files only
// through it; e must come from the index of the backup at s, whose Enc is per destination.
func OpenFile(ctx context.Context, s Store, e IndexEntry, identities []age.Identity) (io.ReadCloser, error) {
	want, ok := parseSum(e.SHA256)
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
	want sum256
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
		var got sum256
		if c.h.Sum(got[:0]); got != c.want {
			err = fmt.Errorf("%s is damaged: its content does not have the SHA-256 it is stored under", c.key)
		}
		c.err = err
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.rc.Close() }
