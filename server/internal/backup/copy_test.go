package backup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/verify"
)

// filesBucket is the bucket of the S3 file stores of these tests, on the package's MinIO next
// to the backups' bucket (testBucket).
const filesBucket = "dr-files-test"

// countingTransport counts what an S3 client sends and receives: GetObject requests and the
// body bytes they return, and the body bytes of PUT and POST requests (uploads).
type countingTransport struct {
	gets, read, sent atomic.Int64
	// beforeCopy, if set, is called before each CopyObject request is sent.
	beforeCopy func(req *http.Request)
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if c.beforeCopy != nil && req.Header.Get("X-Amz-Copy-Source") != "" {
		c.beforeCopy(req)
	}
	if (req.Method == http.MethodPut || req.Method == http.MethodPost) && req.ContentLength > 0 {
		c.sent.Add(req.ContentLength)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	// Path-style: /bucket/key for objects; a listing is a GET of /bucket.
	_, key, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	if err != nil || req.Method != http.MethodGet || key == "" {
		return resp, err
	}
	c.gets.Add(1)
	resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.read}
	return resp, nil
}

func (c *countingTransport) reset() {
	c.gets.Store(0)
	c.read.Store(0)
	c.sent.Store(0)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// s3At returns a store on the test MinIO: bucket, a prefix of its own, these credentials, and
// a client whose requests c counts (when not nil).
func s3At(t *testing.T, bucket, accessKey, secretKey string, c *countingTransport) *s3.Store {
	t.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	return s3In(t, bucket, "t-"+hex.EncodeToString(rnd[:]), accessKey, secretKey, c)
}

func s3In(t *testing.T, bucket, prefix, accessKey, secretKey string, c *countingTransport) *s3.Store {
	t.Helper()
	requireMinIO(t)
	var opts []func(*s3api.Options)
	if c != nil {
		opts = append(opts, func(o *s3api.Options) { o.HTTPClient = &http.Client{Transport: c} })
	}
	s, err := s3.New(context.Background(), s3.Config{
		Bucket: bucket, Prefix: prefix, Region: harness.MinIORegion,
		Endpoint: minio.Endpoint, PathStyle: true, AccessKeyID: accessKey, SecretAccessKey: secretKey,
	}, opts...)
	require.NoError(t, err)
	return s
}

var filesBucketOnce sync.Once

// s3FileStore writes tree to a new folder of filesBucket and returns it as a file source, read
// with the given credentials through a client whose requests c counts.
func s3FileStore(t *testing.T, tree map[string][]byte, accessKey, secretKey string, c *countingTransport) *filesource.S3 {
	t.Helper()
	requireMinIO(t)
	filesBucketOnce.Do(func() { require.NoError(t, minio.MakeBucket(context.Background(), filesBucket)) })
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	prefix := "mm-" + hex.EncodeToString(rnd[:])
	root := s3In(t, filesBucket, prefix, minio.AccessKey, minio.SecretKey, nil)
	for p, b := range tree {
		_, err := root.Put(backuptest.Ctx(t), p, bytes.NewReader(b))
		require.NoError(t, err)
	}
	return filesource.NewS3(s3In(t, filesBucket, prefix, accessKey, secretKey, c))
}

// copyTree is a file store of new content: random (incompressible) files, one large, the same
// content twice, an empty file, a compressible file, and files that are themselves a zstd
// frame and an age header, which a raw pool object must hand back as they are.
func copyTree(t *testing.T) map[string][]byte {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 11))
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	frame := enc.EncodeAll([]byte("what a zstd decoder would return"), nil)
	require.NoError(t, enc.Close())
	dup := backuptest.RandBytes(rng, 70_000)
	tree := map[string][]byte{
		"data/a.bin":          backuptest.RandBytes(rng, 200_000),
		"data/b.bin":          backuptest.RandBytes(rng, 1),
		"data/big.bin":        backuptest.RandBytes(rng, 3<<20), // several parts when uploaded
		"data/dup-1.bin":      dup,
		"data/dup-2.bin":      dup,
		"data/empty":          nil,
		"data/text.txt":       bytes.Repeat([]byte("a compressible line of text\n"), 20_000),
		"emoji/e1/image.zst":  frame,
		"users/u1/secret.age": []byte(ageMagic + "\n-> X25519 not really\n"),
	}
	for i := range 20 {
		tree[fmt.Sprintf("teams/t%d/file.bin", i)] = backuptest.RandBytes(rng, rng.IntN(40_000)+1)
	}
	return tree
}

