package plugin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for database-stored config
	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/bytesize"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/jobs"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/kvstate"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/serverenv"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
)

const (
	backupJob          = "backup"
	progressPostPeriod = time.Second
)

// memoryHungryStore is a destination whose every upload in flight holds buffers (s3.Store):
// a backup to it reads fewer files at once.
type memoryHungryStore interface {
	PutMemory() int64
}

var _ memoryHungryStore = (*s3.Store)(nil)

// backupRequest is one backup to run.
type backupRequest struct {
	ActorID     string
	Actor       string
	ChannelID   string // where the progress post goes; "" for scheduled runs
	Components  []string
	Destination string // "" = every configured destination
	// Capture is a continuous file capture (capture.go): no job, no post, no record.
	Capture bool
}

// server describes the Mattermost server the plugin runs in (found once).
func (p *Plugin) server() (*serverenv.Server, error) {
	p.serverOnce.Do(func() { p.serverEnv, p.serverErr = serverenv.Detect("/proc", os.Getppid()) })
	return p.serverEnv, p.serverErr
}

// destinations builds the configured destinations; with none configured, a local folder
// ./dr-backups beside the server's data folder.
func (p *Plugin) destinations(ctx context.Context, cfg settings.Config, only string) ([]backup.Destination, error) {
	srv, err := p.server()
	if err != nil {
		return nil, err
	}
	var out []backup.Destination
	s3cfg, hasS3 := cfg.S3()
	localDir := strings.TrimSpace(cfg.BackupLocalDirectory)
	if localDir != "" || !hasS3 {
		dir := srv.DefaultBackupDir()
		if localDir != "" {
			dir = srv.Resolve(localDir)
		}
		store, err := local.New(dir)
		if err != nil {
			return nil, fmt.Errorf("local destination %s: %w", dir, err)
		}
		out = append(out, backup.Destination{Name: "local", Store: store})
	}
	if hasS3 {
		store, err := s3.New(ctx, s3cfg)
		if err != nil {
			return nil, fmt.Errorf("S3 destination: %w", err)
		}
		out = append(out, backup.Destination{Name: "s3", Store: store, OffSite: true})
	}
	if only == "" {
		return out, nil
	}
	for _, d := range out {
		if d.Name == only {
			return []backup.Destination{d}, nil
		}
	}
	names := make([]string, len(out))
	for i, d := range out {
		names[i] = d.Name
	}
	return nil, fmt.Errorf("unknown destination %q: configured destinations are %s", only, strings.Join(names, ", "))
}

// indexIdentity is the plugin's own age key for the file index of encrypted backups (see
// backup.Options.IndexIdentity), created once and kept in the KV store.
func (p *Plugin) indexIdentity() (*age.X25519Identity, error) {
	s, _, err := kvstate.IndexIdentity.Get(p.state())
	if err != nil {
		return nil, err
	}
	if s == "" {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, err
		}
		if ok, err := kvstate.IndexIdentity.Create(p.state(), id.String()); err != nil {
			return nil, err
		} else if !ok { // another node made one first
			return p.indexIdentity()
		}
		return id, nil
	}
	return age.ParseX25519Identity(s)
}

// startBackup runs a backup in the background. It answers at once; the result is posted.
func (p *Plugin) startBackup(req backupRequest) (*jobs.Job, error) {
	cfg, problems := p.config()
	for _, pr := range problems {
		if strings.HasPrefix(pr.Setting, "Backup") {
			return nil, fmt.Errorf("fix the backup settings first: %s", pr)
		}
	}
	return p.jobs.Start(backupJob, req.ActorID, func(ctx context.Context, j *jobs.Job) {
		p.runBackup(ctx, j, cfg, req)
	})
}

