package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// demoConfig is `tulpar demo --print-config` moved to a data directory of
// the test's, with the TLS certificate the config names made there.
func demoConfig(t *testing.T) string {
	t.Helper()
	var cfg, errOut bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"demo", "--print-config"}, &cfg, &errOut), errOut.String())
	dir := t.TempDir()
	tdir := filepath.Join(dir, "tls")
	require.NoError(t, os.Mkdir(tdir, 0o700))
	ca, err := tlsconf.NewCA(tdir, "test")
	require.NoError(t, err)
	_, _, err = ca.Issue(tdir, "server", "127.0.0.1")
	require.NoError(t, err)
	return strings.ReplaceAll(cfg.String(), "/var/lib/tulpar", dir)
}

func TestServeCheckAcceptsTheDemoConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tulpar.yaml")
	require.NoError(t, os.WriteFile(path, []byte(demoConfig(t)), 0o600))
	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"serve", "--config", path, "--check"}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "OK")
}

func TestServeCheckNamesBadKeys(t *testing.T) {
	text := demoConfig(t)
	cases := []struct {
		name, old, new, want string
	}{
		{"typo in a key", "echo_interval: 10s", "echo_intervall: 10s", "echo_intervall"},
		{"bad dialect", "dialect: ascii", "dialect: ebcdic", "dialect"},
		{"unknown bank in routing", "name: alatau-sim\n", "name: nowhere\n", "nowhere"},
		{"bad mcc", `mcc: "5411"`, `mcc: "54"`, "mcc"},
		{"missing certificate", "server.pem", "nowhere.pem", "tls.cert_file"},
		{"plain http beside tls", "plain_http: false", "plain_http: true", "plain_http"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, text, tc.old)
			path := filepath.Join(t.TempDir(), "tulpar.yaml")
			require.NoError(t, os.WriteFile(path, []byte(strings.Replace(text, tc.old, tc.new, 1)), 0o600))
			var out, errOut bytes.Buffer
			require.Equal(t, exitFail, run(context.Background(), []string{"serve", "--config", path, "--check"}, &out, &errOut))
			require.Contains(t, errOut.String(), tc.want)
		})
	}
	var out, errOut bytes.Buffer
	require.Equal(t, exitUsage, run(context.Background(), []string{"serve"}, &out, &errOut))
	require.Contains(t, errOut.String(), "--config is required")
}
