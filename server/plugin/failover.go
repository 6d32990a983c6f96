package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/adminapi"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/opensearchccr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failpoint"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/jobs"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/kvstate"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/nodes"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/slashcmd"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

const failoverJob = "failover"

var modes = []string{string(failover.Switchover), string(failover.Failover)}

func (p *Plugin) failoverCommands(t *slashcmd.Tree) {
	to := slashcmd.Flag{Name: "to", Kind: slashcmd.String, Required: true, Help: "the region to move to (the standby region)"}
	confirm := slashcmd.Flag{Name: "confirm", Kind: slashcmd.Bool, Help: "go ahead (without it, only the plan is shown)"}
	force := slashcmd.Flag{Name: "force", Kind: slashcmd.Bool, Help: "start although preflight checks fail (recorded)"}
	t.Add(nil, &slashcmd.Command{Name: "failover", Summary: "Guided failover to the other region: plan, start, status, confirm, resume, abort"})
	t.Add([]string{"failover"}, &slashcmd.Command{
		Name: "plan", Summary: "Run the preflight checks and show the ordered steps with what each will call; changes nothing",
		Flags: []slashcmd.Flag{to, {Name: "mode", Kind: slashcmd.Enum, Values: modes, Default: string(failover.Switchover),
			Help: "switchover (planned, no data loss) or failover (the region is down)"}},
		Run: p.runFailoverPlan,
	})
	t.Add([]string{"failover"}, &slashcmd.Command{
		Name: "start", Summary: "Run the failover in the background (needs --confirm); the bot posts each step and the result",
		Flags: []slashcmd.Flag{to, {Name: "mode", Kind: slashcmd.Enum, Values: modes, Required: true,
			Help: "switchover (planned, no data loss) or failover (the region is down: may lose the last writes)"}, confirm, force},
		Run: p.runFailoverStart,
	})
	t.Add([]string{"failover"}, &slashcmd.Command{Name: "status", Summary: "The runbook's steps: state, duration, detail, and what to do next", Run: p.runFailoverStatus})
	t.Add([]string{"failover"}, &slashcmd.Command{Name: "confirm", Summary: "Confirm the step that waits for you (the job scheduler, a manual promotion) and go on", Run: p.runFailoverConfirm})
	t.Add([]string{"failover"}, &slashcmd.Command{Name: "resume", Summary: "Go on after a failed step, a crash or a confirm; finished steps are not repeated", Run: p.runFailoverResume})
	t.Add([]string{"failover"}, &slashcmd.Command{Name: "abort", Summary: "Stop before the next step, and say what was done and how to undo it", Run: p.runFailoverAbort})
	t.Add(nil, &slashcmd.Command{
		Name: "failback", Summary: "Run the runbook back to the region the last failover left, deferred steps first (needs --confirm)",
		Flags: []slashcmd.Flag{{Name: "mode", Kind: slashcmd.Enum, Values: modes, Default: string(failover.Switchover),
			Help: "switchover (default: both regions are up) or failover"}, confirm, force},
		Run: p.runFailback,
	})
}

func (p *Plugin) runFailoverPlan(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	mode, err := failover.ParseMode(inv.String("mode"))
	if err != nil {
		return nil, err
	}
	plan, err := p.failoverService().Plan(ctx, failover.Request{Kind: failover.KindFailover, To: inv.String("to"), Mode: mode, Actor: p.failoverActor(inv.Caller.UserID)})
	if err != nil {
		return nil, err
	}
	return &slashcmd.Response{Text: failover.PlanMarkdown(plan, fmt.Sprintf("/dr failover start --to %s --mode %s", plan.Run.To, mode))}, nil
}

func (p *Plugin) runFailoverStart(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	mode, err := failover.ParseMode(inv.String("mode"))
	if err != nil {
		return nil, err
	}
	req := failover.Request{Kind: failover.KindFailover, To: inv.String("to"), Mode: mode, Force: inv.Bool("force"), Actor: p.failoverActor(inv.Caller.UserID)}
	return p.startOrPlan(ctx, req, inv.Bool("confirm"), fmt.Sprintf("/dr failover start --to %s --mode %s", req.To, mode))
}

func (p *Plugin) runFailback(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	mode, err := failover.ParseMode(inv.String("mode"))
	if err != nil {
		return nil, err
	}
	req := failover.Request{Kind: failover.KindFailback, Mode: mode, Force: inv.Bool("force"), Actor: p.failoverActor(inv.Caller.UserID)}
	return p.startOrPlan(ctx, req, inv.Bool("confirm"), "/dr failback --mode "+string(mode))
}

