package failover

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/opensearchccr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/redact"
)

// Reversing OpenSearch cross-cluster replication takes two steps. The first makes the new
// region's follower indices writable (it runs on the new region's cluster, which is up). The
// second makes the old region's cluster follow the new one; when the old region does not answer
// in failover mode it is deferred to the failback, which runs it first.

type openSearchPromoteStep struct{}

func (openSearchPromoteStep) Title() string {
	return "OpenSearch: make the new region's indices writable"
}

func (openSearchPromoteStep) Calls(live Live, _ *Run, rec *StepRecord) string {
	if !live.OpenSearchConfigured() {
		return "nothing: OpenSearch replication is not configured"
	}
	return fmt.Sprintf("on %s (%s): DELETE _plugins/_replication/_autofollow (the %s rule), POST _plugins/_replication/<index>/_stop on %s and every %s follower, then _refresh",
		rec.To, redact.ShownURL(live.region(rec.To).OpenSearchURL), live.pattern(), strings.Join(live.indices(), ", "), live.pattern())
}

func (openSearchPromoteStep) Run(ctx context.Context, sc *StepContext) Result {
	live, to := sc.Live, sc.Step.To
	if !live.OpenSearchConfigured() {
		return Result{State: StepSkipped, Detail: "OpenSearch replication is not configured"}
	}
	retry := "Check the OpenSearch cluster of " + to + ", then `/dr failover resume` (indices already writable are left alone)."
	c, err := live.openSearch(to)
	if err != nil {
		return Failed(err, "Set the OpenSearch URL of "+to+", then `/dr failover resume`.")
	}
	names, err := followerIndices(ctx, c, live)
	if err != nil {
		return Failed(err, retry)
	}
	statuses := map[string]opensearchccr.Status{}
	alias := live.region(to).OpenSearchAlias
	for _, ix := range names {
		st, err := c.Status(ctx, ix)
		if err != nil {
			return Failed(err, retry)
		}
		statuses[ix] = st
		if alias == "" && st.LeaderAlias != "" {
			alias = st.LeaderAlias // the connection name the followers use
		}
	}
	// The rule first: otherwise it would start following again what is stopped next.
	removed, err := removeRules(ctx, c, alias, live.pattern())
	if err != nil {
		return Failed(err, retry)
	}
	var stopped, already, missing, partial []string
	// Planned: give the followers up to two minutes in all to apply what their leaders have.
	catchUpUntil := time.Now().Add(2 * time.Minute)
	for _, ix := range names {
		st := statuses[ix]
		switch st.Status {
		case opensearchccr.StateNotInProgress:
			if exists, err := indexExists(ctx, c, ix); err != nil {
				return Failed(err, retry)
			} else if exists {
				already = append(already, ix)
			} else {
				missing = append(missing, ix)
			}
			continue
		case opensearchccr.StateBootstrapping:
			if sc.Run.Mode == Switchover {
				if st, err = waitSyncing(ctx, sc, c, ix); err != nil {
					return Failed(err, "The follower has not finished copying its leader: wait, then `/dr failover resume`; or use --mode failover to accept a partial index.")
				}
			} else {
				partial = append(partial, ix)
			}
		}
		if left := time.Until(catchUpUntil); sc.Run.Mode == Switchover && st.Status == opensearchccr.StateSyncing && left > 0 {
			_ = waitCaughtUp(ctx, sc, c, ix, left)
		}
		if err := c.Stop(ctx, ix); err != nil {
			return Failed(err, retry)
		}
		stopped = append(stopped, ix)
	}
	// Check the result: no index follows anything any more.
	for _, ix := range append(append([]string(nil), stopped...), already...) {
		st, err := c.Status(ctx, ix)
		if err != nil {
			return Failed(err, retry)
		}
		if st.Status != opensearchccr.StateNotInProgress {
			return Failed(fmt.Errorf("%s on %s is still %s after _stop", ix, to, st.Status), retry)
		}
	}
	if writable := append(append([]string(nil), stopped...), already...); len(writable) > 0 {
		if err := c.Refresh(ctx, writable...); err != nil {
			return Failed(err, retry)
		}
	}
	detail := fmt.Sprintf("%s's indices are writable: stopped replication of %s", to, listOr(stopped, "none"))
	if len(already) > 0 {
		detail += "; already writable: " + strings.Join(already, ", ")
	}
	if len(removed) > 0 {
		detail += "; removed auto-follow rule " + strings.Join(removed, ", ")
	}
	if len(missing) > 0 {
		detail += "; missing on " + to + ": " + strings.Join(missing, ", ") + " (Mattermost recreates them; run a bulk index in System Console > Elasticsearch)"
	}
	if len(partial) > 0 {
		detail += "; still bootstrapping when stopped, so incomplete: " + strings.Join(partial, ", ") + " (run a bulk index once Mattermost serves from " + to + ")"
	}
	return Result{Detail: detail, Undo: fmt.Sprintf("`/dr failback` reverses it: %s's indices follow %s again", to, sc.Step.From)}
}

type openSearchFollowStep struct{}

