package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/kvstate"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	walprobe "github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/walarchive"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/slashcmd"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status/probers"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

const (
	// walReportEvery is how often the archiving node writes its status to the KV store, and
	// walReportFresh how old that report may get before /dr status says no node archives:
	// the lock's 15 s expiry plus a takeover.
	walReportEvery = 5 * time.Second
	walReportFresh = 45 * time.Second
	// walRetry is how long a node waits after archiving could not start (set up wrongly, a
	// destination down) before it tries again; the lock is free meanwhile, so another node may.
	walRetry = 30 * time.Second
	// windowEvery is how often the archiving node reads each destination's point-in-time
	// window (a listing of the archive and the manifests), and windowFresh how old that may get
	// before /dr status says it is not known.
	windowEvery = time.Minute
	windowFresh = 5 * time.Minute
	// walSpoolDir is pg_receivewal's folder, relative to the Mattermost folder (beside
	// ./dr-backups): outside the plugin's folder, which an upgrade replaces, so that WAL received
	// but not yet stored survives a restart of the plugin.
	walSpoolDir = "./dr-wal-spool"
)

// walArchiveRun is the archiving loop started for one set of settings.
type walArchiveRun struct {
	mu     sync.Mutex
	closed bool // the plugin is deactivating: start nothing
	key    string
	cancel context.CancelFunc
	done   chan struct{}
}

// walDSN is the connection WAL archiving and base backups use: the replication setting, else
// Mattermost's own (the primary: a read replica cannot be archived, its heartbeat cannot write).
func (p *Plugin) walDSN(cfg settings.Config) string {
	if ds := strings.TrimSpace(cfg.WALArchiveDataSource); ds != "" {
		return ds
	}
	if mm := p.API.GetUnsanitizedConfig(); mm != nil {
		return deref(mm.SqlSettings.DataSource)
	}
	return ""
}

// walArchiveKey is what the archiving loop depends on: a change of any of it restarts the loop.
func (p *Plugin) walArchiveKey(cfg settings.Config) string {
	if !cfg.WALArchiveEnabled {
		return ""
	}
	b, _ := json.Marshal([]any{cfg.WALArchiveMaxDelay(), p.walDSN(cfg), cfg.BackupPgDumpPath, cfg.BackupLocalDirectory, cfg.BackupS3Bucket, cfg.BackupS3Prefix,
		cfg.BackupS3Region, cfg.BackupS3Endpoint, cfg.BackupS3PathStyle, cfg.BackupS3AccessKeyID, cfg.BackupS3SecretAccessKey, cfg.BackupS3StorageClass,
		cfg.BackupS3SSE, cfg.BackupS3KMSKeyID, cfg.BackupAgeRecipients, cfg.BackupCompressionLevel})
	return string(b)
}

// applyWALArchive starts, restarts or stops the archiving loop to match the settings. Every
// node runs the loop; only the one holding the cluster-wide lock archives.
func (p *Plugin) applyWALArchive() {
	if p.client == nil { // not activated yet: OnActivate calls this again
		return
	}
	w := &p.walRun
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	cfg, problems := p.config() // under w.mu: the last call applies the newest settings
	key := p.walArchiveKey(cfg)
	if walSettingsProblem(problems) != "" {
		key = "" // never archive with settings that do not check out; /dr status says which
	}
	if key == w.key {
		return
	}
	stopWALArchive(w)
	w.key = key
	if key == "" {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		p.walArchiveLoop(ctx, cfg)
	}(w.done)
}

