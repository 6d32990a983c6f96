package restore

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Links planted in the target folders, where the restore writes its partial and temporary
// files, its journal and config.json, point outside them: the restore writes its own files and
// leaves the link targets untouched.
func TestRestoreDoesNotFollowPlantedLinks(t *testing.T) {
	s := newSource(t, false)
	o, out := s.options(t)
	o.Force = true // the data folder is not empty: it holds the planted link
	outside := t.TempDir()
	plant := func(link string) string {
		victim := filepath.Join(outside, filepath.Base(link))
		require.NoError(t, os.WriteFile(victim, []byte("victim"), 0o600))
		require.NoError(t, os.MkdirAll(filepath.Dir(link), 0o750))
		require.NoError(t, os.Symlink(victim, link))
		return victim
	}
	victims := []string{
		plant(filepath.Join(o.DataDir, "data", "b", "two.bin.drctl-partial")),
		plant(filepath.Join(o.DataDir, "data", "a", "one.bin")), // a link where a restored file goes
		plant(filepath.Join(o.ConfigDir, "config.json.tmp")),
		plant(filepath.Join(o.ConfigDir, "saml-idp.crt.tmp")),
		plant(filepath.Join(o.ConfigDir, "config.json")),
		plant(filepath.Join(o.ConfigDir, journalName+".tmp")),
	}
	_, err := Run(context.Background(), o)
	require.NoError(t, err, out.String())
	for _, v := range victims {
		b, err := os.ReadFile(v)
		require.NoError(t, err)
		assert.Equal(t, "victim", string(b), "%s was written through a planted link", v)
	}
	for p, want := range s.files {
		full := filepath.Join(o.DataDir, filepath.FromSlash(p))
		fi, err := os.Lstat(full)
		require.NoError(t, err, p)
		assert.True(t, fi.Mode().IsRegular(), "%s is not a regular file", p)
		got, err := os.ReadFile(full)
		require.NoError(t, err)
		assert.Equal(t, want, got, p)
	}
	for _, name := range []string{"config.json", "saml-idp.crt", journalName} {
		fi, err := os.Lstat(filepath.Join(o.ConfigDir, name))
		require.NoError(t, err, name)
		assert.True(t, fi.Mode().IsRegular(), "%s is not a regular file", name)
	}
}
