package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// Policy says which backups to keep. Each class of backup (format.Manifest.Class) has its own
// rules:
//
//   - logical backups, like restic's forget: each rule keeps, walking from the newest backup
//     to the oldest, the newest backup of each of its last N periods that hold a backup
//     (KeepLast: the last N backups). A backup kept by any rule is kept. Periods are calendar
//     days, ISO weeks and months in the location of the now passed to Select.
//   - base backups: the newest KeepBase.
//   - file captures serve only point-in-time restores: those started at or after the oldest
//     kept base backup (inside the window a restore can reach) are kept, and those started at
//     or after the newest logical backup (they hold the files uploaded since it), thinned with
//     age: all of the last hour, the first of each quarter hour for a day, then the first of
//     each hour (captureBucket). The newest capture is always kept.
type Policy struct {
	KeepLast, KeepDaily, KeepWeekly, KeepMonthly int // logical backups
	// KeepBase is how many base backups to keep, the newest ones; 0 keeps them all.
	KeepBase int
}

// IsZero reports whether the policy has no rule; Select then keeps everything.
func (p Policy) IsZero() bool {
	return p.logicalIsZero() && p.KeepBase <= 0
}

func (p Policy) logicalIsZero() bool {
	return p.KeepLast <= 0 && p.KeepDaily <= 0 && p.KeepWeekly <= 0 && p.KeepMonthly <= 0
}

// Select splits complete backups into those to keep and those to remove, both newest first.
// pinned backups (by ID) and newestVerified (the newest backup whose restore was verified;
// "" for none) are always kept, whatever their class; an empty policy keeps everything; the
// newest logical and the newest base backup are always kept, so a policy never removes every
// backup of a class. Backups dated in the future (DatedInFuture) are in neither list: they are
// not counted and not removed (give Select only trusted backups: see PlanRetention).
func (p Policy) Select(ms []*format.Manifest, pinned map[string]bool, newestVerified string, now time.Time) (keep, remove []*format.Manifest) {
	var sorted []*format.Manifest
	for _, m := range ms {
		if !format.DatedInFuture(m, now) {
			sorted = append(sorted, m)
		}
	}
	format.SortNewestFirst(sorted)
	if p.IsZero() {
		return sorted, nil
	}
	always := func(m *format.Manifest) bool {
		return pinned[m.ID] || (newestVerified != "" && m.ID == newestVerified)
	}
	byClass := map[string][]*format.Manifest{}
	for _, m := range sorted {
		byClass[m.Class()] = append(byClass[m.Class()], m)
	}
	kept := map[*format.Manifest]bool{}
	logical := byClass[format.ClassLogical]
	for _, m := range p.selectLogical(logical, now.Location()) {
		kept[m] = true
	}
	// Base backups, newest first: the oldest kept one starts the window of point-in-time
	// restores (and the WAL that must stay archived).
	var windowStart time.Time
	haveBase := false
	for i, m := range byClass[format.ClassBase] {
		if p.KeepBase <= 0 || i < p.KeepBase || always(m) {
			kept[m] = true
			windowStart, haveBase = m.StartedAt, true
		}
	}
	// Captures, oldest first, so that each thinning bucket keeps its earliest.
	captures := byClass[format.ClassCapture]
	buckets := map[string]bool{}
	for i := len(captures) - 1; i >= 0; i-- {
		m := captures[i]
		inWindow := haveBase && !m.StartedAt.Before(windowStart) ||
			// The files uploaded since the newest logical backup are only in captures. With
			// no logical backup at all, no capture is superseded.
			len(logical) == 0 || !m.StartedAt.Before(logical[0].StartedAt)
		switch {
		case always(m), i == 0:
			kept[m] = true // pinned, or the newest: the files of --to-latest
		case !inWindow:
		default:
			// One a minute would pile up (each holds the whole file index): thinned with age.
			// A restore to T uses the first capture after T, and files are rarely deleted, so
			// an older T is as well served by the first capture of its quarter or hour.
			b := captureBucket(m.StartedAt, now)
			if !buckets[b] {
				buckets[b] = true
				kept[m] = true
			}
		}
	}
	for _, m := range sorted {
		if kept[m] || always(m) {
			keep = append(keep, m)
		} else {
			remove = append(remove, m)
		}
	}
	return keep, remove
}

