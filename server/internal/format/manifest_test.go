package format

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestManifestChecksum(t *testing.T) {
	m := &Manifest{FormatVersion: FormatVersion, ID: "20260101T000000Z-abcd", Status: StatusComplete}
	b, err := MarshalManifest(m)
	require.NoError(t, err)
	ok, err := CheckManifestSum(b)
	require.True(t, ok)
	require.NoError(t, err)
	assert.Len(t, m.Checksum, 64)
	c := []byte(strings.Replace(string(b), "abcd", "abce", 1))
	_, err = CheckManifestSum(c)
	require.Error(t, err)
	// A manifest without a checksum (older plugin) is accepted as unsealed.
	ok, err = CheckManifestSum([]byte(`{"id":"x"}`))
	assert.False(t, ok)
	assert.NoError(t, err)
}
