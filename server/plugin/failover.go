package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/adminapi"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
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

// failoverRequest is what start and failback need.
type failoverRequest struct {
	Kind    failover.Kind
	To      string
	Mode    failover.Mode
	Force   bool
	ActorID string
}

func (p *Plugin) runFailoverPlan(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	mode, err := failover.ParseMode(inv.String("mode"))
	if err != nil {
		return nil, err
	}
	plan, err := p.failoverPlan(ctx, failoverRequest{Kind: failover.KindFailover, To: inv.String("to"), Mode: mode, ActorID: inv.Caller.UserID})
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
	req := failoverRequest{Kind: failover.KindFailover, To: inv.String("to"), Mode: mode, Force: inv.Bool("force"), ActorID: inv.Caller.UserID}
	return p.startOrPlan(ctx, req, inv.Bool("confirm"), fmt.Sprintf("/dr failover start --to %s --mode %s", req.To, mode))
}

func (p *Plugin) runFailback(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	mode, err := failover.ParseMode(inv.String("mode"))
	if err != nil {
		return nil, err
	}
	req := failoverRequest{Kind: failover.KindFailback, Mode: mode, Force: inv.Bool("force"), ActorID: inv.Caller.UserID}
	return p.startOrPlan(ctx, req, inv.Bool("confirm"), "/dr failback --mode "+string(mode))
}

// startOrPlan shows the plan without --confirm, and starts the runbook with it.
func (p *Plugin) startOrPlan(ctx context.Context, req failoverRequest, confirmed bool, how string) (*slashcmd.Response, error) {
	if !confirmed {
		plan, err := p.failoverPlan(ctx, req)
		if err != nil {
			return nil, err
		}
		if req.Force {
			how += " --force"
		}
		return &slashcmd.Response{Text: failover.PlanMarkdown(plan, how)}, nil
	}
	run, err := p.startRunbook(ctx, req)
	if err != nil {
		return nil, err
	}
	return &slashcmd.Response{Text: fmt.Sprintf("%s `%s` from %s to %s (%s) started. The bot posts each step to the ops channel; `/dr failover status` shows where it is, `/dr failover abort` stops it before its next step.",
		titleWord(run.Kind), run.ID, run.From, run.To, run.Mode)}, nil
}

func (p *Plugin) runFailoverStatus(ctx context.Context, _ *slashcmd.Invocation) (*slashcmd.Response, error) {
	run, err := p.failoverJournal().Load(ctx)
	if err != nil {
		return nil, err
	}
	if run == nil {
		return &slashcmd.Response{Text: "No failover was ever started. `/dr failover plan --to <region>` shows what one would do."}, nil
	}
	text := failover.StatusMarkdown(run, p.failoverAlive(run.ID), time.Now())
	if j := p.jobs.Running(failoverJob); j != nil && j.Progress() != "" {
		text += "\nNow: " + j.Progress()
	}
	return &slashcmd.Response{Text: text}, nil
}

func (p *Plugin) runFailoverConfirm(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	run, err := p.confirmRunbook(ctx, inv.Caller.UserID)
	if err != nil {
		return nil, err
	}
	return &slashcmd.Response{Text: fmt.Sprintf("Confirmed \"%s\"; runbook `%s` goes on. `/dr failover status` shows where it is.", run.Current().Title, run.ID)}, nil
}

func (p *Plugin) runFailoverResume(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	run, err := p.resumeRunbook(ctx, inv.Caller.UserID)
	if err != nil {
		return nil, err
	}
	step := "its end"
	if s := run.Current(); s != nil {
		step = "\"" + s.Title + "\""
	}
	return &slashcmd.Response{Text: fmt.Sprintf("Runbook `%s` resumes at %s; finished steps are not run again. `/dr failover status` shows where it is.", run.ID, step)}, nil
}

func (p *Plugin) runFailoverAbort(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	run, err := p.abortRunbook(ctx, inv.Caller.UserID)
	if err != nil {
		return nil, err
	}
	if run.State == failover.RunAborted {
		return &slashcmd.Response{Text: failover.AbortMarkdown(run)}, nil
	}
	return &slashcmd.Response{Text: fmt.Sprintf("Abort requested: runbook `%s` stops before its next step (the current one, \"%s\", finishes first); the bot then posts what was done and how to undo it.", run.ID, run.Current().Title)}, nil
}

