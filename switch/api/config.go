package api

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/authguard"
	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// Config is the api section of the daemon's config file.
type Config struct {
	// PaymentPageURL is the hosted payment page's base: formUrl and
	// payment_url are PaymentPageURL + "/" + order id. Required, absolute
	// http(s).
	PaymentPageURL string `yaml:"payment_page_url"`
	// MaxBodyBytes bounds a request body (default 64 KiB: a register.do
	// with a cart fits many times over).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Merchants are the web service's credentials, one entry per merchant.
	Merchants []MerchantConfig `yaml:"merchants"`
	// Guard limits credential guessing: lockout per credential, failures
	// per client address, and how many password checks run at once.
	Guard authguard.Config `yaml:"guard"`
	// ReceiptURL, when set, makes the link to an operation's receipt
	// (switch/receipt), shown with each receipted operation. The daemon
	// sets it.
	ReceiptURL func(orderID, opID string) string `yaml:"-"`
	// PaymentLinks, when set, serves /v1/payment_links (switch/paylinks).
	// The daemon sets it.
	PaymentLinks PaymentLinks `yaml:"-"`
}

// MerchantConfig holds one merchant's credentials. Secrets are stored
// hashed only: a copy of the config file does not let anyone call the API.
type MerchantConfig struct {
	// Merchant is the payments merchant id these credentials act for.
	Merchant string `yaml:"merchant"`
	// UserName and PasswordHash are the RBS userName and password; the
	// hash is an argon2id PHC string from HashPassword.
	UserName     string `yaml:"user_name"`
	PasswordHash string `yaml:"password_hash"`
	// Token is the SHA-256 (hex) of the RBS token, an alternative to
	// userName and password. Optional.
	Token string `yaml:"token"`
	// APIKeys are SHA-256 (hex) of the JSON API's bearer keys. Several, so
	// that a key can be rotated without downtime.
	APIKeys []string `yaml:"api_keys"`
	// AllowCardEntry enables paymentorder.do: card data sent by the
	// merchant's server. Only for merchants certified to handle card data
	// (PCI DSS); off by default.
	AllowCardEntry bool `yaml:"allow_card_entry"`
	// BindingWithoutCVC lets paymentOrderBinding.do pay with a binding
	// without its CVC: the merchant paying alone (recurring or unscheduled
	// payments), marked so to the bank and without 3-D Secure. Off by
	// default: the gateway grants it per merchant, and without it the CVC
	// the buyer just typed is required.
	BindingWithoutCVC bool `yaml:"binding_without_cvc"`
	// CallbackURL and CallbackSecret are for the merchant-callback sender
	// (not this package); kept here so one entry describes one merchant's
	// integration.
	CallbackURL    string `yaml:"callback_url"`
	CallbackSecret string `yaml:"callback_secret"`
	// CallbackHosts are the hosts, besides CallbackURL's, that an order's
	// dynamicCallbackUrl (register.do) may name: "shop.kz" (any port),
	// "shop.kz:8443" (that port only) or "*.shop.kz" (its subdomains). A
	// dynamicCallbackUrl on any other host is refused: callbacks carry the
	// merchant's checksum and must not be sent where the merchant did not
	// say. The merchant must have callbacks configured (callback_url here
	// or the daemon's callbacks section).
	CallbackHosts []string `yaml:"callback_hosts"`
	// CallbackAllowPrivate lets this merchant's callbacks reach loopback,
	// private and link-local addresses (callbacks.Target.AllowPrivate): a
	// shop inside the operator's own network. Off by default.
	CallbackAllowPrivate bool `yaml:"callback_allow_private"`
	// ClientCertSHA256 pins the merchant's TLS client certificates (the
	// SHA-256 of each one's DER): with it, the merchant's credentials are
	// refused unless the request came over TLS with one of them (mutual
	// TLS per merchant; the listener's tls.client_auth must ask for
	// certificates: pin, request or require).
	ClientCertSHA256 []string `yaml:"client_cert_sha256"`
}

// DefaultMaxBodyBytes is MaxBodyBytes when zero.
const DefaultMaxBodyBytes = 64 << 10

