package pgrepl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// appName names the probe's sessions in pg_stat_activity.
const appName = "mattermost-dr-probe"

// server is one PostgreSQL server the probe connects to.
type server struct {
	label string // user@host:port/db: never the password
	addr  string // host:port, the replica label of the metrics
	host  string
	dsn   *pgdsn.DSN // only to scrub its passwords from error messages
	cfg   *pgx.ConnConfig
}

// errBadDSN is the whole parse error: pgdsn's would name SqlSettings.DataSource, and a
// replica's DSN is not that one.
var errBadDSN = errors.New("the DSN does not parse as a PostgreSQL connection string (postgres://user:password@host:port/db?… or host=… key=value pairs)")

// parseDSN reads a Mattermost DataSource (URL or key=value form). Its error never contains
// the DSN: the DSN may hold a password.
func parseDSN(dsn string, connectTimeout time.Duration) (*server, error) {
	ds, err := pgdsn.Parse(dsn)
	if err != nil {
		return nil, errBadDSN
	}
	cfg, err := ds.ConnConfig(pgdsn.Defaults{AppName: appName, ConnectTimeout: connectTimeout})
	if err != nil {
		return nil, errBadDSN
	}
	if cfg.ConnectTimeout <= 0 || cfg.ConnectTimeout > connectTimeout {
		cfg.ConnectTimeout = connectTimeout
	}
	// Text results and no prepared statements: works through PgBouncer and needs no type
	// registration for pg_lsn.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	s := &server{cfg: cfg, host: cfg.Host, dsn: ds}
	s.addr = net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if strings.HasPrefix(cfg.Host, "/") { // a Unix socket folder
		s.addr = cfg.Host + ":" + strconv.Itoa(int(cfg.Port))
	}
	s.label = fmt.Sprintf("%s@%s/%s", cfg.User, s.addr, cfg.Database)
	return s, nil
}

// connect opens a session; its error names the server by its redacted label.
func (s *server) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return nil, s.errorf(err, "connect to %s", s.label)
	}
	return conn, nil
}

// errorf wraps err with a message from which the password is removed.
func (s *server) errorf(err error, format string, args ...any) error {
	return s.dsn.Errorf(err, format+": %v", append(args, err)...)
}

// severity says how bad it is that a server could not be reached: a refused or unroutable
// connection or an unknown host is a server that is down (critical); a timeout, an
// authentication or permission error leaves the question open (unknown).
func severity(err error) probe.State {
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.As(err, &pgErr):
		return probe.Unknown
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.ENOENT): // a Unix socket that is gone
		return probe.Critical
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return probe.Critical
	}
	return probe.Unknown
}

// lsn is a WAL position.
type lsn uint64

// parseLSN reads pg_lsn's text form, "16/B374D848".
func parseLSN(s string) (lsn, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("WAL position %q: no '/'", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("WAL position %q: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("WAL position %q: %w", s, err)
	}
	return lsn(h<<32 | l), nil
}

// optLSN parses a nullable pg_lsn column; NULL and garbage are "unknown".
func optLSN(s *string) (lsn, bool) {
	if s == nil {
		return 0, false
	}
	l, err := parseLSN(*s)
	return l, err == nil
}