// captureBucket is the thinning bucket of a capture that started at t: every capture of the
// last hour is its own, then one per quarter hour for a day, then one per hour.
func captureBucket(t, now time.Time) string {
	t = t.UTC()
	switch age := now.Sub(t); {
	case age < time.Hour:
		return t.Format(time.RFC3339Nano)
	case age < 24*time.Hour:
		return t.Truncate(15 * time.Minute).Format("q2006-01-02T15:04")
	default:
		return t.Truncate(time.Hour).Format("h2006-01-02T15")
	}
}

// selectLogical applies the logical rules to sorted (logical backups, newest first) and returns
// those they keep (pins aside).
func (p Policy) selectLogical(sorted []*format.Manifest, loc *time.Location) []*format.Manifest {
	if p.logicalIsZero() {
		return sorted
	}
	type rule struct {
		left   int
		bucket func(time.Time) string
		last   string
	}
	rules := []*rule{
		{left: p.KeepLast, bucket: nil},
		{left: p.KeepDaily, bucket: func(t time.Time) string { return t.Format("2006-01-02") }},
		{left: p.KeepWeekly, bucket: func(t time.Time) string {
			y, w := t.ISOWeek()
			return fmt.Sprintf("%d-W%02d", y, w)
		}},
		{left: p.KeepMonthly, bucket: func(t time.Time) string { return t.Format("2006-01") }},
	}
	var keep []*format.Manifest
	for i, m := range sorted {
		t := m.StartedAt.In(loc)
		kept := i == 0 // never remove every logical backup
		for _, r := range rules {
			if r.left <= 0 {
				continue
			}
			if r.bucket == nil {
				kept = true
				r.left--
				continue
			}
			if b := r.bucket(t); b != r.last {
				r.last = b
				kept = true
				r.left--
			}
		}
		if kept {
			keep = append(keep, m)
		}
	}
	return keep
}

