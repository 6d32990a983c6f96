// Package opensearch is the status probe of OpenSearch cross-cluster replication from the
// primary region's cluster (leader) to the other region's (follower): the auto-follow rule for
// Mattermost's posts indices exists and starts them, the channels, users and files indices and
// every posts index on the follower are syncing and close to their leader, and no leader index
// Mattermost uses is left unreplicated. It reads only, and never looks at hidden or system
// (dot-prefixed) indices.
package opensearch

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/bytesize"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/opensearchccr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

const component = "opensearch"

// Options configure the probe.
type Options struct {
	// Follower is the cluster replicating into this region; Leader, optional, the cluster it
	// replicates from. Without Leader, leader indices nobody follows are not looked for.
	Follower opensearchccr.Options
	Leader   *opensearchccr.Options
	// LeaderAlias is the follower's name for its connection to the leader, used in the fixes
	// (default: what the follower indices report).
	LeaderAlias string
	// ExpectedIndices are started one by one (default channels, users, files);
	// AutoFollowPattern is the auto-follow rule's pattern for the others (default posts*).
	ExpectedIndices   []string
	AutoFollowPattern string
	// CheckpointLagThreshold makes an index degraded when more operations behind than this,
	// critical above CriticalFactor times it (defaults 1000 and 10).
	CheckpointLagThreshold int64
	CriticalFactor         float64
	// Concurrency bounds the parallel _status calls (default 4).
	Concurrency int
}

// Probe checks one follower cluster.
type Probe struct {
	o        Options
	follower *opensearchccr.Client
	leader   *opensearchccr.Client
}

// New validates o and builds the clients.
func New(o Options) (*Probe, error) {
	if o.ExpectedIndices == nil {
		o.ExpectedIndices = []string{"channels", "users", "files"}
	}
	if o.AutoFollowPattern == "" {
		o.AutoFollowPattern = "posts*"
	}
	if o.CheckpointLagThreshold <= 0 {
		o.CheckpointLagThreshold = 1000
	}
	if o.CriticalFactor <= 1 {
		o.CriticalFactor = 10
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	f, err := opensearchccr.New(o.Follower)
	if err != nil {
		return nil, fmt.Errorf("opensearch probe: follower: %w", err)
	}
	p := &Probe{o: o, follower: f}
	if o.Leader != nil {
		if p.leader, err = opensearchccr.New(*o.Leader); err != nil {
			return nil, fmt.Errorf("opensearch probe: leader: %w", err)
		}
	}
	return p, nil
}

// Component is where the status output shows the probe.
func (p *Probe) Component() string { return component }

// Name says what the probe checks.
func (p *Probe) Name() string { return "OpenSearch cross-cluster replication" }

// Endpoint names the follower cluster (without credentials), for a probe that does not
// answer in time.
func (p *Probe) Endpoint() string {
	if len(p.o.Follower.Addresses) == 0 {
		return ""
	}
	u, err := url.Parse(p.o.Follower.Addresses[0])
	if err != nil {
		return ""
	}
	u.User = nil
	return u.String()
}

// indexResult is what the probe learnt about one follower-side index.
type indexResult struct {
	name     string
	expected bool // one of ExpectedIndices (started by hand, not by the rule)
	exists   bool // present on the follower
	status   opensearchccr.Status
	err      error
}

// Probe runs the check; it returns when ctx ends (the status runner owns the deadline).
func (p *Probe) Probe(ctx context.Context) (res probe.Result) {
	stats, err := p.follower.AutoFollowStats(ctx)
	if err != nil {
		return probe.Failed(component, p.Name(), fmt.Errorf("follower cluster: %w", err), p.fixFor(err, "follower", "cluster:admin/plugins/replication/autofollow/stats"))
	}
	indices, err := p.follower.Indices(ctx, "")
	if err != nil {
		return probe.Failed(component, p.Name(), fmt.Errorf("follower cluster: %w", err), p.fixFor(err, "follower", "indices:monitor/stats on *"))
	}
	res = probe.Result{Component: component, Name: p.Name(), State: probe.Healthy}

	present := map[string]bool{}
	for _, ix := range indices {
		if !system(ix.Name) {
			present[ix.Name] = true
		}
	}
	var targets []indexResult
	for _, name := range p.o.ExpectedIndices {
		targets = append(targets, indexResult{name: name, expected: true, exists: present[name]})
	}
	for _, name := range sortedKeys(present) {
		if p.matches(name) && !slices.Contains(p.o.ExpectedIndices, name) {
			targets = append(targets, indexResult{name: name, exists: true})
		}
	}
	p.statuses(ctx, targets)
	alias := p.alias(targets)

	rule := p.checkRule(&res, stats, alias)
	following := p.checkIndices(&res, targets, alias, rule != nil)
	unfollowed := p.checkLeader(ctx, &res, targets, following, stats, alias, rule != nil)
	res.Table = table(targets, unfollowed)
	res.Summary = p.summary(res, targets, rule != nil)
	return res
}

// system tells dot-prefixed (system and hidden) indices, which the probe leaves alone.
func system(name string) bool { return strings.HasPrefix(name, ".") }

// matches tells whether an index name matches the auto-follow pattern (comma-separated
// wildcards, as OpenSearch reads it).
func (p *Probe) matches(name string) bool {
	for _, pat := range strings.Split(p.o.AutoFollowPattern, ",") {
		if ok, _ := path.Match(strings.TrimSpace(pat), name); ok {
			return true
		}
	}
	return false
}

func (p *Probe) statuses(ctx context.Context, targets []indexResult) {
	sem := make(chan struct{}, p.o.Concurrency)
	var wg sync.WaitGroup
	for i := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				targets[i].err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			targets[i].status, targets[i].err = p.follower.Status(ctx, targets[i].name)
		}()
	}
	wg.Wait()
}