// startOrPlan shows the plan without --confirm, and starts the runbook with it.
func (p *Plugin) startOrPlan(ctx context.Context, req failover.Request, confirmed bool, how string) (*slashcmd.Response, error) {
	if !confirmed {
		plan, err := p.failoverService().Plan(ctx, req)
		if err != nil {
			return nil, err
		}
		if req.Force {
			how += " --force"
		}
		return &slashcmd.Response{Text: failover.PlanMarkdown(plan, how)}, nil
	}
	run, err := p.failoverService().Start(ctx, req)
	if err != nil {
		return nil, err
	}
	return &slashcmd.Response{Text: fmt.Sprintf("%s `%s` from %s to %s (%s) started. The bot posts each step to the ops channel; `/dr failover status` shows where it is, `/dr failover abort` stops it before its next step.",
		titleWord(run.Kind), run.ID, run.From, run.To, run.Mode)}, nil
}

func (p *Plugin) runFailoverStatus(ctx context.Context, _ *slashcmd.Invocation) (*slashcmd.Response, error) {
	svc := p.failoverService()
	run, err := svc.Current(ctx)
	if err != nil {
		return nil, err
	}
	if run == nil {
		return &slashcmd.Response{Text: "No failover was ever started. `/dr failover plan --to <region>` shows what one would do."}, nil
	}
	text := failover.StatusMarkdown(run, svc.Alive(ctx, run.ID), time.Now())
	if j := p.jobs.Running(failoverJob); j != nil && j.Progress() != "" {
		text += "\nNow: " + j.Progress()
	}
	return &slashcmd.Response{Text: text}, nil
}

func (p *Plugin) runFailoverConfirm(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	return p.failoverOpResponse(ctx, "confirm", inv.Caller.UserID)
}

func (p *Plugin) runFailoverResume(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	return p.failoverOpResponse(ctx, "resume", inv.Caller.UserID)
}

func (p *Plugin) runFailoverAbort(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	return p.failoverOpResponse(ctx, "abort", inv.Caller.UserID)
}

func (p *Plugin) failoverOpResponse(ctx context.Context, op, userID string) (*slashcmd.Response, error) {
	text, err := p.failoverOp(ctx, op, userID)
	if err != nil {
		return nil, err
	}
	return &slashcmd.Response{Text: text}, nil
}

// failoverOp confirms, resumes or aborts the current runbook as userID: the commands, the
// REST routes' callers and the buttons on the bot's posts all come here.
func (p *Plugin) failoverOp(ctx context.Context, op, userID string) (string, error) {
	svc, actor := p.failoverService(), p.failoverActor(userID)
	switch op {
	case "confirm":
		run, err := svc.Confirm(ctx, actor)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Confirmed \"%s\"; runbook `%s` goes on. `/dr failover status` shows where it is.", run.Current().Title, run.ID), nil
	case "resume":
		run, err := svc.Resume(ctx, actor)
		if err != nil {
			return "", err
		}
		step := "its end"
		if s := run.Current(); s != nil {
			step = "\"" + s.Title + "\""
		}
		return fmt.Sprintf("Runbook `%s` resumes at %s; finished steps are not run again. `/dr failover status` shows where it is.", run.ID, step), nil
	case "abort":
		run, err := svc.Abort(ctx, actor)
		if err != nil {
			return "", err
		}
		if run.State == failover.RunAborted {
			return failover.AbortMarkdown(run), nil
		}
		return fmt.Sprintf("Abort requested: runbook `%s` stops before its next step (the current one, \"%s\", finishes first); the bot then posts what was done and how to undo it.", run.ID, run.Current().Title), nil
	}
	return "", fmt.Errorf("unknown runbook operation %q: use confirm, resume or abort", op)
}

// failoverService wires the runbook service to this plugin: every capability, so it runs
// every step itself (and takes over the ones a runbook started by drctl left to it).
func (p *Plugin) failoverService() *failover.Service {
	return &failover.Service{
		Journal:      failover.NewKVJournal(&p.client.KV),
		Lock:         failoverLock{p},
		Config:       failoverConfig{p},
		Prober:       failoverProbes{p},
		Backups:      failoverProbes{p},
		Runner:       failoverRunner{p},
		Announcer:    failoverAnnouncer{p},
		Settings:     failoverSettings{p},
		Nodes:        failoverProbes{p},
		Audit:        p.auditor,
		Log:          p.API,
		Observer:     stepCounter{handoverMirror{p}},
		Node:         p.node,
		Process:      os.Getpid(),
		Hit:          failpoint.Hit,
		LockExpiry:   kvstate.FailoverLock.TTL,
		HeartbeatTTL: kvstate.FailoverAliveMark.TTL,
	}
}