func (openSearchFollowStep) Title() string { return "OpenSearch: the old region follows the new one" }

func (openSearchFollowStep) Calls(live Live, r *Run, rec *StepRecord) string {
	if !live.OpenSearchConfigured() {
		return "nothing: OpenSearch replication is not configured"
	}
	alias := nonEmpty(live.region(rec.From).OpenSearchAlias, "<alias>")
	s := fmt.Sprintf("on %s (%s): DELETE the replicated indices, _refresh, POST _plugins/_replication/_autofollow (%s from %s), PUT _plugins/_replication/<index>/_start for %s; then _status until every follower is SYNCING",
		rec.From, nonEmpty(redact.ShownURL(live.region(rec.From).OpenSearchURL), "URL not set"), live.pattern(), alias, strings.Join(live.indices(), ", "))
	if r.Mode == Failover {
		s += fmt.Sprintf(". Deferred to the failback if %s does not answer", rec.From)
	}
	return s
}

func (openSearchFollowStep) Run(ctx context.Context, sc *StepContext) Result {
	live, from, to := sc.Live, sc.Step.From, sc.Step.To
	if !live.OpenSearchConfigured() {
		return Result{State: StepSkipped, Detail: "OpenSearch replication is not configured"}
	}
	if live.region(from).OpenSearchURL == "" {
		return Result{State: StepManual, Detail: fmt.Sprintf("The OpenSearch URL of %s is not set, so replication cannot be reversed for you: on %s's cluster delete the indices %s and %s, then follow %s (auto-follow rule on %s, _start of %s).",
			from, from, strings.Join(live.indices(), ", "), live.pattern(), to, live.pattern(), strings.Join(live.indices(), ", "))}
	}
	alias := live.region(from).OpenSearchAlias
	if alias == "" {
		return Failed(fmt.Errorf("the name of %s's connection to %s's cluster is not set", from, to), "Set the OpenSearch connection alias for that direction in the plugin settings (OpenSearch replication), then `/dr failover resume`.")
	}
	retry := "Check both OpenSearch clusters, then `/dr failover resume`: indices already following are left alone."
	fc, err := live.openSearch(from)
	if err != nil {
		return Failed(err, retry)
	}
	lc, err := live.openSearch(to)
	if err != nil {
		return Failed(err, retry)
	}
	// Does the old region answer at all?
	probeCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	existing, err := fc.Indices(probeCtx, "")
	cancel()
	if err != nil {
		if unreachable(err) && sc.Run.Mode == Failover {
			return Result{State: StepDeferred, Detail: fmt.Sprintf("%s's OpenSearch does not answer (%v): reversing replication there is deferred to `/dr failback`, which does it first", from, err)}
		}
		return Failed(err, retry)
	}
	exists := map[string]bool{}
	for _, ix := range existing {
		exists[ix.Name] = true
	}
	// The leader must hold the data, writable, before anything is deleted here.
	all, err := followerIndices(ctx, lc, live)
	if err != nil {
		return Failed(err, retry)
	}
	onLeader, err := lc.Indices(ctx, "")
	if err != nil {
		return Failed(err, retry)
	}
	var names, absent []string
	for _, ix := range all {
		if containsIndex(onLeader, ix) {
			names = append(names, ix)
		} else {
			absent = append(absent, ix)
		}
	}
	for _, ix := range names {
		st, err := lc.Status(ctx, ix)
		if err != nil {
			return Failed(err, retry)
		}
		if st.Status != opensearchccr.StateNotInProgress {
			return Failed(fmt.Errorf("refusing to delete %s on %s: on %s it is still a follower (%s)", ix, from, to, st.Status),
				"Run the step that makes "+to+"'s indices writable first (`/dr failover resume`).")
		}
	}
	var deleted, started, kept []string
	following := map[string]bool{}
	for _, ix := range names {
		st, err := fc.Status(ctx, ix)
		if err != nil {
			return Failed(err, retry)
		}
		if (st.Status == opensearchccr.StateSyncing || st.Status == opensearchccr.StateBootstrapping) && st.LeaderAlias == alias {
			following[ix] = true // an earlier attempt started it
			kept = append(kept, ix)
			continue
		}
		if !exists[ix] {
			continue
		}
		if st.Status != opensearchccr.StateNotInProgress {
			_ = fc.Stop(ctx, ix) // a follower of something else: stop before deleting
		}
		if err := fc.DeleteIndex(ctx, ix); err != nil {
			return Failed(err, retry)
		}
		deleted = append(deleted, ix)
	}
	if len(deleted) > 0 {
		if err := fc.Refresh(ctx); err != nil {
			return Failed(err, retry)
		}
	}
	sc.Hit("failover.opensearch.deleted")
	if err := fc.AddAutoFollow(ctx, alias, live.rule(), live.pattern(), live.OpenSearch.Roles); err != nil {
		return Failed(err, retry)
	}
	for _, ix := range live.indices() {
		if following[ix] || !contains(names, ix) {
			continue
		}
		if err := fc.Start(ctx, ix, alias, ix, live.OpenSearch.Roles); err != nil {
			return Failed(err, retry)
		}
		started = append(started, ix)
	}
	// Check the result: every index follows and has caught up.
	if err := waitAllSyncing(ctx, sc, fc, names, alias); err != nil {
		return Failed(err, "The followers are still copying: `/dr failover resume` waits again without deleting or starting anything twice.")
	}
	detail := fmt.Sprintf("%s follows %s: %d indices SYNCING (%s); auto-follow rule %s (%s from %s)", from, to, len(names), strings.Join(names, ", "), live.rule(), live.pattern(), alias)
	if len(deleted) > 0 {
		detail += "; deleted the old copies of " + strings.Join(deleted, ", ")
	}
	if len(started) > 0 {
		detail += "; started " + strings.Join(started, ", ")
	}
	if len(kept) > 0 {
		detail += "; already following: " + strings.Join(kept, ", ")
	}
	if len(absent) > 0 {
		detail += fmt.Sprintf("; not on %s, so not replicated: %s", to, strings.Join(absent, ", "))
	}
	return Result{Detail: detail, Undo: fmt.Sprintf("`/dr failback` reverses it: %s leads again and %s follows", from, to)}
}

