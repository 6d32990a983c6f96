package redact

import "net/url"

// Origin is a URL shown without anything that may be a secret: its scheme and host, then "/…"
// when it has a path or query (webhook and heartbeat URLs carry their token there, e.g.
// https://hooks.slack.com/services/T/B/XXXX). "[invalid URL]" when it has no scheme and host.
func Origin(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "[invalid URL]"
	}
	shown := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		shown += "/…"
	}
	return shown
}
