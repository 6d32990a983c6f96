package backup_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

func TestFullBackup(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		name := "plain"
		if encrypted {
			name = "encrypted"
		}
		t.Run(name, func(t *testing.T) {
			backuptest.RequirePG(t)
			requireMinIO(t)
			f := backuptest.NewFixture(t, 200)
			loc, remote := backuptest.LocalStore(t), minioStore(t)
			var phases []string
			var mu sync.Mutex
			o := f.Options(encrypted, backup.Destination{Name: "local", Store: loc}, backup.Destination{Name: "s3", Store: remote, OffSite: true})
			o.Progress = func(p backup.Progress) {
				mu.Lock()
				defer mu.Unlock()
				if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
					phases = append(phases, p.Phase)
				}
			}
			start := time.Now()
			ms, err := backup.Run(backuptest.Ctx(t), o)
			require.NoError(t, err)
			t.Logf("backup of %d files to local + MinIO took %s", len(f.Tree), time.Since(start))
			require.Len(t, ms, 2)
			assert.Equal(t, []string{backup.PhaseDatabase, backup.PhaseConfig, backup.PhaseFiles, backup.PhaseFinishing, backup.PhaseDone}, phases[len(phases)-5:])

			for _, d := range []backup.Destination{{Name: "local", Store: loc}, {Name: "s3", Store: remote, OffSite: true}} {
				m := ms[d.Name]
				require.NotNil(t, m)
				checkBackup(t, f, d, m, encrypted)
				listed, err := format.List(backuptest.Ctx(t), d.Store)
				require.NoError(t, err)
				require.Len(t, listed, 1)
				assert.Equal(t, m.ID, listed[0].ID)
				read, err := format.ReadManifest(backuptest.Ctx(t), d.Store, m.ID)
				require.NoError(t, err)
				assert.Equal(t, m.Objects, read.Objects)
				assert.NotContains(t, backuptest.Keys(t, d.Store, format.BackupsPrefix), format.ManifestKey(m.ID)[:len(format.ManifestKey(m.ID))-len(format.ManifestName)]+backup.RunMarkerName)
			}
			assert.Equal(t, ms["local"].Objects, ms["s3"].Objects, "the same bytes went to both destinations")
			assert.False(t, ms["local"].OffSite)
			assert.True(t, ms["s3"].OffSite)
		})
	}
}

