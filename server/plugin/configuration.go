package plugin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/notify"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
)

// OnConfigurationChange loads and checks the settings. It never returns an error for a bad
// value: Mattermost would refuse to activate the plugin, and an admin in the middle of an
// incident needs /dr to keep working. Problems are logged and shown by /dr commands instead.
func (p *Plugin) OnConfigurationChange() error {
	cfg := settings.Default()
	if err := p.API.LoadPluginConfiguration(&cfg); err != nil {
		p.API.LogError("Cannot read the Disaster Recovery settings; using defaults", "error", err.Error())
		cfg = settings.Default()
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
	if p.jobs != nil { // activated: OnActivate writes it the first time
		go p.publishSettings("")
		p.kickHandover() // the settings may now say this node's region takes over a runbook
		go p.applyWALArchive()
	}
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

func (p *Plugin) config() (settings.Config, settings.Problems) {
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
		} else if w := p.notifier.Exposure(); w != "" {
			out = append(out, "ops channel: "+w)
		}
	}
	return out
}

// ConfigurationWillBeSaved rejects a save that would give this plugin invalid settings, with
// every problem and what to do, so that the admin sees it in the System Console instead of in
// the log. Saves that leave this plugin's settings as they are always pass, so an existing
// problem never blocks unrelated changes.
func (p *Plugin) ConfigurationWillBeSaved(newCfg *model.Config) (*model.Config, error) {
	next, ok := newCfg.PluginSettings.Plugins[ID]
	if !ok {
		return nil, nil
	}
	var stored map[string]any
	if u := p.API.GetUnsanitizedConfig(); u != nil {
		stored = u.PluginSettings.Plugins[ID]
	}
	// Compared unsanitized on both sides: the console sends the placeholder for secrets, the
	// server's own saves (enabling a plugin) send them in clear.
	next = withStoredSecrets(next, stored)
	if reflect.DeepEqual(stored, next) {
		return nil, nil
	}
	cfg, err := decodeSettings(next)
	if err != nil {
		return nil, settingsError("Disaster Recovery settings: " + err.Error())
	}
	if problems := cfg.Normalize().Validate(); len(problems) > 0 {
		return nil, settingsError("Disaster Recovery " + problems.Error())
	}
	return nil, nil
}

// withStoredSecrets puts the saved value back wherever the save carries model.FakeSetting. The
// System Console sends that placeholder for every secret setting the admin did not touch, and
// the server restores the saved value only after this hook: checked as it is, a saved drill URL
// would read "****" (not a postgres:// URL) and refuse every later save of the plugin's settings.
func withStoredSecrets(next, stored map[string]any) map[string]any {
	out := make(map[string]any, len(next))
	for k, v := range next {
		if v == model.FakeSetting {
			for sk, sv := range stored {
				if strings.EqualFold(sk, k) {
					v = sv
					break
				}
			}
		}
		out[k] = v
	}
	return out
}

// settingsError is how a refusal reaches the admin: only a *model.AppError crosses the plugin
// RPC as itself, and the server replaces its Message with the translation of its Id, which for
// an Id it does not know is the Id itself: so the Id carries the message.
func settingsError(msg string) *model.AppError {
	return model.NewAppError("ConfigurationWillBeSaved", msg, nil, msg, http.StatusBadRequest)
}

// decodeSettings reads the plugin's settings as Mattermost stores them (lower-case keys);
// JSON field matching is case-insensitive.
func decodeSettings(m map[string]any) (settings.Config, error) {
	cfg := settings.Default()
	b, err := json.Marshal(m)
	if err != nil {
		return cfg, err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("a setting has the wrong type: %w", err)
	}
	return cfg, nil
}
