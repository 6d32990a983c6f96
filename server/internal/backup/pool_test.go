package backup_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

// The final check of a run covers the raw objects it relies on as well as the zstd ones.
func TestCheckUsedCoversBothEncodings(t *testing.T) {
	a, b := []byte("a content"), []byte("b content")
	tests := []struct {
		name    string
		use     []byte // the content the run relies on
		allow   bool   // raw objects allowed (an unencrypted run)
		remove  string // removed during the run
		missing string // the key checkUsed reports, if any
	}{
		{name: "raw used and removed", use: a, allow: true, remove: format.RawPoolKey(sumHex(a)), missing: format.RawPoolKey(sumHex(a))},
		{name: "raw unused and removed", use: b, allow: true, remove: format.RawPoolKey(sumHex(a))},
		{name: "zstd used and removed", use: b, allow: true, remove: format.PoolKey(sumHex(b)), missing: format.PoolKey(sumHex(b))},
		{name: "zstd preferred", use: b, allow: true, remove: format.RawPoolKey(sumHex(b))},
		{name: "raw not allowed: not relied on", use: a, remove: format.RawPoolKey(sumHex(a))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := backuptest.LocalStore(t)
			_, err := s.Put(backuptest.Ctx(t), format.RawPoolKey(sumHex(a)), bytes.NewReader(a))
			require.NoError(t, err)
			putZstd(t, s, format.PoolKey(sumHex(b)), b)
			_, err = s.Put(backuptest.Ctx(t), format.RawPoolKey(sumHex(b)), bytes.NewReader(b))
			require.NoError(t, err)

			p := backup.NewPoolSet(tc.allow)
			require.NoError(t, p.Load(backuptest.Ctx(t), s))
			h, _ := format.ParseSum(sumHex(tc.use))
			enc, ok := p.Encoding(h)
			wantOK := tc.allow || !bytes.Equal(tc.use, a)
			require.Equal(t, wantOK, ok)
			if bytes.Equal(tc.use, b) {
				assert.Empty(t, enc, "zstd when both exist")
			} else if ok {
				assert.Equal(t, format.EncodingRaw, enc)
			}
			require.NoError(t, s.Delete(backuptest.Ctx(t), tc.remove))
			err = p.CheckUsed(backuptest.Ctx(t), s)
			if tc.missing == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, "disappeared while it ran")
			assert.ErrorContains(t, err, tc.missing)
		})
	}
}
