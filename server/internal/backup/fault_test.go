package backup_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// snapshotStore records every key and stored hash under backups/ and pool/.
func snapshotStore(t *testing.T, s storage.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range backuptest.Keys(t, s, "") {
		out[k] = sumHex(rawObject(t, s, k))
	}
	return out
}

// requireFailedCleanly checks that a failed run left no manifest and nothing under its folder,
// and that what was there before is untouched (pool objects may have been added).
func requireFailedCleanly(t *testing.T, s storage.Store, id string, before map[string]string) {
	t.Helper()
	assert.Empty(t, backuptest.Keys(t, s, format.BackupDir(id)), "the failed run's folder is cleaned")
	after := snapshotStore(t, s)
	for k, sum := range before {
		assert.Equal(t, sum, after[k], "%s is untouched", k)
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			assert.True(t, strings.HasPrefix(k, format.PoolPrefix), "only pool objects were added: %s", k)
		}
	}
	ms, err := format.List(backuptest.Ctx(t), s)
	require.NoError(t, err)
	for _, m := range ms {
		assert.NotEqual(t, id, m.ID)
	}
}

func TestPutFailsMidStream(t *testing.T) {
	backuptest.RequirePG(t)
	f := backuptest.NewFixture(t, 80)
	a, b := backuptest.LocalStore(t), backuptest.LocalStore(t)
	fa := &faultyStore{Store: a, failAfter: 50 << 10}
	dests := []backup.Destination{{Name: "first", Store: fa}, {Name: "second", Store: b, OffSite: true}}
	ms, err := backup.Run(backuptest.Ctx(t), f.Options(true, dests...))
	require.NoError(t, err)
	earlier := ms["first"].ID

	cases := []struct {
		name    string
		store   int // which destination fails
		failKey func(string) bool
		after   int64
		step    string
	}{
		{"database dump at the first destination", 0, func(k string) bool { return strings.Contains(k, backup.DatabaseName) }, 1000, "database"},
		{"referenced list at the second destination", 1, func(k string) bool { return strings.Contains(k, backup.ReferencedName) }, 10, "database"},
		{"config", 0, func(k string) bool { return strings.Contains(k, backup.ConfigName) }, 100, "config"},
		{"a pool object", 1, func(k string) bool { return strings.HasPrefix(k, format.PoolPrefix) }, 100 << 10, "files"},
		{"the file index", 0, func(k string) bool { return strings.Contains(k, backup.IndexName) }, 1000, "files"},
		{"the manifest at the second destination", 1, func(k string) bool { return strings.HasSuffix(k, format.ManifestName) }, 10, "manifest"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// New content, so that a pool upload happens.
			backuptest.WriteFile(t, f.FilesDir, fmt.Sprintf("new/big%d.bin", i), backuptest.RandBytes(newRand(), 1<<20), time.Now())
			before := []map[string]string{snapshotStore(t, a), snapshotStore(t, b)}
			fs := &faultyStore{Store: []storage.Store{a, b}[c.store], failKey: c.failKey, failAfter: c.after}
			ds := []backup.Destination{{Name: "first", Store: a}, {Name: "second", Store: b, OffSite: true}}
			ds[c.store].Store = fs
			o := f.Options(true, ds...)
			o.ID = fmt.Sprintf("20261126T0000%02dZ-fail", i)
			_, err := backup.Run(backuptest.Ctx(t), o)
			require.Error(t, err)
			t.Logf("error: %v", err)
			assert.True(t, fs.fired.Load())
			assert.ErrorIs(t, err, errInjected)
			assert.ErrorContains(t, err, "failed at the "+c.step+" step")
			assert.ErrorContains(t, err, "destination "+ds[c.store].Name)
			assert.ErrorContains(t, err, o.ID)
			requireFailedCleanly(t, a, o.ID, before[0])
			requireFailedCleanly(t, b, o.ID, before[1])
		})
	}

	// The earlier backup is intact and the next run succeeds, at both destinations.
	ms, err = backup.Run(backuptest.Ctx(t), f.Options(true, backup.Destination{Name: "first", Store: a}, backup.Destination{Name: "second", Store: b}))
	require.NoError(t, err)
	for _, s := range []storage.Store{a, b} {
		listed, err := format.List(backuptest.Ctx(t), s)
		require.NoError(t, err)
		assert.Equal(t, []string{ms["first"].ID, earlier}, ids(listed))
		for _, m := range listed {
			for _, o := range m.Objects {
				assert.Equal(t, o.SHA256, sumHex(rawObject(t, s, o.Key)))
			}
		}
	}
}

