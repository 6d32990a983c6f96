package plugin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	mmplugin "github.com/mattermost/mattermost/server/public/plugin"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/adminapi"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/drsettings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/kvstate"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/backups"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/idp"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/nodes"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/slashcmd"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status/metrics"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status/probers"
)

const (
	nodeReportEvent = "dr-node-report"
	envRegion       = "DR_REGION"
)

// statusService holds the runner built for the current settings: probes are rebuilt when the
// settings change, and the runner's cache is shared by commands, REST and scrapes.
type statusService struct {
	mu     sync.Mutex
	key    string
	runner *status.Runner
}

// runner returns the status runner for cfg.
func (p *Plugin) statusRunner(cfg settings.Config) *status.Runner {
	b, _ := json.Marshal(cfg)
	key := string(b)
	// The identity provider probe exists only while Mattermost has SSO enabled: turning a
	// provider on or off there rebuilds the probes too, not only a change of these settings.
	if mm := p.API.GetConfig(); mm != nil {
		key += fmt.Sprint(idp.Enabled(mm))
	}
	p.status.mu.Lock()
	defer p.status.mu.Unlock()
	if p.status.runner == nil || p.status.key != key {
		p.status.runner = status.NewRunner(p.probers(cfg), status.WithPanicHandler(func(component, name string, v any, stack []byte) {
			p.API.LogError("Disaster Recovery probe panicked", "component", component, "probe", name, "panic", fmt.Sprint(v), "stack", string(stack))
		}))
		p.status.key = key
	}
	return p.status.runner
}

// probers lists the checks the settings call for: the same as `drctl status` builds from the
// DR settings document, plus what only Mattermost knows (node reports, the backup record, the
// SSO fallback advice) and the credentials the document leaves out.
func (p *Plugin) probers(cfg settings.Config) []status.Prober {
	src := p.documentSources(cfg)
	in := probers.Inputs{
		Document:    drsettings.Build(src),
		Credentials: p.credentials(cfg),
		NodeReports: p.nodeReports,
		Backups:     p.backupsInput,
		WALArchive:  p.walArchiveProber(cfg),
		PITRWindows: p.pitrWindowProbers(cfg),
		WrapIdentityProviders: func(pr status.Prober) status.Prober {
			return idpProber{Prober: pr, p: p}
		},
	}
	if src.Mattermost != nil {
		in.IdentityProviders = p.API.GetUnsanitizedConfig
	}
	return probers.Build(in)
}

// backupsInput reads what the backup and verify jobs recorded (no store access: fast).
func (p *Plugin) backupsInput(context.Context) (backups.Input, error) {
	in := backups.Input{Enabled: true}
	if t, ok, err := kvstate.LastSuccess.Get(p.state()); err == nil && ok {
		in.NewestSuccess = t
	}
	if t, ok, err := kvstate.LastVerified.Get(p.state()); err == nil && ok {
		in.NewestVerified = t
	}
	if info, _, err := kvstate.LastBackupInfo.Get(p.state()); err == nil {
		in.LocalOnly, in.UnencryptedSecrets = info.LocalOnly, info.UnencryptedSecrets
	}
	return in, nil
}

// nodeRegion is this node's region: DR_REGION in its environment, else the setting.
func nodeRegion(cfg settings.Config) string {
	if r := strings.TrimSpace(os.Getenv(envRegion)); r != "" {
		return r
	}
	return strings.TrimSpace(cfg.DRThisRegion)
}

// publishNodeReport writes this node's report to the KV store, where every node of either
// region (they share the database) can read it.
func (p *Plugin) publishNodeReport() {
	cfg, _ := p.config()
	mm := p.API.GetConfig()
	r := nodes.NodeReport{NodeID: p.node, Hostname: p.node, Region: nodeRegion(cfg), Version: p.API.GetServerVersion(), ReportedAt: time.Now().UTC()}
	if mm != nil {
		r.RunScheduler = mm.JobSettings.RunScheduler != nil && *mm.JobSettings.RunScheduler
		if mm.ClusterSettings.ClusterName != nil {
			r.ClusterName = *mm.ClusterSettings.ClusterName
		}
	}
	if err := kvstate.NodeReports.Key(p.node).Set(p.state(), r); err != nil {
		p.API.LogWarn("Disaster Recovery could not publish this node's report", "error", err.Error())
	}
}