// failoverActor is the admin acting, by user id.
func (p *Plugin) failoverActor(userID string) failover.Actor {
	a := p.actor(userID)
	return failover.Actor{ID: a.ID, Name: a.Username}
}

// failoverConfig reads the plugin's settings for the runbook.
type failoverConfig struct{ p *Plugin }

func (f failoverConfig) Setup(context.Context) (failover.Setup, error) {
	cfg, problems := f.p.config()
	if cfg.DRTopology != string(nodes.TwoRegions) {
		return failover.Setup{}, errors.New("a failover needs two regions: set the topology to two regions, and the primary and standby regions, under Regions and database replication in the plugin settings")
	}
	exposed := cfg.ExposedWorkingURLs()
	for _, pr := range problems {
		// The settings the runbook reads; a bad metrics token, or credentials that work but
		// show in clear, must not hold a failover.
		if strings.HasPrefix(pr.Setting, "DR") && pr.Setting != "DRMetricsToken" && !slices.Contains(exposed, pr.Setting) {
			return failover.Setup{}, fmt.Errorf("fix the settings first: %s", pr)
		}
	}
	return failover.Setup{Primary: cfg.DRPrimaryRegion, Standby: cfg.DRSecondaryRegion, BackupMaxAge: cfg.StaleAfter()}, nil
}

// Live resolves the settings by region for the steps.
func (f failoverConfig) Live(context.Context) (failover.Live, error) {
	cfg, _ := f.p.config()
	live := failover.Live{
		Regions: map[string]failover.RegionSettings{
			cfg.DRPrimaryRegion: {AuroraCluster: strings.TrimSpace(cfg.DRAuroraPrimaryCluster), OpenSearchURL: strings.TrimSpace(cfg.DROpenSearchPrimaryURL),
				OpenSearchAlias: strings.TrimSpace(cfg.DROpenSearchReverseLeaderAlias), DNSValues: settings.SplitList(cfg.DRRoute53PrimaryValue)},
			cfg.DRSecondaryRegion: {AuroraCluster: strings.TrimSpace(cfg.DRAuroraSecondaryCluster), OpenSearchURL: strings.TrimSpace(cfg.DROpenSearchSecondaryURL),
				OpenSearchAlias: strings.TrimSpace(cfg.DROpenSearchLeaderAlias), DNSValues: settings.SplitList(cfg.DRRoute53SecondaryValue)},
		},
		AuroraGlobalID: strings.TrimSpace(cfg.DRAuroraGlobalClusterID),
		AWS:            failover.AWSSettings{AccessKeyID: cfg.DRAWSAccessKeyID, SecretAccessKey: cfg.DRAWSSecretAccessKey, Endpoint: strings.TrimSpace(cfg.DRAWSEndpoint)},
		OpenSearch: failover.OpenSearchSettings{Username: cfg.DROpenSearchUsername, Password: cfg.DROpenSearchPassword,
			Indices: settings.SplitList(cfg.DROpenSearchIndices), LagThreshold: int64(cfg.DROpenSearchLagThreshold)},
		Postgres: failover.PostgresSettings{StandbyDSN: strings.TrimSpace(cfg.DRPostgresStandbyDataSource)},
		DNS: failover.DNSRecord{ZoneID: strings.TrimSpace(cfg.DRRoute53ZoneID), Name: strings.TrimSpace(cfg.DRRoute53RecordName),
			Type: strings.ToUpper(strings.TrimSpace(cfg.DRRoute53RecordType)), TTL: int64(cfg.DRRoute53RecordTTL)},
		AnnounceAll:          cfg.DRFailoverAnnounceAll,
		SchedulerInSecondary: cfg.DRSchedulerInSecondary,
		Poll:                 cfg.FailoverPollInterval(),
	}
	if roles := settings.SplitList(cfg.DROpenSearchRoles); len(roles) == 2 {
		live.OpenSearch.Roles = &opensearchccr.Roles{LeaderClusterRole: roles[0], FollowerClusterRole: roles[1]}
	}
	if mm := f.p.API.GetUnsanitizedConfig(); mm != nil {
		live.Postgres.PrimaryDSN = deref(mm.SqlSettings.DataSource)
		live.SiteURL = deref(mm.ServiceSettings.SiteURL)
	}
	return live, nil
}