// failoverJournal is the runbook's journal in the KV store.
func (p *Plugin) failoverJournal() *failover.KVJournal { return failover.NewKVJournal(&p.client.KV) }

// failoverEngine wires the runbook engine to this plugin.
func (p *Plugin) failoverEngine(actorID string) *failover.Engine {
	return &failover.Engine{
		Journal: p.failoverJournal(),
		Steps: failover.Steps(failover.Deps{
			Announce: failoverAnnouncer{p},
			Nodes:    p.freshNodeReports,
			Settings: failoverSettings{p},
			Check:    func(ctx context.Context) (status.Report, error) { return p.report(ctx, true) },
		}),
		Live: func(context.Context) (failover.Live, error) {
			cfg, _ := p.config()
			return p.failoverLive(cfg), nil
		},
		Observer: p.failoverObserver(actorID),
		Hit:      failpoint.Hit,
		Node:     p.node,
	}
}

// failoverLive resolves the settings by region for the steps.
func (p *Plugin) failoverLive(cfg settings.Config) failover.Live {
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
	if mm := p.API.GetUnsanitizedConfig(); mm != nil {
		live.Postgres.PrimaryDSN = deref(mm.SqlSettings.DataSource)
		live.SiteURL = deref(mm.ServiceSettings.SiteURL)
	}
	return live
}

// failoverPlan lays out the runbook req asks for and runs the preflight checks.
func (p *Plugin) failoverPlan(ctx context.Context, req failoverRequest) (failover.Plan, error) {
	cfg, problems := p.config()
	if cfg.DRTopology != string(nodes.TwoRegions) {
		return failover.Plan{}, errors.New("a failover needs two regions: set the topology to two regions, and the primary and standby regions, under Replication in the plugin settings")
	}
	for _, pr := range problems {
		// The settings the runbook reads; a bad metrics token must not hold a failover.
		if strings.HasPrefix(pr.Setting, "DR") && pr.Setting != "DRMetricsToken" {
			return failover.Plan{}, fmt.Errorf("fix the settings first: %s", pr)
		}
	}
	last, err := p.failoverJournal().Load(ctx)
	if err != nil {
		return failover.Plan{}, err
	}
	var from, to string
	// Steps the last runbook deferred (or carried and did not finish) run first in the next one,
	// whichever way it goes: they bring the old region's side up to date before it leads again.
	var carriedFrom *failover.Run
	if last != nil && last.State.Terminal() {
		carriedFrom = last
	}
	switch req.Kind {
	case failover.KindFailback:
		// A failback reverses the last runbook, completed or aborted half-way: every step
		// checks what is in place, so it undoes exactly what was done.
		switch {
		case last == nil:
			return failover.Plan{}, errors.New("no failover to fail back from: `/dr failover plan --to <region>` moves to the standby region")
		case !last.State.Terminal():
			return failover.Plan{}, fmt.Errorf("runbook `%s` is %s: resume it (`/dr failover resume`) or abort it (`/dr failover abort`) first", last.ID, last.State)
		case last.Kind == failover.KindFailback && last.State == failover.RunCompleted:
			return failover.Plan{}, fmt.Errorf("the last runbook (`%s`) was a completed failback to %s: there is nothing to fail back; `/dr failover plan --to %s` moves again", last.ID, last.To, cfg.DRSecondaryRegion)
		}
		from, to = last.To, last.From
	default:
		from, to = cfg.DRPrimaryRegion, cfg.DRSecondaryRegion
		switch {
		case strings.EqualFold(req.To, from):
			return failover.Plan{}, fmt.Errorf("%s is the primary region already (the standby is %s)", from, to)
		case !strings.EqualFold(req.To, to):
			return failover.Plan{}, fmt.Errorf("unknown region %q: the primary region is %s and the standby %s", req.To, from, to)
		}
	}
	plan := failover.Plan{}
	if last != nil && !last.State.Terminal() {
		plan.Notes = append(plan.Notes, fmt.Sprintf("Runbook `%s` is %s: a new one cannot start until it is resumed to its end or aborted.", last.ID, last.State))
	}
	live := p.failoverLive(cfg)
	run := failover.NewRun(req.Kind, req.Mode, from, to, req.ActorID, p.actor(req.ActorID).Username, carriedFrom, time.Now())
	p.failoverEngine(req.ActorID).Describe(live, run)
	plan.Run = run
	plan.Checks = p.preflight(ctx, cfg, live, run)
	plan.Blocked = failover.Blocked(plan.Checks)
	return plan, nil
}