// nodeReports reads every node's report.
func (p *Plugin) nodeReports(context.Context) ([]nodes.NodeReport, error) {
	keys, err := p.ssoAdapter.KeysWithPrefix(ID)(kvstate.NodeReports.Name)
	if err != nil {
		return nil, err
	}
	out := make([]nodes.NodeReport, 0, len(keys))
	for _, k := range keys {
		if r, _, err := kvstate.NodeReports.Key(kvstate.NodeReports.ID(k)).Get(p.state()); err == nil && r.NodeID != "" {
			out = append(out, r)
		}
	}
	return out, nil
}

// OnPluginClusterEvent answers another node asking every node to publish its report now.
func (p *Plugin) OnPluginClusterEvent(_ *mmplugin.Context, ev model.PluginClusterEvent) {
	if ev.Id == nodeReportEvent {
		p.publishNodeReport()
	}
}

// nodeReporter publishes this node's report every minute until stop is closed. In two regions
// it also looks for a runbook drctl left: one still running when this node started is adopted
// once it waits for the plugin, without a restart or a settings change.
func (p *Plugin) nodeReporter(stop <-chan struct{}) {
	p.publishNodeReport()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.publishNodeReport()
			if cfg, _ := p.config(); cfg.DRTopology == "two_regions" {
				p.kickHandover()
			}
		}
	}
}

// report runs the probes (cached briefly unless fresh).
func (p *Plugin) report(ctx context.Context, fresh bool) (status.Report, error) {
	cfg, _ := p.config()
	r := p.statusRunner(cfg)
	if fresh {
		// Ask the other nodes for fresh reports; they answer within the probes' time.
		_ = p.API.PublishPluginClusterEvent(model.PluginClusterEvent{Id: nodeReportEvent}, model.PluginClusterEventSendOptions{SendType: model.PluginClusterEventSendTypeReliable})
		p.publishNodeReport()
		return r.Fresh(ctx)
	}
	return r.Report(ctx)
}

func (p *Plugin) statusCommands(t *slashcmd.Tree) {
	t.Add(nil, &slashcmd.Command{
		Name: "status", Summary: "Are we ready to lose a region? The verdict and its reasons, then one table per component",
		Flags: []slashcmd.Flag{
			{Name: "verbose", Kind: slashcmd.Bool, Help: "show every component's table, healthy ones too"},
			{Name: "fresh", Kind: slashcmd.Bool, Help: "check again now instead of using results up to 15 s old"},
		},
		Run: func(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
			rep, err := p.report(ctx, inv.Bool("fresh"))
			if err != nil {
				return nil, err
			}
			text := status.Markdown(rep, status.MarkdownOptions{Verbose: inv.Bool("verbose")})
			const maxPost = 15000 // Mattermost's post limit is 16383 characters
			if len(text) > maxPost {
				text = text[:maxPost] + "\n\n… cut: the full report is at GET /plugins/" + ID + "/api/v1/status"
			}
			return &slashcmd.Response{Text: text}, nil
		},
	})
}

// events counts what this plugin process finished (backups, verifications, SSO switches,
// runbook steps, alerts) for /metrics. Per process, so per node; it restarts at 0 with the
// plugin, which Prometheus' rate and increase expect of counters.
var events = metrics.NewEvents()

// stepCounter counts the runbook's finished steps, then passes every event on.
type stepCounter struct{ next failover.Observer }

func (s stepCounter) Event(ev failover.Event) {
	if ev.Kind == failover.EventStepFinished && ev.Step != nil {
		events.FailoverStep(string(ev.Step.State))
	}
	s.next.Event(ev)
}

