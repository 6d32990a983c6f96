package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/adminapi"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/bytesize"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/jobs"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/kvstate"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/slashcmd"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/verify"
)

const (
	verifyJob = "verify"
)

type verifyRequest struct {
	ActorID     string
	Actor       string
	ChannelID   string
	ID          string // backup id or "latest"
	Drill       bool
	Destination string // "" = every destination holding the backup
	// NotMadeHere is set for a backup this server did not make: it is read and checked, never
	// drilled, and its result is neither saved nor counted as the newest verified backup.
	NotMadeHere bool
	// PITR is the point-in-time restore drill: the newest base backup and the WAL archive
	// restored into a scratch cluster (ID is then unused).
	PITR bool
}

func (p *Plugin) verifyCommands(t *slashcmd.Tree) {
	t.Add([]string{"backup"}, &slashcmd.Command{
		Name: "verify", Summary: "Re-read a backup and check every checksum, the dump and the files it refers to; --drill also restores it into a scratch database; --pitr drills the newest base backup and the WAL archive",
		Args: "<id|latest>", MinArgs: 0, MaxArgs: 1,
		Flags: []slashcmd.Flag{
			{Name: "drill", Kind: slashcmd.Bool, Help: "also restore the dump into a scratch database and compare row counts"},
			{Name: "pitr", Kind: slashcmd.Bool, Help: "restore the newest base backup and the WAL up to a restore point made now into a scratch cluster, and compare row counts with the primary's"},
			{Name: "destination", Kind: slashcmd.String, Help: "only at this destination: local or s3"},
		},
		Run: p.runBackupVerify,
	})
}