// checkBackup decodes every object of a backup and compares it with the fixture.
func checkBackup(t *testing.T, f *backuptest.Fixture, d backup.Destination, m *format.Manifest, encrypted bool) {
	t.Helper()
	s := d.Store
	ids := f.Identities(encrypted)
	assert.Equal(t, 1, m.FormatVersion, "no raw pool object: earlier plugin versions can read it")
	assert.Equal(t, format.StatusComplete, m.Status)
	assert.Equal(t, d.Name, m.Destination)
	assert.Equal(t, format.Components{Database: true, Config: true, Files: true}, m.Components)
	assert.Equal(t, "11.4.0", m.MattermostVersion)
	assert.Equal(t, "0.9.0-test", m.PluginVersion)
	assert.Equal(t, "140", m.DatabaseSchemaVersion)
	assert.NotEmpty(t, m.PgDumpVersion)
	assert.False(t, m.FinishedAt.Before(m.StartedAt))
	assert.Equal(t, format.Compression{Algorithm: "zstd", Level: 1}, m.Compression)
	assert.Equal(t, encrypted, m.Encryption.Encrypted)
	if encrypted {
		assert.Equal(t, []string{format.Fingerprint(f.Identity.Recipient().String())}, m.Encryption.Recipients)
		assert.Equal(t, format.Fingerprint(f.IndexID.Recipient().String()), m.Encryption.IndexRecipient)
		assert.NotContains(t, strings.Join(m.Warnings, "\n"), "not encrypted")
	} else {
		assert.Contains(t, strings.Join(m.Warnings, "\n"), "not encrypted but holds secrets")
	}
	// The manifest holds no secret.
	raw := rawObject(t, s, format.ManifestKey(m.ID))
	assert.NotContains(t, string(raw), "s3cret")
	assert.NotContains(t, string(raw), "AGE-SECRET-KEY")

	suffix := ""
	if encrypted {
		suffix = backup.AgeSuffix
	}
	var objKeys []string
	for _, o := range m.Objects {
		objKeys = append(objKeys, o.Key)
		stored := rawObject(t, s, o.Key)
		assert.Equal(t, o.Size, int64(len(stored)), o.Key)
		assert.Equal(t, o.SHA256, sumHex(stored), o.Key)
		assert.Equal(t, encrypted, bytes.HasPrefix(stored, []byte(ageMagic)), o.Key)
		assert.NotContains(t, string(stored), "s3cret", "%s is compressed or encrypted", o.Key)
		if encrypted && o.Component != format.ComponentFilesIndex && o.Component != format.ComponentReferenced {
			_, err := format.OpenObject(backuptest.Ctx(t), s, o.Key, []age.Identity{f.IndexID})
			assert.Error(t, err, "the index identity opens only the file index and the referenced paths: %s", o.Key)
		}
	}
	dir := format.BackupDir(m.ID)
	assert.Equal(t, []string{dir + backup.DatabaseName + suffix, dir + backup.ReferencedName + suffix, dir + backup.ConfigName + suffix, dir + backup.IndexName + suffix}, objKeys)

	// The database: restores with the same row counts.
	dump := filepath.Join(t.TempDir(), "db.dump")
	require.NoError(t, os.WriteFile(dump, readObject(t, s, m.Object(format.ComponentDatabase).Key, ids), 0o600))
	assert.Equal(t, int64(700), m.TableRowCounts["public.posts"])
	assert.Equal(t, m.TableRowCounts, restoreAndCount(t, dump, m.TableRowCounts))
	assert.Equal(t, m.Object(format.ComponentDatabase).PlainSize, fileSize(t, dump))

	// The referenced files.
	got := map[string]format.Reference{}
	require.NoError(t, format.ReadReferences(backuptest.Ctx(t), s, m, ids, func(r format.Reference) error {
		got[r.Path] = r
		return nil
	}))
	assert.Equal(t, backuptest.ExpectedRefs(), got)
	assert.Equal(t, int64(len(got)), m.ReferencedFiles)

	// The config.
	tr := tar.NewReader(bytes.NewReader(readObject(t, s, m.Object(format.ComponentConfig).Key, ids)))
	entries := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		entries[h.Name] = b
	}
	want := map[string][]byte{format.EffectiveConfigName: f.ConfigFiles["config.json"]}
	for n, b := range f.ConfigFiles {
		want[format.ConfigFilesDir+n] = b
	}
	assert.Equal(t, want, entries)

	// The file index: every file, in path order, with its hash.
	var paths []string
	for p := range f.Tree {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var indexed []string
	require.NoError(t, format.ReadIndex(backuptest.Ctx(t), s, m, ids, func(e format.IndexEntry) error {
		indexed = append(indexed, e.Path)
		b := f.Tree[e.Path]
		assert.Equal(t, int64(len(b)), e.Size, e.Path)
		assert.Equal(t, sumHex(b), e.SHA256, e.Path)
		assert.True(t, e.ModTime.Equal(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)), e.Path)
		return nil
	}))
	assert.Equal(t, paths, indexed)
	if encrypted { // the plugin reads the index with its own key
		require.NoError(t, format.ReadIndex(backuptest.Ctx(t), s, m, []age.Identity{f.IndexID}, func(format.IndexEntry) error { return nil }))
	}
	require.NotNil(t, m.Files)
	var total int64
	for _, b := range f.Tree {
		total += int64(len(b))
	}
	assert.Equal(t, int64(len(f.Tree)), m.Files.Count)
	assert.Equal(t, total, m.Files.Bytes)

	// The pool: each distinct content once, decoding to itself.
	pool := poolKeys(t, s)
	assert.Equal(t, distinctSums(f.Tree), pool)
	byKey := map[string][]byte{}
	for _, b := range f.Tree {
		byKey[format.PoolKey(sumHex(b))] = b
	}
	for _, k := range pool {
		assert.True(t, bytes.Equal(byKey[k], readObject(t, s, k, ids)), k)
	}
	assert.Equal(t, int64(len(pool)), m.Files.NewPoolObjects)
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	require.NoError(t, err)
	return fi.Size()
}