// Validate checks the config alone; New also checks each merchant exists
// in payments. Errors name the key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("api: "+format, a...)) }
	if err := checkURL(c.PaymentPageURL); err != nil {
		bad("payment_page_url: %v", err)
	}
	if c.MaxBodyBytes < 0 {
		bad("max_body_bytes: must not be negative")
	}
	users, merchants, secrets := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, m := range c.Merchants {
		at := fmt.Sprintf("merchants[%d]", i)
		if m.Merchant == "" {
			bad("%s.merchant: required", at)
		} else if merchants[m.Merchant] {
			bad("%s.merchant: %q listed twice", at, m.Merchant)
		}
		merchants[m.Merchant] = true
		switch {
		case m.UserName == "" && m.PasswordHash != "":
			bad("%s.user_name: required with password_hash", at)
		case m.UserName != "" && m.PasswordHash == "":
			bad("%s.password_hash: required with user_name (make one with api.HashPassword)", at)
		case m.UserName != "":
			if users[m.UserName] {
				bad("%s.user_name: %q used by two merchants", at, m.UserName)
			}
			users[m.UserName] = true
			if _, err := parsePHC(m.PasswordHash); err != nil {
				bad("%s.password_hash: %v", at, err)
			}
		}
		if _, err := tlsconf.ParsePins(at+".client_cert_sha256", m.ClientCertSHA256); err != nil {
			bad("%v", err)
		}
		if m.Token != "" {
			if !isSHA256Hex(m.Token) {
				bad("%s.token: must be the SHA-256 of the token, 64 hex digits", at)
			} else if secrets[strings.ToLower(m.Token)] {
				bad("%s.token: used twice", at)
			}
			secrets[strings.ToLower(m.Token)] = true
		}
		for j, k := range m.APIKeys {
			if !isSHA256Hex(k) {
				bad("%s.api_keys[%d]: must be the SHA-256 of the key, 64 hex digits", at, j)
			} else if secrets[strings.ToLower(k)] {
				bad("%s.api_keys[%d]: used twice", at, j)
			}
			secrets[strings.ToLower(k)] = true
		}
		if m.UserName == "" && m.Token == "" && len(m.APIKeys) == 0 {
			bad("%s: no credentials (user_name, token or api_keys)", at)
		}
		if m.CallbackURL != "" {
			if err := checkURL(m.CallbackURL); err != nil {
				bad("%s.callback_url: %v", at, err)
			}
			if m.CallbackSecret == "" {
				bad("%s.callback_secret: required with callback_url", at)
			}
		}
		for j, h := range m.CallbackHosts {
			if err := checkHostPattern(h); err != nil {
				bad("%s.callback_hosts[%d]: %q: %v", at, j, h, err)
			}
		}
	}
	return errors.Join(errs...)
}

func isSHA256Hex(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

// checkURL accepts absolute http and https URLs with a host.
func checkURL(s string) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return errors.New("must be an absolute http(s) URL")
	}
	return nil
}

// DemoSecrets are the clear credentials of DemoCredentials, to print.
type DemoSecrets struct {
	Merchant string
	UserName string
	Password string
	Token    string
	APIKey   string
}

// Demo credentials: fixed so that the demo's printed curl commands work
// every run. Never use them anywhere but on a loopback demo.
const (
	demoUserName = "demo-api"
	demoPassword = "demo-password-0001"
	demoToken    = "demo-token-0001"
	demoAPIKey   = "sk_demo_0001"
)

// DemoCredentials builds a config for `tulpar demo` with known credentials
// for merchant, and returns the clear values to print.
func DemoCredentials(merchant, paymentPageURL string) (Config, DemoSecrets, error) {
	hash, err := HashPassword(demoPassword)
	if err != nil {
		return Config{}, DemoSecrets{}, err
	}
	cfg := Config{
		PaymentPageURL: paymentPageURL,
		Merchants: []MerchantConfig{{
			Merchant: merchant, UserName: demoUserName, PasswordHash: hash,
			Token: SHA256Hex(demoToken), APIKeys: []string{SHA256Hex(demoAPIKey)},
			AllowCardEntry: true,
		}},
	}
	return cfg, DemoSecrets{merchant, demoUserName, demoPassword, demoToken, demoAPIKey}, cfg.Validate()
}

// checkHostPattern accepts a host name, optionally with a port, or
// "*." and a domain: no scheme, no path, no user.
func checkHostPattern(p string) error {
	if p == "" {
		return errors.New("empty")
	}
	u, err := url.Parse("http://" + strings.TrimPrefix(p, "*."))
	if err != nil || u.Host != strings.TrimPrefix(p, "*.") || u.Hostname() == "" || strings.Contains(u.Hostname(), "*") {
		return errors.New(`must be a host ("shop.kz"), a host and port ("shop.kz:8443") or "*." and a domain`)
	}
	if strings.HasPrefix(p, "*.") && u.Port() != "" {
		return errors.New("a wildcard takes no port")
	}
	return nil
}

// hostAllowed says whether u's host is the merchant's callback URL's host
// or matches one of its callback_hosts. Host names compare without case.
func (m *MerchantConfig) hostAllowed(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	if m.CallbackURL != "" {
		if c, err := url.Parse(m.CallbackURL); err == nil && strings.ToLower(c.Hostname()) == host {
			return true
		}
	}
	for _, p := range m.CallbackHosts {
		p = strings.ToLower(p)
		if d, ok := strings.CutPrefix(p, "*."); ok {
			if strings.HasSuffix(host, "."+d) {
				return true
			}
			continue
		}
		ph, port, err := net.SplitHostPort(p)
		if err != nil {
			ph, port = p, ""
		}
		if strings.Trim(ph, "[]") == host && (port == "" || port == effectivePort(u)) {
			return true
		}
	}
	return false
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// callbacksEnabled says whether the merchant's callbacks go anywhere; an
// order's own callback address means nothing otherwise.
func (m *MerchantConfig) callbacksEnabled() bool {
	return m.CallbackURL != "" || len(m.CallbackHosts) > 0
}
