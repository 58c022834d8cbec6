package links

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestValidate(t *testing.T) {
	ok := func() Config { return Config{Name: "halyk", Dialect: "ascii", Addrs: []string{"10.0.0.1:5000"}} }
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // "" valid
	}{
		{"minimal dial", func(*Config) {}, ""},
		{"listen", func(c *Config) { c.Side, c.Addrs, c.Listen = SideListen, nil, ":7000" }, ""},
		{"no name", func(c *Config) { c.Name = "" }, `links: bank "": name: required`},
		{"no dialect", func(c *Config) { c.Dialect = "" }, `links: bank "halyk": dialect: required`},
		{"unknown dialect", func(c *Config) { c.Dialect = "ebcdic" }, `links: bank "halyk": dialect "ebcdic": unknown`},
		{"bad addr", func(c *Config) { c.Addrs = append(c.Addrs, "x:y") }, `links: bank "halyk": addrs[1] "x:y": invalid host:port`},
		{"addr without host", func(c *Config) { c.Addrs = []string{":5000"} }, `addrs[0] ":5000": invalid host:port`},
		{"port 0 to dial", func(c *Config) { c.Addrs = []string{"h:0"} }, `addrs[0] "h:0": invalid host:port`},
		{"no addrs", func(c *Config) { c.Addrs = nil }, `addrs: at least one host:port required`},
		{"listen on dial side", func(c *Config) { c.Listen = ":1" }, `listen: only for side "listen"`},
		{"listen without address", func(c *Config) { c.Side, c.Addrs = SideListen, nil }, `listen: host:port required`},
		{"listen bad", func(c *Config) { c.Side, c.Addrs, c.Listen = SideListen, nil, "nope" }, `listen "nope": invalid host:port`},
		{"addrs on listen side", func(c *Config) { c.Side, c.Listen = SideListen, ":1" }, `addrs: only for side "dial"`},
		{"bad side", func(c *Config) { c.Side = "both" }, `side "both": must be "dial" or "listen"`},
		{"pool", func(c *Config) { c.PoolSize = 100 }, `pool_size 100: must be 1..64`},
		{"negative timeout", func(c *Config) { c.RequestTimeout = -time.Second }, `request_timeout -1s: must not be negative`},
		{"backoff order", func(c *Config) { c.Backoff = Backoff{Min: time.Minute, Max: time.Second} }, `backoff.min 1m0s: greater than backoff.max 1s`},
		{"read timeout", func(c *Config) { c.EchoInterval, c.ReadTimeout = time.Minute, time.Second }, `read_timeout 1s: must exceed echo_interval 1m0s`},
		{"mac key", func(c *Config) { c.MAC.Enabled = true }, `mac.key_id: required when mac.enabled`},
		{"acquirer", func(c *Config) { c.AcquirerID = "12AB" }, `acquirer_id "12AB": must be 1..11 digits`},
		{"in flight", func(c *Config) { c.MaxInFlight = -1 }, `max_in_flight -1: must not be negative`},
		{"match key", func(c *Config) { c.MatchKey = []string{"mti_class", "stan"} }, ""},
		{"match key unknown", func(c *Config) { c.MatchKey = []string{"mti_class", "stan", "de7"} },
			`links: bank "halyk": match_key[2] "de7": unknown (one of mti_class, stan, terminal, acquirer, acquirer_if_echoed, rrn)`},
		{"match key twice", func(c *Config) { c.MatchKey = []string{"mti_class", "stan", "stan"} }, `match_key[2] "stan": given twice`},
		{"match key without stan", func(c *Config) { c.MatchKey = []string{"mti_class", "terminal"} }, `links: bank "halyk": match_key: must include mti_class and stan`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.mod(&c)
			err := c.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Config{Name: "x", Dialect: "nope", Addrs: []string{"a", "b:c"}}.Validate()
	require.Error(t, err)
	for _, want := range []string{`dialect "nope"`, `addrs[0] "a"`, `addrs[1] "b:c"`} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestConfigYAMLAndDefaults(t *testing.T) {
	var c Config
	require.NoError(t, yaml.Unmarshal([]byte(`
name: halyk
dialect: binary
side: dial
addrs: [10.0.0.1:5000, 10.0.0.2:5000]
pool_size: 2
sign_on: false
echo_interval: 20s
request_timeout: 8s
max_in_flight: 64
backoff: {min: 1s, max: 1m}
mac: {enabled: true, key_id: halyk-mac}
acquirer_id: "400123"
match_key: [mti_class, stan, terminal, acquirer]
`), &c))
	require.NoError(t, c.Validate())
	assert.False(t, c.SignsOn())
	d := c.withDefaults()
	assert.Equal(t, 20*time.Second, d.EchoInterval)
	assert.Equal(t, 60*time.Second, d.ReadTimeout, "3 × echo_interval")
	assert.Equal(t, 8*time.Second, d.RequestTimeout)
	assert.Equal(t, Backoff{Min: time.Second, Max: time.Minute}, d.Backoff)
	assert.Equal(t, MACConfig{Enabled: true, KeyID: "halyk-mac"}, d.MAC)
	assert.Equal(t, []string{"mti_class", "stan", "terminal", "acquirer"}, d.MatchKey)

	def := DefaultConfig("b", "ascii", "h:1")
	assert.True(t, def.SignsOn())
	assert.Equal(t, SideDial, def.Side)
	assert.Equal(t, DefaultPoolSize, def.PoolSize)
	assert.Equal(t, DefaultEchoInterval, def.EchoInterval)
	assert.Equal(t, 3*DefaultEchoInterval, def.ReadTimeout)
	assert.Equal(t, DefaultRequestTimeout, def.RequestTimeout)
	assert.Equal(t, DefaultMaxInFlight, def.MaxInFlight)
	assert.Equal(t, DefaultLateWindow, def.LateWindow)
	assert.Equal(t, []string{"mti_class", "stan", "terminal", "acquirer_if_echoed"}, def.MatchKey)
	require.NoError(t, def.Validate())
}
