package backup

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
)

var drillNameUnsafe = regexp.MustCompile(`[^a-z0-9_]`)

// DrillDatabaseName is the default scratch database of a drill of backup id.
func DrillDatabaseName(id string) string {
	name := "dr_drill_" + drillNameUnsafe.ReplaceAllString(strings.ToLower(id), "_")
	return name[:min(len(name), 63)]
}

// drill restores the dump into a new scratch database with pg_restore, compares every table's
// row count with the manifest, and drops the database whatever happens.
func (vr *verifier) drill(ctx context.Context) (string, error) {
	d := vr.o.Drill
	if vr.o.PgRestore == "" {
		return "", &skipError{why: "no pg_restore: install the PostgreSQL client programs"}
	}
	obj := vr.m.Object(ComponentDatabase)
	if obj == nil {
		return "", &skipError{why: "the backup has no database dump"}
	}
	ids, readable := vr.identitiesFor(ComponentDatabase)
	if !readable {
		return "", &skipError{why: "the backup is encrypted and no identity was given: the dump cannot be restored"}
	}
	name := d.Database
	if name == "" {
		name = DrillDatabaseName(vr.m.ID)
	}
	admin, err := pgdump.Connect(ctx, d.AdminURL, "")
	if err != nil {
		return "", fmt.Errorf("drill: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	quoted := pgx.Identifier{name}.Sanitize()
	// A drill killed half way leaves its database behind: start clean.
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+quoted+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drill: drop the leftover scratch database %s: %w", name, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+quoted+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		return "", fmt.Errorf("drill: create the scratch database %s (the drill database URL's user needs CREATEDB): %w", name, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, _ = admin.Exec(dctx, "DROP DATABASE IF EXISTS "+quoted+" WITH (FORCE)")
	}()

	start := time.Now()
	if err := vr.restoreDump(ctx, obj, ids, d.AdminURL, name); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		vr.problem("restore drill: %v", err)
		return "the dump did not restore", nil
	}
	restoreTime := time.Since(start)
	vr.mu.Lock()
	vr.v.DrillRestoreMS = restoreTime.Milliseconds()
	vr.mu.Unlock()

	conn, err := pgdump.Connect(ctx, d.AdminURL, name)
	if err != nil {
		return "", fmt.Errorf("drill: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tables := make([]string, 0, len(vr.m.TableRowCounts))
	for t := range vr.m.TableRowCounts {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	var rows int64
	mismatches := 0
	for _, t := range tables {
		schema, table, _ := strings.Cut(t, ".")
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, table}.Sanitize()).Scan(&n); err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			vr.problem("restore drill: table %s cannot be counted after the restore: %v", t, err)
			mismatches++
			continue
		}
		rows += n
		if want := vr.m.TableRowCounts[t]; n != want {
			mismatches++
			if mismatches <= 20 {
				vr.problem("restore drill: table %s has %d rows after the restore, the manifest says %d", t, n, want)
			}
		}
	}
	if mismatches > 0 {
		return fmt.Sprintf("restored in %s; %d of %d tables differ", restoreTime.Round(10*time.Millisecond), mismatches, len(tables)), nil
	}
	return fmt.Sprintf("restored into %s in %s; %d tables, %d rows, every count equal to the manifest (database dropped)",
		name, restoreTime.Round(10*time.Millisecond), len(tables), rows), nil
}

// restoreDump streams the dump object into pg_restore connected to database on dsn's server.
func (vr *verifier) restoreDump(ctx context.Context, obj *Object, ids []age.Identity, dsn, database string) error {
	plain, err := OpenObject(ctx, vr.s, obj.Key, ids)
	if err != nil {
		return err
	}
	defer plain.Close()
	env, err := pgdump.ClientEnv(dsn, database)
	if err != nil {
		return err
	}
	return pgdump.RunClient(ctx, vr.o.PgRestore, env, plain, nil, "--exit-on-error", "--no-owner", "--no-privileges", "--dbname="+database)
}
