package restore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/verify"
)

// check refuses the restore, changing nothing, when it cannot succeed or would overwrite data.
func (r *restorer) check(ctx context.Context) error {
	m := r.m
	if m.Encryption.Encrypted && len(r.o.Identities) == 0 {
		return fmt.Errorf("%w: backup %s is encrypted (recipients %s): give the identity file of one of them with --identity FILE",
			ErrRefused, m.ID, strings.Join(m.Encryption.Recipients, ", "))
	}
	if err := verify.CheckIdentities(m, r.o.Identities); err != nil {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	switch {
	case r.o.PointInTimeFiles && (r.o.DatabaseURL != "" || r.o.ConfigDir != "" || r.o.ConfigToDatabase):
		return fmt.Errorf("%w: the files of a point-in-time restore are restored alone (the database comes from the WAL archive)", ErrRefused)
	case r.o.PointInTimeConfig && (r.o.DatabaseURL != "" || r.o.ConfigDir == "" || r.o.FilesTo != nil):
		return fmt.Errorf("%w: the config of a point-in-time restore is restored alone, to a config folder", ErrRefused)
	case r.o.PointInTimeFiles:
		// Files only: they do not depend on the Mattermost version that serves them.
	case r.o.TargetVersion == "":
		return fmt.Errorf("%w: say which Mattermost will serve the restored data, with --mattermost-version %s or --mattermost-bin /opt/mattermost/bin/mattermost",
			ErrRefused, orUnknown(m.MattermostVersion))
	case m.MattermostVersion != "" && compareVersions(r.o.TargetVersion, m.MattermostVersion) < 0:
		return fmt.Errorf("%w: backup %s was taken by Mattermost %s; the target Mattermost %s is older and cannot run its database schema: install Mattermost %s or newer first",
			ErrRefused, m.ID, m.MattermostVersion, r.o.TargetVersion, m.MattermostVersion)
	}
	r.printf("check: backup %s (%s) taken %s by Mattermost %s; target Mattermost %s", m.ID, m.Components, m.StartedAt.UTC().Format("2006-01-02 15:04Z"), orUnknown(m.MattermostVersion), r.o.TargetVersion)

	jdir := r.o.ConfigDir
	if jdir == "" {
		jdir = r.o.DataDir
	}
	j, err := openJournal(jdir, m.ID)
	if err != nil {
		return err
	}
	r.journal = j

	if r.o.DatabaseURL == "" && r.o.ConfigDir == "" && r.o.DataDir == "" && r.o.FilesTo == nil {
		return fmt.Errorf("%w: nothing to restore: give --database-url (the database), --config-dir (the config) and/or --data-dir or --files-to (the files)", ErrRefused)
	}
	if r.o.ConfigToDatabase && r.o.DatabaseURL == "" {
		return fmt.Errorf("%w: --config-to-database needs --database-url", ErrRefused)
	}
	if m.Components.Database && r.o.DatabaseURL != "" && !j.done(StepDatabase) {
		if r.o.PgRestore == "" {
			p, err := pgdump.FindPgRestore("")
			if err != nil {
				return fmt.Errorf("%w: %w", ErrRefused, err)
			}
			r.o.PgRestore = p
		}
		tables, err := r.existingTables(ctx)
		if err != nil {
			return err
		}
		if len(tables) > 0 {
			sample := strings.Join(tables[:min(5, len(tables))], ", ")
			if !r.o.Force {
				return fmt.Errorf("%w: the target database %s is not empty: it holds %d tables (%s…). Restore into an empty database, or add --force to DROP the schemas %s and everything in them first",
					ErrRefused, pgdsn.Redact(r.o.DatabaseURL), len(tables), sample, strings.Join(r.schemas(), ", "))
			}
			r.printf("check: --force: the %d tables of schemas %s in the target database (%s…) will be DROPPED before the restore", len(tables), strings.Join(r.schemas(), ", "), sample)
		} else {
			r.printf("check: the target database %s is empty", pgdsn.Redact(r.o.DatabaseURL))
		}
	}
	if r.o.DataDir != "" && m.Components.Files && !r.o.PointInTimeConfig && !j.done(StepFiles) && !j.Steps[StepFiles+".started"] {
		n, err := countEntries(r.o.DataDir)
		if err != nil {
			return err
		}
		if n > 0 && !r.o.Force {
			return fmt.Errorf("%w: the data folder %s is not empty (%d entries): restore into an empty folder, or add --force to write the backup's files over what is there (other files are left alone)",
				ErrRefused, r.o.DataDir, n)
		}
	}
	return nil
}

func countEntries(dir string) (int, error) {
	es, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the data folder %s: %w", dir, err)
	}
	n := 0
	for _, e := range es {
		if e.Name() != journalName {
			n++
		}
	}
	return n, nil
}

// schemas are the schemas the backup's tables live in.
func (r *restorer) schemas() []string {
	set := map[string]bool{}
	for t := range r.m.TableRowCounts {
		s, _, _ := strings.Cut(t, ".")
		set[s] = true
	}
	if len(set) == 0 {
		set["public"] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// existingTables lists the tables of the target database outside the system schemas.
func (r *restorer) existingTables(ctx context.Context) ([]string, error) {
	conn, err := pgdsn.Connect(ctx, r.o.DatabaseURL, "")
	if err != nil {
		return nil, fmt.Errorf("%w: the target database: %w", ErrRefused, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT table_schema || '.' || table_name FROM information_schema.tables
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg_toast%' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list the tables of the target database: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// verify checks the backup before anything changes: every object's checksum, the dump's
// catalogue, and that every file the index needs is in the pool (each file's content is
// checked as it is restored).
func (r *restorer) verify(ctx context.Context) error {
	r.printf("verify: re-reading backup %s at %s", r.m.ID, r.o.From)
	v, err := verify.Verify(ctx, r.o.From, r.m.ID, verify.Options{
		Identities: r.o.Identities, PgRestore: r.o.PgRestore, SkipPoolContents: true, Workers: r.o.Jobs,
	})
	if err != nil {
		return fmt.Errorf("the backup does not verify, nothing was changed: %w", err)
	}
	for _, c := range v.Checks {
		r.printf("verify: %s %s: %s", c.Outcome, c.Name, c.Detail)
	}
	return nil
}
