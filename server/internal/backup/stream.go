package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// Destination is one place a backup is written to.
type Destination struct {
	Name    string // as shown to the admin and recorded in the manifest: "local", "s3"
	Store   storage.Store
	OffSite bool // another site or region than the server: a local folder is not
}

// Encoder settings. The window bounds the encoder's memory (a few times the window) and
// costs little ratio on database dumps and files; concurrency 1 keeps each encoder to one
// goroutine and its memory flat.
const (
	zstdWindow  = 4 << 20
	copyBufSize = 256 << 10
	maxEncoders = 16
)

// encoders is a pool of zstd encoders of one level: creating one allocates its tables.
type encoders struct {
	level zstd.EncoderLevel
	mu    sync.Mutex
	free  []*zstd.Encoder
}

func newEncoders(level int) *encoders {
	return &encoders{level: zstd.EncoderLevel(level)}
}

func (e *encoders) get(w io.Writer) (*zstd.Encoder, error) {
	e.mu.Lock()
	if n := len(e.free); n > 0 {
		enc := e.free[n-1]
		e.free = e.free[:n-1]
		e.mu.Unlock()
		enc.Reset(w)
		return enc, nil
	}
	e.mu.Unlock()
	return zstd.NewWriter(w,
		zstd.WithEncoderLevel(e.level),
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(zstdWindow),
		zstd.WithLowerEncoderMem(true),
		zstd.WithZeroFrames(true), // an empty file is still a valid zstd frame
	)
}

// put returns an encoder whose stream was closed without error.
func (e *encoders) put(enc *zstd.Encoder) {
	enc.Reset(io.Discard)
	e.mu.Lock()
	if len(e.free) < maxEncoders {
		e.free = append(e.free, enc)
	}
	e.mu.Unlock()
}

// putResult is what one destination's Put returned.
type putResult struct {
	dest *destState
	n    int64
	err  error
}

// sink writes one object to several destinations at once: what is written to it is
// compressed (zstd), encrypted (age, when there are recipients), hashed and counted as stored,
// and copied to one io.Pipe per destination, each read by that destination's Put. The bytes
// are the same for every destination. Nothing is buffered beyond the encoders' windows and
// the pipes hand over one chunk at a time, so a slow destination slows the writer down.
type sink struct {
	ctx       context.Context
	key       string
	component string
	encs      *encoders
	enc       *zstd.Encoder
	crypt     io.WriteCloser // nil when not encrypted
	plain     int64
	plainHash hash.Hash // nil unless the content's hash is checked (pool objects)
	stored    storedWriter
	results   chan putResult
	dests     []*destState
	done      bool
}

// storedWriter hashes and counts the stored bytes and copies them to every pipe.
type storedWriter struct {
	n       int64
	sum     hash.Hash
	pipes   []*io.PipeWriter
	names   []string
	counter *atomic.Int64 // progress: bytes stored, or nil
}

func (w *storedWriter) Write(p []byte) (int, error) {
	for i, pw := range w.pipes {
		if _, err := pw.Write(p); err != nil {
			if errors.Is(err, io.ErrClosedPipe) {
				err = fmt.Errorf("destination %s stopped reading", w.names[i])
			}
			return 0, err
		}
	}
	w.sum.Write(p)
	w.n += int64(len(p))
	if w.counter != nil {
		w.counter.Add(int64(len(p)))
	}
	return len(p), nil
}

// newSink starts one Put per destination. The caller must call close or abort.
func newSink(ctx context.Context, dests []*destState, key, component string, encs *encoders, recipients []age.Recipient, checkPlain bool, counter *atomic.Int64) (*sink, error) {
	s := &sink{ctx: ctx, key: key, component: component, encs: encs, results: make(chan putResult, len(dests)), dests: dests}
	s.stored.sum = sha256.New()
	s.stored.counter = counter
	for _, d := range dests {
		pr, pw := io.Pipe()
		s.stored.pipes = append(s.stored.pipes, pw)
		s.stored.names = append(s.stored.names, d.Name)
		go func(d *destState) {
			n, err := d.Store.Put(ctx, key, pr)
			if err != nil {
				err = fmt.Errorf("destination %s (%s): %w", d.Name, d.Store, err)
				_ = pr.CloseWithError(err)
			} else {
				_ = pr.Close()
			}
			s.results <- putResult{dest: d, n: n, err: err}
		}(d)
	}
	var out io.Writer = &s.stored
	if len(recipients) > 0 {
		cw, err := age.Encrypt(&s.stored, recipients...)
		if err != nil {
			_ = s.abort(err)
			return nil, fmt.Errorf("encrypt %s: %w", key, err)
		}
		s.crypt = cw
		out = cw
	}
	enc, err := encs.get(out)
	if err != nil {
		_ = s.abort(err)
		return nil, fmt.Errorf("compress %s: %w", key, err)
	}
	s.enc = enc
	if checkPlain {
		s.plainHash = sha256.New()
	}
	return s, nil
}

func (s *sink) Write(p []byte) (int, error) {
	n, err := s.enc.Write(p)
	s.plain += int64(n)
	if s.plainHash != nil {
		s.plainHash.Write(p[:n])
	}
	return n, err
}

// errContentChanged means a file's content no longer has the hash it was stored under.
var errContentChanged = errors.New("the content changed while it was read")

// close finishes the object: flushes the encoders, and only then ends the pipes, which
// commits the object at every destination (Put is atomic). wantPlain, when set, is the
// SHA-256 the plain content must have; otherwise the object is abandoned (errContentChanged).
func (s *sink) close(wantPlain []byte) (format.Object, error) {
	if err := s.enc.Close(); err != nil {
		s.enc = nil // not reused after a failure
		return format.Object{}, s.abort(err)
	}
	if s.crypt != nil {
		if err := s.crypt.Close(); err != nil {
			return format.Object{}, s.abort(err)
		}
	}
	if wantPlain != nil && s.plainHash != nil && !bytes.Equal(s.plainHash.Sum(nil), wantPlain) {
		return format.Object{}, s.abort(errContentChanged)
	}
	s.encs.put(s.enc)
	s.enc = nil
	s.done = true
	for _, pw := range s.stored.pipes {
		_ = pw.Close()
	}
	var errs []error
	for range s.dests {
		r := <-s.results
		switch {
		case r.err != nil:
			errs = append(errs, r.err)
		case r.n != s.stored.n:
			// A store that broke its contract: never leave a truncated object, least of all in
			// the pool, where its name would vouch for content it does not hold.
			_ = r.dest.Store.Delete(context.WithoutCancel(s.ctx), s.key)
			errs = append(errs, fmt.Errorf("destination %s stored %d bytes of %s instead of %d", r.dest.Name, r.n, s.key, s.stored.n))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return format.Object{}, err
	}
	return format.Object{
		Key:       s.key,
		Component: s.component,
		Size:      s.stored.n,
		SHA256:    hex.EncodeToString(s.stored.sum.Sum(nil)),
		PlainSize: s.plain,
	}, nil
}

// abort ends every Put with an error (so that none stores anything), waits for them, and
// returns cause. A write that failed because a destination failed carries that destination's
// error already. Safe to call after close.
func (s *sink) abort(cause error) error {
	if s.done {
		return cause
	}
	s.done = true
	s.enc = nil // not reused: its state is unknown
	if cause == nil {
		cause = errors.New("aborted")
	}
	for _, pw := range s.stored.pipes {
		_ = pw.CloseWithError(cause)
	}
	for range s.stored.pipes {
		<-s.results
	}
	return cause
}
