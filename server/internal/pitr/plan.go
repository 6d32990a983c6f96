// Package pitr restores a PostgreSQL cluster to a point in time: the newest trusted base
// backup (backup component "base") taken before that time, unpacked into a new data folder,
// and the recovery settings that make PostgreSQL's own recovery replay the WAL archive
// (walarchive) up to that time. PostgreSQL does the replay; drctl wal-fetch feeds it, checked.
package pitr

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"filippo.io/age"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

// ErrRefused marks a restore refused before anything was written.
var ErrRefused = errors.New("refused")

// Target is the point to restore to: a time, a named restore point
// (pg_create_restore_point), or the newest WAL the archive holds.
type Target struct {
	Time   time.Time // zero with Latest or Name
	Latest bool
	// Name is a restore point created after the newest base backup (a restore drill's): the
	// recovery stops there, whatever the clocks say.
	Name string
}

func (t Target) String() string {
	if t.Latest {
		return "the newest archived WAL"
	}
	if t.Name != "" {
		return "restore point " + strconv.Quote(t.Name)
	}
	return t.Time.UTC().Format(time.RFC3339)
}

// Source is a destination holding base backups and a WAL archive.
type Source struct {
	Store      storage.Reader
	Key        format.PublicKey // the server's signing key: only what it signed is used
	Identities []age.Identity
	Now        func() time.Time
}

func (s Source) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s Source) wal() *walarchive.Reader {
	return &walarchive.Reader{Store: s.Store, Keys: []format.PublicKey{s.Key}, Identities: s.Identities}
}

// Window is the span a point-in-time restore from one destination can reach.
type Window struct {
	// From is when the oldest usable base backup finished: no earlier time is reachable.
	From time.Time
	// To is when the archive was last written: the newest reachable time.
	To    time.Time
	Bases []*format.Manifest // usable base backups, newest first
	WAL   *walarchive.Archive
	// Notes say which base backups were passed over, and why.
	Notes []string
}

// ReadWindow reads the restorable window of src.
func ReadWindow(ctx context.Context, src Source) (*Window, error) {
	if src.Key.IsZero() {
		return nil, fmt.Errorf("%w: point-in-time restore needs the server's public key (--trust-key): it replays only WAL that key signed", ErrRefused)
	}
	wal, err := src.wal().Scan(ctx)
	if err != nil {
		return nil, err
	}
	ms, _, err := format.ListManifests(ctx, src.Store)
	if err != nil {
		return nil, err
	}
	format.SortNewestFirst(ms)
	w := &Window{WAL: wal, To: wal.Newest}
	for _, m := range ms {
		if !m.Components.Base || m.Base == nil || m.Object(format.ComponentBase) == nil {
			continue
		}
		why := usable(src, m, wal)
		if why != "" {
			w.Notes = append(w.Notes, fmt.Sprintf("base backup %s passed over: %s", m.ID, why))
			continue
		}
		w.Bases = append(w.Bases, m)
		w.From = m.FinishedAt
	}
	if len(w.Bases) == 0 {
		return w, fmt.Errorf("%w: %s holds no usable base backup for a point-in-time restore (take one: /dr backup base)%s", ErrRefused, src.Store, notes(w.Notes))
	}
	return w, nil
}

// usable says why base backup m cannot start a restore from the archive wal ("" when it can).
func usable(src Source, m *format.Manifest, wal *walarchive.Archive) string {
	p := m.Provenance
	switch {
	case !p.Signed():
		return "not signed by the server (" + p.Problem + ")"
	case !p.SignedBy(src.Key):
		return "signed by " + p.Signer.Fingerprint() + ", not by the --trust-key"
	case format.DatedInFuture(m, src.now()):
		return "dated in the future"
	case m.Base.SystemID != wal.System.SystemID:
		return fmt.Sprintf("it is of PostgreSQL system %s, the WAL archive of system %s", m.Base.SystemID, wal.System.SystemID)
	case m.Base.WALSegmentSize != wal.System.WALSegmentSize:
		return "its WAL segment size differs from the archive's"
	}
	start, ok1 := walarchive.ParseFile(m.Base.StartWAL)
	end, ok2 := walarchive.ParseFile(m.Base.EndWAL)
	if !ok1 || !ok2 || !start.Segment || !end.Segment || start.Timeline != m.Base.Timeline {
		return "its manifest names no valid WAL range"
	}
	size := wal.System.WALSegmentSize
	if err := wal.Covers(m.Base.Timeline, start.SegmentNo(size), end.SegmentNo(size), true); err != nil {
		return err.Error()
	}
	return ""
}

