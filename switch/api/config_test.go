package api

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/authguard"
)

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("s3cret")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"))
	p, err := parsePHC(h)
	require.NoError(t, err)
	require.True(t, p.verify("s3cret"))
	require.False(t, p.verify("s3cret "))
	h2, _ := HashPassword("s3cret")
	require.NotEqual(t, h, h2, "salted")
}

func TestConfigValidate(t *testing.T) {
	hash, err := HashPassword("pw")
	require.NoError(t, err)
	ok := MerchantConfig{Merchant: "m1", UserName: "u1", PasswordHash: hash, APIKeys: []string{SHA256Hex("k")}}
	cases := []struct {
		name string
		mod  func(c *Config)
		want string
	}{
		{"valid", func(c *Config) {}, ""},
		{"no page url", func(c *Config) { c.PaymentPageURL = "" }, "api: payment_page_url: required"},
		{"relative page url", func(c *Config) { c.PaymentPageURL = "/pay" }, "api: payment_page_url: must be an absolute http(s) URL"},
		{"no merchant", func(c *Config) { c.Merchants[0].Merchant = "" }, "api: merchants[0].merchant: required"},
		{"twice", func(c *Config) { c.Merchants = append(c.Merchants, c.Merchants[0]) }, `api: merchants[1].merchant: "m1" listed twice`},
		{"user without hash", func(c *Config) { c.Merchants[0].PasswordHash = "" }, "api: merchants[0].password_hash: required with user_name"},
		{"clear password", func(c *Config) { c.Merchants[0].PasswordHash = "pw" }, "api: merchants[0].password_hash: not an argon2id PHC string"},
		{"clear api key", func(c *Config) { c.Merchants[0].APIKeys = []string{"sk_live_x"} }, "api: merchants[0].api_keys[0]: must be the SHA-256 of the key"},
		{"clear token", func(c *Config) { c.Merchants[0].Token = "tok" }, "api: merchants[0].token: must be the SHA-256 of the token"},
		{"no credentials", func(c *Config) { c.Merchants[0] = MerchantConfig{Merchant: "m1"} }, "api: merchants[0]: no credentials"},
		{"callback without secret", func(c *Config) { c.Merchants[0].CallbackURL = "https://m1.kz/cb" }, "api: merchants[0].callback_secret: required with callback_url"},
		{"callback hosts", func(c *Config) { c.Merchants[0].CallbackHosts = []string{"m1.kz", "cb.m1.kz:8443", "*.m1.kz"} }, ""},
		{"callback host with scheme", func(c *Config) { c.Merchants[0].CallbackHosts = []string{"https://m1.kz"} }, `api: merchants[0].callback_hosts[0]: "https://m1.kz": must be a host`},
		{"callback host with path", func(c *Config) { c.Merchants[0].CallbackHosts = []string{"m1.kz/cb"} }, `api: merchants[0].callback_hosts[0]: "m1.kz/cb": must be a host`},
		{"wildcard with port", func(c *Config) { c.Merchants[0].CallbackHosts = []string{"*.m1.kz:443"} }, "a wildcard takes no port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{PaymentPageURL: "https://pay.example.kz/pay", Merchants: []MerchantConfig{ok}}
			c.mod(&cfg)
			err := cfg.Validate()
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
		})
	}
}

func TestDemoCredentials(t *testing.T) {
	cfg, sec, err := DemoCredentials("demo-shop", "http://127.0.0.1:8080/pay")
	require.NoError(t, err)
	guard, err := authguard.New(authguard.Config{}, "test", nil)
	require.NoError(t, err)
	a, err := newAuthn(&cfg, guard)
	require.NoError(t, err)
	ctx, ip := context.Background(), "10.0.0.1"
	pw := func(user, pw string) *MerchantConfig {
		m, err := a.password(ctx, user, pw, ip)
		require.NoError(t, err)
		return m
	}
	secret := func(s string, apiKey bool) *MerchantConfig {
		m, err := a.secret(s, apiKey, ip)
		require.NoError(t, err)
		return m
	}
	require.NotNil(t, pw(sec.UserName, sec.Password))
	require.NotNil(t, pw(sec.UserName, sec.Password), "cached")
	require.Nil(t, pw(sec.UserName, "wrong"))
	require.NotNil(t, secret(sec.Token, false))
	require.NotNil(t, secret(sec.APIKey, true))
	require.Nil(t, secret(sec.APIKey, false), "an API key is not an RBS token")
}

// Guessing a merchant's password locks the user name after five tries,
// from any address, with the time left in the answer; the right password
// is refused too until the lock lifts.
func TestPasswordGuessingLocksOut(t *testing.T) {
	cfg, sec, err := DemoCredentials("demo-shop", "http://127.0.0.1:8080/pay")
	require.NoError(t, err)
	guard, err := authguard.New(authguard.Config{MaxFailures: 5, LockFor: time.Minute, AddressBurst: 100}, "test", nil)
	require.NoError(t, err)
	a, err := newAuthn(&cfg, guard)
	require.NoError(t, err)
	for range 5 {
		m, err := a.password(context.Background(), sec.UserName, "guess", "10.0.0.1")
		require.NoError(t, err)
		require.Nil(t, m)
	}
	_, err = a.password(context.Background(), sec.UserName, sec.Password, "10.0.0.2")
	var locked *errLocked
	require.ErrorAs(t, err, &locked)
	require.Greater(t, locked.retryAfter, 50*time.Second)
	require.Contains(t, err.Error(), "retry in 60 s")
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"0", "1", "1000000000000", "1000000000001", "-1", "1e3", "10.5", "", " 1", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseAmount(s, false)
		if err == nil && (n <= 0 || n > maxAmount) {
			t.Fatalf("parseAmount(%q) = %d", s, n)
		}
	})
}

func FuzzParsePHC(f *testing.F) {
	h, _ := HashPassword("x")
	f.Add(h)
	f.Add("$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePHC(s)
		if err == nil && (p.memory > 4<<20 || p.time > 100 || p.threads == 0) {
			t.Fatalf("accepted expensive or invalid parameters: %+v", p)
		}
	})
}

func TestCallbackHostAllowed(t *testing.T) {
	m := MerchantConfig{CallbackURL: "https://shop.kz/cb", CallbackHosts: []string{"notify.shop.kz:8443", "*.cdn.kz", "Other.KZ"}}
	for u, want := range map[string]bool{
		"https://shop.kz/orders/1":         true,
		"http://SHOP.kz:8080/x":            true, // the callback URL's host, any port
		"https://notify.shop.kz:8443/x":    true,
		"https://notify.shop.kz/x":         false, // 443, not 8443
		"https://a.b.cdn.kz/x":             true,
		"https://cdn.kz/x":                 false, // the wildcard is for subdomains
		"https://other.kz/x":               true,
		"https://shop.kz.evil.com/x":       false,
		"https://evilshop.kz/x":            false,
		"https://user@evil.com/@shop.kz/x": false,
	} {
		parsed, err := url.Parse(u)
		require.NoError(t, err)
		require.Equal(t, want, m.hostAllowed(parsed), u)
	}
}