// contents sums up a tree: its distinct contents (by hash) and their total size, non-empty
// ones apart.
func contents(tree map[string][]byte) (distinct, nonEmpty int, nonEmptyBytes, total int64) {
	seen := map[string]bool{}
	for _, b := range tree {
		total += int64(len(b))
		h := sumHex(b)
		if seen[h] {
			continue
		}
		seen[h] = true
		distinct++
		if len(b) > 0 {
			nonEmpty++
			nonEmptyBytes += int64(len(b))
		}
	}
	return distinct, nonEmpty, nonEmptyBytes, total
}

// expectedPool is the pool keys a tree's content takes when non-empty files are copied raw.
func expectedPool(trees ...map[string][]byte) []string {
	set := map[string]bool{}
	for _, tree := range trees {
		for _, b := range tree {
			if len(b) == 0 {
				set[format.PoolKey(sumHex(b))] = true
			} else {
				set[format.RawPoolKey(sumHex(b))] = true
			}
		}
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkFiles reads every file of backup m back through OpenFile and compares it with tree, and
// returns the index entries by path.
func checkFiles(t *testing.T, s storage.Store, m *format.Manifest, ids []age.Identity, tree map[string][]byte) map[string]format.IndexEntry {
	t.Helper()
	idx := map[string]format.IndexEntry{}
	require.NoError(t, format.ReadIndex(backuptest.Ctx(t), s, m, ids, func(e format.IndexEntry) error {
		idx[e.Path] = e
		rc, err := format.OpenFile(backuptest.Ctx(t), s, e, ids)
		require.NoError(t, err, e.Path)
		defer rc.Close()
		b, err := io.ReadAll(rc)
		require.NoError(t, err, e.Path)
		assert.True(t, bytes.Equal(tree[e.Path], b), "content of %s", e.Path)
		assert.Equal(t, e.SHA256, sumHex(b), e.Path)
		return nil
	}))
	assert.Len(t, idx, len(tree))
	return idx
}

// An S3 file store backed up to a bucket of the same S3 service, with the same credentials:
// new content is copied by the service, each file read once (to hash it), and nothing but
// the backup's own small objects is uploaded.
func TestServerSideCopy(t *testing.T) {
	requireMinIO(t)
	tree := copyTree(t)
	srcHTTP, dstHTTP := &countingTransport{}, &countingTransport{}
	files := s3FileStore(t, tree, minio.AccessKey, minio.SecretKey, srcHTTP)
	dst := s3At(t, testBucket, minio.AccessKey, minio.SecretKey, dstHTTP)
	o := backup.Options{Components: format.Components{Files: true}, Files: files, Destinations: []backup.Destination{{Name: "s3", Store: dst, OffSite: true}}}
	distinct, nonEmpty, nonEmptyBytes, total := contents(tree)

	ms, err := backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	m := ms["s3"]
	t.Logf("first backup, copied: %d files (%d bytes); read %d bytes from the file store in %d GETs; %d bytes uploaded (%d for the pool)",
		len(tree), total, srcHTTP.read.Load(), srcHTTP.gets.Load(), dstHTTP.sent.Load(), m.Files.BytesUploaded)
	assert.Equal(t, 2, m.FormatVersion, "the index names raw objects")
	assert.Equal(t, int64(len(tree)), m.Files.Count)
	assert.Equal(t, int64(distinct), m.Files.NewPoolObjects)
	assert.Equal(t, int64(nonEmpty), m.Files.ServerSideCopied)
	assert.Equal(t, nonEmptyBytes, m.Files.BytesCopied)
	assert.Positive(t, m.Files.BytesUploaded, "the empty file's zstd frame")
	assert.Less(t, m.Files.BytesUploaded, int64(64), "only the empty file is uploaded")
	// Each file is read once; the empty one, uploaded, is opened again (to read no bytes).
	assert.Equal(t, int64(len(tree)+1), srcHTTP.gets.Load(), "each file is read once")
	assert.Equal(t, total, srcHTTP.read.Load(), "each file is read once")
	assert.Less(t, dstHTTP.sent.Load(), total/50, "no file content is uploaded")
	assert.Equal(t, expectedPool(tree), poolKeys(t, dst))
	idx := checkFiles(t, dst, m, nil, tree)
	for p, e := range idx {
		want := map[bool]string{true: "", false: format.EncodingRaw}[len(tree[p]) == 0]
		assert.Equal(t, want, e.Enc, p)
		assert.Equal(t, e.PoolKey(), map[bool]string{true: format.PoolKey(e.SHA256), false: format.RawPoolKey(e.SHA256)}[want == ""], p)
	}
	// Stored as is: the zstd frame and the age header are not taken for an encoding.
	assert.Equal(t, tree["emoji/e1/image.zst"], rawObject(t, dst, format.RawPoolKey(sumHex(tree["emoji/e1/image.zst"]))))
	assert.Equal(t, tree["data/text.txt"], rawObject(t, dst, format.RawPoolKey(sumHex(tree["data/text.txt"]))))
	assert.Empty(t, m.Warnings)

	// verify.Verify reads raw pool objects too, and names a damaged one.
	v, err := verify.Verify(backuptest.Ctx(t), dst, m.ID, verify.Options{})
	require.NoError(t, err)
	assert.Equal(t, format.OutcomePassed, v.Outcome, "%+v", v.Checks)
	rawKey := format.RawPoolKey(sumHex(tree["data/text.txt"]))
	orig := rawObject(t, dst, rawKey)
	bad := append([]byte(nil), orig...)
	bad[0] ^= 0xff
	_, err = dst.Put(backuptest.Ctx(t), rawKey, bytes.NewReader(bad))
	require.NoError(t, err)
	v, err = verify.Verify(backuptest.Ctx(t), dst, m.ID, verify.Options{})
	require.ErrorIs(t, err, verify.ErrVerificationFailed)
	assert.Contains(t, strings.Join(v.Problems, "\n"), rawKey)
	_, err = dst.Put(backuptest.Ctx(t), rawKey, bytes.NewReader(orig))
	require.NoError(t, err)

	// Unchanged: nothing read, nothing copied.
	srcHTTP.reset()
	o.ID = ""
	ms, err = backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	m2 := ms["s3"]
	assert.Equal(t, 2, m2.FormatVersion)
	assert.Zero(t, m2.Files.NewPoolObjects)
	assert.Zero(t, m2.Files.ServerSideCopied)
	assert.Zero(t, m2.Files.BytesCopied)
	assert.Zero(t, m2.Files.BytesUploaded)
	assert.Equal(t, int64(len(tree)), m2.Files.Unchanged)
	assert.Zero(t, srcHTTP.gets.Load())
	assert.Equal(t, idx, checkFiles(t, dst, m2, nil, tree))

	// A changed file, a new one, and a new file whose content is already in the pool.
	old := tree["data/a.bin"]
	tree2 := maps(tree)
	tree2["data/a.bin"] = []byte("changed content")
	tree2["data/new.bin"] = []byte("new content")
	tree2["data/dup-3.bin"] = tree["data/dup-1.bin"]
	for _, p := range []string{"data/a.bin", "data/new.bin", "data/dup-3.bin"} {
		_, err := files.Bucket().Put(backuptest.Ctx(t), p, bytes.NewReader(tree2[p]))
		require.NoError(t, err)
	}
	srcHTTP.reset()
	o.ID = ""
	ms, err = backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	m3 := ms["s3"]
	assert.Equal(t, int64(2), m3.Files.ServerSideCopied)
	assert.Equal(t, int64(len("changed content")+len("new content")), m3.Files.BytesCopied)
	assert.Equal(t, int64(3), srcHTTP.gets.Load(), "the three new or changed files, once each")
	checkFiles(t, dst, m3, nil, tree2)
	assert.Equal(t, expectedPool(tree, tree2), poolKeys(t, dst))

	// Pruning: raw objects go by the same rule as zstd ones, each encoding on its own. A zstd
	// object of content the index names raw is not in use.
	strayZstd := format.PoolKey(sumHex(tree2["data/new.bin"]))
	putZstd(t, dst, strayZstd, tree2["data/new.bin"])
	prune := backup.PruneOptions{}.WithNow(func() time.Time { return time.Now().Add(2 * time.Hour) })
	n, err := backup.PrunePool(backuptest.Ctx(t), dst, prune)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the stray zstd object; the old content of data/a.bin is still in use")
	assert.Equal(t, expectedPool(tree, tree2), poolKeys(t, dst))
	require.NoError(t, backup.Delete(backuptest.Ctx(t), dst, m.ID, prune))
	require.NoError(t, backup.Delete(backuptest.Ctx(t), dst, m2.ID, prune))
	assert.Equal(t, expectedPool(tree2), poolKeys(t, dst))
	assert.NotContains(t, poolKeys(t, dst), format.RawPoolKey(sumHex(old)))
	checkFiles(t, dst, m3, nil, tree2)
}

func maps(m map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// putZstd stores b at key as a zstd pool object.
func putZstd(t *testing.T, s storage.Store, key string, b []byte) {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	_, err = s.Put(backuptest.Ctx(t), key, bytes.NewReader(enc.EncodeAll(b, nil)))
	require.NoError(t, err)
	require.NoError(t, enc.Close())
}

// MinIO users for the tests below, made once: one that may only use the backups' bucket, and
// one that may use both buckets but whose copies from the file store are denied.
var (
	usersOnce sync.Once
	usersErr  error
)

const (
	backupsOnlyUser = "dr-backups-only"
	noCopyUser      = "dr-no-copy"
	userSecret      = "dr-test-user-secret-7c1d"
)

func makeUsers(t *testing.T) {
	t.Helper()
	requireMinIO(t)
	usersOnce.Do(func() {
		ctx := backuptest.Ctx(t)
		dir := t.TempDir()
		policies := map[string]string{
			backupsOnlyUser: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],
				"Resource":["arn:aws:s3:::` + testBucket + `","arn:aws:s3:::` + testBucket + `/*"]}]}`,
			// A policy such as an administrator might set: no copying out of the file store.
			noCopyUser: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],
				"Resource":["arn:aws:s3:::` + testBucket + `","arn:aws:s3:::` + testBucket + `/*","arn:aws:s3:::` + filesBucket + `","arn:aws:s3:::` + filesBucket + `/*"]},
				{"Effect":"Deny","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::` + testBucket + `/*"],
				"Condition":{"StringLike":{"s3:x-amz-copy-source":["` + filesBucket + `/*","/` + filesBucket + `/*"]}}}]}`,
		}
		for user, policy := range policies {
			file := filepath.Join(dir, user+".json")
			if usersErr = os.WriteFile(file, []byte(policy), 0o600); usersErr != nil {
				return
			}
			for _, args := range [][]string{
				{"admin", "user", "add", "local", user, userSecret},
				{"admin", "policy", "create", "local", user, file},
				{"admin", "policy", "attach", "local", user, "--user", user},
			} {
				if _, usersErr = minio.MC(ctx, args...); usersErr != nil {
					return
				}
			}
		}
	})
	require.NoError(t, usersErr)
}

