// Package opensearchccr talks to the OpenSearch cross-cluster replication plugin: the state
// and lag of follower indices, the auto-follow rules, the replication stats of both clusters,
// and the actions that start, pause, resume, stop and reverse replication. One Client talks to
// one cluster; the follower-side calls go to the follower, LeaderStats to the leader.
package opensearchccr

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/opensearch-project/opensearch-go/v2"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/redact"
)

// Options configure a Client.
type Options struct {
	// Addresses are the cluster's node URLs (https://search.example.com:9200). Credentials in
	// a URL are moved to Username and Password, so that they never show in errors.
	Addresses []string
	// Username and Password authenticate with HTTP basic auth (the security plugin).
	Username string
	Password string
	// CACert is a PEM bundle of the CAs to trust instead of the system's.
	CACert []byte
	// InsecureSkipVerify turns certificate checks off: for test clusters with self-signed
	// certificates only.
	InsecureSkipVerify bool
	// MaxRetries is how often a read is retried on 502, 503, 504 and network errors, within
	// the call's context (default 2; negative: never). Actions are never retried.
	MaxRetries int
	// Transport replaces the HTTP transport (tests); CACert and InsecureSkipVerify then do
	// not apply.
	Transport http.RoundTripper
}

// Client is a client of one OpenSearch cluster. It is safe for concurrent use.
type Client struct {
	os      *opensearch.Client
	retries int
	secrets []string // never shown in errors
}

// New returns a client. It does not contact the cluster.
func New(o Options) (*Client, error) {
	if len(o.Addresses) == 0 {
		return nil, errors.New("opensearch client: at least one address is required")
	}
	addrs := make([]string, 0, len(o.Addresses))
	for _, a := range o.Addresses {
		u, err := url.Parse(strings.TrimSpace(a))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("opensearch client: address %q is not an http(s) URL", redact.ShownURL(a))
		}
		if u.User != nil {
			if o.Username == "" {
				o.Username = u.User.Username()
			}
			if p, ok := u.User.Password(); ok && o.Password == "" {
				o.Password = p
			}
			u.User = nil
		}
		addrs = append(addrs, u.String())
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 2
	}
	tr := o.Transport
	if tr == nil && (o.CACert != nil || o.InsecureSkipVerify) {
		base, ok := http.DefaultTransport.(*http.Transport)
		if !ok {
			return nil, errors.New("opensearch client: the default HTTP transport is not an *http.Transport")
		}
		t := base.Clone()
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // off only when the admin sets it, for self-signed test clusters
		if o.CACert != nil {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(o.CACert) {
				return nil, errors.New("opensearch client: the CA certificate is not valid PEM")
			}
			t.TLSClientConfig.RootCAs = pool
		}
		tr = t
	}
	// The library's retries sleep without watching the context and drop the last answer
	// when the deadline comes; call retries instead.
	cl, err := opensearch.NewClient(opensearch.Config{
		Addresses: addrs, Username: o.Username, Password: o.Password, Transport: tr, DisableRetry: true,
	})
	if err != nil {
		return nil, fmt.Errorf("opensearch client: %w", err)
	}
	c := &Client{os: cl, retries: max(o.MaxRetries, 0)}
	if o.Password != "" {
		c.secrets = append(c.secrets, o.Password)
	}
	return c, nil
}

// Error is an error answer of OpenSearch.
type Error struct {
	Status int
	// Type is OpenSearch's error type (index_not_found_exception, security_exception), ""
	// when the body had none.
	Type   string
	Reason string
}

func (e *Error) Error() string {
	switch {
	case e.Status == http.StatusUnauthorized:
		return "OpenSearch answered 401 Unauthorized: the username or password is wrong"
	case e.Type != "":
		return fmt.Sprintf("OpenSearch answered %d %s: %s", e.Status, e.Type, e.Reason)
	case e.Reason != "":
		return fmt.Sprintf("OpenSearch answered %d: %s", e.Status, e.Reason)
	default:
		return fmt.Sprintf("OpenSearch answered %d %s", e.Status, http.StatusText(e.Status))
	}
}

