package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// ConfigSource gives Mattermost's configuration.
type ConfigSource interface {
	// Effective is the server's effective configuration as JSON, secrets included (a restore
	// needs them): API.GetUnsanitizedConfig, marshalled.
	Effective(ctx context.Context) ([]byte, error)
	// Files calls fn for every file of the config directory (SAML certificates and keys, …)
	// or, when the config lives in the database, every row of ConfigurationFiles. name is
	// relative and slash-separated; r must yield exactly size bytes.
	Files(ctx context.Context, fn func(name string, size int64, r io.Reader) error) error
}

// WarningConfigSource is a ConfigSource that says what it leaves out; a backup keeps those
// warnings in its manifest.
type WarningConfigSource interface {
	ConfigSource
	FilesWarning(ctx context.Context, fn func(name string, size int64, r io.Reader) error, warn func(msg string)) error
}

// Options configures Run.
type Options struct {
	// ID names the backup: NewID() (time-sortable). Empty: NewID().
	ID         string
	Components format.Components
	// Capture makes the backup a continuous file capture (format.ClassCapture): the files
	// component only, between backups, so that a point-in-time restore finds the files uploaded
	// since the last backup. It is incremental like any file pass.
	Capture bool
	// Database says how to reach the database (DataSource, PgDumpPath), for the database and
	// the base backup components (pg_basebackup is the one beside pg_dump). Compress, Progress
	// and InSnapshot are set by Run.
	Database pgdump.Options
	Config   ConfigSource
	Files    filesource.Source
	// Destinations receive the same bytes; a failure at any of them fails the backup.
	Destinations []Destination
	// CompressionLevel is zstd's level, 1 (fastest, the default) to 4 (best).
	CompressionLevel int
	// Recipients are age public keys ("age1…"); empty: not encrypted.
	Recipients []string
	// IndexIdentity, when set with Recipients, is the plugin's own key (kept on the server, in
	// the plugin's KV store) to which the file index is also encrypted, and only the file
	// index: it lets the next run find unchanged files without reading them, and PrunePool read
	// which pool objects are in use. Without it, every encrypted run reads every file again
	// to hash it (uploads stay incremental) and PrunePool cannot prune. The index holds file
	// paths, sizes, times and hashes, which the server's database holds anyway.
	IndexIdentity *age.X25519Identity
	// SigningKey, when set, signs each manifest (a manifest.json.sig sidecar written before it),
	// so that the backup can be told apart from one planted in the destination (see sign.go).
	SigningKey *format.SigningKey
	// Versions recorded in the manifest.
	MattermostVersion, PluginVersion string
	// AuditHead, if set, is recorded in the manifest (see Manifest.AuditHead).
	AuditHead *format.AuditAnchor
	// Progress, if set, is called about twice a second and at each phase change, from one
	// goroutine at a time; it must return quickly.
	Progress func(Progress)
	// FileWorkers is how many files are read and uploaded at once (default 4).
	FileWorkers int

	// now is the clock, for tests.
	now func() time.Time
}

// Object names in a backup's folder.
const (
	databaseName   = "database.dump.zst"
	referencedName = "referenced.jsonl.zst"
	configName     = "config.tar.zst"
	indexName      = "files.jsonl.zst"
	ageSuffix      = ".age"
)

// heartbeatInterval is how often a running backup rewrites its run marker, so that
// CleanupIncomplete (which needs olderThan well above it) never takes it for a crashed one.
var heartbeatInterval = 10 * time.Minute

// destState is one destination during a run.
type destState struct {
	Destination
	mu        sync.Mutex
	objects   []format.Object
	files     format.FileStats
	pool      *poolSet
	prevFiles *format.Manifest // newest complete backup holding a file index, or nil
	reusePool bool             // pool objects were encrypted like this run's
	marker    bool             // the run marker was written
	copier    *copier          // server-side copies from the file store, or nil (see setupCopies)
	rawRefs   int64            // index entries naming a raw pool object (see formatVersion)
}

func (d *destState) addObject(o format.Object) {
	d.mu.Lock()
	d.objects = append(d.objects, o)
	d.mu.Unlock()
}

