package walarchive

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// maxStored bounds what Fetch reads of one stored object: a 1 GiB segment (initdb's largest)
// plus what zstd and age may add to incompressible content.
const maxStored = 1<<30 + 1<<20

// System is wal/system.json: the cluster whose WAL the archive holds. WAL of another cluster
// has the same file names and would be replayed into the wrong database, so an archiver never
// writes into an archive of another system and a restore never reads one.
type System struct {
	SystemID       string    `json:"system_identifier"`
	WALSegmentSize int64     `json:"wal_segment_size"`
	CreatedAt      time.Time `json:"created_at"`
}

// encode compresses plain with zstd and encrypts it to recipients (when any): the stored form
// of an archive file, the same as a backup object's, so `zstd -d` (after `age -d`) reads it.
func encode(plain []byte, level int, recipients []age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	var w io.Writer = &buf
	var crypt io.WriteCloser
	if len(recipients) > 0 {
		var err error
		if crypt, err = age.Encrypt(&buf, recipients...); err != nil {
			return nil, err
		}
		w = crypt
	}
	enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.EncoderLevel(level)), zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true))
	if err != nil {
		return nil, err
	}
	if _, err := enc.Write(plain); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	if crypt != nil {
		if err := crypt.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// Reader reads the archive of one destination, trusting only what a trusted key signed.
type Reader struct {
	Store storage.Reader
	// Keys are the signing keys whose signature makes an archive file trusted.
	Keys []format.PublicKey
	// Identities decrypt an encrypted archive.
	Identities []age.Identity
}

// ErrNotArchived means the archive does not hold the file asked for: to PostgreSQL's recovery,
// the end of the archive.
var ErrNotArchived = errors.New("not in the WAL archive")

// readSigned reads the object at key and checks that a trusted key signed it.
func (r *Reader) readSigned(ctx context.Context, key string) ([]byte, error) {
	rc, err := r.Store.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxStored+1))
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", key, r.Store, err)
	}
	if len(b) > maxStored {
		return nil, fmt.Errorf("%s at %s is larger than any WAL file: refused", key, r.Store)
	}
	p, err := format.CheckProvenance(ctx, r.Store, key, b)
	if err != nil {
		return nil, err
	}
	if !p.Signed() {
		return nil, fmt.Errorf("%s at %s is not trusted (%s): it was not written by this server's archiver, or was changed since", key, r.Store, p.Problem)
	}
	for _, k := range r.Keys {
		if p.SignedBy(k) {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%s at %s is signed by %s, which is not a trusted key (--trust-key)", key, r.Store, p.Signer.Fingerprint())
}

// System reads and checks wal/system.json.
func (r *Reader) System(ctx context.Context) (*System, error) {
	b, err := r.readSigned(ctx, SystemKey)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("%s holds no WAL archive (no %s): continuous archiving was never set up for it", r.Store, SystemKey)
		}
		return nil, err
	}
	var s System
	if err := json.Unmarshal(b, &s); err != nil || s.SystemID == "" || !validSegmentSize(s.WALSegmentSize) {
		return nil, fmt.Errorf("%s at %s is damaged", SystemKey, r.Store)
	}
	return &s, nil
}

// Fetch writes archive file name (as PostgreSQL's restore_command asks for it: %f) to path
// (%p), checked: signed by a trusted key, decrypted, decompressed, and for a segment, its first
// page header must name this segment and timeline. With partialOK, the newest segment, still
// being written when the archive was last updated, is given from its .partial copy: recovery
// replays it up to its last complete record. It returns ErrNotArchived when the archive holds
// neither.
func (r *Reader) Fetch(ctx context.Context, sys *System, name, path string, partialOK bool) error {
	f, ok := ParseFile(name)
	if !ok || f.Partial {
		// PostgreSQL also asks for files the archive never holds (.backup, RECOVERYHISTORY…).
		return ErrNotArchived
	}
	plain, err := r.read(ctx, f)
	if errors.Is(err, ErrNotArchived) && partialOK && f.Segment {
		f.Partial = true
		plain, err = r.read(ctx, f)
	}
	if err != nil {
		return err
	}
	if f.Segment {
		if err := checkSegment(f, plain, sys.WALSegmentSize); err != nil {
			return err
		}
	}
	return writeFileAtomic(path, plain)
}

// read finds f's object (encrypted or not) and returns its plain content.
func (r *Reader) read(ctx context.Context, f File) ([]byte, error) {
	var stored []byte
	var key string
	for _, enc := range []bool{true, false} {
		key = f.Key(enc)
		b, err := r.readSigned(ctx, key)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		stored = b
		break
	}
	if stored == nil {
		return nil, ErrNotArchived
	}
	rc, err := format.Decode(io.NopCloser(bytes.NewReader(stored)), key, r.Identities)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	plain, err := io.ReadAll(io.LimitReader(rc, 1<<30+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return plain, nil
}

// WAL page header (PostgreSQL's XLogPageHeaderData): xlp_magic uint16, xlp_info uint16,
// xlp_tli uint32, xlp_pageaddr uint64, little-endian on every platform PostgreSQL runs on
// that this tool supports (amd64, arm64).
const pageHeaderLen = 16

// checkSegment checks that plain is a whole segment whose first page is the start of f: the
// signature proves who stored it; this proves the archiver stored what it meant to.
func checkSegment(f File, plain []byte, segSize int64) error {
	if int64(len(plain)) != segSize {
		return fmt.Errorf("WAL segment %s in the archive is %d bytes, not %d: damaged", f.Name, len(plain), segSize)
	}
	tli := binary.LittleEndian.Uint32(plain[4:8])
	addr := binary.LittleEndian.Uint64(plain[8:pageHeaderLen])
	if want := f.SegmentNo(segSize) * uint64(segSize); addr != want || tli > f.Timeline || tli == 0 {
		return fmt.Errorf("WAL segment %s in the archive holds the WAL at %s of timeline %d: not that segment", f.Name, FormatLSN(addr), tli)
	}
	return nil
}

// writeFileAtomic writes b to path through a temporary file beside it, so that PostgreSQL
// never reads half a segment.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".drctl-wal-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
