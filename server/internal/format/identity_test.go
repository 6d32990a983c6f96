package format

import (
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadIdentities(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	dir := t.TempDir()
	good := filepath.Join(dir, "key.txt")
	require.NoError(t, os.WriteFile(good, []byte("# created: today\n"+id.String()+"\n"), 0o600))
	bad := filepath.Join(dir, "bad.txt")
	require.NoError(t, os.WriteFile(bad, []byte("AGE-SECRET-KEY-1NOTAKEY\n"), 0o600))
	tests := []struct {
		name            string
		path, file, key string
		want            int
		source, errText string
	}{
		{"nothing", "", "", "", 0, "", ""},
		{"file", good, "", "", 1, "the file " + good, ""},
		{"file wins over the environment", good, bad, "junk", 1, "the file " + good, ""},
		{"file from the environment", "", good, "", 1, "DR_AGE_IDENTITY_FILE", ""},
		{"key from the environment", "", "", id.String(), 1, "DR_AGE_IDENTITY environment variable", ""},
		{"missing file", filepath.Join(dir, "nope"), "", "", 0, "", "no such file"},
		{"not a key", bad, "", "", 0, "", "does not hold an age identity"},
		{"not a key in the environment", "", "", "AGE-SECRET-KEY-1NOTAKEY", 0, "", "does not hold an age identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvIdentityFile, tt.file)
			t.Setenv(EnvIdentity, tt.key)
			ids, source, err := LoadIdentities(tt.path)
			if tt.errText != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.errText)
				assert.NotContains(t, err.Error(), "NOTAKEY", "the file's content is not in the message")
				return
			}
			require.NoError(t, err)
			assert.Len(t, ids, tt.want)
			assert.Contains(t, source, tt.source)
		})
	}
}
