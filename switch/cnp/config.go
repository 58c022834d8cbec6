package cnp

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/authguard"
	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// Config is the cnp section of the daemon's config file: the Processing.kz
// merchant web service. The zero value serves the WSDL and answers every
// merchant INVALID_MID.
type Config struct {
	// PublicURL is the switch's base URL as shops reach the service; the
	// WSDL's addresses are built from it. Default (the daemon): its own
	// public URL. Absolute http(s), no path.
	PublicURL string `yaml:"public_url"`
	// PaymentPageURL is the hosted page's base: redirectURL is
	// PaymentPageURL + "/" + order id. Default (the daemon): PublicURL +
	// "/pay".
	PaymentPageURL string `yaml:"payment_page_url"`
	// MaxBodyBytes bounds a request (default 256 KiB: a hundred goods
	// with 255-character names fit several times over).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// TLS, when Listen is set, is a second listener of the switch that
	// serves this service only, over TLS, and asks every client for a
	// certificate: merchants with client_cert_sha256 come in there.
	TLS TLSConfig `yaml:"tls"`
	// IssuerCountries names the issuer's country of cards by BIN prefix
	// (1 to 6 digits, longest match wins) for
	// getExtendedTransactionStatus's cardIssuerCountry, e.g. "440563":
	// "KAZAKHSTAN". A card matching none is "UNKNOWN".
	IssuerCountries map[string]string `yaml:"issuer_countries"`
	// Merchants are the shops that speak this dialect.
	Merchants []MerchantConfig `yaml:"merchants"`
	// Guard limits guessing of the shops' HTTP Basic passwords: a lockout
	// per merchantId, failures per client address (authguard's defaults).
	Guard authguard.Config `yaml:"guard"`
}

