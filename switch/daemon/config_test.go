package daemon_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tulpar-switch/tulpar/switch/callbacks"
	"github.com/tulpar-switch/tulpar/switch/cnp"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/receipt"
	"github.com/tulpar-switch/tulpar/switch/reportmail"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// Timeouts are checked against each other at start, and each error names
// its key.
func TestConfigTimeoutsAgree(t *testing.T) {
	good, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	require.NoError(t, good.Validate())
	for _, tc := range []struct {
		name string
		edit func(*daemon.Config)
		want string
	}{
		{"write timeout shorter than a payment", func(c *daemon.Config) {
			c.HTTP.WriteTimeout, c.ThreeDS.Timeout, c.Payments.ExchangeTimeout = 40*time.Second, 30*time.Second, 15*time.Second
		}, "http.write_timeout: 40s must exceed threeds.timeout + payments.exchange_timeout (45s)"},
		{"header timeout longer than the read timeout", func(c *daemon.Config) { c.HTTP.ReadHeaderTimeout = time.Minute },
			"http.read_header_timeout: 1m0s is longer than http.read_timeout"},
		{"zero", func(c *daemon.Config) { c.StartWait = 0 }, "start_wait: must be a positive duration"},
		{"negative", func(c *daemon.Config) { c.HTTP.IdleTimeout = -time.Second }, "http.idle_timeout: must be a positive duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			require.ErrorContains(t, c.Validate(), tc.want)
		})
	}
}

// The cabinet's keys are checked with the rest, each error naming its key.
func TestConfigCabinet(t *testing.T) {
	good, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	good.CabinetListen = "127.0.0.1:8090"
	require.NoError(t, good.Validate())
	for _, tc := range []struct {
		name string
		edit func(*daemon.Config)
		want string
	}{
		{"not an address", func(c *daemon.Config) { c.CabinetListen = "8090" }, `cabinet_listen: "8090" is not host:port`},
		{"the merchants' listener", func(c *daemon.Config) { c.Listen, c.CabinetListen = "127.0.0.1:8080", "127.0.0.1:8080" }, "cabinet_listen: \"127.0.0.1:8080\" is already listen"},
		{"public URL with a path", func(c *daemon.Config) { c.Cabinet.PublicURL = "https://cabinet.example.kz/x" }, "cabinet: public_url"},
		{"time zone", func(c *daemon.Config) { c.Cabinet.TimeZone = "Mars/Olympus" }, "cabinet: time_zone"},
		{"sessions", func(c *daemon.Config) {
			c.Cabinet.Users.SessionIdle, c.Cabinet.Users.SessionMax = time.Hour, time.Minute
		}, "cabinet: users: session_idle"},
		{"no certificate file", func(c *daemon.Config) {
			c.CabinetTLS = &tlsconf.Config{CertFile: "/nonexistent/cabinet.pem", KeyFile: "/nonexistent/cabinet-key.pem"}
		}, "cabinet_tls.cert_file: stat /nonexistent/cabinet.pem"},
		{"neither a certificate nor plain_http", func(c *daemon.Config) { c.PlainHTTP = false }, "cabinet_tls: the cabinet needs a certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			require.ErrorContains(t, c.Validate(), tc.want)
		})
	}
	off := good
	off.CabinetListen = ""
	require.NoError(t, off.Validate(), "empty: no cabinet")
}

// The Processing.kz section is checked with the rest: its merchants must
// be payments merchants, and its own errors carry the cnp prefix.
func TestConfigCNPMerchants(t *testing.T) {
	good, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	c := good
	c.CNP.Merchants = []cnp.MerchantConfig{{MerchantID: "000000000000015", Merchant: "nobody", AllowedIPs: []string{"127.0.0.1"}}}
	require.ErrorContains(t, c.Validate(), `config: cnp.merchants[0].merchant: "nobody" is not a payments merchant`)
	c.CNP.Merchants[0].Merchant, c.CNP.Merchants[0].AllowedIPs = switchtest.Merchant, nil
	require.ErrorContains(t, c.Validate(), "config: cnp: merchants[0]: no access control")
	c.CNP.Merchants[0].AllowedIPs = []string{"127.0.0.1"}
	require.NoError(t, c.Validate())
}

// The card page is never served in plain HTTP unless the config says so,
// and every tls section's errors name its key.
func TestConfigTLS(t *testing.T) {
	good, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	for _, tc := range []struct {
		name string
		edit func(*daemon.Config)
		want string
	}{
		{"neither tls nor plain_http", func(c *daemon.Config) { c.PlainHTTP = false }, "config: tls: cert_file and key_file are required"},
		{"both", func(c *daemon.Config) { c.TLS = &tlsconf.Config{CertFile: "a", KeyFile: "b"} }, "plain_http: set with tls"},
		{"no certificate file", func(c *daemon.Config) {
			c.PlainHTTP, c.TLS = false, &tlsconf.Config{CertFile: "/nonexistent/server.pem", KeyFile: "/nonexistent/key.pem"}
		}, "tls.cert_file: stat /nonexistent/server.pem"},
		{"admin client auth without CAs", func(c *daemon.Config) {
			c.AdminTLS = &tlsconf.Config{CertFile: "/nonexistent/a.pem", KeyFile: "/nonexistent/b.pem", ClientAuth: "require"}
		}, "admin_tls.ca_file: client_auth needs the CAs"},
		{"directory server CA missing", func(c *daemon.Config) { c.ThreeDS.TLS = &tlsconf.Config{CAFile: "/nonexistent/ca.pem"} },
			"threeds.tls.ca_file: stat /nonexistent/ca.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			require.ErrorContains(t, c.Validate(), tc.want)
		})
	}
}

