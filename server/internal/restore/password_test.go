package restore

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The target's role needs a password, given only in PGPASSWORD (as drctl's help advises): every
// connection of the restore uses it, pg_restore's included.
func TestRestorePasswordFromPGPASSWORD(t *testing.T) {
	s := newSource(t, false)
	const password = "S3cret p@ss'word"
	n := dbSeq.Add(1)
	url, err := testPG.PasswordRole(context.Background(), fmt.Sprintf("pwuser_%d", n), password, fmt.Sprintf("restore_pw_%d", n))
	require.NoError(t, err)
	_, err = pgx.Connect(context.Background(), url)
	require.Error(t, err, "the role must need its password")

	t.Setenv("PGPASSWORD", password)
	o, out := s.options(t)
	o.DatabaseURL = url
	_, err = Run(context.Background(), o)
	require.NoError(t, err, out.String())
	assert.Equal(t, int64(5000), countPosts(t, url))
	assert.NotContains(t, out.String(), password)
	_, statErr := os.Stat(o.ConfigDir)
	require.NoError(t, statErr)
}
