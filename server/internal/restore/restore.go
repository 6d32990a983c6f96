// Package restore brings a backup back onto a new server: the database (pg_restore, in
// parallel), the configuration (config.json in a folder, or the database config tables) and
// the files (to a folder or to an S3 bucket). It refuses to overwrite a database that is not
// empty unless forced, checks that the Mattermost that will serve the result is at least the
// backup's version, and verifies the backup before it changes anything.
//
// A restore keeps a journal beside the restored config (or in the data folder) so that running
// the same command again after a failure resumes it: finished steps are not repeated, and files
// already restored with the right content are skipped.
package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// FileTarget receives restored files: a folder or an S3 bucket.
type FileTarget interface {
	// Put stores a file's content under its path relative to the file store's root.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	String() string
}

// Options configures Run.
type Options struct {
	From storage.Store
	ID   string // a backup ID or "latest"

	DatabaseURL string // target database; must be empty unless Force
	ConfigDir   string // write config.json and the config files here ("" = do not restore the config to files)
	// ConfigToDatabase writes the configuration into the target database's Configurations and
	// ConfigurationFiles tables (database-stored config) instead of, or as well as, ConfigDir.
	ConfigToDatabase bool
	DataDir          string     // restore the files to this folder
	FilesTo          FileTarget // or to this S3 bucket (FilesToDescription describes it for config.json)
	FilesToS3        *S3Files   // what config.json should say when files go to S3

	// TrustKey is the key whose signature makes a backup trusted (--trust-key); zero: none,
	// and then "latest" must have a single signer (see trust.go).
	TrustKey format.PublicKey
	// AllowUntrusted restores an explicitly named backup that is not trusted (unsigned, signed
	// by another key, dated in the future), saying so.
	AllowUntrusted bool

	Identities []age.Identity
	Jobs       int    // parallel pg_restore jobs and file workers (default 4)
	PgRestore  string // pg_restore program ("" = find it)
	// TargetVersion is the Mattermost version that will serve the restored data (e.g. 11.4.0).
	TargetVersion string
	// KeepConfigPaths leaves SqlSettings.DataSource and FileSettings as they were in the backup.
	KeepConfigPaths bool
	// PointInTimeFiles restores the files of a point-in-time restore (see PickFiles), whose
	// database comes from the WAL archive: the files only, whose target Mattermost's version
	// does not matter, and of them, when FilesAt is set, those the index says were added by
	// then (--to-time; zero: every file, --to-latest).
	PointInTimeFiles bool
	FilesAt          time.Time
	// PointInTimeConfig restores the config alone, for a point-in-time restore: FileSettings
	// point at DataDir or FilesToS3, where that restore's files go (PointInTimeFiles), and no
	// file of this backup is restored.
	PointInTimeConfig bool
	DryRun            bool
	Force             bool
	TempDir           string    // where the dump is staged for a parallel restore ("" = os.TempDir())
	Out               io.Writer // progress lines
}

// S3Files says where restored files go when they go to S3, for config.json.
type S3Files struct {
	Bucket, Prefix, Region, Endpoint string
	PathStyle                        bool
}

// Step names, in order.
const (
	StepCheck    = "check"
	StepVerify   = "verify"
	StepDatabase = "database"
	StepConfig   = "config"
	StepFiles    = "files"
)

// Result says what was restored.
type Result struct {
	BackupID string
	// What the backup is, as its trusted manifest says.
	Components        format.Components
	MattermostVersion string
	StartedAt         time.Time
	Trust             string        // why the backup is trusted (or used anyway)
	Plan              []string      // the steps, in order, as a dry run prints them
	Done              []string      // steps finished by this run or an earlier one
	Skipped           []string      // steps skipped because the backup lacks the component or no target was given
	Files             int64         // files restored (or already in place)
	Bytes             int64         // their bytes
	Took              time.Duration // wall time of this run
}

// ErrRefused is wrapped when a check refuses the restore; nothing was changed.
var ErrRefused = errors.New("restore refused")

type restorer struct {
	o       Options
	m       *format.Manifest
	journal *journal
	// dataRoot is the data folder while the files step runs.
	dataRoot *os.Root
	res      *Result
	start    time.Time
	// fileSet is the count of the files restored to Options.FilesAt, when set.
	fileSet struct{ files, bytes int64 }
}

func (r *restorer) printf(format string, args ...any) {
	if r.o.Out != nil {
		fmt.Fprintf(r.o.Out, "[%6.1fs] ", time.Since(r.start).Seconds())
		fmt.Fprintf(r.o.Out, format, args...)
		fmt.Fprintln(r.o.Out)
	}
}

