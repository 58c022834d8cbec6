package links

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// MACer computes and checks DE64/DE128 MACs under a key id. hsm.Module
// satisfies it.
type MACer interface {
	GenerateMAC(ctx context.Context, keyID string, data []byte) ([]byte, error)
	VerifyMAC(ctx context.Context, keyID string, data, mac []byte) error
}

// KeyImporter stores a key a bank sends in an 0800 key change (DE70 161):
// wrapped is the key under the zone master key as the bank sent it, kcv its
// check value. An error makes the link answer 63 (security violation).
type KeyImporter interface {
	ImportKey(ctx context.Context, keyID, wrapped, kcv string) error
}

// Deps are what a link needs from the rest of the switch. Zero values are
// safe: a no-op logger, no metrics, no MAC, no hooks, time.Now.
type Deps struct {
	Log      zerolog.Logger
	Registry prometheus.Registerer
	// MAC is required when the link's config enables MACs.
	MAC MACer
	// Keys receives keys from 0800 key changes; nil answers them 12.
	Keys KeyImporter
	// OnUnsolicited receives every message the link could not hand to a
	// caller: responses that came after their caller gave up (late true)
	// and responses or bank requests nobody asked for (late false). The
	// journal subscribes here. It runs on the link's reader goroutines:
	// it must not block for long, and it must not call Send.
	OnUnsolicited func(link string, m *iso.Message, late bool)
	// OnStateChange is told every change of the link's state, synchronously:
	// it must not block or call back into the link.
	OnStateChange func(link string, st State)
	// OnSignedOn is told each time a connection is ready (signed on where
	// the link signs on): the link's first, one beside live ones, and one
	// that brings a bank back before the link noticed its last connection
	// had died (a half-open one: its state never left Ready).
	// Synchronously: it must not block or call back into the link.
	OnSignedOn func(link string)
	// Now stamps DE7 on network messages and Status times.
	Now func() time.Time
}

// State is a link's readiness, as routing and operators see it.
type State string

const (
	// StateConnecting: no connection is ready yet and one is being made
	// (dial side) or awaited (listen side).
	StateConnecting State = "connecting"
	// StateSigningOn: a connection is up and its 0800/001 is in flight.
	StateSigningOn State = "signing_on"
	// StateReady: at least one connection is signed on; Send works.
	StateReady State = "ready"
	// StateDown: the link was up and lost every connection (echo failures,
	// socket death, failed sign-on); it is backing off before reconnecting.
	StateDown State = "down"
	// StateClosed: Close was called.
	StateClosed State = "closed"
)

var allStates = []State{StateConnecting, StateSigningOn, StateReady, StateDown, StateClosed}

// Status is what operators see of a link.
type Status struct {
	Name       string
	Side       Side
	Dialect    string
	State      State
	Since      time.Time // when State was entered
	Conns      int       // connections open
	ReadyConns int       // connections signed on
	InFlight   int       // requests awaiting a response
	Sent       uint64    // messages written (requests, echoes, replies)
	Received   uint64    // messages read
	Timeouts   uint64    // requests sent without a reply in time (ErrNoReply)
	NotSent    uint64    // Sends refused before the wire (ErrNotSent)
	Late       uint64    // responses after their caller gave up
	Unmatched  uint64    // responses and requests nobody asked for
	// FrameErrors counts frames refused (bad length header, truncated or
	// unparseable frame): each dropped its connection.
	FrameErrors uint64
	// TLSFailures counts connections whose TLS handshake failed (a
	// certificate not trusted, a protocol refused).
	TLSFailures uint64
	LastEcho    time.Time // last successful echo
	EchoRTT     time.Duration
}

