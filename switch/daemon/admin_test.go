package daemon_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// The admin endpoint hands out the whole data file: with a token set,
// nothing is served without it; off loopback, a token is required at all.
func TestAdminNeedsItsToken(t *testing.T) {
	sum := sha256.Sum256([]byte("operators-secret"))
	s := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.AdminListen, c.AdminTokenSHA256 = "127.0.0.1:0", hex.EncodeToString(sum[:])
	}})
	get := func(path, token string) int {
		req, err := http.NewRequest(http.MethodGet, s.D.AdminURL()+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/admin/links", "/admin/saf", "/admin/journal/snapshot", "/admin/journal/archives"} {
		require.Equal(t, http.StatusUnauthorized, get(path, ""), path)
		require.Equal(t, http.StatusUnauthorized, get(path, "guess"), path)
		require.Equal(t, http.StatusOK, get(path, "operators-secret"), path)
	}

	cfg, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	cfg.AdminListen = "0.0.0.0:9090"
	require.ErrorContains(t, cfg.Validate(), "admin_listen: 0.0.0.0:9090 is not a loopback address: set admin_token_sha256")
	cfg.AdminTokenSHA256 = hex.EncodeToString(sum[:])
	require.NoError(t, cfg.Validate())
	cfg.AdminTokenSHA256 = "abc"
	require.ErrorContains(t, cfg.Validate(), "admin_token_sha256: must be 64 hex digits")
}

// Mutual TLS on the admin listener: only a certificate of the operators'
// CA gets in, and a snapshot download names the certificate's subject.
func TestAdminOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlsconf.NewCA(dir, "operators")
	require.NoError(t, err)
	srvCert, srvKey, err := ca.Issue(dir, "admin", "127.0.0.1")
	require.NoError(t, err)
	opCert, opKey, err := ca.Issue(dir, "alice", "alice")
	require.NoError(t, err)
	other, err := tlsconf.NewCA(t.TempDir(), "strangers")
	require.NoError(t, err)
	badCert, badKey, err := other.Issue(t.TempDir(), "mallory", "mallory")
	require.NoError(t, err)

	var logs switchtest.LogBuffer
	s := switchtest.Run(t, switchtest.Options{Log: &logs, Configure: func(c *daemon.Config) {
		c.AdminListen = "127.0.0.1:0"
		c.AdminTLS = &tlsconf.Config{CertFile: srvCert, KeyFile: srvKey, CAFile: ca.File, ClientAuth: "require"}
	}})
	require.True(t, strings.HasPrefix(s.D.AdminURL(), "https://"), s.D.AdminURL())
	client := func(cert, key string) *http.Client {
		src, err := tlsconf.NewSource(tlsconf.Config{CertFile: cert, KeyFile: key, CAFile: ca.File})
		require.NoError(t, err)
		return &http.Client{Transport: &http.Transport{TLSClientConfig: src.Client("127.0.0.1")}}
	}
	resp, err := client(opCert, opKey).Get(s.D.AdminURL() + "/admin/journal/snapshot")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Regexp(t, `"operator":"cert:CN=alice,O=Tulpar",.*"message":"journal snapshot downloaded"`, logs.String())

	for name, c := range map[string]*http.Client{"no certificate": client("", ""), "another CA's certificate": client(badCert, badKey)} {
		_, err := c.Get(s.D.AdminURL() + "/admin/links")
		require.Error(t, err, name)
	}
	// Off loopback, mutual TLS is enough without a token.
	cfg, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	cfg.AdminListen = "0.0.0.0:9090"
	cfg.AdminTLS = &tlsconf.Config{CertFile: srvCert, KeyFile: srvKey, CAFile: ca.File, ClientAuth: "require"}
	require.NoError(t, cfg.Validate())
	cfg.AdminTLS.ClientAuth = "request"
	require.ErrorContains(t, cfg.Validate(), "admin_listen: 0.0.0.0:9090 is not a loopback address")
}
