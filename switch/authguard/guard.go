// Package authguard keeps password and key guessing from working and from
// hurting: it counts failed sign-ins per credential and per client address,
// locks a credential out after too many, and bounds how many expensive
// password checks (argon2id) run at once so that a flood of wrong
// passwords can take neither the memory nor the CPU real merchants need.
//
// The merchant API and the cabinet use one Guard each, with their own
// policy. The cabinet's (switch/users.NewGuard) limits addresses and runs
// the hashes only: its account lock (the manual's three tries, then thirty
// minutes) must survive a restart, so switch/users keeps it in the data
// file.
//
// A lock by credential would let anyone who knows a merchant's login (an
// RBS user name, a Processing.kz merchantId) keep that merchant out by
// failing on purpose. So an address the credential last signed in from
// successfully is known to it for Config.KnownFor, and a lock does not
// apply there: the shop's own server keeps working while the guesser
// stays locked out. The address limit still does. (The cabinet's account
// lock is the manual's, kept by switch/users, and applies everywhere.)
// Both key on the client's address as switch/clientip tells it: behind a
// proxy, only a proxy listed in http.trusted_proxies keeps its clients
// apart; unlisted, every client has the proxy's address, one sign-in makes
// it known and the lock stops applying.
//
// It keeps state in memory only: a restart forgets lockouts, which is
// what an attacker gains by crashing the switch, and that is not cheap;
// it forgets known addresses too, until each signs in again.
package authguard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/tulpar-switch/tulpar/switch/cores"
)

// Config is a guard's policy. Zero values take the defaults.
type Config struct {
	// MaxFailures wrong secrets for one credential within Window lock it
	// for LockFor. Defaults 5, 15m, 15m.
	MaxFailures int           `yaml:"max_failures"`
	Window      time.Duration `yaml:"window"`
	LockFor     time.Duration `yaml:"lock_for"`
	// KnownFor is how long an address a credential signed in from stays
	// exempt from that credential's lock (at most maxKnown addresses a
	// credential, the most recent). Default 720h (30 days).
	KnownFor time.Duration `yaml:"known_for"`
	// AddressFailuresPerMinute and AddressBurst bound the failures one
	// client address may cause, across credentials (a guesser spreading
	// over many user names). Defaults 20 and 20.
	AddressFailuresPerMinute float64 `yaml:"address_failures_per_minute"`
	AddressBurst             int     `yaml:"address_burst"`
	// MaxHashing password checks run at once, each waiting at most
	// HashWait for its turn; past that the caller is told the service is
	// busy. Defaults half of the cores (at least one: the other cores stay
	// for merchants already signed in) and 250ms.
	MaxHashing int           `yaml:"max_hashing"`
	HashWait   time.Duration `yaml:"hash_wait"`
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time `yaml:"-"`
}

