// Package s3 stores backup objects in an S3 bucket: AWS, or any S3-compatible store (MinIO,
// Ceph, …) through Config.Endpoint and Config.PathStyle.
//
// Put streams through the SDK's multipart uploader in 16 MiB parts, two in flight, so a Put
// holds about 64 MiB whatever the object's size (up to 16 MiB × 10,000 parts ≈ 156 GiB). An
// object appears only when its upload completes: a failed or cancelled Put aborts its multipart
// upload. When the service cannot be reached to abort (it died mid-upload), the incomplete
// upload stays, invisible to readers but stored (and billed) until CleanupIncompleteUploads, a
// bucket lifecycle rule (AbortIncompleteMultipartUpload) or, on MinIO, its own stale-upload
// expiry (24 h) removes it.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/redact"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// Upload tuning: memory per Put is about PartSize × (Concurrency + 2).
const (
	PartSize    = 16 << 20
	Concurrency = 2
)

// Time allowed to finish or abort a multipart upload once Put has stopped, even when Put's
// context is cancelled.
const (
	completeTimeout = 5 * time.Minute
	abortTimeout    = time.Minute
)

// Store is a bucket, or a folder (Prefix) in one. It is safe for concurrent use.
type Store struct {
	cfg    Config
	prefix string // "" or ending in "/"
	client *s3api.Client
	// feature/s3/manager is marked deprecated in favour of feature/s3/transfermanager, which is
	// not in go.mod; it is still maintained and does what Put needs.
	uploader *manager.Uploader //nolint:staticcheck // SA1019, see above
	swap     swapCheck
}

// New validates cfg and builds a client. It does not contact the service: the first call
// does, and its error says what is wrong (credentials, bucket, region, network). opts adjust
// the SDK client after cfg is applied (tests give it an HTTPClient that counts requests).
func New(ctx context.Context, cfg Config, opts ...func(*s3api.Options)) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var load []func(*config.LoadOptions) error
	if cfg.Region != "" {
		load = append(load, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		load = append(load, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	checksum := aws.RequestChecksumCalculationWhenSupported
	if cfg.Endpoint != "" {
		// Many S3-compatible stores reject or mishandle the CRC32 checksums the SDK now sends
		// by default. Integrity is kept by SigV4 (payload hash over HTTP) or TLS.
		checksum = aws.RequestChecksumCalculationWhenRequired
		load = append(load, config.WithRequestChecksumCalculation(checksum),
			config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration (environment variables, shared config files): %w", err)
	}
	if awsCfg.Region == "" {
		if cfg.Endpoint == "" {
			return nil, &ConfigError{Setting: "Region", Problem: "is empty and no region is configured in the environment (AWS_REGION) or the shared config: set it to the bucket's region, such as us-east-1"}
		}
		awsCfg.Region = "us-east-1"
	}
	client := s3api.NewFromConfig(awsCfg, func(o *s3api.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		for _, f := range opts {
			f(o)
		}
	})
	s := &Store{cfg: cfg, client: client}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		s.prefix = p + "/"
	}
	s.uploader = manager.NewUploader(client, func(u *manager.Uploader) { //nolint:staticcheck // SA1019, see Store.uploader
		u.PartSize = PartSize
		u.Concurrency = Concurrency
		u.LeavePartsOnError = true // Put aborts itself, with a context that survives cancellation
		u.RequestChecksumCalculation = checksum
	})
	return s, nil
}

// String returns s3://bucket/prefix; it never shows credentials.
func (s *Store) String() string {
	if s.prefix == "" {
		return "s3://" + s.cfg.Bucket
	}
	return "s3://" + s.cfg.Bucket + "/" + strings.TrimSuffix(s.prefix, "/")
}

// GoString is String, so that %#v shows no secret either.
func (s *Store) GoString() string { return s.String() }

// Client returns the underlying S3 client, for what this package does not wrap.
func (s *Store) Client() *s3api.Client { return s.client }

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.cfg.Bucket }

// FullKey returns the object key in the bucket: the store's prefix and key.
func (s *Store) FullKey(key string) string { return s.prefix + key }

// PutMemory is about how much memory one Put holds while it runs (its multipart buffers), so
// that a caller running Puts in parallel can size its workers.
func (s *Store) PutMemory() int64 { return PartSize * (Concurrency + 2) }

// Put uploads what r yields under key, replacing any existing object, and returns the number
// of bytes read from r. The object appears only once complete: when Put fails or ctx is
// cancelled, the multipart upload is aborted and nothing is left behind (if the service cannot
// be reached to abort, see CleanupIncompleteUploads). Concurrent Puts of one key: the last to
// complete wins, and a failing one may abort the other's upload, which then fails too.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (written int64, err error) {
	if err := storage.ValidateKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, s.wrap("put", key, err)
	}
	body := &countingReader{ctx: ctx, r: r}
	tracker := &uploadTracker{Client: s.client}
	in := &s3api.PutObjectInput{
		Bucket:      aws.String(s.cfg.Bucket),
		Key:         aws.String(s.FullKey(key)),
		Body:        body,
		ContentType: aws.String("application/octet-stream"),
	}
	s.applyPutSettings(in)
	// Most objects (files of a chat server) are small: read the first bytes, and if that is the
	// whole object send it with one PutObject. The multipart uploader would hold a full part
	// buffer (PartSize) for every object in flight, however small, and take three requests.
	bufp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(bufp)
	n, rerr := io.ReadFull(body, *bufp)
	switch {
	case errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF):
		in.Body = bytes.NewReader((*bufp)[:n])
		if _, err = s.client.PutObject(ctx, in); err == nil {
			return int64(n), nil
		}
		return int64(n), s.wrap("put", key, err)
	case rerr != nil:
		return body.n, s.wrap("put", key, rerr)
	}
	in.Body = io.MultiReader(bytes.NewReader((*bufp)[:n]), body)
	_, err = s.uploader.Upload(ctx, in, func(u *manager.Uploader) { u.S3 = tracker }) //nolint:staticcheck // SA1019, see Store.uploader
	if err == nil {
		return body.n, nil
	}
	if body.err != nil && !errors.Is(err, body.err) {
		err = fmt.Errorf("%w (%w)", body.err, err)
	}
	wrapped := s.wrap("put", key, err)
	if cerr := s.abortFailedUpload(ctx, tracker, s.FullKey(key)); cerr != nil {
		wrapped = &Error{msg: wrapped.Error() + "; " + s.redact(cerr.Error()), err: wrapped}
	}
	return body.n, wrapped
}

