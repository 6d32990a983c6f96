package plugin

import (
	"context"
	"fmt"
	"strings"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/bytesize"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/slashcmd"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

// retentionPolicy is the retention the settings ask for: the BackupKeep* rules for logical
// backups, WALBaseBackupKeep for base backups (file captures follow from both).
func retentionPolicy(cfg settings.Config) backup.Policy {
	return backup.Policy{KeepLast: cfg.BackupKeepLast, KeepDaily: cfg.BackupKeepDaily, KeepWeekly: cfg.BackupKeepWeekly, KeepMonthly: cfg.BackupKeepMonthly,
		KeepBase: cfg.BaseBackupKeep()}
}

// applyRetention removes what the retention policy no longer keeps, at each destination the
// backup went to, then the archived WAL no kept base backup needs, and says what it did.
func (p *Plugin) applyRetention(ctx context.Context, cfg settings.Config, destNames []string) string {
	pins, _ := p.pins()
	trust, err := p.trust()
	if err != nil {
		return fmt.Sprintf("- retention skipped: %v\n", err)
	}
	var out strings.Builder
	for _, name := range destNames {
		dests, err := p.destinations(ctx, cfg, name)
		if err != nil {
			continue
		}
		out.WriteString(p.retentionAt(ctx, name, dests[0].Store, retentionPolicy(cfg), trust, pins))
	}
	return out.String()
}

// retentionAt applies policy at destination name (store s) and says what it did; it says
// nothing when nothing was removed.
func (p *Plugin) retentionAt(ctx context.Context, name string, s storage.Store, policy backup.Policy, trust format.Trust, pins map[string]bool) string {
	var out strings.Builder
	// Only this server's backups count, and only they are removed: a backup planted in the
	// destination never evicts one, and only an admin deletes it.
	plan, err := backup.PlanRetention(ctx, s, name, policy, trust, pins)
	if err != nil {
		return fmt.Sprintf("- retention at %s skipped: %v\n", name, err)
	}
	if len(plan.Remove) > 0 {
		fmt.Fprintf(&out, "- retention at %s: %s\n", name, plan.Summary())
	}
	opts := p.pruneOptions()
	var deleted []string
	// The base backups whose WAL stays: those kept, and those that could not be deleted.
	var bases []*format.Manifest
	for _, m := range plan.Keep {
		if m.Class() == format.ClassBase {
			bases = append(bases, m)
		}
	}
	for _, m := range plan.Remove {
		if err := backup.Delete(ctx, s, m.ID, opts); err != nil {
			fmt.Fprintf(&out, "- retention could not delete `%s` at %s: %v\n", m.ID, name, err)
			if m.Class() == format.ClassBase {
				bases = append(bases, m)
			}
			continue
		}
		deleted = append(deleted, m.ID)
		fmt.Fprintf(&out, "- retention deleted `%s` at %s%s\n", m.ID, name, classNote(m.Class()))
		_, _ = p.auditor.Append(audit.Entry{ActorID: audit.ActorSystem, Actor: audit.ActorSystem, Action: "backup.retention.delete", Target: m.ID, Outcome: audit.OutcomeSucceeded,
			Details: map[string]string{"destination": name, "class": m.Class()}})
	}
	present := map[string]bool{}
	for _, m := range append(plan.Keep, plan.Remove...) {
		present[m.ID] = true
	}
	for _, u := range plan.Untrusted {
		present[u.Manifest.ID] = true
	}
	if err := p.forgetRecords(name, deleted, present); err != nil {
		p.API.LogWarn("Cannot prune the record of backups", "destination", name, "error", err.Error())
	}
	if n := len(plan.Untrusted); n > 0 {
		fmt.Fprintf(&out, "- :warning: %d backups at %s were not made by this server: not counted, not deleted (`/dr backup list` shows them)\n", n, name)
	}
	res, err := walarchive.Prune(ctx, s, trust.Keys, bases, false)
	switch {
	case err != nil:
		fmt.Fprintf(&out, "- :warning: retention at %s: %v\n", name, err)
		p.API.LogWarn("WAL archive not pruned", "destination", name, "error", err.Error())
	case res.Deleted > 0:
		fmt.Fprintf(&out, "- retention deleted %s (%s) at %s: all before %s, the start of the oldest kept base backup\n", walFiles(res.Deleted), bytesize.Format(res.Bytes), name, res.KeptFrom)
		_, _ = p.auditor.Append(audit.Entry{ActorID: audit.ActorSystem, Actor: audit.ActorSystem, Action: "backup.retention.wal", Target: name, Outcome: audit.OutcomeSucceeded,
			Details: map[string]string{"destination": name, "files": fmt.Sprint(res.Deleted), "bytes": fmt.Sprint(res.Bytes), "kept_from": res.KeptFrom}})
	}
	return out.String()
}

func walFiles(n int) string {
	if n == 1 {
		return "1 archived WAL file"
	}
	return fmt.Sprintf("%d archived WAL files", n)
}

// classNote names the class of a backup that is not a logical one, for a line of a post.
func classNote(c string) string {
	switch c {
	case format.ClassBase:
		return " (base backup)"
	case format.ClassCapture:
		return " (file capture)"
	default:
		return ""
	}
}

// runBackupRetention previews retention: per destination and class, what the settings keep and
// what the next run would remove, and the archived WAL it would delete. It changes nothing.
func (p *Plugin) runBackupRetention(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	cfg, _ := p.config()
	dests, err := p.destinations(ctx, cfg, strings.ToLower(inv.String("destination")))
	if err != nil {
		return nil, err
	}
	trust, err := p.trust()
	if err != nil {
		return nil, err
	}
	pins, _ := p.pins()
	policy := retentionPolicy(cfg)
	var b strings.Builder
	logical := "every logical backup (no BackupKeep rule)"
	if policy.KeepLast > 0 || policy.KeepDaily > 0 || policy.KeepWeekly > 0 || policy.KeepMonthly > 0 {
		logical = fmt.Sprintf("logical backups: the last %d, daily %d, weekly %d, monthly %d", policy.KeepLast, policy.KeepDaily, policy.KeepWeekly, policy.KeepMonthly)
	}
	fmt.Fprintf(&b, "Retention keeps %s; base backups: the newest %d (`WALBaseBackupKeep`), and the archived WAL from the start of the oldest one; "+
		"file captures: from the start of the oldest kept base backup, and since the newest logical backup. Pinned backups and the newest verified one are always kept. "+
		"It runs after each backup; this preview changes nothing.\n", logical, policy.KeepBase)
	for _, d := range dests {
		plan, err := backup.PlanRetention(ctx, d.Store, d.Name, policy, trust, pins)
		if err != nil {
			fmt.Fprintf(&b, "\n**%s**: %v\n", d.Name, err)
			continue
		}
		fmt.Fprintf(&b, "\n**%s**: %s\n", d.Name, plan.Summary())
		for _, c := range backup.Classes {
			var rm []string
			for _, m := range plan.Remove {
				if m.Class() == c {
					rm = append(rm, "`"+m.ID+"`")
				}
			}
			if len(rm) > 0 {
				if len(rm) > 20 {
					rm = append(rm[:20], fmt.Sprintf("and %d more", len(rm)-20))
				}
				fmt.Fprintf(&b, "- %s to remove: %s\n", c, strings.Join(rm, ", "))
			}
		}
		var bases []*format.Manifest
		for _, m := range plan.Keep {
			if m.Class() == format.ClassBase {
				bases = append(bases, m)
			}
		}
		res, err := walarchive.Prune(ctx, d.Store, trust.Keys, bases, true)
		switch {
		case err != nil:
			fmt.Fprintf(&b, "- archived WAL: %v\n", err)
		case res.Skipped != "":
			fmt.Fprintf(&b, "- archived WAL: nothing to delete (%s)\n", res.Skipped)
		default:
			fmt.Fprintf(&b, "- archived WAL: kept from %s (the start of the oldest kept base backup); %s (%s) before it to delete\n", res.KeptFrom, walFiles(res.Deleted), bytesize.Format(res.Bytes))
		}
		if n := len(plan.Untrusted); n > 0 {
			fmt.Fprintf(&b, "- :warning: %d backups not made by this server: not counted, not deleted\n", n)
		}
	}
	return &slashcmd.Response{Text: b.String()}, nil
}
