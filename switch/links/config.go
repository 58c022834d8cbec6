package links

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/specs"
	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// Side says who opens the TCP connection.
type Side string

const (
	// SideDial: Tulpar dials the bank (the usual arrangement).
	SideDial Side = "dial"
	// SideListen: the bank dials Tulpar on a listening port.
	SideListen Side = "listen"
)

// Defaults applied by New to zero values.
const (
	DefaultPoolSize       = 1
	DefaultEchoInterval   = 30 * time.Second
	DefaultEchoFailures   = 2
	DefaultWriteTimeout   = 5 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultConnectTimeout = 5 * time.Second
	DefaultMaxInFlight    = 256
	DefaultBackoffMin     = 500 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	DefaultLateWindow     = 5 * time.Minute
)

// Config is one partner bank's link, as it appears in the daemon's config
// file under `links:`. Zero values take the defaults named on each field;
// Validate reports what is wrong, naming the key.
type Config struct {
	// Name identifies the bank in routing rules, logs and metrics.
	Name string `yaml:"name"`
	// Dialect is a spec from package specs ("ascii", "binary").
	Dialect string `yaml:"dialect"`
	// Side is "dial" (Tulpar connects to Addrs) or "listen" (the bank
	// connects to Listen). Default "dial".
	Side Side `yaml:"side"`
	// Addrs are the bank's host:port addresses, tried in order on every
	// (re)connect: the first is the primary, the rest are fallbacks. Dial
	// side only.
	Addrs []string `yaml:"addrs"`
	// Listen is the host:port Tulpar listens on for the bank. Listen side only.
	Listen string `yaml:"listen"`
	// PoolSize is how many connections the link keeps (dial side) or
	// accepts at most (listen side); Send spreads over the ready ones.
	// Default 1.
	PoolSize int `yaml:"pool_size"`
	// SignOn: a connection carries traffic only after an 0800/001 that the
	// bank approves. Default true (nil); false for hosts without sign-on.
	SignOn *bool `yaml:"sign_on"`
	// EchoInterval: a connection with nothing written for this long sends
	// an 0800/301 echo. Default 30s.
	EchoInterval time.Duration `yaml:"echo_interval"`
	// EchoFailures consecutive failed echoes declare the connection dead.
	// Default 2.
	EchoFailures int `yaml:"echo_failures"`
	// ReadTimeout: nothing received for this long declares the connection
	// dead (the socket may look open while the host is gone). Default
	// 3 × EchoInterval, so idle links survive on echoes alone.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds one socket write; a bank that stops reading
	// kills the connection instead of blocking the link. It also bounds
	// how long the rest of a frame may take to follow its length header:
	// a host writes a frame whole, so a header that promises more than
	// comes is a bad frame. Default 5s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// RequestTimeout is a request's deadline when the caller's context has
	// none earlier. Default 10s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// ConnectTimeout bounds one TCP connect. Default 5s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// MaxInFlight bounds requests awaiting a response on the link; Send
	// waits for a slot as long as its context allows. Default 256.
	MaxInFlight int `yaml:"max_in_flight"`
	// Backoff between reconnect attempts: doubles from Min up to Max, with
	// jitter; reset after a successful sign-on. Default 500ms..30s.
	Backoff Backoff `yaml:"backoff"`
	// MAC on every message both ways (DE64/DE128) with the hsm key KeyID.
	// TLS, when set, wraps every connection of the link in TLS: as a
	// client on the dial side (ca_file: the bank's CA; cert_file and
	// key_file for mutual TLS), as a server on the listen side (cert_file
	// and key_file required; client_auth: require for mutual TLS).
	TLS *tlsconf.Config `yaml:"tls"`
	MAC MACConfig       `yaml:"mac"`
	// AcquirerID is DE32 on Tulpar's 0800s (up to 11 digits).
	AcquirerID string `yaml:"acquirer_id"`
	// LateWindow: how long the match key of a timed-out request is
	// remembered, so a response arriving after it is reported as late
	// rather than unmatched. Default 5m.
	LateWindow time.Duration `yaml:"late_window"`
	// MatchKey lists what a response must share with its request to be
	// its answer (iso.MatchField): mti_class and stan, and any of
	// terminal (DE41), acquirer (DE32), rrn (DE37), which the bank must
	// then echo in every answer, and acquirer_if_echoed (DE32 compared
	// only when the answer carries it). Default [mti_class, stan,
	// terminal, acquirer_if_echoed]: many hosts do not echo DE32. Drop
	// acquirer_if_echoed for a host that answers with a DE32 of its own.
	MatchKey []string `yaml:"match_key"`
}

// Backoff is the reconnect delay range.
type Backoff struct {
	Min time.Duration `yaml:"min"`
	Max time.Duration `yaml:"max"`
}

// MACConfig turns message authentication on for a link.
type MACConfig struct {
	Enabled bool   `yaml:"enabled"`
	KeyID   string `yaml:"key_id"`
	// ZMKID is the zone master key the bank wraps a new MAC key under in
	// an 0800 key change (DE70 161). Empty: key changes are refused.
	ZMKID string `yaml:"zmk_id"`
}

// DefaultConfig returns a dial-side config with every default filled in.
func DefaultConfig(name, dialect string, addrs ...string) Config {
	c := Config{Name: name, Dialect: dialect, Side: SideDial, Addrs: addrs}
	return c.withDefaults()
}

