package s3

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/storagetest"
)

const testBucket = "dr-storage-test"

var (
	server    *harness.MinIO
	serverErr error
)

// TestMain starts one MinIO server for the package (built once into the cache by
// build/scripts/minio.sh). Without it the S3 tests skip, saying why, except under CI (CI set),
// where they fail.
func TestMain(m *testing.M) {
	os.Exit(harness.RunWithMinIO(m, "s3 tests", testBucket, func(s *harness.MinIO, err error) { server, serverErr = s, err }))
}

func requireMinIO(t *testing.T) *harness.MinIO {
	t.Helper()
	if server == nil {
		harness.Unavailable(t, "MinIO", serverErr)
	}
	return server
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9-]+`)

// testConfig is a store configuration on the test server with a prefix of its own.
func testConfig(t *testing.T) Config {
	t.Helper()
	m := requireMinIO(t)
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := unsafeChars.ReplaceAllString(t.Name(), "-")
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	return Config{
		Bucket: testBucket, Prefix: "t/" + name + "-" + hex.EncodeToString(rnd[:]), Region: harness.MinIORegion,
		Endpoint: m.Endpoint, PathStyle: true, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey,
	}
}

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(context.Background(), testConfig(t))
	require.NoError(t, err)
	return s
}

// incomplete lists the multipart uploads left under the store's prefix, asking both for the
// whole prefix and, since some S3-compatible stores only list uploads by exact key, for keys.
func incomplete(t *testing.T, s *Store, keys ...string) []string {
	t.Helper()
	ctx := context.Background()
	var left []string
	require.NoError(t, s.IncompleteUploads(ctx, func(u IncompleteUpload) error {
		left = append(left, u.Key)
		return nil
	}, keys...))
	// The same, straight from ListMultipartUploads.
	var raw []string
	for _, k := range append([]string{""}, keys...) {
		in := &s3api.ListMultipartUploadsInput{Bucket: aws.String(testBucket)}
		if k != "" {
			in.Prefix = aws.String(s.FullKey(k))
		}
		out, err := s.client.ListMultipartUploads(ctx, in)
		require.NoError(t, err)
		for _, u := range out.Uploads {
			if k, ok := strings.CutPrefix(aws.ToString(u.Key), s.prefix); ok && !slices.Contains(raw, k) {
				raw = append(raw, k)
			}
		}
	}
	assert.ElementsMatch(t, raw, left)
	return left
}

// The keys the conformance suite's failing and cancelled Puts use.
var suiteKeys = []string{"fail/1024", "fail/41943040", "keep", "cancelled/before", "cancelled/1024", "cancelled/41943040", "big/object.bin"}

func TestConformance(t *testing.T) {
	requireMinIO(t)
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s := newStore(t)
		t.Cleanup(func() {
			assert.Empty(t, incomplete(t, s, suiteKeys...), "incomplete multipart uploads left behind")
		})
		return s
	})
}

func TestString(t *testing.T) {
	cfg := testConfig(t)
	s, err := New(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, "s3://"+testBucket+"/"+cfg.Prefix, s.String())
	cfg.Prefix = "/"
	s, err = New(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, "s3://"+testBucket, s.String())
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		assert.NotContains(t, fmt.Sprintf(f, cfg), cfg.SecretAccessKey, f)
		assert.NotContains(t, fmt.Sprintf(f, s), cfg.SecretAccessKey, f)
	}
	assert.Contains(t, fmt.Sprintf("%v", cfg), "SecretAccessKey:[redacted]")
}

func TestWrongCredentialsNeverShowTheSecret(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.SecretAccessKey = "Wr0ng-S3cret-Key-d41d8cd98f00b204"
	s, err := New(ctx, cfg)
	require.NoError(t, err)
	var errs []error
	_, err = s.Put(ctx, "x", strings.NewReader("data"))
	errs = append(errs, err)
	_, err = s.Put(ctx, "big", storagetest.NewGenerator(20*storagetest.MiB, 1))
	errs = append(errs, err)
	_, err = s.Stat(ctx, "x")
	errs = append(errs, err)
	_, err = s.Open(ctx, "x")
	errs = append(errs, err)
	errs = append(errs, s.List(ctx, "", func(storage.ObjectInfo) error { return nil }), s.Delete(ctx, "x"))
	for i, err := range errs {
		require.Error(t, err, "call %d", i)
		t.Log(err)
		assert.NotContains(t, err.Error(), cfg.SecretAccessKey, "call %d", i)
		assert.NotContains(t, fmt.Sprintf("%+v", err), cfg.SecretAccessKey, "call %d", i)
		assert.NotErrorIs(t, err, storage.ErrNotFound, "call %d", i)
	}
	assert.Contains(t, errs[0].Error(), "the secret access key does not match the access key ID: check SecretAccessKey")

	cfg.AccessKeyID = "unknown-access-key"
	s, err = New(ctx, cfg)
	require.NoError(t, err)
	_, err = s.Put(ctx, "x", strings.NewReader("data"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "check AccessKeyID")
	assert.NotContains(t, err.Error(), cfg.SecretAccessKey)
}

func TestMissingBucket(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = "no-such-bucket-here"
	s, err := New(context.Background(), cfg)
	require.NoError(t, err)
	_, err = s.Put(context.Background(), "x", strings.NewReader("data"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `bucket "no-such-bucket-here" does not exist`)
	err = s.List(context.Background(), "", func(storage.ObjectInfo) error { return nil })
	assert.Contains(t, err.Error(), "does not exist")
}

// MinIO is killed in the middle of a 200 MiB Put: Put fails, and once MinIO is back no object
// and, after CleanupIncompleteUploads if the abort could not reach the dead server, no
// incomplete upload remain.
func TestServerKilledMidUpload(t *testing.T) {
	m := requireMinIO(t)
	ctx := context.Background()
	s := newStore(t)
	g := storagetest.NewGenerator(200*storagetest.MiB, 7)
	g.At, g.OnByte = 64*storagetest.MiB, m.Kill
	t0 := time.Now()
	n, err := s.Put(ctx, "killed/db.dump", g)
	require.Error(t, err)
	t.Logf("Put failed after %s and %d MiB: %v", time.Since(t0).Round(time.Millisecond), n>>20, err)
	require.NoError(t, m.Restart(ctx), "restart MinIO")

	storagetest.RequireAbsent(t, s, "killed/db.dump")
	if left := incomplete(t, s, "killed/db.dump"); len(left) > 0 {
		// Expected: the abort could not reach the dead server.
		assert.Contains(t, err.Error(), "CleanupIncompleteUploads")
		t.Logf("incomplete uploads after the restart: %v; cleaning up", left)
		aborted, err := s.CleanupIncompleteUploads(ctx, time.Hour, "killed/db.dump")
		require.NoError(t, err)
		assert.Zero(t, aborted, "a recent upload is left alone")
		// MinIO's bucket-wide listing forgets the uploads started before its restart; AWS's
		// does not. The key is looked up on its own.
		aborted, err = s.CleanupIncompleteUploads(ctx, 0)
		require.NoError(t, err)
		t.Logf("without the key, CleanupIncompleteUploads found %d of %d", aborted, len(left))
		if aborted < len(left) {
			n, err := s.CleanupIncompleteUploads(ctx, 0, "killed/db.dump")
			require.NoError(t, err)
			aborted += n
		}
		assert.Equal(t, len(left), aborted)
	}
	assert.Empty(t, incomplete(t, s, "killed/db.dump"))
	storagetest.RequireAbsent(t, s, "killed/db.dump")

	// The store works again.
	storagetest.Put(t, s, "after/restart", []byte("ok"))
}

// A Put of 512 MiB keeps memory flat: parts are buffered, not the object.
func TestPutMemoryStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("512 MiB upload skipped in -short mode")
	}
	s := newStore(t)
	// Measure what the Put holds, not the garbage the collector has yet to reclaim: with the
	// default GOGC the heap may grow to twice the live data before a collection (more under
	// -race), which says nothing about buffering.
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	g := storagetest.NewGenerator(512*storagetest.MiB, 11)
	t0 := time.Now()
	n, err := s.Put(context.Background(), "memory/512MiB", g)
	elapsed := time.Since(t0)
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	require.Equal(t, g.N, n)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	growth := (peak - min(peak, base.HeapInuse)) >> 20
	t.Logf("512 MiB in %s: heap in use %d MiB before, peak %d MiB (+%d MiB); %d MiB allocated in total",
		elapsed.Round(time.Millisecond), base.HeapInuse>>20, peak>>20, growth, (after.TotalAlloc-base.TotalAlloc)>>20)
	assert.Less(t, growth, uint64(100), "heap growth during the Put, MiB")
	assert.Less(t, peak>>20, uint64(128), "peak heap in use, MiB")
	assert.Less(t, (after.TotalAlloc-base.TotalAlloc)>>20, uint64(200), "allocated during the Put, MiB: not proportional to the object")

	info, err := s.Stat(context.Background(), "memory/512MiB")
	require.NoError(t, err)
	assert.Equal(t, g.N, info.Size)
	require.NoError(t, s.Delete(context.Background(), "memory/512MiB"))
}

func TestNewWithoutRegionUsesEnvironmentOrDefault(t *testing.T) {
	cfg := testConfig(t)
	cfg.Region = ""
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	s, err := New(context.Background(), cfg)
	require.NoError(t, err, "a custom endpoint defaults to us-east-1")
	storagetest.Put(t, s, "x", []byte("x"))

	cfg.Endpoint = ""
	_, err = New(context.Background(), cfg)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Region", ce.Setting)
}

func TestCancelledContextLeavesNoUpload(t *testing.T) {
	s := newStore(t)
	for _, at := range []int64{16 * storagetest.MiB, 17 * storagetest.MiB, 33 * storagetest.MiB} {
		ctx, cancel := context.WithCancel(context.Background())
		g := storagetest.NewGenerator(64*storagetest.MiB, 3)
		g.At, g.OnByte = at, cancel
		_, err := s.Put(ctx, "c", g)
		cancel()
		require.ErrorIs(t, err, context.Canceled)
		storagetest.RequireAbsent(t, s, "c")
		assert.Empty(t, incomplete(t, s, "c"), "cancelled at %d", at)
	}
}

func TestErrNotFoundMessage(t *testing.T) {
	s := newStore(t)
	_, err := s.Stat(context.Background(), "nope")
	require.ErrorIs(t, err, storage.ErrNotFound)
	assert.Equal(t, "stat "+s.String()+"/nope: object not found", err.Error())
	_, err = s.Open(context.Background(), "nope")
	require.ErrorIs(t, err, storage.ErrNotFound)
	assert.True(t, errors.Is(err, storage.ErrNotFound))
	var e *Error
	require.ErrorAs(t, err, &e)
}

func TestReaderErrorIsReturned(t *testing.T) {
	s := newStore(t)
	broken := errors.New("pg_dump exited with status 1")
	_, err := s.Put(context.Background(), "r", io.MultiReader(strings.NewReader("abc"), iotestErr{broken}))
	require.ErrorIs(t, err, broken)
	assert.Contains(t, err.Error(), "pg_dump exited with status 1")
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

// Objects up to smallPut go in one PutObject, larger ones multipart: both sides of the
// boundary round-trip exactly.
func TestPutAroundTheSinglePutLimit(t *testing.T) {
	s := newStore(t)
	for _, size := range []int64{0, 1, smallPut - 1, smallPut, smallPut + 1, 3*smallPut + 7} {
		key := fmt.Sprintf("boundary/%d", size)
		g := storagetest.NewGenerator(size, 5)
		n, err := s.Put(context.Background(), key, g)
		require.NoError(t, err, size)
		assert.Equal(t, size, n)
		rc, err := s.Open(context.Background(), key)
		require.NoError(t, err)
		h := sha256.New()
		got, err := io.Copy(h, rc)
		rc.Close()
		require.NoError(t, err)
		assert.Equal(t, size, got)
		assert.Equal(t, g.Sum(), h.Sum(nil), "content of %d bytes", size)
	}
}
