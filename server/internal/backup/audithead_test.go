package backup_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

// The audit trail's head given in Options lands in every destination's manifest, covered by
// its checksum, and is read back by ReadManifest and List.
func TestManifestCarriesAuditHead(t *testing.T) {
	backuptest.RequirePG(t)
	f := backuptest.NewFixture(t, 1)
	s := backuptest.LocalStore(t)
	o := f.Options(false, backup.Destination{Name: "local", Store: s})
	o.Components = format.Components{Config: true}
	o.AuditHead = &format.AuditAnchor{Seq: 42, Hash: "5f0c7d1e2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5"}
	ms, err := backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	id := ms["local"].ID

	m, err := format.ReadManifest(backuptest.Ctx(t), s, id)
	require.NoError(t, err)
	require.NotNil(t, m.AuditHead)
	assert.Equal(t, *o.AuditHead, *m.AuditHead)
	assert.Contains(t, string(rawObject(t, s, format.ManifestKey(id))), `"audit_head": {`)
	listed, err := format.List(backuptest.Ctx(t), s)
	require.NoError(t, err)
	require.Len(t, listed, 1)
	assert.Equal(t, *o.AuditHead, *listed[0].AuditHead)

	o.AuditHead, o.ID = nil, ""
	ms, err = backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	assert.NotContains(t, string(rawObject(t, s, format.ManifestKey(ms["local"].ID))), "audit_head", "no head, no field")
}
