package plugin

import (
	"fmt"
	"strings"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/config"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/notify"
)

// OnConfigurationChange loads and checks the settings. It never returns an error for a bad
// value: Mattermost would refuse to activate the plugin, and an admin in the middle of an
// incident needs /dr to keep working. Problems are logged and shown by /dr commands instead.
func (p *Plugin) OnConfigurationChange() error {
	cfg := config.Default()
	if err := p.API.LoadPluginConfiguration(&cfg); err != nil {
		p.API.LogError("Cannot read the Disaster Recovery settings; using defaults", "error", err.Error())
		cfg = config.Default()
	}
	cfg = cfg.Normalize()
	problems := cfg.Validate()
	for _, pr := range problems {
		p.API.LogError("Disaster Recovery setting is invalid", "setting", pr.Setting, "problem", pr.Message)
	}
	p.mu.Lock()
	old, loaded := p.cfg, p.loaded
	p.cfg, p.problems, p.loaded = cfg, problems, true
	p.mu.Unlock()
	p.applyConfig()
	if changed := old.Changed(cfg); loaded && len(changed) > 0 && p.auditor != nil {
		outcome := audit.OutcomeSucceeded
		if len(problems) > 0 {
			outcome = audit.OutcomeFailed
		}
		_, _ = p.auditor.Append(audit.Entry{ActorID: audit.ActorSystem, Actor: audit.ActorSystem, Action: "settings.change", Target: strings.Join(changed, ","), Outcome: outcome, Reason: problems.ErrorOrEmpty()})
	}
	return nil
}

// applyConfig pushes the current settings into the services that were already created.
func (p *Plugin) applyConfig() {
	cfg, _ := p.config()
	if p.notifier != nil {
		p.notifier.SetTarget(notify.Target{TeamName: cfg.OpsTeamName, ChannelName: cfg.OpsChannelName, Create: cfg.CreateOpsChannel})
	}
}

func (p *Plugin) config() (config.Config, config.Problems) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.cfg, p.problems
}

// configProblems lists every current problem with the settings and the ops channel.
func (p *Plugin) configProblems() []string {
	_, problems := p.config()
	var out []string
	for _, pr := range problems {
		out = append(out, pr.String())
	}
	if p.notifier != nil {
		if err := p.notifier.Problem(); err != nil {
			out = append(out, fmt.Sprintf("ops channel: %v", err))
		}
	}
	return out
}
