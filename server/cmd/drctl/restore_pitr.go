package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/bytesize"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pitr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/restore"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// pitrTarget parses --to-time / --to-latest.
func (f *restoreFlags) pitrTarget() (pitr.Target, error) {
	if f.toLatest {
		return pitr.Target{Latest: true}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, f.toTime); err == nil {
			if !strings.ContainsAny(layout, "Z") {
				return pitr.Target{}, usageErr("--to-time %q has no time zone: add Z for UTC or an offset (2026-12-05T09:12:30Z, 2026-12-05T10:12:30+01:00)", f.toTime)
			}
			return pitr.Target{Time: t}, nil
		}
	}
	return pitr.Target{}, usageErr("--to-time %q: use RFC 3339, such as 2026-12-05T09:12:30Z", f.toTime)
}

// checkPITR refuses flags that a point-in-time restore does not take.
func (f *restoreFlags) checkPITR() error {
	switch {
	case f.toTime != "" && f.toLatest:
		return usageErr("give --to-time or --to-latest, not both")
	case f.pgdata == "":
		return usageErr("a point-in-time restore makes a new PostgreSQL cluster: give --pgdata, its new data folder, on the machine where it will run")
	case f.dbURL != "":
		return usageErr("--database-url restores a logical dump into a running server; a point-in-time restore writes a new cluster's --pgdata instead: give one of them")
	case f.configToDB:
		return usageErr("--config-to-database writes into a running database; a point-in-time restore makes a new cluster: give --config-dir, and the config is written as files")
	case f.dataDir != "" && f.filesTo != "":
		return usageErr("give --data-dir or --files-to, not both")
	case f.id != "latest" && f.id != "":
		return usageErr("--id names a logical backup; a point-in-time restore picks the base backup itself (the newest before the target)")
	}
	return nil
}

// pitrReport is the JSON document of a point-in-time restore or its dry run.
type pitrReport struct {
	DryRun      bool      `json:"dry_run"`
	OK          bool      `json:"ok"`
	Target      string    `json:"target"`
	BaseBackup  string    `json:"base_backup,omitempty"`
	BaseFinish  time.Time `json:"base_backup_finished_at,omitzero"`
	FirstWAL    string    `json:"first_wal,omitempty"`
	LastWAL     string    `json:"last_wal,omitempty"`
	PartialLast bool      `json:"last_wal_partial,omitempty"`
	WindowFrom  time.Time `json:"window_from,omitzero"`
	WindowTo    time.Time `json:"window_to,omitzero"`
	PGData      string    `json:"pgdata"`
	Notes       []string  `json:"notes,omitempty"`
	// Files is the file set restored with --data-dir or --files-to.
	Files *pitrFiles `json:"files,omitempty"`
	// Config names the backup the config comes from: the newest trusted one holding it started
	// by the target; ConfigRestored says it was restored to --config-dir.
	Config         string `json:"config_backup,omitempty"`
	ConfigRestored bool   `json:"config_restored,omitempty"`
	Error          string `json:"error,omitempty"`
}

// pitrFiles is the file set of a point-in-time restore: the entries of one file index (of a
// capture or a backup) added by the target time.
type pitrFiles struct {
	Backup    string    `json:"backup"`
	Class     string    `json:"class"` // format.ClassCapture or format.ClassLogical
	StartedAt time.Time `json:"started_at"`
	AddedBy   time.Time `json:"added_by,omitzero"` // zero: every file of the index (--to-latest)
	Files     int64     `json:"files"`
	Bytes     int64     `json:"bytes"`
	To        string    `json:"to"`
	Restored  int64     `json:"restored,omitempty"`
	Notes     []string  `json:"notes,omitempty"`
}

