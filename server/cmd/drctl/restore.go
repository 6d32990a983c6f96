package main

import (
	"context"
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

func runRestore(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(out)
	from := fs.String("from", "", "backup destination: a folder or s3://bucket/prefix")
	id := fs.String("id", "latest", "backup ID, or latest (the newest trusted backup)")
	dbURL := fs.String("database-url", "", "target PostgreSQL database, empty (postgres://user:password@host:5432/mattermost); prefer PGPASSWORD for the password")
	configDir := fs.String("config-dir", "", "write config.json and the config files (SAML certificates…) here")
	configToDB := fs.Bool("config-to-database", false, "store the config in the target database's Configurations tables (database-stored config)")
	dataDir := fs.String("data-dir", "", "restore the files to this folder (FileSettings.Directory)")
	filesTo := fs.String("files-to", "", "restore the files to s3://bucket/prefix instead")
	identity := fs.String("identity", "", "age identity file that decrypts the backup (or DR_AGE_IDENTITY in the environment)")
	jobs := fs.Int("jobs", 4, "parallel pg_restore jobs and file workers")
	mmVersion := fs.String("mattermost-version", "", "version of the Mattermost that will serve the restored data, e.g. 11.4.0")
	mmBin := fs.String("mattermost-bin", "", "or the mattermost program, to ask it its version (default: mattermost in PATH or /opt/mattermost/bin/mattermost)")
	pgRestore := fs.String("pg-restore", "", "pg_restore to use (default: the newest installed)")
	keepPaths := fs.Bool("keep-config-paths", false, "keep SqlSettings.DataSource and FileSettings of the backup in config.json (default: point them at the restored database and files)")
	tempDir := fs.String("temp-dir", "", "folder for staging the dump of a parallel restore (needs its size free)")
	dryRun := fs.Bool("dry-run", false, "print the steps and run the checks; change nothing")
	force := fs.Bool("force", false, "restore over a database that is not empty: DROP its schemas first (says what it drops); write over a data folder that is not empty")
	trustKey := fs.String("trust-key", "", trustKeyHelp)
	allowUntrusted := fs.Bool("allow-untrusted", false, "restore the backup --id names even though it is not trusted (unsigned: taken before the plugin signed its backups; signed by another key; dated in the future)")
	var fromS3, toS3 s3Flags
	fromS3.register(fs, "s3-", "--from")
	toS3.register(fs, "files-s3-", "--files-to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if *dataDir != "" && *filesTo != "" {
		return usageErr("give --data-dir or --files-to, not both")
	}
	if *allowUntrusted && (*id == "" || *id == "latest") {
		return usageErr("--allow-untrusted needs --id: latest is always a trusted backup; `drctl list` shows each backup's signer")
	}
	key, err := loadTrustKey(*trustKey)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, *from, &fromS3)
	if err != nil {
		return err
	}
	ids, err := loadIdentities(*identity)
	if err != nil {
		return err
	}
	version := *mmVersion
	if version == "" {
		if version, err = detectVersion(ctx, *mmBin); err != nil {
			return err
		}
	}
	o := restore.Options{
		From: st, ID: *id, DatabaseURL: *dbURL, ConfigDir: *configDir, ConfigToDatabase: *configToDB, DataDir: *dataDir,
		Identities: ids, Jobs: *jobs, PgRestore: *pgRestore, TargetVersion: version, KeepConfigPaths: *keepPaths,
		DryRun: *dryRun, Force: *force, TempDir: *tempDir, Out: out, TrustKey: key, AllowUntrusted: *allowUntrusted,
	}
	if *filesTo != "" {
		bucket, prefix, ok := parseS3URL(*filesTo)
		if !ok {
			return usageErr("--files-to %q: use s3://bucket/prefix", *filesTo)
		}
		target, err := s3.New(ctx, toS3.config(bucket, prefix))
		if err != nil {
			return fmt.Errorf("open %s: %w", *filesTo, err)
		}
		o.FilesTo = target
		o.FilesToS3 = &restore.S3Files{Bucket: bucket, Prefix: prefix, Region: toS3.region, Endpoint: toS3.endpoint, PathStyle: toS3.pathStyle}
	}
	start := time.Now()
	res, err := restore.Run(ctx, o)
	if err != nil {
		return err
	}
	if !*dryRun {
		fmt.Fprintf(out, "restored backup %s in %s (%s). Start Mattermost on it now.\n", res.BackupID, time.Since(start).Round(100*time.Millisecond), strings.Join(res.Done, ", "))
		if len(res.Skipped) > 0 {
			fmt.Fprintf(out, "not restored (not in the backup, or no target given): %s\n", strings.Join(res.Skipped, ", "))
		}
	}
	return nil
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