func notes(ns []string) string {
	if len(ns) == 0 {
		return ""
	}
	s := ""
	for _, n := range ns {
		s += "; " + n
	}
	return s
}

// Plan is what a restore will use.
type Plan struct {
	Target Target
	Base   *format.Manifest
	Window *Window
	// FirstWAL is the first segment replayed; LastWAL the newest archived on the base
	// backup's timeline (a partial copy when PartialLast).
	FirstWAL, LastWAL string
	PartialLast       bool
}

// MakePlan picks the base backup for target and checks that the archive reaches it.
func MakePlan(ctx context.Context, src Source, target Target) (*Plan, error) {
	w, err := ReadWindow(ctx, src)
	if err != nil {
		return nil, err
	}
	p := &Plan{Target: target, Window: w}
	if target.Latest || target.Name != "" {
		// A restore point is named by who made it, after the newest base backup.
		p.Base = w.Bases[0]
	} else {
		if target.Time.After(w.To) {
			return nil, fmt.Errorf("%w: %s is after the newest archived WAL (stored %s): the archive cannot reach it; use --to-latest, or a time up to %s",
				ErrRefused, target, w.To.UTC().Format(time.RFC3339), w.To.UTC().Format(time.RFC3339))
		}
		for _, m := range w.Bases {
			if !m.FinishedAt.After(target.Time) {
				p.Base = m
				break
			}
		}
		if p.Base == nil {
			return nil, fmt.Errorf("%w: %s is before the oldest usable base backup finished (%s, backup %s): the restorable window is %s to %s",
				ErrRefused, target, w.From.UTC().Format(time.RFC3339), w.Bases[len(w.Bases)-1].ID,
				w.From.UTC().Format(time.RFC3339), w.To.UTC().Format(time.RFC3339))
		}
	}
	p.FirstWAL = p.Base.Base.StartWAL
	tl := w.WAL.Timeline(p.Base.Base.Timeline)
	size := w.WAL.System.WALSegmentSize
	p.LastWAL = walarchive.SegmentName(tl.ID, tl.Last, size)
	if tl.Partial != "" {
		if pf, ok := walarchive.ParseFile(tl.Partial); ok && (tl.Segments == 0 || pf.SegmentNo(size) > tl.Last) {
			p.LastWAL, p.PartialLast = tl.Partial, true
		}
	}
	// A gap after the base backup ends recovery there, silently to PostgreSQL: with
	// --to-latest that would restore less than asked, so refuse; with a time, say where the
	// reach ends (the target may be before it).
	first, _ := walarchive.ParseFile(p.FirstWAL)
	lastFile, _ := walarchive.ParseFile(p.LastWAL)
	if err := w.WAL.Covers(tl.ID, first.SegmentNo(size), lastFile.SegmentNo(size), true); err != nil {
		if target.Name != "" {
			return nil, fmt.Errorf("%w: %w; the recovery cannot reach %s", ErrRefused, err, target)
		}
		if target.Latest {
			return nil, fmt.Errorf("%w: %w; the newest reachable point is before that gap: restore with --to-time to a time before it", ErrRefused, err)
		}
		w.Notes = append(w.Notes, fmt.Sprintf("%v: recovery stops at the gap if %s is after it", err, target))
	}
	return p, nil
}
