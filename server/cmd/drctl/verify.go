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

const verifyHelp = `drctl verify --from <folder|s3://bucket/prefix> [--id <id|latest>] [--trust-key KEY] [--identity FILE]
[--drill-database-url postgres://…] [--save] [--json]: re-read a backup and check every object's checksum and
the dump's catalogue; with --drill-database-url also restore the dump into a scratch database and count rows.
Exit status 1 when the backup is damaged or could not be checked.

--json prints one document:
  {"backup_id", "destination", "signer": fingerprint or "unsigned", "signed_by_trust_key",
   "untrusted": why it is not trusted (absent: signed, and by the --trust-key if given),
   "saved": verification.json was written (--save),
   "verification": {"backup_id", "started_at", "finished_at", "outcome": passed|failed|partial,
                    "drill", "contents_checked", "checks": [{"name", "outcome", "detail"}], "problems": […],
                    "duration_ms", "drill_restore_ms", "objects_read", "bytes_read"},
   "error": why verify failed (absent: it did not)}`

// verifyFlags are drctl verify's options.
type verifyFlags struct {
	from, id, identity, drillURL, pgRestore, trustKey string
	save, allowUntrusted, asJSON                      bool
	s3                                                s3Flags
}

func (f *verifyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.from, "from", "", "backup destination: a folder or s3://bucket/prefix")
	fs.StringVar(&f.id, "id", "latest", "backup ID, or latest")
	fs.StringVar(&f.identity, "identity", "", "age identity file that decrypts the backup (or DR_AGE_IDENTITY_FILE in the environment)")
	fs.StringVar(&f.drillURL, "drill-database-url", "", "also restore the dump into a scratch database on this PostgreSQL server (postgres://… whose user may create databases; the password in PGPASSWORD)")
	fs.StringVar(&f.pgRestore, "pg-restore", "", "pg_restore to use (default: the newest installed)")
	fs.BoolVar(&f.save, "save", false, "store the result beside the manifest (verification.json), as the plugin does")
	fs.StringVar(&f.trustKey, "trust-key", "", trustKeyHelp)
	fs.BoolVar(&f.allowUntrusted, "allow-untrusted", false, "drill (--drill-database-url) the backup --id names even though it is not trusted")
	fs.BoolVar(&f.asJSON, "json", false, "print one JSON document (its shape is above)")
	f.s3.register(fs, "s3-", "--from")
}

func runVerify(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	var f verifyFlags
	f.register(fs)
	if err := parseFlags(fs, args, out, verifyHelp); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	key, err := loadTrustKey(f.trustKey)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, f.from, &f.s3)
	if err != nil {
		return err
	}
	ids, err := loadIdentities(f.identity)
	if err != nil {
		return err
	}
	trust := restore.Trust{Key: key, AllowUntrusted: f.allowUntrusted}
	m, err := pickToVerify(ctx, st, f.id, trust, f.drillURL != "", errOut)
	if err != nil {
		return err
	}
	opts := verify.Options{Identities: ids}
	if p, err := pgdump.FindPgRestore(f.pgRestore); err == nil {
		opts.PgRestore = p
	} else if f.drillURL != "" || f.pgRestore != "" {
		return err
	}
	if f.drillURL != "" {
		opts.Drill = &verify.Drill{AdminURL: f.drillURL}
	}
	fmt.Fprintf(errOut, "verifying backup %s at %s\n", m.ID, st)
	v, err := verify.Verify(ctx, st, m.ID, opts)
	saved := false
	if v != nil && f.save {
		if werr := format.WriteVerification(ctx, st, v); werr != nil {
			err = errors.Join(err, fmt.Errorf("save verification.json: %w", werr))
		} else {
			saved = true
		}
	}
	if v == nil {
		return err
	}
	report := verifyReport{m: m, st: st, trust: trust, v: v, saved: saved, err: err}
	if f.asJSON {
		if jerr := report.writeJSON(out); jerr != nil {
			return errors.Join(err, jerr)
		}
	} else {
		report.writeText(out)
	}
	if err == nil && v.Outcome == format.OutcomePartial {
		fmt.Fprintln(errOut, "contents were NOT checked: the backup is encrypted; give --identity FILE to check them")
	}
	return err
}

// verifyReport is what drctl verify found.
type verifyReport struct {
	m     *format.Manifest
	st    storage.Store
	trust restore.Trust
	v     *format.Verification
	saved bool
	err   error
}

func (r verifyReport) writeText(out io.Writer) {
	fmt.Fprintf(out, "backup %s at %s\n", r.m.ID, r.st)
	fmt.Fprintf(out, "  signer: %s\n", signerReport(r.m, r.trust))
	for _, c := range r.v.Checks {
		fmt.Fprintf(out, "  %-7s %s: %s\n", c.Outcome, c.Name, c.Detail)
	}
	for _, p := range r.v.Problems {
		fmt.Fprintf(out, "  PROBLEM %s\n", p)
	}
	fmt.Fprintf(out, "%s\n", r.v.Summary())
}

func (r verifyReport) writeJSON(out io.Writer) error {
	why := r.trust.Untrusted(r.m, time.Now())
	doc := struct {
		BackupID     string               `json:"backup_id"`
		Destination  string               `json:"destination"`
		Signer       string               `json:"signer"`
		SignedByKey  bool                 `json:"signed_by_trust_key"`
		Untrusted    string               `json:"untrusted,omitempty"`
		Saved        bool                 `json:"saved"`
		Verification *format.Verification `json:"verification"`
		Error        string               `json:"error,omitempty"`
	}{BackupID: r.m.ID, Destination: r.st.String(), Signer: restore.Signer(r.m), SignedByKey: !r.trust.Key.IsZero() && r.m.Provenance.SignedBy(r.trust.Key),
		Untrusted: why, Saved: r.saved, Verification: r.v}
	if r.err != nil {
		doc.Error = r.err.Error()
	}
	return writeJSON(out, doc)
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
		if m.Class() != format.ClassLogical {
			continue // a base backup or a file capture: restored only by point in time
		}
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
