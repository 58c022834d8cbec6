package cnp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/cnp"
	"github.com/tulpar-switch/tulpar/switch/daemon"
)

// selfSigned makes a certificate and its key for name.
func selfSigned(t *testing.T, name string, ip net.IP) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	if ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// serverCert is the service's TLS listener's certificate for 127.0.0.1,
// written to files as the config takes it.
func serverCert(t *testing.T) (server tls.Certificate, certFile, keyFile string) {
	t.Helper()
	server = selfSigned(t, "tulpar", net.ParseIP("127.0.0.1"))
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509.MarshalECPrivateKey(server.PrivateKey.(*ecdsa.PrivateKey))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate[0]}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return server, certFile, keyFile
}

func fingerprint(c tls.Certificate) string {
	h := sha256.Sum256(c.Certificate[0])
	return hex.EncodeToString(h[:])
}

// TestClientCertificates: a shop pinned by its TLS client certificate is
// let in only on the service's TLS listener, and only with that
// certificate; the WSDL served there points at the listener.
func TestClientCertificates(t *testing.T) {
	const certMID = "000000000000021"
	server, certFile, keyFile := serverCert(t)
	shopCert, stranger := selfSigned(t, "shop", nil), selfSigned(t, "stranger", nil)
	w := newWorld(t, func(c *daemon.Config) {
		m := c.Payments.Merchants[0]
		m.ID = "shop-tls"
		c.Payments.Merchants = append(c.Payments.Merchants, m)
		c.CNP.TLS = cnp.TLSConfig{Listen: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile}
		s := shopConfig()
		s.MerchantID, s.Merchant, s.AllowedIPs, s.ClientCertSHA256 = certMID, "shop-tls", nil, []string{fingerprint(shopCert)}
		c.CNP.Merchants = append(c.CNP.Merchants, s)
	})
	addr := w.D.CNPTLSAddr()
	require.NotEmpty(t, addr)
	roots := x509.NewCertPool()
	roots.AddCert(server.Leaf)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
	}
	body := envelope11("getTransactionStatus", el("merchantId", certMID)+el("referenceNr", "X"))
	post := func(hc *http.Client, base string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, base+service, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tlsBase := "https://" + addr
	status, b := post(client(shopCert), tlsBase)
	require.Equal(t, http.StatusOK, status, b)
	require.Contains(t, b, "NO_SUCH_TRANSACTION")
	status, _ = post(client(), tlsBase)
	require.Equal(t, http.StatusForbidden, status, "no client certificate")
	status, _ = post(client(stranger), tlsBase)
	require.Equal(t, http.StatusForbidden, status, "another certificate")
	status, _ = post(http.DefaultClient, w.URL())
	require.Equal(t, http.StatusForbidden, status, "the plain listener has no certificates to show")

	resp, err := client().Get(tlsBase + service + "?wsdl")
	require.NoError(t, err)
	wsdl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(wsdl), `location="`+tlsBase+service+`.CNPMerchantWebServiceHttpsSoap11Endpoint/"`)
	resp, err = client().Get(tlsBase + "/pay/x")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "the TLS listener serves the web service only")
}

// The service's TLS listener is there to see shops' client certificates,
// which only a direct connection shows: a trusted proxy's X-Forwarded-For
// is believed on the merchants' port, never on it, so a host trusted as a
// proxy cannot pass for a shop allowed by address there.
func TestTLSListenerBelievesNoProxy(t *testing.T) {
	const ipMID = "000000000000022"
	server, certFile, keyFile := serverCert(t)
	w := newWorld(t, func(c *daemon.Config) {
		c.HTTP.TrustedProxies = []string{"127.0.0.1"}
		m := c.Payments.Merchants[0]
		m.ID = "shop-ip"
		c.Payments.Merchants = append(c.Payments.Merchants, m)
		c.CNP.TLS = cnp.TLSConfig{Listen: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile}
		s := shopConfig()
		s.MerchantID, s.Merchant, s.AllowedIPs = ipMID, "shop-ip", []string{"203.0.113.10"}
		c.CNP.Merchants = append(c.CNP.Merchants, s)
	})
	roots := x509.NewCertPool()
	roots.AddCert(server.Leaf)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	post := func(base string) int {
		body := envelope11("getTransactionStatus", el("merchantId", ipMID)+el("referenceNr", "X"))
		req, err := http.NewRequest(http.MethodPost, base+service, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("X-Forwarded-For", "203.0.113.10")
		resp, err := hc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, post(w.URL()), "through the trusted proxy on the merchants' port: the shop's address")
	require.Equal(t, http.StatusForbidden, post("https://"+w.D.CNPTLSAddr()), "on the TLS listener the peer is the client")
}