// walSettingsProblem lists the problems of the settings archiving uses (its own, the
// destinations, the recipients), or "" when they check out.
func walSettingsProblem(problems settings.Problems) string {
	var out []string
	for _, pr := range problems {
		if strings.HasPrefix(pr.Setting, "WALArchive") || strings.HasPrefix(pr.Setting, "BackupS3") || pr.Setting == "BackupAgeRecipients" || pr.Setting == "BackupLocalDirectory" {
			out = append(out, pr.String())
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "fix the settings first: " + strings.Join(out, "; ")
}

// stopWALArchive stops the loop and waits for the archiver to store what it received; the
// caller holds w.mu.
func stopWALArchive(w *walArchiveRun) {
	if w.cancel == nil {
		return
	}
	w.cancel()
	select {
	case <-w.done:
	case <-time.After(40 * time.Second): // the archiver's final pass has 30 s
	}
	w.cancel, w.done, w.key = nil, nil, ""
}

// walArchiveLoop takes the cluster-wide lock, archives while it holds it, and tries again
// after a failure, until ctx ends. The lock expires 15 s after its holder dies, so another
// node's loop takes over a dead node's archiving.
func (p *Plugin) walArchiveLoop(ctx context.Context, cfg settings.Config) {
	for ctx.Err() == nil {
		mu, err := kvstate.WALArchiveLock.New(p.API)
		if err != nil {
			p.API.LogError("WAL archiving: cannot create the cluster lock", "error", err.Error())
			return
		}
		if err := mu.LockWithContext(ctx); err != nil {
			return // ctx ended
		}
		err = p.archiveWhileHolding(ctx, cfg)
		mu.Unlock()
		if err == nil || ctx.Err() != nil {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(walRetry):
		}
	}
}

// archiveWhileHolding checks the set-up, runs the archiver until ctx ends and reports its
// status to the KV store. An error means archiving could not start or stopped on its own.
func (p *Plugin) archiveWhileHolding(ctx context.Context, cfg settings.Config) error {
	dsn := p.walDSN(cfg)
	report := func(st kvstate.WALArchiveState) {
		st.Node, st.ReportedAt = p.node, time.Now().UTC()
		st.Setup, st.LastError = pgdsn.Scrub(dsn, st.Setup), pgdsn.Scrub(dsn, st.LastError)
		if err := kvstate.WALArchiveReport.Set(p.state(), st); err != nil {
			p.API.LogWarn("WAL archiving: cannot write its status", "error", err.Error())
		}
	}
	fail := func(err error) error {
		msg := pgdsn.Scrub(dsn, err.Error())
		p.API.LogError("WAL archiving cannot run", "node", p.node, "error", msg)
		report(kvstate.WALArchiveState{Setup: msg})
		return err
	}
	arch, err := p.newArchiver(ctx, cfg, dsn)
	if err != nil {
		return fail(err)
	}
	p.API.LogInfo("WAL archiving starts on this node", "node", p.node)
	runCtx, stop := context.WithCancel(ctx)
	captured := make(chan struct{})
	defer func() {
		stop()
		<-captured // no capture outlives this node's hold of the archiving lock
	}()
	errc := make(chan error, 1)
	go func() { errc <- arch.Run(runCtx) }()
	go p.readWindows(runCtx, cfg)
	go func() {
		defer close(captured)
		p.captureLoop(runCtx)
	}()
	tick := time.NewTicker(walReportEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			if err != nil {
				return fail(err)
			}
			st := walState(arch.Status(), dsn)
			st.Running = false
			report(st)
			return nil
		case <-tick.C:
			report(walState(arch.Status(), dsn))
		}
	}
}

// walState is the archiver's status as reported, with a set-up problem pg_receivewal met
// (REPLICATION, pg_hba.conf, WAL senders) spelled out as what to change.
func walState(s walarchive.Status, dsn string) kvstate.WALArchiveState {
	st := kvstate.WALArchiveState{Running: s.Running, CaughtUp: s.CaughtUp, LastFile: s.LastFile, LastError: s.LastError,
		Pending: s.Pending, Restarts: s.Restarts, Stored: s.Stored}
	if !s.Running && s.LastError != "" {
		if err := pgdump.ExplainReplicationError(dsn, s.LastError); err != nil {
			st.Setup = err.Error()
		}
	}
	return st
}

// newArchiver checks the set-up and builds the archiver: the backup destinations and
// recipients, the plugin's signing key, pg_receivewal from pg_dump's client package.
func (p *Plugin) newArchiver(ctx context.Context, cfg settings.Config, dsn string) (*walarchive.Archiver, error) {
	if dsn == "" {
		return nil, errors.New("no database connection: set WALArchiveDataSource, or SqlSettings.DataSource")
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	check, err := pgdump.CheckArchiving(cctx, dsn, strings.TrimSpace(cfg.BackupPgDumpPath))
	cancel()
	if err != nil {
		return nil, err
	}
	dests, err := p.destinations(ctx, cfg, "")
	if err != nil {
		return nil, err
	}
	o := walarchive.Options{DSN: dsn, ReceiveWAL: check.ReceiveWAL, MaxDelay: cfg.WALArchiveMaxDelay(), Level: cfg.BackupCompressionLevel,
		Logf: func(format string, args ...any) {
			p.API.LogWarn(pgdsn.Scrub(dsn, fmt.Sprintf(format, args...)))
		}}
	for _, d := range dests {
		o.Destinations = append(o.Destinations, walarchive.Destination{Name: d.Name, Store: d.Store})
	}
	recipients, err := cfg.AgeRecipients()
	if err != nil {
		return nil, err
	}
	for _, r := range recipients {
		rec, err := age.ParseX25519Recipient(r)
		if err != nil {
			return nil, fmt.Errorf("BackupAgeRecipients: %w", err)
		}
		o.Recipients = append(o.Recipients, rec)
	}
	if o.SigningKey, err = p.signingKey(); err != nil {
		return nil, err
	}
	srv, err := p.server()
	if err != nil {
		return nil, err
	}
	o.Spool = srv.Resolve(walSpoolDir)
	return walarchive.New(o)
}

// walArchiveInput is what /dr status judges: the archiving node's last report, and the slot
// as the primary sees it (read on every node: it is what fills the database server's disk).
func (p *Plugin) walArchiveInput(ctx context.Context) walprobe.Input {
	cfg, problems := p.config()
	in := walprobe.Input{Enabled: cfg.WALArchiveEnabled, MaxDelay: cfg.WALArchiveMaxDelay()}
	if st, ok, err := kvstate.WALArchiveReport.Get(p.state()); err == nil && ok {
		in.Node, in.ReportedAt, in.Setup, in.Running, in.CaughtUp = st.Node, st.ReportedAt, st.Setup, st.Running, st.CaughtUp
		in.LastFile, in.LastError, in.Pending, in.Restarts = st.LastFile, st.LastError, st.Pending, st.Restarts
		in.Reported = time.Since(st.ReportedAt) < walReportFresh
	}
	in.Capture.Interval = cfg.FileCaptureInterval()
	if st, ok, err := kvstate.CaptureReport.Get(p.state()); err == nil && ok {
		in.Capture.LastSuccess, in.Capture.LastID, in.Capture.LastChecked = st.LastSuccess, st.LastID, st.LastChecked
		in.Capture.Failures, in.Capture.FailingSince, in.Capture.LastError = st.Failures, st.FailingSince, st.LastError
	}
	if msg := walSettingsProblem(problems); msg != "" {
		in.Setup = msg // no node archives with them: say why rather than "no node is archiving"
	}
	if dsn := p.walDSN(cfg); dsn != "" {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		in.Slot = walprobe.ReadSlot(sctx, dsn, walarchive.DefaultSlot)
		cancel()
	}
	return in
}

// walArchiveProber is the WAL archive's status probe.
func (p *Plugin) walArchiveProber(cfg settings.Config) *walprobe.Probe {
	warn := cfg.WALArchiveSlotWarnBytes()
	return walprobe.New(walprobe.Options{Input: p.walArchiveInput, Thresholds: func() walprobe.Thresholds { return walprobe.Thresholds{RetainedWarn: warn} }})
}

// scheduledBase starts the base backup of WALBaseBackupSchedule's due slot, on one node.
func (p *Plugin) scheduledBase(cfg settings.Config, now time.Time) {
	sched, loc, err := cfg.BaseSchedule()
	if err != nil || sched == nil || !cfg.WALArchiveEnabled {
		return
	}
	slot, first, claimed := p.claimSlot(kvstate.BaseSlot, sched, loc, now)
	if !claimed || first {
		return
	}
	if _, err := p.startBackup(baseBackupRequest(audit.ActorSystem, audit.ActorSystem, "")); err != nil {
		msg := fmt.Sprintf(":warning: The scheduled base backup of %s could not start: %v", slot.Format(time.RFC3339), err)
		_ = p.notifier.Ops(msg)
		p.alertBackupFailed(slot.Format(time.RFC3339), msg)
	}
}

// baseBackupRequest is a base backup: the whole database cluster, pg_basebackup's tar, for a
// point-in-time recovery with the WAL archive.
func baseBackupRequest(actorID, actor, channelID string) backupRequest {
	return backupRequest{ActorID: actorID, Actor: actor, ChannelID: channelID, Components: []string{baseComponent}}
}

// baseComponent names the base backup in a request; settings.Components leaves it out, so
// `--only` and BackupComponents never pick it by accident.
const baseComponent = "base"

// baseOnly says whether req is a base backup, which counts neither as the newest backup of
// Mattermost (it holds no config nor files) nor for the stale-backup alert.
func (r backupRequest) baseOnly() bool {
	return len(r.Components) == 1 && r.Components[0] == baseComponent
}

// runBackupBase is `/dr backup base`.
func (p *Plugin) runBackupBase(_ context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	cfg, _ := p.config()
	if !cfg.WALArchiveEnabled {
		return nil, errors.New("turn on WAL archiving first (System Console > Plugins > Disaster Recovery > Continuous WAL archiving): " +
			"a base backup holds no WAL, so without the archive it restores nothing")
	}
	a := p.actor(inv.Caller.UserID)
	j, err := p.startBackup(baseBackupRequest(inv.Caller.UserID, a.Username, inv.Caller.ChannelID))
	if err != nil {
		return nil, err
	}
	return &slashcmd.Response{Text: fmt.Sprintf("Base backup job `%s` started (pg_basebackup of the whole database cluster). Progress follows here; the bot posts the result to the ops channel and to you.", j.ID)}, nil
}

// readWindows reads every destination's point-in-time window each windowEvery, as a restore
// would see it (only what this server's key signed), and reports it in the KV store.
func (p *Plugin) readWindows(ctx context.Context, cfg settings.Config) {
	tick := time.NewTimer(10 * time.Second) // the first once archiving has stored something
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		tick.Reset(windowEvery)
		key, err := p.signingKey()
		if err != nil {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, windowEvery*3/4)
		rep := kvstate.PITRWindows{Node: p.node, Windows: map[string]walprobe.WindowInput{}, Errors: map[string]string{}}
		dests, err := p.destinations(rctx, cfg, "")
		if err != nil {
			rep.Errors["destinations"] = err.Error()
		}
		for _, d := range dests {
			in, err := probers.ReadWindowInput(rctx, d.Store, key.PublicKey())
			if err != nil {
				rep.Errors[d.Name] = err.Error()
				continue
			}
			rep.Windows[d.Name] = in
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		rep.CheckedAt = time.Now().UTC()
		if err := kvstate.PITRWindowReport.Set(p.state(), rep); err != nil {
			p.API.LogWarn("WAL archiving: cannot write the point-in-time windows", "error", err.Error())
		}
	}
}

// pitrWindowProbers are the status probes of each destination's point-in-time window, from
// what the archiving node last read (none while WAL archiving is off).
func (p *Plugin) pitrWindowProbers(cfg settings.Config) []status.Prober {
	if !cfg.WALArchiveEnabled {
		return nil
	}
	var names []string
	_, hasS3 := cfg.S3()
	if strings.TrimSpace(cfg.BackupLocalDirectory) != "" || !hasS3 {
		names = append(names, "local")
	}
	if hasS3 {
		names = append(names, "s3")
	}
	var out []status.Prober
	for _, name := range names {
		out = append(out, pitrWindowProber{p: p, dest: name})
	}
	return out
}

// pitrWindowProber judges one destination's window as the archiving node last read it.
type pitrWindowProber struct {
	p    *Plugin
	dest string
}

func (w pitrWindowProber) Component() string { return walprobe.Component }

func (w pitrWindowProber) Name() string { return "Point-in-time window at " + w.dest }

func (w pitrWindowProber) Probe(context.Context) probe.Result {
	rep, ok, err := kvstate.PITRWindowReport.Get(w.p.state())
	now := time.Now()
	switch {
	case err != nil:
		return probe.Failed(walprobe.Component, w.Name(), err, "check the plugin's KV store")
	case !ok || now.Sub(rep.CheckedAt) > windowFresh:
		r := probe.Result{Component: walprobe.Component, Name: w.Name(), CheckedAt: now}
		r.Add(probe.Unknown, "check that WAL archiving runs (the WAL archive result above): the archiving node reads the window every minute",
			fmt.Sprintf("the point-in-time window at %s is not known: no node has read it in the last %s", w.dest, windowFresh))
		r.Summary = r.Findings[0].Message
		return r
	}
	if msg, failed := rep.Errors[w.dest]; failed {
		return probe.Failed(walprobe.Component, w.Name(), errors.New(msg), "check that the backup destination can be read")
	}
	in, found := rep.Windows[w.dest]
	if !found {
		return probe.Failed(walprobe.Component, w.Name(), fmt.Errorf("node %s did not read destination %s", rep.Node, w.dest), "wait a minute: the destinations changed")
	}
	// The window's newest WAL is judged at the time it was read: the archiver's lag (the
	// other result) says how far behind the archive is now.
	return walprobe.AnalyzeWindow(in, walprobe.WindowThresholds{}, rep.CheckedAt)
}