// An api entry's callback_hosts need callbacks to send there.
func TestConfigCallbackHostsNeedCallbacks(t *testing.T) {
	c, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	c.API.Merchants[0].CallbackHosts = []string{"shop.kz"}
	require.ErrorContains(t, c.Validate(), `config: api.merchants[0].callback_hosts: merchant "shop" has no callbacks to send there`)
	c.API.Merchants[0].CallbackURL, c.API.Merchants[0].CallbackSecret = "https://shop.kz/cb", "s"
	require.NoError(t, c.Validate())
}

// The fiscal section is checked with the rest, from the YAML a operator
// writes, each error naming its key; its merchants must be the switch's.
func TestConfigFiscalNamesKeys(t *testing.T) {
	c, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	require.NoError(t, yaml.Unmarshal([]byte(`
fiscal:
  max_attempts: 5
  timeout: 10s
  merchants:
    shop:
      url: https://nurkassa.kz/
      login: "+77010000001"
      password_env: TULPAR_TEST_NO_SUCH_VARIABLE
      pos_id: 7
      section_id: 1
      email: receipts@shop.kz
      fiscalize_preauth: true
    ghost:
      url: https://nurkassa.kz/
      login: "+77010000002"
      password: p
      pos_id: 8
      section_id: 1
      tax_rate: 12
`), &c))
	require.Equal(t, 5, c.Fiscal.MaxAttempts)
	require.True(t, c.Fiscal.Merchants["shop"].FiscalizePreauth)
	err := c.Validate()
	require.ErrorContains(t, err, "config: fiscal: merchants.shop.password_env: variable TULPAR_TEST_NO_SUCH_VARIABLE is not set or empty")
	require.ErrorContains(t, err, "config: fiscal: merchants.shop.tax_rate: required")
	require.ErrorContains(t, err, "config: fiscal.merchants.ghost: not a payments merchant")
	require.NotContains(t, err.Error(), "merchants.ghost.")

	// A fiscal limit above the queue's would never apply.
	c.Fiscal.MaxAttempts = 30
	require.ErrorContains(t, c.Validate(), "config: fiscal.max_attempts: 30 is more than saf.max_attempts (20), which receipts also obey")
	c.SAF.MaxAttempts = 40
	require.NotContains(t, c.Validate().Error(), "fiscal.max_attempts")
}

// Mail that has nowhere to go is refused at --check, naming the key.
func TestConfigMailNeedsAServer(t *testing.T) {
	c, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	c.Reports.Merchants = map[string]reportmail.Subscription{"nobody": {Email: []string{"a@shop.kz"}}}
	c.Receipts.Merchants = map[string]receipt.MerchantReceipt{switchtest.Merchant: {EmailBuyer: true}}
	err := c.Validate()
	require.ErrorContains(t, err, "config: reports.merchants: needs mail (host, or dir) to send them")
	require.ErrorContains(t, err, "config: reports.merchants.nobody: not a payments merchant")
	require.ErrorContains(t, err, "config: receipts.merchants."+switchtest.Merchant+".email_buyer: needs mail")
	c.Mail = mailer.Config{Host: "smtp.example.kz", Security: "tls", From: "nope"}
	require.ErrorContains(t, c.Validate(), `config: mail: from: "nope"`)
}

// A section with several mistakes names each with its full key, every line
// starting "config: ", not just the first line of the section's errors.
func TestConfigEveryLineNamesItsKey(t *testing.T) {
	c, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	c.Callbacks.Merchants = map[string]callbacks.Target{
		"a": {Secret: "s"},
		"b": {URL: "ftp://shop.kz/cb", Secret: "s", Method: "PUT"},
	}
	c.Mail = mailer.Config{Host: "smtp.example.kz", Security: "tls", From: "nope"}
	err := c.Validate()
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	for _, l := range lines {
		require.True(t, strings.HasPrefix(l, "config: "), "a line without its prefix: %q in\n%s", l, err)
	}
	require.Contains(t, lines, "config: callbacks: merchants.a.url: required")
	require.Contains(t, lines, "config: callbacks: merchants.b.url: must be an absolute http or https URL")
	require.Contains(t, lines, `config: callbacks: merchants.b.method: "PUT": must be GET or POST`)
	require.NotContains(t, err.Error(), "callbacks: callbacks:")
}

// A trusted proxy that is not an address is refused at start, by its index.
func TestConfigTrustedProxies(t *testing.T) {
	c, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.7", "lb.example.kz"}
	require.ErrorContains(t, c.Validate(), `config: http.trusted_proxies[2]: "lb.example.kz" is neither an IP address nor a CIDR prefix`)
	c.HTTP.TrustedProxies = c.HTTP.TrustedProxies[:2]
	require.NoError(t, c.Validate())
}

// The buyers' limits are checked with the rest, each naming its key.
func TestConfigBuyerLimits(t *testing.T) {
	c, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	c.HPP.CardAttempts.PerMinute, c.HPP.CardAttempts.Burst = -1, 3
	c.PaymentLinks.Orders.PerMinute, c.PaymentLinks.Orders.Burst = 5, 0
	err := c.Validate()
	require.ErrorContains(t, err, "config: hpp: card_attempts.per_minute: -1: must be positive")
	require.ErrorContains(t, err, "config: payment_links: orders_per_address.burst: 0: must be positive")
}