// applyPutSettings sets the store's storage class and server-side encryption on a PutObject.
func (s *Store) applyPutSettings(in *s3api.PutObjectInput) {
	in.StorageClass, in.ServerSideEncryption, in.SSEKMSKeyId = s.writeSettings()
}

// writeSettings are the store's storage class and server-side encryption, as every request
// that writes an object (put, copy, multipart copy) sets them; empty ones leave the bucket's.
func (s *Store) writeSettings() (types.StorageClass, types.ServerSideEncryption, *string) {
	var kms *string
	if s.cfg.SSEKMSKeyID != "" {
		kms = aws.String(s.cfg.SSEKMSKeyID)
	}
	return types.StorageClass(s.cfg.StorageClass), types.ServerSideEncryption(s.cfg.SSE), kms
}

// smallPut is the largest object sent with a single PutObject.
const smallPut = 1 << 20

var smallBufs = sync.Pool{New: func() any { b := make([]byte, smallPut); return &b }}

// countingReader counts what the uploader reads and stops at cancellation, so that an upload
// stops reading as soon as its context is done.
type countingReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
	err error // the reader's own error, if any
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = err
	}
	return n, err
}

// uploadTracker is the uploader's S3 client for one Put: it records the multipart upload's id
// and completes the upload with a context that a late cancellation cannot interrupt (once the
// last part is stored, completing gives a definite outcome; being cut off would not).
type uploadTracker struct {
	*s3api.Client
	mu        sync.Mutex
	attempted bool   // CreateMultipartUpload was sent: an upload may exist even if it failed
	uploadID  string // its id, when the answer arrived
}

func (t *uploadTracker) CreateMultipartUpload(ctx context.Context, in *s3api.CreateMultipartUploadInput, opts ...func(*s3api.Options)) (*s3api.CreateMultipartUploadOutput, error) {
	t.mu.Lock()
	t.attempted = true
	t.mu.Unlock()
	out, err := t.Client.CreateMultipartUpload(ctx, in, opts...)
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err == nil && out.UploadId != nil:
		t.uploadID = *out.UploadId
	case err != nil && statusOf(err) > 0:
		t.attempted = false // the service answered with an error: no upload was created
	}
	return out, err
}

