package idp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/redact"
)

// ldap checks the directory as Mattermost reaches it: a TCP connection to
// LdapServer:LdapPort, the TLS handshake (LDAPS) or StartTLS that ConnectionSecurity asks for,
// and a bind as BindUsername when a bind password is set (Mattermost binds so before every
// LDAP login). A directory that refuses the bind is down for Mattermost.
func (c *checker) ldap(ctx context.Context, s model.LdapSettings) outcome {
	var out outcome
	host := str(s.LdapServer)
	if host == "" {
		out.unknown = errors.New("LdapSettings.LdapServer is not set")
		return out
	}
	security := str(s.ConnectionSecurity)
	port := 389
	if security == model.ConnSecurityTLS {
		port = 636
	}
	if s.LdapPort != nil && *s.LdapPort > 0 {
		port = *s.LdapPort
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	out.checked = append(out.checked, "ldap "+addr)
	password := ""
	if s.BindPassword != nil {
		password = *s.BindPassword
	}
	if err := c.ldapSession(ctx, s, addr, host, security, password, &out); err != nil {
		out.down = errors.New(redact.Secrets(err.Error(), redact.Mask, password))
	}
	return out
}

func (c *checker) ldapSession(ctx context.Context, s model.LdapSettings, addr, host, security, password string, out *outcome) error {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer raw.Close()
	// Every read and write below ends by ctx's deadline, or at once when ctx is cancelled:
	// go-ldap takes no context.
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Now()) })
	defer stop()

	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.opts.LDAPTLSConfig != nil {
		tlsCfg = c.opts.LDAPTLSConfig.Clone()
	}
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = host
	}
	if on(s.SkipCertificateVerification) {
		tlsCfg.InsecureSkipVerify = true //nolint:gosec // the administrator's LdapSettings.SkipCertificateVerification, as Mattermost applies it
	}

	conn := raw
	detail := "TCP connection"
	if security == model.ConnSecurityTLS {
		tc := tls.Client(raw, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		conn = tc
		detail = "TLS handshake (" + tls.VersionName(tc.ConnectionState().Version) + ")"
	}
	bindUser := str(s.BindUsername)
	bind := bindUser != "" && password != ""
	if security != model.ConnSecurityStarttls && !bind {
		out.detail = detail + " ok; no bind checked (no bind user and password)"
		return nil
	}

	l := ldap.NewConn(conn, security == model.ConnSecurityTLS)
	l.Start()
	defer l.Close()
	if dl, ok := ctx.Deadline(); ok {
		l.SetTimeout(time.Until(dl))
	}
	if security == model.ConnSecurityStarttls {
		if err := l.StartTLS(tlsCfg); err != nil {
			return fmt.Errorf("StartTLS with %s: %w", addr, err)
		}
		detail = "StartTLS"
		if st, ok := l.TLSConnectionState(); ok {
			detail += " (" + tls.VersionName(st.Version) + ")"
		}
	}
	if !bind {
		out.detail = detail + " ok; no bind checked (no bind user and password)"
		return nil
	}
	if err := l.Bind(bindUser, password); err != nil {
		return fmt.Errorf("bind as %s on %s: %w", bindUser, addr, err)
	}
	out.detail = detail + " ok; bind as " + bindUser + " ok"
	return nil
}