// preflight runs the status probes and the failover's own checks.
func (p *Plugin) preflight(ctx context.Context, cfg settings.Config, live failover.Live, run *failover.Run) []failover.Check {
	o := failover.PreflightOptions{Mode: run.Mode, Waived: map[string]string{}}
	var extra []failover.Check
	carriesOpenSearch := false
	for _, s := range run.Steps {
		if s.DeferredFrom != "" && s.Kind == failover.KindOpenSearchFollow {
			carriesOpenSearch = true
			o.Waived["opensearch"] = fmt.Sprintf("the deferred step makes %s's OpenSearch follow %s before anything else moves", s.From, s.To)
		}
	}
	target := live.Regions[run.To]
	if live.AuroraGlobalID != "" && target.AuroraCluster == "" {
		extra = append(extra, failover.Check{Name: "Settings: the Aurora cluster of " + run.To, State: failover.CheckFail, Required: true,
			Detail: "not set", Fix: "set the standby region's Aurora cluster under Replication"})
	}
	if live.OpenSearchConfigured() {
		if target.OpenSearchURL == "" {
			extra = append(extra, failover.Check{Name: "Settings: the OpenSearch cluster of " + run.To, State: failover.CheckFail, Required: true,
				Detail: "not set", Fix: "set the OpenSearch URL of " + run.To + " under Replication"})
		}
		if live.Regions[run.From].OpenSearchAlias == "" {
			extra = append(extra, failover.Check{Name: "Settings: the OpenSearch connection from " + run.From + " to " + run.To, State: failover.CheckFail,
				Detail: "the name of " + run.From + "'s connection to " + run.To + "'s cluster is not set, so " + run.From + " cannot follow " + run.To + " afterwards",
				Fix:    "set DROpenSearchReverseLeaderAlias (or DROpenSearchLeaderAlias) for that direction"})
		}
		if target.OpenSearchURL != "" && !carriesOpenSearch {
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			extra = append(extra, failover.FollowerCheckpoints(cctx, live, run.To))
			cancel()
		}
	}
	maxAge := cfg.StaleAfter()
	if maxAge <= 0 {
		maxAge = 26 * time.Hour
	}
	extra = append(extra, failover.BackupCheck(p.newestVerified(), maxAge, time.Now()))
	rep, err := p.report(ctx, true)
	if err != nil {
		extra = append(extra, failover.Check{Name: "Status probes", State: failover.CheckFail, Detail: err.Error(), Fix: "see `/dr status`"})
	}
	return failover.Preflight(rep, o, extra...)
}

func (p *Plugin) newestVerified() time.Time {
	if t, ok, err := kvstate.LastVerified.Get(p.state()); err == nil && ok {
		return t
	}
	return time.Time{}
}

// startRunbook journals a new runbook and runs it in the background.
func (p *Plugin) startRunbook(ctx context.Context, req failoverRequest) (*failover.Run, error) {
	// One runbook at a time: say so before spending time on the preflight.
	if last, err := p.failoverJournal().Load(ctx); err != nil {
		return nil, err
	} else if last != nil && !last.State.Terminal() {
		return nil, fmt.Errorf("%w: runbook `%s` (%s to %s) is %s; resume it (`/dr failover resume`) or abort it (`/dr failover abort`) first", failover.ErrActive, last.ID, last.From, last.To, last.State)
	}
	plan, err := p.failoverPlan(ctx, req)
	if err != nil {
		return nil, err
	}
	if plan.Blocked && (!req.Force || failover.RequiredFailed(plan.Checks)) {
		var failing []string
		for _, c := range plan.Checks {
			if c.State == failover.CheckFail {
				failing = append(failing, fmt.Sprintf("- %s: %s", c.Name, c.Detail))
			}
		}
		hint := "fix them, or add --force to go ahead anyway (recorded)"
		if failover.RequiredFailed(plan.Checks) {
			hint = "fix them: --force cannot skip these"
		}
		return nil, fmt.Errorf("preflight checks fail, %s:\n%s", hint, strings.Join(failing, "\n"))
	}
	run := plan.Run
	run.Checks, run.Forced = plan.Checks, plan.Blocked
	a := p.actor(req.ActorID)
	eng := p.failoverEngine(req.ActorID)
	created, err := eng.Create(ctx, run)
	if err != nil {
		return nil, err
	}
	details := map[string]string{"kind": string(run.Kind), "mode": string(run.Mode), "from": run.From, "to": run.To}
	if run.Forced {
		details["forced"] = "true"
	}
	_, _ = p.auditor.Append(audit.Entry{ActorID: req.ActorID, Actor: a.Username, Action: "failover.start", Target: created.ID, Outcome: audit.OutcomeStarted, Details: details})
	if _, err := p.driveRunbook(created.ID, req.ActorID); err != nil {
		return nil, fmt.Errorf("runbook %s is journaled but could not start here: %w; `/dr failover resume` starts it", created.ID, err)
	}
	return created, nil
}

