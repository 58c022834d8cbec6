package tlsconf

import (
	"bufio"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// serve accepts TLS connections on loopback and answers one line each.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if tc, ok := c.(*tls.Conn); ok && tc.Handshake() != nil {
					return
				}
				c.Write([]byte("hello\n"))
			}()
		}
	}()
	return ln.Addr().String()
}

func hello(t *testing.T, addr string, cfg *tls.Config) error {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA(dir, "test")
	require.NoError(t, err)
	srvCert, srvKey, err := ca.Issue(dir, "server", "127.0.0.1", "localhost")
	require.NoError(t, err)
	cliCert, cliKey, err := ca.Issue(dir, "client")
	require.NoError(t, err)
	other, err := NewCA(dir, "other")
	require.NoError(t, err)
	badCert, badKey, err := other.Issue(dir, "intruder")
	require.NoError(t, err)

	server := Config{CertFile: srvCert, KeyFile: srvKey, CAFile: ca.File, ClientAuth: "require"}
	require.NoError(t, server.Validate("tls", true))
	src, err := NewSource(server)
	require.NoError(t, err)
	addr := serve(t, src.Server())

	client := func(cert, key string) *tls.Config {
		c, err := NewSource(Config{CAFile: ca.File, CertFile: cert, KeyFile: key})
		require.NoError(t, err)
		return c.Client("127.0.0.1")
	}
	require.NoError(t, hello(t, addr, client(cliCert, cliKey)), "a client with a certificate of our CA")
	require.Error(t, hello(t, addr, client(badCert, badKey)), "a certificate of another CA is refused")
	require.Error(t, hello(t, addr, client("", "")), "no client certificate, no connection")

	old := client(cliCert, cliKey)
	old.MaxVersion = tls.VersionTLS11
	require.Error(t, hello(t, addr, old), "TLS 1.1 is refused")

	plain, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	plain.SetDeadline(time.Now().Add(5 * time.Second))
	plain.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	_, err = bufio.NewReader(plain).ReadString('\n')
	require.Error(t, err, "a plain connection to a TLS port gets nothing")
	plain.Close()
}

// A renewed certificate takes effect without a restart.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA(dir, "test")
	require.NoError(t, err)
	cert, key, err := ca.Issue(dir, "server", "127.0.0.1")
	require.NoError(t, err)
	src, err := NewSource(Config{CertFile: cert, KeyFile: key, Reload: time.Nanosecond})
	require.NoError(t, err)
	addr := serve(t, src.Server())

	trust := func(caFile string) *tls.Config {
		c, err := NewSource(Config{CAFile: caFile})
		require.NoError(t, err)
		return c.Client("127.0.0.1")
	}
	require.NoError(t, hello(t, addr, trust(ca.File)))
	// The certificate is replaced by one of a new CA, under the same names.
	ca2, err := NewCA(dir, "renewed")
	require.NoError(t, err)
	_, _, err = ca2.Issue(dir, "server", "127.0.0.1")
	require.NoError(t, err)
	require.Error(t, hello(t, addr, trust(ca.File)), "the old CA no longer matches")
	require.NoError(t, hello(t, addr, trust(ca2.File)), "the new certificate is served")
}

func TestValidateNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		cfg    Config
		server bool
		want   string
	}{
		{Config{CertFile: "x"}, true, "tls.cert_file, tls.key_file: give both or neither"},
		{Config{}, true, "tls.cert_file: a TLS server needs its certificate"},
		{Config{CertFile: "/nope", KeyFile: "/nope", ClientAuth: "maybe"}, true, "tls.client_auth"},
		{Config{ClientAuth: "require"}, false, "tls.client_auth: only a server"},
		{Config{CAFile: "/nope"}, false, "tls.ca_file"},
	} {
		require.ErrorContains(t, tc.cfg.Validate("tls", tc.server), tc.want)
	}
}