func TestIncremental(t *testing.T) {
	backuptest.RequirePG(t)
	f := backuptest.NewFixture(t, 120)
	for _, mode := range []string{"plain", "encrypted", "encrypted-without-index-key"} {
		t.Run(mode, func(t *testing.T) {
			s := backuptest.LocalStore(t)
			o := f.Options(mode != "plain", backup.Destination{Name: "local", Store: s})
			if mode == "encrypted-without-index-key" {
				o.IndexIdentity = nil
			}
			ms, err := backup.Run(backuptest.Ctx(t), o)
			require.NoError(t, err)
			first := ms["local"].Files
			distinct := int64(len(distinctSums(f.Tree)))
			assert.Equal(t, distinct, first.NewPoolObjects)
			assert.Equal(t, int64(len(f.Tree)), first.Hashed)

			// No change: no file byte uploaded.
			ms, err = backup.Run(backuptest.Ctx(t), o)
			require.NoError(t, err)
			second := ms["local"].Files
			assert.Equal(t, int64(0), second.NewPoolObjects)
			assert.Equal(t, int64(0), second.BytesUploaded)
			assert.Equal(t, int64(len(f.Tree)), second.Count)
			if mode == "encrypted-without-index-key" {
				assert.Equal(t, int64(len(f.Tree)), second.Hashed, "without the index key every file is read again")
				assert.Contains(t, strings.Join(ms["local"].Warnings, "\n"), "without this plugin's index key")
			} else {
				assert.Equal(t, int64(0), second.Hashed, "unchanged files are not read")
				assert.Equal(t, int64(len(f.Tree)), second.Unchanged)
			}
			assert.Equal(t, first.PreviousBackup, "")
			assert.NotEmpty(t, second.PreviousBackup)

			// One file changed, one added: exactly those uploaded.
			changed := []byte("changed content " + mode)
			added := []byte("added content " + mode)
			mtime := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
			backuptest.WriteFile(t, f.FilesDir, "a/b.txt", changed, mtime)
			backuptest.WriteFile(t, f.FilesDir, "new/file-"+mode+".txt", added, mtime)
			t.Cleanup(func() {
				backuptest.WriteFile(t, f.FilesDir, "a/b.txt", f.Tree["a/b.txt"], time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
				require.NoError(t, os.RemoveAll(filepath.Join(f.FilesDir, "new")))
			})
			ms, err = backup.Run(backuptest.Ctx(t), o)
			require.NoError(t, err)
			third := ms["local"].Files
			assert.Equal(t, int64(2), third.NewPoolObjects)
			assert.Equal(t, int64(len(f.Tree)+1), third.Count)
			if mode != "encrypted-without-index-key" {
				assert.Equal(t, int64(2), third.Hashed)
				assert.Equal(t, int64(len(f.Tree)-1), third.Unchanged)
			}
			var stored int64
			for _, k := range []string{format.PoolKey(sumHex(changed)), format.PoolKey(sumHex(added))} {
				info, err := s.Stat(backuptest.Ctx(t), k)
				require.NoError(t, err)
				stored += info.Size
				assert.Equal(t, map[bool][]byte{true: changed, false: added}[k == format.PoolKey(sumHex(changed))], readObject(t, s, k, f.Identities(mode != "plain")))
			}
			assert.Equal(t, stored, third.BytesUploaded)
			listed, err := format.List(backuptest.Ctx(t), s)
			require.NoError(t, err)
			assert.Len(t, listed, 3)
		})
	}
}

// TestRecipientsChanged: a new key re-encrypts the pool for the new recipients.
func TestRecipientsChanged(t *testing.T) {
	backuptest.RequirePG(t)
	f := backuptest.NewFixture(t, 40)
	s := backuptest.LocalStore(t)
	o := f.Options(true, backup.Destination{Name: "local", Store: s})
	_, err := backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	newID, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	o.Recipients = []string{newID.Recipient().String()}
	ms, err := backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	m := ms["local"]
	assert.Contains(t, strings.Join(m.Warnings, "\n"), "recipients changed")
	assert.Equal(t, int64(len(distinctSums(f.Tree))), m.Files.NewPoolObjects, "every file uploaded again")
	for _, k := range poolKeys(t, s) {
		readObject(t, s, k, []age.Identity{newID})
	}
	ms, err = backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	assert.Equal(t, int64(0), ms["local"].Files.NewPoolObjects)
}

func TestOnlySomeComponents(t *testing.T) {
	backuptest.RequirePG(t)
	f := backuptest.NewFixture(t, 30)
	s := backuptest.LocalStore(t)
	o := f.Options(false, backup.Destination{Name: "local", Store: s})
	o.Components = format.Components{Config: true}
	ms, err := backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	m := ms["local"]
	require.Len(t, m.Objects, 1)
	assert.Equal(t, format.ComponentConfig, m.Objects[0].Component)
	assert.Nil(t, m.Files)
	assert.Empty(t, poolKeys(t, s))

	o.Components = format.Components{}
	_, err = backup.Run(backuptest.Ctx(t), o)
	assert.ErrorContains(t, err, "no component")
	o.Components = format.Components{Files: true}
	o.Recipients = []string{"not-a-key"}
	_, err = backup.Run(backuptest.Ctx(t), o)
	assert.ErrorContains(t, err, "not an age public key")
	o.Recipients = nil
	o.Components = format.Components{Config: true}
	o.ID = m.ID
	_, err = backup.Run(backuptest.Ctx(t), o)
	assert.ErrorContains(t, err, "already holds a backup with this ID")
	_, err = format.ReadManifest(backuptest.Ctx(t), s, m.ID)
	require.NoError(t, err, "the existing backup is untouched")
	o.ID = "../x"
	_, err = backup.Run(backuptest.Ctx(t), o)
	assert.ErrorContains(t, err, "invalid backup ID")
}

func TestOpenObjectNeedsIdentity(t *testing.T) {
	backuptest.RequirePG(t)
	f := backuptest.NewFixture(t, 20)
	s := backuptest.LocalStore(t)
	o := f.Options(true, backup.Destination{Name: "local", Store: s})
	o.Components = format.Components{Config: true}
	ms, err := backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	key := ms["local"].Objects[0].Key
	_, err = format.OpenObject(backuptest.Ctx(t), s, key, nil)
	assert.ErrorContains(t, err, "encrypted")
	other, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	_, err = format.OpenObject(backuptest.Ctx(t), s, key, []age.Identity{other})
	assert.Error(t, err)
	_ = readObject(t, s, key, []age.Identity{f.Identity})
}