func (t *uploadTracker) CompleteMultipartUpload(ctx context.Context, in *s3api.CompleteMultipartUploadInput, opts ...func(*s3api.Options)) (*s3api.CompleteMultipartUploadOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), completeTimeout)
	defer cancel()
	return t.Client.CompleteMultipartUpload(cctx, in, opts...)
}

// abortFailedUpload aborts the multipart upload of a failed Put, with a context of its own
// since Put's may be cancelled. When CreateMultipartUpload was sent but its answer lost, the
// upload's id is unknown: the uploads of that exact key are aborted.
func (s *Store) abortFailedUpload(ctx context.Context, t *uploadTracker, fullKey string) error {
	t.mu.Lock()
	attempted, id := t.attempted, t.uploadID
	t.mu.Unlock()
	if !attempted {
		return nil
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	ids := []string{id}
	if id == "" {
		var err error
		if ids, err = s.uploadsOf(actx, fullKey); err != nil {
			return fmt.Errorf("the incomplete multipart upload may remain (listing the uploads of %s failed: %w): it is invisible to readers but stored until CleanupIncompleteUploads, a bucket lifecycle rule aborting incomplete multipart uploads, or MinIO's stale-upload expiry (24 h) removes it", fullKey, cause(err))
		}
	}
	for _, id := range ids {
		_, err := s.client.AbortMultipartUpload(actx, &s3api.AbortMultipartUploadInput{
			Bucket: aws.String(s.cfg.Bucket), Key: aws.String(fullKey), UploadId: aws.String(id),
		})
		if err != nil && !isCode(err, "NoSuchUpload") {
			return fmt.Errorf("the incomplete multipart upload could not be aborted (%w): it is invisible to readers but stored until CleanupIncompleteUploads, a bucket lifecycle rule aborting incomplete multipart uploads, or MinIO's stale-upload expiry (24 h) removes it", cause(err))
		}
	}
	return nil
}

func (s *Store) uploadsOf(ctx context.Context, fullKey string) ([]string, error) {
	var ids []string
	p := s3api.NewListMultipartUploadsPaginator(s.client, &s3api.ListMultipartUploadsInput{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(fullKey)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, u := range page.Uploads {
			if aws.ToString(u.Key) == fullKey && u.UploadId != nil {
				ids = append(ids, *u.UploadId)
			}
		}
	}
	return ids, nil
}

// IncompleteUpload is a multipart upload that was neither completed nor aborted.
type IncompleteUpload struct {
	Key       string // relative to the store
	UploadID  string
	Initiated time.Time
}

// IncompleteUploads calls fn for each multipart upload in progress, or left behind, under the
// store's prefix: those a bucket-wide listing returns (filtered by prefix, because MinIO takes
// ListMultipartUploads' prefix as an exact key), and those of each of keys, looked up one by
// one. MinIO's bucket-wide listing only knows the uploads started since it last started: pass
// the keys of failed Puts to find older ones there. AWS lists them all.
func (s *Store) IncompleteUploads(ctx context.Context, fn func(IncompleteUpload) error, keys ...string) error {
	seen := map[string]bool{}
	visit := func(in *s3api.ListMultipartUploadsInput, exact string) error {
		p := s3api.NewListMultipartUploadsPaginator(s.client, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return s.wrap("list the incomplete uploads of", "", err)
			}
			for _, u := range page.Uploads {
				full, id := aws.ToString(u.Key), aws.ToString(u.UploadId)
				key, ok := strings.CutPrefix(full, s.prefix)
				if !ok || seen[id] || (exact != "" && full != exact) {
					continue
				}
				seen[id] = true
				if err := fn(IncompleteUpload{Key: key, UploadID: id, Initiated: aws.ToTime(u.Initiated)}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := visit(&s3api.ListMultipartUploadsInput{Bucket: aws.String(s.cfg.Bucket)}, ""); err != nil {
		return err
	}
	for _, k := range keys {
		if err := storage.ValidateKey(k); err != nil {
			return err
		}
		full := s.FullKey(k)
		if err := visit(&s3api.ListMultipartUploadsInput{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(full)}, full); err != nil {
			return err
		}
	}
	return nil
}

var (
	_ storage.Store   = (*Store)(nil)
	_ storage.Cleaner = (*Store)(nil)
)

// CleanupPartial is CleanupIncompleteUploads without keys, as storage.Cleaner.
func (s *Store) CleanupPartial(ctx context.Context, olderThan time.Duration) (int, error) {
	return s.CleanupIncompleteUploads(ctx, olderThan)
}

// CleanupIncompleteUploads aborts the multipart uploads under the store's prefix that were
// started more than olderThan ago (by the service's clock), freeing the parts they hold, and
// returns how many it aborted. A Put aborts its own upload when it fails; this is for those it
// could not abort because the service was unreachable, or whose process was killed. Keep
// olderThan above the longest Put (a day, say) so that uploads in progress are left alone.
//
// keys are looked up one by one as well (see IncompleteUploads): on MinIO, pass the keys of
// the Puts that failed before its last restart. MinIO also removes uploads older than 24 h by
// itself (MINIO_API_STALE_UPLOADS_EXPIRY); AWS needs this or a lifecycle rule.
func (s *Store) CleanupIncompleteUploads(ctx context.Context, olderThan time.Duration, keys ...string) (aborted int, err error) {
	cutoff := time.Now().Add(-olderThan)
	var stale []IncompleteUpload
	err = s.IncompleteUploads(ctx, func(u IncompleteUpload) error {
		if !u.Initiated.After(cutoff) {
			stale = append(stale, u)
		}
		return nil
	}, keys...)
	if err != nil {
		return 0, err
	}
	for _, u := range stale {
		_, err := s.client.AbortMultipartUpload(ctx, &s3api.AbortMultipartUploadInput{
			Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.FullKey(u.Key)), UploadId: aws.String(u.UploadID),
		})
		if err != nil && !isCode(err, "NoSuchUpload") {
			return aborted, s.wrap("abort the incomplete upload of", u.Key, err)
		}
		aborted++
	}
	return aborted, nil
}

// Open returns the object's content. Reads fail once ctx is done.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, _, err := s.OpenVersion(ctx, key)
	return rc, err
}

// Version identifies the version of an object a reader reads, so that a server-side copy
// (CopyFrom) copies exactly those bytes.
type Version struct {
	ETag      string // as the service sent it, quoted
	VersionID string // empty unless the bucket is versioned
	Size      int64
}

// OpenVersion is Open, and also says which version of the object the reader reads.
func (s *Store) OpenVersion(ctx context.Context, key string) (io.ReadCloser, Version, error) {
	if err := storage.ValidateKey(key); err != nil {
		return nil, Version{}, err
	}
	out, err := s.client.GetObject(ctx, &s3api.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.FullKey(key))})
	if err != nil {
		return nil, Version{}, s.wrap("open", key, err)
	}
	return out.Body, Version{ETag: aws.ToString(out.ETag), VersionID: aws.ToString(out.VersionId), Size: aws.ToInt64(out.ContentLength)}, nil
}

// Stat describes the object.
func (s *Store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := storage.ValidateKey(key); err != nil {
		return storage.ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3api.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.FullKey(key))})
	if err != nil {
		return storage.ObjectInfo{}, s.wrap("stat", key, err)
	}
	return storage.ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// List calls fn for every object whose key starts with prefix, in lexical (UTF-8 byte) order,
