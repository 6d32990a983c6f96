package serverenv

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

// k8sConfigDir lays out a config folder as Kubernetes mounts a Secret or ConfigMap into it:
// cert.pem -> ..data/cert.pem, ..data -> ..2026_12_05_10_00_00.123, the real file in that
// timestamped folder (a key with a path, saml/idp.xml, gives a folder link saml ->
// ..data/saml), plus links that leave the folder, one that loops and one that dangles. It
// returns the folder and what the server reads in it, by the names the config uses.
func k8sConfigDir(t *testing.T) (string, map[string]string) {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "config")
	write := func(p, content string) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o750))
		require.NoError(t, os.WriteFile(full, []byte(content), 0o600))
	}
	link := func(target, name string) {
		require.NoError(t, os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))))
	}
	write("config.json", `{"a":1}`)
	write("sub/plain.txt", "plain")
	write("..2026_12_05_10_00_00.123/cert.pem", "CERT")
	write("..2026_12_05_10_00_00.123/saml/idp.xml", "<xml/>")
	link("..2026_12_05_10_00_00.123", "..data")
	link("..data/cert.pem", "cert.pem")
	link("..data/saml", "saml")
	require.NoError(t, os.WriteFile(filepath.Join(base, "outside.key"), []byte("NOT CONFIG"), 0o600))
	link("../outside.key", "escapes-relative.key")
	link(filepath.Join(base, "outside.key"), "escapes-absolute.key")
	link("..", "sub/parent")
	link("missing.pem", "dangling.pem")
	return dir, map[string]string{"config.json": `{"a":1}`, "cert.pem": "CERT", "saml/idp.xml": "<xml/>", "sub/plain.txt": "plain"}
}

func TestDirConfigKubernetesMount(t *testing.T) {
	dir, want := k8sConfigDir(t)
	got := map[string]string{}
	var order, warnings []string
	require.NoError(t, configFolder{dir: dir}.files(context.Background(), func(name string, size int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		assert.Equal(t, size, int64(len(b)))
		got[name] = string(b)
		order = append(order, name)
		return nil
	}, func(msg string) { warnings = append(warnings, msg) }))
	assert.Equal(t, want, got)
	assert.Equal(t, []string{"cert.pem", "config.json", "saml/idp.xml", "sub/plain.txt"}, order)
	require.Len(t, warnings, 3, "%q", warnings)
	assert.Contains(t, warnings[0], "config file escapes-absolute.key is a link to "+filepath.Join(filepath.Dir(dir), "outside.key")+", outside the config folder")
	assert.Contains(t, warnings[1], "config file escapes-relative.key is a link to")
	assert.Contains(t, warnings[2], "config folder sub/parent is a link back to the config folder, which holds it")

	// The config folder itself may be a link (/opt/mattermost/config -> /etc/mattermost).
	alias := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.Symlink(dir, alias))
	got = map[string]string{}
	require.NoError(t, configFolder{dir: alias}.files(context.Background(), func(name string, _ int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[name] = string(b)
		return err
	}, nil))
	assert.Equal(t, want, got)

	assert.Error(t, configFolder{dir: filepath.Join(dir, "nope")}.files(context.Background(), func(string, int64, io.Reader) error { return nil }, nil))
	assert.ErrorContains(t, configFolder{dir: filepath.Join(dir, "config.json")}.files(context.Background(), func(string, int64, io.Reader) error { return nil }, nil), "not a folder")
}

// The backup's config.tar holds plain files under the names the config uses (a restore
// writes them back as plain files), and its manifest says which links were left out.
func TestConfigBackupOfKubernetesMount(t *testing.T) {
	dir, want := k8sConfigDir(t)
	s, err := local.New(t.TempDir())
	require.NoError(t, err)
	src := &ConfigSource{Server: &Server{Root: filepath.Dir(dir), ConfigFile: filepath.Join(dir, "config.json")}, Config: func() *model.Config { return &model.Config{} }}
	eff, err := src.Effective(t.Context())
	require.NoError(t, err)
	ms, err := backup.Run(t.Context(), backup.Options{
		Components:   format.Components{Config: true},
		Config:       src,
		Destinations: []backup.Destination{{Name: "local", Store: s}},
	})
	require.NoError(t, err)
	m := ms["local"]
	rc, err := format.OpenObject(t.Context(), s, m.Object(format.ComponentConfig).Key, nil)
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		assert.Equal(t, byte(tar.TypeReg), h.Typeflag, h.Name)
		assert.Empty(t, h.Linkname, h.Name)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		got[h.Name] = string(b)
	}
	wantTar := map[string]string{format.EffectiveConfigName: string(eff)}
	for n, b := range want {
		wantTar[format.ConfigFilesDir+n] = b
	}
	assert.Equal(t, wantTar, got)
	var linkWarnings []string
	for _, w := range m.Warnings {
		if strings.HasPrefix(w, "config ") {
			linkWarnings = append(linkWarnings, w)
		}
	}
	require.Len(t, linkWarnings, 3, "%q", m.Warnings)
	assert.Contains(t, linkWarnings[0], "escapes-absolute.key is a link to")
	assert.Contains(t, linkWarnings[0], "it is not in the backup")
}
