package pgdump

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDumpInSnapshot checks that the hook reads the dump's snapshot: rows
// committed after the snapshot was exported, while the hook and pg_dump run,
// are seen neither by the hook nor by the archive; and that the hook runs while
// pg_dump does.
func TestDumpInSnapshot(t *testing.T) {
	requirePG(t)
	_, url := createDB(t, "insnapshot")
	conn := connect(t, url)
	want := populate(t, conn)
	addFiller(t, conn, 2)
	other := connect(t, url)

	archive := filepath.Join(t.TempDir(), "db.dump")
	f, err := os.Create(archive)
	require.NoError(t, err)
	defer f.Close()
	w := &slowWriter{perByte: 200 * time.Nanosecond, file: f}
	var hookUsers, hookPosts int64
	var writtenWhenHookEnded int64
	res, err := Dump(context.Background(), w, Options{
		DataSource: url,
		InSnapshot: func(ctx context.Context, q Querier) error {
			// Committed after the snapshot: invisible to q and to the archive.
			if _, err := other.Exec(ctx, `INSERT INTO public.users (name) VALUES ('late'); DELETE FROM public.posts WHERE id <= 10`); err != nil {
				return err
			}
			rows, err := q.Query(ctx, `SELECT (SELECT count(*) FROM public.users), (SELECT count(*) FROM public.posts)`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := rows.Scan(&hookUsers, &hookPosts); err != nil {
					return err
				}
			}
			writtenWhenHookEnded = w.n.Load()
			return rows.Err()
		},
	})
	require.NoError(t, err)
	require.NoError(t, f.Close())
	assert.Equal(t, want["public.users"], hookUsers)
	assert.Equal(t, want["public.posts"], hookPosts)
	assert.Less(t, writtenWhenHookEnded, res.Bytes, "the hook ended before pg_dump had written everything")
	restored := restoreCounts(t, archive)
	assert.Equal(t, want["public.users"], restored["public.users"])
	assert.Equal(t, want["public.posts"], restored["public.posts"])
}

func TestDumpInSnapshotFails(t *testing.T) {
	requirePG(t)
	db, url := createDB(t, "insnapshotfail")
	conn := connect(t, url)
	populate(t, conn)
	addFiller(t, conn, 2)
	boom := errors.New("boom")
	w := &slowWriter{perByte: 200 * time.Nanosecond}
	start := time.Now()
	_, err := Dump(context.Background(), w, Options{
		DataSource: url,
		InSnapshot: func(ctx context.Context, _ Querier) error {
			for w.n.Load() == 0 {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				time.Sleep(5 * time.Millisecond)
			}
			return boom
		},
	})
	require.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, "in the snapshot")
	assert.Less(t, time.Since(start), 10*time.Second, "pg_dump was stopped, not waited for")
	assert.Empty(t, pgDumpChildren(t))
	waitNoPgDumpBackend(t, db)
}