func runPITR(ctx context.Context, f *restoreFlags, out, errOut io.Writer) error {
	if err := f.checkPITR(); err != nil {
		return err
	}
	target, err := f.pitrTarget()
	if err != nil {
		return err
	}
	key, err := loadTrustKey(f.trustKey)
	if err != nil {
		return err
	}
	if key.IsZero() {
		return usageErr("--trust-key is required for a point-in-time restore: only WAL the server signed is replayed (the public key `/dr version` shows)")
	}
	pgdata, err := filepath.Abs(f.pgdata)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, f.from, &f.fromS3)
	if err != nil {
		return err
	}
	ids, err := loadIdentities(f.identity)
	if err != nil {
		return err
	}
	var owner *pitr.Owner
	if f.pgdataOwner != "" {
		if owner, err = lookupOwner(f.pgdataOwner); err != nil {
			return err
		}
	} else if os.Geteuid() == 0 && !f.dryRun {
		return usageErr("drctl runs as root: PostgreSQL refuses a data folder it does not own. Run drctl as the user PostgreSQL runs as, or give --pgdata-owner postgres")
	}
	cmd, err := f.restoreCommand(key)
	if err != nil {
		return err
	}
	src := pitr.Source{Store: st, Key: key, Identities: ids}
	rep := pitrReport{DryRun: f.dryRun, Target: target.String(), PGData: pgdata}
	plan, err := pitr.MakePlan(ctx, src, target)
	if err == nil {
		rep.BaseBackup, rep.BaseFinish = plan.Base.ID, plan.Base.FinishedAt
		rep.FirstWAL, rep.LastWAL, rep.PartialLast = plan.FirstWAL, plan.LastWAL, plan.PartialLast
		rep.WindowFrom, rep.WindowTo, rep.Notes = plan.Window.From, plan.Window.To, plan.Window.Notes
		err = tryRestoreCommand(ctx, cmd, plan.FirstWAL, owner)
		if err == nil && !f.dryRun {
			err = pitr.Restore(ctx, src, plan, pitr.Options{PGData: pgdata, RestoreCommand: cmd, Out: errOut, Owner: owner})
		}
	}
	if err == nil {
		rep.Config, rep.Files, err = f.pitrFiles(ctx, st, key, ids, target, errOut)
	}
	if err == nil && f.configDir != "" {
		err = f.pitrConfig(ctx, st, key, ids, rep.Config, errOut)
		rep.ConfigRestored = err == nil && !f.dryRun
	}
	rep.OK = err == nil
	if err != nil {
		rep.Error = err.Error()
	}
	if f.asJSON {
		b, jerr := json.MarshalIndent(rep, "", "  ")
		if jerr != nil {
			return jerr
		}
		fmt.Fprintln(out, string(b))
		return err
	}
	if err != nil {
		return err
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(errOut, "note:", n)
	}
	last := plan.LastWAL
	if plan.PartialLast {
		last += " (partial: the segment being written at the last upload)"
	}
	if rep.Files != nil {
		for _, n := range rep.Files.Notes {
			fmt.Fprintln(errOut, "note: files:", n)
		}
	}
	if f.dryRun {
		fmt.Fprintf(out, "dry run of a point-in-time restore to %s: the checks passed, nothing was changed. A restore would:\n", target)
		fmt.Fprintf(out, "  1. unpack base backup %s (finished %s) into %s\n", plan.Base.ID, plan.Base.FinishedAt.UTC().Format(time.RFC3339), pgdata)
		fmt.Fprintf(out, "  2. write recovery.signal, and set restore_command in postgresql.auto.conf to: %s\n", cmd)
		fmt.Fprintf(out, "  3. leave PostgreSQL to replay the archived WAL from %s up to %s (at most to %s) and promote\n", plan.FirstWAL, target, last)
		if fs := rep.Files; fs != nil {
			fmt.Fprintf(out, "  4. restore %s to %s\n", fs.describe(), fs.To)
		}
		fmt.Fprintf(out, "restorable window at %s: %s to %s\n", st, plan.Window.From.UTC().Format(time.RFC3339), plan.Window.To.UTC().Format(time.RFC3339))
		printConfigNote(out, rep.Config, f)
		return nil
	}
	fmt.Fprintf(out, "base backup %s unpacked into %s and recovery to %s set up (WAL %s to at most %s).\n", plan.Base.ID, pgdata, target, plan.FirstWAL, last)
	if fs := rep.Files; fs != nil {
		fmt.Fprintf(out, "files: %d of %s restored to %s.\n", fs.Restored, fs.describe(), fs.To)
	}
	fmt.Fprintf(out, "Start PostgreSQL on it now (pg_ctl -D %s start, or your service with data_directory there): it replays the WAL, then promotes itself. Its log says \"archive recovery complete\" when it is done.\n", pgdata)
	printConfigNote(out, rep.Config, f)
	return nil
}

