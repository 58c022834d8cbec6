package cabinet_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// The cabinet speaks only TLS on its port: a client that trusts the CA
// gets the pages, one that does not gets no handshake, and plain HTTP gets
// the TLS server's refusal and nothing of the cabinet.
func TestCabinetTLS(t *testing.T) {
	s := newStack(t)
	base := s.D.CabinetURL()
	require.True(t, strings.HasPrefix(base, "https://"), base)

	resp, err := s.TLS.Client().Get(base + "/login")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotNil(t, resp.TLS)
	require.GreaterOrEqual(t, resp.TLS.Version, uint16(tls.VersionTLS12))
	require.Contains(t, resp.Header.Values("Set-Cookie")[0], "__Host-", "over https the cookies are Secure and host-only")

	_, err = http.Get(base + "/login")
	var unknown x509.UnknownAuthorityError
	require.True(t, errors.As(err, &unknown), "a client that does not trust the CA: %v", err)

	u, err := url.Parse(base)
	require.NoError(t, err)
	plain, err := http.Get("http://" + u.Host + "/login")
	require.NoError(t, err, "Go's TLS server answers plain HTTP with a 400 of its own")
	body, _ := io.ReadAll(plain.Body)
	plain.Body.Close()
	require.Equal(t, http.StatusBadRequest, plain.StatusCode)
	require.Contains(t, string(body), "HTTPS server")
	require.NotContains(t, string(body), "csrf")
	require.Empty(t, plain.Header.Values("Set-Cookie"))
}

// Every answer of the cabinet carries the daemon's security headers, its
// pages their own narrow policy (no script at all), and pages and files
// with data are never stored.
func TestCabinetSecurityHeaders(t *testing.T) {
	s := newStack(t)
	o := s.paid(switchtest.Merchant, 10_000, false)
	c, _ := s.signedIn(merchantLogin)
	for path, want := range map[string]int{"/login": http.StatusOK, "/orders": http.StatusOK, "/orders/" + o.ID: http.StatusOK,
		"/orders/export.csv": http.StatusOK, "/reports": http.StatusOK, "/settings": http.StatusOK,
		"/orders/nobody": http.StatusNotFound, "/assets/cabinet.css": http.StatusOK} {
		t.Run(path, func(t *testing.T) {
			from := c
			if path == "/login" {
				from = s.client()
			}
			p := from.get(path)
			require.Equal(t, want, p.status)
			h := p.header
			csp := h.Get("Content-Security-Policy")
			require.Contains(t, csp, "frame-ancestors 'none'")
			require.Contains(t, csp, "default-src 'none'")
			require.NotContains(t, csp, "script-src")
			require.NotContains(t, csp, "unsafe-inline")
			require.Equal(t, "DENY", h.Get("X-Frame-Options"))
			require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
			require.Contains(t, h.Get("Strict-Transport-Security"), "max-age=")
			if path != "/assets/cabinet.css" {
				require.Equal(t, "no-store", h.Get("Cache-Control"))
			}
		})
	}
}

// Without a cabinet_tls section the cabinet serves the tls section's
// certificate, and asks no browser for the client certificate that
// section demands of merchants' servers; with neither, and no plain_http,
// the config is refused.
func TestCabinetTLSFromTheMainSection(t *testing.T) {
	cert := switchtest.NewTLS(t)
	sw := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.CabinetListen, c.PlainHTTP = "127.0.0.1:0", false
		main := cert.Server
		main.CAFile, main.ClientAuth = cert.CAFile, "require"
		c.TLS = &main
	}})
	base := sw.D.CabinetURL()
	require.True(t, strings.HasPrefix(base, "https://"), base)
	resp, err := cert.Client().Get(base + "/login")
	require.NoError(t, err, "no client certificate asked")
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	cfg, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	cfg.CabinetListen, cfg.PlainHTTP, cfg.TLS = "127.0.0.1:0", false, &tlsconf.Config{CertFile: cert.Server.CertFile, KeyFile: cert.Server.KeyFile}
	require.NoError(t, cfg.Validate())
	cfg.TLS, cfg.PlainHTTP = nil, true
	require.NoError(t, cfg.Validate(), "plain_http: true says so for both ports")
	cfg.PlainHTTP, cfg.CabinetTLS = false, &cert.Server
	require.ErrorContains(t, cfg.Validate(), "config: tls: cert_file and key_file are required", "the merchants' port still needs its own")
}
