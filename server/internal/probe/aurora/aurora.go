// Package aurora is the status probe of an Aurora PostgreSQL global database: the global
// cluster exists, the expected region's cluster is the writer, every member is in sync, the
// secondary forwards writes, no switchover or failover is half done, the secondary's RPO
// and replication lag (CloudWatch) are within bounds, and this region's cluster can be
// restored to a recent point in time by AWS (its restorable window and backup retention).
package aurora

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/rds"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

const component = "database"

// Options configure the probe.
type Options struct {
	GlobalClusterID string
	// ThisRegion and ThisCluster are this Mattermost deployment's region and its cluster
	// (identifier or ARN); OtherRegion and OtherCluster the other region's.
	ThisRegion   string
	ThisCluster  string
	OtherRegion  string
	OtherCluster string
	// PrimaryRegion is the region whose cluster should be the writer (default ThisRegion).
	PrimaryRegion string

	// RPOLagThreshold and ReplicationLagThreshold make the probe degraded above them and
	// critical above CriticalFactor times them (defaults 30 s, the RPO threshold, and 10).
	RPOLagThreshold         time.Duration
	ReplicationLagThreshold time.Duration
	CriticalFactor          float64

	// RestorableLagThreshold makes the probe degraded when ThisCluster's latest restorable
	// time (AWS point-in-time restore) is older than this (default 15 minutes: AWS keeps it
	// within about 5).
	RestorableLagThreshold time.Duration

	// AWS configures the RDS and CloudWatch client. Its Region defaults to ThisRegion and
	// its MaxAttempts to 2; the regions of ThisCluster and OtherCluster are added to its
	// ClusterRegions.
	AWS rds.Options
}

// Probe checks one global database.
type Probe struct {
	o Options
	c *rds.Client
}

// New validates o and builds the AWS client.
func New(o Options) (*Probe, error) {
	if o.GlobalClusterID == "" || o.ThisRegion == "" || o.ThisCluster == "" {
		return nil, errors.New("aurora probe: the global cluster, this region and this region's cluster are required")
	}
	if o.OtherCluster != "" && o.OtherRegion == "" {
		return nil, errors.New("aurora probe: the other cluster needs its region")
	}
	if o.PrimaryRegion == "" {
		o.PrimaryRegion = o.ThisRegion
	}
	if o.PrimaryRegion != o.ThisRegion && o.PrimaryRegion != o.OtherRegion {
		return nil, fmt.Errorf("aurora probe: primary region %s is neither %s nor %s", o.PrimaryRegion, o.ThisRegion, o.OtherRegion)
	}
	if o.RPOLagThreshold <= 0 {
		o.RPOLagThreshold = 30 * time.Second
	}
	if o.ReplicationLagThreshold <= 0 {
		o.ReplicationLagThreshold = o.RPOLagThreshold
	}
	if o.CriticalFactor <= 1 {
		o.CriticalFactor = 10
	}
	if o.RestorableLagThreshold <= 0 {
		o.RestorableLagThreshold = 15 * time.Minute
	}
	if o.AWS.Region == "" {
		o.AWS.Region = o.ThisRegion
	}
	if o.AWS.MaxAttempts == 0 {
		// The status service gives a probe seconds: one retry fits, the SDK's backoff for a
		// third attempt would not.
		o.AWS.MaxAttempts = 2
	}
	regions := map[string]string{}
	for k, v := range o.AWS.ClusterRegions {
		regions[k] = v
	}
	regions[o.ThisCluster] = o.ThisRegion
	if o.OtherCluster != "" {
		regions[o.OtherCluster] = o.OtherRegion
	}
	o.AWS.ClusterRegions = regions
	// Loading the AWS configuration reads the environment and shared files, not the network:
	// nothing to cancel.
	c, err := rds.New(context.Background(), o.AWS)
	if err != nil {
		return nil, fmt.Errorf("aurora probe: %w", err)
	}
	return &Probe{o: o, c: c}, nil
}

// Component is where the status output shows the probe.
func (p *Probe) Component() string { return component }

// Name says what the probe checks.
func (p *Probe) Name() string { return "Aurora global database " + p.o.GlobalClusterID }

// Endpoint names the RDS endpoint asked first, for a probe that does not answer in time.
func (p *Probe) Endpoint() string {
	if ep := p.o.AWS.RegionEndpoints[p.o.AWS.Region].RDS; ep != "" {
		return ep
	}
	if p.o.AWS.RDSEndpoint != "" {
		return p.o.AWS.RDSEndpoint
	}
	return "rds." + p.o.AWS.Region + ".amazonaws.com"
}