// Link is the switch's connection to one partner bank: one or more TCP
// connections (dialed or accepted), each signed on with an 0800/001 before
// it carries traffic, echoed when idle, re-established with backoff when it
// dies. All methods are safe for concurrent use.
type Link struct {
	cfg   Config
	deps  Deps
	log   zerolog.Logger
	codec *iso.Codec
	match *iso.Matcher
	// hdrLen is the dialect's length header size in bytes.
	hdrLen int
	stans  *iso.STANs
	met    linkMetrics
	now    func() time.Time

	slots chan struct{} // in-flight semaphore (MaxInFlight)

	mu        sync.Mutex
	state     State
	since     time.Time
	changed   chan struct{} // closed and replaced on every state change
	slotState []State
	conns     []*conn // by slot; nil when the slot has none
	everReady bool
	started   bool
	closing   bool
	closingCh chan struct{}
	sends     sync.WaitGroup // Sends past the closing check
	ln        net.Listener
	// tls is the link's TLS files, nil for plain TCP.
	tls    *tlsconf.Source
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // supervisors and accepted connections

	ready atomic.Pointer[[]*conn] // signed-on connections, for Send
	rr    atomic.Uint32

	pendMu  sync.Mutex
	pending map[string]*pending
	late    *lateKeys

	inFlight                                                                     atomic.Int64
	sent, received, timeouts, notSent, lateN, unmatchedN, frameErrs, tlsFailures atomic.Uint64
	lastEcho, echoRTT                                                            atomic.Int64
}

type pending struct {
	ch chan result // buffered 1: exactly one delivery, by whoever deletes the entry
	// checked are the request's values of the match key's checked fields
	// (DE32 under acquirer_if_echoed): a response with the same key that
	// echoes other values is not this request's answer.
	checked []string
}

type result struct {
	m     *iso.Message
	cause error // non-nil: the response came but cannot be trusted
}

// New builds a link from a validated config. It opens nothing: call Start.
func New(cfg Config, deps Deps) (*Link, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	codec, err := iso.LoadCodec(cfg.Dialect)
	if err != nil {
		return nil, fmt.Errorf("links: bank %q: dialect: %w", cfg.Name, err)
	}
	if cfg.MAC.Enabled && deps.MAC == nil {
		return nil, fmt.Errorf("links: bank %q: mac.enabled: no MAC module given", cfg.Name)
	}
	match, err := iso.NewMatcher(cfg.MatchKey)
	if err != nil {
		return nil, fmt.Errorf("links: bank %q: match_key: %w", cfg.Name, err)
	}
	hdrLen, err := headerLen(codec.Dialect().LengthHeader)
	if err != nil {
		return nil, fmt.Errorf("links: bank %q: dialect %s: %w", cfg.Name, cfg.Dialect, err)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	var tlsSrc *tlsconf.Source
	if cfg.TLS != nil {
		if tlsSrc, err = tlsconf.NewSource(*cfg.TLS); err != nil {
			return nil, fmt.Errorf("links: bank %q: tls: %w", cfg.Name, err)
		}
	}
	l := &Link{
		cfg:       cfg,
		deps:      deps,
		log:       deps.Log.With().Str("link", cfg.Name).Logger(),
		codec:     codec,
		match:     match,
		tls:       tlsSrc,
		hdrLen:    hdrLen,
		stans:     iso.NewSTANs(0),
		met:       metricsFor(deps.Registry, cfg.Name),
		now:       deps.Now,
		slots:     make(chan struct{}, cfg.MaxInFlight),
		state:     StateConnecting,
		changed:   make(chan struct{}),
		slotState: make([]State, cfg.PoolSize),
		conns:     make([]*conn, cfg.PoolSize),
		closingCh: make(chan struct{}),
		pending:   make(map[string]*pending),
		late:      newLateKeys(cfg.LateWindow, 1<<16),
	}
	l.since = l.now()
	for i := range l.slotState {
		l.slotState[i] = StateConnecting
	}
	l.met.setState(StateConnecting)
	return l, nil
}

// Name returns the bank's name.
func (l *Link) Name() string { return l.cfg.Name }

// Config returns the link's config with defaults applied.
func (l *Link) Config() Config { return l.cfg }

// NextSTAN returns the link's next DE11. Send uses it for a message
// without one.
func (l *Link) NextSTAN() string { return l.stans.Next() }

// Start begins dialing (dial side) or listening (listen side) and returns
// without waiting for the link to become ready; see WaitReady. On the
// listen side the port is bound before Start returns, so a bind error is
// returned here. ctx bounds the link's life: when it ends the link stops
// abruptly, without sign-off (Close is the graceful way).
func (l *Link) Start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started || l.closing {
		return fmt.Errorf("links: bank %q: already started", l.cfg.Name)
	}
	l.ctx, l.cancel = context.WithCancel(ctx)
	switch l.cfg.Side {
	case SideListen:
		ln, err := net.Listen("tcp", l.cfg.Listen)
		if err != nil {
			l.cancel()
			return fmt.Errorf("links: bank %q: listen %s: %w", l.cfg.Name, l.cfg.Listen, err)
		}
		if l.tls != nil {
			l.tls.OnError = func(err error) { l.log.Error().Err(err).Msg("tls files not reloaded: keeping the last good ones") }
			ln = tls.NewListener(ln, l.tls.Server())
		}
		l.ln = ln
		l.log.Info().Str("listen", ln.Addr().String()).Bool("tls", l.tls != nil).Msg("listening for the bank")
		l.wg.Add(1)
		go l.acceptLoop(l.ctx, ln)
	default:
		for slot := range l.cfg.PoolSize {
			l.wg.Add(1)
			go l.dialLoop(l.ctx, slot)
		}
	}
	l.started = true
	return nil
}

