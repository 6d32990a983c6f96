package failover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/rds"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
)

// databaseStep moves the writer: Aurora's switchover or failover, or the promotion of a
// self-hosted PostgreSQL standby; with neither configured, it waits for a person to do it.
type databaseStep struct{}

func (databaseStep) Title() string { return "Database: make the new region the writer" }

func (databaseStep) Calls(live Live, r *Run, rec *StepRecord) string {
	switch {
	case live.AuroraGlobalID != "":
		to, from := live.region(rec.To).AuroraCluster, live.region(rec.From).AuroraCluster
		call := fmt.Sprintf("RDS SwitchoverGlobalCluster(%s → %s), which waits for the secondary to catch up (no data loss)", live.AuroraGlobalID, to)
		if r.Mode == Failover {
			call = fmt.Sprintf("RDS FailoverGlobalCluster(%s → %s, AllowDataLoss=true): fast, loses the writes not yet replicated", live.AuroraGlobalID, to)
		}
		return fmt.Sprintf("%s, asked in %s; then DescribeGlobalClusters every %s until %s is the writer, and until %s forwards writes again if it did", call, rec.To, live.poll(), to, nonEmpty(from, "the old writer"))
	case live.Postgres.StandbyDSN != "":
		s := "SELECT pg_promote() on the standby (DRPostgresStandbyDataSource), then checks that pg_is_in_recovery() is false and that a write to a temporary table succeeds"
		if r.Mode == Switchover {
			s = "waits until the standby has replayed the primary's WAL, then " + s
		}
		return s
	default:
		return "nothing is configured (no Aurora global database, no PostgreSQL standby): waits for you to promote the database and `/dr failover confirm`"
	}
}

func (d databaseStep) Run(ctx context.Context, sc *StepContext) Result {
	switch {
	case sc.Live.AuroraGlobalID != "":
		return d.aurora(ctx, sc)
	case sc.Live.Postgres.StandbyDSN != "":
		return d.postgres(ctx, sc)
	case sc.Step.Confirmed:
		return Result{Detail: "promoted by hand, confirmed by @" + sc.Step.ConfirmedBy}
	default:
		return Result{State: StepWaiting, Next: fmt.Sprintf("No Aurora global database or PostgreSQL standby is configured: promote the database of %s by hand and point the app nodes of %s at it, then `/dr failover confirm`.", sc.Step.To, sc.Step.To)}
	}
}

