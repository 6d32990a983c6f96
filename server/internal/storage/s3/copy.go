package s3

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// Server-side copy limits. CopyObject copies up to 5 GiB; larger objects are copied in parts
// (UploadPartCopy) of at least copyPartSize, and at most maxParts of them. Variables so that
// tests can exercise the multipart copy without writing 5 GiB.
var (
	copyPartAbove int64 = 5 << 30
	copyPartSize  int64 = 512 << 20
)

const (
	maxParts        = 10000
	copyConcurrency = 4 // parts copied at once: the service does the work, this process holds nothing
)

// ErrSourceChanged is wrapped by CopyFrom when the source object is no longer the version
// given (it was overwritten or deleted meanwhile): nothing was copied.
var ErrSourceChanged = errors.New("the source object changed")

// CopySource is an object to copy server-side.
type CopySource struct {
	Bucket string
	Key    string // the full key in Bucket (see Store.FullKey), not relative to a prefix
	// Version pins the copy to what was read (OpenVersion): the copy fails with
	// ErrSourceChanged unless the source still has this ETag (and, when set, it copies that
	// VersionID). Empty: the object is looked up (HEAD) and whatever version is there is copied.
	Version Version
}

func (c CopySource) String() string { return "s3://" + c.Bucket + "/" + c.Key }

// header is the x-amz-copy-source value: bucket/key, percent-encoded except for the unreserved
// characters and the slashes, and ?versionId=… when pinned to a version.
func (c CopySource) header() string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.WriteString(c.Bucket)
	b.WriteByte('/')
	for i := 0; i < len(c.Key); i++ {
		ch := c.Key[i]
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || strings.IndexByte("-._~/", ch) >= 0 {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[ch>>4])
		b.WriteByte(hex[ch&15])
	}
	if c.Version.VersionID != "" {
		b.WriteString("?versionId=" + url.QueryEscape(c.Version.VersionID))
	}
	return b.String()
}

// SameAccess reports whether this store's client can be expected to read what src's client
// reads: both talk to the same S3 service (the same endpoint; AWS's own endpoints all count as
// AWS) with the same credentials (the same static keys, or both the default credential chain
// of this process). It does not contact the service, and a copy may still be refused (a bucket
// policy, a KMS key): a caller must fall back on a CopyFrom error.
func (s *Store) SameAccess(src *Store) bool {
	if s == nil || src == nil {
		return false
	}
	a, b := s.cfg, src.cfg
	return service(a.Endpoint) == service(b.Endpoint) && a.AccessKeyID == b.AccessKeyID &&
		subtle.ConstantTimeCompare([]byte(a.SecretAccessKey), []byte(b.SecretAccessKey)) == 1
}

// awsHost matches AWS's S3 endpoints: s3.amazonaws.com, s3.eu-west-3.amazonaws.com,
// s3-eu-west-1.amazonaws.com, s3.dualstack.us-east-1.amazonaws.com, ….amazonaws.com.cn.
var awsHost = regexp.MustCompile(`^s3([.-][a-z0-9-]+)*\.amazonaws\.com(\.cn)?$`)

// service names the S3 service an endpoint reaches: "aws" for AWS (no endpoint, or one of its
// own, as Mattermost configures s3.amazonaws.com), else scheme://host:port.
func service(endpoint string) string {
	if endpoint == "" {
		return "aws"
	}
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil || u.Host == "" {
		return "invalid:" + endpoint // equal only to itself
	}
	host := strings.ToLower(u.Hostname())
	if awsHost.MatchString(host) {
		return "aws"
	}
	scheme, port := strings.ToLower(u.Scheme), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + host + ":" + port
}