// Addr returns the listening address on the listen side ("" otherwise,
// or before Start).
func (l *Link) Addr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		return ""
	}
	return l.ln.Addr().String()
}

// Ready reports whether Send can use a signed-on connection now. A
// connection that has just closed counts as gone at once, before the
// goroutine serving it takes it out of the ready set: a caller whose Send
// failed because the connection closed sees the link down when it asks
// next (store-and-forward then waits for the link instead of counting an
// attempt).
func (l *Link) Ready() bool {
	r := l.ready.Load()
	if r == nil {
		return false
	}
	for _, c := range *r {
		if !c.closed() {
			return true
		}
	}
	return false
}

// Codec is the link's dialect: how its messages look on the wire (the
// journal records them in it).
func (l *Link) Codec() *iso.Codec { return l.codec }

// WaitReady blocks until the link is ready, ctx ends, or the link closes.
func (l *Link) WaitReady(ctx context.Context) error {
	return l.waitState(ctx, func(s State) bool { return s == StateReady })
}

// waitState blocks until the link's state satisfies ok.
func (l *Link) waitState(ctx context.Context, ok func(State) bool) error {
	for {
		l.mu.Lock()
		st, ch := l.state, l.changed
		l.mu.Unlock()
		if ok(st) {
			return nil
		}
		if st == StateClosed {
			return fmt.Errorf("link %s: %w", l.cfg.Name, ErrClosed)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("link %s: waiting in state %s: %w", l.cfg.Name, st, ctx.Err())
		}
	}
}

// Status returns a snapshot for operators.
func (l *Link) Status() Status {
	l.mu.Lock()
	s := Status{
		Name: l.cfg.Name, Side: l.cfg.Side, Dialect: l.cfg.Dialect,
		State: l.state, Since: l.since,
	}
	for i, c := range l.conns {
		if c != nil {
			s.Conns++
			if l.slotState[i] == StateReady {
				s.ReadyConns++
			}
		}
	}
	l.mu.Unlock()
	s.InFlight = int(l.inFlight.Load())
	s.Sent, s.Received = l.sent.Load(), l.received.Load()
	s.Timeouts, s.NotSent = l.timeouts.Load(), l.notSent.Load()
	s.Late, s.Unmatched = l.lateN.Load(), l.unmatchedN.Load()
	s.FrameErrors = l.frameErrs.Load()
	s.TLSFailures = l.tlsFailures.Load()
	if ns := l.lastEcho.Load(); ns != 0 {
		s.LastEcho = time.Unix(0, ns)
	}
	s.EchoRTT = time.Duration(l.echoRTT.Load())
	return s
}

