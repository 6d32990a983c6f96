package redact

import "testing"

func TestOrigin(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://hooks.slack.com/services/T000/B000/XXXXSECRET", "https://hooks.slack.com/…"},
		{"https://alerts.example.com/?token=SECRET", "https://alerts.example.com/…"},
		{"https://user:SECRET@alerts.example.com", "https://alerts.example.com"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080"},
		{"hc-ping.com/SECRET", "[invalid URL]"},
		{"", "[invalid URL]"},
		{"https://h/%zzSECRET", "[invalid URL]"},
	} {
		if got := Origin(c.in); got != c.want {
			t.Errorf("Origin(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
