// Package failpoint lets the end-to-end tests kill the plugin process (as kill -9 would) at a
// named step, to prove that every multi-step change can be resumed after a crash.
//
// It is inert unless the environment variable DR_FAILPOINTS names a file; the test harness
// sets it on the Mattermost server it starts, and plugin processes inherit it. The file holds
// the names of the active failpoints, one per line; tests write and remove it while the
// plugin runs. In production the variable is unset and Hit returns at once.
package failpoint

import (
	"bufio"
	"os"
	"strings"
	"syscall"
)

// EnvVar names the file of active failpoints.
const EnvVar = "DR_FAILPOINTS"

var file = os.Getenv(EnvVar)

// Hit kills this process with SIGKILL if the failpoint name is active.
func Hit(name string) {
	if file == "" || !Active(file, name) {
		return
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // never continue past a failpoint, even for the instant before the signal lands
}

// Active reports whether name is listed in the failpoints file at path.
func Active(path, name string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == name {
			return true
		}
	}
	return false
}