func (p *Probe) alias(targets []indexResult) string {
	if p.o.LeaderAlias != "" {
		return p.o.LeaderAlias
	}
	for _, t := range targets {
		if t.status.LeaderAlias != "" {
			return t.status.LeaderAlias
		}
	}
	return "<leader-alias>"
}

// fixFor says what to do about a cluster call that failed.
func (p *Probe) fixFor(err error, which, permission string) string {
	switch {
	case opensearchccr.StatusOf(err) == 401:
		return fmt.Sprintf("Check the username and password of the %s cluster in the Disaster Recovery settings.", which)
	case opensearchccr.IsAuthError(err):
		return fmt.Sprintf("Give the %s cluster user of the Disaster Recovery plugin a role allowing %s (the cross_cluster_replication roles).", which, permission)
	case opensearchccr.StatusOf(err) >= 500:
		return fmt.Sprintf("Check the %s cluster's health (GET _cluster/health) and its logs; the next status check tries again.", which)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return fmt.Sprintf("The %s cluster did not answer in time: check that this server reaches it and its health (GET _cluster/health).", which)
	default:
		return fmt.Sprintf("Check the address of the %s cluster in the Disaster Recovery settings and that this server reaches it.", which)
	}
}

// startBody is the _start request for an index.
func startBody(index, alias string) string {
	return fmt.Sprintf(`PUT _plugins/_replication/%s/_start {"leader_alias":"%s","leader_index":"%s","use_roles":{"leader_cluster_role":"<leader role>","follower_cluster_role":"<follower role>"}}`, index, alias, index)
}

