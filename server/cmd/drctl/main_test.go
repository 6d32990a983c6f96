package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

var (
	testPG    *harness.Postgres
	pgMissing string
	dbSeq     atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(harness.RunWithPostgres(m, "drctl-test", func(pg *harness.Postgres, missing string) (func(), error) {
		testPG, pgMissing = pg, missing
		return nil, nil
	}))
}

func newDB(t *testing.T) string {
	t.Helper()
	if testPG == nil {
		harness.Unavailable(t, "PostgreSQL", pgMissing)
	}
	name := fmt.Sprintf("drctl_%d", dbSeq.Add(1))
	require.NoError(t, testPG.CreateDatabase(context.Background(), name))
	return testPG.URL(name)
}

// drctl runs the command line as main does and returns its exit status and output.
func drctl(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// destination holds, oldest first, a backup signed by key A, one signed by key B and an
// unsigned one (taken as before the plugin signed its backups).
type destination struct {
	dir                        string
	a, b                       *format.SigningKey
	signedA, signedB, unsigned string
	keyFile                    string // A's public key, as an admin would save what `/dr version` shows
}

func newDestination(t *testing.T) *destination {
	t.Helper()
	src := newDB(t)
	conn, err := pgx.Connect(context.Background(), src)
	require.NoError(t, err)
	for _, q := range []string{`CREATE TABLE posts (id bigserial PRIMARY KEY, message text)`,
		`INSERT INTO posts (message) SELECT 'post ' || g FROM generate_series(1, 300) g`} {
		_, err := conn.Exec(context.Background(), q)
		require.NoError(t, err)
	}
	require.NoError(t, conn.Close(context.Background()))
	d := &destination{dir: t.TempDir()}
	st, err := local.New(d.dir)
	require.NoError(t, err)
	cfgDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(cfgDir, "saml.crt"), []byte("cert"), 0o600))
	o := backup.Options{
		Components:        format.Components{Database: true, Config: true},
		Database:          pgdump.Options{DataSource: src},
		Config:            testConfig{dir: cfgDir, effective: `{"SqlSettings":{"DataSource":"postgres://old/mm"}}`},
		MattermostVersion: "11.4.0",
		Destinations:      []backup.Destination{{Name: "local", Store: st}},
	}
	take := func(key *format.SigningKey) string {
		o.SigningKey = key
		ms, err := backup.Run(context.Background(), o)
		require.NoError(t, err)
		return ms["local"].ID
	}
	d.a, err = format.GenerateSigningKey()
	require.NoError(t, err)
	d.b, err = format.GenerateSigningKey()
	require.NoError(t, err)
	d.signedA, d.signedB, d.unsigned = take(d.a), take(d.b), take(nil)
	d.keyFile = filepath.Join(t.TempDir(), "dr.pub")
	require.NoError(t, os.WriteFile(d.keyFile, []byte(d.a.PublicKey().String()+"\n"), 0o600))
	return d
}

// testConfig is the config a test backup keeps: a fixed effective config and the files of a
// flat folder.
type testConfig struct {
	dir, effective string
}

func (c testConfig) Effective(context.Context) ([]byte, error) { return []byte(c.effective), nil }

func (c testConfig) Files(_ context.Context, fn func(name string, size int64, r io.Reader) error) error {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(c.dir, e.Name()))
		if err != nil {
			return err
		}
		if err := fn(e.Name(), int64(len(b)), bytes.NewReader(b)); err != nil {
			return err
		}
	}
	return nil
}

func (d *destination) restoreArgs(t *testing.T, extra ...string) (args []string, configDir string) {
	configDir = t.TempDir()
	return append([]string{"restore", "--from", d.dir, "--mattermost-version", "11.4.0", "--database-url", newDB(t), "--config-dir", configDir}, extra...), configDir
}

