package plugin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/bytesize"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/jobs"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pitrdrill"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/slashcmd"
)

// pitrDrillDir is where the point-in-time drill builds its scratch cluster (beside the WAL
// spool, resolved the same way), removed when the drill ends.
const pitrDrillDir = "./dr-drill-scratch"

// runPITRDrillCommand is `/dr backup verify --pitr [--destination d]`.
func (p *Plugin) runPITRDrillCommand(inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	if len(inv.Args) > 0 && inv.Args[0] != "latest" {
		return nil, errors.New("--pitr drills the newest base backup with the WAL archive: give no backup id")
	}
	if inv.Bool("drill") {
		return nil, errors.New("--pitr and --drill are two drills: give one of them")
	}
	cfg, _ := p.config()
	if !cfg.WALArchiveEnabled {
		return nil, errors.New("the point-in-time drill restores a base backup and the WAL archive: turn on WAL archiving first (System Console > Plugins > Disaster Recovery > Continuous WAL archiving) and take a base backup (`/dr backup base`)")
	}
	req := verifyRequest{ActorID: inv.Caller.UserID, Actor: p.actor(inv.Caller.UserID).Username, ChannelID: inv.Caller.ChannelID,
		PITR: true, Destination: strings.ToLower(inv.String("destination"))}
	j, err := p.startVerify(req)
	if err != nil {
		return nil, err
	}
	return &slashcmd.Response{Text: fmt.Sprintf("Point-in-time restore drill started (job `%s`): a restore point is made now, and the newest base backup with the archived WAL is restored to it in a scratch cluster on this node. `/dr backup cancel` stops it. The bot posts the result to the ops channel and to you.", j.ID)}, nil
}

// runPITRDrill runs the drill as a verification job and posts its result.
func (p *Plugin) runPITRDrill(ctx context.Context, j *jobs.Job, cfg settings.Config, req verifyRequest) {
	start := time.Now()
	_, _ = p.auditor.Append(audit.Entry{ActorID: req.ActorID, Actor: req.Actor, Action: "backup.drill_pitr.start", Outcome: audit.OutcomeStarted,
		Details: map[string]string{"destination": req.Destination}})
	dest, res, err := p.pitrDrill(ctx, j, cfg, req)
	took := time.Since(start).Round(100 * time.Millisecond)
	var msg string
	outcome := audit.OutcomeSucceeded
	switch {
	case err == nil:
		msg = fmt.Sprintf(":white_check_mark: Point-in-time restore drill passed in %s.\n%s", took, pitrDrillReport(dest, res))
	case ctx.Err() != nil:
		outcome = audit.OutcomeFailed
		msg = fmt.Sprintf(":warning: Point-in-time restore drill cancelled after %s; its scratch cluster was stopped and removed.", took)
	default:
		outcome = audit.OutcomeFailed
		what := "could not run"
		if errors.Is(err, pitrdrill.ErrCountsDiffer) {
			what = "FAILED: the restore does not bring back the database as it was"
		}
		// The DSN is the only secret the drill's errors could carry.
		msg = fmt.Sprintf(":x: Point-in-time restore drill %s (%s): %s", what, took, pgdsn.Scrub(p.walDSN(cfg), err.Error()))
		if res != nil && res.BaseBackup != "" {
			msg += "\n" + pitrDrillReport(dest, res)
		}
	}
	details := map[string]string{"duration": took.String(), "destination": dest}
	if res != nil {
		details["restore_point"], details["base_backup"] = res.RestorePoint, res.BaseBackup
	}
	entry := audit.Entry{ActorID: req.ActorID, Actor: req.Actor, Action: "backup.drill_pitr.complete", Outcome: outcome, Details: details}
	if err != nil {
		entry.Reason = pgdsn.Scrub(p.walDSN(cfg), err.Error())
	}
	_, _ = p.auditor.Append(entry)
	j.Report(func() { _ = p.notifier.OpsAndDirect(req.ActorID, msg) })
}

