package plugin

import (
	"strings"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/adminapi"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/slashcmd"
)

// Inventory lists every /dr command line (groups included, e.g. "/dr backup now") and every
// REST route, built from the same tree and router the running plugin uses. The end-to-end
// permission sweep walks it, so a command or route added later is covered without anyone
// remembering to add it to the test.
func Inventory() (commands []string, routes []adminapi.Route) {
	p := New()
	p.commands().Walk(func(path []string, _ *slashcmd.Command) {
		commands = append(commands, strings.TrimSpace("/"+Trigger+" "+strings.Join(path, " ")))
	})
	return commands, p.routes().Routes()
}