// Server-side copies happen only when they can: not for encrypted backups, not for a
// destination with other credentials, and a destination whose copies are denied falls back to
// uploads and still succeeds. Without copies, new files are read twice (hash, then upload).
func TestServerSideCopyOnlyWhenPossible(t *testing.T) {
	makeUsers(t)
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	root := [2]string{minio.AccessKey, minio.SecretKey}
	tests := []struct {
		name      string
		files     [2]string // the file store's credentials
		dest      [2]string // the destination's
		encrypted bool
		copies    bool
		warning   string
	}{
		{name: "same access", files: root, dest: root, copies: true},
		{name: "encrypted", files: root, dest: root, encrypted: true},
		{name: "other credentials", files: root, dest: [2]string{backupsOnlyUser, userSecret}},
		{name: "copy denied", files: [2]string{noCopyUser, userSecret}, dest: [2]string{noCopyUser, userSecret},
			warning: "did not copy files from the file store"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tree := copyTree(t)
			srcHTTP, dstHTTP := &countingTransport{}, &countingTransport{}
			files := s3FileStore(t, tree, tc.files[0], tc.files[1], srcHTTP)
			dst := s3At(t, testBucket, tc.dest[0], tc.dest[1], dstHTTP)
			o := backup.Options{Components: format.Components{Files: true}, Files: files, Destinations: []backup.Destination{{Name: "s3", Store: dst, OffSite: true}}}
			var ids []age.Identity
			if tc.encrypted {
				o.Recipients, ids = []string{id.Recipient().String()}, []age.Identity{id}
			}
			distinct, nonEmpty, _, total := contents(tree)
			ms, err := backup.Run(backuptest.Ctx(t), o)
			require.NoError(t, err)
			m := ms["s3"]
			t.Logf("%s: %d files (%d bytes): read %d bytes from the file store in %d GETs; uploaded %d bytes (pool: %d), copied %d",
				tc.name, len(tree), total, srcHTTP.read.Load(), srcHTTP.gets.Load(), dstHTTP.sent.Load(), m.Files.BytesUploaded, m.Files.BytesCopied)
			assert.Equal(t, int64(distinct), m.Files.NewPoolObjects)
			idx := checkFiles(t, dst, m, ids, tree)
			if tc.copies {
				assert.Equal(t, int64(nonEmpty), m.Files.ServerSideCopied)
				assert.Equal(t, int64(len(tree)+1), srcHTTP.gets.Load(), "read once (the empty file twice)")
				assert.Equal(t, 2, m.FormatVersion)
				return
			}
			assert.Zero(t, m.Files.ServerSideCopied)
			assert.Zero(t, m.Files.BytesCopied)
			assert.Equal(t, 1, m.FormatVersion)
			// Every distinct content is read again to upload it (and the first copy's file
			// once more when copies were tried).
			assert.GreaterOrEqual(t, srcHTTP.gets.Load(), int64(len(tree)+distinct))
			assert.LessOrEqual(t, srcHTTP.gets.Load(), int64(len(tree)+distinct+1))
			assert.Greater(t, dstHTTP.sent.Load(), total/4, "the content is uploaded")
			for p, e := range idx {
				assert.Empty(t, e.Enc, p)
			}
			assert.Equal(t, distinctSums(tree), poolKeys(t, dst))
			if tc.warning == "" {
				assert.NotContains(t, strings.Join(m.Warnings, "\n"), "copy")
				return
			}
			require.Contains(t, strings.Join(m.Warnings, "\n"), tc.warning)
			assert.Contains(t, strings.Join(m.Warnings, "\n"), "access denied")
			assert.NotContains(t, strings.Join(m.Warnings, "\n"), userSecret)
			t.Log(m.Warnings)
		})
	}
}

