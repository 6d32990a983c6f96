package backup

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

// The audit trail's head given in Options lands in every destination's manifest, covered by
// its checksum, and is read back by ReadManifest and List.
func TestManifestCarriesAuditHead(t *testing.T) {
	requirePG(t)
	f := newFixture(t, 1)
	s := localStore(t)
	o := f.options(false, Destination{Name: "local", Store: s})
	o.Components = format.Components{Config: true}
	o.AuditHead = &format.AuditAnchor{Seq: 42, Hash: "5f0c7d1e2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5"}
	ms, err := Run(ctxOf(t), o)
	require.NoError(t, err)
	id := ms["local"].ID

	m, err := format.ReadManifest(ctxOf(t), s, id)
	require.NoError(t, err)
	require.NotNil(t, m.AuditHead)
	assert.Equal(t, *o.AuditHead, *m.AuditHead)
	assert.Contains(t, string(rawObject(t, s, format.ManifestKey(id))), `"audit_head": {`)
	listed, err := format.List(ctxOf(t), s)
	require.NoError(t, err)
	require.Len(t, listed, 1)
	assert.Equal(t, *o.AuditHead, *listed[0].AuditHead)

	o.AuditHead, o.ID = nil, ""
	ms, err = Run(ctxOf(t), o)
	require.NoError(t, err)
	assert.NotContains(t, string(rawObject(t, s, format.ManifestKey(ms["local"].ID))), "audit_head", "no head, no field")
}
