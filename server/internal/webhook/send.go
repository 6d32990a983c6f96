package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/cenkalti/backoff/v5"
)

// Logger is where retries and dead letters are written; pluginapi's LogService fits.
type Logger interface {
	Warn(msg string, keyValuePairs ...any)
	Error(msg string, keyValuePairs ...any)
}

// Policy bounds the delivery to one target.
type Policy struct {
	Attempts       int           // at most this many requests
	FirstWait      time.Duration // wait after the first failure; it doubles, with jitter
	MaxWait        time.Duration // longest wait between two attempts
	Budget         time.Duration // total time for all attempts and waits
	AttemptTimeout time.Duration // one request
}

// DefaultPolicy gives a target about two minutes: long enough to ride out a restart of the
// receiver, short enough that a dead one does not hold later alerts for long.
func DefaultPolicy() Policy {
	return Policy{Attempts: 6, FirstWait: 2 * time.Second, MaxWait: 30 * time.Second, Budget: 2 * time.Minute, AttemptTimeout: 10 * time.Second}
}

// Sender delivers alerts synchronously (drctl uses it as is; the plugin through a Dispatcher).
type Sender struct {
	client *http.Client
	policy Policy
	log    Logger
	// The clock: tests replace it to check waits without waiting.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// NewSender sends with client (nil: a default one) under policy, logging to log.
func NewSender(client *http.Client, policy Policy, log Logger) *Sender {
	if client == nil {
		client = &http.Client{}
	}
	// A redirect is refused rather than followed: following would send the routing key
	// or body to a URL the admin never configured.
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Sender{client: &c, policy: policy, log: log, now: time.Now, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Send delivers the alert to every target at once and returns when each has answered or
// given up. The error joins one line per target that was not reached (without secrets);
// each of those also gets a dead-letter line in the log.
func (s *Sender) Send(ctx context.Context, targets []Target, a Alert) error {
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Deliver(ctx, t, a)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Deliver sends the alert to one target, retrying on network errors, 429 and 5xx answers.
func (s *Sender) Deliver(ctx context.Context, t Target, a Alert) error {
	attempts, err := s.deliver(ctx, t, a)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("alert %s not delivered to %s after %d attempt(s): %s", a.Key, t, attempts, t.redacted(err.Error()))
	if s.log != nil {
		s.log.Error("Disaster Recovery alert NOT delivered (dead letter)", "target", t.String(), "alert", a.String(),
			"attempts", attempts, "error", err.Error())
	}
	return err
}

// retryError is a failure worth another attempt, after wait when the receiver said so.
type retryError struct {
	err  error
	wait time.Duration
}

func (e *retryError) Error() string { return e.err.Error() }

func (s *Sender) deliver(ctx context.Context, t Target, a Alert) (int, error) {
	body, err := Body(t, a)
	if err != nil {
		return 0, err
	}
	p := s.policy
	deadline := s.now().Add(p.Budget)
	ctx, cancel := context.WithTimeout(ctx, p.Budget) // the hard stop; deadline plans the waits
	defer cancel()
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.Multiplier, b.RandomizationFactor = p.FirstWait, p.MaxWait, 2, 0.5
	b.Reset()
	for attempt := 1; ; attempt++ {
		err := s.post(ctx, t, body)
		var retry *retryError
		if err == nil || !errors.As(err, &retry) || attempt >= p.Attempts {
			return attempt, err
		}
		wait := b.NextBackOff()
		if retry.wait > 0 {
			wait = retry.wait
		}
		if left := deadline.Sub(s.now()); wait > left {
			return attempt, fmt.Errorf("%w; no time left to wait %s for another attempt", err, wait.Round(time.Second))
		}
		if s.log != nil {
			s.log.Warn("Disaster Recovery alert delivery failed; retrying", "target", t.String(), "alert", a.Key,
				"attempt", attempt, "wait", wait.Round(time.Millisecond).String(), "error", t.redacted(err.Error()))
		}
		if serr := s.sleep(ctx, wait); serr != nil {
			return attempt, fmt.Errorf("%w; gave up waiting: %w", err, serr)
		}
	}
}

// post makes one request. Errors that deserve a retry are *retryError.
func (s *Sender) post(ctx context.Context, t Target, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.policy.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return errors.New("the target URL is not valid") // url errors quote the URL
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mattermost-plugin-disaster-recovery")
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error // it quotes the URL: keep only what went wrong
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &retryError{err: err}
	}
	defer resp.Body.Close()
	snippet := readSnippet(resp.Body)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("answered %s%s", resp.Status, snippet)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return &retryError{err: err, wait: retryAfter(resp.Header.Get("Retry-After"), s.now())}
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fmt.Errorf("%w: redirects are not followed; configure the final URL", err)
	}
	return err // other 4xx: the request is wrong, another attempt would be too
}

// readSnippet is the start of an error answer, printable, for the error message.
func readSnippet(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 300))
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20)) // let the connection be reused
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, strings.TrimSpace(string(b)))
	if s == "" {
		return ""
	}
	return ": " + s
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date. Zero when absent or invalid.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil {
		return time.Duration(max(n, 0)) * time.Second
	}
	if at, err := http.ParseTime(h); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}