func (databaseStep) aurora(ctx context.Context, sc *StepContext) Result {
	live, from, to := sc.Live, sc.Step.From, sc.Step.To
	gid, target, old := live.AuroraGlobalID, live.region(to).AuroraCluster, live.region(from).AuroraCluster
	if target == "" {
		return Failed(fmt.Errorf("the Aurora cluster of region %s is not set", to), "Set the Aurora cluster of "+to+" in the plugin settings (Regions and database replication), then `/dr failover resume`.")
	}
	c, err := live.aurora(ctx, from, to)
	if err != nil {
		return Failed(err, "Check the AWS settings, then `/dr failover resume`.")
	}
	advice := func(err error, permission string) string {
		if rds.IsAuthError(err) {
			return fmt.Sprintf("AWS refused the credentials or the permission: allow %s to the plugin's IAM identity, then `/dr failover resume`.", permission)
		}
		return "Check the AWS Health Dashboard and the RDS console; `/dr failover resume` checks the global database again and goes on from where it is."
	}
	g, err := c.GlobalCluster(ctx, gid)
	if err != nil {
		return Failed(err, advice(err, "rds:DescribeGlobalClusters"))
	}
	m, ok := g.Member(target)
	if !ok {
		return Failed(fmt.Errorf("cluster %s is not a member of global cluster %s", target, gid), "Check the Aurora cluster settings of "+to+".")
	}
	if sc.Data("forwarding") == "" {
		// What the target did before: after the flip the old writer should do the same, and
		// the old region's app nodes (and this plugin, if it runs there) write through it.
		if err := sc.Save("forwarding", nonEmpty(m.WriteForwarding, "unknown")); err != nil {
			return Failed(err, "`/dr failover resume`")
		}
	}
	switch {
	case m.IsWriter && g.Failover == nil:
		// Already done: by an earlier attempt whose node died, or by hand.
	case g.Failover != nil && g.Failover.To == m.ARN:
		sc.progress("%s of %s to %s is already running: waiting for it", g.Failover.Status, gid, target)
	case g.Failover != nil:
		return Failed(fmt.Errorf("global cluster %s is %s from %s to %s", gid, g.Failover.Status, g.Failover.From, g.Failover.To),
			"Another switchover or failover runs: wait for it to end (RDS console), then `/dr failover resume`.")
	default:
		if sc.Run.Mode == Switchover && m.Sync != "" && m.Sync != rds.SyncConnected {
			// After a failover with data loss the old primary resynchronises before it can lead.
			if g, err = waitMember(ctx, sc, c, gid, target, "to resynchronise", func(m rds.Member) bool { return m.Sync == rds.SyncConnected }); err != nil {
				return Failed(err, fmt.Sprintf("%s is not synchronised with the writer yet (%s): wait, then `/dr failover resume`; or use --mode failover to accept losing what it misses.", target, m.Sync))
			}
		}
		if err := sc.Save("requested", string(sc.Run.Mode)); err != nil {
			return Failed(err, "`/dr failover resume`")
		}
		if sc.Run.Mode == Failover {
			_, err = c.Failover(ctx, gid, target, true)
		} else {
			_, err = c.Switchover(ctx, gid, target)
		}
		if err != nil {
			permission := "rds:SwitchoverGlobalCluster"
			if sc.Run.Mode == Failover {
				permission = "rds:FailoverGlobalCluster"
			}
			return Failed(err, advice(err, permission))
		}
		sc.Hit("failover.database.requested")
	}
	start := time.Now()
	waitCtx, cancel := context.WithTimeout(ctx, live.wait())
	defer cancel()
	sc.progress("waiting for %s to become the writer of %s", target, gid)
	g, err = c.WaitWriter(waitCtx, gid, target, live.poll())
	if err != nil {
		return Failed(err, fmt.Sprintf("%s is not the writer yet. `/dr failover resume` waits again without starting another switchover; check the RDS console if it takes longer than usual.", target))
	}
	detail := fmt.Sprintf("%s is the writer of %s", target, gid)
	if sc.Data("requested") == "" {
		detail += " (it already was: nothing to do)"
	} else {
		detail += fmt.Sprintf(" (%s; writer after %s of polling)", sc.Data("requested"), time.Since(start).Round(100*time.Millisecond))
	}
	if old != "" && sc.Data("forwarding") == rds.ForwardingEnabled {
		fg, err := waitMember(ctx, sc, c, gid, old, "to forward writes", func(m rds.Member) bool { return m.WriteForwarding == rds.ForwardingEnabled })
		om, _ := fg.Member(old)
		if err != nil {
			detail += fmt.Sprintf("; write forwarding on %s is %q, so app nodes of %s cannot write until they move", old, om.WriteForwarding, from)
		} else {
			detail += fmt.Sprintf("; %s forwards writes again", old)
		}
	}
	if sc.Run.Mode == Failover {
		if om, ok := g.Member(old); ok && om.Sync != "" && om.Sync != rds.SyncConnected {
			detail += fmt.Sprintf("; %s is %s (it resynchronises when its region is back)", old, om.Sync)
		}
	}
	return Result{Detail: detail, Undo: fmt.Sprintf("`/dr failback` switches the writer back to %s", nonEmpty(old, "the old region's cluster"))}
}

// waitMember polls the global cluster until cond holds for member cluster.
func waitMember(ctx context.Context, sc *StepContext, c *rds.Client, gid, cluster, what string, cond func(rds.Member) bool) (rds.GlobalCluster, error) {
	ctx, cancel := context.WithTimeout(ctx, min(sc.Live.wait(), 10*time.Minute))
	defer cancel()
	sc.progress("waiting for %s %s", cluster, what)
	var last rds.GlobalCluster
	for {
		g, err := c.GlobalCluster(ctx, gid)
		if err == nil {
			last = g
			if m, ok := g.Member(cluster); ok && cond(m) {
				return g, nil
			}
		}
		if err := sleep(ctx, sc.Live.poll()); err != nil {
			return last, fmt.Errorf("waiting for %s %s: %w", cluster, what, err)
		}
	}
}

