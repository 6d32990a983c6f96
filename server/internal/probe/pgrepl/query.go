package pgrepl

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// sender is one row of the primary's pg_stat_replication: a standby streaming from it.
// Pointers are NULL columns: a lag is NULL until measured and again once the standby has
// caught up on an idle primary; most columns are NULL for a user without pg_monitor.
type sender struct {
	pid                         int32
	appName, clientAddr, slot   string
	state, syncState            *string
	sentLSN, writeLSN, flushLSN *string
	replayLSN                   *string
	writeLag, flushLag          *float64
	replayLag                   *float64 // seconds
	behindBytes                 *float64 // pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)
}

// primaryState is what the primary says.
type primaryState struct {
	err        error
	inRecovery bool
	currentLSN *string
	senders    []sender
}

const sendersQuery = `
SELECT r.pid, coalesce(r.application_name, ''), coalesce(host(r.client_addr), ''), coalesce(s.slot_name, ''),
       r.state, r.sync_state, r.sent_lsn::text, r.write_lsn::text, r.flush_lsn::text, r.replay_lsn::text,
       extract(epoch FROM r.write_lag)::float8, extract(epoch FROM r.flush_lag)::float8,
       extract(epoch FROM r.replay_lag)::float8,
       pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::float8
FROM pg_stat_replication r
LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid
ORDER BY r.application_name, r.pid`

func queryPrimary(ctx context.Context, s *server) primaryState {
	var p primaryState
	conn, err := s.connect(ctx)
	if err != nil {
		p.err = err
		return p
	}
	defer closeConn(conn)
	if err := conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&p.inRecovery); err != nil {
		p.err = s.errorf(err, "read pg_is_in_recovery() on %s", s.label)
		return p
	}
	if p.inRecovery {
		return p // pg_current_wal_lsn() is not allowed in recovery
	}
	if err := conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&p.currentLSN); err != nil {
		p.err = s.errorf(err, "read pg_current_wal_lsn() on %s", s.label)
		return p
	}
	rows, err := conn.Query(ctx, sendersQuery)
	if err != nil {
		p.err = s.errorf(err, "read pg_stat_replication on %s", s.label)
		return p
	}
	p.senders, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (sender, error) {
		var r sender
		err := row.Scan(&r.pid, &r.appName, &r.clientAddr, &r.slot, &r.state, &r.syncState, &r.sentLSN, &r.writeLSN, &r.flushLSN,
			&r.replayLSN, &r.writeLag, &r.flushLag, &r.replayLag, &r.behindBytes)
		return r, err
	})
	if err != nil {
		p.err = s.errorf(err, "read pg_stat_replication on %s", s.label)
	}
	return p
}

// replicaState is what a replica says about itself.
type replicaState struct {
	err         error // the replica could not be asked at all
	receiverErr error // pg_stat_wal_receiver could not be read
	inRecovery  bool
	receiveLSN  *string // last WAL received and flushed by streaming (NULL if none)
	replayLSN   *string
	paused      *bool
	lastReplay  *time.Time // commit time of the last transaction replayed
	sinceReply  *float64   // now() - lastReplay, in seconds, by the replica's clock
	// pg_stat_wal_receiver: no row when no WAL receiver runs.
	receiver    bool
	status      *string
	senderHost  *string
	senderPort  *int32
	slot        *string
	conninfo    *string
	clusterName string
}

const replicaQuery = `
SELECT pg_is_in_recovery(), pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END,
       pg_last_xact_replay_timestamp(),
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8,
       current_setting('cluster_name')`

const receiverQuery = `SELECT status, sender_host, sender_port, slot_name, conninfo FROM pg_stat_wal_receiver`

func queryReplica(ctx context.Context, s *server) replicaState {
	var r replicaState
	conn, err := s.connect(ctx)
	if err != nil {
		r.err = err
		return r
	}
	defer closeConn(conn)
	if err := conn.QueryRow(ctx, replicaQuery).Scan(&r.inRecovery, &r.receiveLSN, &r.replayLSN, &r.paused, &r.lastReplay,
		&r.sinceReply, &r.clusterName); err != nil {
		r.err = s.errorf(err, "read the recovery state of %s", s.label)
		return r
	}
	err = conn.QueryRow(ctx, receiverQuery).Scan(&r.status, &r.senderHost, &r.senderPort, &r.slot, &r.conninfo)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		r.receiverErr = s.errorf(err, "read pg_stat_wal_receiver on %s", s.label)
	default:
		r.receiver = true
	}
	return r
}

func closeConn(conn *pgx.Conn) {
	// The caller's context may be over: closing must not wait for it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