// failoverProbes are the status probes, the node reports and the verification record.
type failoverProbes struct{ p *Plugin }

func (f failoverProbes) Check(ctx context.Context) (status.Report, error) {
	return f.p.report(ctx, true)
}

func (f failoverProbes) NewestVerified(context.Context) (time.Time, error) {
	t, _, err := kvstate.LastVerified.Get(f.p.state())
	return t, err
}

// Reports asks every node for its report now and reads them.
func (f failoverProbes) Reports(ctx context.Context) ([]nodes.NodeReport, error) {
	p := f.p
	_ = p.API.PublishPluginClusterEvent(model.PluginClusterEvent{Id: nodeReportEvent}, model.PluginClusterEventSendOptions{SendType: model.PluginClusterEventSendTypeReliable})
	p.publishNodeReport()
	// The other nodes answer within a moment.
	t := time.NewTimer(time.Second)
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	t.Stop()
	return p.nodeReports(ctx)
}

// failoverLock is the cluster-wide runbook lock (a pluginapi cluster mutex) and the mark of
// the node running the runbook, both in the KV store.
type failoverLock struct{ p *Plugin }

func (f failoverLock) Acquire(ctx context.Context, wait time.Duration) (func(), error) {
	mu, err := kvstate.FailoverLock.New(f.p.API)
	if err != nil {
		return nil, fmt.Errorf("runbook lock: %w", err)
	}
	lockCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := mu.LockWithContext(lockCtx); err != nil {
		return nil, failover.ErrLocked
	}
	return mu.Unlock, nil
}

func (f failoverLock) Beat(_ context.Context, hb failover.Heartbeat) error {
	return kvstate.FailoverAliveMark.Set(f.p.state(), kvstate.FailoverAlive{Run: hb.Run, Node: hb.Node, Process: hb.Process, At: hb.At})
}

func (f failoverLock) LastBeat(context.Context) (*failover.Heartbeat, error) {
	m, ok, err := kvstate.FailoverAliveMark.Get(f.p.state())
	if err != nil || !ok {
		return nil, err
	}
	return &failover.Heartbeat{Run: m.Run, Node: m.Node, Process: m.Process, At: m.At}, nil
}

func (f failoverLock) ClearBeat(context.Context) error {
	return kvstate.FailoverAliveMark.Delete(f.p.state())
}

// failoverRunner drives the runbook as this node's failover job.
type failoverRunner struct{ p *Plugin }

func (f failoverRunner) Go(actorID string, fn func(ctx context.Context, job failover.Job)) error {
	_, err := f.p.jobs.Start(failoverJob, actorID, func(ctx context.Context, j *jobs.Job) {
		fn(ctx, j)
		// After the runbook's summary: the buttons it needs if it stopped for a person.
		j.Report(func() { f.p.postFailoverControls(context.Background()) })
	})
	return err
}

func titleWord(k failover.Kind) string {
	return strings.ToUpper(string(k[:1])) + string(k[1:])
}

type failoverAnnouncer struct{ p *Plugin }

func (f failoverAnnouncer) Ops(message string) error { return f.p.opsAndAlertFailover(message) }

func (f failoverAnnouncer) Direct(userID, message string) error {
	return f.p.notifier.Direct(userID, message)
}