// Delete removes backup id from s: its manifest first (so that it stops counting as a backup
// at once), then its other objects, then the pool objects nothing else uses (PrunePool with o;
// a prune that cannot run is reported in the error, the backup is deleted anyway).
func Delete(ctx context.Context, s storage.Store, id string, o PruneOptions) error {
	if err := format.ValidateID(id); err != nil {
		return err
	}
	found := false
	err := s.List(ctx, format.BackupDir(id), func(storage.ObjectInfo) error {
		found = true
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("delete backup %s at %s: %w", id, s, err)
	}
	if !found {
		return fmt.Errorf("delete backup %s at %s: %w", id, s, format.ErrNoBackup)
	}
	if err := s.Delete(ctx, format.ManifestKey(id)); err != nil {
		return fmt.Errorf("delete backup %s at %s: %w", id, s, err)
	}
	if err := deleteFolder(ctx, s, id); err != nil {
		return fmt.Errorf("delete backup %s at %s: its manifest is gone but some objects are left (CleanupIncomplete removes them later): %w", id, s, err)
	}
	if _, err := PrunePool(ctx, s, o); err != nil {
		return fmt.Errorf("backup %s deleted; its pool objects were not pruned: %w", id, err)
	}
	return nil
}

var errStop = errors.New("stop")

// minIncompleteAge is the smallest olderThan CleanupIncomplete accepts: a running backup
// rewrites its run marker every heartbeatInterval.
var minIncompleteAge = 3 * heartbeatInterval

// CleanupIncomplete removes the backups/<id>/ folders that have no manifest and whose newest
// object is older than olderThan (at least 30 minutes; 24 hours is a good value): what crashed
// or killed runs left. A running backup rewrites its run marker every 10 minutes, so it is
// never taken for one. It returns how many folders were removed.
func CleanupIncomplete(ctx context.Context, s storage.Store, olderThan time.Duration) (int, error) {
	return cleanupIncomplete(ctx, s, olderThan, time.Now)
}

// CleanupAbandoned removes every incomplete backup folder, whatever its age. Only a caller
// that holds the lock every backup to s runs under (the plugin's cluster-wide backup mutex)
// may use it: then no backup is running, and each incomplete folder was left by a run that
// crashed or was killed.
func CleanupAbandoned(ctx context.Context, s storage.Store) (int, error) {
	return removeIncomplete(ctx, s, time.Now())
}

func cleanupIncomplete(ctx context.Context, s storage.Store, olderThan time.Duration, now func() time.Time) (int, error) {
	if olderThan < minIncompleteAge {
		return 0, fmt.Errorf("cleanup of incomplete backups: %s is too short, a running backup could be taken for a crashed one; use at least %s", olderThan, minIncompleteAge)
	}
	return removeIncomplete(ctx, s, now().Add(-olderThan))
}

// removeIncomplete deletes incomplete backup folders whose newest object is before cutoff.
func removeIncomplete(ctx context.Context, s storage.Store, cutoff time.Time) (int, error) {
	folders, err := format.ListFolders(ctx, s)
	if err != nil {
		return 0, err
	}
	removed := 0
	var errs []error
	for _, f := range folders {
		if f.HasManifest || !f.Newest.Before(cutoff) {
			continue
		}
		if err := deleteFolder(ctx, s, f.ID); err != nil {
			errs = append(errs, fmt.Errorf("incomplete backup %s: %w", f.ID, err))
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// RetentionPlan is what retention does at one destination.
type RetentionPlan struct {
	Keep, Remove []*format.Manifest // trusted backups, newest first
	// Untrusted backups are neither counted nor removed: only an admin deletes them.
	Untrusted      []format.Untrusted
	NewestVerified string
}

// PlanRetention lists the backups at s (destination dest) and applies p to the trusted ones;
// pinned backups and the newest verified one are kept. A manifest that cannot be read stops it
// when it is one this server recorded (a damaged backup of ours may be one to keep); any other
// is untrusted like a planted one, so that an unreadable file planted in the destination cannot
// stop retention for good.
func PlanRetention(ctx context.Context, s storage.Store, dest string, p Policy, t format.Trust, pinned map[string]bool) (*RetentionPlan, error) {
	ms, unreadable, err := format.ListManifests(ctx, s)
	if err != nil {
		return nil, err
	}
	plan := &RetentionPlan{}
	for _, u := range unreadable {
		if t.Recorded != nil {
			if _, ours := t.Recorded(dest, u.ID); ours {
				return nil, fmt.Errorf("retention stopped: a backup this server made cannot be read: %w", u.Err)
			}
		}
		plan.Untrusted = append(plan.Untrusted, format.Untrusted{Manifest: &format.Manifest{ID: u.ID},
			Reason: fmt.Sprintf("its manifest cannot be read (%v), and it is not in this server's record of its backups", u.Err)})
	}
	trusted, untrusted := t.Classify(dest, ms)
	plan.Untrusted = append(plan.Untrusted, untrusted...)
	plan.NewestVerified = format.NewestVerified(ctx, s, trusted, t)
	plan.Keep, plan.Remove = p.Select(trusted, pinned, plan.NewestVerified, t.Time())
	return plan, nil
}

// Classes are the backup classes in the order retention reports them.
var Classes = []string{format.ClassLogical, format.ClassBase, format.ClassCapture}

// Count says how many backups of class c the plan keeps and removes.
func (p *RetentionPlan) Count(c string) (keep, remove int) {
	for _, m := range p.Keep {
		if m.Class() == c {
			keep++
		}
	}
	for _, m := range p.Remove {
		if m.Class() == c {
			remove++
		}
	}
	return keep, remove
}

// Summary says per class what the plan keeps and removes, such as "logical: keep 7, remove 1;
// base: keep 2; capture: keep 14, remove 120"; classes without a backup are left out.
func (p *RetentionPlan) Summary() string {
	var parts []string
	for _, c := range Classes {
		k, r := p.Count(c)
		switch {
		case k == 0 && r == 0:
			continue
		case r == 0:
			parts = append(parts, fmt.Sprintf("%s: keep %d", c, k))
		default:
			parts = append(parts, fmt.Sprintf("%s: keep %d, remove %d", c, k, r))
		}
	}
	if len(parts) == 0 {
		return "no backups"
	}
	return strings.Join(parts, "; ")
}