// describe says which files a point-in-time restore brings back.
func (p *pitrFiles) describe() string {
	which := "every file"
	if !p.AddedBy.IsZero() {
		which = "the files added by " + p.AddedBy.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s of the file index of %s %s (started %s): %d files, %s", which, p.Class, p.Backup, p.StartedAt.UTC().Format(time.RFC3339), p.Files, bytesize.Format(p.Bytes))
}

func printConfigNote(out io.Writer, id string, f *restoreFlags) {
	switch {
	case id == "":
		fmt.Fprintln(out, "config: no backup before that time holds the config")
	case f.configDir != "" && f.dryRun:
		fmt.Fprintf(out, "config: would be restored to %s from backup %s, the newest backup before that time holding it\n", f.configDir, id)
	case f.configDir != "":
		fmt.Fprintf(out, "config: restored to %s from backup %s, the newest backup before that time holding it; its SqlSettings.DataSource still names the backup's database: point it at the restored cluster\n", f.configDir, id)
	default:
		fmt.Fprintf(out, "config: not restored (no --config-dir); the newest backup before that time holding it is %s\n", id)
	}
}

// pitrConfig restores (or with --dry-run, checks) the config of backup id to --config-dir, its
// FileSettings pointed where the point-in-time files go, through restore.Run.
func (f *restoreFlags) pitrConfig(ctx context.Context, st storage.Store, key format.PublicKey, ids []age.Identity, id string, errOut io.Writer) error {
	if id == "" {
		return fmt.Errorf("%w: --config-dir: no trusted backup at %s taken before that time holds the config", restore.ErrRefused, st)
	}
	version := f.mmVersion
	if version == "" {
		var err error
		if version, err = detectVersion(ctx, f.mmBin); err != nil {
			return err
		}
	}
	_, filesToS3, err := f.filesTarget(ctx)
	if err != nil {
		return err
	}
	_, err = restore.Run(ctx, restore.Options{From: st, ID: id, ConfigDir: f.configDir, DataDir: f.dataDir, FilesToS3: filesToS3, PointInTimeConfig: true,
		TrustKey: key, Identities: ids, TargetVersion: version, KeepConfigPaths: f.keepPaths, DryRun: f.dryRun, Force: f.force, Out: errOut})
	return err
}

// pitrFiles restores (or with --dry-run, describes) the files of a point-in-time restore when
// --data-dir or --files-to asks for them, through restore.Run, and names the backup the config
// should come from: the newest trusted backup holding it started by the target time.
func (f *restoreFlags) pitrFiles(ctx context.Context, st storage.Store, key format.PublicKey, ids []age.Identity, target pitr.Target, errOut io.Writer) (config string, files *pitrFiles, err error) {
	ms, err := format.List(ctx, st)
	if err != nil && len(ms) == 0 {
		return "", nil, fmt.Errorf("list the backups at %s: %w", st, err)
	}
	now := time.Now()
	trust := restore.Trust{Key: key}
	for _, m := range ms {
		if m.Class() == format.ClassLogical && m.Components.Config && trust.Untrusted(m, now) == "" && (target.Latest || !m.StartedAt.After(target.Time)) {
			config = m.ID
			break
		}
	}
	if f.dataDir == "" && f.filesTo == "" {
		return config, nil, nil
	}
	if err != nil {
		fmt.Fprintf(errOut, "files: these backups could not be read and are left out: %v\n", err)
	}
	m, notes, err := trust.PickFiles(ms, target.Time, target.Latest, now, st.String())
	if err != nil {
		return config, nil, err
	}
	filesTo, filesToS3, err := f.filesTarget(ctx)
	if err != nil {
		return config, nil, err
	}
	at := target.Time
	if target.Latest {
		at = time.Time{}
	}
	n, size, err := restore.FileSet(ctx, st, m, ids, at)
	if err != nil {
		return config, nil, err
	}
	files = &pitrFiles{Backup: m.ID, Class: m.Class(), StartedAt: m.StartedAt.UTC(), AddedBy: at, Files: n, Bytes: size, To: f.dataDir, Notes: notes}
	if filesTo != nil {
		files.To = filesTo.String()
	}
	res, err := restore.Run(ctx, restore.Options{From: st, ID: m.ID, DataDir: f.dataDir, FilesTo: filesTo, FilesToS3: filesToS3, TrustKey: key, Identities: ids,
		Jobs: f.jobs, PointInTimeFiles: true, FilesAt: at, DryRun: f.dryRun, Force: f.force, Out: errOut})
	if res != nil {
		files.Restored = res.Files
	}
	return config, files, err
}

// restoreCommand is the restore_command PostgreSQL will run: this drctl, with the flags that
// reach the archive. No secret goes in it (postgresql.auto.conf is readable by the cluster's
// owner and shows in pg_settings): S3 credentials come from the PostgreSQL user's AWS
// environment or an instance role, the identity from a file.
func (f *restoreFlags) restoreCommand(key format.PublicKey) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find drctl's own path for restore_command: %w", err)
	}
	from := f.from
	if _, _, ok := parseS3URL(from); !ok {
		if from, err = filepath.Abs(from); err != nil {
			return "", err
		}
	}
	args := []string{self, "wal-fetch", "--from", from, "--trust-key", key.String(), "--partial"}
	identity := f.identity
	if identity == "" {
		identity = os.Getenv(format.EnvIdentityFile)
	}
	if identity != "" {
		abs, err := filepath.Abs(identity)
		if err != nil {
			return "", err
		}
		args = append(args, "--identity", abs)
	} else if os.Getenv(format.EnvIdentity) != "" {
		return "", usageErr("the age identity is in %s: PostgreSQL's restore_command cannot see it. Put it in a file readable by the PostgreSQL user and give --identity FILE", format.EnvIdentity)
	}
	if f.fromS3.endpoint != "" {
		args = append(args, "--s3-endpoint", f.fromS3.endpoint)
	}
	if f.fromS3.region != "" {
		args = append(args, "--s3-region", f.fromS3.region)
	}
	if f.fromS3.pathStyle {
		args = append(args, "--s3-path-style")
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = pitr.ShellQuote(a)
	}
	return strings.Join(quoted, " ") + " %f %p", nil
}

