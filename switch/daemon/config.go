// Package daemon turns a config file into a running switch: it opens the
// data file, the security module and the bank links, wires the payment
// flows to the merchant web service and the hosted page, and stops them in
// order. Only cmd/ imports it.
package daemon

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"time"

	"github.com/tulpar-switch/tulpar/switch/paylinks"
	"github.com/tulpar-switch/tulpar/switch/saf"

	"go.yaml.in/yaml/v3"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/api"
	"github.com/tulpar-switch/tulpar/switch/cabinet"
	"github.com/tulpar-switch/tulpar/switch/callbacks"
	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/cnp"
	"github.com/tulpar-switch/tulpar/switch/fiscal"
	"github.com/tulpar-switch/tulpar/switch/hpp"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/receipt"
	"github.com/tulpar-switch/tulpar/switch/reportmail"
	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// Config is the daemon's config file.
type Config struct {
	// DataDir holds the data file (journal.DataFile). Required.
	DataDir string `yaml:"data_dir"`
	// Listen is the HTTP address of the merchant web service, the hosted
	// payment page, /metrics, /healthz and /readyz.
	Listen string `yaml:"listen"`
	// TLS serves Listen over HTTPS: the merchant APIs and the hosted card
	// page. Required, unless PlainHTTP says otherwise.
	TLS *tlsconf.Config `yaml:"tls"`
	// PlainHTTP serves Listen without TLS: only behind a proxy that
	// terminates TLS, or in tests. A card page is never served in plain
	// HTTP by accident: it must be said here.
	PlainHTTP bool `yaml:"plain_http"`
	// PublicURL is the switch's base URL as merchants and buyers reach it
	// (formUrl, 3-D Secure notification URL). Default http://<listen>.
	PublicURL string `yaml:"public_url"`
	// AdminListen serves operators: link status, store-and-forward queues
	// and dead letters (with retry), and a consistent journal snapshot.
	// Keep it on loopback or a management network. Empty: no admin
	// endpoint.
	AdminListen string `yaml:"admin_listen"`
	// AdminTokenSHA256 is the hex SHA-256 of the operators' bearer token
	// (Authorization: Bearer <token>); every admin request must carry it
	// when set. An admin_listen off loopback without it is refused at
	// start: the snapshot endpoint hands out the whole data file.
	AdminTokenSHA256 string `yaml:"admin_token_sha256"`
	// AdminTLS serves AdminListen over HTTPS (client_auth: require for
	// mutual TLS with the operators' certificates).
	AdminTLS *tlsconf.Config `yaml:"admin_tls"`
	// CabinetListen serves the merchant cabinet (switch/cabinet), the web
	// portal where merchants' users see and manage their payments and the
	// operator manages users. Empty: no cabinet.
	CabinetListen string `yaml:"cabinet_listen"`
	// CabinetTLS serves CabinetListen over HTTPS with a certificate of its
	// own. Default: the tls section's certificate (without its client_auth:
	// people sign in to the cabinet with passwords, not certificates).
	// With neither, the cabinet is served in plain HTTP only when
	// plain_http says so, as the merchants' port is.
	CabinetTLS *tlsconf.Config `yaml:"cabinet_tls"`
	// Cabinet configures it.
	Cabinet cabinet.Config `yaml:"cabinet"`
	// LogLevel: debug, info, warn or error. Default info.
	LogLevel string          `yaml:"log_level"`
	HSM      hsm.Config      `yaml:"hsm"`
	Links    []links.Config  `yaml:"links"`
	Routing  routing.Config  `yaml:"routing"`
	Payments payments.Config `yaml:"payments"`
	SAF      SAFConfig       `yaml:"saf"`
	// ThreeDS is the 3-D Secure directory server; empty disables 3-D
	// Secure (every card goes at ECI 07).
	ThreeDS ThreeDSConfig `yaml:"threeds"`
	// API holds merchants' credentials for the web service.
	API api.Config `yaml:"api"`
	// Receipts are the orders' receipt pages and PDFs.
	Receipts receipt.Config `yaml:"receipts"`
	// CNP is the Processing.kz merchant web service (CNPMerchantWebService,
	// SOAP) and its merchants.
	CNP cnp.Config `yaml:"cnp"`
	// HPP is the hosted payment page.
	HPP hpp.Config `yaml:"hpp"`
	// PaymentLinks are the payment links' and invoices' own settings.
	PaymentLinks paylinks.Config `yaml:"payment_links"`
	// HTTP bounds the HTTP server of Listen.
	HTTP HTTPConfig `yaml:"http"`
	// Callbacks says where each merchant's callbacks go when more than the
	// api entry's callback_url is needed.
	Callbacks callbacks.Config `yaml:"callbacks"`
	// Mail is the SMTP server the switch's e-mail goes through (daily
	// reports), or a folder the messages are written to.
	Mail mailer.Config `yaml:"mail"`
	// Reports says which merchants get their daily report by e-mail.
	Reports reportmail.Config `yaml:"reports"`
	// Fiscal is online fiscalization: each merchant's fiscal service
	// account, and how hard to try a receipt.
	Fiscal fiscal.Config `yaml:"fiscal"`
	// ShutdownTimeout bounds the graceful stop. Default 15s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// ExpiryInterval is how often unpaid orders past their lifetime are
	// declined. Default 30s.
	ExpiryInterval time.Duration `yaml:"expiry_interval"`
	// StartWait is how long merchant requests wait, after recovery, for a
	// signed-on link to every bank the routing rules name. Past it the
	// switch opens with the banks it has (routing fails over the others)
	// and warns; with none it keeps answering 503. Default 30s.
	StartWait time.Duration `yaml:"start_wait"`
	// JournalProbeInterval is how often, while the journal cannot write,
	// the switch tries a write to learn that it can again, and then settles
	// the outcomes it had to keep in memory. Default 1s.
	JournalProbeInterval time.Duration `yaml:"journal_probe_interval"`
	// MappedReleaseInterval is how often the data file's pages are taken
	// out of the process's resident set (journal.ReleaseMapped), so the
	// resident set follows what the switch reads rather than the size of
	// the file. Default 1s: the resident set climbs by what the switch
	// touches between two releases (at 600 payments a second 40-55 MB a
	// second: each commit's new pages, read back by the transactions
	// after it), and a release costs well under a millisecond at that
	// size plus the minor faults of the pages read again. Releasing every
	// 100 ms flattened that saw but made the journal's commits about a
	// millisecond longer (README, ninth stop).
	MappedReleaseInterval time.Duration `yaml:"mapped_release_interval"`
	// JournalArchive closes each business day of the journal into an
	// archive file, so the live data file stays small, and prunes
	// archives past their retention.
	JournalArchive journal.ArchiveConfig `yaml:"journal_archive"`
	// Clock, when set, is the payment flows' clock in place of time.Now:
	// tests move it forward to expire orders. No config file sets it.
	Clock func() time.Time `yaml:"-"`
}

