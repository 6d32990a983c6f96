package failover

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/nodes"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

// Step kinds, in runbook order (see Sequence).
const (
	KindAnnounce          = "announce"
	KindDatabase          = "database"
	KindOpenSearchPromote = "opensearch-promote"
	KindOpenSearchFollow  = "opensearch-follow"
	KindScheduler         = "scheduler"
	KindDNS               = "dns"
	KindRoll              = "roll"
	KindSettings          = "settings"
	KindFinal             = "final"
)

// Announcer posts the announcement, and the runbook's progress.
type Announcer interface {
	// Ops posts to the ops channel.
	Ops(message string) error
	// Direct writes to one person: the admin who started or resumed the runbook.
	Direct(userID, message string) error
	// Everyone posts in every team's Town Square, skipping the teams done says are done and
	// calling mark after each post (so a resumed step does not post twice). It returns how
	// many teams it posted to.
	Everyone(message string, done func(teamID string) bool, mark func(teamID string) error) (int, error)
}

// Settings is the plugin's own settings, which name the primary region.
type Settings interface {
	PrimaryRegion() string
	// MakePrimary swaps the primary and standby settings (regions and every per-region setting)
	// so that region is the primary: /dr status then checks the new direction.
	MakePrimary(ctx context.Context, region string) error
}

