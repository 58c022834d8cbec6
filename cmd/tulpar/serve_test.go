package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServeCheckAcceptsTheDemoConfig(t *testing.T) {
	var cfg, errOut bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"demo", "--print-config"}, &cfg, &errOut), errOut.String())
	path := filepath.Join(t.TempDir(), "tulpar.yaml")
	require.NoError(t, os.WriteFile(path, cfg.Bytes(), 0o600))
	var out bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"serve", "--config", path, "--check"}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "OK")
}

func TestServeCheckNamesBadKeys(t *testing.T) {
	var cfg, errOut bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"demo", "--print-config"}, &cfg, &errOut))
	cases := []struct {
		name, old, new, want string
	}{
		{"typo in a key", "echo_interval: 10s", "echo_intervall: 10s", "echo_intervall"},
		{"bad dialect", "dialect: ascii", "dialect: ebcdic", "dialect"},
		{"unknown bank in routing", "name: alatau-sim\n", "name: nowhere\n", "nowhere"},
		{"bad mcc", `mcc: "5411"`, `mcc: "54"`, "mcc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := cfg.String()
			require.Contains(t, text, tc.old)
			path := filepath.Join(t.TempDir(), "tulpar.yaml")
			require.NoError(t, os.WriteFile(path, []byte(strings.Replace(text, tc.old, tc.new, 1)), 0o600))
			var out, errOut bytes.Buffer
			require.Equal(t, exitFail, run(context.Background(), []string{"serve", "--config", path, "--check"}, &out, &errOut))
			require.Contains(t, errOut.String(), tc.want)
		})
	}
	var out bytes.Buffer
	errOut.Reset()
	require.Equal(t, exitUsage, run(context.Background(), []string{"serve"}, &out, &errOut))
	require.Contains(t, errOut.String(), "--config is required")
}
