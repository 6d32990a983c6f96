package pgdsn

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

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

// DSN is a parsed connection string (Mattermost's SqlSettings.DataSource): libpq
// keywords and their values, URL forms normalized to keywords.
type DSN struct {
	raw     string
	params  map[string]string
	dropped []string // driver-only parameters that were dropped
}

// errBadDataSource is wrapped by every DataSource parse error.
var errBadDataSource = errors.New("invalid SqlSettings.DataSource")

// Parse parses a postgres:// (or postgresql://) URL or a libpq key=value
// string. Its errors never contain the password.
func Parse(s string) (*DSN, error) {
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
	ds := &DSN{raw: s, params: params}
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

// schemeRE matches a URL's start. A key=value string cannot match it: its
// first key is followed by '='.
var schemeRE = regexp.MustCompile(`^\s*([A-Za-z][A-Za-z0-9+.-]*)://`)

// User is the user name the DSN connects as ("" when it names none: libpq's
// default applies).
func (ds *DSN) User() string { return ds.params["user"] }

// WithDatabase is the DSN connecting to database instead of its own; the DSN
// itself when database is "".
func (ds *DSN) WithDatabase(database string) *DSN {
	if database == "" {
		return ds
	}
	out := ds.with()
	out.params["dbname"] = database
	return out
}

// AsUser is the DSN connecting as user with password instead of its own user:
// the same server, database and TLS settings.
func (ds *DSN) AsUser(user, password string) *DSN {
	out := ds.with()
	out.params["user"], out.params["password"] = user, password
	delete(out.params, "passfile") // its entry is for the DSN's own user
	out.raw = out.String()
	return out
}

// with is a copy of the DSN whose parameters can be changed.
func (ds *DSN) with() *DSN {
	params := make(map[string]string, len(ds.params))
	for k, v := range ds.params {
		params[k] = v
	}
	return &DSN{raw: ds.raw, params: params, dropped: ds.dropped}
}

// String is the DSN in libpq's key=value form, values quoted, driver-only
// parameters left out. It holds the password: never show it.
func (ds *DSN) String() string { return keyValueString(ds.params) }
