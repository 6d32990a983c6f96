package format

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

func TestSigningKeyRoundTrip(t *testing.T) {
	k, err := GenerateSigningKey()
	require.NoError(t, err)
	k2, err := ParseSigningKey(k.String())
	require.NoError(t, err)
	assert.True(t, k.PublicKey().Equal(k2.PublicKey()))

	pub := k.PublicKey()
	assert.True(t, strings.HasPrefix(pub.String(), "ssh-ed25519 AAAA"), pub.String())
	assert.True(t, strings.HasPrefix(pub.Fingerprint(), "SHA256:"), pub.Fingerprint())
	parsed, err := ParsePublicKey(pub.String())
	require.NoError(t, err)
	assert.True(t, parsed.Equal(pub))
	assert.Equal(t, pub.Fingerprint(), parsed.Fingerprint())

	file := filepath.Join(t.TempDir(), "signing.pub")
	require.NoError(t, os.WriteFile(file, []byte("# the DR signing key\n"+pub.String()+"\n"), 0o600))
	fromFile, err := LoadPublicKey(file)
	require.NoError(t, err)
	assert.True(t, fromFile.Equal(pub))

	other, err := GenerateSigningKey()
	require.NoError(t, err)
	assert.False(t, other.PublicKey().Equal(pub))
	var none PublicKey
	assert.False(t, none.Equal(PublicKey{}), "no key equals nothing")
}

func TestParseSigningKeyNeverQuotesInput(t *testing.T) {
	for _, in := range []string{"", "secret-value-123", "DR-SIGNING-KEY-1:secret-value-123", "DR-SIGNING-KEY-1:c2VjcmV0"} {
		_, err := ParseSigningKey(in)
		require.Error(t, err, in)
		assert.NotContains(t, err.Error(), "secret-value-123")
		assert.NotContains(t, err.Error(), "c2VjcmV0")
	}
	_, err := ParsePublicKey("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 x")
	require.Error(t, err)
}

func TestSignatureCheck(t *testing.T) {
	k, err := GenerateSigningKey()
	require.NoError(t, err)
	content := []byte(`{"id":"a"}`)
	sig := k.Sign("backups/a/manifest.json", content)

	signer, err := sig.Check("backups/a/manifest.json", content)
	require.NoError(t, err)
	assert.True(t, signer.Equal(k.PublicKey()))

	cases := map[string]func() (string, []byte, *Signature){
		"other content": func() (string, []byte, *Signature) {
			return "backups/a/manifest.json", []byte(`{"id":"b"}`), sig
		},
		"moved to another backup": func() (string, []byte, *Signature) {
			return "backups/b/manifest.json", content, sig
		},
		"content and hash replaced, signature kept": func() (string, []byte, *Signature) {
			forged := *sig
			other := k.Sign("backups/a/manifest.json", []byte("x"))
			forged.SHA256, forged.Size = other.SHA256, other.Size
			return "backups/a/manifest.json", []byte("x"), &forged
		},
		"attacker's key named in the sidecar, victim's signature": func() (string, []byte, *Signature) {
			mallory, _ := GenerateSigningKey()
			forged := *sig
			forged.PublicKey = mallory.PublicKey().String()
			return "backups/a/manifest.json", content, &forged
		},
		"unknown format": func() (string, []byte, *Signature) {
			forged := *sig
			forged.Format = "v0"
			return "backups/a/manifest.json", content, &forged
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			key, c, s := mk()
			_, err := s.Check(key, c)
			assert.Error(t, err)
		})
	}
}

func TestManifestProvenance(t *testing.T) {
	ctx := context.Background()
	s, err := local.New(t.TempDir())
	require.NoError(t, err)
	k, err := GenerateSigningKey()
	require.NoError(t, err)

	write := func(id string, key *SigningKey) []byte {
		m := &Manifest{FormatVersion: 1, ID: id, Status: StatusComplete}
		b, err := MarshalManifest(m)
		require.NoError(t, err)
		require.NoError(t, PutSigned(ctx, s, ManifestKey(id), b, key))
		return b
	}
	write("20261201T000000Z-aaaa", k)
	write("20261201T000000Z-bbbb", nil)

	m, err := ReadManifest(ctx, s, "20261201T000000Z-aaaa")
	require.NoError(t, err)
	assert.True(t, m.Provenance.SignedBy(k.PublicKey()))
	assert.Empty(t, m.Provenance.Problem)
	assert.Len(t, m.Provenance.SHA256, 64)

	m, err = ReadManifest(ctx, s, "20261201T000000Z-bbbb")
	require.NoError(t, err)
	assert.False(t, m.Provenance.Signed())
	assert.Equal(t, "not signed", m.Provenance.Problem)

	// A signed manifest copied into a new folder (a planted backup) keeps valid JSON and
	// checksum but not its signature.
	rc, err := s.Open(ctx, ManifestKey("20261201T000000Z-aaaa"))
	require.NoError(t, err)
	orig, err := io.ReadAll(rc)
	require.NoError(t, err)
	rc.Close()
	var planted Manifest
	require.NoError(t, json.Unmarshal(orig, &planted))
	planted.ID = "20301201T000000Z-cccc"
	b, err := MarshalManifest(&planted)
	require.NoError(t, err)
	_, err = s.Put(ctx, ManifestKey(planted.ID), bytes.NewReader(b))
	require.NoError(t, err)
	sigRC, err := s.Open(ctx, SignatureKey(ManifestKey("20261201T000000Z-aaaa")))
	require.NoError(t, err)
	sigBytes, err := io.ReadAll(sigRC)
	require.NoError(t, err)
	sigRC.Close()
	_, err = s.Put(ctx, SignatureKey(ManifestKey(planted.ID)), bytes.NewReader(sigBytes))
	require.NoError(t, err)

	m, err = ReadManifest(ctx, s, planted.ID)
	require.NoError(t, err)
	assert.False(t, m.Provenance.Signed())
	assert.Contains(t, m.Provenance.Problem, "bad signature")

	// A garbage sidecar is reported, not an error.
	_, err = s.Put(ctx, SignatureKey(ManifestKey("20261201T000000Z-bbbb")), strings.NewReader("{"))
	require.NoError(t, err)
	m, err = ReadManifest(ctx, s, "20261201T000000Z-bbbb")
	require.NoError(t, err)
	assert.Contains(t, m.Provenance.Problem, "not valid JSON")
}
