// Package tlsconf turns the tls sections of the config file into
// crypto/tls configs: TLS 1.2 at least with modern AEAD cipher suites, a
// certificate and key from files that are read again when they change (a
// renewed certificate takes effect without a restart), trusted CAs, and
// mutual TLS where the section asks for it. Listeners (the merchant side,
// the cabinet, the admin endpoint) and bank links, dialing or listening,
// all use it.
package tlsconf

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Config is one tls section.
type Config struct {
	// CertFile and KeyFile are this side's certificate chain and key (PEM):
	// a server's, or a client's for mutual TLS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CAFile holds the CAs (PEM) the peer's certificate must chain to: a
	// server's for a client; for a server, the clients' when ClientAuth
	// asks for certificates. Empty: the system's roots (client side).
	CAFile string `yaml:"ca_file"`
	// ClientAuth, on a server: "" (none), "request" (verify if given),
	// "require" (mutual TLS: no valid client certificate, no connection)
	// or "pin" (ask for any certificate, verify none: the services behind
	// check a merchant's pinned fingerprints, Pins).
	ClientAuth string `yaml:"client_auth"`
	// ServerName, on a client, is the name the server's certificate must
	// carry; default the host dialed.
	ServerName string `yaml:"server_name"`
	// Reload is how often the files are checked for a change. Default 1m.
	Reload time.Duration `yaml:"reload"`
}

// Enabled reports whether the section asks for TLS at all.
func (c *Config) Enabled() bool { return c != nil && (c.CertFile != "" || c.CAFile != "") }

// Validate checks a section for a server (server true) or a client; errors
// name the key under prefix.
func (c *Config) Validate(prefix string, server bool) error {
	switch {
	case (c.CertFile == "") != (c.KeyFile == ""):
		return fmt.Errorf("%s.cert_file, %s.key_file: give both or neither", prefix, prefix)
	case server && c.CertFile == "":
		return fmt.Errorf("%s.cert_file: a TLS server needs its certificate", prefix)
	case c.ClientAuth != "" && c.ClientAuth != "request" && c.ClientAuth != "require" && c.ClientAuth != "pin":
		return fmt.Errorf("%s.client_auth: %q is not request, require or pin", prefix, c.ClientAuth)
	case c.ClientAuth != "" && !server:
		return fmt.Errorf("%s.client_auth: only a server asks for client certificates", prefix)
	case (c.ClientAuth == "request" || c.ClientAuth == "require") && c.CAFile == "":
		return fmt.Errorf("%s.ca_file: client_auth needs the CAs the clients' certificates chain to", prefix)
	case c.Reload < 0:
		return fmt.Errorf("%s.reload: must not be negative", prefix)
	}
	for _, f := range []struct{ key, path string }{{"cert_file", c.CertFile}, {"key_file", c.KeyFile}, {"ca_file", c.CAFile}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s.%s: %w", prefix, f.key, err)
		}
	}
	_, err := c.load()
	if err != nil {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return nil
}

// base is what every config here shares: TLS 1.2 at least and, for 1.2,
// only ECDHE with AEAD ciphers (TLS 1.3's suites are all modern).
func base() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}

// files is one reading of a section's files.
type files struct {
	cert *tls.Certificate
	cas  *x509.CertPool
}

func (c *Config) load() (files, error) {
	var f files
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return f, fmt.Errorf("cert_file, key_file: %w", err)
		}
		f.cert = &cert
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return f, fmt.Errorf("ca_file: %w", err)
		}
		f.cas = x509.NewCertPool()
		if !f.cas.AppendCertsFromPEM(pem) {
			return f, errors.New("ca_file: no PEM certificate in it")
		}
	}
	return f, nil
}

// Source reads a section's files and reads them again when they change,
// at most every Reload; a change that does not load (a half-written file)
// keeps the last good reading and is reported through OnError.
type Source struct {
	cfg     Config
	OnError func(error)

	mu      sync.Mutex
	current files
	checked time.Time
	stamp   string
}

// NewSource reads the files once; an error names what failed.
func NewSource(cfg Config) (*Source, error) {
	if cfg.Reload == 0 {
		cfg.Reload = time.Minute
	}
	s := &Source{cfg: cfg}
	f, err := cfg.load()
	if err != nil {
		return nil, err
	}
	s.current, s.checked, s.stamp = f, time.Now(), s.mtimes()
	return s, nil
}

func (s *Source) mtimes() string {
	var out string
	for _, p := range []string{s.cfg.CertFile, s.cfg.KeyFile, s.cfg.CAFile} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil {
			out += fmt.Sprintf("%s:%d:%d;", p, st.ModTime().UnixNano(), st.Size())
		}
	}
	return out
}

// files returns the current reading, reading again when due and changed.
func (s *Source) files() files {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.checked) < s.cfg.Reload {
		return s.current
	}
	s.checked = time.Now()
	if stamp := s.mtimes(); stamp != s.stamp {
		f, err := s.cfg.load()
		if err != nil {
			if s.OnError != nil {
				s.OnError(err)
			}
			return s.current
		}
		s.current, s.stamp = f, stamp
	}
	return s.current
}

// Server is a server config whose certificate and client CAs follow the
// files.
func (s *Source) Server() *tls.Config {
	t := base()
	t.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		f := s.files()
		c := base()
		c.Certificates = []tls.Certificate{*f.cert}
		c.ClientCAs = f.cas
		switch s.cfg.ClientAuth {
		case "request":
			c.ClientAuth = tls.VerifyClientCertIfGiven
		case "require":
			c.ClientAuth = tls.RequireAndVerifyClientCert
		case "pin":
			c.ClientAuth = tls.RequestClientCert
		}
		return c, nil
	}
	return t
}

// Client is a client config for a connection to host, with the current
// files: the server's CAs and, for mutual TLS, this side's certificate.
func (s *Source) Client(host string) *tls.Config {
	f := s.files()
	c := base()
	c.RootCAs = f.cas
	c.ServerName = s.cfg.ServerName
	if c.ServerName == "" {
		c.ServerName = host
	}
	if f.cert != nil {
		c.Certificates = []tls.Certificate{*f.cert}
	}
	return c
}

// Pins are SHA-256 fingerprints of the DER of client certificates a
// merchant may present: a certificate pinned to one merchant, whoever
// issued it. Several, so that a certificate can be renewed without
// downtime.
type Pins [][sha256.Size]byte

// ParsePins reads fingerprints as 64 hex digits each (colons allowed, as
// openssl x509 -fingerprint -sha256 prints them); errors name key[i].
func ParsePins(key string, hexes []string) (Pins, error) {
	var p Pins
	for i, h := range hexes {
		b, err := hex.DecodeString(strings.ReplaceAll(h, ":", ""))
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("%s[%d]: the SHA-256 of the certificate's DER, 64 hex digits", key, i)
		}
		p = append(p, [sha256.Size]byte(b))
	}
	return p, nil
}

// Match reports whether the connection's client presented a certificate
// with one of the fingerprints.
func (p Pins) Match(cs *tls.ConnectionState) bool {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return false
	}
	sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
	ok := 0
	for _, pin := range p {
		ok |= subtle.ConstantTimeCompare(sum[:], pin[:])
	}
	return ok == 1
}
