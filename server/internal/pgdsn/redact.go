package pgdsn

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/redact"
)

// mask replaces passwords in everything this package prints.
const mask = redact.Mask

var (
	kvPasswordRE  = regexp.MustCompile(`(?i)((?:^|\s)(?:ssl)?password\s*=\s*)('(?:\\.|[^'\\])*'?|(?:\\.|\S)*)`)
	urlPasswordRE = regexp.MustCompile(`(?i)([?&](?:ssl)?password=)[^&]*`)
)

// secrets are the values to remove from messages. Passwords shorter than 3
// characters are left alone: replacing every "a" would garble the message
// without protecting anything.
func (ds *DSN) secrets() []string {
	var out []string
	for _, k := range []string{"password", "sslpassword"} {
		if v := ds.params[k]; len(v) >= 3 {
			out = append(out, v)
		}
	}
	return out
}

// Scrub removes the DSN's passwords, plain or percent-encoded, from msg.
func (ds *DSN) Scrub(msg string) string {
	if ds == nil {
		return msg
	}
	return redact.Secrets(msg, mask, ds.secrets()...)
}

// Redacted is the DSN as the administrator wrote it, passwords masked.
func (ds *DSN) Redacted() string {
	return ds.Scrub(redactStructure(ds.raw))
}

// Errorf formats a message, removes the DSN's passwords from it and wraps err
// (which may be nil).
func (ds *DSN) Errorf(err error, format string, args ...any) error {
	return redact.Wrap(err, fmt.Sprintf(format, args...), mask, ds.secrets()...)
}

// Redact returns a connection string (Mattermost's SqlSettings.DataSource)
// with its passwords replaced by "xxxxx", in either the URL or the key=value
// form, for logs and messages. It works on strings that do not parse, erring
// on the side of masking too much.
func Redact(dsn string) string {
	out := redactStructure(dsn)
	if ds, err := Parse(dsn); err == nil {
		out = ds.Scrub(out)
	}
	return out
}

// Scrub removes dsn's passwords from msg; when dsn does not parse, whatever
// looks like a password in msg.
func Scrub(dsn, msg string) string {
	ds, err := Parse(dsn)
	if err != nil {
		return Redact(msg)
	}
	return ds.Scrub(msg)
}

// redactStructure masks what stands where a password is written in a URL or
// key=value string, whether or not it parses.
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

// WithoutPasswords is the DSN with its passwords (password, sslpassword) left out, for
// documents that must hold no secret: whoever connects with it brings the password from
// PGPASSWORD or ~/.pgpass.
func (ds *DSN) WithoutPasswords() *DSN {
	out := ds.with()
	delete(out.params, "password")
	delete(out.params, "sslpassword")
	out.raw = out.String()
	return out
}

// StripPasswords returns dsn in libpq's key=value form without its passwords. Its error never
// quotes dsn.
func StripPasswords(dsn string) (string, error) {
	ds, err := Parse(dsn)
	if err != nil {
		return "", err
	}
	return ds.WithoutPasswords().String(), nil
}
