package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
)

func runVerify(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(out)
	from := fs.String("from", "", "backup destination: a folder or s3://bucket/prefix")
	id := fs.String("id", "latest", "backup ID, or latest")
	identity := fs.String("identity", "", "age identity file that decrypts the backup (or DR_AGE_IDENTITY in the environment)")
	drillURL := fs.String("drill-database-url", "", "also restore the dump into a scratch database on this PostgreSQL server (postgres://… whose user may create databases)")
	pgRestore := fs.String("pg-restore", "", "pg_restore to use (default: the newest installed)")
	save := fs.Bool("save", false, "store the result beside the manifest (verification.json), as the plugin does")
	var s3f s3Flags
	s3f.register(fs, "s3-", "--from")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := openStore(ctx, *from, &s3f)
	if err != nil {
		return err
	}
	ids, err := loadIdentities(*identity)
	if err != nil {
		return err
	}
	bid, err := resolveID(ctx, st, *id)
	if err != nil {
		return err
	}
	opts := backup.VerifyOptions{Identities: ids}
	if p, err := pgdump.FindPgRestore(*pgRestore); err == nil {
		opts.PgRestore = p
	} else if *drillURL != "" || *pgRestore != "" {
		return err
	}
	if *drillURL != "" {
		opts.Drill = &backup.Drill{AdminURL: *drillURL}
	}
	fmt.Fprintf(out, "verifying backup %s at %s\n", bid, st)
	v, err := backup.Verify(ctx, st, bid, opts)
	if v != nil {
		for _, c := range v.Checks {
			fmt.Fprintf(out, "  %-7s %s: %s\n", c.Outcome, c.Name, c.Detail)
		}
		for _, p := range v.Problems {
			fmt.Fprintf(out, "  PROBLEM %s\n", p)
		}
		fmt.Fprintf(out, "%s\n", v.Summary())
		if *save {
			if werr := backup.WriteVerification(ctx, st, v); werr != nil {
				return errors.Join(err, werr)
			}
		}
	}
	if err != nil {
		return err
	}
	if v.Outcome == backup.OutcomePartial {
		fmt.Fprintln(out, "contents were NOT checked: the backup is encrypted; give --identity FILE to check them")
	}
	return nil
}