// confirmRunbook confirms the waiting step and goes on.
func (p *Plugin) confirmRunbook(ctx context.Context, actorID string) (*failover.Run, error) {
	a := p.actor(actorID)
	run, err := p.failoverEngine(actorID).Confirm(ctx, a.Username)
	if err != nil {
		return nil, err
	}
	_, _ = p.auditor.Append(audit.Entry{ActorID: actorID, Actor: a.Username, Action: "failover.confirm", Target: run.ID + "/" + run.Current().Name, Outcome: audit.OutcomeSucceeded})
	if _, err := p.driveRunbook(run.ID, actorID); err != nil {
		return nil, fmt.Errorf("confirmed, but the runbook could not go on here: %w; `/dr failover resume`", err)
	}
	return run, nil
}

// resumeRunbook goes on with a runbook that failed, waits, or was interrupted.
func (p *Plugin) resumeRunbook(ctx context.Context, actorID string) (*failover.Run, error) {
	run, err := p.failoverJournal().Load(ctx)
	switch {
	case err != nil:
		return nil, err
	case run == nil:
		return nil, failover.ErrNoRun
	case run.State.Terminal():
		return nil, fmt.Errorf("runbook `%s` is %s: there is nothing to resume", run.ID, run.State)
	case run.State == failover.RunRunning && p.failoverAlive(run.ID):
		return nil, fmt.Errorf("runbook `%s` is running (node `%s`): `/dr failover status` shows where it is", run.ID, run.Node)
	}
	a := p.actor(actorID)
	_, _ = p.auditor.Append(audit.Entry{ActorID: actorID, Actor: a.Username, Action: "failover.resume", Target: run.ID, Outcome: audit.OutcomeStarted,
		Details: map[string]string{"state": string(run.State)}})
	if _, err := p.driveRunbook(run.ID, actorID); err != nil {
		return nil, err
	}
	return run, nil
}

// abortRunbook ends the runbook at once when no node runs it, and otherwise asks the node that
// does to stop before its next step.
func (p *Plugin) abortRunbook(ctx context.Context, actorID string) (*failover.Run, error) {
	a := p.actor(actorID)
	eng := p.failoverEngine(actorID)
	cur, err := p.failoverJournal().Load(ctx)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, failover.ErrNoRun
	}
	// A node that died holds the lock until it expires (about 15 s): wait that long when no node
	// says it runs the runbook, so that an interrupted runbook ends now.
	wait := 2 * time.Second
	if !p.failoverAlive(cur.ID) {
		wait = 25 * time.Second
	}
	var run *failover.Run
	err = p.withRunbookLock(ctx, wait, func() error {
		var err error
		run, err = eng.Abort(ctx, a.Username, true)
		return err
	})
	if errors.Is(err, errRunbookLocked) {
		run, err = eng.Abort(ctx, a.Username, false)
	}
	if err != nil {
		return nil, err
	}
	outcome := audit.OutcomeSucceeded
	if run.State != failover.RunAborted {
		outcome = audit.OutcomeStarted
	}
	_, _ = p.auditor.Append(audit.Entry{ActorID: actorID, Actor: a.Username, Action: "failover.abort", Target: run.ID, Outcome: outcome,
		Details: map[string]string{"state": string(run.State)}})
	return run, nil
}

