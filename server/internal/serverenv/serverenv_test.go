package serverenv

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeProc builds /proc/<pid>/{cwd,cmdline,environ} as Linux shows them.
func fakeProc(t *testing.T, cwd string, args, env []string) string {
	proc := t.TempDir()
	dir := filepath.Join(proc, "42")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.Symlink(cwd, filepath.Join(dir, "cwd")))
	join := func(ss []string) []byte {
		var b []byte
		for _, s := range ss {
			b = append(append(b, s...), 0)
		}
		return b
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cmdline"), join(args), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "environ"), join(env), 0o644))
	return proc
}

func TestDetect(t *testing.T) {
	root := "/opt/mattermost"
	tests := []struct {
		name      string
		args, env []string
		file, dsn string
	}{
		{"defaults", []string{"./bin/mattermost"}, nil, "/opt/mattermost/config/config.json", ""},
		{"--config relative", []string{"bin/mattermost", "server", "--config", "cfg/prod.json"}, nil, "/opt/mattermost/cfg/prod.json", ""},
		{"-c=absolute", []string{"mattermost", "-c=/etc/mattermost/config.json"}, nil, "/etc/mattermost/config.json", ""},
		{"bare name", []string{"mattermost", "--config", "other.json"}, nil, "/opt/mattermost/config/other.json", ""},
		{"MM_CONFIG database", []string{"mattermost"}, []string{"A=b", "MM_CONFIG=postgres://mm:pw@db/mattermost"}, "", "postgres://mm:pw@db/mattermost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Detect(fakeProc(t, root, tt.args, tt.env), 42)
			require.NoError(t, err)
			assert.Equal(t, root, s.Root)
			assert.Equal(t, tt.file, s.ConfigFile)
			assert.Equal(t, tt.dsn, s.ConfigDSN)
		})
	}
	_, err := Detect(t.TempDir(), 42)
	assert.ErrorContains(t, err, "find the Mattermost server's folder")
}

func TestFilesAndDefaults(t *testing.T) {
	s := &Server{Root: "/srv/mm", ConfigFile: "/srv/mm/config/config.json"}
	cfg := &model.Config{}
	cfg.SetDefaults()
	fs, err := s.Files(cfg)
	require.NoError(t, err)
	assert.Equal(t, &FileStore{Driver: "local", Dir: "/srv/mm/data"}, fs)
	assert.Equal(t, "/srv/mm/dr-backups", s.DefaultBackupDir())
	assert.Equal(t, "/srv/mm/config", s.ConfigDir())

	d := model.ImageDriverS3
	cfg.FileSettings.DriverName = &d
	b := "files"
	cfg.FileSettings.AmazonS3Bucket = &b
	fs, err = s.Files(cfg)
	require.NoError(t, err)
	assert.Equal(t, "files", fs.Bucket)

	x := "azure"
	cfg.FileSettings.DriverName = &x
	_, err = s.Files(cfg)
	assert.ErrorContains(t, err, `"azure"`)
}

func TestConfigSourceFolder(t *testing.T) {
	root := t.TempDir()
	cfgDir := filepath.Join(root, "config")
	require.NoError(t, os.MkdirAll(filepath.Join(cfgDir, "saml"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"a":1}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(cfgDir, "saml", "idp.crt"), []byte("CERT"), 0o600))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(cfgDir, "link")))
	cfg := &model.Config{}
	cfg.SetDefaults()
	secret := "s3cret"
	cfg.SqlSettings.DataSource = &secret
	src := &ConfigSource{Server: &Server{Root: root, ConfigFile: filepath.Join(cfgDir, "config.json")}, Config: func() *model.Config { return cfg }}

	eff, err := src.Effective(context.Background())
	require.NoError(t, err)
	assert.Contains(t, string(eff), `"DataSource": "s3cret"`, "secrets stay in: a restore needs them")

	got := map[string]string{}
	require.NoError(t, src.Files(context.Background(), func(name string, size int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		assert.Equal(t, int64(len(b)), size)
		got[name] = string(b)
		return err
	}))
	assert.Equal(t, map[string]string{"config.json": `{"a":1}`, "saml/idp.crt": "CERT"}, got)
}

// A config folder with a Kubernetes Secret mounted into it: the backup reads cert.pem, as the
// server does, and not the ..<timestamp> folder behind it; a link leading outside is left out.
func TestConfigSourceKubernetesMount(t *testing.T) {
	root := t.TempDir()
	cfgDir := filepath.Join(root, "config")
	require.NoError(t, os.MkdirAll(filepath.Join(cfgDir, "..2026_12_05_10_00_00.123"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"a":1}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(cfgDir, "..2026_12_05_10_00_00.123", "cert.pem"), []byte("CERT"), 0o600))
	require.NoError(t, os.Symlink("..2026_12_05_10_00_00.123", filepath.Join(cfgDir, "..data")))
	require.NoError(t, os.Symlink("..data/cert.pem", filepath.Join(cfgDir, "cert.pem")))
	require.NoError(t, os.WriteFile(filepath.Join(root, "outside.pem"), []byte("NOT CONFIG"), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(root, "outside.pem"), filepath.Join(cfgDir, "escapes.pem")))
	src := &ConfigSource{Server: &Server{Root: root, ConfigFile: filepath.Join(cfgDir, "config.json")}}

	got := map[string]string{}
	var warnings []string
	require.NoError(t, src.FilesWarning(context.Background(), func(name string, _ int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[name] = string(b)
		return err
	}, func(msg string) { warnings = append(warnings, msg) }))
	assert.Equal(t, map[string]string{"config.json": `{"a":1}`, "cert.pem": "CERT"}, got)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "escapes.pem is a link to "+filepath.Join(root, "outside.pem")+", outside the config folder")
}
