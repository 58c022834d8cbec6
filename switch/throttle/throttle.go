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
// the owners leave room for many real buyers a minute.
package throttle

import (
	"fmt"
	"sync"
	"time"
)

// Config is one limit: PerMinute tokens a minute with up to Burst at once.
type Config struct {
	PerMinute float64 `yaml:"per_minute"`
	Burst     int     `yaml:"burst"`
	// Off switches the limit off: every Take succeeds.
	Off bool `yaml:"off"`
}

// Validate names the field that is wrong, under key (the config's path to
// this limit).
func (c Config) Validate(key string) error {
	switch {
	case c.Off:
		return nil
	case c.PerMinute <= 0:
		return fmt.Errorf("%s.per_minute: %v: must be positive", key, c.PerMinute)
	case c.Burst <= 0:
		return fmt.Errorf("%s.burst: %d: must be positive", key, c.Burst)
	}
	return nil
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

// New returns a limiter of cfg, which must be valid; now is the clock
// (time.Now when nil).
func New(cfg Config, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{cfg: cfg, perSec: cfg.PerMinute / 60, now: now, m: map[string]*bucket{}}
}

// fill brings b's tokens up to now; the caller holds mu.
func (l *Limiter) fill(b *bucket, now time.Time) {
	if now.After(b.last) {
		b.tokens = min(float64(l.cfg.Burst), b.tokens+now.Sub(b.last).Seconds()*l.perSec)
		b.last = now
	}
}

// Take spends one of key's tokens and reports true; the Ticket gives it
// back if what it was spent on did not happen after all. With none left it
// spends nothing and returns how long until there is one.
func (l *Limiter) Take(key string) (t *Ticket, retryAfter time.Duration, ok bool) {
	if l.cfg.Off {
		return nil, 0, true
	}
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