func TestDrctlTrust(t *testing.T) {
	d := newDestination(t)
	fa, fb := d.a.PublicKey().Fingerprint(), d.b.PublicKey().Fingerprint()

	t.Run("list shows each backup's signer", func(t *testing.T) {
		code, out, errOut := drctl("list", "--from", d.dir)
		require.Equal(t, 0, code, errOut)
		t.Log(out)
		lines := strings.Split(out, "\n")
		assert.Contains(t, lines[0], "SIGNER")
		assertLine(t, out, d.signedA, fa)
		assertLine(t, out, d.signedB, fb)
		assertLine(t, out, d.unsigned, "unsigned")
		assert.Contains(t, errOut, "add --allow-untrusted to restore it anyway")
		assert.NotContains(t, out, "--allow-untrusted", "notes go to stderr")

		code, out, errOut = drctl("list", "--from", d.dir, "--trust-key", d.a.PublicKey().String())
		require.Equal(t, 0, code, errOut)
		assertLine(t, out, d.signedA, fa+" (trusted)")
		assertLine(t, out, d.signedB, fb+" (NOT the --trust-key)")
	})
	t.Run("restore latest without --trust-key refuses, naming the signers and the unsigned backup", func(t *testing.T) {
		args, configDir := d.restoreArgs(t)
		code, out, errOut := drctl(args...)
		assert.Equal(t, 1, code, out)
		t.Log(errOut)
		for _, want := range []string{"--id latest refuses to choose", fa, fb, d.unsigned, "--trust-key", "`/dr version`"} {
			assert.Contains(t, errOut, want)
		}
		assert.NoFileExists(t, filepath.Join(configDir, "config.json"))
	})
	t.Run("restore with --trust-key restores the newest backup that key signed, saying so first", func(t *testing.T) {
		args, configDir := d.restoreArgs(t, "--trust-key", d.keyFile)
		code, out, errOut := drctl(args...)
		require.Equal(t, 0, code, errOut+out)
		trustAt := strings.Index(errOut, "trust: backup "+d.signedA+" is signed by "+fa+", the --trust-key")
		require.GreaterOrEqual(t, trustAt, 0, errOut)
		for _, change := range []string{"database: ", "config: "} {
			at := strings.Index(errOut, change)
			require.GreaterOrEqual(t, at, 0, errOut)
			assert.Less(t, trustAt, at, "the signer is printed before %q", change)
		}
		assert.True(t, strings.HasPrefix(out, "restored backup "+d.signedA+" in "), "stdout holds only the result:\n%s", out)
		assert.FileExists(t, filepath.Join(configDir, "config.json"))
	})
	t.Run("restore --id of an unsigned backup needs --allow-untrusted and says why", func(t *testing.T) {
		args, configDir := d.restoreArgs(t, "--id", d.unsigned)
		code, out, errOut := drctl(args...)
		assert.Equal(t, 1, code, out)
		assert.Contains(t, errOut, "backup "+d.unsigned+" is not trusted: it is not signed")
		assert.Contains(t, errOut, "add --allow-untrusted")
		assert.NoFileExists(t, filepath.Join(configDir, "config.json"))

		args, configDir = d.restoreArgs(t, "--id", d.unsigned, "--allow-untrusted")
		code, out, errOut = drctl(args...)
		require.Equal(t, 0, code, errOut+out)
		first, _, _ := strings.Cut(errOut, "\n")
		assert.Contains(t, first, "trust: backup "+d.unsigned+" is NOT trusted: it is not signed")
		assert.Contains(t, out, "restored backup "+d.unsigned)
		assert.FileExists(t, filepath.Join(configDir, "config.json"))
	})
	t.Run("usage errors", func(t *testing.T) {
		args, _ := d.restoreArgs(t, "--allow-untrusted")
		code, _, errOut := drctl(args...)
		assert.Equal(t, 2, code)
		assert.Contains(t, errOut, "--allow-untrusted needs --id")

		args, _ = d.restoreArgs(t, "--trust-key", "ssh-ed25519 not-a-key")
		code, _, errOut = drctl(args...)
		assert.Equal(t, 2, code)
		assert.Contains(t, errOut, "--trust-key")
	})
	t.Run("verify reports the signer; a drill of an untrusted backup needs --allow-untrusted", func(t *testing.T) {
		code, out, errOut := drctl("verify", "--from", d.dir)
		require.Equal(t, 0, code, errOut+out)
		assert.Contains(t, errOut, "verifying backup "+d.unsigned)
		assert.Contains(t, out, "backup "+d.unsigned)
		assert.Contains(t, out, "signer: unsigned: NOT trusted: it is not signed")

		code, out, errOut = drctl("verify", "--from", d.dir, "--trust-key", d.keyFile)
		require.Equal(t, 0, code, errOut+out)
		assert.Contains(t, errOut, "verifying backup "+d.signedA)
		assert.Contains(t, out, "backup "+d.signedA)
		assert.Contains(t, out, "signer: "+fa+" (the --trust-key)")

		drill := testPG.URL("postgres")
		code, out, errOut = drctl("verify", "--from", d.dir, "--id", d.unsigned, "--drill-database-url", drill)
		assert.Equal(t, 1, code, out)
		assert.Contains(t, errOut, "--drill-database-url restores the backup into a database")
		assert.Contains(t, errOut, "add --allow-untrusted")
		assert.NotContains(t, out, "verifying backup")

		code, _, errOut = drctl("verify", "--from", d.dir, "--drill-database-url", drill)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "--id latest refuses to choose")

		code, out, errOut = drctl("verify", "--from", d.dir, "--id", d.unsigned, "--drill-database-url", drill, "--allow-untrusted")
		require.Equal(t, 0, code, errOut+out)
		assert.Contains(t, out, "signer: unsigned: NOT trusted")
	})
}

// assertLine checks that the line of out naming id also holds want.
func assertLine(t *testing.T, out, id, want string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, id) {
			assert.Contains(t, line, want)
			return
		}
	}
	t.Errorf("no line for backup %s in:\n%s", id, out)
}
