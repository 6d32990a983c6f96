package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/restore"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
)

const restoreHelp = `drctl restore --from <folder|s3://bucket/prefix> [--id <id|latest>] --trust-key KEY [--identity FILE]
--database-url postgres://user@host/db --config-dir DIR --data-dir DIR|--files-to s3://… --mattermost-version V
[--dry-run] [--json]: restore a backup onto a new server.
Point in time: drctl restore --from … --trust-key KEY --to-time 2026-12-05T09:12:30Z|--to-latest --pgdata DIR
[--data-dir DIR|--files-to s3://…] [--config-dir DIR --mattermost-version V] [--pgdata-owner postgres] [--dry-run] [--json]:
a new PostgreSQL cluster as it was at that time, from the newest base backup before it and the WAL archive; with
--data-dir or --files-to, the files as they were then, from the first file capture or backup after it; with
--config-dir, the config of the newest backup before it (see "Point-in-time recovery" in the README). Give the database password in PGPASSWORD (or
~/.pgpass), S3 credentials in the AWS environment, the age identity with --identity or DR_AGE_IDENTITY_FILE.
Progress goes to stderr; a failed step can be run again: finished steps are not repeated.

--json prints one document, after the restore or the dry run:
  {"dry_run", "ok": the checks passed (--dry-run) or the restore completed,
   "backup_id", "destination", "components": {"database", "config", "files"}, "mattermost_version",
   "started_at", "target_mattermost_version", "trust": who signed the backup,
   "steps": ["check: …", "verify: …", "database: …", …] (--dry-run: what a restore would do),
   "done": [steps], "skipped": [steps], "files", "bytes", "took_seconds" (a restore),
   "error": why it was refused or failed (absent: it was not; exit status 1)}`

// restoreFlags are drctl restore's options.
type restoreFlags struct {
	from, id, dbURL, configDir, dataDir, filesTo, identity string
	mmVersion, mmBin, pgRestore, tempDir, trustKey         string
	toTime, pgdata, pgdataOwner                            string
	toLatest                                               bool
	jobs                                                   int
	configToDB, keepPaths, dryRun, force, allowUntrusted   bool
	asJSON                                                 bool
	fromS3, toS3                                           s3Flags
}

func (f *restoreFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.from, "from", "", "backup destination: a folder or s3://bucket/prefix")
	fs.StringVar(&f.id, "id", "latest", "backup ID, or latest (the newest trusted backup)")
	fs.StringVar(&f.dbURL, "database-url", "", "target PostgreSQL database, empty (postgres://user@host:5432/mattermost); give the password in PGPASSWORD, not here")
	fs.StringVar(&f.configDir, "config-dir", "", "write config.json and the config files (SAML certificates…) here")
	fs.BoolVar(&f.configToDB, "config-to-database", false, "store the config in the target database's Configurations tables (database-stored config)")
	fs.StringVar(&f.dataDir, "data-dir", "", "restore the files to this folder (FileSettings.Directory)")
	fs.StringVar(&f.filesTo, "files-to", "", "restore the files to s3://bucket/prefix instead")
	fs.StringVar(&f.identity, "identity", "", "age identity file that decrypts the backup (or DR_AGE_IDENTITY_FILE in the environment)")
	fs.IntVar(&f.jobs, "jobs", 4, "parallel pg_restore jobs and file workers")
	fs.StringVar(&f.mmVersion, "mattermost-version", "", "version of the Mattermost that will serve the restored data, e.g. 11.4.0")
	fs.StringVar(&f.mmBin, "mattermost-bin", "", "or the mattermost program, to ask it its version (default: mattermost in PATH or /opt/mattermost/bin/mattermost)")
	fs.StringVar(&f.pgRestore, "pg-restore", "", "pg_restore to use (default: the newest installed)")
	fs.BoolVar(&f.keepPaths, "keep-config-paths", false, "keep SqlSettings.DataSource and FileSettings of the backup in config.json (default: point them at the restored database and files)")
	fs.StringVar(&f.tempDir, "temp-dir", "", "folder for staging the dump of a parallel restore (needs its size free)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the steps and run the checks; change nothing")
	fs.BoolVar(&f.force, "force", false, "restore over a database that is not empty: DROP its schemas first (says what it drops); write over a data folder that is not empty")
	fs.StringVar(&f.trustKey, "trust-key", "", trustKeyHelp)
	fs.BoolVar(&f.allowUntrusted, "allow-untrusted", false, "restore the backup --id names even though it is not trusted (unsigned: taken before the plugin signed its backups; signed by another key; dated in the future)")
	fs.BoolVar(&f.asJSON, "json", false, "print one JSON document (its shape is above)")
	fs.StringVar(&f.toTime, "to-time", "", "point-in-time restore: the database cluster as it was at this time (RFC 3339: 2026-12-05T09:12:30Z), into --pgdata")
	fs.BoolVar(&f.toLatest, "to-latest", false, "point-in-time restore to the newest archived WAL, into --pgdata")
	fs.StringVar(&f.pgdata, "pgdata", "", "point-in-time restore: the new cluster's data folder (absent or empty), on the machine where PostgreSQL will run")
	fs.StringVar(&f.pgdataOwner, "pgdata-owner", "", "point-in-time restore run as root: the user PostgreSQL runs as, given the data folder")
	f.fromS3.register(fs, "s3-", "--from")
	f.toS3.register(fs, "files-s3-", "--files-to")
}

