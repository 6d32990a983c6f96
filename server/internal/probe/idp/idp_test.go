package idp

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

const secret = "never-shown-3c9d"

// idpServer is a local HTTP server standing in for the identity providers: SAML metadata and
// SSO endpoint, an OpenID Connect discovery document, OAuth endpoints, and broken variants.
func idpServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /saml/metadata", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		fmt.Fprintf(w, `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="%[1]s/saml/idp">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%[1]s/saml/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`, srv.URL)
	})
	mux.HandleFunc("GET /saml/sso", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "missing SAMLRequest", http.StatusBadRequest) // what an IdP says to a bare GET
	})
	mux.HandleFunc("GET /saml/html", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "<html><body>login</body></html>") })
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream down", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("GET /oidc/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":"%[1]s/oidc","authorization_endpoint":"%[1]s/oauth/authorize","token_endpoint":"%[1]s/oauth/token","jwks_uri":"%[1]s/oidc/jwks"}`, srv.URL)
	})
	mux.HandleFunc("GET /oidc/no-issuer", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"token_endpoint":"x"}`) })
	mux.HandleFunc("GET /oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login", http.StatusFound)
	})
	mux.HandleFunc("/oauth/token", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func cfg(mut func(c *model.Config)) *model.Config {
	var c model.Config
	c.SetDefaults()
	mut(&c)
	return &c
}

func check(t *testing.T, c *model.Config, o Options) probe.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := newProbe(c, o).Probe(ctx)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	assert.NotContains(t, string(b), secret, "the result shows a secret")
	assert.Equal(t, Component, res.Component)
	return res
}

func describe(res probe.Result) string {
	b, _ := json.MarshalIndent(res, "", "  ")
	return string(b)
}

func rowOf(t *testing.T, res probe.Result, service string) []string {
	t.Helper()
	require.NotNil(t, res.Table, describe(res))
	for _, r := range res.Table.Rows {
		if r[0] == service {
			return r
		}
	}
	t.Fatalf("no row for %s: %s", service, describe(res))
	return nil
}

func up(res probe.Result, service string) (float64, bool) {
	for _, m := range res.Metrics {
		if m.Name == MetricUp && m.Labels["service"] == service {
			return m.Value, true
		}
	}
	return 0, false
}

func findingWith(res probe.Result, state probe.State, text string) bool {
	for _, f := range res.Findings {
		if f.State == state && (strings.Contains(f.Message, text) || strings.Contains(f.Fix, text)) {
			return true
		}
	}
	return false
}

func TestHTTPProviders(t *testing.T) {
	srv := idpServer(t)
	u := srv.URL
	// A URL with credentials and a token in it: neither may be shown.
	withSecrets := strings.Replace(u, "http://", "http://admin:"+secret+"@", 1)
	tests := []struct {
		name    string
		service string
		mut     func(c *model.Config)
		state   probe.State
		status  string // table status
		text    string // in the detail cell, or in a finding
	}{
		{"saml metadata and SSO", "saml", func(c *model.Config) {
			c.SamlSettings.Enable = model.NewPointer(true)
			c.SamlSettings.IdpMetadataURL = model.NewPointer(withSecrets + "/saml/metadata?token=" + secret)
			c.SamlSettings.IdpURL = model.NewPointer(u + "/saml/sso")
		}, probe.Healthy, "up", "metadata of " + u + "/saml/idp; SSO URL answered 400"},
		{"saml SSO URL from the metadata", "saml", func(c *model.Config) {
			c.SamlSettings.Enable = model.NewPointer(true)
			c.SamlSettings.IdpMetadataURL = model.NewPointer(u + "/saml/metadata")
		}, probe.Healthy, "up", "SSO URL answered 400"},
		{"saml metadata is not SAML", "saml", func(c *model.Config) {
			c.SamlSettings.Enable = model.NewPointer(true)
			c.SamlSettings.IdpMetadataURL = model.NewPointer(u + "/saml/html")
			c.SamlSettings.IdpURL = model.NewPointer(u + "/saml/sso")
		}, probe.Degraded, "up", "not SAML 2.0 metadata: the root element is {}html"},
		{"saml metadata missing", "saml", func(c *model.Config) {
			c.SamlSettings.Enable = model.NewPointer(true)
			c.SamlSettings.IdpMetadataURL = model.NewPointer(u + "/saml/gone")
			c.SamlSettings.IdpURL = model.NewPointer(u + "/saml/sso")
		}, probe.Degraded, "up", "/saml/gone answered 404 Not Found"},
		{"saml SSO answers 503", "saml", func(c *model.Config) {
			c.SamlSettings.Enable = model.NewPointer(true)
			c.SamlSettings.IdpURL = model.NewPointer(u + "/broken")
		}, probe.Critical, "down", "answered 503 Service Unavailable"},
		{"saml without URLs", "saml", func(c *model.Config) {
			c.SamlSettings.Enable = model.NewPointer(true)
		}, probe.Unknown, "unknown", "neither SamlSettings.IdpURL nor IdpMetadataURL is set"},
		{"openid discovery", "openid", func(c *model.Config) {
			c.OpenIdSettings.Enable = model.NewPointer(true)
			c.OpenIdSettings.Secret = model.NewPointer(secret)
			c.OpenIdSettings.DiscoveryEndpoint = model.NewPointer(u + "/oidc/.well-known/openid-configuration")
		}, probe.Healthy, "up", "issuer " + u + "/oidc"},
		{"openid discovery without issuer", "openid", func(c *model.Config) {
			c.OpenIdSettings.Enable = model.NewPointer(true)
			c.OpenIdSettings.DiscoveryEndpoint = model.NewPointer(u + "/oidc/no-issuer")
		}, probe.Critical, "down", "has no issuer or no authorization_endpoint"},
		{"openid discovery not JSON", "openid", func(c *model.Config) {
			c.OpenIdSettings.Enable = model.NewPointer(true)
			c.OpenIdSettings.DiscoveryEndpoint = model.NewPointer(u + "/saml/html")
		}, probe.Critical, "down", "is not JSON"},
		{"openid discovery 404", "openid", func(c *model.Config) {
			c.OpenIdSettings.Enable = model.NewPointer(true)
			c.OpenIdSettings.DiscoveryEndpoint = model.NewPointer(u + "/oidc/missing")
		}, probe.Critical, "down", "answered 404 Not Found"},
		{"gitlab endpoints", "gitlab", func(c *model.Config) {
			c.GitLabSettings.Enable = model.NewPointer(true)
			c.GitLabSettings.AuthEndpoint = model.NewPointer(u + "/oauth/authorize")
			c.GitLabSettings.TokenEndpoint = model.NewPointer(u + "/oauth/token")
		}, probe.Healthy, "up", "authorization endpoint answered 302; token endpoint answered 405"},
		{"google token endpoint 503", "google", func(c *model.Config) {
			c.GoogleSettings.Enable = model.NewPointer(true)
			c.GoogleSettings.AuthEndpoint = model.NewPointer(u + "/oauth/authorize")
			c.GoogleSettings.TokenEndpoint = model.NewPointer(u + "/broken")
		}, probe.Critical, "down", "answered 503"},
		{"office365 discovery", "office365", func(c *model.Config) {
			c.Office365Settings.Enable = model.NewPointer(true)
			c.Office365Settings.DiscoveryEndpoint = model.NewPointer(u + "/oidc/.well-known/openid-configuration")
		}, probe.Healthy, "up", "issuer"},
		{"gitlab without endpoints", "gitlab", func(c *model.Config) {
			c.GitLabSettings.Enable = model.NewPointer(true)
		}, probe.Unknown, "unknown", "no discovery, authorization or token endpoint is set for gitlab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg(tt.mut)
			res := check(t, c, Options{})
			assert.Equal(t, tt.state, res.State, describe(res))
			require.Len(t, res.Table.Rows, 1, "only the enabled provider is checked")
			row := rowOf(t, res, tt.service)
			assert.Equal(t, tt.status, row[1])
			assert.True(t, strings.Contains(row[3], tt.text) || findingWith(res, tt.state, tt.text), "%q not found: %s", tt.text, describe(res))
			v, ok := up(res, tt.service)
			switch tt.status {
			case "up":
				assert.True(t, ok)
				assert.Equal(t, 1.0, v)
			case "down":
				assert.True(t, ok)
				assert.Zero(t, v)
				assert.True(t, findingWith(res, probe.Critical, "SSO provider "+tt.service+" is down"), describe(res))
				assert.True(t, findingWith(res, probe.Critical, "`/dr sso fallback --service "+tt.service+"`"), describe(res))
			default:
				assert.False(t, ok, "unknown is not a value")
			}
		})
	}
}

func TestProvidersGoDown(t *testing.T) {
	srv := idpServer(t)
	c := cfg(func(c *model.Config) {
		c.SamlSettings.Enable = model.NewPointer(true)
		c.SamlSettings.IdpMetadataURL = model.NewPointer(srv.URL + "/saml/metadata")
		c.SamlSettings.IdpURL = model.NewPointer(srv.URL + "/saml/sso")
		c.OpenIdSettings.Enable = model.NewPointer(true)
		c.OpenIdSettings.DiscoveryEndpoint = model.NewPointer(srv.URL + "/oidc/.well-known/openid-configuration")
	})
	res := check(t, c, Options{})
	require.Equal(t, probe.Healthy, res.State, describe(res))
	assert.Equal(t, "2 of 2 SSO providers up", res.Summary)
	assert.Equal(t, []string{"saml", "openid"}, []string{res.Table.Rows[0][0], res.Table.Rows[1][0]})

	srv.Close()
	res = check(t, c, Options{})
	assert.Equal(t, probe.Critical, res.State)
	assert.Equal(t, "0 of 2 SSO providers up; down: saml, openid", res.Summary)
	for _, svc := range []string{"saml", "openid"} {
		assert.Equal(t, "down", rowOf(t, res, svc)[1])
		assert.True(t, findingWith(res, probe.Critical, "SSO provider "+svc+" is down"), describe(res))
		assert.True(t, findingWith(res, probe.Critical, "connection refused"), describe(res))
		assert.True(t, findingWith(res, probe.Critical, "/dr sso fallback --service "+svc), describe(res))
		v, ok := up(res, svc)
		assert.True(t, ok)
		assert.Zero(t, v)
	}
}

func TestHangingProviderTimesOut(t *testing.T) {
	// Accepts connections and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c := cfg(func(c *model.Config) {
		c.OpenIdSettings.Enable = model.NewPointer(true)
		c.OpenIdSettings.DiscoveryEndpoint = model.NewPointer("http://" + l.Addr().String() + "/.well-known/openid-configuration")
		c.LdapSettings.Enable = model.NewPointer(true)
		c.LdapSettings.LdapServer = model.NewPointer("127.0.0.1")
		c.LdapSettings.LdapPort = model.NewPointer(l.Addr().(*net.TCPAddr).Port)
		c.LdapSettings.BindUsername = model.NewPointer("cn=mm")
		c.LdapSettings.BindPassword = model.NewPointer(secret)
	})
	t0 := time.Now()
	res := check(t, c, Options{Timeout: 500 * time.Millisecond})
	assert.Less(t, time.Since(t0), 5*time.Second)
	assert.Equal(t, probe.Critical, res.State, describe(res))
	assert.Equal(t, "down", rowOf(t, res, "openid")[1])
	assert.Equal(t, "down", rowOf(t, res, "ldap")[1])
	assert.Contains(t, rowOf(t, res, "openid")[3], "deadline exceeded")
}

func TestLDAP(t *testing.T) {
	cert, pool := testCert(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	listen := func(t *testing.T) net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		return l
	}
	port := func(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }

	// A bare TCP listener standing in for the directory, and a port nobody listens on.
	bare := startLDAPServer(t, listen(t), "", "", nil)
	closed := listen(t)
	closedPort := port(closed)
	require.NoError(t, closed.Close())
	// Real LDAP over the wire: plain with bind, LDAPS, and StartTLS.
	plain := startLDAPServer(t, listen(t), "cn=mattermost,dc=example,dc=com", secret, nil)
	ldaps := startLDAPServer(t, tls.NewListener(listen(t), serverTLS), "cn=mattermost,dc=example,dc=com", secret, nil)
	starttls := startLDAPServer(t, listen(t), "cn=mattermost,dc=example,dc=com", secret, serverTLS)

	type settings struct {
		port          int
		security      string
		skipVerify    bool
		user, pass    string
		trustTestCert bool
	}
	tests := []struct {
		name   string
		s      settings
		state  probe.State
		detail string
	}{
		{"tcp only", settings{port: port(bare.l)}, probe.Healthy, "TCP connection ok; no bind checked"},
		{"closed port", settings{port: closedPort}, probe.Critical, "connection refused"},
		{"bind", settings{port: port(plain.l), user: "cn=mattermost,dc=example,dc=com", pass: secret}, probe.Healthy,
			"TCP connection ok; bind as cn=mattermost,dc=example,dc=com ok"},
		{"bind with a wrong password", settings{port: port(plain.l), user: "cn=mattermost,dc=example,dc=com", pass: "wrong-" + secret}, probe.Critical,
			`bind as cn=mattermost,dc=example,dc=com on 127.0.0.1:` + fmt.Sprint(port(plain.l)) + `: LDAP Result Code 49 "Invalid Credentials"`},
		{"ldaps, certificate not trusted", settings{port: port(ldaps.l), security: model.ConnSecurityTLS}, probe.Critical,
			"TLS handshake with 127.0.0.1:" + fmt.Sprint(port(ldaps.l)) + ": tls: failed to verify certificate"},
		{"ldaps, verification skipped", settings{port: port(ldaps.l), security: model.ConnSecurityTLS, skipVerify: true}, probe.Healthy,
			"TLS handshake (TLS 1.3) ok; no bind checked"},
		{"ldaps, trusted, bind", settings{port: port(ldaps.l), security: model.ConnSecurityTLS, trustTestCert: true, user: "cn=mattermost,dc=example,dc=com", pass: secret},
			probe.Healthy, "TLS handshake (TLS 1.3) ok; bind as cn=mattermost,dc=example,dc=com ok"},
		{"ldaps against plain LDAP", settings{port: port(plain.l), security: model.ConnSecurityTLS, skipVerify: true}, probe.Critical, "TLS handshake"},
		{"starttls, bind", settings{port: port(starttls.l), security: model.ConnSecurityStarttls, trustTestCert: true, user: "cn=mattermost,dc=example,dc=com", pass: secret},
			probe.Healthy, "StartTLS (TLS 1.3) ok; bind as cn=mattermost,dc=example,dc=com ok"},
		{"starttls refused", settings{port: port(plain.l), security: model.ConnSecurityStarttls, skipVerify: true}, probe.Critical, "StartTLS with 127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg(func(c *model.Config) {
				c.LdapSettings.Enable = model.NewPointer(true)
				c.LdapSettings.LdapServer = model.NewPointer("127.0.0.1")
				c.LdapSettings.LdapPort = model.NewPointer(tt.s.port)
				c.LdapSettings.ConnectionSecurity = model.NewPointer(tt.s.security)
				c.LdapSettings.SkipCertificateVerification = model.NewPointer(tt.s.skipVerify)
				c.LdapSettings.BindUsername = model.NewPointer(tt.s.user)
				c.LdapSettings.BindPassword = model.NewPointer(tt.s.pass)
			})
			var o Options
			if tt.s.trustTestCert {
				o.LDAPTLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			}
			res := check(t, c, o)
			assert.Equal(t, tt.state, res.State, describe(res))
			row := rowOf(t, res, "ldap")
			assert.Equal(t, "ldap 127.0.0.1:"+fmt.Sprint(tt.s.port), row[2])
			assert.Contains(t, row[3], tt.detail, describe(res))
			if tt.state == probe.Critical {
				assert.True(t, findingWith(res, probe.Critical, "/dr sso fallback --service ldap"), describe(res))
			}
		})
	}
	assert.Contains(t, plain.bound(), "cn=mattermost,dc=example,dc=com", "the server saw the binds")
}

func TestNotConfiguredAndEnabled(t *testing.T) {
	res := newProbe(cfg(func(*model.Config) {}), Options{}).Probe(context.Background())
	assert.Equal(t, probe.NotConfigured, res.State)
	assert.Equal(t, "no SSO provider enabled", res.Summary)
	assert.Equal(t, probe.NotConfigured, New(Options{}).Probe(context.Background()).State)

	c := cfg(func(c *model.Config) {
		c.OpenIdSettings.Enable = model.NewPointer(true)
		c.LdapSettings.Enable = model.NewPointer(true)
		c.Office365Settings.Enable = model.NewPointer(true)
	})
	assert.Equal(t, []string{"ldap", "office365", "openid"}, Enabled(c))
	assert.Empty(t, Enabled(nil))
}

func TestParseSAMLMetadata(t *testing.T) {
	const ns = `xmlns="urn:oasis:names:tc:SAML:2.0:metadata"`
	tests := []struct {
		name, xml string
		entityID  string
		sso       []string
		err       string
	}{
		{"entity", `<EntityDescriptor ` + ns + ` entityID="https://idp/e"><IDPSSODescriptor><SingleSignOnService Binding="b" Location="https://idp/sso"/></IDPSSODescriptor></EntityDescriptor>`,
			"https://idp/e", []string{"https://idp/sso"}, ""},
		{"entities", `<EntitiesDescriptor ` + ns + `><EntityDescriptor entityID="sp"><SPSSODescriptor/></EntityDescriptor><EntityDescriptor entityID="idp"><IDPSSODescriptor><SingleSignOnService Location="https://idp/a"/><SingleSignOnService Location="https://idp/b"/></IDPSSODescriptor></EntityDescriptor></EntitiesDescriptor>`,
			"idp", []string{"https://idp/a", "https://idp/b"}, ""},
		{"service provider only", `<EntityDescriptor ` + ns + ` entityID="sp"><SPSSODescriptor/></EntityDescriptor>`, "", nil, "no identity provider"},
		{"wrong namespace", `<EntityDescriptor xmlns="urn:example" entityID="x"/>`, "", nil, "not SAML 2.0 metadata"},
		{"wrong root", `<Other ` + ns + `/>`, "", nil, "the root element is Other"},
		{"not XML", `{"issuer":"x"}`, "", nil, "not XML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, sso, err := parseSAMLMetadata([]byte(tt.xml))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.entityID, id)
			assert.Equal(t, tt.sso, sso)
		})
	}
}

func TestDisplay(t *testing.T) {
	for in, want := range map[string]string{
		"https://idp.example.com/saml/metadata":                  "https://idp.example.com/saml/metadata",
		"https://user:" + secret + "@idp/x?token=" + secret + "": "https://idp/x",
		"not a url": "(a URL that does not parse)",
	} {
		assert.Equal(t, want, display(in))
	}
}

// newProbe is the probe of the providers enabled in c.
func newProbe(c *model.Config, o Options) *Probe {
	o.Config = func() *model.Config { return c }
	return New(o)
}

// TestInStatusRunner runs the probe as /dr status does: a provider that never answers is
// reported down by the probe itself, next to one that is up, before the runner gives up.
func TestInStatusRunner(t *testing.T) {
	srv := idpServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c := cfg(func(c *model.Config) {
		c.OpenIdSettings.Enable = model.NewPointer(true)
		c.OpenIdSettings.DiscoveryEndpoint = model.NewPointer(srv.URL + "/oidc/.well-known/openid-configuration")
		c.SamlSettings.Enable = model.NewPointer(true)
		c.SamlSettings.IdpURL = model.NewPointer("http://" + l.Addr().String() + "/sso")
	})
	r := status.NewRunner([]status.Prober{newProbe(c, Options{})}, status.WithTimeout(time.Second), status.WithCacheTTL(0))
	rep, err := r.Report(context.Background())
	require.NoError(t, err)
	res := rep.Results[0]
	assert.Equal(t, probe.Critical, res.State, describe(res))
	assert.Equal(t, "1 of 2 SSO providers up; down: saml", res.Summary)
	assert.Equal(t, "up", rowOf(t, res, "openid")[1])
	assert.Contains(t, rowOf(t, res, "saml")[3], "deadline exceeded")
}
