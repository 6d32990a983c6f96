package format

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// How an object's stored bytes start: age's header when encrypted, else a zstd frame.
const (
	ageMagic     = "age-encryption.org/v1"
	zstdMagic    = "\x28\xb5\x2f\xfd"
	decoderLimit = 64 << 20 // largest window a decoder accepts
)

// OpenObject opens a stored object and returns its plain content: the stored bytes,
// decrypted with identities when the object is encrypted (age), then decompressed (zstd).
// Reading fails if the object was altered (age's authentication, zstd's checksum).
func OpenObject(ctx context.Context, s storage.Reader, key string, identities []age.Identity) (io.ReadCloser, error) {
	rc, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	plain, err := Decode(rc, key, identities)
	if err != nil {
		_ = rc.Close()
		return nil, err
	}
	return plain, nil
}

type decoded struct {
	io.Reader
	dec   *zstd.Decoder
	under io.Closer
}

func (d *decoded) Close() error {
	d.dec.Close()
	return d.under.Close()
}

// Decode is OpenObject on an object already opened: rc is closed by the result.
func Decode(rc io.ReadCloser, key string, identities []age.Identity) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(rc, 64<<10)
	head, err := br.Peek(len(ageMagic))
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var r io.Reader = br
	switch {
	case bytes.HasPrefix(head, []byte(ageMagic)):
		if len(identities) == 0 {
			return nil, fmt.Errorf("%s is encrypted: reading it needs the backup's age identity (private key)", key)
		}
		dr, err := age.Decrypt(br, identities...)
		if err != nil {
			return nil, fmt.Errorf("decrypt %s: %w", key, err)
		}
		r = dr
	case bytes.HasPrefix(head, []byte(zstdMagic)):
	default:
		return nil, fmt.Errorf("%s is neither an age-encrypted nor a zstd-compressed object", key)
	}
	dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(decoderLimit))
	if err != nil {
		return nil, fmt.Errorf("decompress %s: %w", key, err)
	}
	return &decoded{Reader: dec, dec: dec, under: rc}, nil
}