// check refuses flag combinations that cannot work, before anything is read.
func (f *restoreFlags) check(fs *flag.FlagSet) error {
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case f.dataDir != "" && f.filesTo != "":
		return usageErr("give --data-dir or --files-to, not both")
	case f.allowUntrusted && (f.id == "" || f.id == "latest"):
		return usageErr("--allow-untrusted needs --id: latest is always a trusted backup; `drctl list` shows each backup's signer")
	case f.dbURL == "" && f.configDir == "" && !f.configToDB && f.dataDir == "" && f.filesTo == "":
		return usageErr("nothing to restore: give --database-url (the database), --config-dir or --config-to-database (the config) and/or --data-dir or --files-to (the files)")
	case f.jobs < 1:
		return usageErr("--jobs must be at least 1")
	}
	return nil
}

func runRestore(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	var f restoreFlags
	f.register(fs)
	if err := parseFlags(fs, args, out, restoreHelp); err != nil {
		return err
	}
	if f.toTime != "" || f.toLatest {
		if fs.NArg() > 0 {
			return usageErr("unexpected argument %q", fs.Arg(0))
		}
		return runPITR(ctx, &f, out, errOut)
	}
	if err := f.check(fs); err != nil {
		return err
	}
	o, err := f.options(ctx)
	if err != nil {
		return err
	}
	o.Out = errOut // progress; the result goes to out
	start := time.Now()
	res, err := restore.Run(ctx, o)
	if f.asJSON {
		rep := newRestoreReport(&f, o, res, err)
		if jerr := writeJSON(out, rep); jerr != nil {
			return errors.Join(err, jerr)
		}
		return err
	}
	if err != nil {
		return err
	}
	if f.dryRun {
		fmt.Fprintf(out, "dry run of the restore of backup %s: the checks passed, nothing was changed. A restore would:\n", res.BackupID)
		for i, s := range res.Plan {
			fmt.Fprintf(out, "  %d. %s\n", i+1, s)
		}
		return nil
	}
	fmt.Fprintf(out, "restored backup %s in %s (%s). Start Mattermost on it now.\n", res.BackupID, time.Since(start).Round(100*time.Millisecond), strings.Join(res.Done, ", "))
	if len(res.Skipped) > 0 {
		fmt.Fprintf(out, "not restored (not in the backup, or no target given): %s\n", strings.Join(res.Skipped, ", "))
	}
	return nil
}

// options opens what the flags name: the backup destination, the identities, the files target.
func (f *restoreFlags) options(ctx context.Context) (restore.Options, error) {
	key, err := loadTrustKey(f.trustKey)
	if err != nil {
		return restore.Options{}, err
	}
	st, err := openStore(ctx, f.from, &f.fromS3)
	if err != nil {
		return restore.Options{}, err
	}
	ids, err := loadIdentities(f.identity)
	if err != nil {
		return restore.Options{}, err
	}
	version := f.mmVersion
	if version == "" {
		if version, err = detectVersion(ctx, f.mmBin); err != nil {
			return restore.Options{}, err
		}
	}
	o := restore.Options{
		From: st, ID: f.id, DatabaseURL: f.dbURL, ConfigDir: f.configDir, ConfigToDatabase: f.configToDB, DataDir: f.dataDir,
		Identities: ids, Jobs: f.jobs, PgRestore: f.pgRestore, TargetVersion: version, KeepConfigPaths: f.keepPaths,
		DryRun: f.dryRun, Force: f.force, TempDir: f.tempDir, TrustKey: key, AllowUntrusted: f.allowUntrusted,
	}
	o.FilesTo, o.FilesToS3, err = f.filesTarget(ctx)
	return o, err
}

// filesTarget opens the S3 bucket --files-to names, if it does.
func (f *restoreFlags) filesTarget(ctx context.Context) (restore.FileTarget, *restore.S3Files, error) {
	if f.filesTo == "" {
		return nil, nil, nil
	}
	bucket, prefix, ok := parseS3URL(f.filesTo)
	if !ok {
		return nil, nil, usageErr("--files-to %q: use s3://bucket/prefix", f.filesTo)
	}
	target, err := s3.New(ctx, f.toS3.config(bucket, prefix))
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", f.filesTo, err)
	}
	return target, &restore.S3Files{Bucket: bucket, Prefix: prefix, Region: f.toS3.region, Endpoint: f.toS3.endpoint, PathStyle: f.toS3.pathStyle}, nil
}

var versionLine = regexp.MustCompile(`(?m)^Version:\s*(\S+)`)

// detectVersion asks the mattermost program its version.
func detectVersion(ctx context.Context, bin string) (string, error) {
	candidates := []string{bin}
	if bin == "" {
		candidates = []string{"mattermost", "/opt/mattermost/bin/mattermost"}
	}
	for _, c := range candidates {
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		outb, err := exec.CommandContext(cctx, p, "version").CombinedOutput() //nolint:gosec // the admin's mattermost
		cancel()
		if m := versionLine.FindSubmatch(outb); m != nil {
			return string(m[1]), nil
		}
		if bin != "" {
			return "", fmt.Errorf("%s version did not print a version (%w): give --mattermost-version", p, err)
		}
	}
	return "", usageErr("say which Mattermost will serve the restored data: --mattermost-version 11.4.0, or --mattermost-bin /opt/mattermost/bin/mattermost")
}
