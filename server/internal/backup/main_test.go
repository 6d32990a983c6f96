package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
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
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
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
	testPG    *harness.Postgres
	pgMissing string
	minio     *harness.MinIO
	minioErr  error
	dbSeq     atomic.Int64
)

// TestMain starts one PostgreSQL cluster and one MinIO server for the package. Tests that
// need one skip, saying why, when it cannot be started, except under CI (CI set), where they
// fail.
func TestMain(m *testing.M) {
	os.Exit(harness.RunWithPostgres(m, "backup-test-pg", func(pg *harness.Postgres, missing string) (stop func(), _ error) {
		testPG, pgMissing = pg, missing
		minio, stop, minioErr = harness.TestMinIOBucket("backup tests", testBucket)
		return stop, nil
	}))
}

func requirePG(t *testing.T) {
	t.Helper()
	if testPG == nil {
		harness.Unavailable(t, "PostgreSQL", pgMissing)
	}
}

func requireMinIO(t *testing.T) {
	t.Helper()
	if minio == nil {
		harness.Unavailable(t, "MinIO", minioErr)
	}
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// createDB creates a database with a Mattermost-like schema, dropped when the test ends.
func createDB(t *testing.T) (name, url string) {
	t.Helper()
	requirePG(t)
	name = fmt.Sprintf("mm_%d", dbSeq.Add(1))
	ctx := context.Background()
	require.NoError(t, testPG.CreateDatabase(ctx, name))
	t.Cleanup(func() { dropDB(name) })
	url = testPG.URL(name)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, s := range []string{
		`CREATE TABLE db_migrations (version bigint PRIMARY KEY, name varchar NOT NULL)`,
		`CREATE TABLE users (id varchar(26) PRIMARY KEY, username text, lastpictureupdate bigint, deleteat bigint DEFAULT 0)`,
		`CREATE TABLE fileinfo (id varchar(26) PRIMARY KEY, path text, thumbnailpath text, previewpath text, deleteat bigint DEFAULT 0)`,
		`CREATE TABLE emoji (id varchar(26) PRIMARY KEY, name text, deleteat bigint DEFAULT 0)`,
		`CREATE TABLE posts (id bigserial PRIMARY KEY, message text)`,
		`INSERT INTO db_migrations SELECT g, 'm' || g FROM generate_series(1, 140) g`,
		`INSERT INTO users SELECT 'u' || g, 'user' || g, CASE WHEN g % 2 = 0 THEN 1700000000000 + g ELSE 0 END, CASE WHEN g = 4 THEN 1 ELSE 0 END FROM generate_series(1, 10) g`,
		`INSERT INTO fileinfo SELECT 'f' || g, 'data/f' || g || '/file.bin', CASE WHEN g % 3 = 0 THEN 'data/f' || g || '/thumb.jpg' ELSE '' END,
			CASE WHEN g % 4 = 0 THEN 'data/f' || g || '/preview.jpg' ELSE NULL END, CASE WHEN g = 7 THEN 5 ELSE 0 END FROM generate_series(1, 12) g`,
		`INSERT INTO emoji SELECT 'e' || g, 'emoji' || g, CASE WHEN g = 3 THEN 9 ELSE 0 END FROM generate_series(1, 4) g`,
		`INSERT INTO posts (message) SELECT repeat('hello ', 20) FROM generate_series(1, 700) g`,
	} {
		_, err := conn.Exec(ctx, s)
		require.NoError(t, err, s)
	}
	return name, url
}

func dropDB(name string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testPG.URL("postgres"))
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
}

// expectedRefs is what createDB's data refers to.
func expectedRefs() map[string]format.Reference {
	refs := map[string]format.Reference{}
	for g := 1; g <= 12; g++ {
		del := g == 7
		p := fmt.Sprintf("data/f%d/file.bin", g)
		refs[p] = format.Reference{Path: p, Kind: "file", Deleted: del}
		if g%3 == 0 {
			p := fmt.Sprintf("data/f%d/thumb.jpg", g)
			refs[p] = format.Reference{Path: p, Kind: "thumbnail", Deleted: del}
		}
		if g%4 == 0 {
			p := fmt.Sprintf("data/f%d/preview.jpg", g)
			refs[p] = format.Reference{Path: p, Kind: "preview", Deleted: del}
		}
	}
	for g := 2; g <= 10; g += 2 {
		p := fmt.Sprintf("users/u%d/profile.png", g)
		refs[p] = format.Reference{Path: p, Kind: "profile", Deleted: g == 4}
	}
	for _, g := range []int{1, 2, 4} {
		p := fmt.Sprintf("emoji/e%d/image", g)
		refs[p] = format.Reference{Path: p, Kind: "emoji"}
	}
	return refs
}

// dirConfig is a config source over a folder holding config.json and other files.
type dirConfig struct{ dir string }