// SignsOn reports whether the link signs on (SignOn unset means true).
func (c Config) SignsOn() bool { return c.SignOn == nil || *c.SignOn }

func (c Config) withDefaults() Config {
	if c.Side == "" {
		c.Side = SideDial
	}
	if c.PoolSize == 0 {
		c.PoolSize = DefaultPoolSize
	}
	if c.SignOn == nil {
		t := true
		c.SignOn = &t
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.EchoInterval, DefaultEchoInterval)
	if c.EchoFailures == 0 {
		c.EchoFailures = DefaultEchoFailures
	}
	def(&c.ReadTimeout, 3*c.EchoInterval)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.RequestTimeout, DefaultRequestTimeout)
	def(&c.ConnectTimeout, DefaultConnectTimeout)
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	def(&c.Backoff.Min, DefaultBackoffMin)
	def(&c.Backoff.Max, DefaultBackoffMax)
	if c.Backoff.Max < c.Backoff.Min {
		c.Backoff.Max = c.Backoff.Min
	}
	def(&c.LateWindow, DefaultLateWindow)
	if len(c.MatchKey) == 0 {
		for _, f := range iso.DefaultMatch {
			c.MatchKey = append(c.MatchKey, string(f))
		}
	}
	return c
}

// Validate checks the config as written (zero values mean defaults) and
// returns every problem, each naming the bank and the key.
func (c Config) Validate() error {
	var errs []error
	bank := c.Name
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("links: bank %q: "+format, append([]any{bank}, args...)...))
	}
	if c.Name == "" {
		bad("name: required")
	}
	if c.Dialect == "" {
		bad("dialect: required (one of %v)", specs.Names())
	} else if !slices.Contains(specs.Names(), c.Dialect) {
		bad("dialect %q: unknown (one of %v)", c.Dialect, specs.Names())
	}
	switch c.Side {
	case "", SideDial:
		if len(c.Addrs) == 0 {
			bad("addrs: at least one host:port required on the dial side")
		}
		if c.Listen != "" {
			bad("listen: only for side \"listen\"")
		}
		for i, a := range c.Addrs {
			if !validHostPort(a, false) {
				bad("addrs[%d] %q: invalid host:port", i, a)
			}
		}
	case SideListen:
		if c.Listen == "" {
			bad("listen: host:port required on the listen side")
		} else if !validHostPort(c.Listen, true) {
			bad("listen %q: invalid host:port", c.Listen)
		}
		if len(c.Addrs) > 0 {
			bad("addrs: only for side \"dial\"")
		}
	default:
		bad("side %q: must be \"dial\" or \"listen\"", c.Side)
	}
	if c.PoolSize < 0 || c.PoolSize > 64 {
		bad("pool_size %d: must be 1..64", c.PoolSize)
	}
	if c.EchoFailures < 0 {
		bad("echo_failures %d: must not be negative", c.EchoFailures)
	}
	if c.MaxInFlight < 0 {
		bad("max_in_flight %d: must not be negative", c.MaxInFlight)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"echo_interval", c.EchoInterval}, {"read_timeout", c.ReadTimeout},
		{"write_timeout", c.WriteTimeout}, {"request_timeout", c.RequestTimeout},
		{"connect_timeout", c.ConnectTimeout}, {"backoff.min", c.Backoff.Min},
		{"backoff.max", c.Backoff.Max}, {"late_window", c.LateWindow},
	} {
		if d.v < 0 {
			bad("%s %s: must not be negative", d.key, d.v)
		}
	}
	if c.Backoff.Max > 0 && c.Backoff.Min > c.Backoff.Max {
		bad("backoff.min %s: greater than backoff.max %s", c.Backoff.Min, c.Backoff.Max)
	}
	if c.ReadTimeout > 0 && c.EchoInterval > 0 && c.ReadTimeout <= c.EchoInterval {
		bad("read_timeout %s: must exceed echo_interval %s, or an idle link dies between echoes", c.ReadTimeout, c.EchoInterval)
	}
	if c.MAC.Enabled && c.MAC.KeyID == "" {
		bad("mac.key_id: required when mac.enabled")
	}
	if c.AcquirerID != "" && (len(c.AcquirerID) > 11 || !digits(c.AcquirerID)) {
		bad("acquirer_id %q: must be 1..11 digits", c.AcquirerID)
	}
	if _, err := iso.NewMatcher(c.MatchKey); err != nil {
		var fe *iso.MatchFieldError
		if errors.As(err, &fe) && fe.Index >= 0 {
			bad("match_key[%d] %q: %s", fe.Index, fe.Field, fe.Reason)
		} else {
			bad("match_key: %v", err)
		}
	}
	if c.TLS != nil {
		if err := c.TLS.Validate("tls", c.Side == SideListen); err != nil {
			bad("%v", err)
		}
	}
	return errors.Join(errs...)
}

// validHostPort accepts host:port; a listen address may omit the host
// (all interfaces) and use port 0 (any free port, for tests).
func validHostPort(s string, listen bool) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || (host == "" && !listen) {
		return false
	}
	p, err := strconv.Atoi(port)
	lowest := 1
	if listen {
		lowest = 0
	}
	return err == nil && p >= lowest && p <= 65535
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