// Run restores a backup. Its error says what was and was not restored; a run the checks refuse
// still returns what it would have restored (nil only when no backup could be chosen).
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	r := &restorer{o: o, start: time.Now(), res: &Result{}}
	if err := r.resolve(ctx); err != nil {
		return nil, err
	}
	r.res.BackupID, r.res.Components, r.res.MattermostVersion, r.res.StartedAt = r.m.ID, r.m.Components, r.m.MattermostVersion, r.m.StartedAt.UTC()
	if o.PointInTimeFiles && !o.FilesAt.IsZero() && r.m.Components.Files && (!r.m.Encryption.Encrypted || len(o.Identities) > 0) { // else check refuses
		var err error
		if r.fileSet.files, r.fileSet.bytes, err = FileSet(ctx, o.From, r.m, o.Identities, o.FilesAt); err != nil {
			return r.res, err
		}
	}
	steps := r.plan()
	r.res.Plan = steps
	if o.DryRun {
		r.printf("dry run: backup %s (%s, Mattermost %s, taken %s); nothing will be changed", r.m.ID, r.m.Components, r.m.MattermostVersion, r.m.StartedAt.UTC().Format(time.RFC3339))
		for i, s := range steps {
			r.printf("step %d: %s", i+1, s)
		}
	}
	if err := r.check(ctx); err != nil {
		return r.res, err // what it would have restored, and why not
	}
	if o.DryRun {
		r.printf("dry run: the checks passed; run again without --dry-run to restore")
		return r.res, nil
	}
	type step struct {
		name string
		want bool
		run  func(context.Context) error
	}
	all := []step{
		{StepVerify, true, r.verify},
		{StepDatabase, r.m.Components.Database && o.DatabaseURL != "", r.database},
		{StepConfig, r.m.Components.Config && (o.ConfigDir != "" || o.ConfigToDatabase), r.config},
		{StepFiles, r.m.Components.Files && (o.DataDir != "" || o.FilesTo != nil) && !o.PointInTimeConfig, r.files},
	}
	for _, s := range all {
		if !s.want {
			r.res.Skipped = append(r.res.Skipped, s.name)
			continue
		}
		if s.name != StepVerify && r.journal.done(s.name) {
			r.printf("%s: already restored by an earlier run (journal %s)", s.name, r.journal.path)
			r.res.Done = append(r.res.Done, s.name)
			continue
		}
		if err := s.run(ctx); err != nil {
			r.res.Took = time.Since(r.start)
			return r.res, r.failure(s.name, err)
		}
		if s.name != StepVerify {
			if err := r.journal.mark(s.name); err != nil {
				return r.res, r.failure(s.name, fmt.Errorf("record the step in the journal: %w", err))
			}
		}
		r.res.Done = append(r.res.Done, s.name)
	}
	r.res.Took = time.Since(r.start)
	r.printf("restore of backup %s complete in %s: %s", r.m.ID, r.res.Took.Round(100*time.Millisecond), strings.Join(r.res.Done, ", "))
	return r.res, nil
}

// failure says what was restored and what was not.
func (r *restorer) failure(step string, err error) error {
	var done, notDone []string
	for _, s := range []string{StepDatabase, StepConfig, StepFiles} {
		if r.journal != nil && r.journal.done(s) {
			done = append(done, s)
		} else if s != step {
			notDone = append(notDone, s)
		}
	}
	msg := fmt.Sprintf("step %s failed: %v", step, err)
	if len(done) > 0 {
		msg += "; restored: " + strings.Join(done, ", ")
	} else {
		msg += "; nothing was restored"
	}
	if step != StepVerify {
		notDone = append([]string{step}, notDone...)
	}
	msg += "; not restored: " + strings.Join(notDone, ", ")
	if len(done) > 0 || step == StepFiles || step == StepConfig {
		msg += ". Fix the cause and run the same command again: finished steps are not repeated"
	}
	return errors.New(msg)
}

