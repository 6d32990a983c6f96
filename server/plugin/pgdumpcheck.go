package plugin

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
)

// pgDumpCheck remembers for a minute which pg_dump backups will run: /dr version and the
// dashboard (which polls) ask often, and each look runs every candidate's --version.
type pgDumpCheck struct {
	mu      sync.Mutex
	setting string
	at      time.Time
	found   string
	err     error
}

// pgDump says which pg_dump the next backup runs ("/usr/lib/postgresql/16/bin/pg_dump (16)"),
// or why none can run and what to do; in a container, the message says how to add one to the image.
func (p *Plugin) pgDump() (string, error) {
	cfg, _ := p.config()
	setting := strings.TrimSpace(cfg.BackupPgDumpPath)
	c := &p.pgDumpCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.setting != setting || time.Since(c.at) > time.Minute {
		path, major, err := pgdump.FindPgDump(setting)
		c.setting, c.at, c.found, c.err = setting, time.Now(), fmt.Sprintf("%s (%d)", path, major), err
		if err != nil {
			c.found = ""
		}
	}
	return c.found, c.err
}

// toolProblems are what /dr version and the dashboard list beside the settings' problems.
func (p *Plugin) toolProblems() []string {
	if _, err := p.pgDump(); err != nil {
		return []string{"database backups cannot run: " + err.Error()}
	}
	return nil
}
