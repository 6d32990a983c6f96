package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
)

var (
	testPG    *harness.Postgres
	pgMissing string
	dbSeq     atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(harness.RunWithPostgres(m, "restore-test", func(pg *harness.Postgres, missing string) (func(), error) {
		testPG, pgMissing = pg, missing
		return nil, nil
	}))
}

func requirePG(t *testing.T) {
	t.Helper()
	if testPG == nil {
		harness.Unavailable(t, "PostgreSQL", pgMissing)
	}
}

func newDB(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("restore_%d", dbSeq.Add(1))
	require.NoError(t, testPG.CreateDatabase(context.Background(), name))
	return testPG.URL(name)
}

type dirConfig struct{ files map[string][]byte }

func (c dirConfig) Effective(context.Context) ([]byte, error) {
	return []byte(`{"ServiceSettings":{"SiteURL":"https://chat.example.com"},"SqlSettings":{"DataSource":"postgres://old:secret@old-db:5432/mm","DataSourceReplicas":["postgres://old-replica/mm"]},"FileSettings":{"DriverName":"local","Directory":"/old/data/"}}`), nil
}

func (c dirConfig) Files(_ context.Context, fn func(string, int64, io.Reader) error) error {
	for name, b := range c.files {
		if err := fn(name, int64(len(b)), bytes.NewReader(b)); err != nil {
			return err
		}
	}
	return nil
}

// source is a small server to back up: a database, config files and a file store.
type source struct {
	dbURL string
	files map[string][]byte
	store *local.Store
	id    *age.X25519Identity
	key   *format.SigningKey
	m     *format.Manifest
	bo    backup.Options
}

// backup takes another backup of the source into its store, signed by key (nil: unsigned).
func (s *source) backup(t *testing.T, key *format.SigningKey) *format.Manifest {
	t.Helper()
	o := s.bo
	o.SigningKey = key
	ms, err := backup.Run(context.Background(), o)
	require.NoError(t, err)
	return ms["local"]
}

func newSource(t *testing.T, encrypted bool) *source {
	t.Helper()
	requirePG(t)
	s := &source{dbURL: newDB(t), files: map[string][]byte{}}
	conn, err := pgx.Connect(context.Background(), s.dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	for _, q := range []string{
		`CREATE TABLE db_migrations (version bigint PRIMARY KEY, name text)`,
		`INSERT INTO db_migrations SELECT g, 'm' || g FROM generate_series(1, 150) g`,
		`CREATE TABLE posts (id bigserial PRIMARY KEY, message text)`,
		`INSERT INTO posts (message) SELECT 'post ' || g FROM generate_series(1, 5000) g`,
		`CREATE TABLE fileinfo (id text PRIMARY KEY, path text, thumbnailpath text, previewpath text, deleteat bigint DEFAULT 0)`,
		`INSERT INTO fileinfo VALUES ('f1', 'data/a/one.bin', '', '', 0), ('f2', 'data/b/two.bin', 'data/b/two_thumb.jpg', '', 0)`,
	} {
		_, err := conn.Exec(context.Background(), q)
		require.NoError(t, err, q)
	}
	dataDir := t.TempDir()
	for p, b := range map[string][]byte{"data/a/one.bin": bytes.Repeat([]byte("1"), 5000), "data/b/two.bin": []byte("two"),
		"data/b/two_thumb.jpg": []byte("thumb"), "plugins/com.example/kv.bin": []byte("plugin data")} {
		full := filepath.Join(dataDir, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, b, 0o644))
		s.files[p] = b
	}
	s.store, err = local.New(t.TempDir())
	require.NoError(t, err)
	s.key, err = format.GenerateSigningKey()
	require.NoError(t, err)
	o := backup.Options{SigningKey: s.key,
		Components: format.Components{Database: true, Config: true, Files: true},
		Database:   pgdump.Options{DataSource: s.dbURL},
		Config:     dirConfig{files: map[string][]byte{"saml-idp.crt": []byte("-----BEGIN CERTIFICATE-----\nabc\n")}},
		Files:      filesource.NewLocal(dataDir), MattermostVersion: "11.4.0",
		Destinations: []backup.Destination{{Name: "local", Store: s.store}},
	}
	if encrypted {
		s.id, err = age.GenerateX25519Identity()
		require.NoError(t, err)
		o.Recipients = []string{s.id.Recipient().String()}
	}
	s.bo = o
	s.m = s.backup(t, s.key)
	return s
}

func (s *source) options(t *testing.T) (Options, *bytes.Buffer) {
	out := &bytes.Buffer{}
	o := Options{From: s.store, ID: "latest", DatabaseURL: newDB(t), ConfigDir: t.TempDir(), DataDir: filepath.Join(t.TempDir(), "data"),
		TargetVersion: "11.4.0", Out: out, Jobs: 2, TrustKey: s.key.PublicKey()}
	if s.id != nil {
		o.Identities = []age.Identity{s.id}
	}
	return o, out
}

func countPosts(t *testing.T, url string) int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int64
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM posts").Scan(&n))
	return n
}