// expectedWriter is the cluster that should take writes, per the primary region setting.
func (p *Probe) expectedWriter() (cluster, region string) {
	if p.o.PrimaryRegion == p.o.ThisRegion {
		return p.o.ThisCluster, p.o.ThisRegion
	}
	return p.o.OtherCluster, p.o.OtherRegion
}

// Probe runs the check; it returns when ctx ends (the status runner owns the deadline).
func (p *Probe) Probe(ctx context.Context) (res probe.Result) {
	g, err := p.c.GlobalCluster(ctx, p.o.GlobalClusterID)
	if errors.Is(err, rds.ErrNotFound) {
		res = probe.Result{Component: component, Name: p.Name(), State: probe.Healthy}
		res.Add(probe.Critical,
			fmt.Sprintf("Check the global cluster identifier in the Disaster Recovery settings (aws rds describe-global-clusters --region %s lists them).", p.o.AWS.Region),
			fmt.Sprintf("Global cluster %s does not exist (asked RDS in %s).", p.o.GlobalClusterID, p.o.AWS.Region))
		res.Summary = res.Findings[0].Message
		return res
	}
	if err != nil {
		return probe.Failed(component, p.Name(), err, p.fixFor(err, "rds:DescribeGlobalClusters"))
	}
	res = probe.Result{Component: component, Name: p.Name(), State: probe.Healthy}
	windowDone := p.readWindow(ctx)
	p.checkMembers(&res, g)
	lags := p.checkLag(ctx, &res, g)
	res.Table = table(g, lags)
	wr := <-windowDone
	res.Table.Rows = append(res.Table.Rows, p.checkRestorable(&res, wr.w, wr.err, time.Now())...)
	res.Summary = p.summary(res, g, lags)
	return res
}

// windowResult is what DescribeDBClusters said about ThisCluster's restorable window.
type windowResult struct {
	w   rds.RestorableWindow
	err error
}

// windowReserve bounds how much earlier than the probe's deadline the restorable window read
// gives up (a tenth of the time left, at most this): a hanging DescribeDBClusters then ends
// in a row that says so, and the rest of the result stands instead of the status runner's
// "did not answer".
const windowReserve = 250 * time.Millisecond

// readWindow reads ThisCluster's restorable window while the probe reads CloudWatch.
func (p *Probe) readWindow(ctx context.Context) <-chan windowResult {
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if dl, ok := ctx.Deadline(); ok {
		wctx, cancel = context.WithDeadline(ctx, dl.Add(-min(time.Until(dl)/10, windowReserve)))
	}
	ch := make(chan windowResult, 1)
	go func() {
		defer cancel()
		w, err := p.c.RestorableWindow(wctx, p.o.ThisCluster)
		ch <- windowResult{w, err}
	}()
	return ch
}

// fixFor says what to do about an AWS call that failed.
func (p *Probe) fixFor(err error, permission string) string {
	switch {
	case rds.IsAuthError(err):
		return fmt.Sprintf("Check the AWS credentials of the Disaster Recovery plugin and that its IAM policy allows %s.", permission)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return fmt.Sprintf("AWS did not answer in time: check that this server reaches the AWS API endpoints of %s (network, proxy, VPC endpoints).", p.o.AWS.Region)
	default:
		return "Check the AWS Health Dashboard for RDS and CloudWatch in the regions of the global database; the next status check tries again."
	}
}