// resolve reads the manifest of the backup to restore and says who signed it, before anything
// changes; it refuses a backup that is not trusted (see trust.go).
func (r *restorer) resolve(ctx context.Context) error {
	t := Trust{Key: r.o.TrustKey, AllowUntrusted: r.o.AllowUntrusted}
	now := time.Now()
	id := r.o.ID
	if id == "" || id == "latest" {
		ms, err := format.List(ctx, r.o.From)
		if err != nil && len(ms) == 0 {
			return fmt.Errorf("list the backups at %s: %w", r.o.From, err)
		}
		if err != nil {
			r.printf("latest: these backups could not be read and are left out: %v", err)
		}
		m, notes, err := t.Latest(ms, now, r.o.From.String())
		for _, n := range notes {
			r.printf("latest: %s", n)
		}
		if err != nil {
			return err
		}
		r.m = m
	} else {
		m, err := format.ReadManifest(ctx, r.o.From, id)
		if err != nil {
			if errors.Is(err, format.ErrNoBackup) {
				return fmt.Errorf("%w: %w; `drctl list --from …` shows the backups there", ErrRefused, err)
			}
			return err
		}
		if err := t.Check(m, now); err != nil {
			return err
		}
		r.m = m
	}
	r.res.Trust = t.Describe(r.m, now)
	r.printf("trust: %s", r.res.Trust)
	return nil
}

func (r *restorer) plan() []string {
	var steps []string
	steps = append(steps, "check: the target database is empty, Mattermost "+orUnknown(r.o.TargetVersion)+" ≥ "+orUnknown(r.m.MattermostVersion)+", the identity decrypts the backup")
	steps = append(steps, "verify: re-read every object of the backup and check its SHA-256 and the dump catalogue")
	if r.m.Components.Database {
		steps = append(steps, fmt.Sprintf("database: pg_restore -j %d into %s (%d tables)", r.o.Jobs, pgdsn.Redact(r.o.DatabaseURL), len(r.m.TableRowCounts)))
	}
	if r.m.Components.Config {
		switch {
		case r.o.ConfigDir != "":
			steps = append(steps, "config: write config.json and the config files to "+r.o.ConfigDir)
		case r.o.ConfigToDatabase:
			steps = append(steps, "config: write the configuration into the database's Configurations tables")
		default:
			steps = append(steps, "config: skipped (no --config-dir)")
		}
	}
	if r.m.Components.Files && r.m.Files != nil && !r.o.PointInTimeConfig {
		to := r.o.DataDir
		if r.o.FilesTo != nil {
			to = r.o.FilesTo.String()
		}
		if to == "" {
			steps = append(steps, "files: skipped (no --data-dir or --files-to)")
		} else {
			n, bytes := r.m.Files.Count, r.m.Files.Bytes
			which := ""
			if r.o.PointInTimeFiles && !r.o.FilesAt.IsZero() {
				n, bytes = r.fileSet.files, r.fileSet.bytes
				which = fmt.Sprintf(" (those of the %s's index added by %s)", r.m.Class(), r.o.FilesAt.UTC().Format(time.RFC3339))
			}
			steps = append(steps, fmt.Sprintf("files: %d files (%d bytes)%s to %s, %d at a time, each checked against its SHA-256", n, bytes, which, to, r.o.Jobs))
		}
	}
	return steps
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// journalName is the journal's file name in the config or data folder.
const journalName = ".drctl-restore.json"

type journal struct {
	dir, path string
	BackupID  string          `json:"backup_id"`
	Steps     map[string]bool `json:"steps"`
	Updated   time.Time       `json:"updated"`
}

func openJournal(dir, id string) (*journal, error) {
	j := &journal{BackupID: id, Steps: map[string]bool{}}
	if dir == "" {
		return j, nil // nowhere to keep it: the restore cannot be resumed, only re-run
	}
	j.dir, j.path = dir, filepath.Join(dir, journalName)
	root, err := os.OpenRoot(dir)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open the folder of the restore journal %s: %w", dir, err)
	}
	defer root.Close()
	b, err := root.ReadFile(journalName)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the restore journal %s: %w", j.path, err)
	}
	var old journal
	if err := json.Unmarshal(b, &old); err != nil {
		return nil, fmt.Errorf("the restore journal %s is damaged (%w): remove it to start over", j.path, err)
	}
	if old.BackupID != id {
		return nil, fmt.Errorf("%w: %s records a restore of backup %s, not %s: restore into empty folders, or remove the journal to start over", ErrRefused, j.path, old.BackupID, id)
	}
	j.Steps = old.Steps
	return j, nil
}

func (j *journal) done(step string) bool { return j.Steps[step] }

func (j *journal) mark(step string) error {
	j.Steps[step] = true
	j.Updated = time.Now().UTC()
	if j.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	root, err := openDir(j.dir, "folder of the restore journal")
	if err != nil {
		return err
	}
	defer root.Close()
	return writeFileIn(root, journalName, journalName+".tmp", b)
}

// compareVersions compares dotted versions numerically ("11.4.0" < "11.10.0"); suffixes after
// a '-' are ignored.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(strings.SplitN(a, "-", 2)[0], "."), strings.Split(strings.SplitN(b, "-", 2)[0], ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
