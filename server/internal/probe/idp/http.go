package idp

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/mattermost/mattermost/server/public/model"
)

// checker holds what every provider's check shares.
type checker struct {
	docs  *http.Client // follows redirects
	reach *http.Client // does not: any answer counts
	opts  Options
}

func newChecker(o Options) *checker {
	docs := o.HTTPClient
	if docs == nil {
		docs = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}}
	}
	reach := *docs
	reach.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &checker{docs: docs, reach: &reach, opts: o}
}

// display is a URL as it may be shown: no user info, no query (either may hold a secret).
func display(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(a URL that does not parse)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// statusError is an HTTP answer that is not what a check wanted.
type statusError struct {
	url    string
	status int
	text   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("GET %s answered %d %s", e.url, e.status, e.text)
}

// get requests u and returns the answer's status and body, read up to maxBody. The error
// never repeats the URL's query or user info: url.Error's message would.
func get(ctx context.Context, client *http.Client, u string, accept string) (int, []byte, error) {
	shown := display(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, http.NoBody)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: the URL is not valid", shown)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, fmt.Errorf("GET %s: %w", shown, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("GET %s: read the answer: %w", shown, err)
	}
	return resp.StatusCode, body, nil
}

// reachable checks that u answers with a status below 500 (a login page, a redirect or a
// 4xx for a request without parameters all show the server is there).
func (c *checker) reachable(ctx context.Context, u string) (int, error) {
	status, _, err := get(ctx, c.reach, u, "")
	if err != nil {
		return 0, err
	}
	if status >= 500 {
		return status, &statusError{url: display(u), status: status, text: http.StatusText(status)}
	}
	return status, nil
}

// document fetches u and wants a 2xx answer.
func (c *checker) document(ctx context.Context, u, accept string) ([]byte, error) {
	status, body, err := get(ctx, c.docs, u, accept)
	if err != nil {
		return nil, err
	}
	if status < 200 || status > 299 {
		return nil, &statusError{url: display(u), status: status, text: http.StatusText(status)}
	}
	return body, nil
}

const samlMetadataNS = "urn:oasis:names:tc:SAML:2.0:metadata"

// entityDescriptor is the part of SAML 2.0 metadata the probe reads.
type entityDescriptor struct {
	XMLName  xml.Name
	EntityID string `xml:"entityID,attr"`
	IDP      []struct {
		SSO []struct {
			Binding  string `xml:"Binding,attr"`
			Location string `xml:"Location,attr"`
		} `xml:"SingleSignOnService"`
	} `xml:"IDPSSODescriptor"`
	Entities []entityDescriptor `xml:"EntityDescriptor"` // when the root is EntitiesDescriptor
}

// parseSAMLMetadata checks that b is SAML 2.0 metadata of an identity provider and returns
// its entityID and single sign-on URLs.
func parseSAMLMetadata(b []byte) (entityID string, sso []string, err error) {
	var ed entityDescriptor
	if err := xml.Unmarshal(b, &ed); err != nil {
		return "", nil, fmt.Errorf("not XML: %w", err)
	}
	if ed.XMLName.Space != samlMetadataNS {
		return "", nil, fmt.Errorf("not SAML 2.0 metadata: the root element is {%s}%s", ed.XMLName.Space, ed.XMLName.Local)
	}
	candidates := []entityDescriptor{ed}
	switch ed.XMLName.Local {
	case "EntityDescriptor":
	case "EntitiesDescriptor":
		candidates = ed.Entities
	default:
		return "", nil, fmt.Errorf("not SAML 2.0 metadata: the root element is %s, not EntityDescriptor", ed.XMLName.Local)
	}
	for _, e := range candidates {
		for _, idp := range e.IDP {
			for _, s := range idp.SSO {
				if s.Location != "" {
					sso = append(sso, s.Location)
				}
			}
		}
		if len(sso) > 0 {
			return e.EntityID, sso, nil
		}
	}
	return "", nil, errors.New("the metadata describes no identity provider with a SingleSignOnService")
}

// saml checks the IdP's SSO URL (IdpURL), which every login is sent to, and the metadata URL
// when set. Mattermost reads the metadata only when an admin imports it, so a metadata
// problem is degraded, not down.
func (c *checker) saml(ctx context.Context, s model.SamlSettings) outcome {
	var out outcome
	sso := str(s.IdpURL)
	if meta := str(s.IdpMetadataURL); meta != "" {
		out.checked = append(out.checked, "metadata "+display(meta))
		body, err := c.document(ctx, meta, "application/samlmetadata+xml, application/xml, text/xml")
		var entityID string
		var locations []string
		if err == nil {
			entityID, locations, err = parseSAMLMetadata(body)
			if err != nil {
				err = fmt.Errorf("metadata %s: %w", display(meta), err)
			}
		}
		switch {
		case err != nil && sso == "":
			out.down = err
			return out
		case err != nil:
			out.degraded = append(out.degraded, err.Error())
		default:
			out.detail = "metadata of " + entityID
			if sso == "" {
				sso = locations[0]
			}
		}
	}
	if sso == "" {
		out.unknown = errors.New("neither SamlSettings.IdpURL nor IdpMetadataURL is set")
		return out
	}
	out.checked = append(out.checked, "SSO "+display(sso))
	status, err := c.reachable(ctx, sso)
	if err != nil {
		out.down = err
		return out
	}
	out.detail = joinDetail(out.detail, fmt.Sprintf("SSO URL answered %d", status))
	return out
}

// discovery is the part of an OpenID Connect discovery document the probe reads.
type discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
}

// oauth checks an OAuth/OpenID provider: the discovery document when one is configured
// (Mattermost reads its endpoints from it), else the configured authorization and token
// endpoints.
func (c *checker) oauth(ctx context.Context, service string, s model.SSOSettings) outcome {
	var out outcome
	if d := str(s.DiscoveryEndpoint); d != "" {
		out.checked = append(out.checked, "discovery "+display(d))
		body, err := c.document(ctx, d, "application/json")
		if err != nil {
			out.down = err
			return out
		}
		var doc discovery
		if err := json.Unmarshal(body, &doc); err != nil {
			out.down = fmt.Errorf("discovery document %s is not JSON: %w", display(d), err)
			return out
		}
		if doc.Issuer == "" || doc.AuthorizationEndpoint == "" {
			out.down = fmt.Errorf("discovery document %s has no issuer or no authorization_endpoint", display(d))
			return out
		}
		out.detail = "issuer " + doc.Issuer
		return out
	}
	endpoints := []struct{ name, url string }{{"authorization", str(s.AuthEndpoint)}, {"token", str(s.TokenEndpoint)}}
	for _, e := range endpoints {
		if e.url == "" {
			continue
		}
		out.checked = append(out.checked, e.name+" "+display(e.url))
		status, err := c.reachable(ctx, e.url)
		if err != nil {
			out.down = err
			return out
		}
		out.detail = joinDetail(out.detail, fmt.Sprintf("%s endpoint answered %d", e.name, status))
	}
	if len(out.checked) == 0 {
		out.unknown = fmt.Errorf("no discovery, authorization or token endpoint is set for %s", service)
	}
	return out
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