func (p *Probe) checkMembers(res *probe.Result, g rds.GlobalCluster) {
	connected := 0
	for _, m := range g.Members {
		if m.Sync == rds.SyncConnected {
			connected++
		}
	}
	res.Gauge("dr_aurora_members", "Clusters in the Aurora global database.", float64(len(g.Members)), nil)
	res.Gauge("dr_aurora_members_connected", "Clusters of the Aurora global database whose synchronization status is connected.", float64(connected), nil)
	running := 0.0
	if g.Failover != nil {
		running = 1
	}
	res.Gauge("dr_aurora_failover_in_progress", "1 while a switchover or failover of the Aurora global database runs.", running, nil)

	for _, c := range []struct{ cluster, region string }{{p.o.ThisCluster, p.o.ThisRegion}, {p.o.OtherCluster, p.o.OtherRegion}} {
		if c.cluster == "" {
			continue
		}
		if _, ok := g.Member(c.cluster); !ok {
			res.Add(probe.Critical,
				fmt.Sprintf("Add the cluster to the global database (RDS console: Add AWS Region), or correct the cluster name for %s in the Disaster Recovery settings.", c.region),
				fmt.Sprintf("Cluster %s (%s) is not a member of global cluster %s.", c.cluster, c.region, g.ID))
		}
	}

	if fs := g.Failover; fs != nil {
		kind := "A switchover"
		if fs.DataLossAllowed {
			kind = "A failover allowing data loss"
		}
		res.Add(probe.Degraded,
			"Wait for it to finish and check again in a minute; do not start another switchover or failover meanwhile.",
			fmt.Sprintf("%s of global cluster %s is running (%s): writer moving from %s to %s.", kind, g.ID, fs.Status, arnID(fs.From), arnID(fs.To)))
	} else if g.Status != "" && g.Status != "available" {
		res.Add(probe.Degraded,
			fmt.Sprintf("Check the global cluster's events: aws rds describe-events --source-type db-cluster --region %s.", p.o.AWS.Region),
			fmt.Sprintf("Global cluster %s is %s, not available.", g.ID, g.Status))
	}

	expCluster, expRegion := p.expectedWriter()
	w, hasWriter := g.Writer()
	writerOK := hasWriter && (w.ID == expCluster || w.ARN == expCluster)
	ok := 0.0
	if writerOK {
		ok = 1
	}
	res.Gauge("dr_aurora_writer_expected", "1 when the writer of the Aurora global database is the primary region's cluster.", ok, nil)
	switch {
	case !hasWriter && g.Failover == nil: // mid-operation, the running operation's finding says it
		res.Add(probe.Critical,
			fmt.Sprintf("Check the global cluster in the RDS console; if the primary region is down, fail over: aws rds failover-global-cluster --global-cluster-identifier %s --target-db-cluster-identifier <secondary cluster ARN> --allow-data-loss --region <secondary region>.", g.ID),
			fmt.Sprintf("Global cluster %s has no writer: nothing can write to the database.", g.ID))
	case !writerOK && g.Failover == nil && expCluster != "":
		res.Add(probe.Critical,
			fmt.Sprintf("If the writer moved on purpose, set the primary region to %s in the Disaster Recovery settings. Otherwise switch back: aws rds switchover-global-cluster --global-cluster-identifier %s --target-db-cluster-identifier <ARN of %s> --region %s.", w.Region, g.ID, expCluster, expRegion),
			fmt.Sprintf("The writer of %s is %s in %s, but the primary region %s expects %s: Mattermost in %s writes to a read-only cluster.", g.ID, w.ID, w.Region, expRegion, expCluster, expRegion))
	}

	for _, m := range g.Members {
		if m.Sync != "" && m.Sync != rds.SyncConnected {
			res.Add(probe.Degraded,
				fmt.Sprintf("RDS resynchronises the cluster by itself; if it stays %s, check its events: aws rds describe-events --source-type db-cluster --source-identifier %s --region %s.", m.Sync, m.ID, m.Region),
				fmt.Sprintf("Cluster %s (%s) is %s, not connected: it does not receive the writer's changes.", m.ID, m.Region, m.Sync))
		}
		if m.IsWriter {
			continue
		}
		enabled := 0.0
		switch m.WriteForwarding {
		case rds.ForwardingEnabled:
			enabled = 1
		case "enabling":
			res.Add(probe.Degraded, "Wait a few minutes for RDS to finish enabling it.",
				fmt.Sprintf("Write forwarding is being enabled on secondary cluster %s (%s).", m.ID, m.Region))
		default:
			state := m.WriteForwarding
			if state == "" {
				state = "not enabled"
			}
			res.Add(probe.Degraded,
				fmt.Sprintf("Enable it: aws rds modify-db-cluster --db-cluster-identifier %s --enable-global-write-forwarding --region %s.", m.ID, m.Region),
				fmt.Sprintf("Write forwarding is %s on secondary cluster %s (%s): the secondary region needs it.", state, m.ID, m.Region))
		}
		res.Gauge("dr_aurora_write_forwarding_enabled", "1 when write forwarding is enabled on a secondary cluster of the Aurora global database.", enabled,
			map[string]string{"cluster": m.ID, "region": m.Region})
	}
}

// memberLag is what CloudWatch said about one secondary.
type memberLag struct {
	lag rds.Lag
	err error
}

