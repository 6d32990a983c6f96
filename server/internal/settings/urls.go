package settings

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/redact"
)

// urlSetting is a setting that holds an http(s) URL. credentials says where a user name and
// password go instead of the URL: these settings are not secret, so the System Console and
// GET /api/v4/config would show a password in them.
type urlSetting struct {
	name, value, credentials string
}

// ExposedWorkingURLs names the OpenSearch URL settings that hold a user name or password.
// That is a problem (the setting is not secret: the System Console shows it in clear), but
// the OpenSearch client still signs in with them, so a failover must not be held for it: an
// install upgraded from a version that allowed them would otherwise find its runbook refused
// on the bad day.
func (c Config) ExposedWorkingURLs() []string {
	var out []string
	for name, v := range map[string]string{"DROpenSearchPrimaryURL": c.DROpenSearchPrimaryURL, "DROpenSearchSecondaryURL": c.DROpenSearchSecondaryURL} {
		if u, err := url.Parse(strings.TrimSpace(v)); err == nil && u.User != nil && u.Hostname() != "" && (u.Scheme == "https" || u.Scheme == "http") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// validateURLs checks the http(s) URL settings of the replication checks. BackupS3Endpoint is
// checked by the S3 store; the PostgreSQL data sources are never quoted.
func (c Config) validateURLs() Problems {
	var ps Problems
	for _, s := range []urlSetting{
		{"DRAWSEndpoint", c.DRAWSEndpoint, "DRAWSAccessKeyID and DRAWSSecretAccessKey"},
		{"DRS3PrimaryEndpoint", c.DRS3PrimaryEndpoint, "DRS3AccessKeyID and DRS3SecretAccessKey"},
		{"DRS3SecondaryEndpoint", c.DRS3SecondaryEndpoint, "DRS3AccessKeyID and DRS3SecretAccessKey"},
		{"DROpenSearchPrimaryURL", c.DROpenSearchPrimaryURL, "DROpenSearchUsername and DROpenSearchPassword"},
		{"DROpenSearchSecondaryURL", c.DROpenSearchSecondaryURL, "DROpenSearchUsername and DROpenSearchPassword"},
	} {
		if msg := s.problem(); msg != "" {
			ps = append(ps, Problem{s.name, msg})
		}
	}
	return ps
}

// problem says what is wrong with the URL, quoting it only through RedactURL: the message
// reaches the server log, the audit trail and /dr version.
func (s urlSetting) problem() string {
	raw := strings.TrimSpace(s.value)
	if raw == "" {
		return ""
	}
	const example = "such as https://host.example.com:443"
	u, err := url.Parse(raw)
	shown := RedactURL(raw)
	switch {
	case err != nil:
		return "is not a URL (not shown: it may hold a password): use one " + example
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Sprintf("%q: use a URL starting with https://, %s", shown, example)
	case u.Hostname() == "":
		return fmt.Sprintf("%q has no host name: use a URL %s", shown, example)
	case u.User != nil && s.credentials != "":
		return fmt.Sprintf("%q contains credentials: remove them from the URL and use %s", shown, s.credentials)
	}
	return ""
}

// RedactURL is a URL as it may be shown: its user name and password replaced by REDACTED,
// and only a placeholder when it does not parse or still holds an '@' (credentials the
// parser did not recognise, as in user:secret@host without a scheme).
func RedactURL(s string) string {
	bare, err := redact.URL(s, "")
	if err != nil {
		return "[a value that is not a URL, not shown]"
	}
	if strings.Contains(bare, "@") {
		return "[a URL that may hold credentials, not shown]"
	}
	shown, _ := redact.URL(s, "REDACTED")
	return shown
}
