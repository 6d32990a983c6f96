package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/drsettings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

// configBackup takes a config-only backup signed by key (none: unsigned) into st.
func configBackup(t *testing.T, st storage.Store, key *format.SigningKey) string {
	t.Helper()
	ms, err := backup.Run(context.Background(), backup.Options{
		Components: format.Components{Config: true}, Config: testConfig{dir: t.TempDir(), effective: `{}`},
		MattermostVersion: "11.4.0", SigningKey: key, Destinations: []backup.Destination{{Name: "local", Store: st}},
	})
	require.NoError(t, err)
	return ms["local"].ID
}

// settingsDest is a destination with two backups signed by the server's key and the document
// the plugin writes there.
type settingsDest struct {
	dir         string
	store       storage.Store
	key, other  *format.SigningKey
	keyFile     string
	document    drsettings.Document
	otherKeyArg string
}

func newSettingsDest(t *testing.T, c settings.Config, pgPrimary string) *settingsDest {
	t.Helper()
	d := &settingsDest{dir: t.TempDir()}
	var err error
	d.store, err = local.New(d.dir)
	require.NoError(t, err)
	d.key, err = format.GenerateSigningKey()
	require.NoError(t, err)
	d.other, err = format.GenerateSigningKey()
	require.NoError(t, err)
	configBackup(t, d.store, d.key)
	configBackup(t, d.store, d.key)
	d.document = drsettings.Build(drsettings.Sources{Config: c, PostgresPrimaryDSN: pgPrimary, LocalBackupFolder: d.dir, SigningKey: d.key.PublicKey()})
	_, err = drsettings.Write(context.Background(), d.store, d.document, d.key)
	require.NoError(t, err)
	d.keyFile = filepath.Join(t.TempDir(), "dr.pub")
	require.NoError(t, os.WriteFile(d.keyFile, []byte(d.key.PublicKey().String()+"\n"), 0o600))
	d.otherKeyArg = d.other.PublicKey().String()
	return d
}

func exampleConfig() settings.Config {
	c := settings.Default()
	c.DRTopology, c.DRPrimaryRegion, c.DRSecondaryRegion = "two_regions", "east", "west"
	c.DRPostgresStandbyDataSource = "postgres://mmuser:SECRET-standby@pg-west.example.com:5432/mattermost"
	c.DROpenSearchSecondaryURL, c.DROpenSearchPassword = "https://os-west.example.com:9200", "SECRET-os"
	return c
}

func TestSettingsShow(t *testing.T) {
	d := newSettingsDest(t, exampleConfig(), "postgres://mmuser:SECRET-primary@pg-east.example.com/mattermost")
	fp := d.key.PublicKey().Fingerprint()

	t.Run("signed like the backups", func(t *testing.T) {
		code, out, errOut := drctl("settings", "show", "--from", d.dir)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, fp+", the key that signs the backups there")
		assert.Contains(t, out, "host='pg-east.example.com'")
		assert.Contains(t, out, "host='pg-west.example.com'")
		assert.Contains(t, out, "PGPASSWORD")
		assert.NotContains(t, out, "SECRET")
	})
	t.Run("json", func(t *testing.T) {
		code, out, errOut := drctl("settings", "show", "--from", d.dir, "--trust-key", d.keyFile, "--json")
		require.Equal(t, 0, code, errOut)
		var v struct {
			Signer   string
			Trusted  bool
			Document drsettings.Document
		}
		require.NoError(t, json.Unmarshal([]byte(out), &v))
		assert.Equal(t, fp, v.Signer)
		assert.True(t, v.Trusted)
		assert.Equal(t, "west", v.Document.Regions.Secondary)
		assert.Equal(t, d.dir, v.Document.Backups.Local.Folder)
	})
	t.Run("another key's document is refused", func(t *testing.T) {
		_, err := drsettings.Write(context.Background(), d.store, d.document, d.other)
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = drsettings.Write(context.Background(), d.store, d.document, d.key) })
		code, _, errOut := drctl("settings", "show", "--from", d.dir)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "not trusted")
		assert.Contains(t, errOut, "--trust-key")
		assert.Contains(t, errOut, "--allow-untrusted")
		code, _, errOut = drctl("settings", "show", "--from", d.dir, "--trust-key", d.keyFile)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "not by the --trust-key "+fp)
		// The admin who pins the other key gets a document that names another signing key.
		code, _, errOut = drctl("settings", "show", "--from", d.dir, "--trust-key", d.otherKeyArg)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "names "+fp+" as the backup signing key")
	})
	t.Run("unsigned document", func(t *testing.T) {
		_, err := drsettings.Write(context.Background(), d.store, d.document, nil)
		require.NoError(t, err)
		require.NoError(t, d.store.Delete(context.Background(), format.SignatureKey(drsettings.Key)))
		t.Cleanup(func() { _, _ = drsettings.Write(context.Background(), d.store, d.document, d.key) })
		code, _, errOut := drctl("settings", "show", "--from", d.dir)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "it is not signed")
		code, out, errOut := drctl("settings", "show", "--from", d.dir, "--allow-untrusted")
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "NOT trusted")
	})
	t.Run("a copied file", func(t *testing.T) {
		file := filepath.Join(d.dir, drsettings.Key)
		code, _, errOut := drctl("settings", "show", "--settings", file)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "none to compare with")
		code, out, errOut := drctl("settings", "show", "--settings", file, "--trust-key", d.keyFile)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "the --trust-key")
	})
	t.Run("usage", func(t *testing.T) {
		code, _, errOut := drctl("settings", "show")
		assert.Equal(t, 2, code)
		assert.Contains(t, errOut, "--from")
		code, _, _ = drctl("settings", "list")
		assert.Equal(t, 2, code)
		empty := t.TempDir()
		code, _, errOut = drctl("settings", "show", "--from", empty)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "no DR settings document")
	})
}
