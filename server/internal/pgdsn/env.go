package pgdsn

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// libpqEnv maps the libpq connection keywords that the client programs get
// from this package to the environment variable libpq reads them from. A pg_dump whose
// libpq is older than a keyword just ignores its variable.
var libpqEnv = map[string]string{
	"host":                     "PGHOST",
	"hostaddr":                 "PGHOSTADDR",
	"port":                     "PGPORT",
	"dbname":                   "PGDATABASE",
	"user":                     "PGUSER",
	"password":                 "PGPASSWORD",
	"passfile":                 "PGPASSFILE",
	"service":                  "PGSERVICE",
	"servicefile":              "PGSERVICEFILE", // a pgx keyword; libpq only has the variable
	"options":                  "PGOPTIONS",
	"application_name":         "PGAPPNAME",
	"sslmode":                  "PGSSLMODE",
	"requiressl":               "PGREQUIRESSL",
	"sslcompression":           "PGSSLCOMPRESSION",
	"sslcert":                  "PGSSLCERT",
	"sslkey":                   "PGSSLKEY",
	"sslcertmode":              "PGSSLCERTMODE",
	"sslrootcert":              "PGSSLROOTCERT",
	"sslcrl":                   "PGSSLCRL",
	"sslcrldir":                "PGSSLCRLDIR",
	"sslsni":                   "PGSSLSNI",
	"sslnegotiation":           "PGSSLNEGOTIATION",
	"requirepeer":              "PGREQUIREPEER",
	"ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
	"ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
	"min_protocol_version":     "PGMINPROTOCOLVERSION",
	"max_protocol_version":     "PGMAXPROTOCOLVERSION",
	"gssencmode":               "PGGSSENCMODE",
	"krbsrvname":               "PGKRBSRVNAME",
	"gsslib":                   "PGGSSLIB",
	"gssdelegation":            "PGGSSDELEGATION",
	"connect_timeout":          "PGCONNECT_TIMEOUT",
	"target_session_attrs":     "PGTARGETSESSIONATTRS",
	"load_balance_hosts":       "PGLOADBALANCEHOSTS",
	"channel_binding":          "PGCHANNELBINDING",
	"require_auth":             "PGREQUIREAUTH",
}

// libpqNoEnv are libpq keywords without an environment variable. pg_dump does
// not get them (none is needed to reach the server); client_encoding is left
// out on purpose so that the dump is in the database's own encoding.
var libpqNoEnv = map[string]bool{
	"client_encoding":           true,
	"fallback_application_name": true,
	"keepalives":                true,
	"keepalives_idle":           true,
	"keepalives_interval":       true,
	"keepalives_count":          true,
	"tcp_user_timeout":          true,
	"sslpassword":               true,
	"replication":               true,
}

// inheritedPGVars are the PG* variables of the plugin's own environment that
// pg_dump may keep. Every other PG* variable is removed, so that pg_dump
// connects to exactly the server, database and user that the plugin's own
// connection used (PGHOSTADDR, PGSERVICE or PGOPTIONS left in Mattermost's
// environment could otherwise redirect it), and dumps in the database's
// encoding (PGCLIENTENCODING).
var inheritedPGVars = map[string]bool{
	"PGSSLMODE": true, "PGSSLCERT": true, "PGSSLKEY": true, "PGSSLROOTCERT": true, "PGSSLCRL": true,
	"PGSSLCRLDIR": true, "PGSSLSNI": true, "PGSSLCERTMODE": true, "PGSSLNEGOTIATION": true,
	"PGSSLMINPROTOCOLVERSION": true, "PGSSLMAXPROTOCOLVERSION": true, "PGGSSENCMODE": true,
	"PGGSSLIB": true, "PGKRBSRVNAME": true, "PGCHANNELBINDING": true, "PGREQUIREAUTH": true,
	"PGCONNECT_TIMEOUT": true, "PGPASSFILE": true, "PGAPPNAME": true, "PGSYSCONFDIR": true,
	"PGLOCALEDIR": true, "PGSERVICEFILE": true,
}

// Env is the environment of a libpq client program (pg_dump, pg_restore,
// psql): base (the plugin's) without its PG* variables except
// inheritedPGVars, plus the DSN's libpq keywords as PG* variables. Host, port,
// user, database and password fall back to what the program's companion pgx
// connection resolved (from defaults, a service file or a password file), so
// that both reach the same database as the same user. Pool and other
// driver-only parameters never reach it: Parse dropped them.
func (ds *DSN) Env(base []string, resolved *pgconn.Config) []string {
	set := map[string]string{}
	for k, v := range ds.params {
		if name := libpqEnv[k]; name != "" {
			set[name] = v
		}
	}
	fallback := func(name, v string) {
		if _, ok := set[name]; !ok && v != "" {
			set[name] = v
		}
	}
	if resolved != nil {
		fallback("PGHOST", resolved.Host)
		if resolved.Port != 0 {
			fallback("PGPORT", strconv.Itoa(int(resolved.Port)))
		}
		fallback("PGUSER", resolved.User)
		fallback("PGDATABASE", resolved.Database)
		fallback("PGPASSWORD", resolved.Password)
	}
	fallback("PGCONNECT_TIMEOUT", strconv.Itoa(int(DefaultConnectTimeout/time.Second)))

	env := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if _, overridden := set[name]; overridden {
			continue
		}
		if strings.HasPrefix(name, "PG") && !inheritedPGVars[name] {
			continue
		}
		env = append(env, kv)
	}
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		env = append(env, name+"="+set[name])
	}
	return env
}
