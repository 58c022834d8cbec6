// Package throttle limits how often one client may do a thing that costs
// the switch or a card holder something, keyed by the client's address
// (switch/clientip): a buyer's card attempts on the hosted page, orders
// made through a public payment link. Those pages need no credentials, so
// they are where card testers (bots trying stolen card numbers through a
// shop's checkout) and order floods come from.
//
// Each key has a token bucket. The set of keys is bounded, so a flood
// from many addresses cannot grow it without end. The bucket is a few
// lines of its own rather than golang.org/x/time/rate's: a token must be
// given back when what it was spent on did not happen (the card never
// reached the bank), and rate can cancel a reservation only until the
// moment it was granted.
// Buyers behind one carrier-grade NAT share an address: the defaults of
// the owners leave room for many real buyers a minute. Where that is not
// enough (a shop's call centre keying in orders taken by phone, a
// carrier's NAT the operator knows), Config.Exempt names the addresses
// and prefixes no limit applies to.
package throttle

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/tulpar-switch/tulpar/switch/clientip"
)

// Config is one limit: PerMinute tokens a minute with up to Burst at once.
type Config struct {
	PerMinute float64 `yaml:"per_minute"`
	Burst     int     `yaml:"burst"`
	// Off switches the limit off: every Take succeeds.
	Off bool `yaml:"off"`
	// Exempt are the client addresses and CIDR prefixes the limit does not
	// apply to.
	Exempt []string `yaml:"exempt"`
}

// Unset reports whether the rate is left to its owner's default: no rate,
// no burst, not off. Exempt may be set with the default rate.
func (c Config) Unset() bool { return c.PerMinute == 0 && c.Burst == 0 && !c.Off }

// Validate names the field that is wrong, under key (the config's path to
// this limit). An Unset rate is valid; its owner fills it in.
func (c Config) Validate(key string) error {
	var errs []error
	if !c.Off && !c.Unset() {
		if c.PerMinute <= 0 {
			errs = append(errs, fmt.Errorf("%s.per_minute: %v: must be positive", key, c.PerMinute))
		}
		if c.Burst <= 0 {
			errs = append(errs, fmt.Errorf("%s.burst: %d: must be positive", key, c.Burst))
		}
	}
	if _, err := parseExempt(key, c.Exempt); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// parseExempt reads Config.Exempt: an address is its own /32 or /128, an
// IPv4-mapped one is the IPv4 it maps (as switch/clientip gives clients).
// A prefix covering every address is refused: that is Off, said plainly.
func parseExempt(key string, list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for i, e := range list {
		var p netip.Prefix
		var err error
		if strings.Contains(e, "/") {
			p, err = netip.ParsePrefix(e)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(e); err == nil {
				a = a.Unmap()
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s.exempt[%d]: %q: not an address or a CIDR prefix", key, i, e))
			continue
		case p.Addr().Is4In6() && p.Bits() >= 96:
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		case p.Addr().Is4In6():
			errs = append(errs, fmt.Errorf("%s.exempt[%d]: %q: an IPv4-mapped prefix shorter than /96", key, i, e))
			continue
		}
		if p.Bits() == 0 {
			errs = append(errs, fmt.Errorf("%s.exempt[%d]: %q: exempts every client; say off: true", key, i, e))
			continue
		}
		out = append(out, p.Masked())
	}
	return out, errors.Join(errs...)
}

// maxKeys bounds the buckets kept: past it, full buckets (clients quiet
// long enough to have their whole burst back) go, and if the set is still
// too big a quarter of it goes at random. A client dropped so gets a full
// bucket again: the limit is softer under a flood from more addresses than
// this, never unbounded in memory.
const maxKeys = 1 << 16

// Limiter is a Config per key. Safe for concurrent use.
type Limiter struct {
	cfg    Config
	exempt []netip.Prefix
	perSec float64
	now    func() time.Time
	mu     sync.Mutex
	m      map[string]*bucket
}

// bucket is one key's tokens as of last.
type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter of cfg, which must be valid and not Unset (its
// owner fills in the default rate); now is the clock (time.Now when nil).
func New(cfg Config, now func() time.Time) (*Limiter, error) {
	if err := cfg.Validate("limit"); err != nil {
		return nil, err
	}
	if cfg.Unset() {
		return nil, errors.New("limit: no rate: per_minute and burst, or off")
	}
	exempt, _ := parseExempt("limit", cfg.Exempt) // valid: checked above
	if now == nil {
		now = time.Now
	}
	return &Limiter{cfg: cfg, exempt: exempt, perSec: cfg.PerMinute / 60, now: now, m: map[string]*bucket{}}, nil
}

// fill brings b's tokens up to now; the caller holds mu.
func (l *Limiter) fill(b *bucket, now time.Time) {
	if now.After(b.last) {
		b.tokens = min(float64(l.cfg.Burst), b.tokens+now.Sub(b.last).Seconds()*l.perSec)
		b.last = now
	}
}

// Take spends one of the tokens of host's network (switch/clientip:
// host is the client's address as clientip.Host gives it, the network an
// IPv4 address or an IPv6 /64) and reports true; the Ticket gives it back
// if what it was spent on did not happen after all. With none left it
// spends nothing and returns how long until there is one. An exempt
// host spends nothing.
func (l *Limiter) Take(host string) (t *Ticket, retryAfter time.Duration, ok bool) {
	if l.cfg.Off || l.exempted(host) {
		return nil, 0, true
	}
	key := clientip.NetworkOf(host)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now() // under mu: the buckets see time in order
	b := l.m[key]
	if b == nil {
		l.bound(now)
		b = &bucket{tokens: float64(l.cfg.Burst), last: now}
		l.m[key] = b
	}
	l.fill(b, now)
	if b.tokens < 1 {
		return nil, time.Duration((1 - b.tokens) / l.perSec * float64(time.Second)), false
	}
	b.tokens--
	return &Ticket{l: l, key: key}, 0, true
}

// Ticket is one token Take spent.
type Ticket struct {
	l        *Limiter
	key      string
	returned bool // under l.mu
}

// Return gives the token back: what it was spent on did not happen (the
// card never reached the bank, no order was made). Safe on a nil Ticket
// (a limit that is off) and more than once.
func (t *Ticket) Return() {
	if t == nil {
		return
	}
	t.l.mu.Lock()
	defer t.l.mu.Unlock()
	if t.returned {
		return
	}
	t.returned = true
	if b := t.l.m[t.key]; b != nil { // gone: the key's bucket is full anew
		t.l.fill(b, t.l.now())
		b.tokens = min(float64(t.l.cfg.Burst), b.tokens+1)
	}
}

// exempted reports whether host is in Config.Exempt.
func (l *Limiter) exempted(host string) bool {
	if len(l.exempt) == 0 {
		return false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range l.exempt {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// bound makes room for one more key; the caller holds mu.
func (l *Limiter) bound(now time.Time) {
	if len(l.m) < maxKeys {
		return
	}
	for k, b := range l.m {
		if l.fill(b, now); b.tokens >= float64(l.cfg.Burst) {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < maxKeys*3/4 {
			break
		}
		delete(l.m, k)
	}
}

// Len is how many keys are kept.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