// An encrypted backup never refers to a raw object, which holds content in the clear, even one
// that is in its destination's pool.
func TestEncryptedBackupIgnoresRawObjects(t *testing.T) {
	requireMinIO(t)
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	ids := []age.Identity{id}
	tree := map[string][]byte{"a": []byte("first file")}
	files := s3FileStore(t, tree, minio.AccessKey, minio.SecretKey, nil)
	dst := s3At(t, testBucket, minio.AccessKey, minio.SecretKey, nil)
	o := backup.Options{Components: format.Components{Files: true}, Files: files, Destinations: []backup.Destination{{Name: "s3", Store: dst, OffSite: true}}, Recipients: []string{id.Recipient().String()}}
	_, err = backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)

	// As if an unencrypted backup had copied "b" earlier.
	tree["b"] = []byte("second file")
	_, err = files.Bucket().Put(backuptest.Ctx(t), "b", bytes.NewReader(tree["b"]))
	require.NoError(t, err)
	_, err = dst.Put(backuptest.Ctx(t), format.RawPoolKey(sumHex(tree["b"])), bytes.NewReader(tree["b"]))
	require.NoError(t, err)

	o.ID = ""
	ms, err := backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	m := ms["s3"]
	assert.Equal(t, int64(1), m.Files.NewPoolObjects, "b uploaded encrypted")
	assert.Zero(t, m.Files.ServerSideCopied)
	for p, e := range checkFiles(t, dst, m, ids, tree) {
		assert.Empty(t, e.Enc, p)
	}
	assert.True(t, bytes.HasPrefix(rawObject(t, dst, format.PoolKey(sumHex(tree["b"]))), []byte(ageMagic)))
}

