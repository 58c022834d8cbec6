package cnp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/cnp"
)

// TestConfigErrorsNameTheKey: every problem of the cnp section is named by
// its key.
func TestConfigErrorsNameTheKey(t *testing.T) {
	ok := shopConfig()
	require.NoError(t, (&cnp.Config{Merchants: []cnp.MerchantConfig{ok}}).Validate())
	for _, tc := range []struct {
		name string
		edit func(*cnp.Config)
		want string
	}{
		{"short merchant id", func(c *cnp.Config) { c.Merchants[0].MerchantID = "15" }, "merchants[0].merchant_id: must be 15 letters or digits"},
		{"negative lock", func(c *cnp.Config) { c.Guard.LockFor = -time.Minute }, "guard.lock_for: must not be negative"},
		{"merchant id twice", func(c *cnp.Config) { c.Merchants = append(c.Merchants, c.Merchants[0]) }, `merchants[1].merchant_id: "000000000000015" listed twice`},
		{"no payments merchant", func(c *cnp.Config) { c.Merchants[0].Merchant = "" }, "merchants[0].merchant: required"},
		{"no access control", func(c *cnp.Config) { c.Merchants[0].AllowedIPs = nil }, "merchants[0]: no access control"},
		{"bad address", func(c *cnp.Config) { c.Merchants[0].AllowedIPs = []string{"10.0.0.300"} }, "merchants[0].allowed_ips[0]"},
		{"basic without hash", func(c *cnp.Config) { c.Merchants[0].BasicAuth.UserName = "u" }, "merchants[0].basic_auth.password_sha256"},
		{"cert without TLS", func(c *cnp.Config) { c.Merchants[0].ClientCertSHA256 = []string{strings.Repeat("ab", 32)} }, "merchants[0].client_cert_sha256: needs cnp.tls.listen"},
		{"bad fingerprint", func(c *cnp.Config) { c.Merchants[0].ClientCertSHA256 = []string{"zz"} }, "merchants[0].client_cert_sha256[0]"},
		{"bad currency", func(c *cnp.Config) { c.Merchants[0].Currencies = []string{"KZT"} }, "merchants[0].currencies[0]"},
		{"bad prefix", func(c *cnp.Config) { c.Merchants[0].ReferencePrefix = "ABC" }, "merchants[0].reference_prefix"},
		{"bad return host", func(c *cnp.Config) { c.Merchants[0].ReturnHosts = []string{"https://shop.kz/"} }, "merchants[0].return_hosts[0]"},
		{"TLS without files", func(c *cnp.Config) { c.TLS.Listen = ":8443" }, "tls: cert_file and key_file are required"},
		{"bad BIN", func(c *cnp.Config) { c.IssuerCountries = map[string]string{"4111111": "KZ"} }, "issuer_countries.4111111"},
		{"bad public URL", func(c *cnp.Config) { c.PublicURL = "ftp://x" }, "public_url: must be an absolute http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cnp.Config{Merchants: []cnp.MerchantConfig{shopConfig()}}
			tc.edit(&c)
			err := c.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), "cnp: "+tc.want)
		})
	}
}