// SAFConfig tunes store-and-forward.
type SAFConfig struct {
	RetryMin       time.Duration `yaml:"retry_min"`
	RetryMax       time.Duration `yaml:"retry_max"`
	MaxAttempts    int           `yaml:"max_attempts"`
	AttemptTimeout time.Duration `yaml:"attempt_timeout"`
}

// ThreeDSConfig points at the 3-D Secure directory server.
type ThreeDSConfig struct {
	DirectoryURL string `yaml:"directory_url"`
	// Timeout bounds one call to the directory server. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// TLS, for an https directory_url: the CAs its certificate chains to
	// (ca_file; default the system's) and the switch's own certificate
	// where the directory server asks for mutual TLS.
	TLS *tlsconf.Config `yaml:"tls"`
}

// HTTPConfig bounds the merchant and buyer HTTP server's connections.
type HTTPConfig struct {
	// ReadHeaderTimeout and ReadTimeout bound reading a request (a slow
	// client cannot hold a connection). Defaults 10s and 30s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds a request from its headers to its answer: it
	// must leave time for a payment's 3-D Secure call and bank exchange
	// (checked at start). Default 60s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes keep-alive connections left idle. Default 2m.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// TrustedProxies are the addresses and CIDR prefixes of the proxies in
	// front of the switch's web listeners (merchants, Processing.kz,
	// cabinet, admin): a request from one of them is taken to come from
	// the address its X-Forwarded-For names (switch/clientip). Lockouts,
	// address allow-lists, audit records and logs use that address. Empty:
	// the header is never believed, and behind a proxy every client has
	// the proxy's address.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// DefaultConfig returns a config with every default filled in; DataDir,
// Links, Routing and merchants are the operator's.
func DefaultConfig() Config {
	return Config{
		Listen: "127.0.0.1:8080", LogLevel: "info", HSM: hsm.DefaultConfig(),
		Payments: payments.DefaultConfig(), ShutdownTimeout: 15 * time.Second, ExpiryInterval: 30 * time.Second,
		StartWait: 30 * time.Second, JournalProbeInterval: time.Second, MappedReleaseInterval: time.Second,
		ThreeDS: ThreeDSConfig{Timeout: 30 * time.Second},
		HTTP:    HTTPConfig{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute},
	}
}

// LoadConfig reads a YAML config file over the defaults. Unknown keys are
// errors, so a typo cannot silently switch a setting off.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(data)
}

