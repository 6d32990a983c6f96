package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

const segSize = 16 << 20

// storeBase writes the manifest of a base backup of system sys starting at segment n of
// timeline 1, signed by k (nil: unsigned).
func storeBase(t *testing.T, s storage.Store, id, sys string, n uint64, start time.Time, k *format.SigningKey) *format.Manifest {
	t.Helper()
	m := &format.Manifest{FormatVersion: format.FormatVersion, ID: id, Status: format.StatusComplete, StartedAt: start.UTC(), FinishedAt: start.UTC().Add(time.Minute),
		Components: format.Components{Base: true}, Destination: "local",
		Base: &format.BaseBackup{SystemID: sys, Timeline: 1, StartLSN: walarchive.FormatLSN(n * segSize), EndLSN: walarchive.FormatLSN(n*segSize + 4096),
			StartWAL: walarchive.SegmentName(1, n, segSize), EndWAL: walarchive.SegmentName(1, n, segSize), WALSegmentSize: segSize}}
	b, err := format.MarshalManifest(m)
	require.NoError(t, err)
	require.NoError(t, format.PutSigned(context.Background(), s, format.ManifestKey(id), b, k))
	got, err := format.ReadManifest(context.Background(), s, id)
	require.NoError(t, err)
	return got
}

// TestRetentionPrunesWALForTrustedBaseBackupsOnly is retention as the plugin runs it at one
// destination: plan, delete what the plan removes, prune the WAL for the kept base backups.
// Two manifests planted beside the real base backups, newer and starting later (one a signed
// manifest copied and edited, one unsigned), would make the archive before their start go if
// they counted; they are untrusted, so the archive keeps what the real newest base backup needs.
func TestRetentionPrunesWALForTrustedBaseBackupsOnly(t *testing.T) {
	s := backuptest.LocalStore(t)
	ctx := backuptest.Ctx(t)
	key := newKey(t)
	const sysID = "7445012345678901234"
	sys, err := json.Marshal(walarchive.System{SystemID: sysID, WALSegmentSize: segSize, CreatedAt: time.Now().UTC()})
	require.NoError(t, err)
	require.NoError(t, format.PutSigned(ctx, s, walarchive.SystemKey, sys, key))
	for n := uint64(1); n <= 12; n++ {
		f := walarchive.File{Name: walarchive.SegmentName(1, n, segSize), Timeline: 1, Segment: true}
		require.NoError(t, format.PutSigned(ctx, s, f.Key(true), bytes.Repeat([]byte{byte(n)}, 100), key))
	}
	now := time.Now()
	b1 := storeBase(t, s, format.NewIDAt(now.Add(-72*time.Hour)), sysID, 3, now.Add(-72*time.Hour), key)
	b2 := storeBase(t, s, format.NewIDAt(now.Add(-24*time.Hour)), sysID, 8, now.Add(-24*time.Hour), key)
	storeBase(t, s, format.NewIDAt(now.Add(-time.Hour)), sysID, 12, now.Add(-time.Hour), nil)
	// b2's manifest and signature copied to a newer id, its start moved to segment 11.
	copied := format.NewIDAt(now.Add(-2 * time.Hour))
	raw := rawObject(t, s, format.ManifestKey(b2.ID))
	raw = bytes.ReplaceAll(raw, []byte(b2.ID), []byte(copied))
	raw = bytes.ReplaceAll(raw, []byte(b2.Base.StartWAL), []byte(walarchive.SegmentName(1, 11, segSize)))
	raw = bytes.ReplaceAll(raw, []byte(b2.StartedAt.Format(time.RFC3339Nano)), []byte(now.Add(-2*time.Hour).UTC().Format(time.RFC3339Nano)))
	loc := checksumField.FindSubmatchIndex(raw)
	require.NotNil(t, loc)
	copy(raw[loc[2]:loc[3]], checksumPlaceholder)
	sum := sha256.Sum256(raw)
	copy(raw[loc[2]:loc[3]], hex.EncodeToString(sum[:]))
	_, err = s.Put(ctx, format.ManifestKey(copied), bytes.NewReader(raw))
	require.NoError(t, err)
	_, err = s.Put(ctx, format.SignatureKey(format.ManifestKey(copied)), bytes.NewReader(rawObject(t, s, format.SignatureKey(format.ManifestKey(b2.ID)))))
	require.NoError(t, err)

	trust := format.Trust{Keys: []format.PublicKey{key.PublicKey()}}
	plan, err := backup.PlanRetention(ctx, s, "local", backup.Policy{KeepLast: 7, KeepBase: 1}, trust, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{b2.ID}, ids(plan.Keep))
	assert.Equal(t, []string{b1.ID}, ids(plan.Remove))
	require.Len(t, plan.Untrusted, 2)
	reasons := map[string]string{}
	for _, u := range plan.Untrusted {
		reasons[u.Manifest.ID] = u.Reason
	}
	assert.Contains(t, reasons[copied], "bad signature")
	assert.Len(t, reasons, 2)
	require.NoError(t, backup.Delete(ctx, s, b1.ID, backup.PruneOptions{}))

	res, err := walarchive.Prune(ctx, s, trust.Keys, plan.Keep, false)
	require.NoError(t, err)
	assert.Equal(t, 7, res.Deleted)
	assert.Equal(t, b2.Base.StartWAL, res.KeptFrom)
	var left []string
	require.NoError(t, s.List(ctx, walarchive.Prefix, func(o storage.ObjectInfo) error {
		left = append(left, o.Key)
		return nil
	}))
	var want []string
	for n := uint64(8); n <= 12; n++ {
		k := walarchive.File{Name: walarchive.SegmentName(1, n, segSize), Timeline: 1, Segment: true}.Key(true)
		want = append(want, k, format.SignatureKey(k))
	}
	want = append(want, walarchive.SystemKey, format.SignatureKey(walarchive.SystemKey))
	assert.ElementsMatch(t, want, left)

	// The restorable window still starts at the kept base backup.
	a, err := (&walarchive.Reader{Store: s, Keys: trust.Keys}).Scan(ctx)
	require.NoError(t, err)
	require.NoError(t, a.Covers(1, 8, 12, false))
}
