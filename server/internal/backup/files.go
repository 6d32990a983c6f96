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
	"unicode/utf8"

	"filippo.io/age"
	"golang.org/x/sync/errgroup"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
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
	sum       sum256
	known     bool // sum is known (from the previous index, or hashed)
	unchanged bool // known from the previous index without reading the file
	hashed    bool
	skip      bool // vanished before it could be read
	done      chan struct{}
	err       error
}

// copyFiles copies the file store into the pool and writes the file index.
//
// Incremental: the previous backup's index (streamed alongside the walk; both are in path
// order) gives the SHA-256 of every file whose path, size and modification time are unchanged,
// without reading it. Other files are read once to hash them. A file whose content is not in a
// destination's pool (listed once at the start, plus what this run uploaded) is then read again
// to upload it, compressed and encrypted, to pool/<sha[0:2]>/<sha>; its hash is checked again
// on the way, and an object whose content changed meanwhile is abandoned (never stored under a
// wrong name) and the file read afresh. Reading twice is cheap for a local folder (the page
// cache keeps small files); for an S3 file store it doubles the GETs and the bytes read for new
// and changed files only: the pool key must be known before the upload starts, and a
// server-side copy from a temporary key is not possible when the stored bytes are encrypted
// and compressed differently than the source.
func (r *run) copyFiles(ctx context.Context) error {
	prev := r.openPreviousIndex(ctx)
	defer prev.close()

	index, err := newSink(ctx, r.dests, r.key(indexName), ComponentFilesIndex, r.encs, r.indexRecipients, false, &r.progress.written)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	pending := make(chan *fileJob, indexWindow)
	work := make(chan *fileJob, r.o.FileWorkers)
	fl := &flights{m: map[sum256]chan struct{}{}}

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
		bw := bufio.NewWriterSize(index, 64<<10)
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		var st FileStats
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
			err := enc.Encode(IndexEntry{Path: j.f.Path, Size: j.f.Size, ModTime: j.f.ModTime.UTC(), SHA256: hex.EncodeToString(j.sum[:])})
			if err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
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
	obj, err := index.close(nil)
	if err != nil {
		return err
	}
	for _, d := range r.dests {
		d.addObject(obj)
	}
	for _, d := range r.dests {
		if err := d.pool.checkUsed(ctx, d.Store); err != nil {
			return fmt.Errorf("destination %s: %w", d.Name, err)
		}
	}
	return nil
}

// inEveryPool reports whether every destination already holds content h.
func (r *run) inEveryPool(h sum256) bool {
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
	m  map[sum256]chan struct{}
}

// claim returns the destinations lacking h, which the caller must upload to and then release;
// or, when another worker is uploading h, a channel closed when it is done.
func (r *run) claim(fl *flights, h sum256) (need []*destState, wait chan struct{}) {
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

func (r *run) release(fl *flights, h sum256, need []*destState, obj *Object) {
	if obj != nil {
		for _, d := range need {
			d.pool.add(h)
			d.mu.Lock()
			d.files.NewPoolObjects++
			d.files.BytesUploaded += obj.Size
			d.mu.Unlock()
		}
	}
	fl.mu.Lock()
	ch := fl.m[h]
	delete(fl.m, h)
	fl.mu.Unlock()
	close(ch)
}

// processFile finds a file's hash if unknown and uploads its content where it is missing.
func (r *run) processFile(ctx context.Context, fl *flights, j *fileJob, buf []byte) error {
	for attempt := 0; ; attempt++ {
		if !j.known {
			sum, n, err := r.hashFile(ctx, j.f.Path, buf)
			if errors.Is(err, fs.ErrNotExist) {
				j.skip = true
				return nil
			}
			if err != nil {
				return err
			}
			j.sum, j.known, j.unchanged, j.hashed = sum, true, false, true
			j.f.Size = n // what was hashed, should the file have changed since the walk
		}
		need, wait := r.claim(fl, j.sum)
		if wait != nil {
			select {
			case <-wait:
				continue // uploaded by another worker, or to be tried again
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if len(need) == 0 {
			return nil
		}
		obj, err := r.upload(ctx, j, need, buf)
		if err != nil {
			r.release(fl, j.sum, need, nil)
		} else {
			r.release(fl, j.sum, need, &obj)
			return nil
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			j.skip = true
			return nil
		case errors.Is(err, errContentChanged) && attempt < maxContentRetries:
			j.known = false
			continue
		case errors.Is(err, errContentChanged):
			return fmt.Errorf("%s kept changing while it was read (%d tries): %w", j.f.Path, maxContentRetries+1, err)
		}
		return err
	}
}

// hashFile reads a file once and returns its SHA-256 and size.
func (r *run) hashFile(ctx context.Context, path string, buf []byte) (sum256, int64, error) {
	var sum sum256
	rc, err := r.o.Files.Open(ctx, path)
	if err != nil {
		return sum, 0, fmt.Errorf("read %s: %w", path, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, readerOnly{rc}, buf)
	r.progress.read.Add(n)
	if err != nil {
		return sum, n, fmt.Errorf("read %s: %w", path, err)
	}
	h.Sum(sum[:0])
	return sum, n, nil
}

// upload stores a file's content as a pool object at the destinations in need.
func (r *run) upload(ctx context.Context, j *fileJob, need []*destState, buf []byte) (Object, error) {
	rc, err := r.o.Files.Open(ctx, j.f.Path)
	if err != nil {
		return Object{}, fmt.Errorf("read %s: %w", j.f.Path, err)
	}
	defer rc.Close()
	sumHex := hex.EncodeToString(j.sum[:])
	s, err := newSink(ctx, need, PoolKey(sumHex), "pool", r.encs, r.recipients, true, &r.progress.written)
	if err != nil {
		return Object{}, err
	}
	n, err := io.CopyBuffer(s, readerOnly{rc}, buf)
	r.progress.read.Add(n)
	if err != nil {
		return Object{}, s.abort(fmt.Errorf("copy %s to the pool: %w", j.f.Path, err))
	}
	obj, err := s.close(j.sum[:])
	if err != nil {
		if errors.Is(err, errContentChanged) {
			return Object{}, err
		}
		return Object{}, fmt.Errorf("copy %s to the pool: %w", j.f.Path, err)
	}
	return obj, nil
}

// readerOnly hides a reader's WriterTo, so that io.CopyBuffer uses the buffer it is given.
type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }

// prevIndex is the previous backup's file index, read alongside the walk.
type prevIndex struct {
	rc  io.ReadCloser
	dec *json.Decoder
	cur IndexEntry
	sum sum256
	ok  bool
	err error
}

type prevEntry struct {
	IndexEntry
	sum sum256
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
		rc, err := OpenObject(ctx, d.Store, m.Object(ComponentFilesIndex).Key, ids)
		if err != nil {
			r.warn("the file index of backup %s at %s cannot be read (%v): every file is read again", m.ID, d.Name, err)
			continue
		}
		p := &prevIndex{rc: rc, dec: json.NewDecoder(bufio.NewReaderSize(rc, 64<<10))}
		p.next()
		return p
	}
	return nil
}

func (p *prevIndex) next() {
	var e IndexEntry
	if err := p.dec.Decode(&e); err != nil {
		p.ok = false
		if !errors.Is(err, io.EOF) {
			p.err = err
		}
		return
	}
	sum, ok := parseSum(e.SHA256)
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