func (p *Plugin) runBackupVerify(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	if inv.Bool("pitr") {
		return p.runPITRDrillCommand(inv)
	}
	if len(inv.Args) == 0 {
		return nil, errors.New("give the backup to verify: an id from `/dr backup list`, or latest (or --pitr for the point-in-time restore drill)")
	}
	req := verifyRequest{ActorID: inv.Caller.UserID, Actor: p.actor(inv.Caller.UserID).Username, ChannelID: inv.Caller.ChannelID,
		ID: inv.Args[0], Drill: inv.Bool("drill"), Destination: strings.ToLower(inv.String("destination"))}
	e, ours, err := p.findAnyBackup(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	req.ID, req.NotMadeHere = e.ID, !ours
	if req.Destination != "" && e.Manifests[req.Destination] == nil {
		return nil, fmt.Errorf("backup %s is not at destination %q (it is at: %s)", e.ID, req.Destination, strings.Join(destinationNames(e.Manifests), ", "))
	}
	j, err := p.startVerify(req)
	if err != nil {
		return nil, err
	}
	what := "Verification"
	if req.Drill {
		what = "Verification with a restore drill"
	}
	note := ""
	if req.NotMadeHere {
		note = fmt.Sprintf(" :warning: This backup was not made by this server (%s): it is read and checked, never restored into a database.", e.notMadeHere())
	}
	return &slashcmd.Response{Text: fmt.Sprintf("%s of backup `%s` started (job `%s`). The bot posts the result to the ops channel and to you.%s", what, e.ID, j.ID, note)}, nil
}

func (p *Plugin) startVerify(req verifyRequest) (*jobs.Job, error) {
	cfg, _ := p.config()
	return p.jobs.Start(verifyJob, req.ActorID, func(ctx context.Context, j *jobs.Job) {
		if req.PITR {
			p.runPITRDrill(ctx, j, cfg, req)
			return
		}
		p.runVerify(ctx, j, cfg, req)
	})
}

// identities loads the age identity an admin gave the plugin: the file the BackupAgeIdentityFile
// setting names, else DR_AGE_IDENTITY_FILE or DR_AGE_IDENTITY in Mattermost's environment.
// None is not an error: encrypted backups are then checked by their checksums only.
func identities(cfg settings.Config) ([]age.Identity, string, error) {
	return format.LoadIdentities(cfg.BackupAgeIdentityFile)
}

// drillUserIsDedicated says whether BackupDrillDatabaseURL names a user other than
// Mattermost's: then, when it cannot create a role for the drill, the dump may be restored as
// that user itself. Mattermost's own role never restores a dump.
func (p *Plugin) drillUserIsDedicated(cfg settings.Config) bool {
	u := strings.TrimSpace(cfg.BackupDrillDatabaseURL)
	ds := p.API.GetUnsanitizedConfig().SqlSettings.DataSource
	if u == "" || ds == nil {
		return false
	}
	drillUser, err1 := pgdsn.User(u)
	mmUser, err2 := pgdsn.User(*ds)
	return err1 == nil && err2 == nil && drillUser != "" && drillUser != mmUser
}

// drillURL is where drills create their scratch database.
func (p *Plugin) drillURL(cfg settings.Config) string {
	if u := strings.TrimSpace(cfg.BackupDrillDatabaseURL); u != "" {
		return u
	}
	if ds := p.API.GetUnsanitizedConfig().SqlSettings.DataSource; ds != nil {
		return *ds
	}
	return ""
}

func (p *Plugin) runVerify(ctx context.Context, j *jobs.Job, cfg settings.Config, req verifyRequest) {
	start := time.Now()
	_, _ = p.auditor.Append(audit.Entry{ActorID: req.ActorID, Actor: req.Actor, Action: "backup.verify.start", Target: req.ID, Outcome: audit.OutcomeStarted,
		Details: map[string]string{"drill": fmt.Sprint(req.Drill), "destination": req.Destination}})
	results, err := p.verifyOnce(ctx, j, cfg, req)
	if err != nil {
		msg := fmt.Sprintf(":warning: Verification of backup `%s` could not run: %v", req.ID, err)
		_, _ = p.auditor.Append(audit.Entry{ActorID: req.ActorID, Actor: req.Actor, Action: "backup.verify.fail", Target: req.ID, Outcome: audit.OutcomeFailed, Reason: err.Error()})
		events.VerifyRun(false, time.Now())
		j.Report(func() { _ = p.notifier.OpsAndDirect(req.ActorID, msg) })
		return
	}
	var b strings.Builder
	failed := false
	for _, r := range results {
		if r.err != nil && r.v == nil {
			failed = true
			fmt.Fprintf(&b, "- **%s**: could not be verified: %v\n", r.dest, r.err)
			continue
		}
		v := r.v
		icon := map[string]string{format.OutcomePassed: ":white_check_mark:", format.OutcomePartial: ":large_orange_diamond:", format.OutcomeFailed: ":x:"}[v.Outcome]
		failed = failed || v.Outcome == format.OutcomeFailed
		fmt.Fprintf(&b, "- %s **%s**: %s\n", icon, r.dest, v.Outcome)
		for _, c := range v.Checks {
			fmt.Fprintf(&b, "  - %s `%s`: %s\n", c.Outcome, c.Name, c.Detail)
		}
		for i, pr := range v.Problems {
			if i == 10 {
				fmt.Fprintf(&b, "  - … and %d more problems\n", len(v.Problems)-10)
				break
			}
			fmt.Fprintf(&b, "  - :x: %s\n", pr)
		}
		if !v.ContentsChecked {
			b.WriteString("  - Contents were **not** checked: the backup is encrypted and no identity is configured on this node (BackupAgeIdentityFile, or DR_AGE_IDENTITY_FILE). Only the stored checksums were verified.\n")
		}
		if r.writeErr != nil {
			fmt.Fprintf(&b, "  - :warning: the result could not be saved beside the manifest: %v\n", r.writeErr)
		}
	}
	head := fmt.Sprintf(":white_check_mark: Backup `%s` verified in %s.", req.ID, time.Since(start).Round(100*time.Millisecond))
	outcome := audit.OutcomeSucceeded
	if failed {
		head = fmt.Sprintf(":x: Backup `%s` FAILED verification (%s). Do not rely on it: take a new backup with `/dr backup now`, and check the destination's storage.", req.ID, time.Since(start).Round(100*time.Millisecond))
		outcome = audit.OutcomeFailed
	}
	if req.NotMadeHere {
		head += " :warning: This backup was **not made by this server**: it was not drilled, and the result is not saved."
	}
	if !failed && !req.NotMadeHere {
		for _, r := range results {
			if r.v != nil && r.v.Outcome == format.OutcomePassed {
				_ = kvstate.LastVerified.Set(p.state(), time.Now())
				break
			}
		}
	}
	events.VerifyRun(!failed, time.Now())
	_, _ = p.auditor.Append(audit.Entry{ActorID: req.ActorID, Actor: req.Actor, Action: "backup.verify.complete", Target: req.ID, Outcome: outcome,
		Details: map[string]string{"drill": fmt.Sprint(req.Drill), "duration": time.Since(start).Round(time.Millisecond).String()}})
	j.Report(func() { _ = p.notifier.OpsAndDirect(req.ActorID, head+"\n"+b.String()) })
}

type verifyResult struct {
	dest     string
	v        *format.Verification
	err      error
	writeErr error
}

func (p *Plugin) verifyOnce(ctx context.Context, j *jobs.Job, cfg settings.Config, req verifyRequest) ([]verifyResult, error) {
	e, ours, err := p.findAnyBackup(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	trust, err := p.trust()
	if err != nil {
		return nil, err
	}
	key, err := p.signingKey()
	if err != nil {
		return nil, err
	}
	ids, _, err := identities(cfg)
	if err != nil {
		return nil, err
	}
	// Trust keeps a backup this server did not make out of the drill database.
	opts := verify.Options{Identities: ids, Trust: &trust}
	if idx, err := p.indexIdentity(); err == nil {
		opts.IndexIdentities = []age.Identity{idx}
	}
	if pr, err := pgdump.FindPgRestore(cfg.BackupPgDumpPath); err == nil {
		opts.PgRestore = pr
	} else if req.Drill {
		return nil, err
	}
	if req.Drill {
		u := p.drillURL(cfg)
		if u == "" {
			return nil, errors.New("no database server for the drill: set BackupDrillDatabaseURL")
		}
		opts.Drill = &verify.Drill{AdminURL: u, DedicatedUser: p.drillUserIsDedicated(cfg)}
	}
	var out []verifyResult
	for _, name := range destinationNames(e.Manifests) {
		if req.Destination != "" && name != req.Destination {
			continue
		}
		dests, err := p.destinations(ctx, cfg, name)
		if err != nil {
			out = append(out, verifyResult{dest: name, err: err})
			continue
		}
		d := dests[0]
		o := opts
		o.Destination = name
		o.Progress = func(pr verify.Progress) {
			s := fmt.Sprintf("%s: %s, %d objects, %s read", name, pr.Phase, pr.ObjectsRead, bytesize.Format(pr.BytesRead))
			if pr.PoolTotal > 0 {
				s += fmt.Sprintf(", pool %d/%d", pr.PoolDone, pr.PoolTotal)
			}
			j.SetProgress(s)
		}
		j.SetProgress(name + ": starting")
		v, err := verify.Verify(ctx, d.Store, e.ID, o)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r := verifyResult{dest: name, v: v, err: err}
		// Signed, so that it counts as this server's verification; never beside a backup this
		// server did not make.
		if v != nil && ours {
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			r.writeErr = format.WriteSignedVerification(wctx, d.Store, v, key)
			cancel()
		}
		out = append(out, r)
	}
	return out, nil
}

// scheduledVerify starts the verification of the latest backup when a slot of the
// verification schedule is due (claimed across the cluster like the backup schedule).
func (p *Plugin) scheduledVerify(cfg settings.Config, now time.Time) {
	sched, loc, err := cfg.VerifySchedule()
	if err != nil || sched == nil {
		return
	}
	if _, first, claimed := p.claimSlot(kvstate.VerifySlot, sched, loc, now); !claimed || first {
		return
	}
	req := verifyRequest{ActorID: audit.ActorSystem, Actor: audit.ActorSystem, ID: "latest", Drill: cfg.BackupVerifyDrill}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := p.findBackup(ctx, "latest")
	if err != nil {
		_ = p.notifier.Ops(fmt.Sprintf(":warning: The scheduled verification could not start: %v", err))
		return
	}
	req.ID = e.ID
	if _, err := p.startVerify(req); err != nil {
		_ = p.notifier.Ops(fmt.Sprintf(":warning: The scheduled verification of backup `%s` could not start: %v", e.ID, err))
	}
}

// verifyRoutes: POST /backups/{id}/verify {"drill": bool, "destination": ""}.
func (p *Plugin) verifyRoutes(rt *adminapi.Router) {
	rt.Handle(http.MethodPost, "/backups/{id}/verify", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Drill       bool   `json:"drill"`
			Destination string `json:"destination"`
		}
		if err := adminapi.DecodeJSON(r, &body); err != nil {
			adminapi.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		userID := r.Header.Get("Mattermost-User-ID")
		e, ours, err := p.findAnyBackup(r.Context(), r.PathValue("id"))
		if err != nil {
			adminapi.WriteError(w, http.StatusNotFound, err.Error())
			return
		}
		j, err := p.startVerify(verifyRequest{ActorID: userID, Actor: p.actor(userID).Username, ID: e.ID, Drill: body.Drill, Destination: strings.ToLower(body.Destination), NotMadeHere: !ours})
		if err != nil {
			status := http.StatusBadRequest
			var busy *jobs.BusyError
			if errors.As(err, &busy) {
				status = http.StatusConflict
			}
			adminapi.WriteError(w, status, err.Error())
			return
		}
		adminapi.WriteJSON(w, http.StatusAccepted, jobInfo(j))
	})
}
