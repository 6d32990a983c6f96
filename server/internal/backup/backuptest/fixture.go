package backuptest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

// Fixture is a server to back up: a database, a config folder and a file store.
type Fixture struct {
	DBURL       string
	ConfigDir   string
	ConfigFiles map[string][]byte // name in ConfigDir → content
	FilesDir    string
	Tree        map[string][]byte   // path in FilesDir → content
	Identity    *age.X25519Identity // the backup's identity (the admin keeps it)
	IndexID     *age.X25519Identity // the plugin's index identity
}

// NewFixture makes a fixture whose file store holds nfiles files (FileTree).
func NewFixture(t *testing.T, nfiles int) *Fixture {
	t.Helper()
	f := &Fixture{}
	_, f.DBURL = createDB(t)
	f.ConfigDir, f.ConfigFiles = makeConfigDir(t)
	f.FilesDir = t.TempDir()
	f.Tree = FileTree(t, f.FilesDir, nfiles)
	var err error
	f.Identity, err = age.GenerateX25519Identity()
	require.NoError(t, err)
	f.IndexID, err = age.GenerateX25519Identity()
	require.NoError(t, err)
	return f
}

// Options back up all of the fixture to dests, encrypted to Identity (and IndexID) or not.
func (f *Fixture) Options(encrypted bool, dests ...backup.Destination) backup.Options {
	o := backup.Options{
		Components:        format.Components{Database: true, Config: true, Files: true},
		Database:          pgdump.Options{DataSource: f.DBURL},
		Config:            dirConfig{f.ConfigDir},
		Files:             filesource.NewLocal(f.FilesDir),
		Destinations:      dests,
		MattermostVersion: "11.4.0",
		PluginVersion:     "0.9.0-test",
	}
	if encrypted {
		o.Recipients = []string{f.Identity.Recipient().String()}
		o.IndexIdentity = f.IndexID
	}
	return o
}

// Identities open a backup made with Options(encrypted).
func (f *Fixture) Identities(encrypted bool) []age.Identity {
	if encrypted {
		return []age.Identity{f.Identity}
	}
	return nil
}

// Backup takes a backup of the fixture with backup.Run to a new local store named "local".
func (f *Fixture) Backup(t *testing.T, encrypted bool) (*local.Store, *format.Manifest) {
	t.Helper()
	s := LocalStore(t)
	ms, err := backup.Run(Ctx(t), f.Options(encrypted, backup.Destination{Name: "local", Store: s}))
	require.NoError(t, err)
	return s, ms["local"]
}

// LocalStore is a store in a folder removed when the test ends.
func LocalStore(t *testing.T) *local.Store {
	t.Helper()
	s, err := local.New(t.TempDir())
	require.NoError(t, err)
	return s
}

// Keys lists the keys of a store under prefix.
func Keys(t *testing.T, s storage.Store, prefix string) []string {
	t.Helper()
	out := []string{}
	require.NoError(t, s.List(Ctx(t), prefix, func(o storage.ObjectInfo) error {
		out = append(out, o.Key)
		return nil
	}))
	return out
}

// createDB creates a database with a Mattermost-like schema, dropped when the test ends.
func createDB(t *testing.T) (name, url string) {
	t.Helper()
	name, url = NewDatabase(t, "mm")
	ctx := context.Background()
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

// ExpectedRefs is what the fixture's database refers to.
func ExpectedRefs() map[string]format.Reference {
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
		f, err := os.Open(p) //nolint:gosec // G122: a folder the test wrote in its own TempDir
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

// FileTree writes a file store of n files (nested folders, an empty file, duplicate
// contents, the files the fixture's database refers to) and returns path → content.
func FileTree(t *testing.T, dir string, n int) map[string][]byte {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(1, 2)) //nolint:gosec // G404: the same tree every run, on purpose
	tree := map[string][]byte{}
	shared := RandBytes(rng, 5000)
	add := func(p string, b []byte) { tree[p] = b }
	for g := 1; g <= 12; g++ {
		add(fmt.Sprintf("data/f%d/file.bin", g), RandBytes(rng, rng.IntN(20000)))
		if g%3 == 0 {
			add(fmt.Sprintf("data/f%d/thumb.jpg", g), shared) // same content many times
		}
		if g%4 == 0 {
			add(fmt.Sprintf("data/f%d/preview.jpg", g), RandBytes(rng, 1000))
		}
	}
	for g := 2; g <= 10; g += 2 {
		add(fmt.Sprintf("users/u%d/profile.png", g), RandBytes(rng, 3000))
	}
	add("emoji/e1/image", []byte("emoji one"))
	add("emoji/e2/image", []byte("emoji two"))
	add("emoji/e4/image", []byte("emoji four"))
	add("brand/image.png", []byte("brand"))
	add("empty.txt", nil)
	add("a.txt", []byte("before the folder a"))
	add("a/b.txt", []byte("in a"))
	add("a0", []byte("after the folder a"))
	add("big/one.bin", RandBytes(rng, 3<<20))
	for i := 0; len(tree) < n; i++ {
		p := fmt.Sprintf("20261126/teams/t%d/channels/c%d/users/u%d/file%03d/name %d.txt", i%3, i%7, i%5, i, i)
		if i%10 == 0 {
			add(p, []byte("duplicate content"))
		} else {
			add(p, RandBytes(rng, rng.IntN(50000)))
		}
	}
	mtime := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for p, b := range tree {
		WriteFile(t, dir, p, b, mtime)
	}
	return tree
}

// WriteFile writes b to dir/p (p slash-separated), creating folders, with mtime.
func WriteFile(t *testing.T, dir, p string, b []byte, mtime time.Time) {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(p))
	require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o750))
	require.NoError(t, os.WriteFile(full, b, 0o600))
	require.NoError(t, os.Chtimes(full, mtime, mtime))
}

// RandBytes is n bytes from rng.
func RandBytes(rng *mrand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