type run struct {
	o               Options
	id              string
	started         time.Time
	dests           []*destState
	recipients      []age.Recipient
	indexRecipients []age.Recipient
	fingerprints    []string
	indexPrint      string
	encs            *encoders
	copySrc         copySource // the file store, when a destination copies from it server-side
	progress        *reporter

	mu         sync.Mutex
	warnings   []string
	db         *pgdump.Result
	baseRes    *pgdump.BaseResult
	referenced int64
	files      format.FileStats // totals; the pool object counts and bytes are per destination
	prevIndex  string           // the backup whose file index the file pass compared with
}

func (r *run) warn(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	for _, w := range r.warnings {
		if w == msg {
			return
		}
	}
	r.warnings = append(r.warnings, msg)
}

// Run takes a backup and writes it to every destination; it returns each destination's
// manifest by destination name.
//
// The components are taken in this order: the database, then the base backup, then the
// config, then the files.
// Mattermost writes an uploaded file to the file store before it commits the FileInfo row
// that refers to it (and likewise profile pictures, emoji and the brand image), so every
// file the database snapshot refers to already exists when the snapshot is taken; copying
// the files afterwards finds them all. The other order would miss the files of posts made
// between the file copy and the snapshot. The files copied may include newer files the
// snapshot does not know: harmless, a restore ignores them.
//
// On any failure (a source, a destination, a cancelled ctx) everything stops, what this run
// wrote under backups/<id>/ is deleted (best effort; CleanupIncomplete catches the rest), no
// manifest is written, and the error names the step that failed. Pool objects it uploaded stay:
// they are valid content for later runs, and PrunePool removes them if nothing uses them.
func Run(ctx context.Context, o Options) (map[string]*format.Manifest, error) {
	r, err := prepare(o)
	if err != nil {
		return nil, err
	}
	return r.run(ctx)
}

func prepare(o Options) (*run, error) {
	if o.now == nil {
		o.now = time.Now
	}
	if o.ID == "" {
		o.ID = format.NewIDAt(o.now())
	}
	if err := format.ValidateID(o.ID); err != nil {
		return nil, err
	}
	c := o.Components
	switch {
	case o.Capture && (!c.Files || c.Database || c.Config || c.Base):
		return nil, errors.New("backup: a file capture holds the files component only")
	case !c.Database && !c.Config && !c.Files && !c.Base:
		return nil, errors.New("backup: no component selected: choose the database, the base backup, the config and/or the files")
	case c.Config && o.Config == nil:
		return nil, errors.New("backup: the config component needs a config source")
	case c.Files && o.Files == nil:
		return nil, errors.New("backup: the files component needs a file source")
	case c.Database && strings.TrimSpace(o.Database.DataSource) == "":
		return nil, errors.New("backup: the database component needs the database's DataSource")
	case c.Base && strings.TrimSpace(o.Database.DataSource) == "":
		return nil, errors.New("backup: the base backup component needs the database's DataSource")
	case len(o.Destinations) == 0:
		return nil, errors.New("backup: no destination: configure a local folder and/or an S3 bucket")
	}
	if o.CompressionLevel == 0 {
		o.CompressionLevel = 1
	}
	if o.CompressionLevel < 1 || o.CompressionLevel > 4 {
		return nil, fmt.Errorf("backup: compression level %d is not between 1 (fastest) and 4 (best)", o.CompressionLevel)
	}
	if o.FileWorkers <= 0 {
		o.FileWorkers = 4
	}
	r := &run{o: o, id: o.ID, encs: newEncoders(o.CompressionLevel)}
	seen := map[string]bool{}
	for _, d := range o.Destinations {
		switch {
		case d.Store == nil:
			return nil, fmt.Errorf("backup: destination %q has no store", d.Name)
		case d.Name == "" || seen[d.Name]:
			return nil, fmt.Errorf("backup: destination names must be set and distinct (%q)", d.Name)
		}
		seen[d.Name] = true
		r.dests = append(r.dests, &destState{Destination: d})
	}
	for _, s := range o.Recipients {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		recs, err := age.ParseRecipients(strings.NewReader(s))
		if err == nil && len(recs) != 1 {
			err = errors.New("one recipient per entry")
		}
		if err != nil {
			return nil, fmt.Errorf("backup: encryption recipient %q is not an age public key (age1…): %w", s, err)
		}
		r.recipients = append(r.recipients, recs[0])
		r.fingerprints = append(r.fingerprints, format.Fingerprint(s))
	}
	sort.Strings(r.fingerprints)
	r.indexRecipients = r.recipients
	if len(r.recipients) > 0 && o.IndexIdentity != nil {
		rec := o.IndexIdentity.Recipient()
		r.indexRecipients = append(append([]age.Recipient{}, r.recipients...), rec)
		r.indexPrint = format.Fingerprint(rec.String())
	}
	r.progress = newReporter(o.Progress, o.now)
	return r, nil
}