func (p *Plugin) runBackup(ctx context.Context, j *jobs.Job, cfg settings.Config, req backupRequest) {
	start := time.Now()
	post := p.progressPost(req)
	_, _ = p.auditor.Append(audit.Entry{ActorID: req.ActorID, Actor: req.Actor, Action: "backup.start", Target: j.ID, Outcome: audit.OutcomeStarted,
		Details: map[string]string{"components": strings.Join(req.Components, ","), "destination": req.Destination}})

	// The backup and the retention that follows it hold the lock together: retention prunes the
	// pool, which must not overlap a backup to the same destination on another node.
	var manifests map[string]*format.Manifest
	var pruned string
	j.SetProgress("waiting for the cluster-wide backup lock")
	err := p.withBackupLock(ctx, func() error {
		var err error
		if manifests, err = p.backupOnce(ctx, j, cfg, req, post); err != nil {
			return err
		}
		// The manifests are signed; the record also names them in Mattermost's database.
		if err := p.recordBackup(manifests, ""); err != nil {
			p.API.LogWarn("Cannot record the backup in the KV store", "backup", j.ID, "error", err.Error())
		}
		if !req.baseOnly() {
			p.recordSuccess(time.Now())
			p.recordBackupInfo(manifests, time.Since(start))
		}
		pruned = p.applyRetention(ctx, cfg, destinationNames(manifests))
		return nil
	})
	events.BackupRun(err == nil, time.Now())
	if err != nil {
		msg := fmt.Sprintf(":warning: Backup `%s` failed after %s: %v\n\n%s", j.ID, time.Since(start).Round(time.Second), err, backupAdvice(err))
		_, _ = p.auditor.Append(audit.Entry{ActorID: req.ActorID, Actor: req.Actor, Action: "backup.fail", Target: j.ID, Outcome: audit.OutcomeFailed, Reason: err.Error()})
		j.Report(func() {
			post.finish(msg)
			_ = p.notifier.OpsAndDirect(req.ActorID, msg)
			p.alertBackupFailed(j.ID, msg)
		})
		return
	}
	var b strings.Builder
	var first *format.Manifest
	names := destinationNames(manifests)
	for _, name := range names {
		m := manifests[name]
		if first == nil {
			first = m
		}
		fmt.Fprintf(&b, "- **%s**: %s stored", name, bytesize.Format(m.Size()))
		if m.Files != nil {
			fmt.Fprintf(&b, ", %d files (%d new in the pool, %s uploaded", m.Files.Count, m.Files.NewPoolObjects, bytesize.Format(m.Files.BytesUploaded))
			if m.Files.ServerSideCopied > 0 {
				fmt.Fprintf(&b, ", %s copied server-side from the file store", bytesize.Format(m.Files.BytesCopied))
			}
			b.WriteString(")")
		}
		b.WriteString("\n")
		for _, w := range m.Warnings {
			fmt.Fprintf(&b, "  - :warning: %s\n", w)
		}
	}
	msg := fmt.Sprintf(":white_check_mark: Backup `%s` completed in %s (%s), signed by this server's key `%s`.\n%s%s", first.ID, time.Since(start).Round(100*time.Millisecond), first.Components,
		first.Provenance.Signer.Fingerprint(), b.String(), pruned)
	p.publishSettings(req.Destination)
	_, _ = p.auditor.Append(audit.Entry{ActorID: req.ActorID, Actor: req.Actor, Action: "backup.complete", Target: first.ID, Outcome: audit.OutcomeSucceeded,
		Details: map[string]string{"destinations": strings.Join(names, ","), "duration": time.Since(start).Round(time.Millisecond).String()}})
	j.Report(func() {
		post.finish(msg)
		_ = p.notifier.OpsAndDirect(req.ActorID, msg)
	})
}

// recordBackupInfo keeps what /dr status and the metrics say about the newest backup.
func (p *Plugin) recordBackupInfo(manifests map[string]*format.Manifest, took time.Duration) {
	info := kvstate.BackupInfo{LocalOnly: true}
	var size int64
	for _, m := range manifests {
		info.ID = m.ID
		if m.OffSite {
			info.LocalOnly = false
		}
		if !m.Encryption.Encrypted && m.Components.Config {
			info.UnencryptedSecrets = true
		}
		size = max(size, m.Size())
	}
	_ = kvstate.LastBackupInfo.Set(p.state(), info)
	_ = kvstate.LastBackupStats.Set(p.state(), kvstate.BackupStats{SizeBytes: size, DurationSeconds: took.Seconds()})
}

