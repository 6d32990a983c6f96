package s3

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/storagetest"
)

// sourceBucket creates a bucket for copy sources (once per server) and returns a store on it
// with a prefix of its own, as Mattermost's file store would be.
func sourceBucket(t *testing.T, name string) *Store {
	t.Helper()
	m := requireMinIO(t)
	_, err := m.S3Client().HeadBucket(context.Background(), &s3api.HeadBucketInput{Bucket: aws.String(name)})
	if err != nil {
		require.NoError(t, m.MakeBucket(context.Background(), name))
	}
	cfg := testConfig(t)
	cfg.Bucket = name
	s, err := New(context.Background(), cfg)
	require.NoError(t, err)
	return s
}

func putSource(t *testing.T, src *Store, key string, body []byte, opts ...func(*s3api.PutObjectInput)) {
	t.Helper()
	in := &s3api.PutObjectInput{Bucket: aws.String(src.Bucket()), Key: aws.String(src.FullKey(key)), Body: bytes.NewReader(body)}
	for _, o := range opts {
		o(in)
	}
	_, err := src.Client().PutObject(context.Background(), in)
	require.NoError(t, err)
}

// openVersion reads an object through OpenVersion and returns its version. The reader is
// closed: MinIO holds a read lock on the object while it is open, which an overwrite waits for.
func openVersion(t *testing.T, s *Store, key string) Version {
	t.Helper()
	rc, v, err := s.OpenVersion(context.Background(), key)
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	assert.Equal(t, v.Size, n)
	return v
}

func TestCopyFrom(t *testing.T) {
	ctx := context.Background()
	src := sourceBucket(t, "dr-copy-source")
	dst := newStore(t)
	key := "data/20240101/teams/abc/file with space+plus&é%.txt"
	body := bytes.Repeat([]byte("attachment "), 1000)
	putSource(t, src, key, body, func(in *s3api.PutObjectInput) {
		in.ContentType = aws.String("text/plain")
		in.Metadata = map[string]string{"owner": "someone"}
		in.Tagging = aws.String("team=abc")
	})
	read := openVersion(t, src, key)
	require.NotEmpty(t, read.ETag)
	assert.Equal(t, int64(len(body)), read.Size)

	tests := []struct {
		name    string
		src     CopySource
		dst     string
		changed bool // ErrSourceChanged
		gone    bool // storage.ErrNotFound
		invalid bool // refused before any request
	}{
		{name: "pinned", src: CopySource{Bucket: src.Bucket(), Key: src.FullKey(key), Version: read}, dst: "pool/pinned"},
		{name: "unpinned looks the object up", src: CopySource{Bucket: src.Bucket(), Key: src.FullKey(key)}, dst: "pool/unpinned"},
		{name: "stale ETag", src: CopySource{Bucket: src.Bucket(), Key: src.FullKey(key), Version: Version{ETag: `"0123456789abcdef0123456789abcdef"`, Size: read.Size}}, dst: "pool/stale", changed: true},
		{name: "missing source", src: CopySource{Bucket: src.Bucket(), Key: src.FullKey("data/missing")}, dst: "pool/missing", gone: true},
		{name: "missing pinned source", src: CopySource{Bucket: src.Bucket(), Key: src.FullKey("data/missing"), Version: read}, dst: "pool/missing-pinned", gone: true},
		{name: "invalid destination key", src: CopySource{Bucket: src.Bucket(), Key: src.FullKey(key)}, dst: "../escape", invalid: true},
		{name: "no source bucket", src: CopySource{Key: src.FullKey(key)}, dst: "pool/x", invalid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := dst.CopyFrom(ctx, tc.src, tc.dst)
			switch {
			case tc.invalid:
				require.Error(t, err)
				return
			case tc.changed:
				require.ErrorIs(t, err, ErrSourceChanged)
				assert.NotErrorIs(t, err, storage.ErrNotFound)
			case tc.gone:
				require.ErrorIs(t, err, storage.ErrNotFound)
			default:
				require.NoError(t, err)
				assert.Equal(t, body, storagetest.Read(t, dst, tc.dst))
				head, err := dst.Client().HeadObject(ctx, &s3api.HeadObjectInput{Bucket: aws.String(dst.Bucket()), Key: aws.String(dst.FullKey(tc.dst))})
				require.NoError(t, err)
				assert.Equal(t, "application/octet-stream", aws.ToString(head.ContentType), "the source's metadata is not copied")
				assert.Empty(t, head.Metadata)
				tags, err := dst.Client().GetObjectTagging(ctx, &s3api.GetObjectTaggingInput{Bucket: aws.String(dst.Bucket()), Key: aws.String(dst.FullKey(tc.dst))})
				require.NoError(t, err)
				assert.Empty(t, tags.TagSet, "nor its tags")
				return
			}
			storagetest.RequireAbsent(t, dst, tc.dst)
		})
	}

	// Overwritten after it was read: the copy pinned to what was read fails.
	putSource(t, src, key, []byte("overwritten"))
	err := dst.CopyFrom(ctx, CopySource{Bucket: src.Bucket(), Key: src.FullKey(key), Version: read}, "pool/after-overwrite")
	require.ErrorIs(t, err, ErrSourceChanged)
	storagetest.RequireAbsent(t, dst, "pool/after-overwrite")
}