func (r *run) encrypted() bool { return len(r.recipients) > 0 }

func (r *run) key(name string) string {
	if r.encrypted() {
		name += ageSuffix
	}
	return format.BackupDir(r.id) + name
}

func (r *run) run(parent context.Context) (map[string]*format.Manifest, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	r.started = r.o.now().UTC()
	r.progress.start()
	defer r.progress.stop()

	step := "start"
	stopHeartbeat := func() {}
	fail := func(err error) (map[string]*format.Manifest, error) {
		cancel()
		stopHeartbeat() // no marker rewritten after the cleanup
		r.progress.phase(PhaseFailed)
		r.cleanup(parent)
		if parent.Err() != nil {
			return nil, fmt.Errorf("backup %s canceled during the %s step: %w", r.id, step, context.Cause(parent))
		}
		return nil, fmt.Errorf("backup %s failed at the %s step: %w", r.id, step, err)
	}

	// Never touch an existing folder: the cleanup of a failed run deletes its folder.
	for _, d := range r.dests {
		exists := false
		err := d.Store.List(ctx, format.BackupDir(r.id), func(storage.ObjectInfo) error {
			exists = true
			return errStop
		})
		if err != nil && !errors.Is(err, errStop) {
			return nil, fmt.Errorf("backup %s failed at the start step: destination %s (%s): %w", r.id, d.Name, d.Store, err)
		}
		if exists {
			return nil, fmt.Errorf("backup %s: destination %s (%s) already holds a backup with this ID; choose another ID", r.id, d.Name, d.Store)
		}
	}
	if err := r.writeMarkers(ctx); err != nil {
		return fail(err)
	}
	stopHeartbeat = r.heartbeat(ctx)
	defer stopHeartbeat()
	if err := r.inspect(ctx); err != nil {
		return fail(err)
	}
	if r.o.Components.Database {
		step = "database"
		r.progress.phase(PhaseDatabase)
		if err := r.database(ctx); err != nil {
			return fail(err)
		}
	}
	if r.o.Components.Base {
		step = "base backup"
		r.progress.phase(PhaseBase)
		if err := r.base(ctx); err != nil {
			return fail(err)
		}
	}
	if r.o.Components.Config {
		step = "config"
		r.progress.phase(PhaseConfig)
		if err := r.config(ctx); err != nil {
			return fail(err)
		}
	}
	if r.o.Components.Files {
		step = "files"
		r.progress.phase(PhaseFiles)
		if err := r.copyFiles(ctx); err != nil {
			return fail(err)
		}
		if r.o.Capture && r.nothingNew() {
			// The previous index lists the file store as it is: another would only take room.
			stopHeartbeat()
			r.cleanup(parent)
			r.progress.phase(PhaseDone)
			return nil, ErrNothingNew
		}
	}
	step = "manifest"
	r.progress.phase(PhaseFinishing)
	stopHeartbeat()
	ms, err := r.finish(ctx)
	if err != nil {
		return fail(err)
	}
	r.progress.phase(PhaseDone)
	return ms, nil
}

// writeMarkers writes each destination's run marker, first of all, so that the run is
// visible as running (see runMarker).
func (r *run) writeMarkers(ctx context.Context) error {
	for _, d := range r.dests {
		if err := r.writeMarker(ctx, d); err != nil {
			return err
		}
		d.marker = true
	}
	return nil
}

