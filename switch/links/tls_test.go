package links

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// certs makes a CA and a certificate for 127.0.0.1 under it.
func certs(t *testing.T) (ca *tlsconf.CA, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := tlsconf.NewCA(dir, "bank")
	require.NoError(t, err)
	cert, key, err = ca.Issue(dir, "peer", "127.0.0.1")
	require.NoError(t, err)
	return ca, cert, key
}

func pool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(file)
	require.NoError(t, err)
	p := x509.NewCertPool()
	require.True(t, p.AppendCertsFromPEM(pem))
	return p
}

// A link dials a bank that speaks TLS: with the bank's CA it signs on;
// with another CA it never does.
func TestTLSDialSide(t *testing.T) {
	ca, cert, key := certs(t)
	kp, err := tls.LoadX509KeyPair(cert, key)
	require.NoError(t, err)
	bcfg := issuersim.DefaultConfig()
	bcfg.Name, bcfg.Listen = "tls-bank", "127.0.0.1:0"
	bcfg.TLS = &tls.Config{Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS12}
	bank, err := issuersim.New(bcfg, zerolog.Nop(), nil)
	require.NoError(t, err)
	require.NoError(t, bank.Start(context.Background()))
	t.Cleanup(func() { bank.Close() })

	run := func(caFile string) *Link {
		cfg := DefaultConfig("tls-bank", "ascii", bank.Addr())
		cfg.TLS = &tlsconf.Config{CAFile: caFile}
		cfg.Backoff = Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}
		l, err := New(cfg, Deps{Log: zerolog.Nop()})
		require.NoError(t, err)
		require.NoError(t, l.Start(context.Background()))
		t.Cleanup(func() { l.Close(context.Background()) })
		return l
	}
	good := run(ca.File)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, good.WaitReady(ctx), "signed on over TLS")

	other, _, _ := certs(t)
	bad := run(other.File)
	require.Eventually(t, func() bool { return bad.Status().TLSFailures >= 2 }, 10*time.Second, 5*time.Millisecond,
		"the handshake fails, and fails again on redial")
	require.False(t, bad.Ready(), "a bank certificate of another CA is never trusted")
}

// A link that listens with TLS and asks for client certificates takes the
// bank that has one of its CA, and refuses a plain connection.
func TestTLSListenSideMutual(t *testing.T) {
	ca, cert, key := certs(t)
	cfg := DefaultConfig("mtls-bank", "binary")
	cfg.Side, cfg.Listen = SideListen, "127.0.0.1:0"
	cfg.TLS = &tlsconf.Config{CertFile: cert, KeyFile: key, CAFile: ca.File, ClientAuth: "require"}
	l, err := New(cfg, Deps{Log: zerolog.Nop()})
	require.NoError(t, err)
	require.NoError(t, l.Start(context.Background()))
	t.Cleanup(func() { l.Close(context.Background()) })

	kp, err := tls.LoadX509KeyPair(cert, key)
	require.NoError(t, err)
	bcfg := issuersim.DefaultConfig()
	bcfg.Name, bcfg.Dialect, bcfg.Listen, bcfg.Dial = "mtls-bank", "binary", "", l.Addr()
	bcfg.TLS = &tls.Config{Certificates: []tls.Certificate{kp}, RootCAs: pool(t, ca.File), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	bank, err := issuersim.New(bcfg, zerolog.Nop(), nil)
	require.NoError(t, err)
	require.NoError(t, bank.Start(context.Background()))
	t.Cleanup(func() { bank.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, l.WaitReady(ctx), "the bank with a client certificate of our CA signs on")
}
