package daemon_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// FuzzParseConfig: the config file is outside input. Any bytes either
// give a config that validates or an error; never a panic.
func FuzzParseConfig(f *testing.F) {
	cfg, _ := switchtest.Config(f, switchtest.Options{DataDir: f.TempDir()}, "127.0.0.1:8583")
	whole, err := yaml.Marshal(cfg)
	require.NoError(f, err)
	f.Add(whole)
	f.Add([]byte("data_dir: /x\nlisten: :1\n"))
	f.Add([]byte("links: [{name: a, dialect: ascii, addrs: ['h:1']}]\n"))
	// What the demo adds to a one-bank config: a bank that dials in, and
	// routing by brand with weights.
	f.Add([]byte("links: [{name: b, dialect: binary, side: listen, listen: '127.0.0.1:0'}]\n" +
		"routing: {rules: [{name: r, brands: [mir], banks: [{name: b, weight: 50}]}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := daemon.ParseConfig(data)
		if err == nil {
			require.NoError(t, c.Validate())
		}
	})
}