// Send writes a request to the bank and returns the response matched to it
// by the link's match key (Config.MatchKey: by default MTI class, DE11 and
// DE41, with DE32 compared when the response echoes it), never by STAN
// alone. A message without DE11 gets the link's next STAN, written into msg
// so the caller can journal and, if need be, reverse it.
//
// Two requests in flight on the link with the same key are never both
// sent: the second is refused with ErrDuplicateKey before the wire, so an
// answer cannot reach the wrong caller even when the key leaves out
// something that tells them apart (DE32 under the default key: a link
// is one bank, and every request on it carries the link's acquirer_id).
//
// Its deadline is the earlier of ctx's and RequestTimeout from now. When it
// returns an error, that error is a *SendError and exactly one of these
// holds:
//
//   - errors.Is(err, ErrNotSent): the message did not reach the socket. The
//     link was not ready or closing, the context ended while waiting for an
//     in-flight slot (MaxInFlight), the message could not be packed or
//     MACed, another request with the same match key was in flight, or the
//     connection was already closed when the write was attempted. The bank
//     has not seen it: routing it to another bank is safe.
//   - errors.Is(err, ErrNoReply): the message was handed to the connection's
//     writer, so the bank may have received and acted on it, and no
//     trustworthy response came back: the deadline passed, ctx was
//     cancelled, the connection died after the hand-over (including a
//     failed or partial socket write: the bytes may have left), or the
//     response failed its MAC check or could not be read. The outcome at
//     the bank is unknown, as with raft's Apply after a leadership loss: the
//     caller must treat the request as possibly approved and reverse it. A
//     response that arrives later goes to Deps.OnUnsolicited with late true.
//
// A response with any DE39, approval or decline, is returned with a nil
// error: interpreting it is the caller's business.
func (l *Link) Send(ctx context.Context, msg *iso.Message) (*iso.Message, error) {
	start := time.Now()
	if msg.STAN == "" {
		msg.STAN = l.stans.Next()
	}
	if iso.IsResponse(msg.MTI) {
		return nil, l.notSentErr(msg, ErrNotRequest)
	}
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return nil, l.notSentErr(msg, ErrClosed)
	}
	l.sends.Add(1)
	l.mu.Unlock()
	defer l.sends.Done()

	select {
	case l.slots <- struct{}{}:
	default:
		// Full: wait, but not past the caller's patience or a Close.
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, l.notSentErr(msg, fmt.Errorf("waiting for an in-flight slot (max %d): %w", l.cfg.MaxInFlight, ctx.Err()))
		case <-l.closingCh:
			return nil, l.notSentErr(msg, ErrClosed)
		}
	}
	l.met.inFlight.Set(float64(l.inFlight.Add(1)))
	defer func() {
		<-l.slots
		l.met.inFlight.Set(float64(l.inFlight.Add(-1)))
	}()

	c := l.pick()
	if c == nil {
		return nil, l.notSentErr(msg, ErrNotReady)
	}
	deadline := time.Now().Add(l.cfg.RequestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	resp, err := l.exchange(ctx, c, msg, deadline)
	if err == nil {
		l.met.duration.Observe(time.Since(start).Seconds())
	}
	return resp, err
}

// pick returns a signed-on connection, round robin, passing over one
// that has just closed (as Ready does) while another is live.
func (l *Link) pick() *conn {
	r := l.ready.Load()
	if r == nil || len(*r) == 0 {
		return nil
	}
	list := *r
	start := int(l.rr.Add(1) - 1)
	for i := range list {
		c := list[(start+i)%len(list)]
		if !c.closed() {
			return c
		}
	}
	return list[start%len(list)] // all closing: Send finds out and says not sent
}

func (l *Link) notSentErr(msg *iso.Message, cause error) error {
	l.notSent.Add(1)
	l.met.notSent.Inc()
	return &SendError{Link: l.cfg.Name, MTI: msg.MTI, STAN: msg.STAN, Err: cause}
}

func (l *Link) noReplyErr(msg *iso.Message, cause error) error {
	l.timeouts.Add(1)
	l.met.timeouts.Inc()
	return &SendError{Link: l.cfg.Name, MTI: msg.MTI, STAN: msg.STAN, Sent: true, Err: cause}
}

