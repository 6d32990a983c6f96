package backup

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"filippo.io/age"
	"golang.org/x/sync/errgroup"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
)

// indexWindow bounds the files in flight between the walk and the index writer, which writes
// them in walk order: a large file being copied holds back at most this many small ones.
const indexWindow = 1024

// maxContentRetries is how often a file whose content changed between reading it for its
// hash and uploading it is read again.
const maxContentRetries = 3

// fileJob is one file of the walk, on its way to the index.
type fileJob struct {
	f         filesource.File
	sum       format.Sum
	known     bool // sum is known (from the previous index, or hashed)
	unchanged bool // known from the previous index without reading the file
	hashed    bool
	skip      bool // vanished before it could be read
	// added is when the previous index says the file appeared, when it lists it unchanged.
	added time.Time
	// pin is where the hashed bytes are in the file store's bucket, and their version, when
	// a destination may copy them server-side (see setupCopies).
	pin  *s3.CopySource
	done chan struct{}
	err  error
}

// copyFiles copies the file store into the pool and writes the file index.
//
// Incremental: the previous backup's index (streamed alongside the walk; both are in path
// order) gives the SHA-256 of every file whose path, size and modification time are unchanged,
// without reading it. Other files are read once to hash them. A file whose content is not in a
// destination's pool (listed once at the start, plus what this run stored) is then read again
// to upload it, compressed and encrypted, to pool/<sha[0:2]>/<sha>; its hash is checked again
// on the way, and an object whose content changed meanwhile is abandoned (never stored under a
// wrong name) and the file read afresh. Reading twice is cheap for a local folder (the page
// cache keeps small files). From an S3 file store, a destination that can copy server-side
// (setupCopies) gets the content copied by the S3 service instead, as is, to
// pool/<sha[0:2]>/<sha>.raw: the file is read once, to hash it, and the copy is pinned to the
// version read (If-Match on its ETag, and its version ID in a versioned bucket), so that
// content that changed meanwhile is never stored under the old hash either.
//
// The index records, per entry, the encoding of the pool object it names (IndexEntry.Enc),
// which may differ between destinations: a destination that may hold raw objects gets an index
// of its own; the others share one.
func (r *run) copyFiles(ctx context.Context) error {
	prev := r.openPreviousIndex(ctx)
	defer prev.close()
	if prev != nil {
		r.prevIndex = prev.id
	}
	r.setupCopies()

	index, err := r.newIndexSinks(ctx)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	pending := make(chan *fileJob, indexWindow)
	work := make(chan *fileJob, r.o.FileWorkers)
	fl := &flights{m: map[format.Sum]chan struct{}{}}

	// The walk: streamed, compared with the previous index, handed to the workers only when
	// there is something to read.
	g.Go(func() error {
		defer close(pending)
		defer close(work)
		var last string
		var badNames int64
		first := true
		err := r.o.Files.Walk(gctx, func(f filesource.File) error {
			if !first && f.Path <= last {
				return fmt.Errorf("the file source %s listed %q after %q: not in path order", r.o.Files, f.Path, last)
			}
			first, last = false, f.Path
			if !utf8.ValidString(f.Path) {
				badNames++
				return nil
			}
			r.progress.filesTotal.Add(1)
			j := &fileJob{f: f, done: make(chan struct{})}
			if e, ok := prev.lookup(f.Path); ok && e.Size == f.Size && e.ModTime.Equal(f.ModTime) {
				j.sum, j.known, j.unchanged = e.sum, true, true
				j.added = e.AddedAt(prev.started)
			}
			select {
			case pending <- j:
			case <-gctx.Done():
				return gctx.Err()
			}
			if j.known && r.inEveryPool(j.sum) {
				close(j.done)
				return nil
			}
			select {
			case work <- j:
			case <-gctx.Done():
				return gctx.Err()
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("list the files of %s: %w", r.o.Files, err)
		}
		if badNames > 0 {
			r.warn("%d files were left out: their names are not valid UTF-8", badNames)
			r.mu.Lock()
			r.files.Skipped += badNames
			r.mu.Unlock()
		}
		r.progress.counted.Store(true)
		return nil
	})

	for range r.o.FileWorkers {
		g.Go(func() error {
			buf := make([]byte, copyBufSize)
			for j := range work {
				j.err = r.processFile(gctx, fl, j, buf)
				close(j.done)
				if j.err != nil {
					return j.err
				}
			}
			return nil
		})
	}

	// The index, in walk order.
	g.Go(func() error {
		var st format.FileStats
		for j := range pending {
			select {
			case <-j.done:
			case <-gctx.Done():
				return gctx.Err()
			}
			if j.err != nil {
				return j.err
			}
			if j.hashed {
				st.Hashed++
			}
			r.progress.filesDone.Add(1)
			if j.skip {
				st.Skipped++
				continue
			}
			if j.unchanged {
				st.Unchanged++
			}
			st.Count++
			st.Bytes += j.f.Size
			e := format.IndexEntry{Path: j.f.Path, Size: j.f.Size, ModTime: j.f.ModTime.UTC(), SHA256: hex.EncodeToString(j.sum[:]),
				Added: r.added(j, prev)}
			if err := index.write(e, j.sum); err != nil {
				return err
			}
		}
		if err := index.flush(); err != nil {
			return err
		}
		r.mu.Lock()
		r.files.Count, r.files.Bytes = st.Count, st.Bytes
		r.files.Unchanged, r.files.Hashed = st.Unchanged, st.Hashed
		r.files.Skipped += st.Skipped
		r.mu.Unlock()
		return nil
	})

	if err := g.Wait(); err != nil {
		return index.abort(err)
	}
	if err := prev.failed(); err != nil {
		r.warn("the previous file index could not be read to its end (%v): the files after that point were read again", err)
	}
	if r.files.Skipped > 0 {
		r.warn("%d files vanished or could not be named during the backup and are not in it", r.files.Skipped)
	}
	if err := index.close(); err != nil {
		return err
	}
	for _, d := range r.dests {
		if err := d.pool.checkUsed(ctx, d.Store); err != nil {
			return fmt.Errorf("destination %s: %w", d.Name, err)
		}
	}
	return nil
}

// added is when the file of j appeared in the file store, as the index records it.
//
// A file the previous index lists unchanged keeps the time recorded there. Any other file
// (new, or changed since) appeared after the previous backup's walk passed it, so after that
// backup's start, and before this run's walk reached it: its modification time in the file
// store (its upload time), kept within those bounds should the store's clock be off or the file
// carry an older time (copied in with its times kept). Without a previous index there is no
// lower bound. The time errs early rather than late: a point-in-time restore to T restores the
// entries added by T, and a file restored that the database at T does not name is harmless,
// while one missing that it names is a broken attachment.
func (r *run) added(j *fileJob, prev *prevIndex) time.Time {
	if j.unchanged && !j.added.IsZero() {
		return j.added.UTC()
	}
	t := j.f.ModTime
	if t.IsZero() || t.After(r.started) {
		t = r.started
	}
	if prev != nil && t.Before(prev.started) {
		t = prev.started
	}
	return t.UTC()
}

// inEveryPool reports whether every destination already holds content h.
func (r *run) inEveryPool(h format.Sum) bool {
	for _, d := range r.dests {
		if !d.pool.has(h) {
			return false
		}
	}
	return true
}

// flights are the pool uploads in progress, so that two files with the same new content are
// uploaded once: the second waits for the first.
type flights struct {
	mu sync.Mutex
	m  map[format.Sum]chan struct{}
}

// claim returns the destinations lacking h, which the caller must store it at and then release;
// or, when another worker is uploading h, a channel closed when it is done.
func (r *run) claim(fl *flights, h format.Sum) (need []*destState, wait chan struct{}) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if ch, ok := fl.m[h]; ok {
		return nil, ch
	}
	for _, d := range r.dests {
		if !d.pool.has(h) {
			need = append(need, d)
		}
	}
	if len(need) > 0 {
		fl.m[h] = make(chan struct{})
	}
	return need, nil
}

// release ends the claim on h. The pools must already hold what was stored, so that the
// workers waiting for h find it there.
func (r *run) release(fl *flights, h format.Sum) {
	fl.mu.Lock()
	ch := fl.m[h]
	delete(fl.m, h)
	fl.mu.Unlock()
	close(ch)
}

// stored records a new pool object at d: uploaded (zstd), or copied server-side (raw).
func (d *destState) stored(h format.Sum, raw bool, size int64) {
	d.pool.add(h, raw)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.files.NewPoolObjects++
	if raw {
		d.files.ServerSideCopied++
		d.files.BytesCopied += size
	} else {
		d.files.BytesUploaded += size
	}
}

// processFile finds a file's hash if unknown and stores its content where it is missing.
func (r *run) processFile(ctx context.Context, fl *flights, j *fileJob, buf []byte) error {
	changes := 0
	for {
		if !j.known {
			if err := r.hash(ctx, j, buf); err != nil || j.skip {
				return err
			}
		}
		need, wait := r.claim(fl, j.sum)
		if wait != nil {
			select {
			case <-wait:
				continue // stored by another worker, or to be tried again
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if len(need) == 0 {
			return nil
		}
		copyTo, uploadTo := r.splitCopies(need, j)
		if len(copyTo) > 0 && j.pin == nil {
			// Known from the previous index, so not read yet: a copy must know the version
			// it copies, so read it now (an upload would read it once too).
			r.release(fl, j.sum)
			before := j.sum
			if err := r.hash(ctx, j, buf); err != nil || j.skip {
				return err
			}
			j.unchanged = j.sum == before
			continue
		}
		err := r.store(ctx, j, copyTo, uploadTo, buf)
		r.release(fl, j.sum)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, fs.ErrNotExist):
			j.skip = true
			return nil
		case errors.Is(err, errContentChanged) && changes < maxContentRetries:
			changes++
			j.known, j.pin = false, nil
			continue
		case errors.Is(err, errContentChanged):
			return fmt.Errorf("%s kept changing while it was read (%d tries): %w", j.f.Path, maxContentRetries+1, err)
		}
		return err
	}
}

// hash reads j's file to find its hash (and, when it may be copied server-side, its version).
func (r *run) hash(ctx context.Context, j *fileJob, buf []byte) error {
	sum, n, pin, err := r.hashFile(ctx, j.f.Path, buf)
	if errors.Is(err, fs.ErrNotExist) {
		j.skip = true
		return nil
	}
	if err != nil {
		return err
	}
	j.sum, j.known, j.unchanged, j.hashed, j.pin = sum, true, false, true, pin
	j.f.Size = n // what was hashed, should the file have changed since the walk
	return nil
}

// store copies j's content to copyTo and uploads it to uploadTo (and to those of copyTo
// whose copy failed). Whatever was stored is recorded, even when the rest fails.
func (r *run) store(ctx context.Context, j *fileJob, copyTo, uploadTo []*destState, buf []byte) error {
	for _, d := range copyTo {
		fallback, err := r.copyFile(ctx, d, j)
		if err != nil {
			return err
		}
		if fallback {
			uploadTo = append(uploadTo, d)
			continue
		}
		d.stored(j.sum, true, j.pin.Version.Size)
	}
	if len(uploadTo) == 0 {
		return nil
	}
	obj, err := r.upload(ctx, j, uploadTo, buf)
	if err != nil {
		return err
	}
	for _, d := range uploadTo {
		d.stored(j.sum, false, obj.Size)
	}
	return nil
}

// hashFile reads a file once and returns its SHA-256 and size, and, when a destination may
// copy it server-side, the version of its object that was read.
func (r *run) hashFile(ctx context.Context, path string, buf []byte) (format.Sum, int64, *s3.CopySource, error) {
	var sum format.Sum
	var rc io.ReadCloser
	var pin s3.CopySource
	var err error
	if r.copySrc != nil {
		rc, pin, err = r.copySrc.OpenCopySource(ctx, path)
	} else {
		rc, err = r.o.Files.Open(ctx, path)
	}
	if err != nil {
		return sum, 0, nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, readerOnly{rc}, buf)
	r.progress.read.Add(n)
	if err != nil {
		return sum, n, nil, fmt.Errorf("read %s: %w", path, err)
	}
	h.Sum(sum[:0])
	if r.copySrc == nil || pin.Version.ETag == "" || pin.Version.Size != n {
		return sum, n, nil, nil // not copied: uploaded, and hashed again on the way
	}
	return sum, n, &pin, nil
}

// upload stores a file's content as a zstd (and age) pool object at the destinations in need.
func (r *run) upload(ctx context.Context, j *fileJob, need []*destState, buf []byte) (format.Object, error) {
	rc, err := r.o.Files.Open(ctx, j.f.Path)
	if err != nil {
		return format.Object{}, fmt.Errorf("read %s: %w", j.f.Path, err)
	}
	defer rc.Close()
	sumHex := hex.EncodeToString(j.sum[:])
	s, err := newSink(ctx, need, format.PoolKey(sumHex), "pool", r.encs, r.recipients, true, &r.progress.written)
	if err != nil {
		return format.Object{}, err
	}
	n, err := io.CopyBuffer(s, readerOnly{rc}, buf)
	r.progress.read.Add(n)
	if err != nil {
		return format.Object{}, s.abort(fmt.Errorf("copy %s to the pool: %w", j.f.Path, err))
	}
	obj, err := s.close(j.sum[:])
	if err != nil {
		if errors.Is(err, errContentChanged) {
			return format.Object{}, err
		}
		return format.Object{}, fmt.Errorf("copy %s to the pool: %w", j.f.Path, err)
	}
	return obj, nil
}

// indexSinks write the file index: one object shared by the destinations whose entries are
// the same (every pool object zstd), and one for each destination that may name raw objects,
// since the encoding of an entry's pool object is that destination's own.
type indexSinks []*indexSink

type indexSink struct {
	sink  *sink
	bw    *bufio.Writer
	enc   *json.Encoder
	dests []*destState
	own   bool // one destination, whose entries name the encoding of its pool object
}

func (r *run) newIndexSinks(ctx context.Context) (indexSinks, error) {
	var shared []*destState
	var groups [][]*destState
	for _, d := range r.dests {
		if d.copier != nil || d.pool.holdsRaw() {
			groups = append(groups, []*destState{d})
		} else {
			shared = append(shared, d)
		}
	}
	var out indexSinks
	if len(shared) > 0 {
		groups = append(groups, shared)
	}
	for _, g := range groups {
		s, err := newSink(ctx, g, r.key(indexName), format.ComponentFilesIndex, r.encs, r.indexRecipients, false, &r.progress.written)
		if err != nil {
			return nil, out.abort(err)
		}
		bw := bufio.NewWriterSize(s, 64<<10)
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		out = append(out, &indexSink{sink: s, bw: bw, enc: enc, dests: g, own: len(g) == 1 && (g[0].copier != nil || g[0].pool.holdsRaw())})
	}
	return out, nil
}

// write adds e, whose content is h, to every index.
func (x indexSinks) write(e format.IndexEntry, h format.Sum) error {
	for _, s := range x {
		e.Enc = ""
		if s.own {
			d := s.dests[0]
			enc, ok := d.pool.encoding(h)
			if !ok {
				return fmt.Errorf("destination %s: the content of %s is not in the pool", d.Name, e.Path)
			}
			if enc == format.EncodingRaw {
				d.rawRefs++
			}
			e.Enc = enc
		}
		if err := s.enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}

func (x indexSinks) flush() error {
	for _, s := range x {
		if err := s.bw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// close commits every index object, and records each at its destinations.
func (x indexSinks) close() error {
	for i, s := range x {
		obj, err := s.sink.close(nil)
		if err != nil {
			return x[i+1:].abort(err)
		}
		for _, d := range s.dests {
			d.addObject(obj)
		}
	}
	return nil
}

func (x indexSinks) abort(cause error) error {
	for _, s := range x {
		_ = s.sink.abort(cause)
	}
	return cause
}

// readerOnly hides a reader's WriterTo, so that io.CopyBuffer uses the buffer it is given.
type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }

// prevIndex is the previous backup's file index, read alongside the walk.
type prevIndex struct {
	id      string    // the backup of this index
	started time.Time // when it started
	rc      io.ReadCloser
	dec     *json.Decoder
	cur     format.IndexEntry
	sum     format.Sum
	ok      bool
	err     error
}

type prevEntry struct {
	format.IndexEntry
	sum format.Sum
}

// openPreviousIndex opens the newest readable file index among the destinations' previous
// backups. Without one, every file is hashed (a nil *prevIndex finds nothing).
func (r *run) openPreviousIndex(ctx context.Context) *prevIndex {
	var cands []*destState
	for _, d := range r.dests {
		if d.prevFiles != nil {
			cands = append(cands, d)
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].prevFiles.ID > cands[j].prevFiles.ID })
	for _, d := range cands {
		m := d.prevFiles
		var ids []age.Identity
		if m.Encryption.Encrypted {
			if r.o.IndexIdentity == nil || m.Encryption.IndexRecipient == "" || m.Encryption.IndexRecipient != r.indexPrint {
				r.warn("the file index of backup %s is encrypted without this plugin's index key: every file is read again to find "+
					"what changed (uploads stay incremental)", m.ID)
				continue
			}
			ids = []age.Identity{r.o.IndexIdentity}
		}
		rc, err := format.OpenObject(ctx, d.Store, m.Object(format.ComponentFilesIndex).Key, ids)
		if err != nil {
			r.warn("the file index of backup %s at %s cannot be read (%v): every file is read again", m.ID, d.Name, err)
			continue
		}
		p := &prevIndex{id: m.ID, started: m.StartedAt, rc: rc, dec: json.NewDecoder(bufio.NewReaderSize(rc, 64<<10))}
		p.next()
		return p
	}
	return nil
}

func (p *prevIndex) next() {
	var e format.IndexEntry
	if err := p.dec.Decode(&e); err != nil {
		p.ok = false
		if !errors.Is(err, io.EOF) {
			p.err = err
		}
		return
	}
	sum, ok := format.ParseSum(e.SHA256)
	if !ok {
		p.ok, p.err = false, fmt.Errorf("invalid sha256 %q for %s", e.SHA256, e.Path)
		return
	}
	p.cur, p.sum, p.ok = e, sum, true
}

// lookup returns the previous entry for path; paths must come in increasing order.
func (p *prevIndex) lookup(path string) (prevEntry, bool) {
	if p == nil {
		return prevEntry{}, false
	}
	for p.ok && p.cur.Path < path {
		p.next()
	}
	if p.ok && p.cur.Path == path {
		return prevEntry{IndexEntry: p.cur, sum: p.sum}, true
	}
	return prevEntry{}, false
}

func (p *prevIndex) failed() error {
	if p == nil {
		return nil
	}
	return p.err
}

func (p *prevIndex) close() {
	if p != nil {
		_ = p.rc.Close()
	}
}