// TLSConfig is the service's own TLS listener. It asks every client for a
// certificate and accepts any (or none): the merchant's pinned
// fingerprints decide, per merchant, after the handshake proved the client
// holds the certificate's key.
type TLSConfig struct {
	Listen   string `yaml:"listen"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// PublicURL is the listener's base URL as shops reach it, for the WSDL
	// served there. Default (the daemon): https:// and the listener's
	// address.
	PublicURL string `yaml:"public_url"`
}

// MerchantConfig is one shop of the dialect.
type MerchantConfig struct {
	// MerchantID is the 15-character merchantId the shop sends (issued by
	// the gateway the shop came from: keep it, and the shop changes only
	// the host it calls).
	MerchantID string `yaml:"merchant_id"`
	// Merchant is the payments merchant it pays as (name, terminals...).
	Merchant string `yaml:"merchant"`
	// Disabled blocks the merchant: status queries answer MID_DISABLED,
	// every other request is refused (success=false, or false), as the
	// gateway did for a blocked merchant.
	Disabled bool `yaml:"disabled"`

	// Access: every method set must pass (at least one is required). The
	// vendor API has no credentials of its own; merchantId is printed on
	// receipts, so it cannot be one.
	//
	// AllowedIPs are the addresses (or CIDR ranges) the shop's server calls
	// from: the connection's peer, or, on the merchants' port through a
	// proxy listed in http.trusted_proxies, the client that proxy names.
	// A proxy is never guessed, and never believed on the service's own
	// TLS listener, whose shops connect directly.
	AllowedIPs []string `yaml:"allowed_ips"`
	// BasicAuth, when UserName is set, asks HTTP Basic credentials
	// (PHP's SoapClient sends them with its login and password options).
	BasicAuth BasicAuth `yaml:"basic_auth"`
	// ClientCertSHA256 pins the shop's TLS client certificates: the
	// SHA-256 (hex) of each certificate's DER. Only the TLS listener
	// (TLS.Listen) sees client certificates.
	ClientCertSHA256 []string `yaml:"client_cert_sha256"`

	// Currencies the merchant may charge in (ISO 4217 numeric). Default
	// 398 (KZT) only.
	Currencies []string `yaml:"currencies"`
	// TerminalIDs are the terminalID values the shop may send; empty: the
	// merchant's bank terminal ids (payments' DE41s). A terminal id is
	// never required (the vendor's PHP client cannot send one).
	TerminalIDs []string `yaml:"terminal_ids"`
	// ReferencePrefix starts the customerReferences the switch generates:
	// two letters or digits ("AA" in the guide: the shop's code). Default
	// "TP".
	ReferencePrefix string `yaml:"reference_prefix"`
	// AutoSettlement captures at authorization (one-stage): the guide's
	// "Auto Settlement" merchants, PAID without completeTransaction.
	AutoSettlement bool `yaml:"auto_settlement"`
	// Refunds enables refundTransaction. Off, it answers false, as the
	// vendor shipped it ("used only by arrangement").
	Refunds bool `yaml:"refunds"`
	// ReturnURLCall is the guide's automatic call: the switch itself
	// requests the transaction's returnURL as soon as the payment is
	// decided, through the signed, retrying callback queue. Default on;
	// set false to switch it off.
	ReturnURLCall *bool `yaml:"return_url_call"`
	// CallbackSecret signs that call (callbacks' checksum). Empty: the
	// call goes unsigned, and the shop must learn the outcome from
	// getTransactionStatus (as the vendor's shops do anyway).
	CallbackSecret string `yaml:"callback_secret"`
	// ReturnHosts, when set, are the only hosts a returnURL may name (a
	// host or a parent domain of it); then the automatic call may also
	// reach private addresses. Unset, any host resolving to a public
	// address is accepted and the call never goes to a loopback, private
	// or link-local address.
	ReturnHosts []string `yaml:"return_hosts"`
}

// BasicAuth is a shop's HTTP Basic credentials.
type BasicAuth struct {
	UserName string `yaml:"user_name"`
	// PasswordSHA256 is the SHA-256 (hex) of the password, which must be a
	// random secret of at least 128 bits (`openssl rand -hex 16`): a hash
	// this fast protects nothing a person could remember.
	PasswordSHA256 string `yaml:"password_sha256"`
}

// Defaults.
const (
	DefaultMaxBodyBytes    = 256 << 10
	DefaultReferencePrefix = "TP"
)

// ReturnCall reports whether the automatic returnURL call is on.
func (m *MerchantConfig) ReturnCall() bool { return m.ReturnURLCall == nil || *m.ReturnURLCall }

// PublicOnly reports whether the automatic call must keep to public
// addresses (no return_hosts configured).
func (m *MerchantConfig) PublicOnly() bool { return len(m.ReturnHosts) == 0 }

// Validate checks the config alone; New also checks each merchant exists
// in payments. Errors name the key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("cnp: "+format, a...)) }
	for key, u := range map[string]string{"public_url": c.PublicURL, "payment_page_url": c.PaymentPageURL, "tls.public_url": c.TLS.PublicURL} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil || p.RawQuery != "" {
			bad("%s: must be an absolute http(s) URL", key)
		}
	}
	if c.MaxBodyBytes < 0 {
		bad("max_body_bytes: must not be negative")
	}
	if err := c.Guard.Validate(); err != nil {
		bad("guard.%v", err)
	}
	if c.TLS.Listen != "" && (c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		bad("tls: cert_file and key_file are required with listen")
	}
	if c.TLS.Listen == "" && (c.TLS.CertFile != "" || c.TLS.KeyFile != "") {
		bad("tls.listen: required with cert_file and key_file")
	}
	for bin, name := range c.IssuerCountries {
		if bin == "" || len(bin) > 6 || !digits(bin) {
			bad("issuer_countries.%s: the key must be a BIN prefix of 1 to 6 digits", bin)
		}
		if name == "" || len(name) > 64 {
			bad("issuer_countries.%s: a country name of 1 to 64 characters", bin)
		}
	}
	mids, merchants := map[string]bool{}, map[string]bool{}
	for i := range c.Merchants {
		m := &c.Merchants[i]
		at := fmt.Sprintf("merchants[%d]", i)
		switch {
		case len(m.MerchantID) != 15 || !alnum(m.MerchantID):
			bad("%s.merchant_id: must be 15 letters or digits", at)
		case mids[m.MerchantID]:
			bad("%s.merchant_id: %q listed twice", at, m.MerchantID)
		}
		mids[m.MerchantID] = true
		switch {
		case m.Merchant == "":
			bad("%s.merchant: required (the payments merchant it pays as)", at)
		case merchants[m.Merchant]:
			bad("%s.merchant: %q has two merchant_ids", at, m.Merchant)
		}
		merchants[m.Merchant] = true
		if len(m.AllowedIPs) == 0 && m.BasicAuth.UserName == "" && len(m.ClientCertSHA256) == 0 {
			bad("%s: no access control: set allowed_ips, basic_auth or client_cert_sha256 (merchantId alone tells anyone in)", at)
		}
		for j, a := range m.AllowedIPs {
			if _, err := parsePrefix(a); err != nil {
				bad("%s.allowed_ips[%d]: %q is not an IP address or CIDR range", at, j, a)
			}
		}
		switch {
		case m.BasicAuth.UserName == "" && m.BasicAuth.PasswordSHA256 != "":
			bad("%s.basic_auth.user_name: required with password_sha256", at)
		case m.BasicAuth.UserName != "" && !sha256Hex(m.BasicAuth.PasswordSHA256):
			bad("%s.basic_auth.password_sha256: the SHA-256 of the password, 64 hex digits", at)
		case strings.Contains(m.BasicAuth.UserName, ":"):
			bad("%s.basic_auth.user_name: must not contain ':'", at)
		}
		if _, err := tlsconf.ParsePins(at+".client_cert_sha256", m.ClientCertSHA256); err != nil {
			bad("%s", err)
		}
		if len(m.ClientCertSHA256) > 0 && c.TLS.Listen == "" {
			bad("%s.client_cert_sha256: needs cnp.tls.listen, the listener that asks for client certificates", at)
		}
		for j, cur := range m.Currencies {
			if len(cur) != 3 || !digits(cur) {
				bad("%s.currencies[%d]: %q is not an ISO 4217 numeric code such as 398", at, j, cur)
			}
		}
		for j, t := range m.TerminalIDs {
			if t == "" || len(t) > 16 || !printable(t) {
				bad("%s.terminal_ids[%d]: 1 to 16 printable characters", at, j)
			}
		}
		if p := m.ReferencePrefix; p != "" && (len(p) != 2 || !alnum(p)) {
			bad("%s.reference_prefix: two letters or digits", at)
		}
		for j, h := range m.ReturnHosts {
			if h == "" || strings.ContainsAny(h, "/:@ ") {
				bad("%s.return_hosts[%d]: a host name or address, without scheme or port", at, j)
			}
		}
	}
	return errors.Join(errs...)
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func sha256Hex(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return s != ""
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// hostAllowed reports whether host (no port) is one of hosts or a
// subdomain of one.
func hostAllowed(host string, hosts []string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if host == h || strings.HasSuffix(host, "."+h) {
			return true
		}
	}
	return false
}

// privateHost reports whether a returnURL's host is plainly not on the
// public internet: localhost, or an address literal that is loopback,
// private, link-local, multicast or unspecified. Names are resolved only
// when the call is made, and checked again there (switch/callbacks).
func privateHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(h, "[]"))
	if err != nil {
		return false
	}
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() ||
		netip.MustParsePrefix("100.64.0.0/10").Contains(a) || netip.MustParsePrefix("0.0.0.0/8").Contains(a)
}