func (p *Probe) checkRule(res *probe.Result, stats opensearchccr.AutoFollowStats, alias string) *opensearchccr.AutoFollowRule {
	var rule *opensearchccr.AutoFollowRule
	for i, r := range stats.Rules {
		if r.Pattern == p.o.AutoFollowPattern {
			rule = &stats.Rules[i]
		}
		if r.Pattern == "*" || strings.HasPrefix(r.Pattern, ".") || strings.Contains(r.Pattern, ",.") {
			res.Add(probe.Degraded,
				fmt.Sprintf(`On the follower: DELETE _plugins/_replication/_autofollow {"leader_alias":"%s","name":"%s"}; replicate %s only.`, alias, r.Name, p.o.AutoFollowPattern),
				fmt.Sprintf("Auto-follow rule %s replicates %q, which takes hidden and system indices too.", r.Name, r.Pattern))
		}
	}
	present := 0.0
	if rule != nil {
		present = 1
	}
	res.Gauge("dr_opensearch_autofollow_rule_present", "1 when the follower has the auto-follow rule for Mattermost's posts indices.", present, map[string]string{"pattern": p.o.AutoFollowPattern})
	if rule == nil {
		res.Add(probe.Critical,
			fmt.Sprintf(`On the follower: POST _plugins/_replication/_autofollow {"leader_alias":"%s","name":"mattermost-posts","pattern":"%s","use_roles":{"leader_cluster_role":"<leader role>","follower_cluster_role":"<follower role>"}}`, alias, p.o.AutoFollowPattern),
			fmt.Sprintf("The follower has no auto-follow rule for %s: new posts indices are not replicated.", p.o.AutoFollowPattern))
		return nil
	}
	res.Gauge("dr_opensearch_autofollow_failed_indices", "Leader indices the auto-follow rule could not start replicating.", float64(len(rule.FailedIndices)), map[string]string{"pattern": rule.Pattern})
	if len(rule.FailedIndices) > 0 || rule.FailedStart > 0 {
		failed := rule.FailedIndices
		if len(failed) == 0 {
			failed = []string{fmt.Sprintf("%d indices", rule.FailedStart)}
		}
		res.Add(probe.Degraded,
			fmt.Sprintf("Check the follower's log and that the replication roles may read these indices on the leader; the rule retries by itself. To start one by hand: %s", startBody(failed[0], alias)),
			fmt.Sprintf("Auto-follow rule %s could not start replicating %s.", rule.Name, list(failed)))
	}
	return rule
}

// checkIndices reports each index's state and lag; it returns the indices that follow.
func (p *Probe) checkIndices(res *probe.Result, targets []indexResult, alias string, hasRule bool) map[string]bool {
	following := map[string]bool{}
	counts := map[string]int{}
	var failedReads []string
	var firstErr error
	threshold := p.o.CheckpointLagThreshold
	critical := int64(float64(threshold) * p.o.CriticalFactor)
	for _, t := range targets {
		if t.err != nil {
			failedReads = append(failedReads, t.name)
			if firstErr == nil {
				firstErr = t.err
			}
			continue
		}
		st := t.status
		// restart is what brings back a follower that cannot resume: a new replication.
		restart := fmt.Sprintf("on the follower, POST _plugins/_replication/%s/_stop, DELETE /%s, then %s", t.name, t.name, startBody(t.name, alias))
		if !t.expected && hasRule {
			restart = fmt.Sprintf("on the follower, POST _plugins/_replication/%s/_stop and DELETE /%s; the auto-follow rule then starts it again.", t.name, t.name)
		}
		switch st.Status {
		case opensearchccr.StateSyncing:
			counts["syncing"]++
			following[t.name] = true
			lag, _ := st.Lag()
			res.Gauge("dr_opensearch_checkpoint_lag_operations", "Operations a follower index is behind its leader (leader minus follower checkpoint).", float64(lag), map[string]string{"index": t.name})
			fix := fmt.Sprintf("Check both clusters' health and the network between the regions; GET _plugins/_replication/%s/_status?verbose=true on the follower shows the lagging shards.", t.name)
			switch {
			case lag > critical:
				res.Add(probe.Critical, fix, fmt.Sprintf("%s is %d operations behind its leader (over %d, %g× the threshold).", t.name, lag, critical, p.o.CriticalFactor))
			case lag > threshold:
				res.Add(probe.Degraded, fix, fmt.Sprintf("%s is %d operations behind its leader (threshold %d).", t.name, lag, threshold))
			}
		case opensearchccr.StateBootstrapping:
			counts["bootstrapping"]++
			following[t.name] = true
			progress := ""
			if b := st.Bootstrap; b != nil {
				progress = fmt.Sprintf(" (%.0f%% of %s copied)", b.BytesPercent, bytesize.Format(b.BytesTotal))
			}
			res.Add(probe.Degraded,
				fmt.Sprintf("Wait for the initial copy to finish; if it does not progress, check GET _plugins/_replication/%s/_status?verbose=true and the follower's log.", t.name),
				fmt.Sprintf("%s is still copying its leader index%s: it is not a usable replica yet.", t.name, progress))
		case opensearchccr.StatePaused:
			counts["paused"]++
			following[t.name] = true
			res.Add(probe.Degraded,
				fmt.Sprintf("Resume with POST _plugins/_replication/%s/_resume on the follower. If that fails because the retention lease expired: %s", t.name, restart),
				fmt.Sprintf("Replication of %s is paused%s: it falls behind its leader.", t.name, reason(st.Reason)))
		case opensearchccr.StateFailed:
			counts["failed"]++
			following[t.name] = true
			res.Add(probe.Critical, "Start it again: "+restart, fmt.Sprintf("Replication of %s failed%s: it no longer follows its leader.", t.name, reason(st.Reason)))
		case opensearchccr.StateStopped:
			counts["stopped"]++
			res.Add(probe.Critical, "Start it again: "+restart, fmt.Sprintf("Replication of %s is stopped%s.", t.name, reason(st.Reason)))
		default: // REPLICATION NOT IN PROGRESS
			counts["not_following"]++
			switch {
			case !t.exists:
				// A missing expected index: the leader check says more when it can.
				if p.leader == nil {
					notReplicated(res, t.name, alias)
				}
			default:
				fix := fmt.Sprintf("If this region is the passive one, on the follower: DELETE /%s, then %s", t.name, startBody(t.name, alias))
				if !t.expected && hasRule {
					fix = fmt.Sprintf("If this region is the passive one, on the follower: DELETE /%s; the auto-follow rule then starts replicating it.", t.name)
				}
				res.Add(probe.Critical, fix,
					fmt.Sprintf("%s exists on the follower but does not follow the leader: it is a regular index, not a replica.", t.name))
			}
		}
	}
	if len(failedReads) > 0 {
		res.Add(probe.Unknown, p.fixFor(firstErr, "follower", "indices:admin/plugins/replication/index/status_check"),
			fmt.Sprintf("The replication status of %s could not be read: %v", list(failedReads), firstErr))
	}
	for _, state := range []string{"syncing", "bootstrapping", "paused", "failed", "stopped", "not_following"} {
		res.Gauge("dr_opensearch_follower_indices", "Mattermost indices on the follower by replication state.", float64(counts[state]), map[string]string{"state": state})
	}
	return following
}