func TestRestore(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "encrypted"}[encrypted], func(t *testing.T) {
			s := newSource(t, encrypted)
			o, out := s.options(t)
			res, err := Run(context.Background(), o)
			require.NoError(t, err, out.String())
			assert.Equal(t, []string{StepVerify, StepDatabase, StepConfig, StepFiles}, res.Done)
			assert.Equal(t, int64(5000), countPosts(t, o.DatabaseURL))
			for p, b := range s.files {
				got, err := os.ReadFile(filepath.Join(o.DataDir, filepath.FromSlash(p)))
				require.NoError(t, err, p)
				assert.Equal(t, b, got, p)
			}
			cfgb, err := os.ReadFile(filepath.Join(o.ConfigDir, "config.json"))
			require.NoError(t, err)
			var cfg map[string]map[string]any
			require.NoError(t, json.Unmarshal(cfgb, &cfg))
			assert.Equal(t, o.DatabaseURL, cfg["SqlSettings"]["DataSource"], "config points at the restored database")
			assert.Empty(t, cfg["SqlSettings"]["DataSourceReplicas"])
			assert.Equal(t, o.DataDir+"/", cfg["FileSettings"]["Directory"])
			assert.Equal(t, "https://chat.example.com", cfg["ServiceSettings"]["SiteURL"])
			cert, err := os.ReadFile(filepath.Join(o.ConfigDir, "saml-idp.crt"))
			require.NoError(t, err)
			assert.Contains(t, string(cert), "BEGIN CERTIFICATE")
			assert.Contains(t, out.String(), "every count equal to the backup's")

			// Running it again resumes: every step is already done, nothing is repeated.
			out.Reset()
			_, err = Run(context.Background(), o)
			require.NoError(t, err, out.String())
			assert.Contains(t, out.String(), "database: already restored by an earlier run")
			assert.Equal(t, int64(5000), countPosts(t, o.DatabaseURL))
		})
	}
}

func TestRestoreRefuses(t *testing.T) {
	s := newSource(t, true)
	other, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"non-empty database", func(o *Options) { o.DatabaseURL = s.dbURL }, "is not empty: it holds"},
		{"older Mattermost", func(o *Options) { o.TargetVersion = "10.11.2" }, "is older and cannot run"},
		{"unknown Mattermost", func(o *Options) { o.TargetVersion = "" }, "--mattermost-version"},
		{"no identity", func(o *Options) { o.Identities = nil }, "give the identity file"},
		{"wrong identity", func(o *Options) { o.Identities = []age.Identity{other} }, "does not decrypt backup"},
		{"unknown id", func(o *Options) { o.ID = "20200101T000000Z-0000" }, "no such backup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, out := s.options(t)
			tt.change(&o)
			res, err := Run(context.Background(), o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.ErrorIs(t, err, ErrRefused)
			if tt.name != "unknown id" {
				require.NotNil(t, res, "a refused run says what it would have restored")
				assert.NotEmpty(t, res.Plan)
			}
			// Nothing changed: no config written, no files, the source database untouched.
			_, statErr := os.Stat(filepath.Join(o.ConfigDir, "config.json"))
			assert.True(t, os.IsNotExist(statErr), "config.json written after a refusal; output: %s", out.String())
			_, statErr = os.Stat(o.DataDir)
			assert.True(t, os.IsNotExist(statErr), "data folder created after a refusal")
			assert.Equal(t, int64(5000), countPosts(t, s.dbURL))
		})
	}
	t.Run("dry run changes nothing", func(t *testing.T) {
		o, out := s.options(t)
		o.DryRun = true
		res, err := Run(context.Background(), o)
		require.NoError(t, err)
		assert.Contains(t, out.String(), "step 3: database: pg_restore -j 2")
		// The result says what the output said, for drctl restore --dry-run --json.
		require.Len(t, res.Plan, strings.Count(out.String(), "] step "))
		assert.Equal(t, "database: pg_restore -j 2", res.Plan[2][:len("database: pg_restore -j 2")])
		assert.Contains(t, out.String(), "trust: "+res.Trust)
		assert.True(t, res.Components.Database)
		assert.False(t, res.StartedAt.IsZero())
		assert.NoFileExists(t, filepath.Join(o.ConfigDir, "config.json"))
	})
	t.Run("force says what it drops, then restores", func(t *testing.T) {
		o, out := s.options(t)
		o.DatabaseURL = newDB(t)
		conn, err := pgx.Connect(context.Background(), o.DatabaseURL)
		require.NoError(t, err)
		_, err = conn.Exec(context.Background(), `CREATE TABLE leftover (x int)`)
		require.NoError(t, err)
		conn.Close(context.Background())
		o.Force = true
		_, err = Run(context.Background(), o)
		require.NoError(t, err, out.String())
		assert.Contains(t, out.String(), "will be DROPPED")
		assert.Equal(t, int64(5000), countPosts(t, o.DatabaseURL))
	})
}

