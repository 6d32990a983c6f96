package pitr

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

type entry struct {
	name     string
	typ      byte
	body     string
	linkname string
}

// stored puts a zstd tar of entries in a local store and returns the object as a manifest
// records it.
func stored(t *testing.T, entries []entry) (Source, *format.Object) {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o600, Linkname: e.linkname, ModTime: time.Unix(0, 0)}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		require.NoError(t, tw.WriteHeader(h))
		if e.typ == tar.TypeReg {
			_, err := tw.Write([]byte(e.body))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	var zb bytes.Buffer
	zw, err := zstd.NewWriter(&zb)
	require.NoError(t, err)
	_, err = zw.Write(tb.Bytes())
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	st, err := local.New(t.TempDir())
	require.NoError(t, err)
	key := format.BackupDir("20261206T000000Z-0001") + "base.tar.zst"
	_, err = st.Put(context.Background(), key, bytes.NewReader(zb.Bytes()))
	require.NoError(t, err)
	sum := sha256.Sum256(zb.Bytes())
	return Source{Store: st}, &format.Object{Key: key, Size: int64(zb.Len()), SHA256: hex.EncodeToString(sum[:])}
}

// TestUnpackTrustsNothingTheStorageSays: a base backup tar comes from the backup storage, so
// it may name paths outside the data folder, hold links or devices, or differ from what the
// signed manifest recorded. Each is refused, and nothing is written outside the data folder.
func TestUnpackTrustsNothingTheStorageSays(t *testing.T) {
	good := []entry{{name: "global/", typ: tar.TypeDir}, {name: "global/pg_control", typ: tar.TypeReg, body: "control"}, {name: "PG_VERSION", typ: tar.TypeReg, body: "15\n"}}
	cases := []struct {
		name    string
		entries []entry
		tamper  func(o *format.Object)
		wantErr string
	}{
		{name: "a pg_basebackup tar", entries: good},
		{name: "a parent path", entries: append(good, entry{name: "../escaped", typ: tar.TypeReg, body: "x"}), wantErr: "outside the data folder"},
		{name: "an absolute path", entries: []entry{{name: "/tmp/escaped", typ: tar.TypeReg, body: "x"}}, wantErr: "outside the data folder"},
		{name: "a symbolic link", entries: append(good, entry{name: "pg_wal", typ: tar.TypeSymlink, linkname: "/etc"}), wantErr: "only folders and files are restored"},
		{name: "a hard link", entries: append(good, entry{name: "passwd", typ: tar.TypeLink, linkname: "/etc/passwd"}), wantErr: "only folders and files are restored"},
		{name: "a device", entries: append(good, entry{name: "null", typ: tar.TypeChar}), wantErr: "only folders and files are restored"},
		{name: "a file twice", entries: append(good, entry{name: "PG_VERSION", typ: tar.TypeReg, body: "16\n"}), wantErr: "file exists"},
		{name: "not the recorded object", entries: good, tamper: func(o *format.Object) { o.SHA256 = strings.Repeat("0", 64) }, wantErr: "is not what the backup recorded"},
		{name: "not the recorded size", entries: good, tamper: func(o *format.Object) { o.Size++ }, wantErr: "is not what the backup recorded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, obj := stored(t, c.entries)
			if c.tamper != nil {
				c.tamper(obj)
			}
			parent := t.TempDir()
			dir := filepath.Join(parent, "pgdata")
			require.NoError(t, os.Mkdir(dir, 0o700))
			n, err := unpack(context.Background(), src, obj, dir)
			if c.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, 2, n)
				b, err := os.ReadFile(filepath.Join(dir, "global", "pg_control"))
				require.NoError(t, err)
				assert.Equal(t, "control", string(b))
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.wantErr)
			assert.NoFileExists(t, filepath.Join(parent, "escaped"))
			assert.NoFileExists(t, "/tmp/escaped")
			assert.NoFileExists(t, filepath.Join(dir, "pg_wal"))
		})
	}
}

func TestEmptyDir(t *testing.T) {
	parent := t.TempDir()
	err := emptyDir("relative/pgdata")
	require.ErrorIs(t, err, ErrRefused)
	assert.Contains(t, err.Error(), "absolute path")

	fresh := filepath.Join(parent, "new", "pgdata")
	require.NoError(t, emptyDir(fresh))
	fi, err := os.Stat(fresh)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "PostgreSQL refuses a data folder others may read")

	require.NoError(t, os.WriteFile(filepath.Join(fresh, "PG_VERSION"), []byte("15\n"), 0o600))
	err = emptyDir(fresh)
	require.ErrorIs(t, err, ErrRefused)
	assert.Contains(t, err.Error(), "is not empty")
}

// TestRecoverySettings: what Restore appends to postgresql.auto.conf, and that the quoting
// survives a path with a quote through both PostgreSQL's config parser (doubled quotes) and
// /bin/sh (restore_command runs through it).
func TestRecoverySettings(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "postgresql.auto.conf"), []byte("# Do not edit this file manually!\nwork_mem = '8MB'\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "standby.signal"), nil, 0o600))
	target := Target{Time: time.Date(2026, 12, 5, 9, 12, 30, 0, time.FixedZone("CET", 3600))}
	odd := "/opt/it's here/drctl"
	cmd := ShellQuote(odd) + " wal-fetch %f %p"
	require.NoError(t, writeRecovery(dir, target, cmd))
	b, err := os.ReadFile(filepath.Join(dir, "postgresql.auto.conf"))
	require.NoError(t, err)
	conf := string(b)
	assert.True(t, strings.HasPrefix(conf, "# Do not edit this file manually!\nwork_mem = '8MB'\n"), "the source's settings are kept")
	for _, want := range []string{
		RecoveryMarker,
		`restore_command = '''/opt/it''\''''s here/drctl'' wal-fetch %f %p'`,
		`recovery_target_time = '2026-12-05 08:12:30+00'`,
		"recovery_target_inclusive = on",
		"recovery_target_timeline = 'latest'",
		"recovery_target_action = 'promote'",
		"primary_conninfo = ''",
		"archive_mode = off",
	} {
		assert.Contains(t, conf, want)
	}
	assert.FileExists(t, filepath.Join(dir, "recovery.signal"))
	assert.NoFileExists(t, filepath.Join(dir, "standby.signal"), "the restored cluster is not a standby")

	// /bin/sh gives the program the path back whole.
	out, err := exec.Command("/bin/sh", "-c", "printf %s "+ShellQuote(odd)).Output() //nolint:gosec // a fixed test string
	require.NoError(t, err)
	assert.Equal(t, odd, string(out))

	latest := t.TempDir()
	require.NoError(t, writeRecovery(latest, Target{Latest: true}, cmd))
	b, err = os.ReadFile(filepath.Join(latest, "postgresql.auto.conf"))
	require.NoError(t, err)
	assert.NotContains(t, string(b), "recovery_target_time =")
	named := t.TempDir()
	require.NoError(t, writeRecovery(named, Target{Name: "dr-drill-it's"}, cmd))
	b, err = os.ReadFile(filepath.Join(named, "postgresql.auto.conf"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "recovery_target_name = 'dr-drill-it''s'\n")
	assert.NotContains(t, string(b), "recovery_target_time =")
	assert.NotContains(t, string(b), "recovery_target_inclusive", "a restore point is not a time")
	assert.Contains(t, string(b), "recovery_target_action = 'promote'")
	assert.Equal(t, `restore point "dr-drill-it's"`, Target{Name: "dr-drill-it's"}.String())
	require.Error(t, writeRecovery(t.TempDir(), target, ""), "no recovery without a restore_command")
}
