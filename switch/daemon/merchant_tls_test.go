package daemon_test

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// Mutual TLS per merchant: a merchant that pins its client certificate is
// let in with it only; the right password over TLS without it, or with
// another certificate, is refused. Merchants without pins are unaffected.
func TestMerchantPinnedClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlsconf.NewCA(dir, "switch")
	require.NoError(t, err)
	srvCert, srvKey, err := ca.Issue(dir, "server", "127.0.0.1")
	require.NoError(t, err)
	// The shop's own self-signed-style certificates: any issuer, pinned.
	shopCA, err := tlsconf.NewCA(t.TempDir(), "shop")
	require.NoError(t, err)
	shopCert, shopKey, err := shopCA.Issue(t.TempDir(), "shop-client", "shop")
	require.NoError(t, err)
	otherCert, otherKey, err := shopCA.Issue(t.TempDir(), "other-client", "other")
	require.NoError(t, err)
	pair, err := tls.LoadX509KeyPair(shopCert, shopKey)
	require.NoError(t, err)
	pin := sha256.Sum256(pair.Certificate[0])

	s := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.PlainHTTP = false
		c.TLS = &tlsconf.Config{CertFile: srvCert, KeyFile: srvKey, ClientAuth: "pin"}
		c.PublicURL = ""
		c.API.Merchants[0].ClientCertSHA256 = []string{hex.EncodeToString(pin[:])}
	}})
	require.True(t, strings.HasPrefix(s.URL(), "https://"), s.URL())

	status := func(cert, key string) string {
		src, err := tlsconf.NewSource(tlsconf.Config{CertFile: cert, KeyFile: key, CAFile: ca.File})
		require.NoError(t, err)
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: src.Client("127.0.0.1")}}
		form := url.Values{"userName": {s.Secrets.UserName}, "password": {s.Secrets.Password}, "orderId": {"none"}, "language": {"en"}}
		resp, err := hc.PostForm(s.URL()+"/payment/rest/getOrderStatusExtended.do", form)
		require.NoError(t, err)
		defer resp.Body.Close()
		var ans map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans))
		return ans["errorCode"].(string) + " " + ans["errorMessage"].(string)
	}
	require.Equal(t, "5 Access denied", status("", ""), "no client certificate")
	require.Equal(t, "5 Access denied", status(otherCert, otherKey), "another certificate")
	require.Contains(t, status(shopCert, shopKey), "6 ", "the pinned certificate gets past sign-in to 'no such order'")

	cfg, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	cfg.API.Merchants[0].ClientCertSHA256 = []string{hex.EncodeToString(pin[:])}
	require.ErrorContains(t, cfg.Validate(), "api.merchants[0].client_cert_sha256: needs tls.client_auth")
	cfg.API.Merchants[0].ClientCertSHA256 = []string{"abc"}
	require.ErrorContains(t, cfg.Validate(), "api: merchants[0].client_cert_sha256[0]: the SHA-256 of the certificate's DER")
}

// TestServerErrorsInTheLog: what net/http reports outside any handler (a
// client that does not speak TLS to the TLS port) is a JSON line of the
// switch's log naming the server, not plain text on the standard logger.
func TestServerErrorsInTheLog(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlsconf.NewCA(dir, "switch")
	require.NoError(t, err)
	srvCert, srvKey, err := ca.Issue(dir, "server", "127.0.0.1")
	require.NoError(t, err)
	logs := &switchtest.LogBuffer{}
	s := switchtest.Run(t, switchtest.Options{Log: logs, Configure: func(c *daemon.Config) {
		c.PlainHTTP = false
		c.TLS = &tlsconf.Config{CertFile: srvCert, KeyFile: srvKey}
		c.PublicURL = ""
	}})
	u, err := url.Parse(s.URL())
	require.NoError(t, err)
	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	_, err = conn.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, conn) // the server answers in plain HTTP and closes
	require.NoError(t, conn.Close())
	var line map[string]any
	s.Eventually(func() bool {
		for _, l := range logs.Lines() {
			if strings.Contains(l, "TLS handshake error") {
				return json.Unmarshal([]byte(l), &line) == nil
			}
		}
		return false
	}, "the handshake error logged")
	require.Equal(t, "warn", line["level"])
	require.Equal(t, "merchant", line["server"])
	require.Contains(t, line["message"], "client sent an HTTP request to an HTTPS server")
}
