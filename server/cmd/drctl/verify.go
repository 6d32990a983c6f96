package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/restore"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/verify"
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
	trustKey := fs.String("trust-key", "", trustKeyHelp)
	allowUntrusted := fs.Bool("allow-untrusted", false, "drill (--drill-database-url) the backup --id names even though it is not trusted")
	var s3f s3Flags
	s3f.register(fs, "s3-", "--from")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key, err := loadTrustKey(*trustKey)
	if err != nil {
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
	trust := restore.Trust{Key: key, AllowUntrusted: *allowUntrusted}
	m, err := pickToVerify(ctx, st, *id, trust, *drillURL != "", out)
	if err != nil {
		return err
	}
	bid := m.ID
	opts := verify.Options{Identities: ids}
	if p, err := pgdump.FindPgRestore(*pgRestore); err == nil {
		opts.PgRestore = p
	} else if *drillURL != "" || *pgRestore != "" {
		return err
	}
	if *drillURL != "" {
		opts.Drill = &verify.Drill{AdminURL: *drillURL}
	}
	fmt.Fprintf(out, "verifying backup %s at %s\n", bid, st)
	fmt.Fprintf(out, "  signer: %s\n", signerReport(m, trust))
	v, err := verify.Verify(ctx, st, bid, opts)
	if v != nil {
		for _, c := range v.Checks {
			fmt.Fprintf(out, "  %-7s %s: %s\n", c.Outcome, c.Name, c.Detail)
		}
		for _, p := range v.Problems {
			fmt.Fprintf(out, "  PROBLEM %s\n", p)
		}
		fmt.Fprintf(out, "%s\n", v.Summary())
		if *save {
			if werr := format.WriteVerification(ctx, st, v); werr != nil {
				return errors.Join(err, werr)
			}
		}
	}
	if err != nil {
		return err
	}
	if v.Outcome == format.OutcomePartial {
		fmt.Fprintln(out, "contents were NOT checked: the backup is encrypted; give --identity FILE to check them")
	}
	return nil
}

// pickToVerify reads the manifest of the backup to verify. Reading an untrusted backup is
// harmless, so plain "latest" is the newest backup not dated in the future, whoever signed it;
// but a drill restores it into a database, so it is picked as a restore picks (see restore.Trust).
func pickToVerify(ctx context.Context, st storage.Store, id string, trust restore.Trust, drill bool, out io.Writer) (*format.Manifest, error) {
	now := time.Now()
	if id != "" && id != "latest" {
		m, err := format.ReadManifest(ctx, st, id)
		if err != nil {
			return nil, err
		}
		if drill {
			if err := trust.Check(m, now); err != nil {
				return nil, fmt.Errorf("--drill-database-url restores the backup into a database: %w", err)
			}
		}
		return m, nil
	}
	ms, err := format.List(ctx, st)
	if len(ms) == 0 {
		if err != nil {
			return nil, fmt.Errorf("list the backups at %s: %w", st, err)
		}
		return nil, fmt.Errorf("there is no complete backup at %s", st)
	}
	if drill || !trust.Key.IsZero() {
		m, notes, err := trust.Latest(ms, now, st.String())
		for _, n := range notes {
			fmt.Fprintf(out, "latest: %s\n", n)
		}
		return m, err
	}
	for _, m := range ms {
		if !format.DatedInFuture(m, now) {
			return m, nil
		}
		fmt.Fprintf(out, "latest: passed over backup %s: %s\n", m.ID, trust.Untrusted(m, now))
	}
	return nil, fmt.Errorf("every backup at %s is dated in the future: name one with --id", st)
}

// signerReport says who signed m and whether it is trusted.
func signerReport(m *format.Manifest, trust restore.Trust) string {
	if why := trust.Untrusted(m, time.Now()); why != "" {
		return restore.Signer(m) + ": NOT trusted: " + why
	}
	if !trust.Key.IsZero() {
		return m.Provenance.Signer.Fingerprint() + " (the --trust-key)"
	}
	return m.Provenance.Signer.Fingerprint() + " (not checked against a key: compare it with the public key `/dr version` shows, or give that key with --trust-key)"
}
