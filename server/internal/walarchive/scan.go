package walarchive

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// Archive is what a destination's WAL archive holds, from its listing: what a restore can
// reach and when the archive was last written. Scan reads no content and checks no signature:
// Fetch checks each file as it is read.
type Archive struct {
	System    *System
	Timelines []*Timeline // by ID
	// Newest is when the newest file was stored: no restore reaches later than this.
	Newest time.Time
}

// Timeline is the archive of one timeline.
type Timeline struct {
	ID       uint32
	First    uint64 // segment numbers
	Last     uint64
	Segments int
	History  bool   // its history file is archived (every timeline after the first has one)
	Partial  string // the segment being written, when its partial copy is archived
	// Gaps are the missing runs of segments between First and Last: WAL lost before it was
	// archived (a slot dropped, a spool lost). No restore crosses one.
	Gaps [][2]uint64
}

// Scan lists the archive. A destination without one gives an error that says so.
func (r *Reader) Scan(ctx context.Context) (*Archive, error) {
	sys, err := r.System(ctx)
	if err != nil {
		return nil, err
	}
	a := &Archive{System: sys}
	tls := map[uint32]*Timeline{}
	segs := map[uint32][]uint64{}
	err = r.Store.List(ctx, Prefix, func(o storage.ObjectInfo) error {
		name := strings.TrimPrefix(o.Key, Prefix)
		dir, base, ok := strings.Cut(name, "/")
		if !ok || strings.HasSuffix(base, ".sig") {
			return nil
		}
		base = strings.TrimSuffix(strings.TrimSuffix(base, ageSuffix), zstSuffix)
		f, ok := ParseFile(base)
		if !ok || fmt.Sprintf("%08X", f.Timeline) != dir {
			return nil
		}
		tl := tls[f.Timeline]
		if tl == nil {
			tl = &Timeline{ID: f.Timeline}
			tls[f.Timeline] = tl
		}
		if o.ModTime.After(a.Newest) {
			a.Newest = o.ModTime
		}
		switch {
		case !f.Segment:
			tl.History = true
		case f.Partial:
			if f.Name > tl.Partial {
				tl.Partial = f.Name
			}
		default:
			segs[f.Timeline] = append(segs[f.Timeline], f.SegmentNo(sys.WALSegmentSize))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the WAL archive at %s: %w", r.Store, err)
	}
	for id, tl := range tls {
		s := segs[id]
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		tl.Segments = len(s)
		if len(s) > 0 {
			tl.First, tl.Last = s[0], s[len(s)-1]
		}
		for i := 1; i < len(s); i++ {
			if s[i] > s[i-1]+1 {
				tl.Gaps = append(tl.Gaps, [2]uint64{s[i-1] + 1, s[i] - 1})
			}
		}
		// Between the last whole segment and the partial one, too: replay would end there.
		if p, ok := ParseFile(tl.Partial); ok && len(s) > 0 && p.SegmentNo(sys.WALSegmentSize) > tl.Last+1 {
			tl.Gaps = append(tl.Gaps, [2]uint64{tl.Last + 1, p.SegmentNo(sys.WALSegmentSize) - 1})
		}
		a.Timelines = append(a.Timelines, tl)
	}
	sort.Slice(a.Timelines, func(i, j int) bool { return a.Timelines[i].ID < a.Timelines[j].ID })
	return a, nil
}

// Timeline returns timeline id, or nil.
func (a *Archive) Timeline(id uint32) *Timeline {
	for _, tl := range a.Timelines {
		if tl.ID == id {
			return tl
		}
	}
	return nil
}

// Covers says why the archive cannot replay timeline tl from segment from through segment to
// (nil: it can). A partial copy of the last one counts when partialOK.
func (a *Archive) Covers(tl uint32, from, to uint64, partialOK bool) error {
	t := a.Timeline(tl)
	size := a.System.WALSegmentSize
	name := func(n uint64) string { return SegmentName(tl, n, size) }
	if t == nil || t.Segments == 0 && t.Partial == "" {
		return fmt.Errorf("the WAL archive holds no WAL of timeline %d (it needs %s onwards)", tl, name(from))
	}
	last := t.Last
	if t.Segments == 0 || partialOK && t.Partial != "" {
		if p, ok := ParseFile(t.Partial); ok && partialOK {
			last = max(last, p.SegmentNo(size))
		}
	}
	switch {
	case t.Segments > 0 && from < t.First:
		return fmt.Errorf("the WAL archive of timeline %d starts at %s; it needs %s onwards", tl, name(t.First), name(from))
	case t.Segments == 0 && from != last:
		return fmt.Errorf("the WAL archive of timeline %d holds only %s; it needs %s onwards", tl, name(last), name(from))
	case to > last:
		return fmt.Errorf("the WAL archive of timeline %d ends at %s; it needs %s", tl, name(last), name(to))
	}
	for _, g := range t.Gaps {
		if g[1] >= from && g[0] <= to {
			return fmt.Errorf("the WAL archive of timeline %d misses %s to %s (WAL lost before it was archived): take a new base backup", tl, name(g[0]), name(g[1]))
		}
	}
	return nil
}
