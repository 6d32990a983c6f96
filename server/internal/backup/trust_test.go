package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

func newKey(t *testing.T) *format.SigningKey {
	t.Helper()
	k, err := format.GenerateSigningKey()
	require.NoError(t, err)
	return k
}

// storeManifest writes a sealed manifest of backup id started at start, signed by k when set:
// a backup as the plugin writes it (k = its key) or as an attacker plants it (k = nil).
func storeManifest(t *testing.T, s storage.Store, id string, start time.Time, k *format.SigningKey) *format.Manifest {
	t.Helper()
	m := &format.Manifest{FormatVersion: 1, ID: id, Status: format.StatusComplete, StartedAt: start.UTC(), FinishedAt: start.UTC().Add(time.Minute),
		Components: format.Components{Database: true}, Destination: "local"}
	b, err := format.MarshalManifest(m)
	require.NoError(t, err)
	require.NoError(t, format.PutSigned(context.Background(), s, format.ManifestKey(id), b, k))
	got, err := format.ReadManifest(context.Background(), s, id)
	require.NoError(t, err)
	return got
}

// plantCopy copies backup src's manifest (and its signature sidecar) to a new id dated at,
// re-checksummed as an attacker would: the SHA-256 recomputed over the edited bytes.
func plantCopy(t *testing.T, s storage.Store, src, id string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	b := rawObject(t, s, format.ManifestKey(src))
	b = bytes.ReplaceAll(b, []byte(src), []byte(id))
	b = regexp.MustCompile(`"started_at": "[^"]*"`).ReplaceAll(b, fmt.Appendf(nil, `"started_at": %q`, at.UTC().Format(time.RFC3339)))
	loc := checksumField.FindSubmatchIndex(b)
	require.NotNil(t, loc)
	copy(b[loc[2]:loc[3]], checksumPlaceholder)
	sum := sha256.Sum256(b)
	copy(b[loc[2]:loc[3]], hex.EncodeToString(sum[:]))
	_, err := s.Put(ctx, format.ManifestKey(id), bytes.NewReader(b))
	require.NoError(t, err)
	_, err = s.Put(ctx, format.SignatureKey(format.ManifestKey(id)), bytes.NewReader(rawObject(t, s, format.SignatureKey(format.ManifestKey(src)))))
	require.NoError(t, err)
}

func TestTrustCheck(t *testing.T) {
	s := backuptest.LocalStore(t)
	ours, theirs := newKey(t), newKey(t)
	now := time.Now()
	signed := storeManifest(t, s, "20261101T000000Z-0001", now.Add(-time.Hour), ours)
	other := storeManifest(t, s, "20261101T000000Z-0002", now.Add(-time.Hour), theirs)
	old := storeManifest(t, s, "20261101T000000Z-0003", now.Add(-2*time.Hour), nil)
	stranger := storeManifest(t, s, "20261101T000000Z-0004", now.Add(-2*time.Hour), nil)
	future := storeManifest(t, s, "20301101T000000Z-0005", now.Add(10*time.Minute), ours)
	skewed := storeManifest(t, s, "20261101T000000Z-0006", now.Add(3*time.Minute), ours)
	edited := storeManifest(t, s, "20261101T000000Z-0007", now.Add(-time.Hour), nil)
	plantCopy(t, s, signed.ID, "20301231T000000Z-0008", time.Date(2030, 12, 31, 0, 0, 0, 0, time.UTC))
	moved, err := format.ReadManifest(context.Background(), s, "20301231T000000Z-0008")
	require.NoError(t, err)

	records := map[string]string{old.ID: old.Provenance.SHA256, edited.ID: "0000"}
	tr := format.Trust{Keys: []format.PublicKey{ours.PublicKey()}, Now: func() time.Time { return now },
		Recorded: func(dest, id string) (string, bool) { sum, ok := records[id]; return sum, ok && dest == "local" }}
	cases := []struct {
		m    *format.Manifest
		dest string
		ok   bool
		why  string
	}{
		{signed, "local", true, ""},
		{old, "local", true, ""}, // unsigned, recorded by this server (made before signing)
		{old, "s3", false, "not signed, and not in this server's record"},
		{skewed, "local", true, ""},
		{other, "local", false, "signed by another key (" + theirs.PublicKey().Fingerprint() + ")"},
		{stranger, "local", false, "not signed, and not in this server's record of its backups"},
		{future, "local", false, "dated in the future"},
		{edited, "local", false, "not the one this server recorded"},
		{moved, "local", false, "dated in the future"},
	}
	for _, c := range cases {
		ok, why := tr.Check(c.dest, c.m)
		assert.Equal(t, c.ok, ok, "%s at %s: %s", c.m.ID, c.dest, why)
		if c.why == "" {
			assert.Empty(t, why)
		} else {
			assert.Contains(t, why, c.why, c.m.ID)
		}
	}
	// A signed manifest copied to another id (not dated in the future) no longer verifies.
	plantCopy(t, s, signed.ID, "20261101T000000Z-0009", now.Add(-time.Minute))
	copied, err := format.ReadManifest(context.Background(), s, "20261101T000000Z-0009")
	require.NoError(t, err)
	ok, why := tr.Check("local", copied)
	assert.False(t, ok)
	assert.Contains(t, why, "bad signature")
}