func (f failoverAnnouncer) Everyone(message string, done func(string) bool, mark func(string) error) (int, error) {
	c, bot := f.p.client, f.p.notifier.BotID()
	teams, err := c.Team.List()
	if err != nil {
		return 0, fmt.Errorf("list teams: %w", err)
	}
	n := 0
	for _, team := range teams {
		if done(team.Id) {
			n++
			continue
		}
		if _, err := c.Team.CreateMember(team.Id, bot); err != nil {
			return n, fmt.Errorf("add the bot to team %s: %w", team.Name, err)
		}
		ch, err := c.Channel.GetByName(team.Id, model.DefaultChannelName, false)
		if err != nil {
			return n, fmt.Errorf("find the Town Square of team %s: %w", team.Name, err)
		}
		if _, err := c.Channel.AddMember(ch.Id, bot); err != nil {
			return n, fmt.Errorf("add the bot to the Town Square of team %s: %w", team.Name, err)
		}
		if err := c.Post.CreatePost(&model.Post{UserId: bot, ChannelId: ch.Id, Message: message}); err != nil {
			return n, fmt.Errorf("post in the Town Square of team %s: %w", team.Name, err)
		}
		if err := mark(team.Id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// failoverSettings reads and swaps the plugin's region settings.
type failoverSettings struct{ p *Plugin }

func (f failoverSettings) PrimaryRegion() string {
	cfg, _ := f.p.config()
	return cfg.DRPrimaryRegion
}

// swappedSettings are the setting pairs that follow the region names (stored lower-case).
var swappedSettings = [][2]string{
	{"drprimaryregion", "drsecondaryregion"},
	{"drauroraprimarycluster", "draurorasecondarycluster"},
	{"dropensearchprimaryurl", "dropensearchsecondaryurl"},
	{"dropensearchreverseleaderalias", "dropensearchleaderalias"},
	{"drroute53primaryvalue", "drroute53secondaryvalue"},
	{"drs3primarybucket", "drs3secondarybucket"},
	{"drs3primaryendpoint", "drs3secondaryendpoint"},
}

func (f failoverSettings) MakePrimary(_ context.Context, region string) error {
	mm := f.p.API.GetUnsanitizedConfig()
	if mm == nil {
		return errors.New("the server's configuration is unavailable")
	}
	next := map[string]any{}
	for k, v := range mm.PluginSettings.Plugins[ID] {
		next[k] = v
	}
	str := func(k string) string {
		s, _ := next[k].(string)
		return s
	}
	switch {
	case strings.EqualFold(str("drprimaryregion"), region):
		return nil
	case !strings.EqualFold(str("drsecondaryregion"), region):
		return fmt.Errorf("%s is neither the primary (%s) nor the standby region (%s) in the settings", region, str("drprimaryregion"), str("drsecondaryregion"))
	}
	for _, pair := range swappedSettings {
		next[pair[0]], next[pair[1]] = next[pair[1]], next[pair[0]]
		for _, k := range pair {
			if next[k] == nil {
				next[k] = ""
			}
		}
	}
	return f.p.client.Configuration.SavePluginConfig(next)
}

// REST

type failoverStartBody struct {
	To      string `json:"to"`
	Mode    string `json:"mode"`
	Confirm bool   `json:"confirm"`
	Force   bool   `json:"force"`
}

func (p *Plugin) failoverRoutes(rt *adminapi.Router) {
	user := func(r *http.Request) string { return r.Header.Get("Mattermost-User-ID") }
	rt.Handle(http.MethodGet, "/failover", func(w http.ResponseWriter, r *http.Request) {
		svc := p.failoverService()
		run, err := svc.Current(r.Context())
		if err != nil {
			adminapi.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		running := run != nil && svc.Alive(r.Context(), run.ID)
		adminapi.WriteJSON(w, http.StatusOK, map[string]any{"run": run, "running": running, "job": jobInfo(p.jobs.Running(failoverJob))})
	})
	rt.Handle(http.MethodGet, "/failover/plan", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mode, err := failover.ParseMode(nonEmpty(q.Get("mode"), string(failover.Switchover)))
		if err != nil {
			adminapi.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		kind := failover.KindFailover
		if q.Get("kind") == string(failover.KindFailback) {
			kind = failover.KindFailback
		}
		plan, err := p.failoverService().Plan(r.Context(), failover.Request{Kind: kind, To: q.Get("to"), Mode: mode, Actor: p.failoverActor(user(r))})
		if err != nil {
			adminapi.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		adminapi.WriteJSON(w, http.StatusOK, plan)
	})
	start := func(kind failover.Kind) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var body failoverStartBody
			if err := adminapi.DecodeJSON(r, &body); err != nil {
				adminapi.WriteError(w, http.StatusBadRequest, err.Error())
				return
			}
			mode, err := failover.ParseMode(nonEmpty(body.Mode, map[failover.Kind]string{failover.KindFailback: string(failover.Switchover)}[kind]))
			if err != nil {
				adminapi.WriteError(w, http.StatusBadRequest, err.Error())
				return
			}
			if !body.Confirm {
				adminapi.WriteError(w, http.StatusBadRequest, `review GET /failover/plan first, then send "confirm": true`)
				return
			}
			run, err := p.failoverService().Start(r.Context(), failover.Request{Kind: kind, To: body.To, Mode: mode, Force: body.Force, Actor: p.failoverActor(user(r))})
			if err != nil {
				writeFailoverError(w, err)
				return
			}
			adminapi.WriteJSON(w, http.StatusAccepted, map[string]any{"run": run})
		}
	}
	rt.Handle(http.MethodPost, "/failover/start", start(failover.KindFailover))
	rt.Handle(http.MethodPost, "/failover/failback", start(failover.KindFailback))
	rt.Handle(http.MethodPost, "/failover/confirm", func(w http.ResponseWriter, r *http.Request) {
		if !p.failoverSeen(w, r) {
			return
		}
		run, err := p.failoverService().Confirm(r.Context(), p.failoverActor(user(r)))
		if err != nil {
			writeFailoverError(w, err)
			return
		}
		adminapi.WriteJSON(w, http.StatusAccepted, map[string]any{"run": run})
	})
	rt.Handle(http.MethodPost, "/failover/resume", func(w http.ResponseWriter, r *http.Request) {
		if !p.failoverSeen(w, r) {
			return
		}
		run, err := p.failoverService().Resume(r.Context(), p.failoverActor(user(r)))
		if err != nil {
			writeFailoverError(w, err)
			return
		}
		adminapi.WriteJSON(w, http.StatusAccepted, map[string]any{"run": run})
	})
	rt.Handle(http.MethodPost, "/failover/abort", func(w http.ResponseWriter, r *http.Request) {
		if !p.failoverSeen(w, r) {
			return
		}
		run, err := p.failoverService().Abort(r.Context(), p.failoverActor(user(r)))
		if err != nil {
			writeFailoverError(w, err)
			return
		}
		msg := failover.AbortMarkdown(run)
		if run.State != failover.RunAborted {
			msg = "abort requested: the runbook stops before its next step"
		}
		adminapi.WriteJSON(w, http.StatusOK, map[string]any{"run": run, "message": msg})
	})
}

// failoverSeenBody is what a client saw when its admin chose to confirm, resume or abort;
// both optional (an empty body is fine).
type failoverSeenBody struct {
	Run  string `json:"run"`
	Step string `json:"step"`
}

// failoverSeen refuses (409) a confirm, resume or abort meant for another runbook or step
// than the current one: two admins on the dashboard, or a page left open, must not confirm a
// step nobody looked at. It answers and returns false when the request must stop.
func (p *Plugin) failoverSeen(w http.ResponseWriter, r *http.Request) bool {
	var seen failoverSeenBody
	if err := adminapi.DecodeOptionalJSON(r, &seen); err != nil {
		adminapi.WriteError(w, http.StatusBadRequest, err.Error()+` (send {"run": "<id>", "step": "<name>"} or nothing)`)
		return false
	}
	if err := p.checkFailoverSeen(r.Context(), seen.Run, seen.Step); err != nil {
		writeFailoverError(w, err)
		return false
	}
	return true
}

// errFailoverMoved: the runbook or its step is not the one the admin saw.
var errFailoverMoved = errors.New("the runbook moved on")

// checkFailoverSeen says whether runID and step (each "" to skip) are still the current
// runbook and its current step.
func (p *Plugin) checkFailoverSeen(ctx context.Context, runID, step string) error {
	if runID == "" && step == "" {
		return nil
	}
	run, err := p.failoverService().Current(ctx)
	if err != nil {
		return err
	}
	if run == nil {
		return failover.ErrNoRun
	}
	if runID != "" && run.ID != runID {
		return fmt.Errorf("%w: you saw runbook `%s`, the current one is `%s`; look at it again (`/dr failover status`)", errFailoverMoved, runID, run.ID)
	}
	cur := ""
	if c := run.Current(); c != nil {
		cur = c.Name
	}
	if step != "" && cur != step {
		return fmt.Errorf("%w: you saw runbook `%s` at step %q, it is now at %q (%s); look at it again (`/dr failover status`)", errFailoverMoved, run.ID, step, cur, run.State)
	}
	return nil
}

func writeFailoverError(w http.ResponseWriter, err error) {
	var busy *jobs.BusyError
	switch {
	case errors.Is(err, failover.ErrNoRun):
		adminapi.WriteError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, failover.ErrActive), errors.Is(err, failover.ErrNotActive), errors.Is(err, failover.ErrNotWaiting), errors.Is(err, errFailoverMoved), errors.As(err, &busy):
		adminapi.WriteError(w, http.StatusConflict, err.Error())
	default:
		adminapi.WriteError(w, http.StatusBadRequest, err.Error())
	}
}
