package backup

import (
	"context"
	"fmt"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
)

// baseName is the base backup's object: pg_basebackup's tar, compressed (and encrypted).
const baseName = "base.tar.zst"

// base streams a base backup of the whole PostgreSQL cluster (pg_basebackup's tar, without
// WAL: the WAL archive holds it) to base.tar.zst, through the same sink as the dump: one Put
// per destination, nothing staged.
func (r *run) base(ctx context.Context) error {
	s, err := newSink(ctx, r.dests, r.key(baseName), format.ComponentBase, r.encs, r.recipients, false, &r.progress.written)
	if err != nil {
		return err
	}
	var last int64
	res, err := pgdump.BaseBackup(ctx, s, pgdump.BaseOptions{
		DataSource: r.o.Database.DataSource,
		PgDumpPath: r.o.Database.PgDumpPath,
		Label:      "mattermost-disaster-recovery " + r.id,
		Progress: func(n int64) {
			r.progress.read.Add(n - last)
			last = n
		},
	})
	if err != nil {
		return s.abort(err)
	}
	obj, err := s.close(nil)
	if err != nil {
		return fmt.Errorf("store the base backup: %w", err)
	}
	for _, d := range r.dests {
		d.addObject(obj)
	}
	r.mu.Lock()
	r.baseRes = res
	r.mu.Unlock()
	return nil
}

// baseManifest is Manifest.Base for a finished base backup.
func baseManifest(res *pgdump.BaseResult) *format.BaseBackup {
	return &format.BaseBackup{
		SystemID:       res.SystemID,
		Timeline:       res.Timeline,
		StartLSN:       res.StartLSN,
		EndLSN:         res.EndLSN,
		StartWAL:       res.StartWAL,
		EndWAL:         res.EndWAL,
		WALSegmentSize: res.WALSegmentSize,
	}
}