// IsAuthError tells whether err is OpenSearch refusing the credentials (401) or the
// permission (403).
func IsAuthError(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// StatusOf returns the HTTP status of an OpenSearch error answer, 0 for other errors.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// redact hides the client's secrets from a transport error's text while keeping it
// unwrappable (context.DeadlineExceeded stays detectable).
func (c *Client) redact(err error) error { return redact.Error(err, "***", c.secrets...) }

func (c *Client) decode(status int, body io.Reader, out any) error {
	raw, err := io.ReadAll(io.LimitReader(body, 32<<20))
	if err != nil {
		return c.redact(fmt.Errorf("read the answer: %w", err))
	}
	if status < 200 || status > 299 {
		return c.redact(parseError(status, raw))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	return nil
}

// parseError reads OpenSearch's error bodies: {"error":{"type","reason",…},"status"},
// {"error":"text","status"}, or plain text (the security plugin's 401).
func parseError(status int, raw []byte) error {
	e := &Error{Status: status}
	var doc struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &doc) == nil && len(doc.Error) > 0 {
		var obj struct {
			Type      string `json:"type"`
			Reason    string `json:"reason"`
			RootCause []struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"root_cause"`
		}
		var text string
		switch {
		case json.Unmarshal(doc.Error, &obj) == nil:
			e.Type, e.Reason = obj.Type, obj.Reason
			if e.Reason == "" && len(obj.RootCause) > 0 {
				e.Type, e.Reason = obj.RootCause[0].Type, obj.RootCause[0].Reason
			}
		case json.Unmarshal(doc.Error, &text) == nil:
			e.Reason = text
		}
		return e
	}
	text := strings.TrimSpace(string(raw))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	e.Reason = text
	return e
}

// call sends a JSON request to a path under the cluster and decodes a 2xx JSON answer into
// out (nil: ignore it). Reads (GET) are retried on 502, 503, 504 and network errors with a
// short backoff while ctx allows; when ctx ends first, the error holds the last answer and
// ctx's error. Actions are not retried: one that reached the cluster before the connection
// broke would fail the second time for having worked the first.
func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode the request: %w", err)
		}
	}
	retries := c.retries
	if method != http.MethodGet {
		retries = 0
	}
	var last error
	for attempt := 0; ; attempt++ {
		err, transport := c.once(ctx, method, path, payload, out)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			if last != nil {
				return fmt.Errorf("%w (then gave up: %w)", last, ctx.Err())
			}
			return err
		}
		if attempt >= retries || (!transport && !retryableStatus(StatusOf(err))) {
			return err
		}
		last = err
		t := time.NewTimer(time.Duration(attempt+1) * 100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (then gave up: %w)", last, ctx.Err())
		case <-t.C:
		}
	}
}

// once sends one request; transport tells an error of the connection from an answer.
func (c *Client) once(ctx context.Context, method, path string, payload []byte, out any) (err error, transport bool) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return err, false
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.os.Perform(req)
	if err != nil {
		return c.redact(err), true
	}
	defer res.Body.Close()
	return c.decode(res.StatusCode, res.Body, out), false
}

func retryableStatus(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// acknowledged sends an action and checks OpenSearch acknowledged it.
func (c *Client) acknowledged(ctx context.Context, method, path string, body any) error {
	var ack struct {
		Acknowledged bool `json:"acknowledged"`
	}
	if err := c.call(ctx, method, path, body, &ack); err != nil {
		return err
	}
	if !ack.Acknowledged {
		return errors.New("OpenSearch did not acknowledge the request")
	}
	return nil
}

func checkIndex(name string) error {
	if name == "" || name == "_all" || strings.ContainsAny(name, "*,/ ") {
		return fmt.Errorf("%q is not a single index name", name)
	}
	return nil
}