// CopyFrom copies src (in any bucket this store's credentials can read, such as Mattermost's
// file store) to dstKey in this store, server-side: the data does not pass through this
// process. Objects above 5 GiB are copied in parts, aborted on failure like Put's. The copy
// takes the store's storage class and server-side encryption, and neither the source's
// metadata nor its tags (copying tags would need more permissions). It fails with
// ErrSourceChanged when the source is no longer src.Version, with storage.ErrNotFound when it
// is gone.
func (s *Store) CopyFrom(ctx context.Context, src CopySource, dstKey string) error {
	if err := storage.ValidateKey(dstKey); err != nil {
		return err
	}
	if src.Bucket == "" || src.Key == "" {
		return fmt.Errorf("copy to %s: the source bucket and key must not be empty", dstKey)
	}
	if src.Version.ETag == "" {
		head, err := s.client.HeadObject(ctx, &s3api.HeadObjectInput{Bucket: aws.String(src.Bucket), Key: aws.String(src.Key)})
		if err != nil {
			return s.copyError(src, dstKey, err)
		}
		src.Version = Version{ETag: aws.ToString(head.ETag), VersionID: aws.ToString(head.VersionId), Size: aws.ToInt64(head.ContentLength)}
	}
	var err error
	if src.Version.Size > copyPartAbove {
		err = s.copyParts(ctx, src, dstKey)
	} else {
		in := &s3api.CopyObjectInput{
			Bucket:            aws.String(s.cfg.Bucket),
			Key:               aws.String(s.FullKey(dstKey)),
			CopySource:        aws.String(src.header()),
			CopySourceIfMatch: aws.String(src.Version.ETag),
			MetadataDirective: types.MetadataDirectiveReplace,
			TaggingDirective:  types.TaggingDirectiveReplace,
			ContentType:       aws.String("application/octet-stream"),
		}
		in.StorageClass, in.ServerSideEncryption, in.SSEKMSKeyId = s.writeSettings()
		_, err = s.client.CopyObject(ctx, in)
	}
	var e *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return err // already explained (copyParts)
	}
	return s.copyError(src, dstKey, err)
}

// copyError explains a failed copy: the general advice of wrap does not fit a refusal, which
// may come from the source's side.
func (s *Store) copyError(src CopySource, dstKey string, err error) error {
	op := "copy " + src.String() + " to"
	switch {
	case isCode(err, "PreconditionFailed") || isCode(err, "NoSuchVersion"):
		return &Error{msg: fmt.Sprintf("%s %s/%s: %v: copy it again", op, s, dstKey, ErrSourceChanged), err: errors.Join(ErrSourceChanged, err)}
	case isCode(err, "AccessDenied") || statusOf(err) == http.StatusForbidden:
		return &Error{msg: s.redact(fmt.Sprintf("%s %s/%s: access denied: these credentials need s3:GetObject on the source and s3:PutObject here, "+
			"and no bucket or IAM policy may forbid the copy (%v)", op, s, dstKey, err)), err: err}
	}
	return s.wrap(op, dstKey, err)
}

// copyParts copies src to dstKey with a multipart upload whose parts are UploadPartCopy
// ranges, each pinned to src's ETag; a failure aborts the upload.
func (s *Store) copyParts(ctx context.Context, src CopySource, dstKey string) error {
	size := src.Version.Size
	part := max(copyPartSize, (size+maxParts-1)/maxParts)
	part = (part + 1<<20 - 1) &^ (1<<20 - 1) // whole MiB
	n := int((size + part - 1) / part)
	full := s.FullKey(dstKey)
	create := &s3api.CreateMultipartUploadInput{
		Bucket:      aws.String(s.cfg.Bucket),
		Key:         aws.String(full),
		ContentType: aws.String("application/octet-stream"),
	}
	create.StorageClass, create.ServerSideEncryption, create.SSEKMSKeyId = s.writeSettings()
	tracker := &uploadTracker{Client: s.client}
	fail := func(err error) error {
		wrapped := s.copyError(src, dstKey, err)
		if cerr := s.abortFailedUpload(ctx, tracker, full); cerr != nil {
			wrapped = &Error{msg: wrapped.Error() + "; " + s.redact(cerr.Error()), err: wrapped}
		}
		return wrapped
	}
	out, err := tracker.CreateMultipartUpload(ctx, create)
	if err != nil {
		return fail(err)
	}
	id := out.UploadId
	parts := make([]types.CompletedPart, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(copyConcurrency)
	for i := range n {
		first := int64(i) * part
		last := min(first+part, size) - 1
		num := aws.Int32(int32(i + 1)) //nolint:gosec // i < maxParts
		g.Go(func() error {
			res, err := s.client.UploadPartCopy(gctx, &s3api.UploadPartCopyInput{
				Bucket:            aws.String(s.cfg.Bucket),
				Key:               aws.String(full),
				UploadId:          id,
				PartNumber:        num,
				CopySource:        aws.String(src.header()),
				CopySourceIfMatch: aws.String(src.Version.ETag),
				CopySourceRange:   aws.String(fmt.Sprintf("bytes=%d-%d", first, last)),
			})
			if err != nil {
				return err
			}
			if res.CopyPartResult == nil || res.CopyPartResult.ETag == nil {
				return fmt.Errorf("part %d: the service returned no ETag", i+1)
			}
			parts[i] = types.CompletedPart{ETag: res.CopyPartResult.ETag, PartNumber: num}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fail(err)
	}
	_, err = tracker.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(full), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fail(err)
	}
	return nil
}