// pitrDrill gathers the drill's options from the plugin's settings and runs it.
func (p *Plugin) pitrDrill(ctx context.Context, j *jobs.Job, cfg settings.Config, req verifyRequest) (string, *pitrdrill.Result, error) {
	dests, err := p.destinations(ctx, cfg, req.Destination)
	if err != nil {
		return "", nil, err
	}
	// The first destination (the local folder when there is one: the fastest to read), or the
	// one asked for.
	d := dests[0]
	key, err := p.signingKey()
	if err != nil {
		return d.Name, nil, err
	}
	ids, _, err := identities(cfg)
	if err != nil {
		return d.Name, nil, err
	}
	dsn := p.walDSN(cfg)
	if dsn == "" {
		return d.Name, nil, errors.New("no database connection: set WALArchiveDataSource, or SqlSettings.DataSource")
	}
	srv, err := p.server()
	if err != nil {
		return d.Name, nil, err
	}
	database := ""
	if mm := p.API.GetUnsanitizedConfig(); mm != nil && mm.SqlSettings.DataSource != nil {
		// Mattermost's database: the archiving connection may name another one.
		if ds, err := pgdsn.Parse(*mm.SqlSettings.DataSource); err == nil {
			if c, err := ds.ConnConfig(pgdsn.Defaults{}); err == nil {
				database = c.Database
			}
		}
	}
	res, err := pitrdrill.Run(ctx, pitrdrill.Options{
		Store: d.Store, Key: key.PublicKey(), Identities: ids, PrimaryDSN: dsn, Database: database,
		PgDumpPath: strings.TrimSpace(cfg.BackupPgDumpPath), ScratchDir: srv.Resolve(pitrDrillDir), ID: j.ID,
		Progress: func(s string) { j.SetProgress(d.Name + ": " + s) },
	})
	return d.Name, res, err
}

// pitrDrillReport is the drill's result as the bot posts it.
func pitrDrillReport(dest string, r *pitrdrill.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- Restored at destination **%s**: base backup `%s` (finished %s) and %d WAL files (%s), %s to %s, into a scratch cluster (PostgreSQL %s), up to restore point `%s` (%s).\n",
		dest, r.BaseBackup, r.BaseFinished.UTC().Format(time.RFC3339), r.WALFiles, bytesize.Format(r.WALBytes), r.FirstWAL, r.LastWAL, r.PGVersion, r.RestorePoint, r.LSN)
	if len(r.Tables) > 0 {
		fmt.Fprintf(&b, "- %d tables, %d rows restored; %d as on the primary at the restore point", len(r.Tables), r.Rows, len(r.Tables)-len(r.Busy)-len(r.Mismatches))
		if len(r.Busy) > 0 {
			busy := make([]string, 0, len(r.Busy))
			for _, t := range r.Busy {
				busy = append(busy, "`"+t.Name+"`")
			}
			sort.Strings(busy)
			if len(busy) > 10 {
				busy = append(busy[:10], fmt.Sprintf("and %d more", len(r.Busy)-10))
			}
			fmt.Fprintf(&b, "; %d written during the drill, each within its counts before and after the restore point (%s)", len(r.Busy), strings.Join(busy, ", "))
		}
		b.WriteString(".\n")
	}
	for i, m := range r.Mismatches {
		if i == 20 {
			fmt.Fprintf(&b, "  - … and %d more tables differ\n", len(r.Mismatches)-20)
			break
		}
		fmt.Fprintf(&b, "  - :x: %s\n", m.String())
	}
	if r.SwitchNote != "" {
		fmt.Fprintf(&b, "- Note: %s.\n", r.SwitchNote)
	}
	if r.Recovery > 0 {
		fmt.Fprintf(&b, "- Times: snapshot %s, waiting for the archive %s, WAL fetch %s, unpack %s, recovery %s.\n",
			r.Snapshot.Round(time.Millisecond), r.WALWait.Round(100*time.Millisecond), r.Fetch.Round(100*time.Millisecond),
			r.Unpack.Round(100*time.Millisecond), r.Recovery.Round(100*time.Millisecond))
	}
	return b.String()
}
