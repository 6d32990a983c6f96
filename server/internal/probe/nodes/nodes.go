// Package nodes checks what the Mattermost nodes report about themselves against the
// deployment's topology: that the job scheduler runs where it should (in the primary region)
// and nowhere else, that the two regions are separate clusters, that every node runs the same
// version, and that no node has gone quiet.
package nodes

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// Component is the status component this probe reports under.
const Component = "scheduler"

// NodeReport is what one Mattermost node says about itself.
type NodeReport struct {
	NodeID       string    `json:"node_id"`
	Hostname     string    `json:"hostname"`
	Region       string    `json:"region"`
	ClusterName  string    `json:"cluster_name"`
	RunScheduler bool      `json:"run_scheduler"`
	Version      string    `json:"version"`
	ReportedAt   time.Time `json:"reported_at"`
}

// Topology is the deployment's shape.
type Topology string

// Topologies.
const (
	Single     Topology = "single"      // one region
	TwoRegions Topology = "two_regions" // a primary and a standby region
)

// DefaultStaleAfter is when a report counts as stale: nodes report every minute or so, and
// five missed reports mean the node is gone or stuck, not merely slow.
const DefaultStaleAfter = 5 * time.Minute

// Expect is what the deployment should look like.
type Expect struct {
	Topology        Topology
	PrimaryRegion   string
	SecondaryRegion string // optional: named regions get metrics even with no node up
	// Scheduler says whether nodes of a region should run the job scheduler. Regions not
	// listed: true in the primary region, false elsewhere, because a standby region running
	// jobs would run them twice or against a read-only replica.
	Scheduler map[string]bool
	// StaleAfter is how old a report may be before the node counts as gone (0: default).
	StaleAfter time.Duration
}

func (e Expect) scheduler(region string) bool {
	if v, ok := e.Scheduler[region]; ok {
		return v
	}
	return e.Topology != TwoRegions || region == e.PrimaryRegion
}

func (e Expect) staleAfter() time.Duration {
	if e.StaleAfter > 0 {
		return e.StaleAfter
	}
	return DefaultStaleAfter
}

// Options say where the node reports come from and what to expect of them.
type Options struct {
	Source func(ctx context.Context) ([]NodeReport, error)
	Expect Expect
	Now    func() time.Time // nil: time.Now
}

// Probe runs Analyze on the reports Source returns; it satisfies status.Prober.
type Probe struct{ o Options }

// New returns the probe for o.
func New(o Options) *Probe {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Probe{o: o}
}

// Component is the status component.
func (p *Probe) Component() string { return Component }

// Name says what is checked.
func (p *Probe) Name() string { return "Mattermost nodes" }

// Probe reads the node reports and analyses them.
func (p *Probe) Probe(ctx context.Context) probe.Result {
	reports, err := p.o.Source(ctx)
	if err != nil {
		return probe.Failed(Component, p.Name(), fmt.Errorf("reading the node reports: %w", err),
			"check the plugin's access to the KV store and the server log")
	}
	r := Analyze(reports, p.o.Expect, p.o.Now())
	r.Name = p.Name()
	return r
}

const noRegion = "(none)"

func regionOf(n NodeReport) string {
	if n.Region == "" {
		return noRegion
	}
	return n.Region
}

func nodeName(n NodeReport) string {
	if n.Hostname != "" {
		return n.Hostname
	}
	return n.NodeID
}

// Analyze checks the nodes' reports against exp at now.
func Analyze(reports []NodeReport, exp Expect, now time.Time) probe.Result {
	r := probe.Result{Component: Component, Name: "Mattermost nodes", State: probe.Healthy, CheckedAt: now}
	if exp.Topology == "" {
		exp.Topology = Single
	}
	nodes := newest(reports)
	if len(nodes) == 0 {
		r.Summary = "no node has reported"
		r.Add(probe.Unknown, "check that the plugin is enabled and running on every node",
			"no Mattermost node has reported its settings, so the scheduler cannot be checked")
		return r
	}

	stale := map[string]bool{}
	var live []NodeReport
	for _, n := range nodes {
		if n.ReportedAt.IsZero() || now.Sub(n.ReportedAt) > exp.staleAfter() {
			stale[n.NodeID] = true
			continue
		}
		live = append(live, n)
	}
	notes := map[string][]string{}
	note := func(n NodeReport, s string) { notes[n.NodeID] = append(notes[n.NodeID], s) }

	for _, n := range nodes {
		if !stale[n.NodeID] {
			continue
		}
		when := "has no report time"
		if !n.ReportedAt.IsZero() {
			when = "last reported " + humanAgo(now.Sub(n.ReportedAt))
		}
		note(n, "no recent report")
		r.Add(probe.Degraded, "if the node was removed, ignore this until its report expires; otherwise check that Mattermost and the plugin run on it",
			fmt.Sprintf("node %s (region %s) %s: is it gone?", nodeName(n), regionOf(n), when))
	}

	checkRegions(&r, live, exp, note)
	checkScheduler(&r, live, exp, note)
	checkClusterNames(&r, live, exp)
	checkVersions(&r, live, note)

	r.Table = table(nodes, exp, stale, notes, now)
	addMetrics(&r, live, exp)
	r.Summary = summary(live, len(nodes)-len(live), exp)
	r.SortFindings()
	return r
}