func TestCancel(t *testing.T) {
	backuptest.RequirePG(t)
	f := backuptest.NewFixture(t, 120)
	s := backuptest.LocalStore(t)
	ms, err := backup.Run(backuptest.Ctx(t), f.Options(false, backup.Destination{Name: "local", Store: s}))
	require.NoError(t, err)
	earlier := ms["local"].ID
	before := snapshotStore(t, s)

	t.Run("during the files", func(t *testing.T) {
		dir := t.TempDir()
		backuptest.FileTree(t, dir, 150)
		ctx, cancel := context.WithCancel(backuptest.Ctx(t))
		defer cancel()
		o := f.Options(false, backup.Destination{Name: "local", Store: s})
		o.ID = "20261126T000000Z-cfil"
		src := &hookSource{Source: o.Files, onOpen: func(n int64) {
			if n == 30 {
				cancel()
			}
		}}
		o.Files = src
		o.Files = &hookSource{Source: newLocalSource(dir), onOpen: src.onOpen}
		_, err := backup.Run(ctx, o)
		require.Error(t, err)
		t.Logf("error: %v", err)
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorContains(t, err, "canceled during the files step")
		requireFailedCleanly(t, s, o.ID, before)
	})

	t.Run("during the database dump", func(t *testing.T) {
		ctx, cancel := context.WithCancel(backuptest.Ctx(t))
		defer cancel()
		cs := &faultyStore{Store: s, failKey: func(k string) bool { return strings.Contains(k, backup.DatabaseName) }, failAfter: 1 << 40}
		cs.onPut = func() { cancel() }
		o := f.Options(false, backup.Destination{Name: "local", Store: cs})
		o.ID = "20261126T000000Z-cdb0"
		_, err := backup.Run(ctx, o)
		require.Error(t, err)
		t.Logf("error: %v", err)
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorContains(t, err, "canceled during the database step")
		requireFailedCleanly(t, s, o.ID, before)
	})

	ms, err = backup.Run(backuptest.Ctx(t), f.Options(false, backup.Destination{Name: "local", Store: s}))
	require.NoError(t, err)
	listed, err := format.List(backuptest.Ctx(t), s)
	require.NoError(t, err)
	assert.Equal(t, []string{ms["local"].ID, earlier}, ids(listed))
}

func TestPgDumpMissing(t *testing.T) {
	backuptest.RequirePG(t)
	f := backuptest.NewFixture(t, 10)
	s := backuptest.LocalStore(t)
	o := f.Options(false, backup.Destination{Name: "local", Store: s})
	o.ID = "20261126T000000Z-nopg"
	o.Database.PgDumpPath = "/nonexistent/bin/pg_dump"
	_, err := backup.Run(backuptest.Ctx(t), o)
	require.Error(t, err)
	t.Logf("error: %v", err)
	assert.ErrorIs(t, err, pgdump.ErrPgDumpNotFound)
	assert.ErrorContains(t, err, "failed at the database step")
	assert.ErrorContains(t, err, "PgDumpPath")
	assert.Empty(t, backuptest.Keys(t, s, ""), "nothing left behind")
	ms, err := format.List(backuptest.Ctx(t), s)
	require.NoError(t, err)
	assert.Empty(t, ms)
}

func TestDatabaseUnreachable(t *testing.T) {
	s := backuptest.LocalStore(t)
	o := backup.Options{
		Components:   format.Components{Database: true},
		Database:     pgdump.Options{DataSource: "postgres://mm:topsecret@127.0.0.1:1/mattermost?sslmode=disable&connect_timeout=2"},
		Destinations: []backup.Destination{{Name: "local", Store: s}},
	}
	_, err := backup.Run(backuptest.Ctx(t), o)
	require.Error(t, err)
	t.Logf("error: %v", err)
	assert.ErrorContains(t, err, "failed at the database step")
	assert.NotContains(t, err.Error(), "topsecret")
	assert.Empty(t, backuptest.Keys(t, s, ""))
	assert.False(t, errors.Is(err, context.Canceled))
}