func (r *run) writeMarker(ctx context.Context, d *destState) error {
	b, err := json.MarshalIndent(runMarker{
		ID: r.id, StartedAt: r.started, Heartbeat: r.o.now().UTC(), PluginVersion: r.o.PluginVersion,
		Destination: d.Name, Recipients: r.fingerprints,
	}, "", "  ")
	if err != nil {
		return err
	}
	if _, err := d.Store.Put(ctx, format.BackupDir(r.id)+runMarkerName, bytes.NewReader(b)); err != nil {
		return fmt.Errorf("destination %s (%s): %w", d.Name, d.Store, err)
	}
	return nil
}

// heartbeat rewrites the run markers every heartbeatInterval until the returned function is
// called.
func (r *run) heartbeat(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(heartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-t.C:
				for _, d := range r.dests {
					_ = r.writeMarker(ctx, d) // a missed beat only matters after many
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// inspect reads what each destination already holds: the newest complete backup with a file
// index (for incremental file copies) and, for the files component, the pool's content.
func (r *run) inspect(ctx context.Context) error {
	offSite := false
	for _, d := range r.dests {
		offSite = offSite || d.OffSite
		if !r.o.Components.Files {
			continue
		}
		ms, err := format.List(ctx, d.Store)
		if err != nil && ms == nil {
			return fmt.Errorf("destination %s: %w", d.Name, err)
		}
		if err != nil {
			r.warn("destination %s: %v", d.Name, err)
		}
		for _, m := range ms {
			if m.Components.Files && m.Object(format.ComponentFilesIndex) != nil {
				d.prevFiles = m
				break
			}
		}
		d.reusePool = true
		if p := d.prevFiles; p != nil && (p.Encryption.Encrypted != r.encrypted() || !equalStrings(p.Encryption.Recipients, r.fingerprints)) {
			d.reusePool = false
			r.warn("destination %s: the encryption recipients changed since backup %s: every file is uploaded again, "+
				"encrypted for the new recipients; keep the old identities to restore older backups", d.Name, p.ID)
		}
		d.pool = newPoolSet(!r.encrypted())
		if d.reusePool {
			if err := d.pool.load(ctx, d.Store); err != nil {
				return fmt.Errorf("destination %s: %w", d.Name, err)
			}
		}
	}
	if !r.encrypted() && (r.o.Components.Database || r.o.Components.Config || r.o.Components.Base) {
		r.warn("not encrypted but holds secrets: the database (password hashes, tokens, keys) and the config (passwords, keys) are stored in the clear; set encryption recipients")
	}
	if !offSite {
		r.warn("local-only: no destination is off-site, so a loss of this site loses the backups too")
	}
	return nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// finish checks that every object is in place, then writes the manifests (last), then
// removes the run markers.
func (r *run) finish(ctx context.Context) (map[string]*format.Manifest, error) {
	for _, d := range r.dests {
		for _, o := range d.objects {
			info, err := d.Store.Stat(ctx, o.Key)
			if err != nil {
				return nil, fmt.Errorf("destination %s: check %s: %w", d.Name, o.Key, err)
			}
			if info.Size != o.Size {
				return nil, fmt.Errorf("destination %s: %s holds %d bytes, %d were written", d.Name, o.Key, info.Size, o.Size)
			}
		}
	}
	finished := r.o.now().UTC()
	ms := make(map[string]*format.Manifest, len(r.dests))
	for _, d := range r.dests {
		m := r.manifest(d, finished)
		b, err := format.MarshalManifest(m)
		if err != nil {
			return nil, err
		}
		if err := format.PutSigned(ctx, d.Store, format.ManifestKey(r.id), b, r.o.SigningKey); err != nil {
			return nil, fmt.Errorf("destination %s (%s): write the manifest: %w", d.Name, d.Store, err)
		}
		sum := sha256.Sum256(b)
		m.Provenance = format.Provenance{SHA256: hex.EncodeToString(sum[:]), Problem: "not signed"}
		if r.o.SigningKey != nil {
			m.Provenance = format.Provenance{SHA256: m.Provenance.SHA256, Signer: r.o.SigningKey.PublicKey()}
		}
		ms[d.Name] = m
	}
	for _, d := range r.dests {
		_ = d.Store.Delete(ctx, format.BackupDir(r.id)+runMarkerName) // harmless if left
	}
	return ms, nil
}

func (r *run) manifest(d *destState, finished time.Time) *format.Manifest {
	m := &format.Manifest{
		FormatVersion:     d.formatVersion(),
		ID:                r.id,
		Status:            format.StatusComplete,
		StartedAt:         r.started,
		FinishedAt:        finished,
		MattermostVersion: r.o.MattermostVersion,
		PluginVersion:     r.o.PluginVersion,
		Components:        r.o.Components,
		Kind:              r.kind(),
		Destination:       d.Name,
		OffSite:           d.OffSite,
		Compression:       format.Compression{Algorithm: "zstd", Level: r.o.CompressionLevel},
		Encryption:        format.Encryption{Encrypted: r.encrypted()},
		Objects:           append([]format.Object(nil), d.objects...),
		Warnings:          append([]string(nil), r.warnings...),
		AuditHead:         r.o.AuditHead,
	}
	if r.encrypted() {
		m.Encryption.Algorithm = "age"
		m.Encryption.Recipients = r.fingerprints
		m.Encryption.IndexRecipient = r.indexPrint
	}
	if r.db != nil {
		m.DatabaseSchemaVersion = r.db.SchemaVersion
		m.PostgresVersion = r.db.ServerVersion
		m.PgDumpVersion = r.db.PgDumpVersion
		m.TableRowCounts = r.db.TableRowCounts
		m.ReferencedFiles = r.referenced
	}
	if r.baseRes != nil {
		m.Base = baseManifest(r.baseRes)
		if m.PostgresVersion == "" {
			m.PostgresVersion = r.baseRes.ServerVersion
		}
	}
	if r.o.Components.Files {
		fs := r.files
		fs.NewPoolObjects = d.files.NewPoolObjects
		fs.BytesUploaded = d.files.BytesUploaded
		fs.ServerSideCopied, fs.BytesCopied = d.files.ServerSideCopied, d.files.BytesCopied
		if d.prevFiles != nil {
			fs.PreviousBackup = d.prevFiles.ID
		}
		m.Files = &fs
	}
	return m
}

// ErrNothingNew is Run's error for a capture that found the file store as the previous file
// index lists it (no file added, changed or removed): nothing of it is kept.
var ErrNothingNew = errors.New("file capture: nothing changed since the previous file index")

// nothingNew says whether the file pass found every file of the previous index unchanged, and
// no other, at every destination: then that index still lists the file store.
func (r *run) nothingNew() bool {
	if r.prevIndex == "" || r.files.Unchanged != r.files.Count || r.files.Skipped > 0 {
		return false
	}
	for _, d := range r.dests {
		p := d.prevFiles
		if p == nil || p.ID != r.prevIndex || p.Files == nil || p.Files.Count != r.files.Count || d.files.NewPoolObjects > 0 {
			return false
		}
	}
	return true
}

// kind is Manifest.Kind: ClassCapture for a capture, else empty.
func (r *run) kind() string {
	if r.o.Capture {
		return format.ClassCapture
	}
	return ""
}

// cleanupTimeout bounds the deletion of a failed run's objects.
const cleanupTimeout = 2 * time.Minute

// cleanup deletes what this run wrote under backups/<id>/ at every destination, manifests
// included (a manifest is only written once everything else succeeded, but writing it can
// fail at a later destination). Best effort: CleanupIncomplete removes what is left.
func (r *run) cleanup(parent context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), cleanupTimeout)
	defer cancel()
	for _, d := range r.dests {
		_ = d.Store.Delete(ctx, format.ManifestKey(r.id))
		_ = deleteFolder(ctx, d.Store, r.id)
	}
}

// deleteFolder deletes every object under backups/<id>/; the run marker last, so that the
// folder stays visible as running until it is empty.
func deleteFolder(ctx context.Context, s storage.Store, id string) error {
	var keys []string
	err := s.List(ctx, format.BackupDir(id), func(o storage.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	})
	if err != nil {
		return err
	}
	marker := format.BackupDir(id) + runMarkerName
	sort.SliceStable(keys, func(i, j int) bool { return keys[j] == marker && keys[i] != marker })
	var errs []error
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
