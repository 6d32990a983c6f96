package restore

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/dbrestore"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
)

// database restores the dump: with several jobs from a staged file (pg_restore -j needs a
// seekable archive), else streamed. Then it counts every table's rows against the manifest.
func (r *restorer) database(ctx context.Context) error {
	obj := r.m.Object(format.ComponentDatabase)
	if obj == nil {
		return fmt.Errorf("backup %s has no database dump", r.m.ID)
	}
	if r.o.Force {
		if err := r.dropSchemas(ctx); err != nil {
			return err
		}
	}
	start := time.Now()
	if r.o.Jobs > 1 {
		path, err := r.stageDump(ctx, obj)
		if err != nil {
			return err
		}
		defer os.Remove(path)
		r.printf("database: pg_restore -j %d", r.o.Jobs)
		if err := dbrestore.Restore(ctx, r.o.PgRestore, r.o.DatabaseURL, "", nil, "--jobs="+strconv.Itoa(r.o.Jobs), path); err != nil {
			return fmt.Errorf("%w (the target database now holds part of the backup: restore again with --force)", err)
		}
	} else {
		plain, err := format.OpenObject(ctx, r.o.From, obj.Key, r.o.Identities)
		if err != nil {
			return err
		}
		defer plain.Close()
		r.printf("database: pg_restore (streamed)")
		bounded := &boundedReader{r: plain, limit: obj.PlainSize, record: "the manifest records for the dump"}
		if err := dbrestore.Restore(ctx, r.o.PgRestore, r.o.DatabaseURL, "", bounded); err != nil {
			return fmt.Errorf("%w (the target database now holds part of the backup: restore again with --force)", err)
		}
	}
	r.printf("database: restored in %s; counting rows", time.Since(start).Round(100*time.Millisecond))
	return r.countRows(ctx)
}

// stageDump decrypts and decompresses the dump into a private temporary file.
func (r *restorer) stageDump(ctx context.Context, obj *format.Object) (string, error) {
	plain, err := format.OpenObject(ctx, r.o.From, obj.Key, r.o.Identities)
	if err != nil {
		return "", err
	}
	defer plain.Close()
	f, err := os.CreateTemp(r.o.TempDir, "drctl-dump-*.pgdump")
	if err != nil {
		return "", fmt.Errorf("stage the dump (it needs %d bytes of free space; choose the folder with --temp-dir): %w", obj.PlainSize, err)
	}
	r.printf("database: staging the dump (%d bytes) in %s", obj.PlainSize, f.Name())
	n, err := copyBounded(f, &ctxReader{ctx: ctx, r: plain}, obj.PlainSize, "the manifest records for the dump")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != obj.PlainSize {
		err = fmt.Errorf("the dump holds %d bytes, the manifest says %d: the backup is damaged", n, obj.PlainSize)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("stage the dump in %s after %d bytes: %w", f.Name(), n, err)
	}
	return f.Name(), nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// dropSchemas empties the target database (with --force) by dropping and recreating the
// schemas the backup's tables live in.
func (r *restorer) dropSchemas(ctx context.Context) error {
	conn, err := pgdsn.Connect(ctx, r.o.DatabaseURL, "")
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, s := range r.schemas() {
		q := pgx.Identifier{s}.Sanitize()
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+q+" CASCADE"); err != nil {
			return fmt.Errorf("--force: drop schema %s: %w", s, err)
		}
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+q); err != nil {
			return fmt.Errorf("--force: create schema %s: %w", s, err)
		}
		r.printf("database: --force: schema %s dropped and created empty", s)
	}
	return nil
}

// countRows compares every table's row count with the manifest.
func (r *restorer) countRows(ctx context.Context) error {
	conn, err := pgdsn.Connect(ctx, r.o.DatabaseURL, "")
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	counts, err := dbrestore.Count(ctx, conn, r.m.TableRowCounts)
	var bad []string
	var total int64
	for _, c := range counts {
		if c.Err != nil {
			return fmt.Errorf("count the rows of %s after the restore: %w", c.Name, c.Err)
		}
		total += c.Rows
		if c.Rows != c.Want {
			bad = append(bad, fmt.Sprintf("%s has %d rows, the backup %d", c.Name, c.Rows, c.Want))
		}
	}
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("the restored database differs from the backup: %s", strings.Join(bad[:min(len(bad), 10)], "; "))
	}
	r.printf("database: %d tables, %d rows, every count equal to the backup's", len(counts), total)
	return nil
}