func (databaseStep) postgres(ctx context.Context, sc *StepContext) Result {
	live := sc.Live
	dsn := live.Postgres.StandbyDSN
	conn, err := pgdsn.Connect(ctx, dsn, "")
	if err != nil {
		return Failed(fmt.Errorf("connect to the standby: %w", err), "Check DRPostgresStandbyDataSource and that the standby runs, then `/dr failover resume`.")
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var inRecovery bool
	if err := conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery); err != nil {
		return Failed(fmt.Errorf("ask the standby whether it is in recovery: %s", pgdsn.Scrub(dsn, err.Error())), "`/dr failover resume`")
	}
	switch {
	case inRecovery:
		if sc.Run.Mode == Switchover && live.Postgres.PrimaryDSN != "" {
			if err := catchUp(ctx, sc, conn); err != nil {
				return Failed(err, "The standby has not replayed everything the primary wrote. Wait and `/dr failover resume`, or use --mode failover if the primary is gone.")
			}
		}
		if err := sc.Save("requested", "pg_promote"); err != nil {
			return Failed(err, "`/dr failover resume`")
		}
		var promoted bool
		if err := conn.QueryRow(ctx, `SELECT pg_promote(true, 60)`).Scan(&promoted); err != nil {
			return Failed(fmt.Errorf("pg_promote on the standby: %s", pgdsn.Scrub(dsn, err.Error())), "The standby's user needs the right to run pg_promote (a superuser, or GRANT EXECUTE ON FUNCTION pg_promote TO …); then `/dr failover resume`.")
		}
		sc.Hit("failover.database.requested")
		if !promoted {
			return Failed(errors.New("pg_promote did not finish within 60 s"), "Check the standby's log; `/dr failover resume` checks again.")
		}
	case sc.Data("requested") == "" && !sc.Step.Confirmed:
		// Not promoted by this runbook: either someone did it by hand, or the setting names the
		// primary itself. Only a person can tell.
		return Result{State: StepWaiting, Next: "The server DRPostgresStandbyDataSource names is not in recovery: it is a primary already. If you promoted it yourself, `/dr failover confirm`; if the setting points at the wrong server, `/dr failover abort` and fix it."}
	}
	// Check the result: out of recovery, and a write goes through.
	deadline := time.Now().Add(time.Minute)
	for {
		if err := conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery); err != nil {
			return Failed(fmt.Errorf("check the promoted server: %s", pgdsn.Scrub(dsn, err.Error())), "`/dr failover resume`")
		}
		if !inRecovery {
			break
		}
		if time.Now().After(deadline) {
			return Failed(errors.New("the standby is still in recovery a minute after pg_promote"), "Check the standby's log; `/dr failover resume` checks again.")
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return Failed(err, "`/dr failover resume`")
		}
	}
	if err := writeCheck(ctx, conn); err != nil {
		return Failed(fmt.Errorf("a test write on the promoted server failed: %s", pgdsn.Scrub(dsn, err.Error())), "Check the server (read-only settings, disk space), then `/dr failover resume`.")
	}
	detail := "the standby is promoted: pg_is_in_recovery() is false and a write to a temporary table succeeded"
	if sc.Data("requested") == "" {
		detail += " (promoted by hand, confirmed by @" + sc.Step.ConfirmedBy + ")"
	}
	return Result{Detail: detail,
		Undo: fmt.Sprintf("PostgreSQL cannot be demoted: rebuild %s's old primary as a standby of the promoted server (pg_basebackup or pg_rewind), set DRPostgresStandbyDataSource to it, then `/dr failback`", sc.Step.From)}
}

// catchUp waits until the standby has replayed what the primary had written when it was asked.
func catchUp(ctx context.Context, sc *StepContext, standby *pgx.Conn) error {
	primary, err := pgdsn.Connect(ctx, sc.Live.Postgres.PrimaryDSN, "")
	if err != nil {
		return fmt.Errorf("connect to the primary to compare WAL positions: %w", err)
	}
	var lsn string
	err = primary.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn)
	_ = primary.Close(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("read the primary's WAL position: %s", pgdsn.Scrub(sc.Live.Postgres.PrimaryDSN, err.Error()))
	}
	ctx, cancel := context.WithTimeout(ctx, min(sc.Live.wait(), 10*time.Minute))
	defer cancel()
	sc.progress("waiting for the standby to replay the primary's WAL up to %s", lsn)
	for {
		var done bool
		if err := standby.QueryRow(ctx, `SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)`, lsn).Scan(&done); err != nil {
			return fmt.Errorf("read the standby's replay position: %s", pgdsn.Scrub(sc.Live.Postgres.StandbyDSN, err.Error()))
		}
		if done {
			return nil
		}
		if err := sleep(ctx, min(sc.Live.poll(), time.Second)); err != nil {
			return fmt.Errorf("the standby did not replay up to %s: %w", lsn, err)
		}
	}
}

func writeCheck(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE dr_failover_write_check (at timestamptz) ON COMMIT DROP`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO dr_failover_write_check VALUES (now())`); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