func (p *Probe) checkLag(ctx context.Context, res *probe.Result, g rds.GlobalCluster) map[string]memberLag {
	lags := map[string]memberLag{}
	for _, m := range g.Members {
		if m.IsWriter {
			continue
		}
		l, err := p.c.Lag(ctx, m.ARN)
		lags[m.ARN] = memberLag{l, err}
		labels := map[string]string{"cluster": m.ID, "region": m.Region}
		if err != nil {
			res.Add(probe.Unknown, p.fixFor(err, "cloudwatch:GetMetricData in "+m.Region),
				fmt.Sprintf("The lag of secondary cluster %s could not be read: %v", m.ID, err))
			continue
		}
		for _, metric := range []struct {
			sample      *rds.Sample
			name        string
			metric      string
			what        string
			threshold   time.Duration
			consequence string
			help        string
		}{
			{l.RPO, "dr_aurora_rpo_lag_seconds", rds.MetricRPOLag, "RPO lag", p.o.RPOLagThreshold,
				"a failover now would lose about that much of the latest writes",
				"RPO lag of an Aurora global database secondary cluster: the newest CloudWatch AuroraGlobalDBRPOLag datapoint."},
			{l.Replication, "dr_aurora_replication_lag_seconds", rds.MetricReplicationLag, "Replication lag", p.o.ReplicationLagThreshold,
				"reads in the secondary region are that far behind",
				"Replication lag of an Aurora global database secondary cluster: the newest CloudWatch AuroraGlobalDBReplicationLag datapoint."},
		} {
			if metric.sample == nil {
				res.Add(probe.Unknown,
					fmt.Sprintf("Check that %s is a secondary of %s and that this server may read CloudWatch in %s (cloudwatch:GetMetricData); a new secondary publishes it after a few minutes.", m.ID, g.ID, m.Region),
					fmt.Sprintf("CloudWatch has no %s datapoint for %s in %s over the last %s: the %s is unknown.", metric.metric, m.ID, m.Region, l.Window, strings.ToLower(metric.what)))
				continue
			}
			v := metric.sample.Value
			res.Gauge(metric.name, metric.help, v.Seconds(), labels)
			critical := time.Duration(float64(metric.threshold) * p.o.CriticalFactor)
			fix := fmt.Sprintf("Check the writer's write load and the network between the regions, and the events of %s: aws rds describe-events --source-type db-cluster --source-identifier %s --region %s.", m.ID, m.ID, m.Region)
			switch {
			case v > critical:
				res.Add(probe.Critical, fix, fmt.Sprintf("%s of %s is %s, over %s (%g× the %s threshold): %s.", metric.what, m.ID, round(v), round(critical), p.o.CriticalFactor, round(metric.threshold), metric.consequence))
			case v > metric.threshold:
				res.Add(probe.Degraded, fix, fmt.Sprintf("%s of %s is %s, over the %s threshold: %s.", metric.what, m.ID, round(v), round(metric.threshold), metric.consequence))
			}
		}
	}
	return lags
}

// Labels of the restorable window rows in the probe's table.
const (
	rowRestorableWindow = "Restorable window (AWS PITR)"
	rowBackupRetention  = "Backup retention"
)