// Local and S3 destinations in one run: the S3 one gets copies and an index naming them, the
// local one uploads and an index naming zstd objects only, readable by earlier versions.
func TestServerSideCopyBesideLocal(t *testing.T) {
	requireMinIO(t)
	tree := copyTree(t)
	srcHTTP := &countingTransport{}
	files := s3FileStore(t, tree, minio.AccessKey, minio.SecretKey, srcHTTP)
	dst, loc := s3At(t, testBucket, minio.AccessKey, minio.SecretKey, nil), backuptest.LocalStore(t)
	o := backup.Options{Components: format.Components{Files: true}, Files: files, Destinations: []backup.Destination{{Name: "local", Store: loc}, {Name: "s3", Store: dst, OffSite: true}}}
	distinct, nonEmpty, _, _ := contents(tree)
	ms, err := backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	ml, m3 := ms["local"], ms["s3"]
	assert.Equal(t, 1, ml.FormatVersion)
	assert.Equal(t, 2, m3.FormatVersion)
	assert.Equal(t, int64(nonEmpty), m3.Files.ServerSideCopied)
	assert.Zero(t, ml.Files.ServerSideCopied)
	assert.Equal(t, int64(distinct), ml.Files.NewPoolObjects)
	assert.NotEqual(t, ml.Object(format.ComponentFilesIndex).SHA256, m3.Object(format.ComponentFilesIndex).SHA256, "an index per destination")
	assert.Equal(t, int64(len(tree)+distinct), srcHTTP.gets.Load(), "hashed, then uploaded to the local destination")
	for p, e := range checkFiles(t, loc, ml, nil, tree) {
		assert.Empty(t, e.Enc, p)
	}
	for p, e := range checkFiles(t, dst, m3, nil, tree) {
		assert.Equal(t, len(tree[p]) > 0, e.Enc == format.EncodingRaw, p)
	}
	assert.Equal(t, distinctSums(tree), poolKeys(t, loc))
	assert.Equal(t, expectedPool(tree), poolKeys(t, dst))
}

