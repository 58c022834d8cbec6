package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/demo"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestServeRunsFromAConfigFile runs `tulpar serve --config FILE` as an
// operator would, against a simulated bank, takes a registration through
// the merchant API, and stops it the way SIGTERM does (its context ends).
func TestServeRunsFromAConfigFile(t *testing.T) {
	bcfg := issuersim.DefaultConfig()
	bcfg.Name, bcfg.Listen, bcfg.AcquirerID = demo.BankASCII, "127.0.0.1:0", "400001"
	bank, err := issuersim.New(bcfg, zerolog.Nop(), nil)
	require.NoError(t, err)
	require.NoError(t, bank.Start(context.Background()))
	t.Cleanup(func() { bank.Close() })

	dir := t.TempDir()
	listen := freeAddr(t)
	cfg, secrets, err := demo.SwitchConfig(dir, listen, "", bank.Addr())
	require.NoError(t, err)
	cfg.HSM.MasterKeyFile, cfg.HSM.KeyStore = "", "" // ephemeral keys: nothing to set up
	cfg.AdminListen = ""
	// The certificate the config names, of a CA the client below trusts.
	ca, err := tlsconf.NewCA(t.TempDir(), "test")
	require.NoError(t, err)
	cfg.TLS.CertFile, cfg.TLS.KeyFile, err = ca.Issue(t.TempDir(), "server", "127.0.0.1")
	require.NoError(t, err)
	hc, err := tlsconf.HTTPClient(ca.File)
	require.NoError(t, err)
	// The demo config routes to two banks and only one runs here: the
	// switch opens with it once start_wait has passed.
	cfg.StartWait = 50 * time.Millisecond
	data, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "tulpar.yaml")
	require.NoError(t, os.WriteFile(path, data, 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() { done <- run(ctx, []string{"serve", "--config", path}, io.Discard, &stderr) }()

	base := "https://" + listen
	require.Eventually(t, func() bool {
		resp, err := hc.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 10*time.Millisecond, "serve becomes ready once its bank link is signed on")

	resp, err := hc.PostForm(base+"/payment/rest/register.do", url.Values{"userName": {secrets.UserName}, "password": {secrets.Password},
		"orderNumber": {"serve-1"}, "amount": {"500"}, "returnUrl": {"https://shop.example.kz/ok"}})
	require.NoError(t, err)
	var reg map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&reg))
	resp.Body.Close()
	require.NotEmpty(t, reg["orderId"], "%v", reg)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, exitOK, code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	require.FileExists(t, filepath.Join(dir, journal.DataFile))
}
