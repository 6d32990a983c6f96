// Package walarchive judges continuous WAL archiving: is a node archiving, how far behind the
// database the archive is (the recovery point of the moment), and how much WAL the primary
// holds for the archive's replication slot before it fills the database server's disk.
package walarchive

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/bytesize"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// Component is the status component this probe reports under.
const Component = "wal"

// Input is what the archiving node last reported, and the slot as the primary sees it.
type Input struct {
	Enabled bool
	// Reported: a node reported within the report window; Node and ReportedAt say which and when.
	Reported   bool
	Node       string
	ReportedAt time.Time
	// Setup says what is missing for archiving to run (REPLICATION, pg_hba.conf, pg_receivewal),
	// with what to do; "" when nothing is known to be missing.
	Setup     string
	Running   bool      // pg_receivewal is streaming
	CaughtUp  time.Time // everything received was stored at every destination (zero: not yet)
	LastFile  string
	LastError string
	Pending   int
	Restarts  int
	MaxDelay  time.Duration
	Slot      Slot
	Capture   Capture
}

// Capture is what the archiving node reports of continuous file capture.
type Capture struct {
	Interval     time.Duration // 0: off
	LastSuccess  time.Time
	LastID       string
	LastChecked  time.Time // the file store last found unchanged since LastSuccess, or LastSuccess
	Failures     int       // failed in a row since the last success
	FailingSince time.Time
	LastError    string
}

// Slot is the replication slot as pg_replication_slots shows it.
type Slot struct {
	Name     string
	Checked  bool   // the primary was asked
	Error    string // why it could not be asked
	Found    bool
	Active   bool
	Retained int64  // bytes of WAL the primary keeps for it: pg_current_wal_lsn() - restart_lsn
	Status   string // wal_status: reserved, extended, unreserved, lost
}

// Thresholds say when archiving is too far behind and the slot holds too much.
type Thresholds struct {
	MaxLag       time.Duration // degraded above (default 3 × MaxDelay, at least 30 s); critical above 10 ×
	RetainedWarn int64         // degraded above (default 8 GiB); critical above 2 ×
}

// Options say where the probe reads its input.
type Options struct {
	Input      func(ctx context.Context) Input
	Thresholds func() Thresholds
}

// Probe judges WAL archiving; it satisfies status.Prober.
type Probe struct{ o Options }

// New returns the probe for o.
func New(o Options) *Probe { return &Probe{o: o} }

// Component is the status component.
func (p *Probe) Component() string { return Component }

// Name says what is checked.
func (p *Probe) Name() string { return "WAL archive" }

// Probe reads the input and analyses it.
func (p *Probe) Probe(ctx context.Context) probe.Result {
	var th Thresholds
	if p.o.Thresholds != nil {
		th = p.o.Thresholds()
	}
	return Analyze(p.o.Input(ctx), th, time.Now())
}