func (c Config) withDefaults() Config {
	if c.MaxFailures <= 0 {
		c.MaxFailures = 5
	}
	if c.Window <= 0 {
		c.Window = 15 * time.Minute
	}
	if c.LockFor <= 0 {
		c.LockFor = 15 * time.Minute
	}
	if c.KnownFor <= 0 {
		c.KnownFor = 30 * 24 * time.Hour
	}
	if c.AddressFailuresPerMinute <= 0 {
		c.AddressFailuresPerMinute = 20
	}
	if c.AddressBurst <= 0 {
		c.AddressBurst = 20
	}
	if c.MaxHashing <= 0 {
		c.MaxHashing = max(1, cores.N()/2)
	}
	if c.HashWait <= 0 {
		c.HashWait = 250 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate checks a policy; errors name the key.
func (c Config) Validate() error {
	for _, f := range []struct {
		key      string
		negative bool
	}{
		{"max_failures", c.MaxFailures < 0}, {"window", c.Window < 0}, {"lock_for", c.LockFor < 0},
		{"known_for", c.KnownFor < 0}, {"address_failures_per_minute", c.AddressFailuresPerMinute < 0},
		{"address_burst", c.AddressBurst < 0}, {"max_hashing", c.MaxHashing < 0}, {"hash_wait", c.HashWait < 0},
	} {
		if f.negative {
			return fmt.Errorf("%s: must not be negative", f.key)
		}
	}
	return nil
}

// ErrBusy is returned by Check when every password-check slot stayed taken
// for HashWait: the caller answers "busy, retry" at once instead of queueing
// without bound.
var ErrBusy = errors.New("too many sign-ins at once; retry shortly")

// Guard is one policy's state. Safe for concurrent use.
type Guard struct {
	cfg   Config
	slots chan struct{}
	m     *metrics

	mu    sync.Mutex
	creds map[string]*credState
	addrs map[string]*rate.Limiter
	known map[string][]known // by credential, most recent last
}

type credState struct {
	failures    []time.Time // within Window, oldest first
	lockedUntil time.Time
}

// maxKnown bounds the addresses remembered for one credential: a shop
// signs in from a few servers, and the oldest sign-in gives way.
const maxKnown = 8

// known is an address a credential signed in from, and until when that
// exempts it from the credential's lock.
type known struct {
	addr  string
	until time.Time
}

// New returns a guard; reg, when not nil, gets its counters under name.
func New(cfg Config, name string, reg prometheus.Registerer) (*Guard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(name, reg)
	if err != nil {
		return nil, err
	}
	return &Guard{cfg: cfg, slots: make(chan struct{}, cfg.MaxHashing), m: m,
		creds: map[string]*credState{}, addrs: map[string]*rate.Limiter{}, known: map[string][]known{}}, nil
}

// Allow says whether cred may be tried from addr now, and if not, how long
// until it may. It consumes nothing: only failures count. A lock on cred
// does not apply at an address cred is known at (Succeeded).
func (g *Guard) Allow(cred, addr string) (retryAfter time.Duration, ok bool) {
	now := g.cfg.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.creds[cred]; c != nil && now.Before(c.lockedUntil) && !g.knownAt(cred, addr, now) {
		g.m.refused.WithLabelValues("credential").Inc()
		return c.lockedUntil.Sub(now), false
	}
	if l := g.addrs[addr]; l != nil && l.TokensAt(now) < 1 {
		g.m.refused.WithLabelValues("address").Inc()
		r := l.ReserveN(now, 1)
		d := r.DelayFrom(now)
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// Failed records a wrong secret for cred from addr and returns how long
// cred is now locked (0 if it is not).
func (g *Guard) Failed(cred, addr string) time.Duration {
	now := g.cfg.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.m.failures.Inc()
	l := g.addrs[addr]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(g.cfg.AddressFailuresPerMinute/60), g.cfg.AddressBurst)
		g.addrs[addr] = l
	}
	l.AllowN(now, 1)
	c := g.creds[cred]
	if c == nil {
		c = &credState{}
		g.creds[cred] = c
	}
	cut := 0
	for cut < len(c.failures) && now.Sub(c.failures[cut]) >= g.cfg.Window {
		cut++
	}
	c.failures = append(c.failures[cut:], now)
	if len(c.failures) >= g.cfg.MaxFailures {
		c.lockedUntil, c.failures = now.Add(g.cfg.LockFor), nil
		g.m.lockouts.Inc()
		g.prune(now)
		return g.cfg.LockFor
	}
	g.prune(now)
	return 0
}

// Succeeded makes addr known to cred for Config.KnownFor. It does not
// forget cred's failures: a shop signing in every few seconds would
// otherwise wipe the count of a guesser spreading wrong passwords between
// its calls; failures age out after Window, and the lock they bring does
// not apply at the shop's known addresses.
func (g *Guard) Succeeded(cred, addr string) {
	now := g.cfg.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	ks := g.known[cred]
	for i, k := range ks {
		if k.addr == addr {
			ks = append(ks[:i], ks[i+1:]...)
			break
		}
	}
	if len(ks) == maxKnown {
		ks = ks[1:]
	}
	g.known[cred] = append(ks, known{addr, now.Add(g.cfg.KnownFor)})
}

// knownAt reports whether cred signed in from addr within KnownFor. The
// caller holds mu.
func (g *Guard) knownAt(cred, addr string, now time.Time) bool {
	for _, k := range g.known[cred] {
		if k.addr == addr {
			return now.Before(k.until)
		}
	}
	return false
}

// Unlock lifts cred's lockout (an operator's action).
func (g *Guard) Unlock(cred string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.creds, cred)
}

// Check runs verify, an expensive password check, in one of MaxHashing
// slots: it waits at most HashWait (or until ctx ends) for a slot, and
// returns ErrBusy when none came free.
func (g *Guard) Check(ctx context.Context, verify func() bool) (bool, error) {
	t := time.NewTimer(g.cfg.HashWait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
	case <-t.C:
		g.m.busy.Inc()
		return false, ErrBusy
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-g.slots }()
	return verify(), nil
}

// prune bounds the state a flood of made-up names and addresses leaves
// behind: unlocked credentials whose failures have all aged out, and
// address limiters that are full again, go. The caller holds mu.
func (g *Guard) prune(now time.Time) {
	if len(g.creds)+len(g.addrs) < 4096 {
		return
	}
	for k, c := range g.creds {
		if now.After(c.lockedUntil) && (len(c.failures) == 0 || now.Sub(c.failures[len(c.failures)-1]) >= g.cfg.Window) {
			delete(g.creds, k)
		}
	}
	for k, l := range g.addrs {
		if l.TokensAt(now) >= float64(g.cfg.AddressBurst) {
			delete(g.addrs, k)
		}
	}
	for cred, ks := range g.known {
		if now.After(ks[len(ks)-1].until) {
			delete(g.known, cred) // the most recent sign-in is the last to expire
		}
	}
}

type metrics struct {
	failures prometheus.Counter
	lockouts prometheus.Counter
	busy     prometheus.Counter
	refused  *prometheus.CounterVec
}

func newMetrics(name string, reg prometheus.Registerer) (*metrics, error) {
	labels := prometheus.Labels{"guard": name}
	m := &metrics{
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "tulpar_auth_failures_total",
			Help: "Wrong passwords, tokens and keys.", ConstLabels: labels}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{Name: "tulpar_auth_lockouts_total",
			Help: "Credentials locked after too many failures.", ConstLabels: labels}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{Name: "tulpar_auth_busy_total",
			Help: "Sign-ins answered busy: every password-check slot was taken.", ConstLabels: labels}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tulpar_auth_refused_total",
			Help: "Sign-ins refused before checking, by what was locked (credential or address).", ConstLabels: labels}, []string{"by"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.failures, m.lockouts, m.busy, m.refused} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
