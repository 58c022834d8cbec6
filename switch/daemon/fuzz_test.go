package daemon

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// FuzzParseConfig: the config file is outside input. Any bytes either
// give a config that validates or an error; never a panic.
func FuzzParseConfig(f *testing.F) {
	cfg, _, err := DemoConfig("/var/lib/tulpar", "127.0.0.1:8080", "http://127.0.0.1:8443", "127.0.0.1:8583")
	require.NoError(f, err)
	demo, err := yaml.Marshal(cfg)
	require.NoError(f, err)
	f.Add(demo)
	f.Add([]byte("data_dir: /x\nlisten: :1\n"))
	f.Add([]byte("links: [{name: a, dialect: ascii, addrs: ['h:1']}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err == nil {
			require.NoError(t, c.Validate())
		}
	})
}
