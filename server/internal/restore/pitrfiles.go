package restore

import (
	"context"
	"fmt"
	"time"

	"filippo.io/age"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// The files of a point-in-time restore. The database comes back from a base backup and the
// WAL; the files come from a file index: that of the first file capture or backup taken at or
// after the target time (the first that can list every file uploaded by then), restricted to
// the entries added by then (format.IndexEntry.AddedAt). The restore itself is Run's, with
// Options.ID naming that backup, Options.PointInTimeFiles and Options.FilesAt the time.

// PickFiles chooses the file index of a point-in-time restore to at (latest: the newest
// index) among ms (newest first): trusted backups, logical ones or file captures, holding a
// file index. Notes say which it passed over and why.
func (t Trust) PickFiles(ms []*format.Manifest, at time.Time, latest bool, now time.Time, where string) (m *format.Manifest, notes []string, err error) {
	var cands []*format.Manifest // newest first
	for _, c := range ms {
		if c.Class() == format.ClassBase || !c.Components.Files || c.Object(format.ComponentFilesIndex) == nil {
			continue
		}
		if why := t.Untrusted(c, now); why != "" {
			notes = append(notes, fmt.Sprintf("passed over backup %s: %s", c.ID, why))
			continue
		}
		cands = append(cands, c)
	}
	if len(cands) == 0 {
		return nil, notes, fmt.Errorf("%w: no trusted backup or file capture at %s holds a file index", ErrRefused, where)
	}
	if latest {
		return cands[0], notes, nil
	}
	for i := len(cands) - 1; i >= 0; i-- {
		if !cands[i].StartedAt.Before(at) {
			return cands[i], notes, nil
		}
	}
	// Every index is older than the target: the newest lists the files as they were last seen.
	notes = append(notes, fmt.Sprintf("the newest file index (%s %s, started %s) is older than the target: files uploaded after it are not in any backup",
		cands[0].Class(), cands[0].ID, cands[0].StartedAt.UTC().Format(time.RFC3339)))
	return cands[0], notes, nil
}

// FileSet counts the entries of m's file index added by at (zero: every entry) and their bytes.
func FileSet(ctx context.Context, s storage.Reader, m *format.Manifest, identities []age.Identity, at time.Time) (files, bytes int64, err error) {
	err = format.ReadIndex(ctx, s, m, identities, func(e format.IndexEntry) error {
		if inFileSet(e, m, at) {
			files++
			bytes += e.Size
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read the file index of %s %s: %w", m.Class(), m.ID, err)
	}
	return files, bytes, nil
}

// inFileSet says whether entry e of m's index is restored to at (zero: every entry).
func inFileSet(e format.IndexEntry, m *format.Manifest, at time.Time) bool {
	return at.IsZero() || !e.AddedAt(m.StartedAt).After(at)
}
