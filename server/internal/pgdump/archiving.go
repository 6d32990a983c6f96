package pgdump

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
)

// Archiving is what CheckArchiving found: the pg_receivewal to run and the server it archives.
type Archiving struct {
	ReceiveWAL    string // pg_receivewal's path, beside the chosen pg_dump
	Version       string // its version, e.g. "16.4"
	ServerVersion string
	SystemID      string
}

// CheckArchiving checks what continuous WAL archiving by dataSource's role needs, before
// pg_receivewal is started, and says what to change when something is missing: wal_level, the
// REPLICATION attribute, a replication connection (pg_hba.conf, a free WAL sender), and a
// pg_receivewal of the server's major version or newer beside pg_dump (pgDumpPath chooses it,
// as for dumps). The errors are those of a base backup (ErrNoReplicationRole, …), which has
// the same needs.
func CheckArchiving(ctx context.Context, dataSource, pgDumpPath string) (*Archiving, error) {
	ds, err := pgdsn.Parse(dataSource)
	if err != nil {
		return nil, err
	}
	cfg, err := ds.ConnConfig(pgdsn.Defaults{})
	if err != nil {
		return nil, err
	}
	res, serverMajor, err := inspectForBase(ctx, ds, cfg)
	if err != nil && !errors.Is(err, ErrTablespaces) { // tablespaces hold no WAL: archiving is fine
		return nil, err
	}
	if res == nil { // only the tablespace check failed: read again without it
		res = &BaseResult{}
	}
	path, major, version, err := findBeside(ctx, pgDumpPath, "pg_receivewal")
	if err != nil {
		var nf *notFoundError
		if errors.As(err, &nf) {
			nf.serverMajor = serverMajor
		}
		return nil, err
	}
	if serverMajor > 0 && major < serverMajor {
		return nil, fmt.Errorf("%s: %w: pg_receivewal %d cannot archive a PostgreSQL %d server (it must be of the server's major version or newer); %s "+
			"(pg_receivewal is taken from that pg_dump's folder)", path, ErrPgDumpTooOld, major, serverMajor, installHint(serverMajor))
	}
	// A replication connection is what pg_hba.conf and max_wal_senders decide on.
	rc := cfg.Config.Copy()
	if rc.RuntimeParams == nil {
		rc.RuntimeParams = map[string]string{}
	}
	rc.RuntimeParams["replication"] = "true"
	conn, err := pgconn.ConnectConfig(ctx, rc)
	if err == nil {
		_, err = conn.Exec(ctx, "IDENTIFY_SYSTEM").ReadAll()
		_ = conn.Close(context.WithoutCancel(ctx))
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("WAL archiving check canceled: %w", ctx.Err())
		}
		if e := ExplainReplicationError(dataSource, err.Error()); e != nil {
			return nil, e
		}
		return nil, ds.Errorf(err, "WAL archiving: a replication connection to %s as %q failed: %v", pgdsn.Target(&cfg.Config), cfg.User, err)
	}
	return &Archiving{ReceiveWAL: path, Version: version, ServerVersion: res.ServerVersion, SystemID: res.SystemID}, nil
}

// ExplainReplicationError turns what PostgreSQL or pg_receivewal said about a replication
// connection into an error that says what to change, when it is one of the set-up problems
// (the REPLICATION attribute, pg_hba.conf, max_wal_senders, wal_level); nil otherwise. The
// passwords of dataSource never reach the message.
func ExplainReplicationError(dataSource, said string) error {
	ds, perr := pgdsn.Parse(dataSource)
	if perr != nil { // nothing to scrub with, nothing to explain: the caller keeps its error
		return nil //nolint:nilerr // the parse error is not the failure being explained
	}
	said = ds.Scrub(said)
	user := ds.User()
	if cfg, err := ds.ConnConfig(pgdsn.Defaults{}); err == nil {
		user = cfg.User // as the connection resolved it (PGUSER, the OS user)
	}
	switch {
	case strings.Contains(said, "must be superuser or replication role"),
		strings.Contains(said, "permission denied to start WAL sender"),
		strings.Contains(said, "must have the REPLICATION attribute"):
		return replicationRoleError(user, said)
	case hbaRE.MatchString(said):
		m := hbaRE.FindStringSubmatch(said)
		return hbaError(m[1], m[2], m[3], said)
	case sendersRE.MatchString(said):
		n, _ := strconv.Atoi(sendersRE.FindStringSubmatch(said)[1])
		return walSendersError(n, said)
	case strings.Contains(said, "WAL level not sufficient"), strings.Contains(said, `wal_level must be set to "replica"`):
		return fmt.Errorf("%w; %s", walLevelError(), said)
	}
	return nil
}
