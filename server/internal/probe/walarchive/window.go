package walarchive

import (
	"fmt"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// WindowInput is what a destination holds for point-in-time recovery, read from the
// destination itself (not from the archiving node): what a restore could reach right now,
// also when Mattermost and the archiver are down.
type WindowInput struct {
	Where string // the destination
	// Archived: the destination holds a WAL archive (wal/system.json signed by a trusted key).
	Archived bool
	// Newest is when the newest WAL file was stored: no restore reaches later.
	Newest time.Time
	// From is when the oldest usable base backup finished (zero: none usable); NewestBase when
	// the newest one did; Bases how many are usable.
	From, NewestBase time.Time
	Bases            int
	// Gaps are the missing runs of WAL on the newest timeline after the newest usable base
	// backup: --to-latest stops before them.
	Gaps int
	// Timeline is the newest timeline in the archive.
	Timeline uint32
	Notes    []string // base backups passed over, and why
}

// WindowThresholds say when the archive's newest WAL, and the newest base backup, are too old.
type WindowThresholds struct {
	MaxAge     time.Duration // newest WAL older: degraded (default 60 s); critical above 10 ×
	MaxBaseAge time.Duration // newest base backup older: degraded (default 8 days)
}

// AnalyzeWindow judges the restorable window of one destination at now.
func AnalyzeWindow(in WindowInput, th WindowThresholds, now time.Time) probe.Result {
	name := "Point-in-time window at " + in.Where
	r := probe.Result{Component: Component, Name: name, State: probe.Healthy, CheckedAt: now}
	if th.MaxAge <= 0 {
		th.MaxAge = time.Minute
	}
	if th.MaxBaseAge <= 0 {
		th.MaxBaseAge = 8 * 24 * time.Hour
	}
	t := &probe.Table{Columns: []string{"Check", "Value", "Limit"}}
	r.Table = t
	if !in.Archived {
		r.State = probe.NotConfigured
		r.Summary = "not set up: " + in.Where + " holds no WAL archive, so a restore goes back to the newest backup only. Turn on WALArchiveEnabled under Continuous WAL archiving for point-in-time recovery"
		t.Rows = append(t.Rows, []string{"WAL archive", "none", ""})
		return r
	}
	age := max(now.Sub(in.Newest), 0)
	r.Gauge("dr_pitr_newest_wal_timestamp_seconds", "When the newest WAL file was stored at the destination (Unix time): writes after it are not restorable yet.", float64(in.Newest.Unix()), map[string]string{"destination": in.Where})
	switch {
	case age > 10*th.MaxAge:
		r.Add(probe.Critical, "check that WAL archiving runs (/dr status on a running node, the server log \"WAL archiving\"); a restore now loses what was written since",
			fmt.Sprintf("the newest WAL at %s was stored %s ago (%s): a point-in-time restore reaches no later than that", in.Where, human(age), in.Newest.UTC().Format(time.RFC3339)))
	case age > th.MaxAge:
		r.Add(probe.Degraded, "check that WAL archiving runs (/dr status on a running node, the server log \"WAL archiving\")",
			fmt.Sprintf("the newest WAL at %s was stored %s ago, over %s", in.Where, human(age), human(th.MaxAge)))
	}
	t.Rows = append(t.Rows, []string{"Newest WAL stored", fmt.Sprintf("%s (%s ago, timeline %d)", in.Newest.UTC().Format(time.RFC3339), human(age), in.Timeline), human(th.MaxAge)})
	if in.Bases == 0 {
		msg := "no usable base backup at " + in.Where + ": a point-in-time restore cannot start"
		if len(in.Notes) > 0 {
			msg += " (" + in.Notes[0] + ")"
		}
		r.Add(probe.Critical, "take one: /dr backup base (and set WALBaseBackupSchedule)", msg)
		t.Rows = append(t.Rows, []string{"Restorable window", "none", ""})
	} else {
		baseAge := max(now.Sub(in.NewestBase), 0)
		r.Gauge("dr_pitr_base_backup_timestamp_seconds", "When the newest usable base backup at the destination finished (Unix time): a point-in-time restore replays the WAL since then.", float64(in.NewestBase.Unix()), map[string]string{"destination": in.Where})
		r.Gauge("dr_pitr_window_seconds", "Length of the point-in-time restore window: from the oldest usable base backup to the newest WAL.", max(in.Newest.Sub(in.From), 0).Seconds(), map[string]string{"destination": in.Where})
		if baseAge > th.MaxBaseAge {
			r.Add(probe.Degraded, "take a base backup (/dr backup base) and set WALBaseBackupSchedule: a restore replays all the WAL since the newest one",
				fmt.Sprintf("the newest base backup at %s is %s old, over %s", in.Where, human(baseAge), human(th.MaxBaseAge)))
		}
		t.Rows = append(t.Rows,
			[]string{"Restorable window", fmt.Sprintf("%s to %s", in.From.UTC().Format(time.RFC3339), in.Newest.UTC().Format(time.RFC3339)), ""},
			[]string{"Base backups usable", fmt.Sprintf("%d, the newest %s old", in.Bases, human(baseAge)), human(th.MaxBaseAge)})
	}
	if in.Gaps > 0 {
		r.Add(probe.Critical, "take a base backup (/dr backup base): restores reach past a gap only from a later base backup",
			fmt.Sprintf("the WAL archive at %s has %d gap(s) after the newest base backup: --to-latest stops before the first", in.Where, in.Gaps))
	}
	t.Rows = append(t.Rows, []string{"Gaps after the newest base backup", fmt.Sprintf("%d", in.Gaps), "0"})
	r.SortFindings()
	if len(r.Findings) > 0 {
		r.Summary = r.Findings[0].Message
	} else {
		r.Summary = fmt.Sprintf("restorable from %s to %s (%s ago)", in.From.UTC().Format(time.RFC3339), in.Newest.UTC().Format(time.RFC3339), human(age))
	}
	return r
}
