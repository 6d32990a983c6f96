// Package idp checks that the single sign-on providers configured in Mattermost answer:
// SAML, LDAP, GitLab, Google, Office 365 and OpenID Connect. A provider that is down keeps its
// users out of Mattermost; the finding points at `/dr sso fallback`, which lets them log in
// with email and password until it is back.
package idp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// Component is the probe.Result component of this probe.
const Component = "idp"

// MetricUp is 1 when a provider answers, 0 when it is down, per Mattermost auth service.
const MetricUp = "dr_idp_up"

// Services are Mattermost's SSO auth service names (User.AuthService), in report order.
var Services = []string{"saml", "ldap", model.ServiceGitlab, model.ServiceGoogle, model.ServiceOffice365, model.ServiceOpenid}

// Defaults of Options.
const (
	DefaultTimeout = 10 * time.Second
	maxBody        = 4 << 20 // metadata and discovery documents are a few KiB
)

// Options say where the providers to check are configured and tune the checks.
type Options struct {
	// Config returns Mattermost's configuration, read on each check: its enabled SSO
	// providers are the ones checked.
	Config func() *model.Config
	// HTTPClient makes the HTTP requests. Default: a client with the environment's proxy
	// settings (as Mattermost uses) and no cookie jar. Its redirect policy is kept for
	// documents; reachability checks never follow redirects (any answer below 500 is up).
	HTTPClient *http.Client
	// LDAPTLSConfig is the base TLS configuration for LDAPS and StartTLS (RootCAs for a private
	// CA, say). ServerName defaults to LdapServer, and LdapSettings.SkipCertificateVerification
	// turns verification off, as it does in Mattermost.
	LDAPTLSConfig *tls.Config
	// Timeout bounds each provider's check (within ctx's deadline). Default DefaultTimeout.
	Timeout time.Duration
}

// provider is one enabled SSO provider to check.
type provider struct {
	service string
	check   func(ctx context.Context, c *checker) outcome
}

// outcome is what checking one provider found.
type outcome struct {
	checked  []string // what was contacted, for the table: never a secret
	down     error    // the provider cannot serve logins
	unknown  error    // it could not be checked (nothing configured to check)
	degraded []string // it serves logins, but something is off
	detail   string   // what it answered, for the table
}

// Enabled returns the auth services whose SSO provider is enabled in cfg, in Services order.
func Enabled(cfg *model.Config) []string {
	var out []string
	for _, p := range providers(cfg) {
		out = append(out, p.service)
	}
	return out
}

func providers(cfg *model.Config) []provider {
	if cfg == nil {
		return nil
	}
	var ps []provider
	if on(cfg.SamlSettings.Enable) {
		s := cfg.SamlSettings
		ps = append(ps, provider{"saml", func(ctx context.Context, c *checker) outcome { return c.saml(ctx, s) }})
	}
	if on(cfg.LdapSettings.Enable) {
		s := cfg.LdapSettings
		ps = append(ps, provider{"ldap", func(ctx context.Context, c *checker) outcome { return c.ldap(ctx, s) }})
	}
	for _, svc := range []string{model.ServiceGitlab, model.ServiceGoogle, model.ServiceOffice365, model.ServiceOpenid} {
		s := cfg.GetSSOService(svc)
		if s == nil || !on(s.Enable) {
			continue
		}
		settings := *s
		ps = append(ps, provider{svc, func(ctx context.Context, c *checker) outcome { return c.oauth(ctx, svc, settings) }})
	}
	return ps
}

// Probe checks the SSO providers enabled in Mattermost's configuration; it satisfies
// status.Prober.
type Probe struct{ o Options }

// New returns the probe for o.
func New(o Options) *Probe {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return &Probe{o: o}
}

// Component is the status component.
func (p *Probe) Component() string { return Component }

// Name says what is checked.
func (p *Probe) Name() string { return "Identity providers" }

// ReportsPartial is true: a provider that does not answer is reported as down beside the others.
func (p *Probe) ReportsPartial() bool { return true }

// Probe runs the check. Only enabled providers are checked, all at once; none enabled is
// NotConfigured. It returns when ctx ends (the status runner owns the deadline), each
// provider within Options.Timeout.
func (p *Probe) Probe(ctx context.Context) probe.Result {
	o := p.o
	res := probe.Result{Component: Component, Name: "Single sign-on providers", State: probe.Healthy}
	var cfg *model.Config
	if o.Config != nil {
		cfg = o.Config()
	}
	ps := providers(cfg)
	if len(ps) == 0 {
		res.State = probe.NotConfigured
		res.Summary = "no SSO provider enabled"
		return res
	}
	c := newChecker(o)
	outcomes := make([]outcome, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					outcomes[i] = outcome{unknown: fmt.Errorf("check failed: %v", r)}
				}
			}()
			pctx, cancel := context.WithTimeout(ctx, o.Timeout)
			defer cancel()
			outcomes[i] = p.check(pctx, c)
		})
	}
	wg.Wait()

	res.Table = &probe.Table{Columns: []string{"Service", "Status", "Checked", "Detail"}}
	var down []string
	for i, p := range ps {
		res.Table.Rows = append(res.Table.Rows, report(&res, p.service, outcomes[i]))
		if outcomes[i].down != nil {
			down = append(down, p.service)
		}
	}
	res.Summary = fmt.Sprintf("%d of %d SSO providers up", len(ps)-len(down), len(ps))
	if len(down) > 0 {
		res.Summary += "; down: " + strings.Join(down, ", ")
	}
	return res
}

// report records a provider's outcome and returns its table row.
func report(res *probe.Result, service string, out outcome) []string {
	labels := map[string]string{"service": service}
	status, detail := "up", out.detail
	switch {
	case out.down != nil:
		status, detail = "down", out.down.Error()
		res.Gauge(MetricUp, "1 when an SSO provider configured in Mattermost answers, 0 when it is down.", 0, labels)
		res.Add(probe.Critical,
			fmt.Sprintf("Restore the provider or the network path to it. If it stays down, consider `/dr sso fallback --service %s`: its users then log in with email and password until it is back.", service),
			fmt.Sprintf("SSO provider %s is down: %v. Users who log in with %s cannot log in.", service, out.down, service))
	case out.unknown != nil:
		status, detail = "unknown", out.unknown.Error()
		res.Add(probe.Unknown, "", fmt.Sprintf("SSO provider %s could not be checked: %v", service, out.unknown))
	default:
		res.Gauge(MetricUp, "1 when an SSO provider configured in Mattermost answers, 0 when it is down.", 1, labels)
	}
	for _, d := range out.degraded {
		res.Add(probe.Degraded, "", fmt.Sprintf("SSO provider %s: %s", service, d))
		if detail != "" {
			detail += "; "
		}
		detail += d
	}
	return []string{service, status, strings.Join(out.checked, ", "), detail}
}

func on(b *bool) bool { return b != nil && *b }

func str(s *string) string {
	if s == nil {
		return ""
	}
	return strings.TrimSpace(*s)
}
