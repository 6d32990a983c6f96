package pgdsn

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const special = `p@ss:w/rd%`

func TestParse(t *testing.T) {
	cases := []struct {
		name    string
		dsn     string
		want    map[string]string
		dropped []string
	}{
		{
			name: "Mattermost default URL",
			dsn:  "postgres://mmuser:mostest@localhost/mattermost_test?sslmode=disable&connect_timeout=10&binary_parameters=yes",
			want: map[string]string{"user": "mmuser", "password": "mostest", "host": "localhost", "dbname": "mattermost_test",
				"sslmode": "disable", "connect_timeout": "10"},
			dropped: []string{"binary_parameters"},
		},
		{
			name: "URL, special characters percent-encoded",
			dsn:  "postgres://mm%20user:p%40ss%3Aw%2Frd%25@db.example.com:5433/matter%2Fmost?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
			want: map[string]string{"user": "mm user", "password": special, "host": "db.example.com", "port": "5433",
				"dbname": "matter/most", "sslmode": "verify-full", "sslrootcert": "/etc/ca.pem"},
		},
		{
			name: "URL, unescaped @ in the password (Go's net/url splits at the last @)",
			dsn:  "postgresql://mmuser:p@ss@db:5432/mattermost",
			want: map[string]string{"user": "mmuser", "password": "p@ss", "host": "db", "port": "5432", "dbname": "mattermost"},
		},
		{
			name: "URL, empty password, IPv6",
			dsn:  "postgres://mmuser:@[::1]:5433/mm",
			want: map[string]string{"user": "mmuser", "password": "", "host": "::1", "port": "5433", "dbname": "mm"},
		},
		{
			name: "URL, several hosts",
			dsn:  "postgres://u:pw@h1:5432,h2:5433/mm?target_session_attrs=read-write",
			want: map[string]string{"user": "u", "password": "pw", "host": "h1,h2", "port": "5432,5433", "dbname": "mm",
				"target_session_attrs": "read-write"},
		},
		{
			name:    "URL, Unix socket in the query, ssl=true alias, pgx-only and server parameters",
			dsn:     "postgres:///mattermost?host=%2Fvar%2Frun%2Fpostgresql&ssl=true&statement_cache_capacity=0&search_path=mm",
			want:    map[string]string{"host": "/var/run/postgresql", "dbname": "mattermost", "sslmode": "require", "search_path": "mm"},
			dropped: []string{"statement_cache_capacity"},
		},
		{
			name: "key=value, quoted special password",
			dsn:  `host=db port=5432 user=mmuser password='p@ss:w/rd%' dbname=mattermost sslmode=disable binary_parameters=yes`,
			want: map[string]string{"host": "db", "port": "5432", "user": "mmuser", "password": special, "dbname": "mattermost",
				"sslmode": "disable"},
			dropped: []string{"binary_parameters"},
		},
		{
			name: "key=value, unquoted special password",
			dsn:  `user=mmuser password=p@ss:w/rd% dbname=mattermost`,
			want: map[string]string{"user": "mmuser", "password": special, "dbname": "mattermost"},
		},
		{
			name: "key=value, spaces around =, escapes, tabs and newlines",
			dsn:  "host = db\tpassword = 'it\\'s a \\\\ secret'\n dbname=''  user=me\\ too",
			want: map[string]string{"host": "db", "password": `it's a \ secret`, "dbname": "", "user": "me too"},
		},
		{
			name:    "URL with pgxpool's pool_* keys (a DataSource written for Mattermost may carry them)",
			dsn:     "postgres://mm:s3cret@db/mm?pool_max_conns=10&pool_max_conn_idle_time=1m&sslmode=disable",
			want:    map[string]string{"user": "mm", "password": "s3cret", "host": "db", "dbname": "mm", "sslmode": "disable"},
			dropped: []string{"pool_max_conn_idle_time", "pool_max_conns"},
		},
		{
			name: "replication probe's URL: port, connect_timeout, lib/pq parameter",
			dsn:  "postgres://mmuser:s3cret@db.example.com:5433/mattermost?sslmode=disable&connect_timeout=10&binary_parameters=yes",
			want: map[string]string{"user": "mmuser", "password": "s3cret", "host": "db.example.com", "port": "5433",
				"dbname": "mattermost", "sslmode": "disable", "connect_timeout": "10"},
			dropped: []string{"binary_parameters"},
		},
		{
			name: "replication probe's key=value with application_name",
			dsn:  "host=10.0.0.5 port=5432 user=mm password='s3cret' dbname=mm application_name=mine connect_timeout=2",
			want: map[string]string{"host": "10.0.0.5", "port": "5432", "user": "mm", "password": "s3cret", "dbname": "mm",
				"application_name": "mine", "connect_timeout": "2"},
		},
		{
			name: "replication probe's Unix socket",
			dsn:  "host=/var/run/postgresql user=mm password=s3cret dbname=mm",
			want: map[string]string{"host": "/var/run/postgresql", "user": "mm", "password": "s3cret", "dbname": "mm"},
		},
		{
			name: "key=value, :// inside a value",
			dsn:  "host=db password=a://b@c dbname=mm",
			want: map[string]string{"host": "db", "password": "a://b@c", "dbname": "mm"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Parse(tc.dsn)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ds.params)
			assert.Equal(t, tc.dropped, ds.dropped)
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, dsn, secret, wantMsg string
	}{
		{"empty", "  ", "", "empty"},
		{"MySQL URL", "mysql://mmuser:Sekr1tPW@tcp(db:3306)/mattermost", "Sekr1tPW", `"mysql" scheme is not supported`},
		{"MySQL DSN", "mmuser:Sekr1tPW@tcp(db:3306)/mattermost?charset=utf8mb4", "Sekr1tPW", "key=value"},
		{"unterminated quote", "host=db password='Sekr1tPW", "Sekr1tPW", "closing quote"},
		{"password with a space, unquoted", "host=db password=Sekr1t PW dbname=mm", "Sekr1t", "quote a value"},
		{"bad percent-encoding in the password", "postgres://u:Sek%zzr1tPW@db/mm", "Sek", "percent-encoding in the password"},
		{"bad port", "postgres://u:Sekr1tPW@db:99999/mm", "Sekr1tPW", "port"},
		{"unescaped / in the password", "postgres://u:Sek/r1tPW@db/mm", "Sek", "percent-encode"},
		{"bad IPv6", "postgres://u:Sekr1tPW@[::1/mm", "Sekr1tPW", "IPv6"},
		{"replication probe: port not a number", "postgres://mm:Sekr1tPW@host:notaport/db", "Sekr1tPW", "port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.dsn)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantMsg)
			if tc.secret != "" {
				assert.NotContains(t, err.Error(), tc.secret)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	cases := []struct {
		dsn, want string
		secrets   []string
	}{
		{"postgres://mmuser:mostest@db:5432/mattermost?sslmode=disable&connect_timeout=10",
			"postgres://mmuser:xxxxx@db:5432/mattermost?sslmode=disable&connect_timeout=10", []string{"mostest"}},
		{"postgres://mmuser:p%40ss%3Aw%2Frd%25@db/mm", "postgres://mmuser:xxxxx@db/mm", []string{"p%40ss", special}},
		{"postgresql://mmuser:p@ss@db/mm", "postgresql://mmuser:xxxxx@db/mm", []string{"p@ss"}},
		{"postgres://mmuser:pa/ss?wd@db/mm", "postgres://mmuser:xxxxx@db/mm", []string{"pa/ss", "ss?wd"}},
		{"postgres://db/mm?user=u&password=qu3ry-secret&sslpassword=k3y-secret",
			"postgres://db/mm?user=u&password=xxxxx&sslpassword=xxxxx", []string{"qu3ry", "k3y"}},
		{"postgres://mmuser@db/mm?sslmode=disable", "postgres://mmuser@db/mm?sslmode=disable", nil},
		{"host=db user=mmuser password='p@ss:w/rd%' dbname=mm", "host=db user=mmuser password=xxxxx dbname=mm", []string{"p@ss", "w/rd"}},
		{"host=db password=p@ss:w/rd% dbname=mm", "host=db password=xxxxx dbname=mm", []string{"p@ss", "w/rd"}},
		{"password = 'it\\'s secret' host=db", "password = xxxxx host=db", []string{"secret", "it"}},
		{"host=db password=a://s3cret@x dbname=mm", "host=db password=xxxxx dbname=mm", []string{"s3cret"}},
		{"password='unterminated s3cret", "password=xxxxx", []string{"s3cret"}},
	}
	for _, tc := range cases {
		t.Run(tc.dsn, func(t *testing.T) {
			got := Redact(tc.dsn)
			assert.Equal(t, tc.want, got)
			for _, s := range tc.secrets {
				assert.NotContains(t, got, s)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	ds, err := Parse("postgres://u:p%40ss%3Aw%2Frd%25@db/mm")
	require.NoError(t, err)
	msg := ds.Scrub("a p@ss:w/rd% b p%40ss%3Aw%2Frd%25 c p%40ss%3Aw%2Frd%25 d")
	assert.Equal(t, "a xxxxx b xxxxx c xxxxx d", msg)

	err = ds.Errorf(errors.New("inner p@ss:w/rd%"), "outer %s", "p@ss:w/rd%")
	assert.Equal(t, "outer xxxxx", err.Error())
	assert.Equal(t, "inner p@ss:w/rd%", errors.Unwrap(err).Error(), "still unwraps to the cause")
}

func TestConnConfig(t *testing.T) {
	ds, err := Parse("postgres://mmuser:" + "p%40ss%3Aw%2Frd%25" +
		"@db.example.com:5433/mattermost?sslmode=disable&binary_parameters=yes&search_path=mm&keepalives=1&sslcrl=%2Fcrl")
	require.NoError(t, err)
	cfg, err := ds.ConnConfig(Defaults{})
	require.NoError(t, err)
	assert.Equal(t, "db.example.com", cfg.Host)
	assert.EqualValues(t, 5433, cfg.Port)
	assert.Equal(t, "mmuser", cfg.User)
	assert.Equal(t, special, cfg.Password)
	assert.Equal(t, "mattermost", cfg.Database)
	assert.Nil(t, cfg.TLSConfig)
	assert.Equal(t, map[string]string{"search_path": "mm", "application_name": DefaultAppName}, cfg.RuntimeParams,
		"no driver-only or libpq-only keywords reach the server")
	assert.Equal(t, "db.example.com:5433", Target(&cfg.Config))
}

func TestConnConfigErrorHidesPassword(t *testing.T) {
	ds, err := Parse(`postgres://u:Qx%27Zy%5CWv@db/mm?sslmode=bogus`)
	require.NoError(t, err)
	require.Equal(t, `Qx'Zy\Wv`, ds.params["password"])
	_, err = ds.ConnConfig(Defaults{})
	require.Error(t, err)
	t.Log(err)
	assert.Contains(t, err.Error(), "sslmode")
	for _, piece := range []string{"Qx", "Zy", "Wv"} {
		assert.NotContains(t, err.Error(), piece)
	}
}

func TestEnv(t *testing.T) {
	ds, err := Parse("postgres://mmuser:p%40ss%3Aw%2Frd%25@db.example.com:5433/mattermost?sslmode=verify-full&binary_parameters=yes&search_path=mm&keepalives=1")
	require.NoError(t, err)
	cfg, err := ds.ConnConfig(Defaults{})
	require.NoError(t, err)
	base := []string{"HOME=/root", "PATH=/usr/bin", "PGHOSTADDR=10.9.9.9", "PGSSLROOTCERT=/etc/ca.pem", "PGSSLMODE=disable",
		"PGCLIENTENCODING=LATIN1", "PGOPTIONS=-c x=y", "PGSERVICE=other", "PGPASSWORD=old"}
	env := ds.Env(base, &cfg.Config)
	want := []string{"HOME=/root", "PATH=/usr/bin", "PGSSLROOTCERT=/etc/ca.pem",
		"PGCONNECT_TIMEOUT=15", "PGDATABASE=mattermost", "PGHOST=db.example.com", "PGPASSWORD=" + special, "PGPORT=5433",
		"PGSSLMODE=verify-full", "PGUSER=mmuser"}
	assert.Equal(t, want, env)

	// Without host, port, user or database in the DataSource, pg_dump gets
	// what Dump's own connection resolved.
	ds, err = Parse("sslmode=disable")
	require.NoError(t, err)
	cfg, err = ds.ConnConfig(Defaults{})
	require.NoError(t, err)
	env = ds.Env(nil, &cfg.Config)
	assert.Contains(t, env, "PGHOST="+cfg.Host)
	assert.Contains(t, env, "PGUSER="+cfg.User)
	if cfg.Database != "" { // else both default to the user name
		assert.Contains(t, env, "PGDATABASE="+cfg.Database)
	}
	assert.Contains(t, env, "PGPORT=5432")
	for _, kv := range env {
		assert.False(t, strings.HasPrefix(kv, "PGPASSWORD=") && cfg.Password == "", "no password to pass: %s", kv)
	}
}

func TestConnConfigDefaults(t *testing.T) {
	cases := []struct {
		name, dsn string
		def       Defaults
		timeout   time.Duration
		appName   string
	}{
		{"none given", "postgres://mm:s3cret@db/mm", Defaults{}, DefaultConnectTimeout, DefaultAppName},
		{"caller's defaults", "postgres://mm:s3cret@db/mm", Defaults{AppName: "probe", ConnectTimeout: 5 * time.Second}, 5 * time.Second, "probe"},
		{"rounded up to seconds", "postgres://mm:s3cret@db/mm", Defaults{ConnectTimeout: 1500 * time.Millisecond}, 2 * time.Second, DefaultAppName},
		{"the DSN's own win", "host=db user=mm application_name=mine connect_timeout=2", Defaults{AppName: "probe", ConnectTimeout: 5 * time.Second}, 2 * time.Second, "mine"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Parse(tc.dsn)
			require.NoError(t, err)
			cfg, err := ds.ConnConfig(tc.def)
			require.NoError(t, err)
			assert.Equal(t, tc.timeout, cfg.ConnectTimeout)
			assert.Equal(t, tc.appName, cfg.RuntimeParams["application_name"])
		})
	}
}

// TestPoolKeysNeverReachTheServerOrPgDump is the case on which the two parsers this package
// replaces disagreed: the replication probe passed pool_* keys to the server.
func TestPoolKeysNeverReachTheServerOrPgDump(t *testing.T) {
	ds, err := Parse("postgres://mm:s3cret@db/mm?pool_max_conns=10&pool_health_check_period=1m&statement_cache_capacity=0")
	require.NoError(t, err)
	cfg, err := ds.ConnConfig(Defaults{})
	require.NoError(t, err)
	for k := range cfg.RuntimeParams {
		assert.False(t, strings.HasPrefix(k, "pool_") || k == "statement_cache_capacity", k)
	}
	for _, kv := range ds.Env(nil, &cfg.Config) {
		assert.NotContains(t, strings.ToLower(kv), "pool", kv)
	}
}

func TestWithDatabaseAndAsUser(t *testing.T) {
	ds, err := Parse("postgres://mm:s3cret@db:5433/mattermost?sslmode=verify-full&passfile=%2Fpw&pool_max_conns=3")
	require.NoError(t, err)
	assert.Same(t, ds, ds.WithDatabase(""))
	other := ds.WithDatabase("drill")
	assert.Equal(t, "drill", other.params["dbname"])
	assert.Equal(t, "mattermost", ds.params["dbname"], "the original is unchanged")

	as := ds.AsUser("drill_role", "n3w-pw")
	assert.Equal(t, "dbname='mattermost' host='db' password='n3w-pw' port='5433' sslmode='verify-full' user='drill_role'", as.String(),
		"no passfile (its entry is for the DSN's user), no pool key")
	assert.Equal(t, "drill_role", as.User())
	assert.Equal(t, "mm", ds.User())
	assert.NotContains(t, as.Redacted(), "n3w-pw")

	s, err := AsUser("postgres://mm:s3cret@db/mm", "u2", "p2")
	require.NoError(t, err)
	assert.Equal(t, "dbname='mm' host='db' password='p2' user='u2'", s)
	u, err := User("host=db user=someone")
	require.NoError(t, err)
	assert.Equal(t, "someone", u)
}

func TestStripPasswords(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://mm:s3cret@db:5433/mattermost?sslmode=require&sslpassword=k3ypw", "dbname='mattermost' host='db' port='5433' sslmode='require' user='mm'"},
		{"host=db user=mm password='s3 cret' dbname=mm", "dbname='mm' host='db' user='mm'"},
		{"postgres://mm@db/mm?passfile=%2Fpw", "dbname='mm' host='db' passfile='/pw' user='mm'"},
	} {
		got, err := StripPasswords(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got)
	}
	_, err := StripPasswords("postgres://mm:s3cret@db:notaport/mm")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
}
