package failover

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/nodes"
)

// schedulerStep moves Mattermost's job scheduler. The plugin cannot restart nodes (RunScheduler
// takes effect at start), so it says what to set where and reads the nodes' own reports; when
// they are not right yet it waits for a confirmation or for a resume that finds them right.
type schedulerStep struct{ d Deps }

func (schedulerStep) Title() string { return "Job scheduler: runs in the new region only" }

func (s schedulerStep) Calls(live Live, _ *Run, rec *StepRecord) string {
	if s.d.Nodes == nil {
		return forPluginCalls(fmt.Sprintf("reads the nodes' reports and expects JobSettings.RunScheduler=true in %s", rec.To))
	}
	return fmt.Sprintf("nothing it can change: reads the nodes' reports and expects JobSettings.RunScheduler=true in %s and %v in %s; waits for `/dr failover confirm` until they say so",
		rec.To, live.SchedulerInSecondary, rec.From)
}

func (s schedulerStep) Run(ctx context.Context, sc *StepContext) Result {
	if s.d.Nodes == nil {
		return forPlugin("the app nodes' reports")
	}
	from, to := sc.Step.From, sc.Step.To
	reports, err := s.d.Nodes(ctx)
	if err != nil {
		return Failed(fmt.Errorf("read the node reports: %w", err), "`/dr failover resume`")
	}
	wrong, running, seen := schedulerPlacement(reports, from, to, sc.Live.SchedulerInSecondary, s.d.now())
	ok := len(wrong) == 0 && len(running) > 0
	state := fmt.Sprintf("nodes running the scheduler in %s: %s; nodes reporting: %s", to, listOr(running, "none"), listOr(seen, "none"))
	if len(wrong) > 0 {
		state += "; not as expected: " + strings.Join(wrong, "; ")
	}
	undo := fmt.Sprintf("set RunScheduler back (true in %s, %v in %s) and restart those nodes", from, sc.Live.SchedulerInSecondary, to)
	switch {
	case ok:
		return Result{Detail: "the nodes report the right values: " + state, Undo: undo}
	case sc.Step.Confirmed:
		return Result{Detail: "confirmed by @" + sc.Step.ConfirmedBy + "; " + state, Undo: undo}
	}
	inSecondary := "false"
	if sc.Live.SchedulerInSecondary {
		inSecondary = "true"
	}
	return Result{State: StepWaiting, Detail: state, Next: fmt.Sprintf(
		"Set JobSettings.RunScheduler=true (MM_JOBSETTINGS_RUNSCHEDULER=true) on the app nodes of %s and =%s on those of %s, and restart them. Then `/dr failover resume` (the nodes' reports are read again: it goes on when they are right), or `/dr failover confirm` to go on anyway. Now: %s.",
		to, inSecondary, from, state)}
}

// schedulerPlacement compares the live nodes' reports with where the scheduler should run.
func schedulerPlacement(reports []nodes.NodeReport, from, to string, inSecondary bool, now time.Time) (wrong, running, seen []string) {
	latest := map[string]nodes.NodeReport{}
	for _, n := range reports {
		id := nonEmpty(n.NodeID, n.Hostname)
		if old, ok := latest[id]; !ok || n.ReportedAt.After(old.ReportedAt) {
			latest[id] = n
		}
	}
	ids := make([]string, 0, len(latest))
	for id := range latest {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		n := latest[id]
		if now.Sub(n.ReportedAt) > nodes.DefaultStaleAfter {
			continue // gone, or in the region that is down
		}
		name := nonEmpty(n.Hostname, n.NodeID)
		seen = append(seen, fmt.Sprintf("%s (%s, RunScheduler=%v)", name, nonEmpty(n.Region, "no region"), n.RunScheduler))
		switch n.Region {
		case to:
			if n.RunScheduler {
				running = append(running, name)
			} else {
				wrong = append(wrong, name+" in "+to+" does not run the scheduler")
			}
		case from:
			if n.RunScheduler != inSecondary {
				wrong = append(wrong, fmt.Sprintf("%s in %s has RunScheduler=%v", name, from, n.RunScheduler))
			}
		default:
			wrong = append(wrong, name+" reports no known region (set DR_REGION on it)")
		}
	}
	return wrong, running, seen
}
