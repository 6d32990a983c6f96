package failpoint

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestActive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fp")
	assert.False(t, Active(p, "a"), "no file, nothing active")
	require.NoError(t, os.WriteFile(p, []byte("sso.after-record\n  b  \n"), 0o600))
	assert.True(t, Active(p, "sso.after-record"))
	assert.True(t, Active(p, "b"))
	assert.False(t, Active(p, "sso.after"))
}

// The real thing: a child process that hits an active failpoint dies of SIGKILL.
func TestHitKillsTheProcess(t *testing.T) {
	if os.Getenv("FAILPOINT_CHILD") == "1" {
		Hit("boom")
		os.Exit(0)
	}
	p := filepath.Join(t.TempDir(), "fp")
	require.NoError(t, os.WriteFile(p, []byte("boom\n"), 0o600))
	cmd := exec.Command(os.Args[0], "-test.run=^TestHitKillsTheProcess$")
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", EnvVar+"="+p)
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, "signal: killed", exit.Error())

	require.NoError(t, os.WriteFile(p, []byte("other\n"), 0o600))
	cmd = exec.Command(os.Args[0], "-test.run=^TestHitKillsTheProcess$")
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", EnvVar+"="+p)
	assert.NoError(t, cmd.Run(), "inactive failpoints do nothing")
}