func (c dirConfig) Effective(context.Context) ([]byte, error) {
	return os.ReadFile(filepath.Join(c.dir, "config.json"))
}

func (c dirConfig) Files(_ context.Context, fn func(name string, size int64, r io.Reader) error) error {
	return filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(c.dir, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		return fn(filepath.ToSlash(rel), fi.Size(), f)
	})
}

func makeConfigDir(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"config.json":  []byte(`{"SqlSettings":{"DataSource":"postgres://mmuser:s3cret@db/mattermost"},"FileSettings":{"Directory":"./data/"}}`),
		"saml.crt":     []byte("-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"),
		"saml-idp.crt": bytes.Repeat([]byte("idp"), 1000),
	}
	for n, b := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), b, 0o600))
	}
	return dir, files
}

// fileTree writes a file store of n files (nested folders, an empty file, duplicate
// contents, the files createDB refers to) and returns path → content.
func fileTree(t *testing.T, dir string, n int) map[string][]byte {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(1, 2))
	tree := map[string][]byte{}
	shared := randBytes(rng, 5000)
	add := func(p string, b []byte) { tree[p] = b }
	for g := 1; g <= 12; g++ {
		add(fmt.Sprintf("data/f%d/file.bin", g), randBytes(rng, rng.IntN(20000)))
		if g%3 == 0 {
			add(fmt.Sprintf("data/f%d/thumb.jpg", g), shared) // same content many times
		}
		if g%4 == 0 {
			add(fmt.Sprintf("data/f%d/preview.jpg", g), randBytes(rng, 1000))
		}
	}
	for g := 2; g <= 10; g += 2 {
		add(fmt.Sprintf("users/u%d/profile.png", g), randBytes(rng, 3000))
	}
	add("emoji/e1/image", []byte("emoji one"))
	add("emoji/e2/image", []byte("emoji two"))
	add("emoji/e4/image", []byte("emoji four"))
	add("brand/image.png", []byte("brand"))
	add("empty.txt", nil)
	add("a.txt", []byte("before the folder a"))
	add("a/b.txt", []byte("in a"))
	add("a0", []byte("after the folder a"))
	add("big/one.bin", randBytes(rng, 3<<20))
	for i := 0; len(tree) < n; i++ {
		p := fmt.Sprintf("20261126/teams/t%d/channels/c%d/users/u%d/file%03d/name %d.txt", i%3, i%7, i%5, i, i)
		if i%10 == 0 {
			add(p, []byte("duplicate content"))
		} else {
			add(p, randBytes(rng, rng.IntN(50000)))
		}
	}
	mtime := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for p, b := range tree {
		writeFile(t, dir, p, b, mtime)
	}
	return tree
}

func writeFile(t *testing.T, dir, p string, b []byte, mtime time.Time) {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(p))
	require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o750))
	require.NoError(t, os.WriteFile(full, b, 0o600))
	require.NoError(t, os.Chtimes(full, mtime, mtime))
}

func randBytes(rng *mrand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func sumHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func localStore(t *testing.T) *local.Store {
	t.Helper()
	s, err := local.New(t.TempDir())
	require.NoError(t, err)
	return s
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
	rc, err := format.OpenObject(ctxOf(t), s, key, ids)
	require.NoError(t, err, key)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err, key)
	return b
}

func rawObject(t *testing.T, s storage.Store, key string) []byte {
	t.Helper()
	rc, err := s.Open(ctxOf(t), key)
	require.NoError(t, err, key)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err, key)
	return b
}

func keys(t *testing.T, s storage.Store, prefix string) []string {
	t.Helper()
	out := []string{}
	require.NoError(t, s.List(ctxOf(t), prefix, func(o storage.ObjectInfo) error {
		out = append(out, o.Key)
		return nil
	}))
	return out
}

// poolKeys lists the pool's object keys.
func poolKeys(t *testing.T, s storage.Store) []string { return keys(t, s, format.PoolPrefix) }

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

// pgTool is a PostgreSQL client program next to the pg_dump pgdump uses.
func pgTool(t *testing.T, name string) string {
	t.Helper()
	p, _, err := pgdump.FindPgDump("")
	require.NoError(t, err)
	return filepath.Join(filepath.Dir(p), name)
}

// restoreAndCount restores a dump file into a new database and counts the rows of tables.
func restoreAndCount(t *testing.T, dump string, tables map[string]int64) map[string]int64 {
	t.Helper()
	name := fmt.Sprintf("restored_%d", dbSeq.Add(1))
	ctx := context.Background()
	require.NoError(t, testPG.CreateDatabase(ctx, name))
	t.Cleanup(func() { dropDB(name) })
	out, err := exec.Command(pgTool(t, "pg_restore"), "--no-owner", "--exit-on-error", "--dbname="+testPG.URL(name), dump).CombinedOutput()
	require.NoError(t, err, "pg_restore: %s", out)
	conn, err := pgx.Connect(ctx, testPG.URL(name))
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
