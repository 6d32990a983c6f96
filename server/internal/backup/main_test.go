package backup_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
)

const testBucket = "dr-backup-test"

// How stored objects start (see format.Decode), and the manifest's checksum field (see
// format.MarshalManifest), for the tests that inspect or forge stored bytes.
const (
	ageMagic            = "age-encryption.org/v1"
	zstdMagic           = "\x28\xb5\x2f\xfd"
	checksumPlaceholder = "0000000000000000000000000000000000000000000000000000000000000000"
)

var checksumField = regexp.MustCompile(`"checksum": ?"([0-9a-f]{64})"`)

var (
	minio    *harness.MinIO
	minioErr error
)

// TestMain starts one PostgreSQL cluster and one MinIO server for the package. Tests that
// need one skip, saying why, when it cannot be started, except under CI (CI set), where they
// fail.
func TestMain(m *testing.M) {
	os.Exit(harness.RunWithPostgres(m, "backup-test-pg", func(pg *harness.Postgres, missing string) (stop func(), _ error) {
		backuptest.UsePostgres(pg, missing)
		minio, stop, minioErr = harness.TestMinIOBucket("backup tests", testBucket)
		return stop, nil
	}))
}

func requireMinIO(t *testing.T) {
	t.Helper()
	if minio == nil {
		harness.Unavailable(t, "MinIO", minioErr)
	}
}

func sumHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func minioStore(t *testing.T) *s3.Store {
	t.Helper()
	requireMinIO(t)
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	s, err := s3.New(context.Background(), s3.Config{
		Bucket: testBucket, Prefix: "t-" + hex.EncodeToString(rnd[:]), Region: harness.MinIORegion,
		Endpoint: minio.Endpoint, PathStyle: true, AccessKeyID: minio.AccessKey, SecretAccessKey: minio.SecretKey,
	})
	require.NoError(t, err)
	return s
}

// readObject returns an object's plain content.
func readObject(t *testing.T, s storage.Store, key string, ids []age.Identity) []byte {
	t.Helper()
	rc, err := format.OpenObject(backuptest.Ctx(t), s, key, ids)
	require.NoError(t, err, key)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err, key)
	return b
}

func rawObject(t *testing.T, s storage.Store, key string) []byte {
	t.Helper()
	rc, err := s.Open(backuptest.Ctx(t), key)
	require.NoError(t, err, key)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err, key)
	return b
}

// poolKeys lists the pool's object keys.
func poolKeys(t *testing.T, s storage.Store) []string {
	return backuptest.Keys(t, s, format.PoolPrefix)
}

func distinctSums(tree map[string][]byte) []string {
	set := map[string]bool{}
	for _, b := range tree {
		set[format.PoolKey(sumHex(b))] = true
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// restoreAndCount restores a dump file into a new database and counts the rows of tables.
func restoreAndCount(t *testing.T, dump string, tables map[string]int64) map[string]int64 {
	t.Helper()
	_, url := backuptest.NewDatabase(t, "restored")
	ctx := context.Background()
	out, err := exec.Command(backuptest.PgTool(t, "pg_restore"), "--no-owner", "--exit-on-error", "--dbname="+url, dump).CombinedOutput()
	require.NoError(t, err, "pg_restore: %s", out)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	got := map[string]int64{}
	for table := range tables {
		schema, rel, _ := strings.Cut(table, ".")
		var n int64
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, rel}.Sanitize()).Scan(&n))
		got[table] = n
	}
	return got
}

// faultyStore fails the Put of keys matching failKey after failAfter bytes.
type faultyStore struct {
	storage.Store
	failKey   func(string) bool
	failAfter int64
	fired     atomic.Bool
	onPut     func() // called, if set, when a matching Put has read its first bytes
}

var errInjected = errors.New("injected failure")

func (f *faultyStore) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if f.failKey != nil && f.failKey(key) {
		f.fired.Store(true)
		r = &failingReader{r: r, left: f.failAfter, onFirst: f.onPut}
	}
	return f.Store.Put(ctx, key, r)
}

type failingReader struct {
	r       io.Reader
	left    int64
	onFirst func()
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.onFirst != nil {
		defer f.onFirst()
		f.onFirst = nil
	}
	if f.left <= 0 {
		return 0, errInjected
	}
	if int64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.left -= int64(n)
	return n, err
}

// hookSource wraps a file source and calls onOpen before each Open.
type hookSource struct {
	filesource.Source
	opens  atomic.Int64
	onOpen func(n int64)
}

func (h *hookSource) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if h.onOpen != nil {
		h.onOpen(h.opens.Add(1))
	}
	return h.Source.Open(ctx, p)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func newRand() *mrand.Rand { return mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7)) }

func newLocalSource(dir string) filesource.Source { return filesource.NewLocal(dir) }
