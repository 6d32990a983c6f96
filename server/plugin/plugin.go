// Package plugin wires the Disaster Recovery services into Mattermost's plugin hooks: it is the
// command and API layer, and holds no feature logic of its own.
package plugin

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	mmplugin "github.com/mattermost/mattermost/server/public/plugin"
	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/mattermost/mattermost/server/public/pluginapi/cluster"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/adminapi"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/jobs"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/kvstate"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/notify"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/serverenv"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/slashcmd"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/ssofallback"
)

// ID is the plugin id, as in plugin.json.
const ID = "disaster-recovery"

// Version is set at build time from plugin.json (see the Makefile).
var Version = "0.0.0-dev"

// Trigger is the slash command.
const Trigger = "dr"

// Plugin implements Mattermost's plugin hooks.
type Plugin struct {
	mmplugin.MattermostPlugin

	client   *pluginapi.Client
	node     string
	notifier *notify.Notifier
	tree     *slashcmd.Tree
	router   *adminapi.Router
	trail    *audit.Trail
	auditor  *auditor
	jobs     *jobs.Runner

	serverOnce  sync.Once
	pgDumpCache pgDumpCheck
	serverEnv   *serverenv.Server
	serverErr   error

	sso        *ssofallback.Service
	ssoAdapter *ssofallback.Adapter
	expiryJob  *cluster.Job
	backupCron *cluster.Job
	status     statusService
	stopNodes  chan struct{}
	outside    outside
	publishMu  sync.Mutex // one DR settings document write at a time on this node
	handover   handover   // adopting a runbook drctl left (handover.go)
	walRun     walArchiveRun

	mu       sync.RWMutex
	cfg      settings.Config
	problems settings.Problems
	loaded   bool
}

// New returns an inactive plugin; Mattermost calls OnActivate.
func New() *Plugin { return &Plugin{} }

// OnActivate sets up the bot, the command tree and the API. A bad setting never stops
// activation: it is logged and shown by /dr commands, so an admin can still fix it from chat.
func (p *Plugin) OnActivate() error {
	p.client = pluginapi.NewClient(p.API, p.Driver)
	p.node = nodeName()

	botID, err := p.client.Bot.EnsureBot(&model.Bot{
		Username:    "dr-bot",
		DisplayName: "Disaster Recovery",
		Description: "Reports backups, restore drills, replication status and failovers.",
	}, pluginapi.ProfileImagePath(filepath.Join("assets", "bot-icon.png")))
	if err != nil {
		return fmt.Errorf("ensure bot dr-bot: %w", err)
	}

	p.notifier = notify.New(notify.Adapt(p.client), botID, notify.Target{}).WithLog(p.client.Log.Warn)
	p.applyConfig() // OnConfigurationChange ran before OnActivate, without the notifier
	p.startOutsideAlerts()
	p.trail = audit.New(&p.client.KV, p.node)
	p.auditor = newAuditor(p.trail, p.API)
	p.jobs = jobs.NewRunner()
	p.ssoAdapter = ssofallback.NewAdapter(p.API, p.client.Store.GetMasterDB, p.notifier.Direct)
	p.sso = ssofallback.New(p.ssoAdapter, &p.client.KV, p.auditor, 8).WithKeyLister(p.ssoAdapter.KeysWithPrefix(ID))

	p.tree = p.commands()
	if err := p.client.SlashCommand.Register(&model.Command{
		Trigger:          Trigger,
		DisplayName:      "Disaster Recovery",
		Description:      "Backups, restore drills, replication status, failover and SSO outage fallback.",
		AutoComplete:     true,
		AutoCompleteDesc: "Disaster recovery: backups, status, failover, SSO fallback (system admins only)",
		AutoCompleteHint: "[command]",
		AutocompleteData: p.tree.Autocomplete(),
	}); err != nil {
		return fmt.Errorf("register /%s: %w", Trigger, err)
	}
	p.router = p.routes()

	// Once a minute across the cluster: remind about expired SSO fallbacks.
	if p.expiryJob, err = kvstate.SSOExpiryJob.Schedule(p.API, cluster.MakeWaitForInterval(time.Minute), p.checkSSOExpiry); err != nil {
		return fmt.Errorf("schedule the SSO fallback expiry check: %w", err)
	}

	// Once a minute across the cluster: scheduled backups and the stale-backup alert.
	if p.backupCron, err = kvstate.BackupScheduleJob.Schedule(p.API, cluster.MakeWaitForInterval(time.Minute), p.backupTick); err != nil {
		return fmt.Errorf("schedule backups: %w", err)
	}
	p.firstSeen(time.Now())
	go p.applyWALArchive()
	p.stopNodes = make(chan struct{})
	go p.nodeReporter(p.stopNodes)

	go p.announceInstall()
	go p.publishSettings("")
	p.kickHandover()
	return nil
}

// OnDeactivate stops background work; jobs cancelled here are resumable by running their
// command again.
func (p *Plugin) OnDeactivate() error {
	p.stopHandover()
	if p.stopNodes != nil {
		close(p.stopNodes)
		p.stopNodes = nil
	}
	for _, j := range []*cluster.Job{p.expiryJob, p.backupCron} {
		if j != nil {
			_ = j.Close()
		}
	}
	if p.jobs != nil {
		p.jobs.Shutdown(10 * time.Second)
	}
	p.walRun.mu.Lock()
	p.walRun.closed = true
	stopWALArchive(&p.walRun) // stores what pg_receivewal received before it stopped
	p.walRun.mu.Unlock()
	if p.ssoAdapter != nil {
		p.ssoAdapter.Release()
	}
	p.stopOutsideAlerts()
	return nil
}

// state is the plugin's KV store, for the typed keys of kvstate.
func (p *Plugin) state() kvstate.KV { return &p.client.KV }

// announceInstall posts to the ops channel once per installed version, so admins see that the
// plugin runs and where the bot will report, without a post on every restart of every node.
func (p *Plugin) announceInstall() {
	seen, err := kvstate.AnnouncedVersion.Load(p.state())
	if err != nil {
		p.client.Log.Warn("Read announced version", "error", err.Error())
		return
	}
	if seen.Value == Version {
		return
	}
	// Claim the announcement atomically: several nodes activate at once in a cluster.
	ok, err := kvstate.AnnouncedVersion.CompareAndSet(p.state(), seen, Version)
	if err != nil || !ok {
		return
	}
	msg := fmt.Sprintf("Disaster Recovery %s is active (server %s, node `%s`). Type `/dr help` for the commands; only system admins can use them.",
		Version, p.API.GetServerVersion(), p.node)
	if err := p.notifier.Ops(msg); err != nil {
		p.client.Log.Warn("Cannot post to the ops channel", "error", err.Error())
	}
}

// ServeHTTP serves /plugins/disaster-recovery/api/v1/...; every route is for system admins.
func (p *Plugin) ServeHTTP(_ *mmplugin.Context, w http.ResponseWriter, r *http.Request) {
	if p.router == nil {
		adminapi.WriteError(w, http.StatusServiceUnavailable, "the plugin is starting; try again in a few seconds")
		return
	}
	p.router.ServeHTTP(w, r)
}

// IsSystemAdmin implements adminapi.Authorizer.
func (p *Plugin) IsSystemAdmin(userID string) bool {
	return userID != "" && p.API.HasPermissionTo(userID, model.PermissionManageSystem)
}

func nodeName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown-" + runtime.GOOS
	}
	return h
}
