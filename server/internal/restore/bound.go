package restore

import (
	"errors"
	"fmt"
	"io"
)

// A small zstd frame can decompress to tens of gigabytes: everything the restore reads from a
// backup is bounded by the size the manifest or the file index records for it, so that a
// forged or damaged object fails after at most that size + 1 bytes instead of filling a disk.

// errTooLarge is wrapped when an object holds more than its recorded size.
var errTooLarge = errors.New("it decompresses to more than")

// tooLarge says what a too large object is.
func tooLarge(limit int64, record string) error {
	return fmt.Errorf("%w the %d bytes %s (a forged or damaged object)", errTooLarge, limit, record)
}

// boundedReader reads at most limit + 1 bytes of r and fails as soon as it has read more than
// limit.
type boundedReader struct {
	r      io.Reader
	limit  int64
	read   int64
	record string // what records the limit, for the error
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.read > b.limit {
		return 0, tooLarge(b.limit, b.record)
	}
	if rest := b.limit + 1 - b.read; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	if b.read > b.limit {
		return n, tooLarge(b.limit, b.record)
	}
	return n, err
}

// copyBounded copies src to dst, at most limit + 1 bytes, and fails when src holds more than
// limit.
func copyBounded(dst io.Writer, src io.Reader, limit int64, record string) (int64, error) {
	n, err := io.CopyN(dst, src, limit+1)
	switch {
	case n > limit:
		return n, tooLarge(limit, record)
	case errors.Is(err, io.EOF):
		return n, nil
	}
	return n, err
}
