package verify_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/verify"
)

// verifiedBackup takes a backup of a new fixture to a new local folder.
func verifiedBackup(t *testing.T, encrypted bool, nfiles int) (*backuptest.Fixture, *local.Store, *format.Manifest) {
	t.Helper()
	f := backuptest.NewFixture(t, nfiles)
	s, m := f.Backup(t, encrypted)
	return f, s, m
}

func checkNames(v *format.Verification) map[string]string {
	out := map[string]string{}
	for _, c := range v.Checks {
		out[c.Name] = c.Outcome
	}
	return out
}

func TestVerifyWithDrill(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "encrypted"}[encrypted], func(t *testing.T) {
			f, s, m := verifiedBackup(t, encrypted, 60)
			var progress []verify.Progress
			v, err := verify.Verify(backuptest.Ctx(t), s, m.ID, verify.Options{
				Identities: f.Identities(encrypted), PgRestore: backuptest.PgTool(t, "pg_restore"),
				Drill:    &verify.Drill{AdminURL: backuptest.RequirePG(t).URL("postgres")},
				Progress: func(p verify.Progress) { progress = append(progress, p) },
			})
			require.NoError(t, err)
			assert.Equal(t, format.OutcomePassed, v.Outcome, "%+v", v.Checks)
			assert.True(t, v.ContentsChecked)
			assert.Empty(t, v.Problems)
			names := checkNames(v)
			for _, want := range []string{"manifest", "object " + m.Object(format.ComponentDatabase).Key, "object " + m.Object(format.ComponentFilesIndex).Key,
				"object " + m.Object(format.ComponentReferenced).Key, "object " + m.Object(format.ComponentConfig).Key, "file pool", "restore drill"} {
				assert.Equal(t, format.OutcomePassed, names[want], want)
			}
			assert.Positive(t, v.DrillRestoreMS)
			assert.Positive(t, v.BytesRead)
			assert.Contains(t, v.Summary(), "passed")

			// The drill database is gone.
			conn, err := pgx.Connect(backuptest.Ctx(t), backuptest.RequirePG(t).URL("postgres"))
			require.NoError(t, err)
			defer conn.Close(context.Background())
			var n int
			require.NoError(t, conn.QueryRow(backuptest.Ctx(t), "SELECT count(*) FROM pg_database WHERE datname = $1", verify.DrillDatabaseName(m.ID)).Scan(&n))
			assert.Zero(t, n, "the drill database is dropped")

			require.NoError(t, format.WriteVerification(backuptest.Ctx(t), s, v))
			read, err := format.ReadVerification(backuptest.Ctx(t), s, m.ID)
			require.NoError(t, err)
			assert.Equal(t, v.Outcome, read.Outcome)
			assert.Len(t, read.Checks, len(v.Checks))
			// The sidecar is not part of the backup: listing and manifests are unchanged.
			_, err = format.ReadManifest(backuptest.Ctx(t), s, m.ID)
			require.NoError(t, err)
		})
	}
}

