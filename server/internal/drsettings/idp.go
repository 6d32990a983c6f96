package drsettings

import (
	"github.com/mattermost/mattermost/server/public/model"
)

// IdentityProviders are the SSO providers Mattermost has enabled, as far as the status probe
// needs them to check they answer: addresses only, never client secrets or bind passwords.
type IdentityProviders struct {
	SAML  *SAML            `json:"saml,omitempty"`
	LDAP  *LDAP            `json:"ldap,omitempty"`
	OAuth map[string]OAuth `json:"oauth,omitempty"` // by auth service: gitlab, google, office365, openid
}

// SAML is where logins are sent.
type SAML struct {
	IdpURL         string `json:"idp_url,omitempty"`
	IdpMetadataURL string `json:"idp_metadata_url,omitempty"`
}

// LDAP is the directory server.
type LDAP struct {
	Server                      string `json:"server"`
	Port                        int    `json:"port,omitempty"`
	ConnectionSecurity          string `json:"connection_security,omitempty"`
	SkipCertificateVerification bool   `json:"skip_certificate_verification,omitempty"`
}

// OAuth is an OAuth or OpenID Connect provider's endpoints.
type OAuth struct {
	DiscoveryEndpoint string `json:"discovery_endpoint,omitempty"`
	AuthEndpoint      string `json:"auth_endpoint,omitempty"`
	TokenEndpoint     string `json:"token_endpoint,omitempty"`
}

var oauthServices = []string{model.ServiceGitlab, model.ServiceGoogle, model.ServiceOffice365, model.ServiceOpenid}

// IdentityProvidersOf picks the enabled providers of Mattermost's configuration (nil: none).
// URLs lose their user info, and a query parameter named like a secret is dropped.
func IdentityProvidersOf(cfg *model.Config) (*IdentityProviders, []string) {
	if cfg == nil {
		return nil, nil
	}
	b := &builder{}
	var ip IdentityProviders
	if on(cfg.SamlSettings.Enable) {
		ip.SAML = &SAML{IdpURL: b.pageURL("SamlSettings.IdpURL", str(cfg.SamlSettings.IdpURL)),
			IdpMetadataURL: b.pageURL("SamlSettings.IdpMetadataURL", str(cfg.SamlSettings.IdpMetadataURL))}
	}
	if l := cfg.LdapSettings; on(l.Enable) {
		ip.LDAP = &LDAP{Server: str(l.LdapServer), ConnectionSecurity: str(l.ConnectionSecurity), SkipCertificateVerification: on(l.SkipCertificateVerification)}
		if l.LdapPort != nil {
			ip.LDAP.Port = *l.LdapPort
		}
	}
	for _, svc := range oauthServices {
		s := cfg.GetSSOService(svc)
		if s == nil || !on(s.Enable) {
			continue
		}
		if ip.OAuth == nil {
			ip.OAuth = map[string]OAuth{}
		}
		ip.OAuth[svc] = OAuth{DiscoveryEndpoint: b.pageURL(svc+".DiscoveryEndpoint", str(s.DiscoveryEndpoint)),
			AuthEndpoint: b.pageURL(svc+".AuthEndpoint", str(s.AuthEndpoint)), TokenEndpoint: b.pageURL(svc+".TokenEndpoint", str(s.TokenEndpoint))}
	}
	if ip.SAML == nil && ip.LDAP == nil && ip.OAuth == nil {
		return nil, b.omitted
	}
	return &ip, b.omitted
}

// Config is a Mattermost configuration that enables exactly these providers at these
// addresses: what the identity provider probe reads. It holds no credential, so an LDAP check
// from it connects without binding.
func (ip *IdentityProviders) Config() *model.Config {
	cfg := &model.Config{}
	cfg.SetDefaults()
	if ip == nil {
		return cfg
	}
	if ip.SAML != nil {
		cfg.SamlSettings.Enable = model.NewPointer(true)
		cfg.SamlSettings.IdpURL = model.NewPointer(ip.SAML.IdpURL)
		cfg.SamlSettings.IdpMetadataURL = model.NewPointer(ip.SAML.IdpMetadataURL)
	}
	if ip.LDAP != nil {
		cfg.LdapSettings.Enable = model.NewPointer(true)
		cfg.LdapSettings.LdapServer = model.NewPointer(ip.LDAP.Server)
		cfg.LdapSettings.ConnectionSecurity = model.NewPointer(ip.LDAP.ConnectionSecurity)
		cfg.LdapSettings.SkipCertificateVerification = model.NewPointer(ip.LDAP.SkipCertificateVerification)
		if ip.LDAP.Port > 0 {
			cfg.LdapSettings.LdapPort = model.NewPointer(ip.LDAP.Port)
		}
		cfg.LdapSettings.BindPassword = model.NewPointer("")
	}
	for svc, o := range ip.OAuth {
		s := cfg.GetSSOService(svc)
		if s == nil {
			continue
		}
		s.Enable = model.NewPointer(true)
		s.DiscoveryEndpoint = model.NewPointer(o.DiscoveryEndpoint)
		s.AuthEndpoint = model.NewPointer(o.AuthEndpoint)
		s.TokenEndpoint = model.NewPointer(o.TokenEndpoint)
	}
	return cfg
}

func on(b *bool) bool { return b != nil && *b }

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