// newest keeps each node's newest report: a node that restarted may have reported twice.
func newest(reports []NodeReport) []NodeReport {
	byID := map[string]NodeReport{}
	var order []string
	for _, n := range reports {
		id := n.NodeID
		if id == "" {
			id = "host:" + n.Hostname
		}
		n.NodeID = id
		old, ok := byID[id]
		if !ok {
			order = append(order, id)
		}
		if !ok || n.ReportedAt.After(old.ReportedAt) {
			byID[id] = n
		}
	}
	out := make([]NodeReport, 0, len(order))
	for _, id := range order {
		out = append(out, byID[id])
	}
	return out
}

func checkRegions(r *probe.Result, live []NodeReport, exp Expect, note func(NodeReport, string)) {
	if exp.Topology != TwoRegions {
		return
	}
	regions := map[string]bool{}
	for _, n := range live {
		if n.Region == "" {
			note(n, "no region")
			r.Add(probe.Degraded, "set the node's region in the plugin settings or its environment",
				fmt.Sprintf("node %s reports no region, so it cannot be told apart from the other region's nodes", nodeName(n)))
			continue
		}
		regions[n.Region] = true
	}
	known := map[string]bool{exp.PrimaryRegion: true}
	if exp.SecondaryRegion != "" {
		known[exp.SecondaryRegion] = true
	}
	if len(regions) > 2 || (exp.SecondaryRegion != "" && len(regions) == 2 && !allKnown(regions, known)) {
		var extra []string
		for reg := range regions {
			if !known[reg] {
				extra = append(extra, reg)
			}
		}
		sort.Strings(extra)
		r.Add(probe.Degraded, "check the region setting of those nodes",
			fmt.Sprintf("nodes report %d regions; unexpected: %s", len(regions), strings.Join(extra, ", ")))
	}
}

func allKnown(regions, known map[string]bool) bool {
	for reg := range regions {
		if !known[reg] {
			return false
		}
	}
	return true
}

func checkScheduler(r *probe.Result, live []NodeReport, exp Expect, note func(NodeReport, string)) {
	if exp.Topology == TwoRegions && exp.PrimaryRegion == "" {
		r.Add(probe.Unknown, "set the primary region in the plugin settings",
			"the primary region is not set, so the scheduler's placement cannot be checked")
		return
	}
	primaryLive, primarySched := 0, 0
	for _, n := range live {
		inPrimary := exp.Topology != TwoRegions || n.Region == exp.PrimaryRegion
		if inPrimary {
			primaryLive++
			if n.RunScheduler {
				primarySched++
			}
		}
		// A node without a region is reported by checkRegions; which rule applies is unknown.
		if n.RunScheduler && n.Region != "" && !exp.scheduler(n.Region) {
			note(n, "should not run the scheduler")
			r.Add(probe.Critical,
				fmt.Sprintf("set JobSettings.RunScheduler to false on the nodes of region %s (MM_JOBSETTINGS_RUNSCHEDULER=false)", n.Region),
				fmt.Sprintf("node %s in region %s runs the job scheduler: jobs would run in both regions, or fail against the read-only replica", nodeName(n), n.Region))
		}
	}
	if !exp.scheduler(exp.PrimaryRegion) && exp.Topology == TwoRegions {
		return // the admin said so
	}
	where := ""
	if exp.Topology == TwoRegions {
		where = " in the primary region " + exp.PrimaryRegion
	}
	switch {
	case primaryLive == 0:
		fix := "start the Mattermost nodes" + where
		if exp.Topology == TwoRegions {
			fix += "; after a failover, make the new region the primary in the plugin settings"
		}
		r.Add(probe.Critical, fix, "no live Mattermost node"+where+", so no node runs the job scheduler")
	case primarySched == 0:
		r.Add(probe.Critical, "set JobSettings.RunScheduler to true on the nodes"+where,
			fmt.Sprintf("none of the %d live nodes%s runs the job scheduler: scheduled jobs (data retention, exports, LDAP sync) do not run", primaryLive, where))
	}
}