func TestVerifyEncryptedWithoutIdentity(t *testing.T) {
	f, s, m := verifiedBackup(t, true, 30)
	v, err := verify.Verify(backuptest.Ctx(t), s, m.ID, verify.Options{IndexIdentities: []age.Identity{f.IndexID}, PgRestore: backuptest.PgTool(t, "pg_restore"),
		Drill: &verify.Drill{AdminURL: backuptest.RequirePG(t).URL("postgres")}})
	require.NoError(t, err)
	assert.Equal(t, format.OutcomePartial, v.Outcome)
	assert.False(t, v.ContentsChecked)
	names := checkNames(v)
	// Without the backup's identity, the index and the referenced list are still read with the
	// plugin's index key, so the reference check runs; the dump cannot be restored.
	assert.Equal(t, format.OutcomePassed, names["object "+m.Object(format.ComponentReferenced).Key])
	assert.Equal(t, format.OutcomeSkipped, names["restore drill"])
	assert.Contains(t, v.Summary(), "contents not checked")

	// A wrong identity is refused before anything is read.
	other, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	_, err = verify.Verify(backuptest.Ctx(t), s, m.ID, verify.Options{Identities: []age.Identity{other}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not decrypt backup "+m.ID)
	assert.NotContains(t, err.Error(), other.String())
}

// TestVerifyDetectsDamage flips one byte in each kind of stored object in turn, deletes
// objects, and damages the manifest: verify fails and names the object each time.
func TestVerifyDetectsDamage(t *testing.T) {
	f, s, m := verifiedBackup(t, false, 40)
	opts := verify.Options{PgRestore: backuptest.PgTool(t, "pg_restore")}
	v, err := verify.Verify(backuptest.Ctx(t), s, m.ID, opts)
	require.NoError(t, err)
	require.Equal(t, format.OutcomePassed, v.Outcome)
	_ = f

	pool := backuptest.Keys(t, s, format.PoolPrefix)
	require.NotEmpty(t, pool)
	kinds := map[string]string{
		"database":   m.Object(format.ComponentDatabase).Key,
		"referenced": m.Object(format.ComponentReferenced).Key,
		"config":     m.Object(format.ComponentConfig).Key,
		"files":      m.Object(format.ComponentFilesIndex).Key,
		"pool":       pool[len(pool)/2],
	}
	for kind, key := range kinds {
		t.Run("flip "+kind, func(t *testing.T) {
			path := filepath.Join(s.Root(), filepath.FromSlash(key))
			undo := flipByte(t, path)
			defer undo()
			v, err := verify.Verify(backuptest.Ctx(t), s, m.ID, opts)
			require.Error(t, err)
			assert.True(t, errors.Is(err, verify.ErrVerificationFailed), "%v", err)
			require.NotNil(t, v)
			assert.Equal(t, format.OutcomeFailed, v.Outcome)
			assert.Contains(t, strings.Join(v.Problems, "\n"), key)
			assert.Contains(t, err.Error(), key)
		})
		t.Run("delete "+kind, func(t *testing.T) {
			path := filepath.Join(s.Root(), filepath.FromSlash(key))
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.Remove(path))
			defer func() { require.NoError(t, os.WriteFile(path, b, 0o600)) }()
			v, err := verify.Verify(backuptest.Ctx(t), s, m.ID, opts)
			require.ErrorIs(t, err, verify.ErrVerificationFailed)
			assert.Contains(t, strings.Join(v.Problems, "\n"), key)
			assert.Contains(t, strings.Join(v.Problems, "\n"), "missing")
		})
	}

	manifestPath := filepath.Join(s.Root(), filepath.FromSlash(format.ManifestKey(m.ID)))
	orig, err := os.ReadFile(manifestPath)
	require.NoError(t, err)
	restore := func() { require.NoError(t, os.WriteFile(manifestPath, orig, 0o600)) }
	cases := []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }, "not valid JSON"},
		{"edited, still valid JSON", func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"plugin_version": "0.9.0-test"`, `"plugin_version": "0.9.1-test"`, 1))
		}, "checksum does not match"},
		{"empty", func([]byte) []byte { return nil }, "not valid JSON"},
	}
	for _, c := range cases {
		t.Run("manifest "+c.name, func(t *testing.T) {
			defer restore()
			edited := c.edit(append([]byte(nil), orig...))
			require.NotEqual(t, orig, edited)
			require.NoError(t, os.WriteFile(manifestPath, edited, 0o600))
			_, err := verify.Verify(backuptest.Ctx(t), s, m.ID, opts)
			require.ErrorIs(t, err, verify.ErrVerificationFailed)
			assert.Contains(t, err.Error(), c.want)
			assert.Contains(t, err.Error(), "manifest")
		})
	}

	_, err = verify.Verify(backuptest.Ctx(t), s, "20200101T000000Z-0000", opts)
	require.ErrorIs(t, err, format.ErrNoBackup)

	// After all that, the untouched backup still verifies.
	v, err = verify.Verify(backuptest.Ctx(t), s, m.ID, opts)
	require.NoError(t, err)
	assert.Equal(t, format.OutcomePassed, v.Outcome)
}

// flipByte inverts one byte in the middle of a file and returns the undo.
func flipByte(t *testing.T, path string) func() {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotEmpty(t, b)
	c := append([]byte(nil), b...)
	c[len(c)/2] ^= 0xff
	require.NoError(t, os.WriteFile(path, c, 0o600))
	return func() { require.NoError(t, os.WriteFile(path, b, 0o600)) }
}

// TestDrillCannotChangeTheDatabaseRole: a dump carrying SQL that alters roles (run by a
// materialized view's refresh during pg_restore) is drilled with the URL of a role that has
// CREATEDB and CREATEROLE, as Mattermost's may. The drill restores as a role made for it, so
// the SQL cannot change the URL's role, and that role is gone afterwards. Before, pg_restore
// ran as the URL's role: ALTER ROLE CURRENT_USER changed it for good.
func TestDrillCannotChangeTheDatabaseRole(t *testing.T) {
	pg := backuptest.RequirePG(t)
	ctx := backuptest.Ctx(t)
	mmRole := backuptest.UniqueName("mm_role")
	su, err := pgx.Connect(ctx, pg.URL("postgres"))
	require.NoError(t, err)
	defer su.Close(context.Background())
	_, err = su.Exec(ctx, "CREATE ROLE "+mmRole+" LOGIN CREATEDB CREATEROLE")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = su.Exec(context.Background(), "DROP ROLE IF EXISTS "+mmRole) })

	f := backuptest.NewFixture(t, 3)
	src, err := pgx.Connect(ctx, f.DBURL)
	require.NoError(t, err)
	_, err = src.Exec(ctx, `CREATE FUNCTION public.evil() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  IF current_database() LIKE 'dr_drill%' THEN
    EXECUTE 'ALTER ROLE CURRENT_USER SET statement_timeout = 4242';
    BEGIN
      EXECUTE 'ALTER ROLE `+mmRole+` SET work_mem = ''4242kB''';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
  END IF;
  RETURN 1;
END $$`)
	require.NoError(t, err)
	_, err = src.Exec(ctx, `CREATE MATERIALIZED VIEW public.evil_mv AS SELECT public.evil() AS x`)
	require.NoError(t, err)
	src.Close(ctx)
	s, m := f.Backup(t, false)

	mmURL := fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", mmRole, pg.Port)
	v, err := verify.Verify(ctx, s, m.ID, verify.Options{PgRestore: backuptest.PgTool(t, "pg_restore"), Drill: &verify.Drill{AdminURL: mmURL}})
	require.NoError(t, err)
	assert.Equal(t, format.OutcomePassed, checkNames(v)["restore drill"], "%+v", v.Checks)

	var config []string
	require.NoError(t, su.QueryRow(ctx, "SELECT coalesce(rolconfig, '{}') FROM pg_roles WHERE rolname = $1", mmRole).Scan(&config))
	assert.Empty(t, config, "the dump's SQL changed the role the drill was given")
	var left int
	require.NoError(t, su.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'dr\\_drill\\_%'").Scan(&left))
	assert.Zero(t, left, "the drill role is dropped")

	// A role that cannot create roles is not used to restore, unless it is a dedicated one.
	noCreateRole := mmRole + "_nc"
	_, err = su.Exec(ctx, "CREATE ROLE "+noCreateRole+" LOGIN CREATEDB")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = su.Exec(context.Background(), "DROP ROLE IF EXISTS "+noCreateRole) })
	ncURL := fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", noCreateRole, pg.Port)
	_, err = verify.Verify(ctx, s, m.ID, verify.Options{PgRestore: backuptest.PgTool(t, "pg_restore"), Drill: &verify.Drill{AdminURL: ncURL}})
	assert.ErrorContains(t, err, "BackupDrillDatabaseURL")
	v, err = verify.Verify(ctx, s, m.ID, verify.Options{PgRestore: backuptest.PgTool(t, "pg_restore"), Drill: &verify.Drill{AdminURL: ncURL, DedicatedUser: true}})
	require.NoError(t, err)
	assert.Equal(t, format.OutcomePassed, checkNames(v)["restore drill"], "%+v", v.Checks)
}

// TestVerifyNeverDrillsAnUntrustedBackup: a backup not made by the caller is read and checked,
// but its dump is never restored.
func TestVerifyNeverDrillsAnUntrustedBackup(t *testing.T) {
	_, s, m := verifiedBackup(t, false, 3)
	key, err := format.GenerateSigningKey()
	require.NoError(t, err)
	v, err := verify.Verify(backuptest.Ctx(t), s, m.ID, verify.Options{PgRestore: backuptest.PgTool(t, "pg_restore"), Drill: &verify.Drill{AdminURL: backuptest.RequirePG(t).URL("postgres")},
		Trust: &format.Trust{Keys: []format.PublicKey{key.PublicKey()}}, Destination: "local"})
	require.NoError(t, err)
	var drill format.Check
	for _, c := range v.Checks {
		if c.Name == "restore drill" {
			drill = c
		}
	}
	assert.Equal(t, format.OutcomeSkipped, drill.Outcome)
	assert.Contains(t, drill.Detail, "not made by this server (not signed")
	assert.Zero(t, v.DrillRestoreMS)
}