// checkLeader finds the leader indices Mattermost uses that the follower does not follow.
func (p *Probe) checkLeader(ctx context.Context, res *probe.Result, targets []indexResult, following map[string]bool,
	stats opensearchccr.AutoFollowStats, alias string, hasRule bool) []string {
	if p.leader == nil {
		return nil
	}
	indices, err := p.leader.Indices(ctx, "")
	if err != nil {
		res.Add(probe.Unknown, p.fixFor(err, "leader", "indices:monitor/stats on *"),
			fmt.Sprintf("The leader's indices could not be listed, so unreplicated ones are not known: %v", err))
		for _, t := range targets {
			if t.expected && !t.exists && t.err == nil {
				notReplicated(res, t.name, alias)
			}
		}
		return nil
	}
	onFollower := map[string]bool{}
	for _, t := range targets {
		onFollower[t.name] = t.exists
	}
	var missingExpected, missingPosts []string
	for _, ix := range indices {
		name := ix.Name
		if system(name) || following[name] {
			continue
		}
		switch {
		case slices.Contains(p.o.ExpectedIndices, name):
			if !onFollower[name] {
				missingExpected = append(missingExpected, name)
			}
		case p.matches(name):
			if !onFollower[name] { // an index of that name on the follower is reported above
				missingPosts = append(missingPosts, name)
			}
		}
	}
	for _, name := range missingExpected {
		notReplicated(res, name, alias)
	}
	// Expected indices the leader does not have either: Mattermost has not created them yet.
	leaderHas := map[string]bool{}
	for _, ix := range indices {
		leaderHas[ix.Name] = true
	}
	for _, t := range targets {
		if t.expected && !t.exists && !leaderHas[t.name] && t.err == nil {
			res.Add(probe.Degraded,
				fmt.Sprintf("Enable indexing to OpenSearch in Mattermost (System Console > Environment > Elasticsearch) and run a bulk index; then on the follower: %s", startBody(t.name, alias)),
				fmt.Sprintf("Index %s exists on neither cluster: Mattermost has not created it, so it cannot be replicated.", t.name))
		}
	}
	if len(missingPosts) > 0 {
		failed := map[string]bool{}
		for _, f := range stats.FailedIndices {
			failed[f] = true
		}
		var notFailed []string
		for _, n := range missingPosts {
			if !failed[n] {
				notFailed = append(notFailed, n)
			}
		}
		switch {
		case !hasRule:
			res.Add(probe.Critical, "Add the auto-follow rule (see the finding about it); it then starts them.",
				fmt.Sprintf("Leader indices %s are not replicated.", list(missingPosts)))
		case len(notFailed) > 0:
			res.Add(probe.Degraded,
				fmt.Sprintf("The auto-follow rule starts new indices within a minute; if these stay, check the follower's log, or start one by hand: %s", startBody(notFailed[0], alias)),
				fmt.Sprintf("Leader indices %s are not replicated yet.", list(notFailed)))
		}
	}
	missing := slices.Concat(missingExpected, missingPosts)
	res.Gauge("dr_opensearch_unfollowed_leader_indices", "Leader indices Mattermost uses that the follower does not replicate.", float64(len(missing)), nil)
	sort.Strings(missing)
	return missing
}