// checkRestorable judges ThisCluster's point-in-time restore window as of now (err: it could
// not be read) and returns its table rows.
func (p *Probe) checkRestorable(res *probe.Result, w rds.RestorableWindow, err error, now time.Time) [][]string {
	if err != nil {
		fix := p.fixFor(err, "rds:DescribeDBClusters")
		if errors.Is(err, rds.ErrClusterNotFound) {
			fix = fmt.Sprintf("Check the cluster name for %s in the Disaster Recovery settings (aws rds describe-db-clusters --region %s lists them).", p.o.ThisRegion, p.o.ThisRegion)
		}
		res.Add(probe.Unknown, fix, fmt.Sprintf("The restorable window (AWS point-in-time restore) of cluster %s could not be read: %v", p.o.ThisCluster, err))
		return [][]string{{rowRestorableWindow, "could not be read: " + err.Error()}, {rowBackupRetention, "unknown"}}
	}
	labels := map[string]string{"cluster": w.Cluster, "region": w.Region}
	events := fmt.Sprintf("aws rds describe-events --source-type db-cluster --source-identifier %s --region %s", w.Cluster, w.Region)

	window := "not reported"
	if w.Latest.IsZero() {
		res.Add(probe.Degraded,
			fmt.Sprintf("RDS reports it once the cluster's first automated backup is done; if it stays missing, check the cluster's events: %s.", events),
			fmt.Sprintf("RDS reports no latest restorable time for cluster %s (%s): AWS point-in-time restore cannot restore it yet.", w.Cluster, w.Region))
	} else {
		lag := max(now.Sub(w.Latest), 0) // a clock ahead of AWS's is not negative lag
		res.Gauge("dr_aurora_restorable_lag_seconds",
			"Seconds between now and the latest restorable time (AWS point-in-time restore) of this region's Aurora cluster.", lag.Seconds(), labels)
		window = fmt.Sprintf("%s → %s (%s; latest %s ago)", timeOrDash(w.Earliest), timeOrDash(w.Latest), w.Cluster, lag.Round(time.Second))
		if lag > p.o.RestorableLagThreshold {
			res.Add(probe.Degraded,
				fmt.Sprintf("Check the cluster's status and events (%s); AWS keeps the latest restorable time within about 5 minutes, so a gap that stays needs AWS Support.", events),
				fmt.Sprintf("The latest restorable time of cluster %s is %s old (%s), over the %s threshold: an AWS point-in-time restore now would lose the writes since then.",
					w.Cluster, lag.Round(time.Second), timeOrDash(w.Latest), p.o.RestorableLagThreshold))
		}
	}

	res.Gauge("dr_aurora_backup_retention_days",
		"Days of automated backups RDS keeps for this region's Aurora cluster (BackupRetentionPeriod): how far back point-in-time restore reaches.", float64(w.RetentionDays), labels)
	if w.RetentionDays <= 1 {
		res.Add(probe.Degraded,
			fmt.Sprintf("Keep a week or more: aws rds modify-db-cluster --db-cluster-identifier %s --backup-retention-period 7 --region %s.", w.Cluster, w.Region),
			fmt.Sprintf("Backup retention of cluster %s is %s: AWS point-in-time restore reaches back no further, so a bad change noticed later cannot be undone.", w.Cluster, days(w.RetentionDays)))
	}
	return [][]string{{rowRestorableWindow, window}, {rowBackupRetention, fmt.Sprintf("%s (%s)", days(w.RetentionDays), w.Cluster)}}
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

func round(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

func arnID(arn string) string {
	if _, id, ok := rds.ParseClusterARN(arn); ok {
		return id
	}
	return arn
}

func table(g rds.GlobalCluster, lags map[string]memberLag) *probe.Table {
	t := &probe.Table{Columns: []string{"Cluster", "Region", "Role", "Synchronization", "Write forwarding", "RPO lag", "Replication lag"}}
	members := append([]rds.Member(nil), g.Members...)
	sort.SliceStable(members, func(i, j int) bool { return members[i].IsWriter && !members[j].IsWriter })
	for _, m := range members {
		role, fwd, rpo, repl := "secondary", orDash(m.WriteForwarding), "-", "-"
		if m.IsWriter {
			role, fwd = "writer", "-"
		}
		if l, ok := lags[m.ARN]; ok {
			switch {
			case l.err != nil:
				rpo, repl = "unknown", "unknown"
			default:
				rpo, repl = sample(l.lag.RPO), sample(l.lag.Replication)
			}
		}
		t.Rows = append(t.Rows, []string{m.ID, m.Region, role, orDash(m.Sync), fwd, rpo, repl})
	}
	return t
}

func sample(s *rds.Sample) string {
	if s == nil {
		return "no data"
	}
	return round(s.Value).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (p *Probe) summary(res probe.Result, g rds.GlobalCluster, lags map[string]memberLag) string {
	if res.State != probe.Healthy {
		n := len(res.Findings)
		first := res.Findings[0]
		for _, f := range res.Findings {
			if f.State.Rank() > first.State.Rank() {
				first = f
			}
		}
		if n == 1 {
			return first.Message
		}
		return fmt.Sprintf("%s (and %d more)", first.Message, n-1)
	}
	w, _ := g.Writer()
	parts := []string{fmt.Sprintf("writer %s in %s", w.ID, w.Region)}
	for _, m := range g.Members {
		if l, ok := lags[m.ARN]; ok && l.err == nil && l.lag.RPO != nil {
			parts = append(parts, fmt.Sprintf("%s RPO lag %s", m.ID, round(l.lag.RPO.Value)))
		}
	}
	return strings.Join(parts, ", ")
}