// Analyze judges in against th at now.
func Analyze(in Input, th Thresholds, now time.Time) probe.Result {
	r := probe.Result{Component: Component, Name: "Continuous WAL archive", State: probe.Healthy, CheckedAt: now}
	if th.MaxLag <= 0 {
		th.MaxLag = max(3*in.MaxDelay, 30*time.Second)
	}
	if th.RetainedWarn <= 0 {
		th.RetainedWarn = 8 << 30
	}
	t := &probe.Table{Columns: []string{"Check", "Value", "Limit"}}
	r.Table = t
	if !in.Enabled {
		r.State, r.Summary = probe.NotConfigured, "not set up: WAL archiving is off, so a restore goes back to the newest backup only. Turn on WALArchiveEnabled under Continuous WAL archiving for point-in-time recovery"
		t.Rows = append(t.Rows, []string{"Archiving", "off", ""})
		if in.Slot.Found {
			// Off, yet the slot is still there: the primary keeps every WAL file from now on.
			r.State = probe.Degraded
			r.Add(probe.Degraded, fmt.Sprintf("drop the slot as a superuser: SELECT pg_drop_replication_slot('%s'); (or turn archiving on again)", in.Slot.Name),
				fmt.Sprintf("WAL archiving is off but its replication slot %s still makes the primary keep %s of WAL, and more every minute", in.Slot.Name, bytesize.Format(in.Slot.Retained)))
			slotRows(&r, in, th)
			r.Summary = r.Findings[0].Message
		}
		return r
	}
	t.Rows = append(t.Rows, []string{"Archiving", "on", ""})
	running := 0.0
	switch {
	case in.Setup != "":
		r.Add(probe.Critical, "do what the message says, then wait a minute: archiving starts again on its own", "WAL archiving cannot run: "+in.Setup)
	case !in.Reported:
		msg := "no node is archiving the WAL"
		if !in.ReportedAt.IsZero() {
			msg += fmt.Sprintf(": the last report, from node %s, is %s old", in.Node, human(now.Sub(in.ReportedAt)))
		}
		r.Add(probe.Critical, "check that the plugin runs on the app nodes and read the server log (\"WAL archiving\")", msg)
	case !in.Running:
		msg := "pg_receivewal is not running on node " + in.Node
		if in.LastError != "" {
			msg += ": " + in.LastError
		}
		r.Add(probe.Critical, "read the error; the node starts pg_receivewal again on its own", msg)
	default:
		running = 1
	}
	node := in.Node
	if node == "" {
		node = "none"
	}
	state := "stopped"
	if in.Running {
		state = "running"
	}
	t.Rows = append(t.Rows, []string{"Node archiving", node, ""}, []string{"pg_receivewal", fmt.Sprintf("%s (restarted %d times)", state, in.Restarts), "running"})

	lagText := "nothing stored yet"
	if !in.CaughtUp.IsZero() {
		lag := max(now.Sub(in.CaughtUp), 0)
		lagText = human(lag)
		r.Gauge("dr_wal_archive_lag_seconds", "Seconds since everything pg_receivewal received was stored at every destination: the recovery point if the database were lost now.", lag.Seconds(), nil)
		if in.Reported && in.Running {
			switch {
			case lag > 10*th.MaxLag:
				r.Add(probe.Critical, "check the destinations and the server log (\"WAL archiving\")", fmt.Sprintf("the WAL archive is %s behind the database, over 10 × %s", human(lag), human(th.MaxLag)))
			case lag > th.MaxLag:
				r.Add(probe.Degraded, "check the destinations and the server log (\"WAL archiving\")", fmt.Sprintf("the WAL archive is %s behind the database, over %s", human(lag), human(th.MaxLag)))
			}
		}
	} else if in.Reported && in.Running && now.Sub(in.ReportedAt) >= 0 {
		r.Add(probe.Degraded, "wait a few seconds; if it stays, read the server log (\"WAL archiving\")", "the WAL archive has stored nothing yet")
	}
	t.Rows = append(t.Rows, []string{"Archiving lag", lagText, human(th.MaxLag)})
	last := in.LastFile
	if last == "" {
		last = "none"
	}
	t.Rows = append(t.Rows, []string{"Last file stored", last, ""}, []string{"Files waiting in the spool", strconv.Itoa(in.Pending), "0"})
	if in.LastError != "" && in.Running {
		r.Add(probe.Degraded, "read the error: archiving retries on its own", "the last archiving pass failed: "+in.LastError)
	}
	lastErr := in.LastError
	if lastErr == "" {
		lastErr = "none"
	}
	t.Rows = append(t.Rows, []string{"Last error", lastErr, ""})
	r.Gauge("dr_wal_archive_running", "1 when a node runs pg_receivewal and reports it, 0 when WAL archiving is on but not running.", running, nil)
	r.Gauge("dr_wal_archive_pending_files", "Completed WAL files in the archiving node's spool not yet stored at every destination.", float64(in.Pending), nil)
	slotRows(&r, in, th)
	captureRows(&r, in.Capture, now)

	r.SortFindings()
	switch {
	case len(r.Findings) > 0:
		r.Summary = r.Findings[0].Message
	default:
		r.Summary = fmt.Sprintf("archiving on node %s, %s behind", node, lagText)
	}
	return r
}