// A pool object damaged after the backup: the database and config are restored, the files
// step fails naming what was not restored; after the damage is repaired, running the same
// command again finishes without repeating the database.
func TestRestoreDamagedFileResumes(t *testing.T) {
	s := newSource(t, false)
	var poolFile string
	require.NoError(t, filepath.Walk(filepath.Join(s.store.Root(), "pool"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() > 20 && poolFile == "" {
			poolFile = p
		}
		return err
	}))
	require.NotEmpty(t, poolFile)
	orig, err := os.ReadFile(poolFile)
	require.NoError(t, err)
	// Damage that keeps the object readable as zstd would be caught too; flip a byte.
	bad := append([]byte(nil), orig...)
	bad[len(bad)-5] ^= 0xff
	require.NoError(t, os.WriteFile(poolFile, bad, 0o600))

	o, out := s.options(t)
	_, err = Run(context.Background(), o)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "step files failed")
	assert.Contains(t, msg, "restored: database, config")
	assert.Contains(t, msg, "not restored: files")

	require.NoError(t, os.WriteFile(poolFile, orig, 0o600))
	// As if a restore had been killed while writing a file: half of it under the partial name.
	two := filepath.Join(o.DataDir, "data", "b", "two.bin")
	require.NoError(t, os.Remove(two))
	require.NoError(t, os.WriteFile(two+".drctl-partial", []byte("tw"), 0o600))
	out.Reset()
	_, err = Run(context.Background(), o)
	require.NoError(t, err, out.String())
	assert.Contains(t, out.String(), "database: already restored")
	assert.True(t, strings.Contains(out.String(), "were already in place"))
	for p, want := range s.files {
		got, err := os.ReadFile(filepath.Join(o.DataDir, filepath.FromSlash(p)))
		require.NoError(t, err, p)
		assert.Equal(t, want, got, p)
	}
	require.NoError(t, filepath.Walk(o.DataDir, func(p string, _ os.FileInfo, err error) error {
		assert.False(t, strings.HasSuffix(p, ".drctl-partial"), "a partial file is left: %s", p)
		return err
	}))
}

// Restoring only the config (a lost app server): the database and files are left alone.
func TestRestoreConfigOnly(t *testing.T) {
	s := newSource(t, false)
	o, out := s.options(t)
	o.DatabaseURL, o.DataDir, o.KeepConfigPaths = "", "", true
	res, err := Run(context.Background(), o)
	require.NoError(t, err, out.String())
	assert.Equal(t, []string{StepVerify, StepConfig}, res.Done)
	assert.ElementsMatch(t, []string{StepDatabase, StepFiles}, res.Skipped)
	cfgb, err := os.ReadFile(filepath.Join(o.ConfigDir, "config.json"))
	require.NoError(t, err)
	assert.Contains(t, string(cfgb), "old-db:5432", "--keep-config-paths keeps the DataSource")

	o, _ = s.options(t)
	o.DatabaseURL, o.ConfigDir, o.DataDir = "", "", ""
	_, err = Run(context.Background(), o)
	require.ErrorIs(t, err, ErrRefused)
	assert.Contains(t, err.Error(), "nothing to restore")
}

// Files restored to an S3 bucket (--files-to), each checked; config.json then names the bucket.
func TestRestoreFilesToS3(t *testing.T) {
	s := newSource(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	bin, err := harness.MinIOBinaries(ctx, root)
	if err != nil {
		harness.Unavailable(t, "MinIO", err)
	}
	minio, err := harness.StartMinIO(ctx, bin)
	if err != nil {
		harness.Unavailable(t, "MinIO", err)
	}
	defer minio.Stop()
	require.NoError(t, minio.MakeBucket(ctx, "restored-files"))
	target, err := s3.New(ctx, s3.Config{Bucket: "restored-files", Prefix: "mm", Region: harness.MinIORegion, Endpoint: minio.Endpoint,
		PathStyle: true, AccessKeyID: minio.AccessKey, SecretAccessKey: minio.SecretKey})
	require.NoError(t, err)

	o, out := s.options(t)
	o.DataDir = ""
	o.FilesTo = target
	o.FilesToS3 = &S3Files{Bucket: "restored-files", Prefix: "mm", Region: harness.MinIORegion, Endpoint: minio.Endpoint, PathStyle: true}
	res, err := Run(ctx, o)
	require.NoError(t, err, out.String())
	assert.Equal(t, int64(len(s.files)), res.Files)
	for p, want := range s.files {
		rc, err := target.Open(ctx, p)
		require.NoError(t, err, p)
		got, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		assert.Equal(t, want, got, p)
	}
	cfgb, err := os.ReadFile(filepath.Join(o.ConfigDir, "config.json"))
	require.NoError(t, err)
	var cfg map[string]map[string]any
	require.NoError(t, json.Unmarshal(cfgb, &cfg))
	assert.Equal(t, "amazons3", cfg["FileSettings"]["DriverName"])
	assert.Equal(t, "restored-files", cfg["FileSettings"]["AmazonS3Bucket"])
	assert.Equal(t, "mm", cfg["FileSettings"]["AmazonS3PathPrefix"])
}
