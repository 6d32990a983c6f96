// Package redact removes secrets (passwords, keys, URL credentials) from text before it is
// shown: in messages, errors and logs. Each caller keeps its own mask, so that its messages
// read as before.
package redact

import (
	"errors"
	"net/url"
	"strings"
)

// Mask is the usual replacement of a secret.
const Mask = "xxxxx"

// forms are the ways a secret may appear in a message: as written, and percent-encoded as
// in a URL's path, query or user info (a driver may quote the URL it was given).
func forms(secret string) []string {
	return []string{secret, url.PathEscape(secret), url.QueryEscape(secret), url.UserPassword("", secret).String()[1:]}
}

// Secrets returns msg with every non-empty secret, plain or percent-encoded, replaced by mask.
func Secrets(msg, mask string, secrets ...string) string {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, f := range forms(s) {
			msg = strings.ReplaceAll(msg, f, mask)
		}
	}
	return msg
}

// Error is err with the secrets removed from its text. It still unwraps to err, so that
// errors.Is and errors.As see through it; err itself is returned when its text holds none.
func Error(err error, mask string, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := Secrets(msg, mask, secrets...)
	if clean == msg {
		return err
	}
	return &redacted{msg: clean, err: err}
}

// Wrap is an error whose text is msg with the secrets removed, unwrapping to err (which may
// be nil): for a message that quotes err and other text that may hold a secret.
func Wrap(err error, msg, mask string, secrets ...string) error {
	return &redacted{msg: Secrets(msg, mask, secrets...), err: err}
}

// redacted carries a message without secrets and the original error behind it.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// URL returns the URL s with its user info replaced by user alone (no password), or removed
// when user is "". It fails, saying nothing of s, when s does not parse: the caller chooses
// what to show instead.
func URL(s, user string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", errNotURL
	}
	if u.User != nil {
		u.User = nil
		if user != "" {
			u.User = url.User(user)
		}
	}
	return u.String(), nil
}

// ShownURL is a URL as messages show it: its password replaced by REDACTED, "" left empty,
// and "[invalid URL]" when it does not parse (an unparsable URL may hold a secret anywhere).
func ShownURL(s string) string {
	if s == "" {
		return ""
	}
	shown, err := URL(s, "REDACTED")
	if err != nil {
		return "[invalid URL]"
	}
	return shown
}

// errNotURL replaces url.Parse's error, which quotes the URL.
var errNotURL = errors.New("not a URL")