// TestRetentionIgnoresPlantedBackups: 217 manifests planted at the destination, dated 2030 and
// re-checksummed, with a planted verification.json, must not change which real backups
// retention keeps. Before trust, the plugin gave them all to Select: they were the newest, so
// KeepLast kept 3 of them and every real backup was removed.
func TestRetentionIgnoresPlantedBackups(t *testing.T) {
	s := backuptest.LocalStore(t)
	ctx := backuptest.Ctx(t)
	key := newKey(t)
	now := time.Now()
	var real []*format.Manifest
	for i := range 6 {
		real = append(real, storeManifest(t, s, format.NewIDAt(now.Add(-time.Duration(6-i)*24*time.Hour)), now.Add(-time.Duration(6-i)*24*time.Hour), key))
	}
	// The oldest real backup passed a signed verification: it is kept as the newest verified.
	v := &format.Verification{BackupID: real[0].ID, Outcome: format.OutcomePassed, FinishedAt: now}
	require.NoError(t, format.WriteSignedVerification(ctx, s, v, key))
	// A real backup with a passed but unsigned verification (as planted): it does not count.
	require.NoError(t, format.WriteVerification(ctx, s, &format.Verification{BackupID: real[1].ID, Outcome: format.OutcomePassed, FinishedAt: now}))

	for i := range 217 {
		id := fmt.Sprintf("20300101T%06dZ-%04x", i, i)
		plantCopy(t, s, real[5].ID, id, time.Date(2030, 1, 1, 0, 0, i, 0, time.UTC))
		if i == 0 {
			require.NoError(t, format.WriteVerification(ctx, s, &format.Verification{BackupID: id, Outcome: format.OutcomePassed, FinishedAt: now}))
		}
	}
	tr := format.Trust{Keys: []format.PublicKey{key.PublicKey()}}
	policy := backup.Policy{KeepLast: 3}

	plan, err := backup.PlanRetention(ctx, s, "local", policy, tr, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{real[5].ID, real[4].ID, real[3].ID, real[0].ID}, ids(plan.Keep))
	assert.Equal(t, []string{real[2].ID, real[1].ID}, ids(plan.Remove))
	assert.Equal(t, real[0].ID, plan.NewestVerified)
	assert.Len(t, plan.Untrusted, 217)
	for _, u := range plan.Untrusted {
		assert.Contains(t, u.Reason, "dated in the future")
	}

	// Select alone (what retention gave every listed backup before) no longer lets them evict.
	all, err := format.List(ctx, s)
	require.NoError(t, err)
	require.Len(t, all, 223)
	keep, remove := policy.Select(all, nil, "", now)
	assert.Equal(t, []string{real[5].ID, real[4].ID, real[3].ID}, ids(keep))
	assert.Equal(t, []string{real[2].ID, real[1].ID, real[0].ID}, ids(remove))
}