// captureRows reports continuous file capture: a failure streak is degraded (a point-in-time
// restore then lacks the files uploaded since the last capture).
func captureRows(r *probe.Result, c Capture, now time.Time) {
	if c.Interval <= 0 {
		return
	}
	last := "none yet"
	if !c.LastSuccess.IsZero() {
		last = fmt.Sprintf("%s, %s ago", c.LastID, human(max(now.Sub(c.LastSuccess), 0)))
	}
	if c.LastChecked.After(c.LastSuccess) {
		last += fmt.Sprintf(" (nothing new since; checked %s ago)", human(max(now.Sub(c.LastChecked), 0)))
	}
	r.Table.Rows = append(r.Table.Rows, []string{"Last file capture", last, "every " + human(c.Interval) + " after uploads"})
	if c.Failures > 0 {
		r.Add(probe.Degraded, "read the error and the server log (\"file capture\"): captures retry on their own",
			fmt.Sprintf("file capture failed %d times in a row since %s, so a point-in-time restore lacks the files uploaded since: %s", c.Failures, c.FailingSince.UTC().Format(time.RFC3339), c.LastError))
	}
}

// slotRows judges the replication slot: the WAL it makes the primary keep.
func slotRows(r *probe.Result, in Input, th Thresholds) {
	s := in.Slot
	switch {
	case !s.Checked:
		return
	case s.Error != "":
		r.Table.Rows = append(r.Table.Rows, []string{"Replication slot " + s.Name, "could not be read: " + s.Error, ""})
		return
	case !s.Found:
		r.Table.Rows = append(r.Table.Rows, []string{"Replication slot " + s.Name, "not created yet", ""})
		return
	}
	r.Gauge("dr_wal_archive_slot_retained_bytes", "Bytes of WAL the primary keeps for the archive's replication slot (pg_current_wal_lsn() - restart_lsn).", float64(s.Retained), nil)
	r.Gauge("dr_wal_archive_slot_warn_bytes", "The WALArchiveSlotWarnGB setting in bytes: the WAL the slot may hold before the status warns.", float64(th.RetainedWarn), nil)
	fix := "find why archiving is behind (above); if it cannot catch up, turn archiving off and drop the slot before the disk fills, then take a base backup once it runs again"
	switch {
	case s.Status == "lost":
		r.Add(probe.Critical, "take a base backup (`/dr backup base`) once archiving runs: restores reach past the gap only from a later base backup",
			fmt.Sprintf("the primary removed WAL that replication slot %s still needed (wal_status lost): the archive has a gap", s.Name))
	case s.Status == "unreserved":
		r.Add(probe.Critical, fix, fmt.Sprintf("replication slot %s is past max_slot_wal_keep_size (wal_status unreserved): the primary will soon remove WAL the archive has not received", s.Name))
	case s.Retained > 2*th.RetainedWarn:
		r.Add(probe.Critical, fix, fmt.Sprintf("replication slot %s makes the primary keep %s of WAL, over twice the %s warning", s.Name, bytesize.Format(s.Retained), bytesize.Format(th.RetainedWarn)))
	case s.Retained > th.RetainedWarn:
		r.Add(probe.Degraded, fix, fmt.Sprintf("replication slot %s makes the primary keep %s of WAL, over %s: if archiving does not catch up, this fills the database server's disk", s.Name, bytesize.Format(s.Retained), bytesize.Format(th.RetainedWarn)))
	}
	status := s.Status
	if status == "" {
		status = "unknown"
	}
	r.Table.Rows = append(r.Table.Rows, []string{"WAL held by slot " + s.Name, fmt.Sprintf("%s (%s, %s)", bytesize.Format(s.Retained), status, activeText(s.Active)), bytesize.Format(th.RetainedWarn)})
}

func activeText(active bool) string {
	if active {
		return "in use"
	}
	return "not in use"
}

// ReadSlot reads slot from the primary at dsn.
func ReadSlot(ctx context.Context, dsn, slot string) Slot {
	s := Slot{Name: slot, Checked: true}
	conn, err := pgdsn.Connect(ctx, dsn, "")
	if err != nil {
		s.Error = err.Error()
		return s
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var status *string
	err = conn.QueryRow(ctx, `SELECT active, COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint, wal_status
		FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&s.Active, &s.Retained, &status)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return s
	case err != nil:
		s.Error = pgdsn.Scrub(dsn, err.Error())
		return s
	}
	s.Found = true
	if status != nil {
		s.Status = *status
	}
	return s
}

// human is a coarse duration: "4s", "14m", "26h", "8d".
func human(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 72*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	default:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
}
