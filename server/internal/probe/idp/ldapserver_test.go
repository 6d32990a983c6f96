package idp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"
)

// testCert is a self-signed certificate for 127.0.0.1 and the pool that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dr-test-ldap"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// ldapServer is a tiny LDAP server speaking the real wire protocol (BER over TCP, RFC 4511)
// for what the probe sends: simple bind, StartTLS and unbind. It accepts one bind DN and
// password and answers invalidCredentials (49) to anything else.
type ldapServer struct {
	l        net.Listener
	dn, pass string
	tls      *tls.Config // for StartTLS; nil refuses it
	wg       sync.WaitGroup
	mu       sync.Mutex
	binds    []string // DNs bound, successfully or not
}

func startLDAPServer(t *testing.T, l net.Listener, dn, pass string, startTLS *tls.Config) *ldapServer {
	t.Helper()
	s := &ldapServer{l: l, dn: dn, pass: pass, tls: startTLS}
	s.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() { s.serve(c) })
		}
	})
	t.Cleanup(func() { l.Close(); s.wg.Wait() })
	return s
}

func (s *ldapServer) serve(c net.Conn) {
	defer func() { c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	for {
		p, err := ber.ReadPacket(c)
		if err != nil || len(p.Children) < 2 {
			return
		}
		id, op := p.Children[0].Value, p.Children[1]
		switch op.Tag {
		case ldap.ApplicationBindRequest:
			if len(op.Children) < 3 {
				return
			}
			dn, _ := op.Children[1].Value.(string)
			pass := op.Children[2].Data.String() // [0] simple: the password's bytes
			s.mu.Lock()
			s.binds = append(s.binds, dn)
			s.mu.Unlock()
			code, msg := ldap.LDAPResultSuccess, ""
			if dn != s.dn || pass != s.pass {
				code, msg = ldap.LDAPResultInvalidCredentials, "invalid credentials"
			}
			if reply(c, id, ldap.ApplicationBindResponse, code, msg) != nil {
				return
			}
		case ldap.ApplicationExtendedRequest:
			oid := ""
			if len(op.Children) > 0 {
				oid = op.Children[0].Data.String()
			}
			if oid != "1.3.6.1.4.1.1466.20037" || s.tls == nil {
				_ = reply(c, id, ldap.ApplicationExtendedResponse, ldap.LDAPResultProtocolError, "unsupported")
				return
			}
			if reply(c, id, ldap.ApplicationExtendedResponse, ldap.LDAPResultSuccess, "") != nil {
				return
			}
			tc := tls.Server(c, s.tls)
			if tc.Handshake() != nil {
				return
			}
			c = tc
		default: // unbind, or anything else: done
			return
		}
	}
}

func reply(c net.Conn, id any, op ber.Tag, code int, msg string) error {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Response")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	r := ber.Encode(ber.ClassApplication, ber.TypeConstructed, op, nil, "Response")
	r.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(code), "resultCode"))
	r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
	r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, msg, "diagnosticMessage"))
	p.AppendChild(r)
	_, err := c.Write(p.Bytes())
	return err
}

func (s *ldapServer) bound() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.binds...)
}
