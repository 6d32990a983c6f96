package pgdump

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// mask replaces passwords in everything this package prints.
const mask = "xxxxx"

// defaultConnectTimeout applies when the DataSource sets no connect_timeout:
// libpq's own default is to wait for the operating system (minutes).
const defaultConnectTimeout = "15"

// defaultAppName names Dump's own connection in pg_stat_activity.
const defaultAppName = "mattermost-disaster-recovery"

// libpqEnv maps the libpq connection keywords that pg_dump gets from this
// package to the environment variable libpq reads them from. A pg_dump whose
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

// pgxParams are the keywords given to Dump's own pgx connection. Other libpq
// keywords would reach the server as unknown run-time parameters and make the
// connection fail. Keywords libpq does not know (search_path, ...) are kept:
// both Go drivers send them to the server as run-time parameters, as they do
// for Mattermost.
var pgxParams = map[string]bool{
	"host": true, "port": true, "dbname": true, "user": true, "password": true, "passfile": true,
	"connect_timeout": true, "sslmode": true, "sslkey": true, "sslcert": true, "sslcertmode": true,
	"sslrootcert": true, "sslnegotiation": true, "sslpassword": true, "sslsni": true, "krbspn": true,
	"krbsrvname": true, "target_session_attrs": true, "service": true, "servicefile": true,
	"min_protocol_version": true, "max_protocol_version": true, "channel_binding": true,
	"require_auth": true, "application_name": true, "options": true,
}

// driverOnly are parameters of the Go drivers (lib/pq, pgx, pgxpool) that
// neither libpq nor the server knows; they are dropped.
var driverOnly = map[string]bool{
	"binary_parameters":              true, // lib/pq
	"disable_prepared_binary_result": true, // lib/pq
	"statement_cache_capacity":       true, // pgx
	"description_cache_capacity":     true,
	"default_query_exec_mode":        true,
	"prefer_simple_protocol":         true,
	"pool_max_conns":                 true, // pgxpool
	"pool_min_conns":                 true,
	"pool_min_idle_conns":            true,
	"pool_max_conn_lifetime":         true,
	"pool_max_conn_lifetime_jitter":  true,
	"pool_max_conn_idle_time":        true,
	"pool_health_check_period":       true,
}

// inheritedPGVars are the PG* variables of the plugin's own environment that
// pg_dump may keep. Every other PG* variable is removed, so that pg_dump
// connects to exactly the server, database and user that Dump's own
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

// dataSource is a parsed SqlSettings.DataSource: libpq keywords and their
// values, URL forms normalized to keywords.
type dataSource struct {
	raw     string
	params  map[string]string
	dropped []string // driver-only parameters that were dropped
}

// errBadDataSource is wrapped by every DataSource parse error.
var errBadDataSource = errors.New("invalid SqlSettings.DataSource")

// parseDataSource parses a postgres:// (or postgresql://) URL or a libpq
// key=value string. Its errors never contain the password.
func parseDataSource(s string) (*dataSource, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty SqlSettings.DataSource: nothing to connect to")
	}
	var params map[string]string
	var err error
	if m := schemeRE.FindStringSubmatch(s); m != nil {
		scheme := m[1]
		switch strings.ToLower(scheme) {
		case "postgres", "postgresql":
			params, err = parseURL(s[len(m[0]):])
		default:
			return nil, fmt.Errorf("%w: the %q scheme is not supported: only PostgreSQL is (postgres://...)", errBadDataSource, scheme)
		}
	} else {
		params, err = parseKeyValue(s)
	}
	if err != nil {
		return nil, err
	}
	ds := &dataSource{raw: s, params: params}
	// ssl=true is the URL alias of sslmode=require that both Go drivers accept.
	if v, ok := params["ssl"]; ok {
		delete(params, "ssl")
		if _, has := params["sslmode"]; !has && v == "true" {
			params["sslmode"] = "require"
		}
	}
	for k := range params {
		if driverOnly[k] {
			delete(params, k)
			ds.dropped = append(ds.dropped, k)
		}
	}
	sort.Strings(ds.dropped)
	return ds, nil
}