func checkClusterNames(r *probe.Result, live []NodeReport, exp Expect) {
	regionsByCluster := map[string]map[string]bool{}
	clustersByRegion := map[string]map[string]bool{}
	for _, n := range live {
		if n.ClusterName == "" || n.Region == "" {
			continue
		}
		add(regionsByCluster, n.ClusterName, n.Region)
		add(clustersByRegion, n.Region, n.ClusterName)
	}
	if exp.Topology == TwoRegions {
		for _, name := range sortedKeys(regionsByCluster) {
			if regs := sortedKeys(regionsByCluster[name]); len(regs) > 1 {
				r.Add(probe.Degraded, "give each region's nodes their own ClusterSettings.ClusterName",
					fmt.Sprintf("regions %s share the cluster name %q: their nodes would gossip and elect one leader across regions", strings.Join(regs, " and "), name))
			}
		}
	}
	for _, reg := range sortedKeys(clustersByRegion) {
		if names := sortedKeys(clustersByRegion[reg]); len(names) > 1 {
			r.Add(probe.Degraded, "give all nodes of a region the same ClusterSettings.ClusterName",
				fmt.Sprintf("nodes in region %s report %d cluster names (%s): they form separate clusters", reg, len(names), strings.Join(names, ", ")))
		}
	}
}

func checkVersions(r *probe.Result, live []NodeReport, note func(NodeReport, string)) {
	byVersion := map[string][]NodeReport{}
	for _, n := range live {
		if n.Version != "" {
			byVersion[n.Version] = append(byVersion[n.Version], n)
		}
	}
	if len(byVersion) < 2 {
		return
	}
	versions := sortedKeys(byVersion)
	// The version most nodes run is "the" version; the others are the odd ones out.
	sort.SliceStable(versions, func(i, j int) bool { return len(byVersion[versions[i]]) > len(byVersion[versions[j]]) })
	var parts []string
	for i, v := range versions {
		var names []string
		for _, n := range byVersion[v] {
			names = append(names, nodeName(n))
			if i > 0 {
				note(n, "version differs")
			}
		}
		parts = append(parts, fmt.Sprintf("%s on %s", v, strings.Join(names, ", ")))
	}
	r.Add(probe.Degraded, "finish the upgrade so that every node, in both regions, runs the same version",
		"nodes run different Mattermost versions: "+strings.Join(parts, "; "))
}

func table(nodes []NodeReport, exp Expect, stale map[string]bool, notes map[string][]string, now time.Time) *probe.Table {
	sorted := append([]NodeReport(nil), nodes...)
	rank := func(n NodeReport) int {
		switch n.Region {
		case exp.PrimaryRegion:
			return 0
		case "":
			return 2
		default:
			return 1
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if rank(a) != rank(b) {
			return rank(a) < rank(b)
		}
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		return nodeName(a) < nodeName(b)
	})
	t := &probe.Table{Columns: []string{"Node", "Region", "Cluster", "Scheduler", "Version", "Last report", "Note"}}
	for _, n := range sorted {
		sched := "no"
		if n.RunScheduler {
			sched = "yes"
		}
		last := "never"
		if !n.ReportedAt.IsZero() {
			last = humanAgo(now.Sub(n.ReportedAt))
		}
		if stale[n.NodeID] {
			last += " (stale)"
		}
		t.Rows = append(t.Rows, []string{nodeName(n), regionOf(n), n.ClusterName, sched, n.Version, last, strings.Join(notes[n.NodeID], "; ")})
	}
	return t
}

func addMetrics(r *probe.Result, live []NodeReport, exp Expect) {
	count, sched := map[string]int{}, map[string]int{}
	// Expected regions always get a sample, so "no scheduler in the primary" is a 0 an alert
	// rule can see, not a missing series.
	if exp.PrimaryRegion != "" {
		count[exp.PrimaryRegion], sched[exp.PrimaryRegion] = 0, 0
	}
	if exp.SecondaryRegion != "" {
		count[exp.SecondaryRegion], sched[exp.SecondaryRegion] = 0, 0
	}
	for _, n := range live {
		count[regionOf(n)]++
		if n.RunScheduler {
			sched[regionOf(n)]++
		}
	}
	for _, reg := range sortedKeys(count) {
		r.Gauge("dr_nodes", "Mattermost nodes with a recent report, by region.", float64(count[reg]), map[string]string{"region": reg})
	}
	for _, reg := range sortedKeys(sched) {
		r.Gauge("dr_scheduler_nodes", "Mattermost nodes running the job scheduler, by region.", float64(sched[reg]), map[string]string{"region": reg})
	}
}

func summary(live []NodeReport, stale int, exp Expect) string {
	regions := map[string]bool{}
	sched := 0
	for _, n := range live {
		regions[regionOf(n)] = true
		if n.RunScheduler {
			sched++
		}
	}
	s := plural(len(live), "live node")
	if exp.Topology == TwoRegions {
		s += fmt.Sprintf(" in %s", plural(len(regions), "region"))
	}
	s += fmt.Sprintf(", %d running the scheduler", sched)
	if stale > 0 {
		s += fmt.Sprintf(", %d not reporting", stale)
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func humanAgo(d time.Duration) string {
	switch {
	case d < 0:
		return "just now" // the node's clock is ahead of ours
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h ago"
	default:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d ago"
	}
}

func add(m map[string]map[string]bool, k, v string) {
	if m[k] == nil {
		m[k] = map[string]bool{}
	}
	m[k][v] = true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