// removeRules deletes the auto-follow rules for pattern and returns their names.
func removeRules(ctx context.Context, c *opensearchccr.Client, alias, pattern string) ([]string, error) {
	stats, err := c.AutoFollowStats(ctx)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, r := range stats.Rules {
		if r.Pattern != pattern {
			continue
		}
		if alias == "" {
			return nil, fmt.Errorf("auto-follow rule %s: the connection alias to remove it with is unknown (set it in the plugin settings, OpenSearch replication)", r.Name)
		}
		if err := c.DeleteAutoFollow(ctx, alias, r.Name); err != nil {
			return nil, err
		}
		removed = append(removed, r.Name)
	}
	return removed, nil
}

func containsIndex(list []opensearchccr.Index, name string) bool {
	for _, ix := range list {
		if ix.Name == name {
			return true
		}
	}
	return false
}

func indexExists(ctx context.Context, c *opensearchccr.Client, name string) (bool, error) {
	ixs, err := c.Indices(ctx, name+"*")
	if err != nil {
		return false, err
	}
	for _, ix := range ixs {
		if ix.Name == name {
			return true, nil
		}
	}
	return false, nil
}

// waitSyncing waits until a bootstrapping follower syncs.
func waitSyncing(ctx context.Context, sc *StepContext, c *opensearchccr.Client, ix string) (opensearchccr.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, sc.Live.wait())
	defer cancel()
	sc.progress("waiting for %s to finish bootstrapping", ix)
	for {
		st, err := c.Status(ctx, ix)
		if err == nil && st.Status != opensearchccr.StateBootstrapping {
			return st, nil
		}
		if err := sleep(ctx, sc.Live.poll()); err != nil {
			return st, fmt.Errorf("%s is still bootstrapping: %w", ix, err)
		}
	}
}

// waitCaughtUp waits, up to limit, until a syncing follower has its leader's checkpoint.
func waitCaughtUp(ctx context.Context, sc *StepContext, c *opensearchccr.Client, ix string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		st, err := c.Status(ctx, ix)
		if err != nil {
			return err
		}
		if lag, ok := st.Lag(); !ok || lag == 0 {
			return nil
		}
		if err := sleep(ctx, sc.Live.poll()); err != nil {
			return err
		}
	}
}

// waitAllSyncing waits until every index follows alias, SYNCING within the lag threshold.
func waitAllSyncing(ctx context.Context, sc *StepContext, c *opensearchccr.Client, names []string, alias string) error {
	ctx, cancel := context.WithTimeout(ctx, sc.Live.wait())
	defer cancel()
	threshold := sc.Live.OpenSearch.LagThreshold
	if threshold <= 0 {
		threshold = 1000
	}
	for {
		var pending []string
		for _, ix := range names {
			st, err := c.Status(ctx, ix)
			switch {
			case err != nil:
				pending = append(pending, fmt.Sprintf("%s (%v)", ix, err))
			case st.Status == opensearchccr.StateFailed || st.Status == opensearchccr.StatePaused:
				return fmt.Errorf("%s is %s: %s", ix, st.Status, st.Reason)
			case st.Status != opensearchccr.StateSyncing || st.LeaderAlias != alias:
				pending = append(pending, ix+" "+strings.ToLower(st.Status))
			default:
				if lag, _ := st.Lag(); lag > threshold {
					pending = append(pending, fmt.Sprintf("%s %d operations behind", ix, lag))
				}
			}
		}
		if len(pending) == 0 {
			return nil
		}
		sort.Strings(pending)
		sc.progress("waiting for the followers: %s", strings.Join(pending, ", "))
		if err := sleep(ctx, sc.Live.poll()); err != nil {
			return fmt.Errorf("not syncing yet: %s: %w", strings.Join(pending, ", "), err)
		}
	}
}

func listOr(list []string, none string) string {
	if len(list) == 0 {
		return none
	}
	return strings.Join(list, ", ")
}