// parseURL parses what follows "postgres://", the way Go's net/url (and so
// Mattermost's driver) splits it: the authority ends at the first '/' or '?',
// the user info at its last '@'. Several hosts ("h1:5432,h2:5433") are allowed,
// as in libpq.
func parseURL(rest string) (map[string]string, error) {
	params := map[string]string{}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, rest := rest[:end], rest[end:]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo := authority[:at]
		authority = authority[at+1:]
		user, password, hasPassword := strings.Cut(userinfo, ":")
		u, err := url.PathUnescape(user)
		if err != nil {
			return nil, fmt.Errorf("%w: bad percent-encoding in the user name", errBadDataSource)
		}
		if u != "" {
			params["user"] = u
		}
		if hasPassword {
			p, err := url.PathUnescape(password)
			if err != nil {
				return nil, fmt.Errorf("%w: bad percent-encoding in the password (write '%%' as %%25, '@' as %%40, ':' as %%3A, '/' as %%2F)", errBadDataSource)
			}
			params["password"] = p
		}
	}
	if authority != "" {
		var hosts, ports []string
		anyHost, anyPort := false, false
		for _, hp := range strings.Split(authority, ",") {
			host, port, err := splitHostPort(hp)
			if err != nil {
				return nil, err
			}
			anyHost = anyHost || host != ""
			anyPort = anyPort || port != ""
			hosts, ports = append(hosts, host), append(ports, port)
		}
		if anyHost {
			params["host"] = strings.Join(hosts, ",")
		}
		if anyPort {
			params["port"] = strings.Join(ports, ",")
		}
	}
	path, query, _ := strings.Cut(rest, "?")
	if path = strings.TrimPrefix(path, "/"); path != "" {
		db, err := url.PathUnescape(path)
		if err != nil {
			return nil, fmt.Errorf("%w: bad percent-encoding in the database name", errBadDataSource)
		}
		params["dbname"] = db
	}
	if query != "" {
		for _, kv := range strings.Split(query, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			key, err1 := url.QueryUnescape(k)
			val, err2 := url.QueryUnescape(v)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("%w: bad percent-encoding in a query parameter", errBadDataSource)
			}
			if !validKey(key) {
				return nil, fmt.Errorf("%w: bad query parameter name", errBadDataSource)
			}
			params[key] = val
		}
	}
	return params, nil
}

func splitHostPort(hp string) (host, port string, err error) {
	if strings.HasPrefix(hp, "[") { // [IPv6]:port
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", "", fmt.Errorf("%w: missing ']' after an IPv6 address", errBadDataSource)
		}
		host, after := hp[1:end], hp[end+1:]
		if after != "" {
			if !strings.HasPrefix(after, ":") {
				return "", "", fmt.Errorf("%w: unexpected text after an IPv6 address", errBadDataSource)
			}
			port = after[1:]
		}
		return host, port, checkPort(port)
	}
	host = hp
	if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		host, port = hp[:i], hp[i+1:]
	}
	if host, err = url.PathUnescape(host); err != nil {
		return "", "", fmt.Errorf("%w: bad percent-encoding in the host", errBadDataSource)
	}
	return host, port, checkPort(port)
}

func checkPort(port string) error {
	if port == "" {
		return nil
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		// The "port" is not quoted: after an unescaped '/' in a password it
		// is a piece of the password.
		return fmt.Errorf("%w: the port is not a number from 1 to 65535 (percent-encode '/', '@' and ':' in the password)", errBadDataSource)
	}
	return nil
}