// Deps are what the Mattermost-side steps need from the plugin. Announce, Nodes and Settings
// may be nil (no Mattermost: drctl): their steps are then recorded as StepForPlugin.
type Deps struct {
	Announce Announcer
	// Nodes returns fresh node reports.
	Nodes    func(ctx context.Context) ([]nodes.NodeReport, error)
	Settings Settings
	// Check runs the status probes (fresh) with the current settings.
	Check func(ctx context.Context) (status.Report, error)
	Now   func() time.Time
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Steps returns every step kind, wired to d.
func Steps(d Deps) map[string]Step {
	return map[string]Step{
		KindAnnounce:          announceStep{d},
		KindDatabase:          databaseStep{},
		KindOpenSearchPromote: openSearchPromoteStep{},
		KindOpenSearchFollow:  openSearchFollowStep{},
		KindScheduler:         schedulerStep{d},
		KindDNS:               dnsStep{},
		KindRoll:              rollStep{},
		KindSettings:          settingsStep{d},
		KindFinal:             finalStep{d},
	}
}

// forPlugin is the result of a step that needs what the runner does not have: Mattermost.
func forPlugin(what string) Result {
	return Result{State: StepForPlugin, Detail: "needs Mattermost (" + what + "): the plugin runs this step when it takes the runbook over"}
}

// forPluginCalls is what such a step calls, for the plan.
func forPluginCalls(calls string) string {
	return "needs Mattermost, so it waits for the plugin, which then " + calls
}

// verb is "failover" or "failback", for messages.
func verb(r *Run) string { return string(r.Kind) }

type announceStep struct{ d Deps }

func (announceStep) Title() string { return "Announce" }

func (s announceStep) Calls(live Live, _ *Run, _ *StepRecord) string {
	calls := "posts to the ops channel"
	if live.AnnounceAll {
		calls = "posts to the ops channel and to the Town Square of every team (DRFailoverAnnounceAll)"
	}
	if s.d.Announce == nil {
		return forPluginCalls(calls)
	}
	return calls
}

func (s announceStep) Run(_ context.Context, sc *StepContext) Result {
	if s.d.Announce == nil {
		return forPlugin("posts")
	}
	r := &sc.Run
	msg := fmt.Sprintf(":rotating_light: **%s from %s to %s has started** (%s, runbook `%s`, by @%s). Mattermost may be unavailable or read-only for a few minutes; reconnect if your client says so.",
		titleCase(verb(r)), r.From, r.To, r.Mode, r.ID, r.Actor)
	if sc.Data("ops") == "" {
		if err := s.d.Announce.Ops(msg); err != nil {
			return Failed(fmt.Errorf("post to the ops channel: %w", err), "Fix the ops channel (`/dr version` says what is wrong), then `/dr failover resume`.")
		}
		if err := sc.Save("ops", "posted"); err != nil {
			return Failed(err, "`/dr failover resume`")
		}
	}
	detail := "posted to the ops channel"
	if sc.Live.AnnounceAll {
		n, err := s.d.Announce.Everyone(msg, func(id string) bool { return sc.Data("team:"+id) != "" },
			func(id string) error { return sc.Save("team:"+id, "posted") })
		if err != nil {
			return Failed(fmt.Errorf("announce to every team: %w", err), "`/dr failover resume` posts to the teams not reached yet.")
		}
		detail += fmt.Sprintf(" and to the Town Square of %d team(s)", n)
	}
	return Result{Detail: detail}
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

type rollStep struct{}

func (rollStep) Title() string { return "Roll the app nodes" }

func (rollStep) Calls(Live, *Run, *StepRecord) string {
	return "nothing: a reminder of what only you can do"
}

func (rollStep) Run(_ context.Context, sc *StepContext) Result {
	r := &sc.Run
	text := fmt.Sprintf("Restart the app nodes of %s one at a time (a rolling restart) so that every websocket reconnects to the new region, and stop the app nodes of %s (they must not write to the database or OpenSearch of %s again).", r.To, r.From, r.From)
	if r.Mode == Failover {
		text += fmt.Sprintf(" Keep %s's nodes stopped when the region comes back, until `/dr failback`.", r.From)
	}
	return Result{State: StepManual, Detail: text}
}

type settingsStep struct{ d Deps }

func (settingsStep) Title() string { return "Make the new region the primary in the plugin settings" }

func (s settingsStep) Calls(_ Live, r *Run, _ *StepRecord) string {
	if s.d.Settings == nil {
		return forPluginCalls(fmt.Sprintf("makes %s the primary region in the plugin settings", r.To))
	}
	return fmt.Sprintf("saves the plugin settings with %s as the primary region: swaps DRPrimaryRegion/DRSecondaryRegion and the per-region Aurora, OpenSearch and Route 53 settings, so that `/dr status` checks the new direction", r.To)
}

func (s settingsStep) Run(ctx context.Context, sc *StepContext) Result {
	if s.d.Settings == nil {
		return forPlugin("the plugin's settings")
	}
	to := sc.Run.To
	next := fmt.Sprintf("Swap the primary and standby settings by hand (System Console > Plugins > Disaster Recovery: Regions and database replication, OpenSearch replication, DNS and failover): %s becomes the primary region, with its Aurora cluster, OpenSearch URL and Route 53 value; then `/dr failover resume`.", to)
	undo := fmt.Sprintf("the failback swaps them back (`/dr failback`), or swap them by hand so that %s is the primary again", sc.Run.From)
	if s.d.Settings.PrimaryRegion() == to {
		return Result{Detail: to + " is already the primary region in the settings", Undo: undo}
	}
	if err := s.d.Settings.MakePrimary(ctx, to); err != nil {
		return Failed(fmt.Errorf("save the settings: %w", err), next)
	}
	// The server applies saved settings asynchronously: check that they took effect.
	deadline := time.Now().Add(30 * time.Second)
	for s.d.Settings.PrimaryRegion() != to {
		if time.Now().After(deadline) {
			return Failed(fmt.Errorf("the saved settings did not take effect within 30 s (primary region is still %s)", s.d.Settings.PrimaryRegion()), next)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return Failed(err, next)
		}
	}
	return Result{Detail: "the settings now name " + to + " the primary region", Undo: undo}
}

type finalStep struct{ d Deps }

func (finalStep) Title() string { return "Final checks" }

func (finalStep) Calls(Live, *Run, *StepRecord) string {
	return "runs the status probes (`/dr status --fresh`) against the new direction"
}

func (s finalStep) Run(ctx context.Context, sc *StepContext) Result {
	rep, err := s.d.Check(ctx)
	if err != nil {
		return Failed(fmt.Errorf("run the status probes: %w", err), "`/dr failover resume` runs the checks again.")
	}
	detail := "verdict: **" + string(rep.Verdict) + "**"
	if len(rep.Reasons) > 0 {
		var rs []string
		for i, r := range rep.Reasons {
			if i == 5 {
				rs = append(rs, fmt.Sprintf("and %d more (`/dr status`)", len(rep.Reasons)-5))
				break
			}
			rs = append(rs, r.String())
		}
		detail += ": " + strings.Join(rs, "; ")
	}
	if sc.Run.Mode == Failover && rep.Verdict != "healthy" {
		detail += fmt.Sprintf(" (expected while %s is down: replication towards it resumes once it is back; then `/dr failback`)", sc.Run.From)
	}
	return Result{Detail: detail}
}