func lookupOwner(name string) (*pitr.Owner, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, usageErr("--pgdata-owner %q: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &pitr.Owner{UID: uid, GID: gid}, nil
}

// tryRestoreCommand runs restore_command once, as PostgreSQL will (through /bin/sh, as the
// data folder's owner), for the first segment the recovery needs: a path the PostgreSQL user
// cannot enter, an identity file it cannot read or an archive it cannot reach would otherwise
// show only when the restored cluster fails to start.
func tryRestoreCommand(ctx context.Context, cmd, first string, owner *pitr.Owner) error {
	dir, err := os.MkdirTemp("", "drctl-restore-command-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	as := "this user"
	c := exec.CommandContext(ctx, "/bin/sh", "-c", strings.NewReplacer("%f", first, "%p", pitr.ShellQuote(filepath.Join(dir, first))).Replace(cmd))
	if owner != nil && os.Geteuid() == 0 {
		if err := os.Chown(dir, owner.UID, owner.GID); err != nil {
			return err
		}
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(owner.UID), Gid: uint32(owner.GID)}} //nolint:gosec // uid/gid from the system's user database
		as = fmt.Sprintf("uid %d", owner.UID)
	}
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: PostgreSQL's restore_command fails when run as %s for %s (%w): %s. The user PostgreSQL runs as must be able to run drctl at its path, read the identity file, and reach the archive: for S3, credentials in its environment, its ~/.aws/credentials or an instance role",
			pitr.ErrRefused, as, first, err, strings.TrimSpace(string(out)))
	}
	return nil
}