func destinationNames(manifests map[string]*format.Manifest) []string {
	names := make([]string, 0, len(manifests))
	for name := range manifests {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// withBackupLock runs fn holding the cluster-wide lock that backups, retention and deletes
// share: one of them at a time across the cluster, so a prune never overlaps a backup. The
// lock expires about 15 s after a node holding it dies, so waiting a little longer than that
// lets work follow a crashed backup.
func (p *Plugin) withBackupLock(ctx context.Context, fn func() error) error {
	mu, err := kvstate.BackupLock.New(p.API)
	if err != nil {
		return fmt.Errorf("backup lock: %w", err)
	}
	// A file capture holding the lock gives it up when it sees this (capture.go).
	if err := kvstate.BackupLockWanted.Set(p.state(), time.Now()); err != nil {
		p.API.LogWarn("Cannot mark the backup lock as wanted", "error", err.Error())
	}
	lockCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = mu.LockWithContext(lockCtx)
	cancel()
	if err != nil {
		return errors.New("another backup is running in the cluster: wait for it to finish")
	}
	defer mu.Unlock()
	return fn()
}

// backupOnce runs one backup; the caller holds the backup lock. j and post are nil for a
// capture.
func (p *Plugin) backupOnce(ctx context.Context, j *jobs.Job, cfg settings.Config, req backupRequest, post *progressPost) (map[string]*format.Manifest, error) {
	dests, err := p.destinations(ctx, cfg, req.Destination)
	if err != nil {
		return nil, err
	}
	// Holding the cluster-wide lock proves no backup runs anywhere, so every incomplete
	// backup folder is what a crashed or killed run left behind.
	for _, d := range dests {
		if c, ok := d.Store.(storage.Cleaner); ok { // half-written objects of a killed run
			if _, err := c.CleanupPartial(ctx, 0); err != nil {
				p.API.LogWarn("Cannot clean up half-written objects", "destination", d.Name, "error", err.Error())
			}
		}
		if _, err := backup.CleanupAbandoned(ctx, d.Store); err != nil {
			p.API.LogWarn("Cannot clean up incomplete backups", "destination", d.Name, "error", err.Error())
		}
	}
	srv, err := p.server()
	if err != nil {
		return nil, err
	}
	mmCfg := p.API.GetUnsanitizedConfig()
	comps := format.Components{}
	for _, c := range req.Components {
		switch c {
		case "database":
			comps.Database = true
		case "config":
			comps.Config = true
		case "files":
			comps.Files = true
		case baseComponent:
			comps.Base = true
		}
	}
	o := backup.Options{
		ID:                format.NewID(),
		Components:        comps,
		Database:          pgdump.Options{DataSource: nonEmpty(strings.TrimSpace(cfg.BackupDataSource), deref(mmCfg.SqlSettings.DataSource)), PgDumpPath: strings.TrimSpace(cfg.BackupPgDumpPath)},
		Config:            &serverenv.ConfigSource{Server: srv, Config: p.API.GetUnsanitizedConfig, OpenDB: func(dsn string) (*sql.DB, error) { return sql.Open("pgx", dsn) }},
		Destinations:      dests,
		CompressionLevel:  cfg.BackupCompressionLevel,
		MattermostVersion: p.API.GetServerVersion(),
		PluginVersion:     Version,
		AuditHead:         p.auditHead(),
	}
	if j != nil {
		o.Progress = func(pr backup.Progress) {
			j.SetProgress(pr.Phase)
			post.update(pr)
		}
	}
	o.Capture = req.Capture
	// Each upload to S3 in flight holds multipart buffers (16 MiB parts): with 4 file workers
	// the plugin peaked at 162 MB RSS, with 2 at 118 MB for 89 % of the throughput.
	for _, d := range dests {
		if _, ok := d.Store.(memoryHungryStore); ok {
			o.FileWorkers = 2
		}
	}
	if comps.Base {
		// The cluster the WAL archive streams from: a base backup and its WAL must match.
		o.Database.DataSource = p.walDSN(cfg)
	}
	if o.Recipients, err = cfg.AgeRecipients(); err != nil {
		return nil, err
	}
	if o.SigningKey, err = p.signingKey(); err != nil {
		return nil, err
	}
	if len(o.Recipients) > 0 {
		if o.IndexIdentity, err = p.indexIdentity(); err != nil {
			return nil, fmt.Errorf("read the plugin's index key: %w", err)
		}
	}
	if comps.Files {
		fs, err := srv.Files(mmCfg)
		if err != nil {
			return nil, err
		}
		if fs.Driver == model.ImageDriverS3 {
			store, err := s3.New(ctx, s3.Config{Bucket: fs.Bucket, Prefix: fs.PathPrefix, Region: fs.Region, Endpoint: fileStoreEndpoint(fs), PathStyle: fs.Endpoint != "" && !strings.HasSuffix(fs.Endpoint, "amazonaws.com"),
				AccessKeyID: fs.AccessKeyID, SecretAccessKey: fs.SecretAccessKey})
			if err != nil {
				return nil, fmt.Errorf("the server's S3 file store: %w", err)
			}
			o.Files = filesource.NewS3(store)
		} else {
			o.Files = filesource.NewLocal(fs.Dir)
		}
	}
	if j != nil {
		j.SetProgress("starting")
	}
	return backup.Run(ctx, o)
}

func fileStoreEndpoint(fs *serverenv.FileStore) string {
	if fs.Endpoint == "" || strings.HasPrefix(fs.Endpoint, "http") {
		return fs.Endpoint
	}
	if fs.SSL {
		return "https://" + fs.Endpoint
	}
	return "http://" + fs.Endpoint
}

func (p *Plugin) pruneOptions() backup.PruneOptions {
	var o backup.PruneOptions
	if id, err := p.indexIdentity(); err == nil {
		o.Identities = []age.Identity{id}
	}
	return o
}

// pins returns the pinned backup ids.
func (p *Plugin) pins() (map[string]bool, error) {
	pins, _, err := kvstate.Pins.Get(p.state())
	if pins == nil {
		pins = map[string]bool{}
	}
	return pins, err
}

func (p *Plugin) setPin(id string, pinned bool) error {
	return kvstate.Pins.Update(p.state(), func(pins map[string]bool, _ bool) (map[string]bool, error) {
		if pins == nil {
			pins = map[string]bool{}
		}
		if pinned {
			pins[id] = true
		} else {
			delete(pins, id)
		}
		return pins, nil
	})
}

// backupAdvice says what to do about a failure, for the common causes.
func backupAdvice(err error) string {
	s := err.Error()
	switch {
	case errors.Is(err, context.Canceled):
		return "The backup was cancelled; nothing of it was kept. Run `/dr backup now` again when ready."
	case errors.Is(err, pgdump.ErrPgDumpNotFound), errors.Is(err, pgdump.ErrPgDumpTooOld):
		return "Install the PostgreSQL client that matches the database server on this node, then run `/dr backup now` again."
	case strings.Contains(s, "is full"), strings.Contains(s, "no space"):
		return "Free space at the destination, or point BackupLocalDirectory elsewhere, then run `/dr backup now` again. Earlier backups are untouched."
	case strings.Contains(s, "another backup is running"):
		return ""
	default:
		return "Nothing of this backup was kept and earlier backups are untouched. Fix the cause, then run `/dr backup now` again."
	}
}

// progressPost is one ephemeral post, updated in place while a backup runs.
type progressPost struct {
	p      *Plugin
	userID string
	post   *model.Post
	mu     sync.Mutex
	last   time.Time
}

func (p *Plugin) progressPost(req backupRequest) *progressPost {
	pp := &progressPost{p: p, userID: req.ActorID}
	if req.ChannelID != "" && req.ActorID != "" && req.ActorID != audit.ActorSystem {
		pp.post = p.API.SendEphemeralPost(req.ActorID, &model.Post{UserId: p.notifier.BotID(), ChannelId: req.ChannelID, Message: "Backup starting…"})
	}
	return pp
}

func (pp *progressPost) update(pr backup.Progress) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.post == nil || time.Since(pp.last) < progressPostPeriod {
		return
	}
	pp.last = time.Now()
	rate := ""
	if s := pr.Elapsed.Seconds(); s > 0 {
		rate = fmt.Sprintf(", %s/s", bytesize.Format(int64(float64(pr.BytesRead)/s)))
	}
	pct := ""
	if pr.Percent >= 0 && pr.FilesCounted {
		pct = fmt.Sprintf(" (%.0f%% of files)", pr.Percent)
	}
	pp.post.Message = fmt.Sprintf("Backup running: **%s**, %s read, %s written, %d/%d files%s%s, %s elapsed. `/dr backup cancel` stops it.",
		pr.Phase, bytesize.Format(pr.BytesRead), bytesize.Format(pr.BytesWritten), pr.FilesDone, pr.FilesTotal, pct, rate, pr.Elapsed.Round(time.Second))
	pp.post = pp.p.API.UpdateEphemeralPost(pp.userID, pp.post)
}

func (pp *progressPost) finish(msg string) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.post == nil {
		return
	}
	pp.post.Message = msg
	pp.p.API.UpdateEphemeralPost(pp.userID, pp.post)
}