// one page of up to 1000 keys at a time. It stops at the first error from fn and returns it.
// Objects whose keys are not valid keys (folder markers ending in "/", "a//b"…) are skipped.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return err
	}
	in := &s3api.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket)}
	if full := s.prefix + prefix; full != "" {
		in.Prefix = aws.String(full)
	}
	p := s3api.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.wrap("list", prefix, err)
		}
		for _, o := range page.Contents {
			if err := ctx.Err(); err != nil {
				return s.wrap("list", prefix, err)
			}
			key, ok := strings.CutPrefix(aws.ToString(o.Key), s.prefix)
			if !ok || storage.ValidateKey(key) != nil {
				continue
			}
			if err := fn(storage.ObjectInfo{Key: key, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete removes the object; an absent object is not an error. In a versioned bucket this adds
// a delete marker and older versions stay until a lifecycle rule expires them.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := storage.ValidateKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3api.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.FullKey(key))})
	if err != nil && !isNotFound(err) {
		return s.wrap("delete", key, err)
	}
	return nil
}

// Error is a failure explained for an administrator. It never contains the secret key.
type Error struct {
	msg string
	err error
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the SDK's error (which may be storage.ErrNotFound's sibling: see errors.Is).
func (e *Error) Unwrap() error { return e.err }

// notFoundError joins the SDK's not-found error with storage.ErrNotFound.
type notFoundError struct{ err error }

func (e notFoundError) Error() string   { return e.err.Error() }
func (e notFoundError) Unwrap() []error { return []error{storage.ErrNotFound, e.err} }

// wrap explains err, met while doing op on key, naming the store and, for the errors an
// administrator can fix, the setting to change.
func (s *Store) wrap(op, key string, err error) error {
	where := s.String()
	if key != "" {
		where += "/" + key
	}
	var advice string
	code := errorCode(err)
	var netErr *net.OpError
	var mpErr manager.MultiUploadFailure
	if errors.As(err, &mpErr) && errors.Unwrap(mpErr) != nil {
		err = errors.Unwrap(mpErr) // the failure, without the upload's id
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		advice = ""
	case isNotFound(err):
		return &Error{msg: fmt.Sprintf("%s %s: %v", op, where, storage.ErrNotFound), err: notFoundError{err}}
	case code == "NoSuchBucket":
		advice = fmt.Sprintf("bucket %q does not exist at %s: create it, or fix Bucket", s.cfg.Bucket, s.endpointName())
	case code == "InvalidAccessKeyId":
		advice = fmt.Sprintf("the access key ID is not known to %s: check AccessKeyID (or the credentials found in the environment, shared profile or instance role)", s.endpointName())
	case code == "SignatureDoesNotMatch":
		advice = "the secret access key does not match the access key ID: check SecretAccessKey"
	case code == "Forbidden": // a HEAD request: no body to tell a wrong secret from a missing permission
		advice = fmt.Sprintf("access denied: check AccessKeyID and SecretAccessKey, and that these credentials have s3:GetObject on bucket %s under %q", s.cfg.Bucket, s.prefix)
	case code == "AccessDenied", statusOf(err) == http.StatusForbidden:
		advice = fmt.Sprintf("access denied: the credentials need s3:ListBucket on bucket %s and s3:GetObject, s3:PutObject, s3:DeleteObject, s3:AbortMultipartUpload and s3:ListBucketMultipartUploads on its objects under %q (and kms:GenerateDataKey and kms:Decrypt with aws:kms)", s.cfg.Bucket, s.prefix)
	case code == "ExpiredToken", code == "TokenRefreshRequired", code == "InvalidToken":
		advice = "the temporary credentials expired or are invalid: renew them"
	case code == "RequestTimeTooSkewed":
		advice = "this server's clock differs from the S3 service's by more than 15 minutes: synchronise it (NTP)"
	case code == "AuthorizationHeaderMalformed", code == "PermanentRedirect", code == "IllegalLocationConstraintException":
		advice = "the bucket is in another region: set Region to the bucket's region"
	case code == "InvalidStorageClass":
		advice = fmt.Sprintf("the S3 service does not support storage class %q: change StorageClass", s.cfg.StorageClass)
	case code == "KMS.NotFoundException", code == "KMS.DisabledException", code == "KMS.AccessDeniedException":
		advice = "the KMS key cannot be used: check SSEKMSKeyID and the key's policy"
	case errors.As(err, &netErr):
		advice = fmt.Sprintf("cannot reach %s: check Endpoint, the network and that the service is up", s.endpointName())
	case strings.Contains(err.Error(), "failed to refresh cached credentials"):
		advice = "no AWS credentials found: set AccessKeyID and SecretAccessKey, or provide credentials through the environment (AWS_ACCESS_KEY_ID), a shared profile or an instance role"
	}
	msg := fmt.Sprintf("%s %s: %v", op, where, err)
	if advice != "" {
		msg = fmt.Sprintf("%s %s: %s (%v)", op, where, advice, err)
	}
	return &Error{msg: s.redact(msg), err: err}
}

func (s *Store) endpointName() string {
	if s.cfg.Endpoint != "" {
		return redact.ShownURL(s.cfg.Endpoint)
	}
	return "AWS S3"
}

// redact removes the secret key from a message, should anything ever echo it.
func (s *Store) redact(msg string) string {
	if len(s.cfg.SecretAccessKey) >= 4 {
		msg = redact.Secrets(msg, "[redacted]", s.cfg.SecretAccessKey)
	}
	return msg
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func isCode(err error, code string) bool { return errorCode(err) == code }

func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isNotFound: GetObject says NoSuchKey; HeadObject, which has no body, only 404 NotFound.
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	code := errorCode(err)
	return code == "NoSuchKey" || code == "NotFound" || (statusOf(err) == http.StatusNotFound && code != "NoSuchBucket" && code != "NoSuchUpload")
}

// cause is the most useful part of an SDK error for a message: the network failure when there
// is one, else the error itself.
func cause(err error) error {
	var netErr *net.OpError
	if errors.As(err, &netErr) {
		return netErr
	}
	return err
}