// A file that changes or vanishes between its hash and its copy: the copy, pinned to the
// version hashed, fails; the file is read again and its new content copied, or it is skipped.
// Nothing is ever stored under a hash that is not its content's.
func TestServerSideCopyOfAFileChangedMeanwhile(t *testing.T) {
	requireMinIO(t)
	tests := []struct {
		name   string
		change func(t *testing.T, src *s3.Store)
		want   []byte // nil: skipped
	}{
		{name: "overwritten", want: []byte("second"), change: func(t *testing.T, src *s3.Store) {
			_, err := src.Put(context.Background(), "f", bytes.NewReader([]byte("second")))
			assert.NoError(t, err) // not require: called from the run's goroutines
		}},
		{name: "deleted", change: func(t *testing.T, src *s3.Store) {
			assert.NoError(t, src.Delete(context.Background(), "f"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tree := map[string][]byte{"f": []byte("first"), "g": []byte("other")}
			files := s3FileStore(t, tree, minio.AccessKey, minio.SecretKey, nil)
			var once sync.Once
			dstHTTP := &countingTransport{beforeCopy: func(req *http.Request) {
				if strings.HasSuffix(req.Header.Get("X-Amz-Copy-Source"), "/f") {
					once.Do(func() { tc.change(t, files.Bucket()) })
				}
			}}
			dst := s3At(t, testBucket, minio.AccessKey, minio.SecretKey, dstHTTP)
			o := backup.Options{Components: format.Components{Files: true}, Files: files, Destinations: []backup.Destination{{Name: "s3", Store: dst, OffSite: true}}}
			ms, err := backup.Run(backuptest.Ctx(t), o)
			require.NoError(t, err)
			m := ms["s3"]
			want := map[string][]byte{"g": tree["g"]}
			if tc.want != nil {
				want["f"] = tc.want
			}
			checkFiles(t, dst, m, nil, want)
			assert.Equal(t, expectedPool(want), poolKeys(t, dst), "nothing under the old hash")
			assert.Equal(t, int64(len(want)), m.Files.ServerSideCopied, "copies stay on")
			assert.Equal(t, int64(2-len(want)), m.Files.Skipped)
			assert.NotContains(t, strings.Join(m.Warnings, "\n"), "did not copy")
		})
	}
}
