package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// MaxTargets bounds how many receivers one alert fans out to.
const MaxTargets = 20

// routingKey is what a PagerDuty integration key looks like (32 characters today; a little
// slack either way in case that changes).
var routingKey = regexp.MustCompile(`^[A-Za-z0-9_-]{16,128}$`)

// ParseTargets reads targets written one per line:
//
//	generic https://alerts.example.com/hook?token=…
//	pagerduty <routing key> [https://events.eu.pagerduty.com/v2/enqueue]
//	slack https://hooks.slack.com/services/…
//
// Blank lines and lines starting with # are ignored. Errors say which line and what to do,
// and never quote a URL or a key.
func ParseTargets(text string) ([]Target, error) {
	var out []Target
	var errs []error
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		t, err := parseTarget(strings.Fields(line))
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", i+1, err))
			continue
		}
		out = append(out, t)
	}
	if len(out) > MaxTargets {
		errs = append(errs, fmt.Errorf("%d targets: use at most %d", len(out), MaxTargets))
	}
	return out, errors.Join(errs...)
}

func parseTarget(f []string) (Target, error) {
	format := Format(strings.ToLower(f[0]))
	args := f[1:]
	switch format {
	case Generic, Slack:
		if len(args) != 1 {
			return Target{}, fmt.Errorf("write %s and its webhook URL, separated by a space, e.g. %s https://hooks.example.com/…", format, format)
		}
		if err := CheckURL(args[0]); err != nil {
			return Target{}, fmt.Errorf("%s webhook URL: %w", format, err)
		}
		return Target{Format: format, URL: args[0]}, nil
	case PagerDuty:
		if len(args) < 1 || len(args) > 2 {
			return Target{}, errors.New("write pagerduty, the integration key (routing key) of an Events API v2 integration, and optionally the events URL, e.g. pagerduty 0123456789abcdef0123456789abcdef")
		}
		if !routingKey.MatchString(args[0]) {
			return Target{}, errors.New("the PagerDuty routing key is the 32-character Integration Key of an Events API v2 integration (letters and digits), written right after pagerduty")
		}
		t := Target{Format: PagerDuty, URL: PagerDutyEventsURL, RoutingKey: args[0]}
		if len(args) == 2 {
			if err := CheckURL(args[1]); err != nil {
				return Target{}, fmt.Errorf("PagerDuty events URL: %w", err)
			}
			t.URL = args[1]
		}
		return t, nil
	}
	// The first word is not quoted: a line that starts with a URL or key would show it.
	return Target{}, errors.New("the line does not start with a target format: start it with generic, pagerduty or slack (Mattermost incoming webhooks use slack), then a space and the URL or key")
}

// CheckURL says what is wrong with a webhook or heartbeat URL, without quoting it.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a valid URL: check for spaces or a stray character")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return errors.New("use an https:// (or http://) URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("the URL has no host name")
	}
	return nil
}
