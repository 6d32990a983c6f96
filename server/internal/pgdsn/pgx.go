package pgdsn

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultConnectTimeout applies when the DSN sets no connect_timeout: libpq's
// own default is to wait for the operating system (minutes).
const DefaultConnectTimeout = 15 * time.Second

// DefaultAppName names the plugin's connections in pg_stat_activity.
const DefaultAppName = "mattermost-disaster-recovery"

// Defaults are what a connection uses where the DSN says nothing.
type Defaults struct {
	AppName        string        // application_name; DefaultAppName when ""
	ConnectTimeout time.Duration // connect_timeout, rounded up to seconds; DefaultConnectTimeout when 0
}

func (d Defaults) orDefault() Defaults {
	if d.AppName == "" {
		d.AppName = DefaultAppName
	}
	if d.ConnectTimeout <= 0 {
		d.ConnectTimeout = DefaultConnectTimeout
	}
	return d
}

// pgxParams are the keywords given to a pgx connection. Other libpq
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

// ConnConfig is the configuration of a pgx connection to the DSN, with def
// filling in what the DSN leaves out. Its error never holds the password.
func (ds *DSN) ConnConfig(def Defaults) (*pgx.ConnConfig, error) {
	params := map[string]string{}
	for k, v := range ds.params {
		if pgxParams[k] || (libpqEnv[k] == "" && !libpqNoEnv[k]) {
			params[k] = v
		}
	}
	def = def.orDefault()
	if _, ok := params["connect_timeout"]; !ok {
		params["connect_timeout"] = strconv.Itoa(int((def.ConnectTimeout + time.Second - 1) / time.Second))
	}
	if _, ok := params["application_name"]; !ok {
		params["application_name"] = def.AppName
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
		return nil, ds.Errorf(serr, "%v: %s (SqlSettings.DataSource %s)", errBadDataSource, detail, ds.Redacted())
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

// Target describes where a connection goes, for messages: host:port (every
// host of a multi-host DSN), or the Unix socket.
func Target(cfg *pgconn.Config) string {
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