var errRunbookLocked = errors.New("another node is running the failover runbook")

// withRunbookLock runs fn holding the cluster-wide runbook lock: one engine at a time.
func (p *Plugin) withRunbookLock(ctx context.Context, wait time.Duration, fn func() error) error {
	mu, err := kvstate.FailoverLock.New(p.API)
	if err != nil {
		return fmt.Errorf("runbook lock: %w", err)
	}
	lockCtx, cancel := context.WithTimeout(ctx, wait)
	err = mu.LockWithContext(lockCtx)
	cancel()
	if err != nil {
		return errRunbookLocked
	}
	defer mu.Unlock()
	return fn()
}

// driveRunbook runs the runbook in the background on this node.
func (p *Plugin) driveRunbook(id, actorID string) (*jobs.Job, error) {
	return p.jobs.Start(failoverJob, actorID, func(ctx context.Context, j *jobs.Job) {
		j.SetProgress("waiting for the cluster-wide runbook lock")
		// After a crash the dead node's lock lasts about 15 s more.
		err := p.withRunbookLock(ctx, 40*time.Second, func() error {
			stop := p.failoverHeartbeat(id)
			defer stop()
			eng := p.failoverEngine(actorID)
			eng.Progress = j.SetProgress
			_, err := eng.Run(ctx, id)
			return err
		})
		if err != nil {
			msg := fmt.Sprintf(":x: Runbook `%s` could not run: %v", id, err)
			if errors.Is(err, errRunbookLocked) {
				msg = fmt.Sprintf(":warning: Runbook `%s` did not start here: another node holds the runbook lock (it runs the runbook, or died less than a minute ago). `/dr failover status`, then `/dr failover resume` if nothing runs it.", id)
			}
			p.API.LogWarn("Disaster Recovery runbook stopped", "run", id, "error", err.Error())
			_ = p.notifier.OpsAndDirect(actorID, msg)
		}
	})
}

// failoverHeartbeat marks the runbook as run by this node until stop is called. A runbook that
// says "running" without the mark was interrupted (its node died).
func (p *Plugin) failoverHeartbeat(id string) (stop func()) {
	mark := func() {
		_ = kvstate.FailoverAliveMark.Set(p.state(), kvstate.FailoverAlive{Run: id, Node: p.node, Process: os.Getpid()})
	}
	mark()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(kvstate.FailoverAliveMark.TTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				mark()
			}
		}
	}()
	return func() {
		close(done)
		_ = kvstate.FailoverAliveMark.Delete(p.state())
	}
}

// failoverAlive says whether a node runs runbook id now.
func (p *Plugin) failoverAlive(id string) bool {
	m, _, err := kvstate.FailoverAliveMark.Get(p.state())
	if err != nil || m.Run != id {
		return false
	}
	// This node's own mark from a plugin process that died (kill -9, crash) is stale at once.
	if m.Node == p.node && m.Process != os.Getpid() {
		return false
	}
	return true
}

