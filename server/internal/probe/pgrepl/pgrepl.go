// Package pgrepl checks self-hosted PostgreSQL streaming replication: it asks the primary
// (Mattermost's SqlSettings.DataSource) which standbys stream from it and how far behind they
// are, and asks each replica (SqlSettings.DataSourceReplicas, plus any DR standby the caller
// adds) whether it is still a standby, streams, replays, and how far behind it is.
package pgrepl

import (
	"context"
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/bytesize"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// Component is the probe.Result component of this probe.
const Component = "database"

// Metric names.
const (
	MetricLagBytes   = "dr_pg_replication_lag_bytes"
	MetricLagSeconds = "dr_pg_replication_lag_seconds"
	MetricStreaming  = "dr_pg_replicas_streaming"
)

// Defaults of Options.
const (
	DefaultMaxLagBytes    = 16 << 20 // one WAL segment
	DefaultMaxLag         = 30 * time.Second
	DefaultConnectTimeout = 10 * time.Second
)

// Options says what to check and when lag is too much.
type Options struct {
	// PrimaryDSN is the primary's connection string (SqlSettings.DataSource): URL or key=value.
	PrimaryDSN string
	// ReplicaDSNs are the standbys to check (SqlSettings.DataSourceReplicas, and DR standbys
	// that Mattermost does not read from). Standbys streaming from the primary that are not
	// listed are shown too, from the primary's side only.
	ReplicaDSNs []string
	// MaxLagBytes and MaxLag: a replica further behind than either is degraded.
	// Zero means the default; negative disables the threshold.
	MaxLagBytes int64
	MaxLag      time.Duration
	// ConnectTimeout bounds each connection attempt (also when the DSN sets a longer
	// connect_timeout). Zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration
}

// FromSQLSettings returns the Options for Mattermost's database settings: the primary and its
// read replicas. SqlSettings.DataSourceSearchReplicas are left out: they are usually the same
// servers.
func FromSQLSettings(s *model.SqlSettings) Options {
	var o Options
	if s == nil {
		return o
	}
	if s.DriverName != nil && *s.DriverName != "" && *s.DriverName != model.DatabaseDriverPostgres {
		return o // only PostgreSQL streams this way
	}
	if s.DataSource != nil {
		o.PrimaryDSN = *s.DataSource
	}
	o.ReplicaDSNs = append(o.ReplicaDSNs, s.DataSourceReplicas...)
	return o
}

func (o Options) withDefaults() Options {
	if o.MaxLagBytes == 0 {
		o.MaxLagBytes = DefaultMaxLagBytes
	}
	if o.MaxLag == 0 {
		o.MaxLag = DefaultMaxLag
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	return o
}

// replica is one configured replica and what the probe learnt about it.
type replica struct {
	n        int     // position in ReplicaDSNs, from 1
	srv      *server // nil when the DSN does not parse
	parseErr error
	state    replicaState
	sender   *sender // its row in the primary's pg_stat_replication
}

func (r *replica) label() string {
	if r.srv == nil {
		return fmt.Sprintf("replica #%d", r.n)
	}
	return r.srv.label
}

func (r *replica) metricLabel() string {
	if r.srv == nil {
		return fmt.Sprintf("replica#%d", r.n)
	}
	return r.srv.addr
}

// Probe checks the primary and replicas of Options; it satisfies status.Prober.
type Probe struct{ o Options }

// New returns the probe for o.
func New(o Options) *Probe { return &Probe{o: o.withDefaults()} }

// Component is the status component.
func (p *Probe) Component() string { return Component }

// Name says what is checked.
func (p *Probe) Name() string { return "PostgreSQL streaming replication" }

// ReportsPartial is true: a server that does not answer is reported with what the others said.
func (p *Probe) ReportsPartial() bool { return true }

// Probe runs the check; it returns when ctx ends (the status runner owns the deadline). What
// it cannot check is reported as unknown, with the cause.
func (p *Probe) Probe(ctx context.Context) probe.Result {
	o := p.o
	res := probe.Result{Component: Component, Name: p.Name(), State: probe.Healthy}
	if strings.TrimSpace(o.PrimaryDSN) == "" && len(o.ReplicaDSNs) == 0 {
		res.State = probe.NotConfigured
		res.Summary = "no PostgreSQL DataSource configured"
		return res
	}

	var primary *server
	var perr error
	if strings.TrimSpace(o.PrimaryDSN) == "" {
		perr = fmt.Errorf("no primary DSN (SqlSettings.DataSource) given")
	} else if primary, perr = parseDSN(o.PrimaryDSN, o.ConnectTimeout); perr == nil {
		res.Name += " (primary " + primary.label + ")"
	} else {
		perr = fmt.Errorf("primary: %w", perr)
	}
	replicas := make([]*replica, len(o.ReplicaDSNs))
	for i, dsn := range o.ReplicaDSNs {
		r := &replica{n: i + 1}
		r.srv, r.parseErr = parseDSN(dsn, o.ConnectTimeout)
		replicas[i] = r
	}

	// Ask every server at once: a dead one costs its connect timeout once, not once per server.
	var wg sync.WaitGroup
	var ps primaryState
	if primary != nil {
		wg.Go(func() { ps = queryPrimary(ctx, primary) })
	}
	for _, r := range replicas {
		if r.srv != nil {
			wg.Go(func() { r.state = queryReplica(ctx, r.srv) })
		}
	}
	wg.Wait()
	if primary == nil {
		ps.err = perr
	}

	e := evaluation{res: &res, o: o, primary: primary, ps: ps, replicas: replicas}
	e.run(ctx)
	return res
}

// evaluation turns what the servers said into findings, a table and metrics.
type evaluation struct {
	res      *probe.Result
	o        Options
	primary  *server
	ps       primaryState
	replicas []*replica

	primaryOK   bool // the primary answered and is not in recovery
	visible     bool // pg_stat_replication's details are readable
	streaming   int
	maxBytes    float64
	maxSeconds  float64
	lagMeasured bool
}

func (e *evaluation) run(ctx context.Context) {
	e.checkPrimary()
	if e.primaryOK {
		e.match(ctx)
	}
	e.res.Table = &probe.Table{Columns: []string{"Replica", "In recovery", "WAL receiver", "State on primary", "Sync",
		"WAL sent / written / flushed / replayed", "Behind (bytes)", "Lag (s)", "Write / flush / replay lag (s)",
		"Replay paused", "Last replayed commit"}}
	for _, r := range e.replicas {
		e.checkReplica(ctx, r)
	}
	for i := range e.ps.senders {
		if s := &e.ps.senders[i]; !e.matched(s) {
			e.checkOtherStandby(s)
		}
	}
	if e.primaryOK && e.visible {
		e.streaming = 0
		for _, s := range e.ps.senders {
			if deref(s.state) == "streaming" {
				e.streaming++
			}
		}
	}
	e.res.Gauge(MetricStreaming, "Standbys streaming WAL from the PostgreSQL primary (from the replicas when the primary cannot tell).",
		float64(e.streaming), nil)
	e.summarize()
}

func (e *evaluation) checkPrimary() {
	switch {
	case e.ps.err != nil:
		state := severity(e.ps.err)
		if e.primary == nil {
			state = probe.Unknown
		}
		e.res.Add(state, "Check that PostgreSQL runs on the primary, that this Mattermost node reaches it and that SqlSettings.DataSource is right.",
			fmt.Sprintf("cannot check the primary: %v", e.ps.err))
	case e.ps.inRecovery:
		e.res.Add(probe.Critical, "Point SqlSettings.DataSource at the current primary; or, if the old primary is gone for good, promote this server (SELECT pg_promote()).",
			fmt.Sprintf("the primary %s is in recovery (it is a standby): Mattermost cannot write to it. Did a failover promote another server?", e.primary.label))
	default:
		e.primaryOK = true
		e.visible = true
		for _, s := range e.ps.senders {
			if s.state == nil {
				e.visible = false
			}
		}
		if !e.visible {
			e.res.Add(probe.Unknown, fmt.Sprintf("GRANT pg_monitor TO %q; on the primary.", e.primary.cfg.User),
				fmt.Sprintf("the primary hides the details of pg_stat_replication from user %s: streaming state and lag on the primary's side cannot be read", e.primary.cfg.User))
		}
	}
}

func (e *evaluation) matched(s *sender) bool {
	for _, r := range e.replicas {
		if r.sender == s {
			return true
		}
	}
	return false
}

// appNameRE finds application_name in pg_stat_wal_receiver.conninfo (key=value form).
var appNameRE = regexp.MustCompile(`(?:^|\s)application_name=('(?:[^'\\]|\\.)*'|\S+)`)

// walReceiverName is the application_name a standby's WAL receiver uses on the primary:
// primary_conninfo's, else cluster_name, else "walreceiver".
func walReceiverName(st replicaState) string {
	if st.conninfo != nil {
		if m := appNameRE.FindStringSubmatch(*st.conninfo); m != nil {
			return strings.Trim(m[1], "'")
		}
	}
	if st.clusterName != "" {
		return st.clusterName
	}
	return "walreceiver"
}

// match finds each replica's row in pg_stat_replication: by replication slot, then by a
// distinctive application_name, then by the replica's address. Rows are never shared.
func (e *evaluation) match(ctx context.Context) {
	senders := e.ps.senders
	taken := make([]bool, len(senders))
	unique := func(pred func(*sender) bool) *sender {
		found := -1
		for i := range senders {
			if !taken[i] && pred(&senders[i]) {
				if found >= 0 {
					return nil // ambiguous
				}
				found = i
			}
		}
		if found < 0 {
			return nil
		}
		taken[found] = true
		return &senders[found]
	}
	live := func(r *replica) bool { return r.srv != nil && r.state.err == nil }
	// Only a replica whose WAL receiver runs can be a row of pg_stat_replication.
	receiving := func(r *replica) bool {
		return live(r) && r.state.inRecovery && r.state.receiver && (r.state.status == nil || *r.state.status == "streaming")
	}
	for _, r := range e.replicas {
		if live(r) && r.state.slot != nil && *r.state.slot != "" {
			r.sender = unique(func(s *sender) bool { return s.slot == *r.state.slot })
		}
	}
	for _, r := range e.replicas {
		if r.sender == nil && receiving(r) {
			if name := walReceiverName(r.state); name != "walreceiver" {
				r.sender = unique(func(s *sender) bool { return s.appName == name })
			}
		}
	}
	// By address only a replica that answered: one that did not cannot say it is the standby
	// at its address (several servers may share a host), see addressNote.
	for _, r := range e.replicas {
		if r.sender != nil || !receiving(r) || strings.HasPrefix(r.srv.host, "/") {
			continue
		}
		addrs := resolve(ctx, r.srv.host)
		r.sender = unique(func(s *sender) bool { return addrs[s.clientAddr] })
	}
}

// addressNote names the standbys that stream from an unreachable replica's address and are
// not matched to another replica: possibly that replica, with only this probe unable to log in.
func (e *evaluation) addressNote(ctx context.Context, r *replica) string {
	if r.srv == nil || strings.HasPrefix(r.srv.host, "/") {
		return ""
	}
	addrs := resolve(ctx, r.srv.host)
	var names []string
	for i := range e.ps.senders {
		if s := &e.ps.senders[i]; !e.matched(s) && addrs[s.clientAddr] {
			names = append(names, senderName(s))
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("the primary lists a standby streaming from its address (%s): it may be this replica", strings.Join(names, ", "))
}

// resolve returns the IP addresses of host (itself when it is one).
func resolve(ctx context.Context, host string) map[string]bool {
	out := map[string]bool{}
	if ip := net.ParseIP(host); ip != nil {
		out[ip.String()] = true
		return out
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(rctx, host)
	if err != nil {
		return out
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil {
			out[ip.String()] = true
		}
	}
	return out
}

// lag is how far a standby is behind; ok flags say whether each is known.
type lag struct {
	bytes, seconds     float64
	bytesOK, secondsOK bool
}

func (e *evaluation) replicaLag(r *replica) lag {
	var l lag
	st := r.state
	live := r.srv != nil && st.err == nil && st.inRecovery
	// The replica's own replay position is fresher than the primary's replay_lsn, which the
	// standby reports only every wal_receiver_status_interval (10 s) when idle. Both servers
	// are asked at once, so a replica may be past the primary's position read: that is 0.
	cur, okCur := optLSN(e.ps.currentLSN)
	rep, okRep := optLSN(st.replayLSN)
	if live && okCur && okRep {
		l.bytes, l.bytesOK = math.Max(0, float64(cur)-float64(rep)), true
	} else if s := r.sender; s != nil && s.behindBytes != nil {
		l.bytes, l.bytesOK = math.Max(0, *s.behindBytes), true
	}
	if s := r.sender; s != nil && s.replayLag != nil {
		l.seconds, l.secondsOK = *s.replayLag, true
	}
	if live {
		recv, okRecv := optLSN(st.receiveLSN)
		switch {
		case okRecv && okRep && rep < recv && st.sinceReply != nil:
			// Received but not replayed: the age of the last replayed commit is the lag. The
			// primary's replay_lag stops moving while replay is paused, so take the larger.
			if !l.secondsOK || (*st.sinceReply > l.seconds && deref(st.paused)) {
				l.seconds, l.secondsOK = math.Max(0, *st.sinceReply), true
			}
		case okRecv && okRep && rep < recv && deref(st.paused):
			// Paused before replaying any commit since it started: the primary's replay_lag is
			// stale and nothing else tells the age. Unknown, not a stale figure.
			l.seconds, l.secondsOK = 0, false
		case okRecv && okRep && rep >= recv && deref(st.status) == "streaming" && !l.secondsOK:
			// Everything received is replayed: no lag, however old the last commit is (an idle
			// primary writes none).
			l.seconds, l.secondsOK = 0, true
		}
	}
	if !l.secondsOK && l.bytesOK && l.bytes == 0 {
		l.seconds, l.secondsOK = 0, true
	}
	return l
}

func (e *evaluation) checkReplica(ctx context.Context, r *replica) {
	label := r.label()
	row := []string{label, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"}
	defer func() { e.res.Table.Rows = append(e.res.Table.Rows, row) }()
	if r.srv == nil {
		row[1] = "DSN does not parse"
		e.res.Add(probe.Unknown, "Fix the DSN in SqlSettings.DataSourceReplicas (or in the DR standby list).",
			fmt.Sprintf("replica #%d: %v", r.n, r.parseErr))
		return
	}
	st := r.state
	reachable := st.err == nil
	promoted := reachable && !st.inRecovery
	primaryView := e.primaryOK && e.visible // the primary's pg_stat_replication is readable
	if !reachable {
		row[1] = "unreachable"
		e.res.Add(severity(st.err), "Start the replica or fix its DSN: until then it cannot take over, and Mattermost's reads sent to it fail.",
			fmt.Sprintf("cannot check replica %s: %v", label, st.err))
	} else if st.receiverErr != nil {
		e.res.Add(probe.Unknown, "", fmt.Sprintf("replica %s: %v", label, st.receiverErr))
	}
	if reachable {
		row[1] = yesNo(st.inRecovery)
		row[9] = optBool(st.paused)
		if st.lastReplay != nil {
			row[10] = st.lastReplay.UTC().Format(time.RFC3339)
		}
		if st.receiver {
			row[2] = deref(st.status)
			if st.senderHost != nil {
				row[2] += " from " + *st.senderHost
				if st.senderPort != nil {
					row[2] += ":" + strconv.Itoa(int(*st.senderPort))
				}
			}
		} else {
			row[2] = "none"
		}
	}
	switch {
	case !reachable:
	case !st.inRecovery:
		e.res.Add(probe.Critical, "If this was not a planned failover, stop all writes to it and rebuild it as a standby of the primary (pg_basebackup); if it was, point SqlSettings.DataSource at it.",
			fmt.Sprintf("replica %s is not in recovery: it was promoted and takes writes of its own (split-brain risk: two primaries)", label))
	case st.receiverErr != nil:
	case st.receiver && st.status == nil:
		e.res.Add(probe.Unknown, fmt.Sprintf("GRANT pg_monitor TO %q; on the primary (it reaches the replicas with the WAL).", r.srv.cfg.User),
			fmt.Sprintf("replica %s hides pg_stat_wal_receiver from user %s: whether it streams cannot be read", label, r.srv.cfg.User))
	case !st.receiver || deref(st.status) != "streaming":
		e.res.Add(probe.Critical, "Check primary_conninfo and primary_slot_name on the replica, the network path to the primary, and both servers' logs.",
			fmt.Sprintf("replica %s is in recovery but not streaming (WAL receiver: %s): it falls further behind the primary with every write", label, row[2]))
	}
	if reachable && st.inRecovery && deref(st.paused) {
		e.res.Add(probe.Degraded, "Run SELECT pg_wal_replay_resume(); on the replica, unless the pause is intended.",
			fmt.Sprintf("WAL replay is paused on replica %s: it receives changes but does not apply them", label))
	}
	if s := r.sender; s != nil {
		fillSender(row, s)
		if st := deref(s.state); st != "streaming" {
			e.res.Add(probe.Degraded, "", fmt.Sprintf("replica %s is in state %q on the primary, not streaming", label, st))
		}
	} else if primaryView && !promoted {
		note := ""
		if !reachable {
			note = e.addressNote(ctx, r)
		}
		switch {
		case note != "":
			e.res.Add(probe.Unknown, "Check that this Mattermost node can log in to the replica with its DSN.",
				fmt.Sprintf("replica %s cannot be checked, but %s", label, note))
		case reachable && deref(st.status) == "streaming":
			e.res.Add(probe.Degraded, "If it is a cascading standby this is expected; otherwise check which server its primary_conninfo points at.",
				fmt.Sprintf("replica %s streams (WAL receiver: %s), but the primary's pg_stat_replication has no entry for it: a cascading standby, or a standby of another server?", label, row[2]))
		default:
			e.res.Add(probe.Critical, "Start the replica and check that it streams from the primary (primary_conninfo); rebuild it with pg_basebackup if the primary no longer has the WAL it needs.",
				fmt.Sprintf("replica %s is missing from the primary's pg_stat_replication: it does not stream from the primary", label))
		}
	}
	if !reachable && r.sender == nil {
		return
	}
	if promoted {
		return // a promoted server has no lag to speak of
	}
	e.lagFindings(label, r.metricLabel(), e.replicaLag(r), row)
	if reachable && st.receiver && deref(st.status) == "streaming" && !primaryView {
		e.streaming++
	}
}

// checkOtherStandby reports a standby that streams from the primary but is not among the
// configured replicas: a DR standby Mattermost does not read from, typically.
func (e *evaluation) checkOtherStandby(s *sender) {
	name := senderName(s)
	label := "standby " + name
	if s.clientAddr != "" {
		label += " at " + s.clientAddr
	}
	row := []string{label + " (not configured)", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"}
	fillSender(row, s)
	e.res.Table.Rows = append(e.res.Table.Rows, row)
	if !e.visible {
		return
	}
	if st := deref(s.state); st != "streaming" {
		e.res.Add(probe.Degraded, "", fmt.Sprintf("%s is in state %q on the primary, not streaming", label, st))
	}
	l := lag{}
	if s.behindBytes != nil {
		l.bytes, l.bytesOK = math.Max(0, *s.behindBytes), true
	}
	if s.replayLag != nil {
		l.seconds, l.secondsOK = *s.replayLag, true
	} else if l.bytesOK && l.bytes == 0 {
		l.secondsOK = true
	}
	e.lagFindings(label, "standby:"+name, l, row)
}

// senderName names a standby by what the primary knows of it: its slot, else its
// application_name, else its address.
func senderName(s *sender) string {
	for _, n := range []string{s.slot, s.appName, s.clientAddr} {
		if n != "" {
			return n
		}
	}
	return "pid " + strconv.Itoa(int(s.pid))
}

func (e *evaluation) lagFindings(label, metricLabel string, l lag, row []string) {
	labels := map[string]string{"replica": metricLabel}
	if l.bytesOK {
		row[6] = strconv.FormatFloat(l.bytes, 'f', 0, 64)
		e.res.Gauge(MetricLagBytes, "Bytes of WAL a PostgreSQL standby has not replayed yet.", l.bytes, labels)
		e.maxBytes = math.Max(e.maxBytes, l.bytes)
		e.lagMeasured = true
		if e.o.MaxLagBytes > 0 && l.bytes > float64(e.o.MaxLagBytes) {
			e.res.Add(probe.Degraded, "Check the standby's disk and CPU, the network to it, and long queries on it that hold replay back; check that replay is not paused.",
				fmt.Sprintf("%s is %s behind the primary (threshold %s)", label, bytesize.Format(int64(l.bytes)), bytesize.Format(e.o.MaxLagBytes)))
		}
	}
	if l.secondsOK {
		row[7] = strconv.FormatFloat(l.seconds, 'f', 1, 64)
		e.res.Gauge(MetricLagSeconds, "Seconds a PostgreSQL standby's replay is behind the primary (0 when it has replayed all it received).", l.seconds, labels)
		e.maxSeconds = math.Max(e.maxSeconds, l.seconds)
		e.lagMeasured = true
		if e.o.MaxLag > 0 && l.seconds > e.o.MaxLag.Seconds() {
			e.res.Add(probe.Degraded, "Check the standby's disk and CPU, the network to it, and long queries on it that hold replay back; check that replay is not paused.",
				fmt.Sprintf("%s replays %.1f s behind the primary (threshold %s)", label, l.seconds, e.o.MaxLag))
		}
	}
}

func fillSender(row []string, s *sender) {
	row[3] = optStr(s.state)
	row[4] = optStr(s.syncState)
	row[5] = strings.Join([]string{optStr(s.sentLSN), optStr(s.writeLSN), optStr(s.flushLSN), optStr(s.replayLSN)}, " / ")
	row[8] = strings.Join([]string{optSecs(s.writeLag), optSecs(s.flushLag), optSecs(s.replayLag)}, " / ")
}

func (e *evaluation) summarize() {
	r := e.res
	if len(e.replicas) == 0 && len(e.ps.senders) == 0 && e.primaryOK {
		r.State = probe.NotConfigured
		r.Summary = "no streaming standby: none configured and none streams from the primary"
		return
	}
	total := len(e.replicas)
	for i := range e.ps.senders {
		if !e.matched(&e.ps.senders[i]) {
			total++
		}
	}
	parts := []string{fmt.Sprintf("%d of %d standbys streaming", e.streaming, total)}
	if e.lagMeasured {
		parts = append(parts, fmt.Sprintf("largest lag %s, %.1f s", bytesize.Format(int64(e.maxBytes)), e.maxSeconds))
	}
	if r.State != probe.Healthy {
		parts = append(parts, fmt.Sprintf("%d problem(s)", len(r.Findings)))
	}
	r.Summary = strings.Join(parts, "; ")
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func optStr(p *string) string {
	if p == nil || *p == "" {
		return "-"
	}
	return *p
}

func optSecs(p *float64) string {
	if p == nil {
		return "-" // not measured
	}
	return strconv.FormatFloat(*p, 'f', 3, 64)
}

func optBool(p *bool) string {
	if p == nil {
		return "-"
	}
	return yesNo(*p)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