func notReplicated(res *probe.Result, name, alias string) {
	res.Add(probe.Critical, "On the follower: "+startBody(name, alias),
		fmt.Sprintf("%s is not replicated: the follower has no such index.", name))
}

func reason(r string) string {
	if r == "" {
		return ""
	}
	return " (" + r + ")"
}

func list(names []string) string {
	const most = 5
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:most], ", "), len(names)-most)
}

func table(targets []indexResult, unfollowed []string) *probe.Table {
	t := &probe.Table{Columns: []string{"Index", "State", "Leader checkpoint", "Follower checkpoint", "Lag (operations)", "Details"}}
	for _, r := range targets {
		state, lc, fc, lag, details := "unknown", "-", "-", "-", ""
		switch {
		case r.err != nil:
			details = "status could not be read"
		case !r.exists && r.status.Status == opensearchccr.StateNotInProgress:
			state, details = "missing", "no such index on the follower"
		default:
			state = strings.ToLower(r.status.Status)
			if r.status.Status == opensearchccr.StateNotInProgress {
				state, details = "not following", "regular index"
			}
			if s := r.status.Syncing; s != nil {
				l, _ := r.status.Lag()
				lc, fc, lag = strconv.FormatInt(s.LeaderCheckpoint, 10), strconv.FormatInt(s.FollowerCheckpoint, 10), strconv.FormatInt(l, 10)
			}
			if b := r.status.Bootstrap; b != nil {
				details = fmt.Sprintf("%.0f%% copied", b.BytesPercent)
			}
			if r.status.Reason != "" && r.status.Status != opensearchccr.StateSyncing && r.status.Status != opensearchccr.StateBootstrapping {
				details = r.status.Reason
			}
		}
		t.Rows = append(t.Rows, []string{r.name, state, lc, fc, lag, details})
	}
	for _, name := range unfollowed {
		t.Rows = append(t.Rows, []string{name, "not replicated", "-", "-", "-", "leader index with no follower"})
	}
	return t
}

func (p *Probe) summary(res probe.Result, targets []indexResult, hasRule bool) string {
	if res.State != probe.Healthy {
		first := res.Findings[0]
		for _, f := range res.Findings {
			if f.State.Rank() > first.State.Rank() {
				first = f
			}
		}
		if len(res.Findings) == 1 {
			return first.Message
		}
		return fmt.Sprintf("%s (and %d more)", first.Message, len(res.Findings)-1)
	}
	var maxLag int64
	for _, t := range targets {
		if l, ok := t.status.Lag(); ok && l > maxLag {
			maxLag = l
		}
	}
	s := fmt.Sprintf("%d indices syncing, at most %d operations behind", len(targets), maxLag)
	if hasRule {
		s += "; auto-follow " + p.o.AutoFollowPattern + " active"
	}
	return s
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
