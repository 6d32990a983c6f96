package drsettings

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

func TestTrust(t *testing.T) {
	server, err := format.GenerateSigningKey()
	require.NoError(t, err)
	other, err := format.GenerateSigningKey()
	require.NoError(t, err)
	signedBy := func(k *format.SigningKey) format.Provenance { return format.Provenance{Signer: k.PublicKey()} }
	doc := func(p format.Provenance, named *format.SigningKey) *Loaded {
		d := Document{}
		if named != nil {
			d.SigningKey = named.PublicKey().String()
		}
		return &Loaded{Document: d, Provenance: p, Source: "s3://b/p"}
	}
	backups := func(ps ...format.Provenance) []*format.Manifest {
		var out []*format.Manifest
		for _, p := range ps {
			out = append(out, &format.Manifest{Provenance: p})
		}
		return out
	}
	unsigned := format.Provenance{Problem: "not signed"}
	for name, tc := range map[string]struct {
		trust   Trust
		doc     *Loaded
		backups []*format.Manifest
		want    string // "" = trusted
		signer  *format.SigningKey
	}{
		"signed like the backups": {Trust{}, doc(signedBy(server), server), backups(signedBy(server), signedBy(server)), "", server},
		"the pinned key":          {Trust{Key: server.PublicKey()}, doc(signedBy(server), server), nil, "", server},
		"not the pinned key":      {Trust{Key: other.PublicKey()}, doc(signedBy(server), server), nil, "not by the --trust-key", nil},
		"no backups to compare":   {Trust{}, doc(signedBy(server), server), nil, "there are none to compare with", nil},
		"backups of two signers":  {Trust{}, doc(signedBy(server), server), backups(signedBy(server), signedBy(other)), "not all signed by one key", nil},
		"unsigned backups":        {Trust{}, doc(signedBy(server), server), backups(signedBy(server), unsigned), "unsigned backups", nil},
		"other signer than backups": {Trust{}, doc(signedBy(other), other), backups(signedBy(server)),
			"but the backups there are signed by " + server.PublicKey().Fingerprint(), nil},
		"unsigned":            {Trust{}, doc(unsigned, nil), backups(signedBy(server)), "it is not signed", nil},
		"bad signature":       {Trust{}, doc(format.Provenance{Problem: "bad signature: x"}, nil), backups(signedBy(server)), "not valid", nil},
		"names another key":   {Trust{Key: server.PublicKey()}, doc(signedBy(server), other), nil, "names " + other.PublicKey().Fingerprint(), nil},
		"allowed anyway":      {Trust{AllowUntrusted: true}, doc(unsigned, nil), nil, "", nil},
		"pinned and unsigned": {Trust{Key: server.PublicKey()}, doc(unsigned, nil), nil, "it is not signed", nil},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := tc.trust.Check(tc.doc, tc.backups)
			if tc.want != "" {
				require.ErrorIs(t, err, ErrUntrusted)
				assert.Contains(t, err.Error(), tc.want)
				assert.Contains(t, err.Error(), "--trust-key")
				assert.Contains(t, err.Error(), "--allow-untrusted")
				return
			}
			require.NoError(t, err)
			if tc.signer != nil {
				assert.True(t, d.Signer.Equal(tc.signer.PublicKey()))
				assert.Contains(t, d.Note, tc.signer.PublicKey().Fingerprint())
			} else {
				assert.True(t, d.Signer.IsZero())
				assert.Contains(t, d.Note, "NOT trusted")
			}
		})
	}
}