// failoverObserver writes the audit trail and the bot's posts for the engine's events.
func (p *Plugin) failoverObserver(actorID string) failover.Observer {
	a := p.actor(actorID)
	return failover.ObserverFunc(func(ev failover.Event) {
		run := ev.Run
		switch ev.Kind {
		case failover.EventStepStarted:
			s := ev.Step
			_, _ = p.auditor.Append(audit.Entry{ActorID: actorID, Actor: a.Username, Action: "failover.step", Target: run.ID + "/" + s.Name, Outcome: audit.OutcomeStarted,
				Details: map[string]string{"kind": string(run.Kind), "mode": string(run.Mode), "from": s.From, "to": s.To, "attempt": strconv.Itoa(s.Attempts)}})
		case failover.EventStepFinished:
			s := ev.Step
			outcome := audit.OutcomeSucceeded
			switch s.State {
			case failover.StepFailed:
				outcome = audit.OutcomeFailed
			case failover.StepWaiting:
				outcome = audit.OutcomeStarted
			case failover.StepSkipped, failover.StepManual, failover.StepDeferred:
				outcome = audit.OutcomeSkipped
			}
			_, _ = p.auditor.Append(audit.Entry{ActorID: actorID, Actor: a.Username, Action: "failover.step", Target: run.ID + "/" + s.Name, Outcome: outcome, Reason: s.Error,
				Details: map[string]string{"state": string(s.State), "duration_ms": strconv.FormatInt(s.DurationMS, 10), "from": s.From, "to": s.To}})
			if s.State.Finished() {
				_ = p.notifier.Ops(fmt.Sprintf("%s `%s` step %d/%d **%s**: %s in %s. %s", titleWord(run.Kind), run.ID, ev.Index+1, len(run.Steps), s.Title, s.State,
					s.Duration().Round(100*time.Millisecond), s.Detail))
			}
		case failover.EventRunStopped:
			action := map[failover.RunState]string{failover.RunCompleted: "failover.complete", failover.RunFailed: "failover.fail", failover.RunWaiting: "failover.wait",
				failover.RunAborted: "failover.abort", failover.RunInterrupted: "failover.interrupt"}[run.State]
			outcome := map[failover.RunState]audit.Outcome{failover.RunCompleted: audit.OutcomeSucceeded, failover.RunFailed: audit.OutcomeFailed, failover.RunWaiting: audit.OutcomeStarted,
				failover.RunAborted: audit.OutcomeSucceeded, failover.RunInterrupted: audit.OutcomeFailed}[run.State]
			if action == "" {
				return
			}
			_, _ = p.auditor.Append(audit.Entry{ActorID: actorID, Actor: a.Username, Action: action, Target: run.ID, Outcome: outcome, Reason: run.Error,
				Details: map[string]string{"kind": string(run.Kind), "mode": string(run.Mode), "from": run.From, "to": run.To, "elapsed": run.Elapsed(time.Now()).Round(time.Millisecond).String()}})
			if err := p.notifier.OpsAndDirect(actorID, failover.SummaryMarkdown(run, time.Now())); err != nil {
				p.API.LogWarn("Cannot post the runbook's result", "run", run.ID, "error", err.Error())
			}
		}
	})
}

func titleWord(k failover.Kind) string {
	return strings.ToUpper(string(k[:1])) + string(k[1:])
}

// freshNodeReports asks every node for its report now and reads them.
func (p *Plugin) freshNodeReports(ctx context.Context) ([]nodes.NodeReport, error) {
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

// failoverAnnouncer posts the announcement as the bot.
type failoverAnnouncer struct{ p *Plugin }

func (f failoverAnnouncer) Ops(message string) error { return f.p.opsAndAlertFailover(message) }

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
		run, err := p.failoverJournal().Load(r.Context())
		if err != nil {
			adminapi.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		running := run != nil && p.failoverAlive(run.ID)
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
		plan, err := p.failoverPlan(r.Context(), failoverRequest{Kind: kind, To: q.Get("to"), Mode: mode, ActorID: user(r)})
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
			run, err := p.startRunbook(r.Context(), failoverRequest{Kind: kind, To: body.To, Mode: mode, Force: body.Force, ActorID: user(r)})
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
		run, err := p.confirmRunbook(r.Context(), user(r))
		if err != nil {
			writeFailoverError(w, err)
			return
		}
		adminapi.WriteJSON(w, http.StatusAccepted, map[string]any{"run": run})
	})
	rt.Handle(http.MethodPost, "/failover/resume", func(w http.ResponseWriter, r *http.Request) {
		run, err := p.resumeRunbook(r.Context(), user(r))
		if err != nil {
			writeFailoverError(w, err)
			return
		}
		adminapi.WriteJSON(w, http.StatusAccepted, map[string]any{"run": run})
	})
	rt.Handle(http.MethodPost, "/failover/abort", func(w http.ResponseWriter, r *http.Request) {
		run, err := p.abortRunbook(r.Context(), user(r))
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

func writeFailoverError(w http.ResponseWriter, err error) {
	var busy *jobs.BusyError
	switch {
	case errors.Is(err, failover.ErrNoRun):
		adminapi.WriteError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, failover.ErrActive), errors.Is(err, failover.ErrNotActive), errors.Is(err, failover.ErrNotWaiting), errors.As(err, &busy):
		adminapi.WriteError(w, http.StatusConflict, err.Error())
	default:
		adminapi.WriteError(w, http.StatusBadRequest, err.Error())
	}
}
