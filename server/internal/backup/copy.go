package backup

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
)

// copySource is a file source whose objects an S3 destination can copy server-side:
// filesource.S3 on an s3.Store.
type copySource interface {
	Bucket() *s3.Store
	OpenCopySource(ctx context.Context, path string) (io.ReadCloser, s3.CopySource, error)
}

// ServerSideCopier is a destination that can copy objects of the file store's bucket into
// itself without the data passing through this process (s3.Store). It is declared here, not in
// storage, because its source and errors are S3's own (s3.CopySource, s3.ErrSourceChanged).
type ServerSideCopier interface {
	// SameAccess reports whether this destination's client can be expected to read src.
	SameAccess(src *s3.Store) bool
	// CopyFrom copies src to dstKey; s3.ErrSourceChanged when src is no longer its version.
	CopyFrom(ctx context.Context, src s3.CopySource, dstKey string) error
}

var _ ServerSideCopier = (*s3.Store)(nil)

// copier is one destination's server-side copies from the file store's bucket.
type copier struct {
	dst      ServerSideCopier
	off      atomic.Bool // a copy failed: the rest of the run uploads instead
	verified atomic.Bool // a copied object was checked (see copyFile)
}

// setupCopies picks the destinations that copy new files server-side from an S3 file store
// into their pool, stored raw (RawPoolKey), instead of reading and uploading them: unencrypted
// runs only (encrypting needs the bytes), and S3 destinations reached through the same service
// with the same credentials as the file store (s3.Store.SameAccess), so that one client can
// read the source and write the copy. That is only a presumption: the first copy is checked,
// and any failure but a changed or vanished source (a bucket policy denying it, say) turns
// copies off for that destination for the rest of the run.
func (r *run) setupCopies() {
	if r.encrypted() {
		return
	}
	src, ok := r.o.Files.(copySource)
	if !ok || src.Bucket() == nil {
		return
	}
	for _, d := range r.dests {
		if dst, ok := d.Store.(ServerSideCopier); ok && dst.SameAccess(src.Bucket()) {
			d.copier = &copier{dst: dst}
			r.copySrc = src
		}
	}
}

// splitCopies divides the destinations lacking j's content into those that copy it
// server-side and those it is uploaded to.
func (r *run) splitCopies(need []*destState, j *fileJob) (copyTo, uploadTo []*destState) {
	// An empty file is uploaded: a raw object would be empty, which listings ignore. So is a
	// file read in this run whose version is unknown (see hashFile). A file not read yet is
	// read first (processFile).
	can := j.f.Size > 0 && (j.pin != nil || !j.hashed)
	for _, d := range need {
		if can && d.copier != nil && !d.copier.off.Load() {
			copyTo = append(copyTo, d)
		} else {
			uploadTo = append(uploadTo, d)
		}
	}
	return copyTo, uploadTo
}

// copyFile copies j's object, at the version j.pin says was hashed, to d's pool. It returns
// errContentChanged when the source is no longer that version, and fallback when the content
// must be uploaded to d instead.
func (r *run) copyFile(ctx context.Context, d *destState, j *fileJob) (fallback bool, err error) {
	key := format.RawPoolKey(hex.EncodeToString(j.sum[:]))
	err = d.copier.dst.CopyFrom(ctx, *j.pin, key)
	if err == nil && !d.copier.verified.Load() {
		err = checkCopy(ctx, d, key, j.pin.Version.Size)
	}
	switch {
	case err == nil:
		return false, nil
	case ctx.Err() != nil:
		return false, ctx.Err()
	case errors.Is(err, s3.ErrSourceChanged):
		return false, fmt.Errorf("copy %s: %w", j.f.Path, errContentChanged)
	case errors.Is(err, storage.ErrNotFound):
		return true, nil // the file vanished, most likely: the upload finds out
	}
	if d.copier.off.CompareAndSwap(false, true) {
		r.warn("destination %s: the S3 service did not copy files from the file store %s (%v): they are uploaded instead for the rest of this backup",
			d.Name, r.o.Files, err)
	}
	return true, nil
}

// checkCopy checks the first copied object of a run, since SameAccess only presumes the
// copy works: a service that claims success but stores something else must not fill the pool.
func checkCopy(ctx context.Context, d *destState, key string, size int64) error {
	info, err := d.Store.Stat(ctx, key)
	if err != nil {
		return fmt.Errorf("check the copy %s: %v", key, err) //nolint:errorlint // not a vanished source: turns copies off
	}
	if info.Size != size {
		_ = d.Store.Delete(context.WithoutCancel(ctx), key)
		return fmt.Errorf("the copy %s holds %d bytes, the source %d", key, info.Size, size)
	}
	d.copier.verified.Store(true)
	return nil
}