// ParseConfig is LoadConfig for bytes.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks the whole config; each error names its key.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("config: data_dir: required"))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("config: listen: required"))
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("config: log_level: %q is not debug, info, warn or error", c.LogLevel))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"shutdown_timeout", c.ShutdownTimeout}, {"expiry_interval", c.ExpiryInterval}, {"start_wait", c.StartWait},
		{"journal_probe_interval", c.JournalProbeInterval}, {"mapped_release_interval", c.MappedReleaseInterval},
		{"threeds.timeout", c.ThreeDS.Timeout},
		{"http.read_header_timeout", c.HTTP.ReadHeaderTimeout}, {"http.read_timeout", c.HTTP.ReadTimeout},
		{"http.write_timeout", c.HTTP.WriteTimeout}, {"http.idle_timeout", c.HTTP.IdleTimeout},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("config: %s: must be a positive duration such as 30s", d.key))
		}
	}
	// A payment's answer is written within http.write_timeout of its
	// request: the 3-D Secure call and the bank exchange must fit in it,
	// or the buyer and the shop never hear an outcome the switch recorded.
	if need := c.ThreeDS.Timeout + c.Payments.ExchangeTimeout; c.HTTP.WriteTimeout > 0 && c.HTTP.WriteTimeout <= need {
		errs = append(errs, fmt.Errorf("config: http.write_timeout: %s must exceed threeds.timeout + payments.exchange_timeout (%s)", c.HTTP.WriteTimeout, need))
	}
	if c.HTTP.ReadTimeout > 0 && c.HTTP.ReadHeaderTimeout > c.HTTP.ReadTimeout {
		errs = append(errs, fmt.Errorf("config: http.read_header_timeout: %s is longer than http.read_timeout (%s)", c.HTTP.ReadHeaderTimeout, c.HTTP.ReadTimeout))
	}
	if _, err := clientip.ParseProxies(c.HTTP.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("config: http.trusted_proxies%w", err))
	}
	if err := c.JournalArchive.Validate("journal_archive"); err != nil {
		errs = append(errs, eachPrefixed("config: ", err)...)
	}
	if err := c.validateAdmin(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case c.TLS == nil && !c.PlainHTTP:
		errs = append(errs, errors.New("config: tls: cert_file and key_file are required to serve the card page (or plain_http: true behind a proxy that terminates TLS)"))
	case c.TLS != nil && c.PlainHTTP:
		errs = append(errs, errors.New("config: plain_http: set with tls; choose one"))
	case c.TLS != nil:
		if err := c.TLS.Validate("tls", true); err != nil {
			errs = append(errs, eachPrefixed("config: ", err)...)
		}
	}
	for i, m := range c.API.Merchants {
		if len(m.ClientCertSHA256) > 0 && (c.TLS == nil || c.TLS.ClientAuth == "") {
			errs = append(errs, fmt.Errorf("config: api.merchants[%d].client_cert_sha256: needs tls.client_auth (pin, request or require): the listener must ask for client certificates", i))
		}
	}
	if c.ThreeDS.TLS != nil {
		if err := c.ThreeDS.TLS.Validate("threeds.tls", false); err != nil {
			errs = append(errs, eachPrefixed("config: ", err)...)
		}
	}
	if c.AdminTLS != nil {
		if err := c.AdminTLS.Validate("admin_tls", true); err != nil {
			errs = append(errs, eachPrefixed("config: ", err)...)
		}
	}
	if err := c.HSM.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("config: hsm: %w", err))
	}
	if len(c.Links) == 0 {
		errs = append(errs, errors.New("config: links: at least one bank link is required"))
	}
	// The payment flows put the link's acquirer id in DE32; a bank needs
	// its own payments entry only to say something the link does not.
	if len(c.Payments.Banks) == 0 {
		for _, l := range c.Links {
			c.Payments.Banks = append(c.Payments.Banks, payments.BankProfile{Name: l.Name, AcquirerID: l.AcquirerID})
		}
	}
	names := map[string]bool{}
	for i := range c.Links {
		if err := c.Links[i].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("config: links[%d]: %w", i, err))
		}
		names[c.Links[i].Name] = true
	}
	for i, b := range c.Payments.Banks {
		if !names[b.Name] {
			errs = append(errs, fmt.Errorf("config: payments.banks[%d].name: %q has no link", i, b.Name))
		}
	}
	if c.CabinetListen != "" {
		if _, port, err := net.SplitHostPort(c.CabinetListen); err != nil {
			errs = append(errs, fmt.Errorf("config: cabinet_listen: %q is not host:port", c.CabinetListen))
		} else if port != "0" && (c.CabinetListen == c.Listen || c.CabinetListen == c.AdminListen) {
			errs = append(errs, fmt.Errorf("config: cabinet_listen: %q is already listen or admin_listen", c.CabinetListen))
		}
	}
	if c.CabinetTLS != nil {
		if err := c.CabinetTLS.Validate("cabinet_tls", true); err != nil {
			errs = append(errs, eachPrefixed("config: ", err)...)
		}
	}
	if c.CabinetListen != "" && c.cabinetTLS() == nil && !c.PlainHTTP {
		errs = append(errs, errors.New("config: cabinet_tls: the cabinet needs a certificate (cabinet_tls, or the tls section's), or plain_http: true behind a proxy that terminates TLS"))
	}
	if err := c.Cabinet.Validate(); err != nil {
		errs = append(errs, eachPrefixed("config: ", err)...)
	}
	if err := c.Callbacks.Validate(); err != nil {
		errs = append(errs, eachPrefixed("config: ", err)...)
	}
	if err := c.Receipts.Validate(); err != nil {
		errs = append(errs, eachPrefixed("config: ", err)...)
	}
	if err := c.Mail.Validate(); err != nil {
		errs = append(errs, eachPrefixed("config: ", err)...)
	}
	if err := c.Reports.Validate(); err != nil {
		errs = append(errs, eachPrefixed("config: ", err)...)
	}
	for _, id := range slices.Sorted(maps.Keys(c.Receipts.Merchants)) {
		if c.Receipts.Merchants[id].EmailBuyer && !c.Mail.Enabled() {
			errs = append(errs, fmt.Errorf("config: receipts.merchants.%s.email_buyer: needs mail (host, or dir) to send them", id))
		}
	}
	if len(c.Reports.Merchants) > 0 && !c.Mail.Enabled() {
		errs = append(errs, errors.New("config: reports.merchants: needs mail (host, or dir) to send them"))
	}
	for _, id := range slices.Sorted(maps.Keys(c.Reports.Merchants)) {
		known := false
		for _, m := range c.Payments.Merchants {
			known = known || m.ID == id
		}
		if !known {
			errs = append(errs, fmt.Errorf("config: reports.merchants.%s: not a payments merchant", id))
		}
	}
	targets := c.callbackTargets()
	for i, m := range c.API.Merchants {
		if _, ok := targets[m.Merchant]; len(m.CallbackHosts) > 0 && !ok {
			errs = append(errs, fmt.Errorf("config: api.merchants[%d].callback_hosts: merchant %q has no callbacks to send there (callback_url, or its callbacks.merchants entry)", i, m.Merchant))
		}
	}
	if err := c.Payments.Validate(); err != nil {
		errs = append(errs, eachPrefixed("config: ", err)...)
	}
	if err := c.CNP.Validate(); err != nil {
		errs = append(errs, eachPrefixed("config: ", err)...)
	}
	// The page's public_url, when not given, Start takes from the listener.
	hcfg := c.HPP
	if hcfg.PublicURL == "" {
		hcfg.PublicURL = "https://switch.invalid"
	}
	if err := hcfg.Validate(); err != nil {
		errs = append(errs, eachPrefixed("config: ", err)...)
	}
	if err := c.PaymentLinks.Validate(); err != nil {
		errs = append(errs, eachPrefixed("config: ", err)...)
	}
	// The merchants' credentials are checked here, not first at start;
	// the payment page's URL, when not given, Start makes from public_url.
	acfg := c.API
	if acfg.PaymentPageURL == "" {
		acfg.PaymentPageURL = "https://switch.invalid/pay"
	}
	if err := acfg.Validate(); err != nil {
		errs = append(errs, eachPrefixed("config: ", err)...)
	}
	merchants := map[string]bool{}
	for _, m := range c.Payments.Merchants {
		merchants[m.ID] = true
	}
	for i, m := range c.CNP.Merchants {
		if m.Merchant != "" && !merchants[m.Merchant] {
			errs = append(errs, fmt.Errorf("config: cnp.merchants[%d].merchant: %q is not a payments merchant", i, m.Merchant))
		}
	}
	if err := c.Fiscal.Validate(); err != nil {
		errs = append(errs, eachPrefixed("config: ", err)...)
	}
	// Receipts travel on the store-and-forward queue, whose own limit
	// dead-letters an item first: a larger fiscal limit would never apply.
	if safMax := cmp.Or(c.SAF.MaxAttempts, saf.DefaultMaxAttempts); safMax > 0 && c.Fiscal.MaxAttempts > safMax {
		errs = append(errs, fmt.Errorf("config: fiscal.max_attempts: %d is more than saf.max_attempts (%d), which receipts also obey; raise saf.max_attempts or lower this", c.Fiscal.MaxAttempts, safMax))
	}
	for _, id := range slices.Sorted(maps.Keys(c.Fiscal.Merchants)) {
		if !merchants[id] {
			errs = append(errs, fmt.Errorf("config: fiscal.merchants.%s: not a payments merchant", id))
		}
	}
	if _, err := routing.New(c.Routing, c.linkNames()); err != nil {
		errs = append(errs, eachPrefixed("config: routing: ", err)...)
	}
	return errors.Join(errs...)
}

