// Package heartbeat pings a dead man's switch (healthchecks.io and the like): a monitor
// outside Mattermost that alerts when the pings stop, so that a Mattermost that is down, or a
// plugin that stopped, is noticed by the silence. The URL holds a secret token: it is never
// shown, only its scheme and host.
package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/redact"
)

// Timeout is how long a ping may take: short, it runs on the plugin's minute tick.
const Timeout = 10 * time.Second

// Pinger pings heartbeat URLs.
type Pinger struct {
	client *http.Client
}

// New pings with client (nil: a default one); redirects are not followed.
func New(client *http.Client) *Pinger {
	if client == nil {
		client = &http.Client{}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Pinger{client: &c}
}

// FailURL is the URL that reports a failure, by the healthchecks.io convention: "/fail"
// added to the path, the query kept.
func FailURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("the heartbeat URL is not valid")
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/fail"
	u.RawPath = ""
	return u.String(), nil
}

// Ping sends one GET to raw, or to its FailURL when failing is true, within Timeout. A 2xx
// answer is a success. Errors show the URL only as scheme://host/….
func (p *Pinger) Ping(ctx context.Context, raw string, failing bool) error {
	target := raw
	if failing {
		var err error
		if target, err = FailURL(raw); err != nil {
			return err
		}
	}
	shown := redact.Origin(raw)
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("heartbeat %s: the URL is not valid", shown)
	}
	req.Header.Set("User-Agent", "mattermost-plugin-disaster-recovery")
	resp, err := p.client.Do(req)
	if err != nil {
		var ue *url.Error // it quotes the URL
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("heartbeat %s: %s", shown, redact.Secrets(err.Error(), "…", raw, target))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("heartbeat %s answered %s", shown, resp.Status)
	}
	return nil
}