// parseKeyValue parses libpq's "key=value key='quoted value'" form: spaces
// around '=' are allowed, a value is single-quoted when it holds spaces, and
// a backslash escapes the next character.
func parseKeyValue(s string) (map[string]string, error) {
	params := map[string]string{}
	i := 0
	skipSpace := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	for {
		skipSpace()
		if i >= len(s) {
			return params, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		skipSpace()
		// Keys are never quoted in errors: in a malformed string a "key"
		// may be a piece of the password.
		if i >= len(s) || s[i] != '=' || !validKey(key) {
			return nil, fmt.Errorf("%w: expected a postgres:// URL or key=value pairs separated by spaces (quote a value that holds spaces: password='a b')", errBadDataSource)
		}
		i++
		skipSpace()
		var v strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					v.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				v.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("%w: a quoted value is missing its closing quote", errBadDataSource)
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				v.WriteByte(s[i])
				i++
			}
		}
		params[key] = v.String()
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// secrets are the values to remove from messages.
func (ds *dataSource) secrets() []string {
	var out []string
	for _, k := range []string{"password", "sslpassword"} {
		if v := ds.params[k]; v != "" {
			out = append(out, v)
		}
	}
	return out
}

// scrub removes the DataSource's passwords, plain or percent-encoded, from
// msg. Passwords shorter than 3 characters are left alone: replacing every
// "a" would garble the message without protecting anything.
func (ds *dataSource) scrub(msg string) string {
	if ds == nil {
		return msg
	}
	for _, p := range ds.secrets() {
		if len(p) < 3 {
			continue
		}
		for _, form := range []string{p, url.PathEscape(p), url.QueryEscape(p), url.UserPassword("", p).String()[1:]} {
			if form != "" {
				msg = strings.ReplaceAll(msg, form, mask)
			}
		}
	}
	return msg
}

// redacted is the DataSource as the administrator wrote it, password masked.
func (ds *dataSource) redacted() string {
	return ds.scrub(redactStructure(ds.raw))
}

var (
	// schemeRE matches a URL's start. A key=value string cannot match it: its
	// first key is followed by '='.
	schemeRE      = regexp.MustCompile(`^\s*([A-Za-z][A-Za-z0-9+.-]*)://`)
	kvPasswordRE  = regexp.MustCompile(`(?i)((?:^|\s)(?:ssl)?password\s*=\s*)('(?:\\.|[^'\\])*'?|(?:\\.|\S)*)`)
	urlPasswordRE = regexp.MustCompile(`(?i)([?&](?:ssl)?password=)[^&]*`)
)

// RedactDataSource returns a Mattermost SqlSettings.DataSource with its
// passwords replaced by "xxxxx", in either the URL or the key=value form, for
// logs and messages. It works on strings that do not parse, erring on the
// side of masking too much.
func RedactDataSource(dsn string) string {
	out := redactStructure(dsn)
	if ds, err := parseDataSource(dsn); err == nil {
		out = ds.scrub(out)
	}
	return out
}

func redactStructure(s string) string {
	m := schemeRE.FindStringSubmatch(s)
	if m == nil {
		return kvPasswordRE.ReplaceAllString(s, "${1}"+mask)
	}
	scheme, rest := m[1], s[len(m[0]):]
	authority := rest
	if end := strings.IndexAny(rest, "/?"); end >= 0 {
		authority = rest[:end]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		// An unescaped '/' or '?' in the password ends the authority early.
		at = strings.LastIndexByte(rest, '@')
	}
	if at >= 0 {
		if c := strings.IndexByte(rest[:at], ':'); c >= 0 {
			rest = rest[:c+1] + mask + rest[at:]
		}
	}
	return scheme + "://" + urlPasswordRE.ReplaceAllString(rest, "${1}"+mask)
}

// redactedError carries a message with the secrets removed, and still
// unwraps to the original error for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// errorf formats a message, removes the DataSource's passwords from it and
// wraps err (which may be nil).
func (ds *dataSource) errorf(err error, format string, args ...any) error {
	return &redactedError{msg: ds.scrub(fmt.Sprintf(format, args...)), err: err}
}

// pgxConfig is the configuration of Dump's own connection.
func (ds *dataSource) pgxConfig() (*pgx.ConnConfig, error) {
	params := map[string]string{}
	for k, v := range ds.params {
		if pgxParams[k] || (libpqEnv[k] == "" && !libpqNoEnv[k]) {
			params[k] = v
		}
	}
	if _, ok := params["connect_timeout"]; !ok {
		params["connect_timeout"] = defaultConnectTimeout
	}
	if _, ok := params["application_name"]; !ok {
		params["application_name"] = defaultAppName
	}
	cfg, err := pgx.ParseConfig(keyValueString(params))
	if err != nil {
		// pgx's message quotes the connection string with a best-effort
		// redaction: take the message of the same string without secrets.
		safe := make(map[string]string, len(params))
		for k, v := range params {
			if k != "password" && k != "sslpassword" {
				safe[k] = v
			}
		}
		_, serr := pgx.ParseConfig(keyValueString(safe))
		detail := "the TLS settings (sslkey, sslpassword) do not work"
		if serr != nil {
			detail = serr.Error()
		}
		return nil, ds.errorf(serr, "%v: %s (SqlSettings.DataSource %s)", errBadDataSource, detail, ds.redacted())
	}
	return cfg, nil
}

// keyValueString renders params in libpq's key=value form, values quoted.
func keyValueString(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteString("='")
		b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(params[k]))
		b.WriteByte('\'')
	}
	return b.String()
}

// pgDumpEnv is pg_dump's environment: base (the plugin's) without its PG*
// variables except inheritedPGVars, plus the DataSource's libpq keywords as
// PG* variables. Host, port, user, database and password fall back to what
// Dump's own connection resolved (from defaults, a service file or a
// password file), so that both reach the same database as the same user.
func (ds *dataSource) pgDumpEnv(base []string, resolved *pgconn.Config) []string {
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
	fallback("PGCONNECT_TIMEOUT", defaultConnectTimeout)

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

// target describes where Dump's connection goes, for messages: host:port
// (every host of a multi-host DataSource), or the Unix socket.
func target(cfg *pgconn.Config) string {
	var out []string
	seen := map[string]bool{}
	add := func(host string, port uint16) {
		var s string
		if strings.HasPrefix(host, "/") {
			s = fmt.Sprintf("unix socket %s/.s.PGSQL.%d", host, port)
		} else {
			s = hostPort(host, port)
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(cfg.Host, cfg.Port)
	for _, f := range cfg.Fallbacks {
		add(f.Host, f.Port)
	}
	return strings.Join(out, ", ")
}

func hostPort(host string, port uint16) string {
	if strings.Contains(host, ":") {
		return fmt.Sprintf("[%s]:%d", host, port)
	}
	return fmt.Sprintf("%s:%d", host, port)
}
