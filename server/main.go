// Command plugin is the server side of the Disaster Recovery plugin; Mattermost starts it.
package main

import (
	mmplugin "github.com/mattermost/mattermost/server/public/plugin"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/plugin"
)

func main() {
	mmplugin.ClientMain(plugin.New())
}
