package switchtest

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"os"
	"testing"

	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// TLS is a server certificate for 127.0.0.1 and localhost issued by a CA
// made for one test (tlsconf.NewCA), for a listener's tls section.
type TLS struct {
	// Server is the section: cert_file and key_file.
	Server tlsconf.Config
	// CAFile is the CA's certificate, for clients to trust.
	CAFile string
	t      testing.TB
}

// NewTLS makes a CA and a server certificate in a temporary directory.
func NewTLS(t testing.TB) *TLS {
	t.Helper()
	dir := t.TempDir()
	ca, err := tlsconf.NewCA(dir, "test")
	if err != nil {
		t.Fatalf("test CA: %v", err)
	}
	cert, key, err := ca.Issue(dir, "server", "127.0.0.1", "localhost", "::1")
	if err != nil {
		t.Fatalf("test certificate: %v", err)
	}
	return &TLS{Server: tlsconf.Config{CertFile: cert, KeyFile: key}, CAFile: ca.File, t: t}
}

// Client is an HTTP client that trusts the test's CA and no other.
func (c *TLS) Client() *http.Client {
	c.t.Helper()
	hc, err := tlsconf.HTTPClient(c.CAFile)
	if err != nil {
		c.t.Fatalf("test CA client: %v", err)
	}
	return hc
}

// SPKI is the base64 SHA-256 of the server certificate's public key, what
// Chromium's --ignore-certificate-errors-spki-list takes: a browser test
// trusts this one test certificate, not every certificate, and Chromium
// on Linux has no trust store a test could add a CA to without NSS tools.
func (c *TLS) SPKI() string {
	c.t.Helper()
	raw, err := os.ReadFile(c.Server.CertFile)
	if err != nil {
		c.t.Fatalf("test certificate: %v", err)
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		c.t.Fatalf("test certificate %s: no PEM block", c.Server.CertFile)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		c.t.Fatalf("test certificate: %v", err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}
