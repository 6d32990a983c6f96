package probers

import (
	"context"
	"errors"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pitr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	walprobe "github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/walarchive"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

// DestinationWindow judges the point-in-time restore window of st as a restore would see it:
// the WAL archive and the base backups signed by key, read from the destination itself, so
// that it answers also when Mattermost and the archiver are down (drctl status).
func DestinationWindow(st storage.Reader, key format.PublicKey, th walprobe.WindowThresholds) status.Prober {
	name := "Point-in-time window at " + st.String()
	return fn{component: walprobe.Component, name: name, run: func(ctx context.Context) probe.Result {
		in, err := ReadWindowInput(ctx, st, key)
		if err != nil {
			return probe.Failed(walprobe.Component, name, err, "check that the backup destination can be read")
		}
		return walprobe.AnalyzeWindow(in, th, time.Now())
	}}
}

// ReadWindowInput reads what AnalyzeWindow judges from st. A destination without a WAL
// archive is not an error: the input says so.
func ReadWindowInput(ctx context.Context, st storage.Reader, key format.PublicKey) (walprobe.WindowInput, error) {
	in := walprobe.WindowInput{Where: st.String()}
	rc, err := st.Open(ctx, walarchive.SystemKey)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return in, nil
	case err != nil:
		return in, err
	}
	_ = rc.Close()
	w, err := pitr.ReadWindow(ctx, pitr.Source{Store: st, Key: key})
	if w == nil {
		return in, err
	} // else no usable base backup: the window's input says so
	in.Archived, in.Newest, in.Notes = true, w.To, w.Notes
	for _, tl := range w.WAL.Timelines {
		in.Timeline = max(in.Timeline, tl.ID)
	}
	if len(w.Bases) == 0 {
		return in, nil
	}
	in.Bases, in.From, in.NewestBase = len(w.Bases), w.From, w.Bases[0].FinishedAt
	// Gaps a --to-latest from the newest base backup would meet: on its timeline and later.
	newest := w.Bases[0].Base
	start, ok := walarchive.ParseFile(newest.StartWAL)
	if !ok {
		return in, nil
	}
	from := start.SegmentNo(w.WAL.System.WALSegmentSize)
	for _, tl := range w.WAL.Timelines {
		if tl.ID < newest.Timeline {
			continue
		}
		for _, g := range tl.Gaps {
			if tl.ID > newest.Timeline || g[1] >= from {
				in.Gaps++
			}
		}
	}
	return in, nil
}