// eachPrefixed prefixes every error err joins (errors.Join), so that each
// line of the message says where it comes from.
func eachPrefixed(prefix string, err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{fmt.Errorf("%s%w", prefix, err)}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, fmt.Errorf("%s%w", prefix, e))
	}
	return out
}

// routedBanks are the banks the routing rules name: the switch is ready for
// merchants when it can reach each of them.
func (c *Config) routedBanks() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range c.Routing.Rules {
		for _, b := range r.Banks {
			if !seen[b.Name] {
				seen[b.Name] = true
				out = append(out, b.Name)
			}
		}
	}
	return out
}

func (c *Config) linkNames() []string {
	var out []string
	for _, l := range c.Links {
		out = append(out, l.Name)
	}
	return out
}

// validateAdmin refuses an admin endpoint that anyone off this machine
// could reach without a token.
func (c *Config) validateAdmin() error {
	if t := c.AdminTokenSHA256; t != "" {
		if b, err := hex.DecodeString(t); err != nil || len(b) != sha256.Size {
			return errors.New("config: admin_token_sha256: must be 64 hex digits (sha256sum of the token)")
		}
	}
	if c.AdminListen == "" || c.AdminTokenSHA256 != "" || c.adminMTLS() {
		return nil
	}
	host, _, err := net.SplitHostPort(c.AdminListen)
	if err != nil {
		return fmt.Errorf("config: admin_listen: %q is not host:port", c.AdminListen)
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("config: admin_listen: %s is not a loopback address: set admin_token_sha256 or admin_tls with client_auth: require, or listen on 127.0.0.1", c.AdminListen)
}

// cabinetTLS is the tls section the cabinet serves with (nil: plain
// HTTP): its own, else the merchants' port's certificate without the
// client certificates that port may ask of merchants' servers, which no
// browser of a shop's accountant has.
func (c *Config) cabinetTLS() *tlsconf.Config {
	switch {
	case c.CabinetTLS != nil:
		return c.CabinetTLS
	case c.TLS != nil:
		t := *c.TLS
		t.ClientAuth, t.CAFile = "", ""
		return &t
	}
	return nil
}

// adminMTLS: the admin listener lets in only operators with a certificate
// of admin_tls.ca_file.
func (c *Config) adminMTLS() bool { return c.AdminTLS != nil && c.AdminTLS.ClientAuth == "require" }
