package walarchive

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// PruneResult is what Prune did (or, dry, would do).
type PruneResult struct {
	// Skipped says why nothing was pruned ("" when Prune ran).
	Skipped string
	// Deleted counts the archive files deleted (segments and partial segments; their .sig
	// sidecars are not counted), Bytes their stored size with the sidecars.
	Deleted int
	Bytes   int64
	// KeptFrom is the oldest segment kept, of the oldest kept base backup ("" when skipped).
	KeptFrom string
}

// need is where one kept base backup starts replaying: its timeline and first segment.
type need struct {
	tl  uint32
	seg uint64
}

// Prune deletes the archived WAL that none of bases (the base backups retention keeps at s)
// needs: the segments, partial segments and their signatures that are older than the first
// segment (StartWAL) of every base backup and on its timeline or an earlier one. Timeline
// history files (a few hundred bytes each) and wal/system.json are never deleted, nor any
// object whose name is not one the archiver writes.
//
// Only base backups signed by one of keys count: a manifest planted at the destination must
// not make Prune delete WAL. Nothing is deleted when no base backup counts, when one that
// counts is not of the archive's system or names no valid start, when wal/system.json is not
// signed by a key, or when the archive cannot be listed whole. With dry, nothing is deleted
// and the result says what would be.
func Prune(ctx context.Context, s storage.Store, keys []format.PublicKey, bases []*format.Manifest, dry bool) (PruneResult, error) {
	var res PruneResult
	var trusted []*format.Manifest
	for _, m := range bases {
		if m.Class() == format.ClassBase && signedByOneOf(m.Provenance, keys) {
			trusted = append(trusted, m)
		}
	}
	if len(trusted) == 0 {
		res.Skipped = "no trusted base backup"
		return res, nil
	}
	if _, err := s.Stat(ctx, SystemKey); errors.Is(err, storage.ErrNotFound) {
		res.Skipped = "no WAL archive"
		return res, nil
	}
	sys, err := (&Reader{Store: s, Keys: keys}).System(ctx)
	if err != nil {
		return res, fmt.Errorf("WAL not pruned: %w", err)
	}
	var needs []need
	oldest := trusted[0]
	for _, m := range trusted {
		b := m.Base
		if b == nil {
			return res, fmt.Errorf("WAL not pruned: base backup %s has no WAL range in its manifest", m.ID)
		}
		if b.SystemID != sys.SystemID || b.WALSegmentSize != sys.WALSegmentSize {
			return res, fmt.Errorf("WAL not pruned: base backup %s is of PostgreSQL system %s, the WAL archive at %s of system %s", m.ID, b.SystemID, s, sys.SystemID)
		}
		f, ok := ParseFile(b.StartWAL)
		if !ok || !f.Segment || f.Partial || f.Timeline != b.Timeline {
			return res, fmt.Errorf("WAL not pruned: base backup %s names no valid first WAL segment (%q)", m.ID, b.StartWAL)
		}
		needs = append(needs, need{tl: f.Timeline, seg: f.SegmentNo(sys.WALSegmentSize)})
		if m.StartedAt.Before(oldest.StartedAt) {
			oldest = m
		}
	}
	res.KeptFrom = oldest.Base.StartWAL

	// Listed whole before anything is deleted: a listing that fails half-way deletes nothing.
	type doomed struct {
		key  string
		size int64
		sig  bool
	}
	var del []doomed
	err = s.List(ctx, Prefix, func(o storage.ObjectInfo) error {
		f, sig, ok := parseKey(o.Key)
		if !ok || !f.Segment {
			return nil
		}
		n := f.SegmentNo(sys.WALSegmentSize)
		for _, nd := range needs {
			if f.Timeline > nd.tl || n >= nd.seg {
				return nil
			}
		}
		del = append(del, doomed{key: o.Key, size: o.Size, sig: sig})
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("WAL not pruned: list the WAL archive at %s: %w", s, err)
	}
	for _, d := range del {
		if !dry {
			if err := s.Delete(ctx, d.key); err != nil {
				return res, fmt.Errorf("prune the WAL archive at %s: delete %s: %w", s, d.key, err)
			}
		}
		if !d.sig {
			res.Deleted++
		}
		res.Bytes += d.size
	}
	return res, nil
}

func signedByOneOf(p format.Provenance, keys []format.PublicKey) bool {
	if !p.Signed() {
		return false
	}
	for _, k := range keys {
		if p.SignedBy(k) {
			return true
		}
	}
	return false
}

// parseKey parses an archive object key, wal/<timeline>/<file>.zst[.age][.sig], as the
// archiver writes it; sig is true for a signature sidecar. ok is false for any other key.
func parseKey(key string) (f File, sig, ok bool) {
	rest, found := strings.CutPrefix(key, Prefix)
	if !found {
		return File{}, false, false
	}
	dir, base, found := strings.Cut(rest, "/")
	if !found || strings.Contains(base, "/") {
		return File{}, false, false
	}
	base, sig = strings.CutSuffix(base, ".sig")
	base = strings.TrimSuffix(base, ageSuffix)
	base, found = strings.CutSuffix(base, zstSuffix)
	if !found {
		return File{}, false, false
	}
	f, ok = ParseFile(base)
	if !ok || fmt.Sprintf("%08X", f.Timeline) != dir {
		return File{}, false, false
	}
	return f, sig, true
}
