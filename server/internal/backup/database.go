package backup

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
)

// database streams pg_dump's archive to database.dump.zst and, from the same snapshot, the
// paths the database refers to to referenced.jsonl.zst.
func (r *run) database(ctx context.Context) error {
	dump, err := newSink(ctx, r.dests, r.key(databaseName), format.ComponentDatabase, r.encs, r.recipients, false, &r.progress.written)
	if err != nil {
		return err
	}
	// The paths are no more secret than the file index: encrypted to the index key too, so
	// that verify can check them against the index without the backup's identity.
	refs, err := newSink(ctx, r.dests, r.key(referencedName), format.ComponentReferenced, r.encs, r.indexRecipients, false, &r.progress.written)
	if err != nil {
		return dump.abort(err)
	}
	opts := r.o.Database
	opts.Compress = 0 // zstd does better, after pg_dump
	var last int64
	opts.Progress = func(n int64) {
		r.progress.read.Add(n - last)
		last = n
	}
	var count int64
	opts.InSnapshot = func(ctx context.Context, q pgdump.Querier) error {
		var err error
		count, err = r.collectReferences(ctx, q, refs)
		return err
	}
	res, err := pgdump.Dump(ctx, dump, opts)
	if err != nil {
		_ = refs.abort(err)
		return dump.abort(err)
	}
	obj, err := dump.close(nil)
	if err != nil {
		return refs.abort(err)
	}
	refObj, err := refs.close(nil)
	if err != nil {
		return err
	}
	for _, d := range r.dests {
		d.addObject(obj)
		d.addObject(refObj)
	}
	r.mu.Lock()
	r.db = res
	r.referenced = count
	r.mu.Unlock()
	return nil
}

// collectReferences writes one JSON line per file the database refers to, in the database's
// order (unsorted: sorting millions of paths would load the production database):
// FileInfo's Path, ThumbnailPath and PreviewPath; users/<id>/profile.png for users with a
// custom picture (LastPictureUpdate > 0); emoji/<id>/image for custom emoji not deleted. The
// brand image (brand/image.png) is not listed: whether one was uploaded is not in the database.
// Tables or columns that do not exist (an unusual schema) are skipped with a warning.
func (r *run) collectReferences(ctx context.Context, q pgdump.Querier, w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var n int64
	emit := func(ref format.Reference) error {
		n++
		return enc.Encode(ref)
	}

	cols, err := columnsOf(ctx, q, "fileinfo")
	if err != nil {
		return n, err
	}
	if cols["path"] && cols["thumbnailpath"] && cols["previewpath"] {
		deleted := "false"
		if cols["deleteat"] {
			deleted = "COALESCE(deleteat, 0) > 0"
		}
		err := query(ctx, q, `SELECT COALESCE(path, ''), COALESCE(thumbnailpath, ''), COALESCE(previewpath, ''), `+deleted+` FROM fileinfo`,
			func(rows scanner) error {
				var p, t, v string
				var del bool
				if err := rows.Scan(&p, &t, &v, &del); err != nil {
					return err
				}
				for _, ref := range []format.Reference{{Path: p, Kind: "file", Deleted: del}, {Path: t, Kind: "thumbnail", Deleted: del}, {Path: v, Kind: "preview", Deleted: del}} {
					if ref.Path == "" {
						continue
					}
					if err := emit(ref); err != nil {
						return err
					}
				}
				return nil
			})
		if err != nil {
			return n, fmt.Errorf("list the files of FileInfo: %w", err)
		}
	} else {
		r.warn("the database has no FileInfo table with Path, ThumbnailPath and PreviewPath: the files posts refer to are not listed")
	}

	if cols, err = columnsOf(ctx, q, "users"); err != nil {
		return n, err
	}
	if cols["id"] && cols["lastpictureupdate"] {
		deleted := "false"
		if cols["deleteat"] {
			deleted = "COALESCE(deleteat, 0) > 0"
		}
		err := query(ctx, q, `SELECT id, `+deleted+` FROM users WHERE lastpictureupdate > 0`, func(rows scanner) error {
			var id string
			var del bool
			if err := rows.Scan(&id, &del); err != nil {
				return err
			}
			return emit(format.Reference{Path: "users/" + id + "/profile.png", Kind: "profile", Deleted: del})
		})
		if err != nil {
			return n, fmt.Errorf("list the profile pictures of Users: %w", err)
		}
	} else {
		r.warn("the database has no Users table with LastPictureUpdate: profile pictures are not listed")
	}

	if cols, err = columnsOf(ctx, q, "emoji"); err != nil {
		return n, err
	}
	if cols["id"] {
		where := ""
		if cols["deleteat"] {
			where = " WHERE COALESCE(deleteat, 0) = 0"
		}
		err := query(ctx, q, `SELECT id FROM emoji`+where, func(rows scanner) error {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			return emit(format.Reference{Path: "emoji/" + id + "/image", Kind: "emoji"})
		})
		if err != nil {
			return n, fmt.Errorf("list the custom emoji of Emoji: %w", err)
		}
	} else {
		r.warn("the database has no Emoji table: custom emoji images are not listed")
	}
	return n, bw.Flush()
}

type scanner interface{ Scan(dest ...any) error }

// query runs sql and calls fn for each row, as the rows arrive.
func query(ctx context.Context, q pgdump.Querier, sql string, fn func(scanner) error, args ...any) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// columnsOf returns the column names of the table the search path finds under name (empty
// when there is none).
func columnsOf(ctx context.Context, q pgdump.Querier, name string) (map[string]bool, error) {
	cols := map[string]bool{}
	err := query(ctx, q, `SELECT attname::text FROM pg_catalog.pg_attribute
		WHERE attrelid = pg_catalog.to_regclass($1) AND attnum > 0 AND NOT attisdropped`, func(rows scanner) error {
		var c string
		if err := rows.Scan(&c); err != nil {
			return err
		}
		cols[c] = true
		return nil
	}, name)
	if err != nil {
		return nil, fmt.Errorf("look up table %s: %w", name, err)
	}
	return cols, nil
}
