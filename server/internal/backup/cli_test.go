package backup_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

// requireTool returns the path of a command-line program, skipping the test without it
// (failing under CI).
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	harness.Unavailable(t, name, "not installed: install the Debian package "+pkg)
	return ""
}

// TestStockTools: an operator without the plugin restores with the stock age and zstd
// programs: age -d, then zstd -d, gives an archive pg_restore accepts.
func TestStockTools(t *testing.T) {
	backuptest.RequirePG(t)
	ageBin := requireTool(t, "age", "age")
	zstdBin := requireTool(t, "zstd", "zstd")
	f := backuptest.NewFixture(t, 10)
	s := backuptest.LocalStore(t)
	o := f.Options(true)
	o.Destinations = []backup.Destination{{Name: "local", Store: s}}
	o.Components = format.Components{Database: true, Config: true}
	ms, err := backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	m := ms["local"]

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.txt")
	require.NoError(t, os.WriteFile(keyFile, []byte(f.Identity.String()+"\n"), 0o600))
	obj := filepath.Join(s.Root(), filepath.FromSlash(m.Object(format.ComponentDatabase).Key))
	zst := filepath.Join(dir, "database.dump.zst")
	dump := filepath.Join(dir, "database.dump")
	out, err := exec.Command(ageBin, "--decrypt", "-i", keyFile, "-o", zst, obj).CombinedOutput()
	require.NoError(t, err, "age: %s", out)
	out, err = exec.Command(zstdBin, "-d", "-q", zst, "-o", dump).CombinedOutput()
	require.NoError(t, err, "zstd: %s", out)
	list, err := exec.Command(backuptest.PgTool(t, "pg_restore"), "--list", dump).CombinedOutput()
	require.NoError(t, err, "pg_restore --list: %s", list)
	for _, entry := range []string{"TABLE DATA public fileinfo", "TABLE DATA public users", "TABLE DATA public posts"} {
		assert.Contains(t, string(list), entry)
	}

	// The config tar too: age, zstd, tar.
	cfg := filepath.Join(s.Root(), filepath.FromSlash(m.Object(format.ComponentConfig).Key))
	out, err = exec.Command("sh", "-c", `"$0" -d -i "$1" "$2" | "$3" -d -q | tar -tf -`, ageBin, keyFile, cfg, zstdBin).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, []string{"effective-config.json", "files/config.json", "files/saml-idp.crt", "files/saml.crt"}, strings.Fields(string(out)))
}