// extraMetrics are the plugin's own samples beside the probes': the counters, and the
// settings alert rules compare against, so that the rules hold no numbers of their own.
func (p *Plugin) extraMetrics() []probe.Metric {
	cfg, _ := p.config()
	out := append(events.Metrics(), settingGauges(cfg, time.Now())...)
	if recs, err := p.sso.List(); err == nil {
		out = append(out, probe.Metric{Name: "dr_sso_fallback_users", Help: "Users switched to email/password by the SSO outage fallback.", Type: "gauge", Value: float64(len(recs))})
	}
	if st, ok, err := kvstate.LastBackupStats.Get(p.state()); err == nil && ok {
		out = append(out,
			probe.Metric{Name: "dr_backup_last_size_bytes", Help: "Stored size of the newest successful backup.", Type: "gauge", Value: float64(st.SizeBytes)},
			probe.Metric{Name: "dr_backup_last_duration_seconds", Help: "Duration of the newest successful backup.", Type: "gauge", Value: st.DurationSeconds})
	}
	return out
}

// settingGauges are the thresholds an admin set, as gauges (help from the catalog).
func settingGauges(cfg settings.Config, now time.Time) []probe.Metric {
	interval := 0.0
	if sched, loc, err := cfg.Schedule(); err == nil && sched != nil {
		// The time between the next two runs: exact for the usual fixed-rate schedules.
		next := sched.Next(now.In(loc))
		interval = sched.Next(next).Sub(next).Seconds()
	}
	values := map[string]float64{
		"dr_backup_stale_after_seconds":       cfg.StaleAfter().Seconds(),
		"dr_backup_schedule_interval_seconds": interval,
		"dr_rpo_lag_budget_seconds":           cfg.RPOLagThreshold().Seconds(),
	}
	var out []probe.Metric
	for _, name := range slices.Sorted(maps.Keys(values)) {
		d, _ := metrics.Lookup(name)
		out = append(out, probe.Metric{Name: name, Type: d.Type, Help: d.Help, Value: values[name]})
	}
	return out
}

func (p *Plugin) statusRoutes(rt *adminapi.Router) {
	rt.Handle(http.MethodGet, "/status", func(w http.ResponseWriter, r *http.Request) {
		rep, err := p.report(r.Context(), r.URL.Query().Get("fresh") == "true")
		if err != nil {
			adminapi.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		adminapi.WriteJSON(w, http.StatusOK, rep)
	})
	rt.HandleWithToken(http.MethodGet, "/metrics", p.metricsToken, func(w http.ResponseWriter, r *http.Request) {
		rep, err := p.report(r.Context(), false)
		if err != nil {
			adminapi.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		reg, err := metrics.Registry(rep, p.extraMetrics()...)
		if err != nil {
			p.API.LogWarn("Disaster Recovery left out invalid metrics", "error", err.Error())
		}
		w.Header().Set("Content-Type", metrics.ContentType)
		if err := metrics.WriteText(w, reg); err != nil {
			p.API.LogWarn("Disaster Recovery could not write the metrics", "error", err.Error())
		}
	})
}

// metricsToken checks a scraper's bearer token in constant time; no token configured, no access.
func (p *Plugin) metricsToken(token string) bool {
	cfg, _ := p.config()
	want := cfg.DRMetricsToken
	return want != "" && token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1
}

// statusAlert runs once a minute on one node: it checks the status and posts verdict changes,
// debounced, with recovery messages.
func (p *Plugin) statusAlert(cfg settings.Config, now time.Time) {
	if !cfg.DRStatusAlerts {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := p.report(ctx, true)
	if err != nil {
		return
	}
	// An unreadable state starts again from "healthy" (the zero Value) and is overwritten.
	st, err := kvstate.AlertState.Load(p.state())
	if err != nil {
		return
	}
	deb := status.DefaultDebouncer()
	if deb.MinDuration = cfg.StatusAlertAfter(); deb.MinDuration == 0 {
		deb.MinChecks = 1
	}
	next, alert := deb.Observe(st.Value, rep.Verdict, now)
	// Atomic: if another node moved the state meanwhile, its update wins and this one is dropped.
	if ok, err := kvstate.AlertState.CompareAndSet(p.state(), st, next); err != nil || !ok {
		return
	}
	if alert != nil {
		text := status.AlertMarkdown(*alert, rep)
		if alert.To == probe.Critical {
			_ = p.opsCritical(text)
		} else {
			_ = p.notifier.Ops(text)
		}
		p.alertStatus(*alert, text)
	}
}