// exchange writes msg on c and waits for its response until deadline.
// The pending entry is registered before the write, so a fast response
// cannot slip past; whoever removes it from the map (the reader delivering
// a response, or the waiter giving up) decides the outcome, so a response
// reaches either its caller or OnUnsolicited, never both, never another
// caller.
func (l *Link) exchange(ctx context.Context, c *conn, msg *iso.Message, deadline time.Time) (*iso.Message, error) {
	frame, key, checked, err := l.frame(ctx, msg)
	if err != nil {
		return nil, l.notSentErr(msg, err)
	}
	p := &pending{ch: make(chan result, 1), checked: checked}
	l.pendMu.Lock()
	if _, dup := l.pending[key]; dup {
		l.pendMu.Unlock()
		return nil, l.notSentErr(msg, ErrDuplicateKey)
	}
	l.pending[key] = p
	// A repeat of a timed-out request (0221 after 0220) may take the
	// answer the first one never got: that is the same answer.
	l.late.forget(key)
	l.pendMu.Unlock()

	if err := ctx.Err(); err != nil {
		l.unregister(key, p)
		return nil, l.notSentErr(msg, err)
	}
	if !time.Now().Before(deadline) {
		l.unregister(key, p)
		return nil, l.notSentErr(msg, context.DeadlineExceeded)
	}
	// Write returns ErrConnectionClosed only when the writer was already
	// gone and never took the bytes; any other error comes from the socket
	// write itself, which may have put some or all bytes on the wire.
	if _, err := c.write(frame); err != nil {
		if errors.Is(err, errConnClosed) {
			l.unregister(key, p)
			return nil, l.notSentErr(msg, ErrConnLost)
		}
		if r, ok := l.abandon(key, p); ok {
			return l.delivered(msg, r)
		}
		return nil, l.noReplyErr(msg, fmt.Errorf("%w: write: %v", ErrConnLost, err))
	}
	l.sent.Add(1)
	l.met.sent.Inc()

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var cause error
	select {
	case r := <-p.ch:
		return l.delivered(msg, r)
	case <-timer.C:
		cause = context.DeadlineExceeded
	case <-ctx.Done():
		cause = ctx.Err()
	case <-c.done():
		cause = ErrConnLost
	}
	if r, ok := l.abandon(key, p); ok {
		return l.delivered(msg, r)
	}
	return nil, l.noReplyErr(msg, cause)
}

func (l *Link) delivered(msg *iso.Message, r result) (*iso.Message, error) {
	if r.cause != nil {
		return nil, l.noReplyErr(msg, r.cause)
	}
	return r.m, nil
}

// unregister removes an entry for a message that never reached the wire.
func (l *Link) unregister(key string, p *pending) {
	l.pendMu.Lock()
	if l.pending[key] == p {
		delete(l.pending, key)
	}
	l.pendMu.Unlock()
}

// abandon gives up waiting. If the reader removed the entry first, a
// result is on its way and is returned; otherwise the key is remembered so
// a response arriving later is reported as late.
func (l *Link) abandon(key string, p *pending) (result, bool) {
	l.pendMu.Lock()
	if l.pending[key] == p {
		delete(l.pending, key)
		l.late.add(key, time.Now())
		l.pendMu.Unlock()
		return result{}, false
	}
	l.pendMu.Unlock()
	return <-p.ch, true
}

// frame packs msg with its length header, MACed when the link uses MACs,
// and returns its match key and the values of the key's checked fields.
// Both are computed on the message as built for the wire, exactly as the
// response's will be: a STAN given as "123" goes out as "000123", and the
// answer must still find its caller.
func (l *Link) frame(ctx context.Context, msg *iso.Message) (framed []byte, key string, checked []string, err error) {
	im, err := l.codec.Build(msg)
	if err != nil {
		return nil, "", nil, fmt.Errorf("build %s: %w", msg.MTI, err)
	}
	if l.cfg.MAC.Enabled {
		err = iso.SignMAC(im, func(data []byte) ([]byte, error) {
			return l.deps.MAC.GenerateMAC(ctx, l.cfg.MAC.KeyID, data)
		})
		if err != nil {
			return nil, "", nil, fmt.Errorf("MAC %s: %w", msg.MTI, err)
		}
	}
	body, err := im.Pack()
	if err != nil {
		// moov's pack errors may quote field values: never pass them on.
		// The codec's own Pack says which field failed, safely.
		if _, safe := l.codec.Pack(msg); safe != nil {
			return nil, "", nil, safe
		}
		return nil, "", nil, fmt.Errorf("pack %s: failed", msg.MTI)
	}
	if key, err = l.match.Key(im); err != nil {
		return nil, "", nil, err
	}
	framed, err = l.codec.Frame(body)
	return framed, key, l.match.Checked(im), err
}

// deliver hands a response to the Send waiting for key; false when nobody
// waits. A request waiting under key whose checked fields the response
// contradicts keeps waiting: the error says which field differs.
func (l *Link) deliver(key string, checked []string, r result) (bool, error) {
	l.pendMu.Lock()
	p := l.pending[key]
	if p != nil {
		if err := l.match.Agree(p.checked, checked); err != nil {
			l.pendMu.Unlock()
			return false, err
		}
		delete(l.pending, key)
	}
	l.pendMu.Unlock()
	if p == nil {
		return false, nil
	}
	p.ch <- r
	return true, nil
}