// In a versioned bucket the copy takes the version that was read, even once overwritten.
func TestCopyFromVersion(t *testing.T) {
	ctx := context.Background()
	src := sourceBucket(t, "dr-copy-versioned")
	_, err := src.Client().PutBucketVersioning(ctx, &s3api.PutBucketVersioningInput{
		Bucket: aws.String(src.Bucket()), VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	require.NoError(t, err)
	dst := newStore(t)
	putSource(t, src, "f", []byte("first"))
	read := openVersion(t, src, "f")
	require.NotEmpty(t, read.VersionID)
	putSource(t, src, "f", []byte("second"))

	require.NoError(t, dst.CopyFrom(ctx, CopySource{Bucket: src.Bucket(), Key: src.FullKey("f"), Version: read}, "pool/f"))
	assert.Equal(t, []byte("first"), storagetest.Read(t, dst, "pool/f"))

	_, err = src.Client().DeleteObject(ctx, &s3api.DeleteObjectInput{Bucket: aws.String(src.Bucket()), Key: aws.String(src.FullKey("f")), VersionId: aws.String(read.VersionID)})
	require.NoError(t, err)
	err = dst.CopyFrom(ctx, CopySource{Bucket: src.Bucket(), Key: src.FullKey("f"), Version: read}, "pool/g")
	require.ErrorIs(t, err, ErrSourceChanged, "the version read is gone")
}

// Objects above copyPartAbove are copied in parts, each pinned to the version read; a failed
// multipart copy leaves no object and no incomplete upload.
func TestCopyFromInParts(t *testing.T) {
	ctx := context.Background()
	defer func(above, part int64) { copyPartAbove, copyPartSize = above, part }(copyPartAbove, copyPartSize)
	copyPartAbove, copyPartSize = 6<<20, 5<<20 // S3's smallest part is 5 MiB

	src := sourceBucket(t, "dr-copy-source")
	dst := newStore(t)
	g := storagetest.NewGenerator(13<<20+3, 9) // three parts, the last one short
	body, err := io.ReadAll(g)
	require.NoError(t, err)
	putSource(t, src, "big.bin", body)
	read := openVersion(t, src, "big.bin")

	require.NoError(t, dst.CopyFrom(ctx, CopySource{Bucket: src.Bucket(), Key: src.FullKey("big.bin"), Version: read}, "pool/big"))
	sum, n := storagetest.SumOf(t, dst, "pool/big")
	assert.Equal(t, int64(len(body)), n)
	assert.Equal(t, g.Sum(), sum)
	out, err := dst.Client().GetObjectAttributes(ctx, &s3api.GetObjectAttributesInput{
		Bucket: aws.String(dst.Bucket()), Key: aws.String(dst.FullKey("pool/big")), ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectParts},
	})
	require.NoError(t, err)
	require.NotNil(t, out.ObjectParts)
	assert.Equal(t, int32(3), aws.ToInt32(out.ObjectParts.TotalPartsCount), "copied in parts")

	putSource(t, src, "big.bin", body[:7<<20]) // changed after it was read
	err = dst.CopyFrom(ctx, CopySource{Bucket: src.Bucket(), Key: src.FullKey("big.bin"), Version: read}, "pool/big-changed")
	require.ErrorIs(t, err, ErrSourceChanged)
	storagetest.RequireAbsent(t, dst, "pool/big-changed")
	assert.Empty(t, incomplete(t, dst, "pool/big-changed"), "the failed multipart copy was aborted")
}

func TestSameAccess(t *testing.T) {
	base := Config{Bucket: "files", Endpoint: "http://minio:9000", AccessKeyID: "key", SecretAccessKey: "secret-1234"}
	tests := []struct {
		name string
		edit func(*Config)
		want bool
	}{
		{"same", func(*Config) {}, true},
		{"other bucket and prefix", func(c *Config) { c.Bucket, c.Prefix = "backups", "dr" }, true},
		{"trailing slash, upper case, explicit default port", func(c *Config) { c.Endpoint = "http://MINIO:9000/" }, true},
		{"other port", func(c *Config) { c.Endpoint = "http://minio:9001" }, false},
		{"other host", func(c *Config) { c.Endpoint = "http://minio2:9000" }, false},
		{"other scheme", func(c *Config) { c.Endpoint = "https://minio:9000" }, false},
		{"other access key", func(c *Config) { c.AccessKeyID = "other" }, false},
		{"other secret", func(c *Config) { c.SecretAccessKey = "secret-5678" }, false},
		{"default credential chain", func(c *Config) { c.AccessKeyID, c.SecretAccessKey = "", "" }, false},
		{"AWS", func(c *Config) { c.Endpoint = "" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			other := base
			tc.edit(&other)
			a, b := &Store{cfg: base}, &Store{cfg: other}
			assert.Equal(t, tc.want, a.SameAccess(b))
			assert.Equal(t, tc.want, b.SameAccess(a), "symmetric")
		})
	}
	var none *Store
	assert.False(t, none.SameAccess(&Store{cfg: base}))
	chain := base
	chain.AccessKeyID, chain.SecretAccessKey = "", ""
	assert.True(t, (&Store{cfg: chain}).SameAccess(&Store{cfg: chain}), "both the default credential chain of this process")

	// Mattermost configures AWS as s3.amazonaws.com; the plugin's own S3 settings leave the
	// endpoint empty. Both are AWS.
	aws := func(endpoint string) *Store {
		return &Store{cfg: Config{Bucket: "b", Endpoint: endpoint, Region: "eu-west-3"}}
	}
	for _, e := range []string{"https://s3.amazonaws.com", "https://s3.eu-west-3.amazonaws.com", "https://s3-eu-west-1.amazonaws.com", "https://s3.dualstack.us-east-1.amazonaws.com", "https://s3.cn-north-1.amazonaws.com.cn"} {
		assert.True(t, aws("").SameAccess(aws(e)), e)
	}
	for _, e := range []string{"https://minio.example.com", "https://s3.amazonaws.com.evil.example", "https://mys3.amazonaws.com.example"} {
		assert.False(t, aws("").SameAccess(aws(e)), e)
	}
}

func TestCopySourceHeader(t *testing.T) {
	assert.Equal(t, "b/a/b%20c%2Bd%26e%C3%A9%25.txt", CopySource{Bucket: "b", Key: "a/b c+d&eé%.txt"}.header())
	assert.Equal(t, "b/x-y_z.~1", CopySource{Bucket: "b", Key: "x-y_z.~1"}.header())
	assert.Equal(t, "b/k?versionId=3%2Fx%2By", CopySource{Bucket: "b", Key: "k", Version: Version{VersionID: "3/x+y"}}.header())
}
