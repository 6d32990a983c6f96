package pitrdrill

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pitr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

// snap is the primary's side of a drill.
type snap struct {
	before, after map[string]int64
	lsn           uint64
	segment       string // the WAL segment holding the restore point's record
}

// listTables is the ordinary tables outside the system schemas, extension members left out:
// what a restore must bring back (pg_dump's countRows lists the same).
const listTables = `
SELECT n.nspname, c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname <> 'information_schema'
  AND n.nspname !~ '^pg_'
  AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2`

// countAll counts every table's rows in one REPEATABLE READ transaction: one snapshot.
func countAll(ctx context.Context, conn *pgx.Conn) (map[string]int64, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	rows, err := tx.Query(ctx, listTables)
	if err != nil {
		return nil, err
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var t [2]string
		err := r.Scan(&t[0], &t[1])
		return t, err
	})
	if err != nil {
		return nil, err
	}
	counts := make(map[string]int64, len(tables))
	for _, t := range tables {
		var n int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{t[0], t[1]}.Sanitize()).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s.%s: %w", t[0], t[1], err)
		}
		counts[t[0]+"."+t[1]] = n
	}
	return counts, tx.Commit(ctx)
}

// snapshot counts the primary's rows (S1), creates the restore point, and counts again (S2).
// It then completes the restore point's WAL segment with pg_switch_wal when allowed.
func snapshot(ctx context.Context, o *Options, res *Result) (*snap, error) {
	conn, err := pgdsn.Connect(ctx, o.PrimaryDSN, o.Database)
	if err != nil {
		return nil, fmt.Errorf("the primary: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s := &snap{}
	if s.before, err = countAll(ctx, conn); err != nil {
		return nil, fmt.Errorf("count the primary's rows: %w", err)
	}
	var lsnText string
	if err := conn.QueryRow(ctx, `SELECT pg_create_restore_point($1)::text`, res.RestorePoint).Scan(&lsnText); err != nil {
		if isCode(err, "42501") {
			return nil, fmt.Errorf("the database user %q may not create a restore point: as a superuser, GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO %q (%w)",
				conn.Config().User, conn.Config().User, err)
		}
		return nil, fmt.Errorf("create restore point %s: %w", res.RestorePoint, err)
	}
	res.LSN = lsnText
	if s.lsn, err = walarchive.ParseLSN(lsnText); err != nil {
		return nil, fmt.Errorf("restore point %s at %q: %w", res.RestorePoint, lsnText, err)
	}
	// pg_walfile_name gives the segment of the byte before the location (the record's last).
	if err := conn.QueryRow(ctx, `SELECT pg_walfile_name($1::pg_lsn)`, lsnText).Scan(&s.segment); err != nil {
		return nil, fmt.Errorf("the WAL file of %s: %w", lsnText, err)
	}
	if o.afterRestorePoint != nil {
		o.afterRestorePoint()
	}
	// A transaction whose commit record precedes the restore point may still show as running
	// to a snapshot for a moment after it (the commit is logged, then the transaction leaves
	// the list of running ones): S2 waits until a new snapshot sees every transaction running
	// at the restore point as ended, so that what the restore brings back is in S2. Briefly:
	// one left idle in a transaction would never end (it commits after the restore point
	// anyway). pg_xact_status would not do: it says "committed" from the commit log while
	// snapshots still count the transaction as running.
	var running string
	if err := conn.QueryRow(ctx, `SELECT pg_current_snapshot()::text`).Scan(&running); err != nil {
		return nil, fmt.Errorf("read the running transactions: %w", err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_snapshot_xip($1::pg_snapshot) x WHERE NOT pg_visible_in_snapshot(x, pg_current_snapshot())`, running).Scan(&n); err != nil {
			return nil, fmt.Errorf("read the running transactions: %w", err)
		}
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if s.after, err = countAll(ctx, conn); err != nil {
		return nil, fmt.Errorf("count the primary's rows after the restore point: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_switch_wal()`); err != nil {
		if !isCode(err, "42501") {
			return nil, fmt.Errorf("switch to a new WAL segment: %w", err)
		}
		res.SwitchNote = fmt.Sprintf("the database user %q may not run pg_switch_wal: the drill waited for the archive's partial copy of %s instead", conn.Config().User, s.segment)
	} else {
		res.Switched = true
	}
	return s, nil
}

// waitArchived waits until the archive holds the restore point: its segment complete, or the
// partial copy of it with WAL past the restore point (partial is then true). That file is left
// in walDir.
func waitArchived(ctx context.Context, o *Options, r *walarchive.Reader, sys *walarchive.System, s *snap, walDir string) (partial bool, err error) {
	path := filepath.Join(walDir, s.segment)
	off := int64(s.lsn % uint64(sys.WALSegmentSize))
	deadline := time.Now().Add(o.WALTimeout)
	for {
		err := r.Fetch(ctx, sys, s.segment, path, false)
		if err == nil {
			return false, nil
		}
		if !errors.Is(err, walarchive.ErrNotArchived) {
			return false, fmt.Errorf("fetch %s: %w", s.segment, err)
		}
		// Not complete yet: the partial copy serves if it holds WAL past the restore point
		// (the restore point's record ends at off; off 0 means it ends the segment).
		if off > 0 {
			err := r.Fetch(ctx, sys, s.segment, path, true)
			if err != nil && !errors.Is(err, walarchive.ErrNotArchived) {
				return false, fmt.Errorf("fetch %s: %w", s.segment, err)
			}
			if err == nil {
				b, rerr := os.ReadFile(path)
				if rerr != nil {
					return false, rerr
				}
				if nonZeroFrom(b, off) {
					return true, nil
				}
				_ = os.Remove(path)
			}
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("the WAL archive did not hold restore point %s (%s, in %s) within %s: is WAL archiving running (/dr status)?",
				RestorePointName(o.ID), walarchive.FormatLSN(s.lsn), s.segment, o.WALTimeout)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// fetchWAL fetches and checks every WAL file the recovery reads, from the base backup's first
// segment to the restore point's (already fetched), and the timeline's history file.
func fetchWAL(ctx context.Context, o *Options, r *walarchive.Reader, sys *walarchive.System, plan *pitr.Plan, s *snap, walDir string, res *Result) error {
	size := sys.WALSegmentSize
	first, _ := walarchive.ParseFile(plan.FirstWAL)
	last, ok := walarchive.ParseFile(s.segment)
	if !ok || last.Timeline != first.Timeline {
		return fmt.Errorf("the restore point is in %s, not on base backup %s's timeline %d: the drill restores only within one timeline", s.segment, plan.Base.ID, first.Timeline)
	}
	from, to := first.SegmentNo(size), last.SegmentNo(size)
	if to < from {
		return fmt.Errorf("the restore point (%s) is before base backup %s's WAL (%s)", s.segment, plan.Base.ID, plan.FirstWAL)
	}
	names := []string{}
	if first.Timeline > 1 {
		names = append(names, fmt.Sprintf("%08X.history", first.Timeline))
	}
	for n := from; n < to; n++ {
		names = append(names, walarchive.SegmentName(first.Timeline, n, size))
	}
	for i, name := range names {
		if err := r.Fetch(ctx, sys, name, filepath.Join(walDir, name), false); err != nil {
			return fmt.Errorf("fetch %s: %w", name, err)
		}
		if i%16 == 15 {
			o.progress("fetched and checked %d of %d WAL files", i+1, len(names)+1)
		}
	}
	res.WALFiles = len(names) + 1
	entries, err := os.ReadDir(walDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			res.WALBytes += fi.Size()
		}
	}
	return nil
}

// compare counts the restored tables and sorts each into passed, busy or mismatched.
func compare(ctx context.Context, conn *pgx.Conn, s *snap, res *Result) error {
	restored, err := countAll(ctx, conn)
	if err != nil {
		return fmt.Errorf("count the restored rows: %w", err)
	}
	classify(s.before, s.after, restored, res)
	return nil
}

// classify compares each table's restored count R with the primary's before (S1) and after
// (S2) the restore point: equal where S1 = S2; between them where the table was written during
// the drill (busy); anything else is a mismatch.
func classify(before, after, restored map[string]int64, res *Result) {
	s := &snap{before: before, after: after}
	all := map[string]bool{}
	for n := range s.before {
		all[n] = true
	}
	for n := range s.after {
		all[n] = true
	}
	for n := range restored {
		all[n] = true
	}
	sorted := make([]string, 0, len(all))
	for n := range all {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		b, inB := s.before[n]
		a, inA := s.after[n]
		r, inR := restored[n]
		t := Table{Name: n, Before: b, After: a, Restored: r}
		res.Rows += r
		switch {
		case inB && inA && inR:
			lo, hi := min(b, a), max(b, a)
			switch {
			case r < lo || r > hi:
				res.Mismatches = append(res.Mismatches, t)
			case b != a:
				res.Busy = append(res.Busy, t)
			}
		case inB && !inR:
			// In the primary before the restore point: the restore must have it.
			t.Missing = "in the restored cluster"
			res.Mismatches = append(res.Mismatches, t)
		case !inB && !inA:
			// Neither snapshot had it: it cannot have existed at the restore point.
			t.Missing = "on the primary (before and after the restore point)"
			res.Mismatches = append(res.Mismatches, t)
		default:
			// Created or dropped during the drill: either side of the restore point is right.
			t.Missing = map[bool]string{true: "after the restore point", false: "before the restore point"}[inB]
			res.Busy = append(res.Busy, t)
		}
		res.Tables = append(res.Tables, t)
	}
}