// setSlot records a connection slot's state and recomputes the link's.
func (l *Link) setSlot(slot int, st State, c *conn) {
	l.mu.Lock()
	l.slotState[slot] = st
	l.conns[slot] = c
	if st == StateReady {
		l.everReady = true
	}
	changed := l.recomputeLocked()
	l.mu.Unlock()
	l.announce(changed)
	if st == StateReady && l.deps.OnSignedOn != nil {
		l.deps.OnSignedOn(l.cfg.Name)
	}
}

// recomputeLocked derives the link's state from its slots and publishes
// the ready connections. It returns the new state when it changed.
func (l *Link) recomputeLocked() State {
	var ready []*conn
	best := StateDown
	rank := map[State]int{StateDown: 0, StateConnecting: 1, StateSigningOn: 2, StateReady: 3}
	for i, st := range l.slotState {
		if st == StateReady && l.conns[i] != nil {
			ready = append(ready, l.conns[i])
		}
		if rank[st] > rank[best] {
			best = st
		}
	}
	if best == StateConnecting && l.everReady && l.cfg.Side == SideListen {
		// Waiting for the bank to come back is being down.
		best = StateDown
	}
	if l.closing {
		best, ready = StateClosed, nil
	}
	l.ready.Store(&ready)
	if best == l.state {
		return ""
	}
	l.state, l.since = best, l.now()
	// The gauge changes with the state, before anyone waiting is woken:
	// a /metrics scrape after WaitReady sees the link ready.
	l.met.setState(best)
	close(l.changed)
	l.changed = make(chan struct{})
	return best
}

func (l *Link) announce(st State) {
	if st == "" {
		return
	}
	ev := l.log.Info()
	if st == StateDown {
		ev = l.log.Warn()
	}
	ev.Str("state", string(st)).Msg("link state")
	if l.deps.OnStateChange != nil {
		l.deps.OnStateChange(l.cfg.Name, st)
	}
}

// Close stops the link gracefully: new Sends fail with ErrNotSent, Sends
// in flight may finish until ctx ends, every signed-on connection signs
// off (0800/002, best effort), then connections and the listener close.
// Requests still waiting when ctx ends get ErrNoReply.
func (l *Link) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return nil
	}
	l.closing = true
	close(l.closingCh)
	var signedOn []*conn
	for i, c := range l.conns {
		if c != nil && l.slotState[i] == StateReady && l.cfg.SignsOn() {
			signedOn = append(signedOn, c)
		}
	}
	ln, cancel := l.ln, l.cancel
	l.mu.Unlock()

	var errs []error
	drained := make(chan struct{})
	go func() { l.sends.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("links: bank %q: close: %d requests still in flight: %w", l.cfg.Name, l.inFlight.Load(), ctx.Err()))
	}

	var wg sync.WaitGroup
	for _, c := range signedOn {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.network(ctx, c, iso.NetSignOff); err != nil {
				l.log.Warn().Err(err).Str("remote", c.remote).Msg("sign-off failed")
			}
		}()
	}
	wg.Wait()

	if cancel != nil {
		cancel()
	}
	if ln != nil {
		ln.Close()
	}
	l.mu.Lock()
	conns := append([]*conn(nil), l.conns...)
	changed := l.recomputeLocked()
	l.mu.Unlock()
	l.announce(changed)
	for _, c := range conns {
		if c != nil {
			c.close()
		}
	}
	l.wg.Wait()
	return errors.Join(errs...)
}

// network sends an 0800 with the given DE70 code on c and checks DE39 00.
func (l *Link) network(ctx context.Context, c *conn, code string) (time.Duration, error) {
	m := iso.NetworkRequest(code, l.stans.Next(), l.now())
	m.AcquirerID = l.cfg.AcquirerID
	start := time.Now()
	resp, err := l.exchange(ctx, c, m, start.Add(l.cfg.RequestTimeout))
	rtt := time.Since(start)
	if err != nil {
		return rtt, err
	}
	if resp.ResponseCode != iso.RCApproved {
		return rtt, fmt.Errorf("0800/%s answered DE39 %q", code, resp.ResponseCode)
	}
	return rtt, nil
}
