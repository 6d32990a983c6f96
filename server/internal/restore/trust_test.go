package restore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

// signers is a destination holding, oldest first: a backup signed by key A, one signed by key
// B, an unsigned one, and a manifest planted with a start in the future, signed by A (a server
// whose clock is wrong, or a stolen key: either way never "latest").
type signers struct {
	*source
	a, b              *format.SigningKey
	signedA, signedB  *format.Manifest
	unsigned, planted *format.Manifest
}

func newSigners(t *testing.T) *signers {
	t.Helper()
	s := &signers{source: newSource(t, false)}
	s.a, s.signedA = s.key, s.m
	var err error
	s.b, err = format.GenerateSigningKey()
	require.NoError(t, err)
	s.signedB = s.backup(t, s.b)
	s.unsigned = s.backup(t, nil)
	future := time.Now().Add(time.Hour).UTC()
	planted := *s.signedA
	planted.ID = future.Format("20060102T150405Z") + "-f00d"
	planted.StartedAt, planted.FinishedAt = future, future.Add(time.Second)
	writeManifest(t, s.store.Root(), &planted, s.a)
	s.planted = &planted
	return s
}

func TestRestoreTrust(t *testing.T) {
	s := newSigners(t)
	fa, fb := s.a.PublicKey().Fingerprint(), s.b.PublicKey().Fingerprint()

	t.Run("latest without a trusted key refuses, naming the signers and the unsigned backup", func(t *testing.T) {
		o, out := s.options(t)
		o.TrustKey = format.PublicKey{}
		_, err := Run(context.Background(), o)
		require.ErrorIs(t, err, ErrRefused)
		msg := err.Error()
		for _, want := range []string{"--id latest refuses to choose", "it holds unsigned backups and backups of 2 signers", "signed by " + fa, "signed by " + fb,
			"unsigned or invalid signature: " + s.unsigned.ID, "--trust-key", "`/dr version`"} {
			assert.Contains(t, msg, want)
		}
		assert.NoFileExists(t, filepath.Join(o.ConfigDir, "config.json"), out.String())
	})
	t.Run("latest with a trusted key picks the newest backup it signed, never one dated in the future", func(t *testing.T) {
		o, out := s.options(t)
		o.TrustKey, o.DryRun = s.a.PublicKey(), true
		res, err := Run(context.Background(), o)
		require.NoError(t, err, out.String())
		assert.Equal(t, s.signedA.ID, res.BackupID)
		assert.Contains(t, out.String(), "passed over backup "+s.planted.ID+": it says it started at")
		assert.Contains(t, out.String(), "passed over backup "+s.signedB.ID+": it is signed by "+fb+", not by the --trust-key "+fa)
		assert.Contains(t, out.String(), "passed over backup "+s.unsigned.ID+": it is not signed")
		assert.Contains(t, out.String(), "trust: backup "+s.signedA.ID+" is signed by "+fa+", the --trust-key")

		o.TrustKey = s.b.PublicKey()
		out.Reset()
		res, err = Run(context.Background(), o)
		require.NoError(t, err, out.String())
		assert.Equal(t, s.signedB.ID, res.BackupID)
	})
	refusals := []struct {
		name string
		id   func() string
		key  format.PublicKey
		want string
	}{
		{"an unsigned backup", func() string { return s.unsigned.ID }, format.PublicKey{}, "is not trusted: it is not signed: it was taken before the plugin signed its backups"},
		{"a backup of another key", func() string { return s.signedB.ID }, s.a.PublicKey(), "it is signed by " + fb + ", not by the --trust-key " + fa},
		{"a backup dated in the future", func() string { return s.planted.ID }, s.a.PublicKey(), "in the future"},
	}
	for _, tt := range refusals {
		t.Run("explicit id of "+tt.name+" is refused without --allow-untrusted", func(t *testing.T) {
			o, out := s.options(t)
			o.ID, o.TrustKey = tt.id(), tt.key
			_, err := Run(context.Background(), o)
			require.ErrorIs(t, err, ErrRefused)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "add --allow-untrusted")
			assert.NoFileExists(t, filepath.Join(o.ConfigDir, "config.json"), out.String())
		})
	}
	t.Run("explicit id of an unsigned backup with --allow-untrusted restores, saying so before any change", func(t *testing.T) {
		o, out := s.options(t)
		o.ID, o.TrustKey, o.AllowUntrusted = s.unsigned.ID, format.PublicKey{}, true
		res, err := Run(context.Background(), o)
		require.NoError(t, err, out.String())
		assert.Equal(t, s.unsigned.ID, res.BackupID)
		assert.Equal(t, int64(5000), countPosts(t, o.DatabaseURL))
		lines := strings.Split(out.String(), "\n")
		require.NotEmpty(t, lines)
		assert.Contains(t, lines[0], "trust: backup "+s.unsigned.ID+" is NOT trusted: it is not signed")
		assert.Contains(t, lines[0], "used anyway because of --allow-untrusted")
	})
	t.Run("explicit id of a signed backup without a key prints its fingerprint first", func(t *testing.T) {
		o, out := s.options(t)
		o.ID, o.TrustKey = s.signedB.ID, format.PublicKey{}
		_, err := Run(context.Background(), o)
		require.NoError(t, err, out.String())
		first, _, _ := strings.Cut(out.String(), "\n")
		assert.Contains(t, first, "trust: backup "+s.signedB.ID+" is signed by "+fb+": check that this is the fingerprint of the public key `/dr version` shows")
	})
	t.Run("a newer base backup or file capture is never latest: they restore only by point in time", func(t *testing.T) {
		one := newSource(t, false)
		for i, mk := range []func(m *format.Manifest){
			func(m *format.Manifest) { m.Components = format.Components{Base: true} },
			func(m *format.Manifest) { m.Components, m.Kind = format.Components{Files: true}, format.ClassCapture },
		} {
			newer := *one.m
			at := one.m.StartedAt.Add(time.Duration(i+1) * time.Minute)
			newer.ID = at.UTC().Format("20060102T150405Z") + "-000" + string(rune('a'+i))
			newer.StartedAt, newer.FinishedAt = at, at.Add(time.Second)
			mk(&newer)
			writeManifest(t, one.store.Root(), &newer, one.key)
		}
		o, out := one.options(t)
		o.TrustKey, o.DryRun = one.key.PublicKey(), true
		res, err := Run(context.Background(), o)
		require.NoError(t, err, out.String())
		assert.Equal(t, one.m.ID, res.BackupID)

		only := newSource(t, false)
		base := *only.m
		base.Components = format.Components{Base: true}
		require.NoError(t, os.Remove(filepath.Join(only.store.Root(), filepath.FromSlash(format.ManifestKey(only.m.ID)))))
		writeManifest(t, only.store.Root(), &base, only.key)
		o, out = only.options(t)
		o.TrustKey, o.DryRun = only.key.PublicKey(), true
		_, err = Run(context.Background(), o)
		require.ErrorIs(t, err, ErrRefused, out.String())
		assert.Contains(t, err.Error(), "only base backups or file captures, which restore with --to-time or --to-latest")
	})
	t.Run("a single signer needs no key; the fingerprint comes first", func(t *testing.T) {
		one := newSource(t, false)
		o, out := one.options(t)
		o.TrustKey, o.DryRun = format.PublicKey{}, true
		res, err := Run(context.Background(), o)
		require.NoError(t, err, out.String())
		assert.Equal(t, one.m.ID, res.BackupID)
		first, _, _ := strings.Cut(out.String(), "\n")
		assert.Contains(t, first, "is signed by "+one.key.PublicKey().Fingerprint())
		// A manifest dated in the future, even signed by that key, is never latest.
		future := *one.m
		future.ID = time.Now().Add(2*time.Hour).UTC().Format("20060102T150405Z") + "-beef"
		future.StartedAt = time.Now().Add(2 * time.Hour)
		writeManifest(t, one.store.Root(), &future, one.key)
		out.Reset()
		res, err = Run(context.Background(), o)
		require.NoError(t, err, out.String())
		assert.Equal(t, one.m.ID, res.BackupID)
		assert.Contains(t, out.String(), "passed over backup "+future.ID)
		_, statErr := os.Stat(filepath.Join(one.store.Root(), filepath.FromSlash(format.ManifestKey(future.ID))))
		require.NoError(t, statErr)
	})
}
