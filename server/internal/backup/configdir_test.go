package backup

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDirConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(p, content string) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o750))
		require.NoError(t, os.WriteFile(full, []byte(content), 0o600))
	}
	write("config.json", `{"a":1}`)
	write("saml.crt", "cert")
	write("sub/idp.xml", "<xml/>")
	// A Kubernetes Secret mount: name -> ..data/name, ..data -> ..2026_11_26_10_00_00.1
	write("..2026_11_26_10_00_00.1/saml-private.key", "key")
	require.NoError(t, os.Symlink("..2026_11_26_10_00_00.1", filepath.Join(dir, "..data")))
	require.NoError(t, os.Symlink("..data/saml-private.key", filepath.Join(dir, "saml-private.key")))
	require.NoError(t, os.Symlink("sub", filepath.Join(dir, "linked-folder")))
	require.NoError(t, os.Symlink("missing", filepath.Join(dir, "dangling")))

	c := DirConfig{Dir: dir, EffectiveConfig: func(context.Context) ([]byte, error) { return []byte(`{"eff":true}`), nil }}
	eff, err := c.Effective(context.Background())
	require.NoError(t, err)
	assert.Equal(t, `{"eff":true}`, string(eff))
	got := map[string]string{}
	var order []string
	require.NoError(t, c.Files(context.Background(), func(name string, size int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		assert.Equal(t, size, int64(len(b)))
		got[name] = string(b)
		order = append(order, name)
		return nil
	}))
	assert.Equal(t, map[string]string{"config.json": `{"a":1}`, "saml.crt": "cert", "sub/idp.xml": "<xml/>", "saml-private.key": "key"}, got)
	assert.Equal(t, []string{"config.json", "saml-private.key", "saml.crt", "sub/idp.xml"}, order)

	assert.Error(t, DirConfig{Dir: filepath.Join(dir, "nope")}.Files(context.Background(), func(string, int64, io.Reader) error { return nil }))
	_, err = DirConfig{}.Effective(context.Background())
	assert.Error(t, err)
}