func TestVerificationSignature(t *testing.T) {
	s := backuptest.LocalStore(t)
	ctx := backuptest.Ctx(t)
	key := newKey(t)
	now := time.Now()
	a := storeManifest(t, s, format.NewIDAt(now.Add(-2*time.Hour)), now.Add(-2*time.Hour), key)
	b := storeManifest(t, s, format.NewIDAt(now.Add(-time.Hour)), now.Add(-time.Hour), key)
	tr := format.Trust{Keys: []format.PublicKey{key.PublicKey()}}
	ms := []*format.Manifest{b, a}

	require.NoError(t, format.WriteSignedVerification(ctx, s, &format.Verification{BackupID: a.ID, Outcome: format.OutcomePassed}, key))
	v, err := format.ReadVerification(ctx, s, a.ID)
	require.NoError(t, err)
	assert.True(t, v.Provenance.SignedBy(key.PublicKey()))
	assert.Equal(t, a.ID, format.NewestVerified(ctx, s, ms, tr))

	// Unsigned (as anyone with write access to the destination writes it): not counted.
	require.NoError(t, format.WriteVerification(ctx, s, &format.Verification{BackupID: b.ID, Outcome: format.OutcomePassed}))
	v, err = format.ReadVerification(ctx, s, b.ID)
	require.NoError(t, err)
	assert.Equal(t, "not signed", v.Provenance.Problem)
	assert.Equal(t, a.ID, format.NewestVerified(ctx, s, ms, tr))

	// A signed verification of a copied into b's folder (with its signature): not counted.
	_, err = s.Put(ctx, format.VerificationKey(b.ID), bytes.NewReader(rawObject(t, s, format.VerificationKey(a.ID))))
	require.NoError(t, err)
	_, err = s.Put(ctx, format.SignatureKey(format.VerificationKey(b.ID)), bytes.NewReader(rawObject(t, s, format.SignatureKey(format.VerificationKey(a.ID)))))
	require.NoError(t, err)
	v, err = format.ReadVerification(ctx, s, b.ID)
	require.NoError(t, err)
	assert.Contains(t, v.Provenance.Problem, "bad signature")
	assert.Equal(t, a.ID, format.NewestVerified(ctx, s, ms, tr))

	// Signed by our key for b: counted.
	require.NoError(t, format.WriteSignedVerification(ctx, s, &format.Verification{BackupID: b.ID, Outcome: format.OutcomePassed}, key))
	assert.Equal(t, b.ID, format.NewestVerified(ctx, s, ms, tr))
	// No key trusted: nothing counts.
	assert.Empty(t, format.NewestVerified(ctx, s, ms, format.Trust{}))
}

func TestSignManifestAdoptsAnOlderBackup(t *testing.T) {
	s := backuptest.LocalStore(t)
	ctx := backuptest.Ctx(t)
	key := newKey(t)
	tr := format.Trust{Keys: []format.PublicKey{key.PublicKey()}}
	m := storeManifest(t, s, format.NewIDAt(time.Now().Add(-time.Hour)), time.Now().Add(-time.Hour), nil)
	ok, why := tr.Check("local", m)
	require.False(t, ok)
	assert.Contains(t, why, "not signed")
	_, err := format.SignManifest(ctx, s, m.ID, "00", key)
	assert.ErrorContains(t, err, "changed since it was shown")
	signed, err := format.SignManifest(ctx, s, m.ID, m.Provenance.SHA256, key)
	require.NoError(t, err)
	assert.Equal(t, m.Provenance.SHA256, signed.Provenance.SHA256, "the manifest itself is unchanged")
	again, err := format.ReadManifest(ctx, s, m.ID)
	require.NoError(t, err)
	ok, why = tr.Check("local", again)
	assert.True(t, ok, why)
	_, err = format.SignManifest(ctx, s, "20261101T000000Z-none", "", key)
	assert.ErrorIs(t, err, format.ErrNoBackup)
}

// TestRetentionNotStalledByAnUnreadablePlant: an unreadable manifest planted in the destination
// used to stop retention for good (any listing error stopped it), so a plant could fill the
// disk. Now it is untrusted like any other plant; an unreadable manifest of a backup this server
// recorded still stops retention.
func TestRetentionNotStalledByAnUnreadablePlant(t *testing.T) {
	s := backuptest.LocalStore(t)
	ctx := backuptest.Ctx(t)
	key := newKey(t)
	now := time.Now()
	var real []*format.Manifest
	for i := range 4 {
		at := now.Add(-time.Duration(4-i) * 24 * time.Hour)
		real = append(real, storeManifest(t, s, format.NewIDAt(at), at, key))
	}
	planted := "20261130T000000Z-dead"
	_, err := s.Put(ctx, format.ManifestKey(planted), strings.NewReader("{not json"))
	require.NoError(t, err)

	tr := format.Trust{Keys: []format.PublicKey{key.PublicKey()}}
	plan, err := backup.PlanRetention(ctx, s, "local", backup.Policy{KeepLast: 2}, tr, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{real[3].ID, real[2].ID}, ids(plan.Keep))
	assert.Equal(t, []string{real[1].ID, real[0].ID}, ids(plan.Remove))
	require.Len(t, plan.Untrusted, 1)
	assert.Equal(t, planted, plan.Untrusted[0].Manifest.ID)
	assert.Contains(t, plan.Untrusted[0].Reason, "cannot be read")

	// The same damage to a backup this server recorded stops retention.
	damaged := real[0].ID
	_, err = s.Put(ctx, format.ManifestKey(damaged), strings.NewReader("{not json"))
	require.NoError(t, err)
	tr.Recorded = func(_, id string) (string, bool) { return "x", id == damaged }
	_, err = backup.PlanRetention(ctx, s, "local", backup.Policy{KeepLast: 2}, tr, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), damaged)
}
