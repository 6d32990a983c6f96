package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

var _ storage.Swapper = (*Store)(nil)

// Load returns the object's content and version (its ETag).
func (s *Store) Load(ctx context.Context, key string) ([]byte, string, error) {
	rc, v, err := s.OpenVersion(ctx, key)
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	if v.Size > storage.MaxSwapSize {
		return nil, "", fmt.Errorf("load %s/%s: the object is %d bytes, more than %d; it was not written by this tool", s, key, v.Size, storage.MaxSwapSize)
	}
	b, err := io.ReadAll(io.LimitReader(rc, storage.MaxSwapSize+1))
	if err != nil {
		return nil, "", s.wrap("load", key, err)
	}
	if len(b) > storage.MaxSwapSize {
		return nil, "", fmt.Errorf("load %s/%s: the object is more than %d bytes; it was not written by this tool", s, key, storage.MaxSwapSize)
	}
	return b, v.ETag, nil
}

// Swap writes content under key with a conditional PutObject: If-None-Match: * when version is
// "" (create), If-Match: version otherwise. The service refuses the write when another writer
// came first (412 Precondition Failed, or 409 when two conditional writes race), which Swap
// reports as storage.ErrConflict. A service that ignores the conditions would let two writers
// win, so the first Swap of a Store checks that the service enforces them (SupportsSwap).
func (s *Store) Swap(ctx context.Context, key string, content []byte, version string) (string, error) {
	if err := storage.ValidateKey(key); err != nil {
		return "", err
	}
	if len(content) > storage.MaxSwapSize {
		return "", fmt.Errorf("swap %s/%s: %d bytes is more than the %d a swapped object may hold", s, key, len(content), storage.MaxSwapSize)
	}
	if err := s.SupportsSwap(ctx); err != nil {
		return "", err
	}
	return s.conditionalPut(ctx, key, content, version)
}

func (s *Store) conditionalPut(ctx context.Context, key string, content []byte, version string) (string, error) {
	in := s.smallPutInput(key, content)
	if version == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(version)
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		if code := errorCode(err); code == "PreconditionFailed" || code == "ConditionalRequestConflict" ||
			statusOf(err) == http.StatusPreconditionFailed || statusOf(err) == http.StatusConflict {
			return "", fmt.Errorf("swap %s/%s: %w", s, key, storage.ErrConflict)
		}
		return "", s.wrap("swap", key, err)
	}
	return aws.ToString(out.ETag), nil
}

// smallPutInput is the PutObject request of a small object, with the store's storage class
// and encryption.
func (s *Store) smallPutInput(key string, content []byte) *s3api.PutObjectInput {
	in := &s3api.PutObjectInput{
		Bucket:      aws.String(s.cfg.Bucket),
		Key:         aws.String(s.FullKey(key)),
		Body:        bytes.NewReader(content),
		ContentType: aws.String("application/octet-stream"),
	}
	s.applyPutSettings(in)
	return in
}

// swapCheck remembers, per Store, that the service enforces conditional writes. A failed
// check is not remembered: it may have been the network.
type swapCheck struct {
	mu sync.Mutex
	ok bool
}

// swapProbeKey is the object SupportsSwap creates twice (the second must be refused) and deletes.
const swapProbeKey = "locks/conditional-write-check"

// SupportsSwap checks once per Store that the service refuses a conditional write whose
// condition fails: AWS S3 does since 2024, as does MinIO; some S3-compatible services accept
// and ignore the header, and a journal there would not keep two operators apart.
func (s *Store) SupportsSwap(ctx context.Context) error {
	s.swap.mu.Lock()
	defer s.swap.mu.Unlock()
	if s.swap.ok {
		return nil
	}
	err := s.checkSwap(ctx)
	s.swap.ok = err == nil
	return err
}

func (s *Store) checkSwap(ctx context.Context) error {
	key := fmt.Sprintf("%s-%d", swapProbeKey, time.Now().UnixNano())
	if _, err := s.conditionalPut(ctx, key, []byte("1"), ""); err != nil {
		return fmt.Errorf("check that %s supports conditional writes: %w", s.endpointName(), err)
	}
	defer func() { _ = s.Delete(context.WithoutCancel(ctx), key) }()
	_, err := s.conditionalPut(ctx, key, []byte("2"), "")
	switch {
	case errors.Is(err, storage.ErrConflict):
		return nil
	case err == nil:
		return fmt.Errorf("%s accepted a write with If-None-Match: * over an existing object: it does not enforce conditional writes, so it cannot keep a journal that two machines share; use AWS S3, a recent MinIO, or a local/NFS folder", s.endpointName())
	default:
		return fmt.Errorf("check that %s supports conditional writes: %w", s.endpointName(), err)
	}
}
