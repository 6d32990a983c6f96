package settings

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A problem message goes to the server log, the audit trail and /dr version: it must never
// quote a password given in a URL setting.
func TestURLProblemsNeverQuoteAPassword(t *testing.T) {
	set := func(field, v string) func(*Config) {
		return func(c *Config) { reflect.ValueOf(c).Elem().FieldByName(field).SetString(v) }
	}
	type tc struct {
		value string
		shown string // what the message shows instead; "" = no problem expected
	}
	bad := []tc{
		{"htps://user:secret@host.example.com", `"htps://REDACTED@host.example.com"`},
		{"https://user:secret@host.example.com:notaport", "not shown"},
		{"user:secret@host.example.com", "not shown"},
		{"https://user:secret@", `"https://REDACTED@" has no host name`},
	}
	withCreds := "https://user:secret@host.example.com"
	tests := map[string][]tc{
		"DRAWSEndpoint":         append(bad, tc{withCreds, `"https://REDACTED@host.example.com" contains credentials`}),
		"DRS3PrimaryEndpoint":   append(bad, tc{withCreds, `"https://REDACTED@host.example.com" contains credentials`}),
		"DRS3SecondaryEndpoint": append(bad, tc{withCreds, `"https://REDACTED@host.example.com" contains credentials`}),
		"BackupS3Endpoint":      {{"htps://user:secret@host.example.com", `"htps://REDACTED@host.example.com"`}, {withCreds, `contains credentials`}},
		// Not secret settings: a password there would show in the System Console.
		"DROpenSearchPrimaryURL":   append(bad, tc{withCreds, `"https://REDACTED@host.example.com" contains credentials: remove them from the URL and use DROpenSearchUsername and DROpenSearchPassword`}),
		"DROpenSearchSecondaryURL": append(bad, tc{withCreds, `"https://REDACTED@host.example.com" contains credentials: remove them from the URL and use DROpenSearchUsername and DROpenSearchPassword`}),
		"BackupDataSource":         {{"mysql://user:secret@db.example.com/mm", "postgres://"}},
		"BackupDrillDatabaseURL":   {{"mysql://user:secret@db.example.com/mm", "postgres://"}},
		"WALArchiveDataSource":     {{"mysql://user:secret@db.example.com/mm", "postgres://"}},
		// Key=value DSNs are allowed and checked by the probe, which names the server user@host/db.
		"DRPostgresStandbyDataSource": {{"postgres://user:secret@db.example.com/mm", ""}},
		// The whole heartbeat URL is a secret: its problems never quote it.
		"AlertHeartbeatURL": {{"htps://user:secret@host.example.com", "use an https://"}, {"https://user:secret@host.example.com:notaport", "not a valid URL"},
			{"user:secret@host.example.com", "use an https://"}, {"https://user:secret@", "no host name"}, {withCreds, ""}},
	}
	// Every setting that can hold a URL is in the table.
	urlField := regexp.MustCompile(`(URL|Endpoint|DataSource)$`)
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		if name := typ.Field(i).Name; urlField.MatchString(name) {
			assert.Contains(t, tests, name, "add %s to this test", name)
		}
	}
	for field, cases := range tests {
		for _, tt := range cases {
			t.Run(field+"="+tt.value, func(t *testing.T) {
				c := Default()
				c.BackupS3Bucket, c.DRS3PrimaryBucket, c.DRS3SecondaryBucket = "mm-backups", "a", "b"
				c.DROpenSearchPrimaryURL, c.DROpenSearchSecondaryURL = "https://leader:9200", "https://follower:9200"
				set(field, tt.value)(&c)
				var mine []string
				for _, p := range c.Validate() {
					assert.NotContains(t, p.Message, "secret")
					if p.Setting == field {
						mine = append(mine, p.Message)
					}
				}
				assert.NotContains(t, c.Validate().Error(), "secret")
				if tt.shown == "" {
					assert.Empty(t, mine)
					return
				}
				require.Len(t, mine, 1)
				assert.Contains(t, mine[0], tt.shown)
			})
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://search.example.com:9200":              "https://search.example.com:9200",
		"https://admin:s3cr3t@search.example.com:9200": "https://REDACTED@search.example.com:9200",
		"https://admin@search.example.com":             "https://REDACTED@search.example.com",
		"admin:s3cr3t@search.example.com":              "[a URL that may hold credentials, not shown]",
		"https://admin:s3cr3t@host:port":               "[a value that is not a URL, not shown]",
	} {
		got := RedactURL(in)
		assert.Equal(t, want, got, in)
		assert.False(t, strings.Contains(got, "s3cr3t"))
	}
}

// OpenSearch URLs with credentials are a problem, but they work: the failover skips them.
func TestExposedWorkingURLs(t *testing.T) {
	c := Default()
	c.DROpenSearchPrimaryURL = "https://admin:s3cret@os-east.example.com:9200"
	c.DROpenSearchSecondaryURL = "https://os-west.example.com:9200"
	c.DRS3PrimaryEndpoint = "https://key:secret@s3.example.com" // does not work: not listed
	assert.Equal(t, []string{"DROpenSearchPrimaryURL"}, c.ExposedWorkingURLs())
	var problems []string
	for _, p := range c.validateURLs() {
		problems = append(problems, p.Setting)
	}
	assert.ElementsMatch(t, []string{"DROpenSearchPrimaryURL", "DRS3PrimaryEndpoint"}, problems, "both are still problems")
	c.DROpenSearchPrimaryURL = "ftp://admin:s3cret@os-east.example.com"
	assert.Empty(t, c.ExposedWorkingURLs(), "a URL the client cannot use holds the failover like any bad setting")
}
