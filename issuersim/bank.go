package issuersim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tulpar-switch/tulpar/iso"
)

// Timeouts on the bank's side of a link.
const (
	// replyTimeout bounds writing one answer: a switch that stops reading
	// must not pin the bank's goroutines.
	replyTimeout   = 10 * time.Second
	connectTimeout = 5 * time.Second
	maxEchoTimeout = 10 * time.Second
	minBackoff     = 100 * time.Millisecond
	maxBackoff     = 5 * time.Second
)

// ErrClosed is returned by Start on a bank that was closed or started.
var ErrClosed = errors.New("issuersim: bank closed or already started")

// Bank is one simulated partner-bank host: its links, its books and its
// knobs. All methods are safe for concurrent use.
type Bank struct {
	cfg   Config
	log   zerolog.Logger
	codec *iso.Codec
	books *ledger
	creds credentialLog
	order []*account // card book order, for GET /accounts
	cvv   CVVChecker
	knobs atomic.Pointer[Knobs]
	met   *metrics
	stans *iso.STANs
	loc   *time.Location
	now   func() time.Time

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup // accept and dial loops, connections, handlers

	mu        sync.Mutex
	started   bool
	closed    bool
	ln        net.Listener
	conns     map[*connection.Connection]*session
	admin     *http.Server
	adminAddr string
	nextConn  uint64
}

// session is one connection's state as the bank sees it.
type session struct {
	name string // "#3 127.0.0.1:51234" for logs

	mu        sync.Mutex
	signedOn  bool
	signedOff bool
	kcv       string // check value of the last key change
}

// open reports whether financial requests are served on the session.
func (s *session) open(requireSignOn bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.signedOff {
		return false
	}
	return s.signedOn || !requireSignOn
}

// New builds a bank from cfg (validated here). reg may be nil: the
// metrics are then kept but not registered.
func New(cfg Config, log zerolog.Logger, reg prometheus.Registerer) (*Bank, error) {
	if len(cfg.Cards) == 0 {
		cfg.Cards = DefaultCards()
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = DefaultConfig().MaxConnections
	}
	if cfg.Currency == "" {
		cfg.Currency = iso.CurrencyKZT
	}
	if cfg.Timezone == "" {
		cfg.Timezone = "UTC"
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("issuersim %s: config: %w", cfg.Name, err)
	}
	codec, err := iso.LoadCodec(cfg.Dialect)
	if err != nil {
		return nil, fmt.Errorf("issuersim %s: %w", cfg.Name, err)
	}
	loc, _ := time.LoadLocation(cfg.Timezone) // validated
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	cvv := cfg.CVV
	if cvv == nil {
		if cvv, err = newCVVChecker(cfg.CVVKey); err != nil {
			return nil, fmt.Errorf("issuersim %s: %w", cfg.Name, err)
		}
	}
	met, err := newMetrics(cfg.Name, reg)
	if err != nil {
		return nil, fmt.Errorf("issuersim %s: metrics: %w", cfg.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bank{
		cfg: cfg, log: log, codec: codec,
		books: newLedger(cfg.Name, now), cvv: cvv, met: met, stans: iso.NewSTANs(0),
		loc: loc, now: now, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		conns: map[*connection.Connection]*session{},
	}
	for i, cc := range cfg.Cards {
		hash, err := cvv.HashCVV(ctx, cc.PAN, cc.Expiry, cc.CVV2)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("issuersim %s: cards[%d].cvv2: hashing: %w", cfg.Name, i, err)
		}
		a := &account{
			pan: cc.PAN, expiry: cc.Expiry, cvvHash: hash, name: cc.Name, currency: cc.Currency,
			state: cc.State, opening: cc.Balance, balance: cc.Balance,
		}
		if a.currency == "" {
			a.currency = cfg.Currency
		}
		if a.state == "" {
			a.state = CardActive
		}
		b.books.accounts[cc.PAN] = a
		b.order = append(b.order, a)
	}
	k := cfg.Knobs.clone()
	b.knobs.Store(&k)
	// The clear CVV2s stay in the caller's Config; the bank keeps none.
	b.cfg.Cards = nil
	return b, nil
}

// Start listens for the switch (Listen) or starts dialing it (Dial), and
// starts the admin endpoint when configured. It returns once listening or
// once the dial loop runs; when ctx is done the bank closes as if Close
// were called.
func (b *Bank) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started || b.closed {
		return ErrClosed
	}
	b.started = true
	if b.cfg.Admin != "" {
		ln, err := net.Listen("tcp", b.cfg.Admin)
		if err != nil {
			return fmt.Errorf("issuersim %s: admin: %w", b.cfg.Name, err)
		}
		b.adminAddr = ln.Addr().String()
		// What net/http reports (a malformed request line, a handler's
		// panic) goes to the bank's log as JSON, not to the standard logger.
		b.admin = &http.Server{Handler: b.AdminHandler(), ReadHeaderTimeout: 5 * time.Second,
			ErrorLog: stdlog.New(b.log.With().Str("server", "admin").Logger(), "", 0)}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			if err := b.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				b.log.Error().Err(err).Msg("admin endpoint stopped")
			}
		}()
	}
	if b.cfg.Listen != "" {
		ln, err := net.Listen("tcp", b.cfg.Listen)
		if err != nil {
			if b.admin != nil {
				b.admin.Close()
			}
			return fmt.Errorf("issuersim %s: listen: %w", b.cfg.Name, err)
		}
		if b.cfg.TLS != nil {
			ln = tls.NewListener(ln, b.cfg.TLS)
		}
		b.ln = ln
		b.wg.Add(1)
		go b.acceptLoop(ln)
		b.log.Info().Str("addr", ln.Addr().String()).Str("dialect", b.cfg.Dialect).Msg("listening")
	} else {
		b.wg.Add(1)
		go b.dialLoop()
		b.log.Info().Str("switch", b.cfg.Dial).Str("dialect", b.cfg.Dialect).Msg("dialing")
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		select {
		case <-ctx.Done():
			go b.Close() // Close waits for this goroutine
		case <-b.done:
		}
	}()
	return nil
}

// Addr is the address the bank listens on ("" on the client side or
// before Start).
func (b *Bank) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ln == nil {
		return ""
	}
	return b.ln.Addr().String()
}

// AdminAddr is the address of the admin endpoint ("" when none).
func (b *Bank) AdminAddr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.adminAddr
}

// Name is the bank's name.
func (b *Bank) Name() string { return b.cfg.Name }

// Dialect is the bank's dialect name.
func (b *Bank) Dialect() string { return b.cfg.Dialect }

// Close stops listening (or dialing), closes every connection and the
// admin endpoint, and waits for the bank's goroutines. Answers still
// waiting out a latency are dropped.
func (b *Bank) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.done)
	b.cancel()
	ln, admin := b.ln, b.admin
	conns := make([]*connection.Connection, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()

	var err error
	if ln != nil {
		err = ln.Close()
	}
	if admin != nil {
		admin.Close()
	}
	var cw sync.WaitGroup
	for _, c := range conns {
		cw.Add(1)
		go func() {
			defer cw.Done()
			c.Close()
		}()
	}
	cw.Wait()
	b.wg.Wait()
	b.log.Info().Msg("closed")
	return err
}

// enter registers a goroutine with the bank unless it is closing.
func (b *Bank) enter() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.wg.Add(1)
	return true
}

// SetKnobs replaces the behaviour knobs; they apply to the next message.
// Callers taking knobs from outside should Validate them first.
func (b *Bank) SetKnobs(k Knobs) {
	k = k.clone()
	b.knobs.Store(&k)
	b.log.Info().Dur("latency", k.Latency).Dur("jitter", k.Jitter).Int("rules", len(k.Rules)).Ints("omit", k.Omit).Msg("knobs changed")
}

// Knobs returns the current knobs.
func (b *Bank) Knobs() Knobs { return b.knobs.Load().clone() }

// Account returns the state of the account of a card.
func (b *Bank) Account(pan string) (AccountView, bool) { return b.books.account(pan) }

// Accounts returns every account in card book order.
func (b *Bank) Accounts() []AccountView {
	b.books.mu.Lock()
	defer b.books.mu.Unlock()
	out := make([]AccountView, 0, len(b.order))
	for _, a := range b.order {
		out = append(out, a.view())
	}
	return out
}

func (b *Bank) acceptLoop(ln net.Listener) {
	defer b.wg.Done()
	var tempDelay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-b.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				time.Sleep(tempDelay) // back off like net/http on EMFILE
				continue
			}
			b.log.Error().Err(err).Msg("accept failed; no longer listening")
			return
		}
		tempDelay = 0
		b.mu.Lock()
		full := len(b.conns) >= b.cfg.MaxConnections
		b.mu.Unlock()
		if full {
			b.log.Warn().Str("remote", nc.RemoteAddr().String()).Int("max", b.cfg.MaxConnections).Msg("connection refused: too many connections")
			nc.Close()
			continue
		}
		s := b.newSession(nc.RemoteAddr().String())
		c, err := connection.NewFrom(nc, b.codec.Spec(), b.codec.ReadLength, b.codec.WriteLength, b.connOptions(s)...)
		if err != nil {
			nc.Close()
			b.log.Error().Err(err).Msg("connection setup failed")
			continue
		}
		if !b.track(c, s) {
			c.Close()
			return
		}
		b.log.Info().Str("conn", s.name).Msg("switch connected")
		go b.runConn(c, s)
	}
}

// dialLoop keeps one connection to the switch up.
func (b *Bank) dialLoop() {
	defer b.wg.Done()
	backoff := minBackoff
	for {
		s := b.newSession(b.cfg.Dial)
		opts := append(b.connOptions(s), connection.ConnectTimeout(connectTimeout))
		c, err := connection.New(b.cfg.Dial, b.codec.Spec(), b.codec.ReadLength, b.codec.WriteLength, opts...)
		if err == nil {
			err = c.ConnectCtx(b.ctx)
		}
		if err != nil {
			b.log.Debug().Err(err).Dur("retry_in", backoff).Msg("switch unreachable")
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-b.done:
				t.Stop()
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		if !b.track(c, s) {
			c.Close()
			return
		}
		b.log.Info().Str("conn", s.name).Msg("connected to switch")
		b.runConn(c, s)
		select {
		case <-b.done:
			return
		default:
		}
	}
}

func (b *Bank) newSession(remote string) *session {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextConn++
	return &session{name: fmt.Sprintf("#%d %s", b.nextConn, remote)}
}

// track registers a connection; false when the bank is closing.
func (b *Bank) track(c *connection.Connection, s *session) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.conns[c] = s
	b.wg.Add(1) // done by runConn
	b.met.conns.Inc()
	return true
}

// runConn sends the bank's echoes on c until it closes, then forgets it.
func (b *Bank) runConn(c *connection.Connection, s *session) {
	defer b.wg.Done()
	if d := b.cfg.EchoInterval; d > 0 {
		t := time.NewTicker(d)
	loop:
		for {
			select {
			case <-t.C:
				b.echo(c, s)
			case <-c.Done():
				break loop
			case <-b.done:
				break loop
			}
		}
		t.Stop()
	}
	select {
	case <-c.Done():
	case <-b.done:
		<-c.Done() // Close closes every tracked connection
	}
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	b.met.conns.Dec()
	b.log.Info().Str("conn", s.name).Msg("connection closed")
}

func (b *Bank) connOptions(s *session) []connection.Option {
	opts := []connection.Option{
		connection.SetRequestIDGenerator(iso.MatchKeyGenerator{}),
		connection.SendTimeout(replyTimeout),
		connection.InboundMessageHandler(func(c *connection.Connection, im *iso8583.Message) {
			b.handle(c, s, im)
		}),
		connection.ErrorHandler(func(err error) {
			// moov's read errors are SafeErrors; scrub anyway.
			b.log.Debug().Str("conn", s.name).Str("error", scrub(err.Error())).Msg("link error")
		}),
	}
	if b.cfg.TLS != nil && b.cfg.Dial != "" {
		t := b.cfg.TLS
		opts = append(opts, connection.SetTLSConfig(func(c *tls.Config) {
			c.RootCAs, c.Certificates, c.ServerName, c.MinVersion = t.RootCAs, t.Certificates, t.ServerName, t.MinVersion
		}))
	}
	if d := b.cfg.IdleTimeout; d > 0 {
		opts = append(opts, connection.ReadTimeout(d), connection.ReadTimeoutHandler(func(c *connection.Connection) {
			b.log.Info().Str("conn", s.name).Dur("idle", d).Msg("closing idle connection")
			c.Close()
		}))
	}
	return opts
}

// echo sends the bank's own 0800 echo and logs the answer.
func (b *Bank) echo(c *connection.Connection, s *session) {
	req := iso.NetworkRequest(iso.NetEcho, b.stans.Next(), b.now())
	req.AcquirerID = b.cfg.AcquirerID
	im, err := b.build(req, nil)
	if err != nil {
		b.log.Error().Err(err).Msg("echo not built")
		return
	}
	b.met.sent.WithLabelValues(req.MTI).Inc()
	resp, err := c.Send(im, connection.SendTimeout(min(b.cfg.EchoInterval, maxEchoTimeout)))
	if err != nil {
		b.log.Warn().Str("conn", s.name).Err(err).Msg("echo failed")
		return
	}
	if r, err := b.codec.Parse(resp); err == nil {
		b.log.Debug().Str("conn", s.name).Object("msg", r).Msg("echo answered")
	}
}

// SendKeyChange sends the bank's 0800 key change (DE70 161) with a new MAC
// key under the zone master key and its check value, on one of the
// switch's connections, and returns the switch's response code (00: the
// switch took the key). The bank's own MAC hooks sign the request, as they
// sign everything the bank sends; which key they use is the caller's
// business.
func (b *Bank) SendKeyChange(ctx context.Context, keyUnderZMK, kcv string) (string, error) {
	b.mu.Lock()
	var c *connection.Connection
	for conn := range b.conns {
		c = conn
		break
	}
	b.mu.Unlock()
	if c == nil {
		return "", errors.New("issuersim: key change: no connection with the switch")
	}
	req := iso.NetworkRequest(iso.NetKeyChange, b.stans.Next(), b.now())
	req.AcquirerID = b.cfg.AcquirerID
	req.KeyUnderZMK, req.KeyCheckValue = keyUnderZMK, kcv
	im, err := b.build(req, nil)
	if err != nil {
		return "", fmt.Errorf("issuersim: key change: %w", err)
	}
	timeout := replyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	b.met.sent.WithLabelValues(req.MTI).Inc()
	resp, err := c.Send(im, connection.SendTimeout(timeout))
	if err != nil {
		return "", fmt.Errorf("issuersim: key change: %w", err)
	}
	r, err := b.codec.Parse(resp)
	if err != nil {
		return "", fmt.Errorf("issuersim: key change: answer: %w", err)
	}
	return r.ResponseCode, nil
}

// handle answers one inbound message. moov runs it in its own goroutine,
// so a connection has many requests in flight and latency on one answer
// does not hold up the next.
func (b *Bank) handle(c *connection.Connection, s *session, im *iso8583.Message) {
	if !b.enter() {
		return
	}
	defer b.wg.Done()
	mti, _ := im.GetMTI()
	if iso.IsResponse(mti) {
		// An answer to an echo of ours that came after its timeout.
		b.log.Debug().Str("conn", s.name).Str("mti", mti).Msg("unmatched response ignored")
		return
	}
	req, err := b.codec.Parse(im)
	if err != nil {
		b.met.received.WithLabelValues(mti).Inc()
		// FieldError names the field, never its value.
		b.log.Warn().Str("conn", s.name).Str("mti", mti).Err(err).Msg("format error")
		if resp := formatErrorAnswer(im, mti); resp != nil {
			b.reply(c, s, resp, b.knobs.Load().delay())
		}
		return
	}
	b.met.received.WithLabelValues(req.MTI).Inc()
	b.log.Debug().Str("conn", s.name).Object("msg", req).Msg("received")

	k := b.knobs.Load()
	action, o, extra := ActionRespond, override{}, time.Duration(0)
	if r := k.match(req); r != nil {
		if r.Action != "" {
			action = r.Action
		}
		o = r.override()
		if action == ActionLate {
			extra = r.Delay
		}
	}
	if action == ActionClose {
		b.met.withheld.WithLabelValues(action).Inc()
		b.log.Info().Str("conn", s.name).Object("msg", req).Msg("knob: closing connection")
		c.Close()
		return
	}
	var resp *iso.Message
	if h := b.cfg.MAC; h != nil && h.Verify != nil {
		if err := iso.VerifyMAC(im, h.Verify); err != nil {
			b.log.Warn().Str("conn", s.name).Object("msg", req).Err(err).Msg("bad MAC")
			resp = respond(req, iso.RCSecurityViolation)
		}
	}
	if resp == nil {
		resp = b.answer(b.ctx, s, req, o)
	}
	if action == ActionNoReply {
		b.met.withheld.WithLabelValues(action).Inc()
		b.log.Info().Str("conn", s.name).Object("msg", resp).Msg("knob: answer withheld")
		return
	}
	b.reply(c, s, resp, k.delay()+extra)
}

// reply sends resp after delay, unless the bank closes first.
func (b *Bank) reply(c *connection.Connection, s *session, resp *iso.Message, delay time.Duration) {
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-b.done:
			t.Stop()
			return
		}
	}
	im, err := b.build(resp, b.knobs.Load().Omit)
	if err != nil {
		b.log.Error().Str("conn", s.name).Err(err).Msg("answer not built")
		return
	}
	if err := c.Reply(im); err != nil {
		b.log.Debug().Str("conn", s.name).Err(err).Msg("answer not sent")
		return
	}
	b.met.sent.WithLabelValues(resp.MTI).Inc()
	b.met.answered.WithLabelValues(resp.MTI, resp.ResponseCode).Inc()
	b.log.Debug().Str("conn", s.name).Object("msg", resp).Dur("delay", delay).Msg("answered")
}

// build packs m into a moov message without the data elements in omit
// (the Omit knob) and signs it when MACs are on.
func (b *Bank) build(m *iso.Message, omit []int) (*iso8583.Message, error) {
	im, err := b.codec.Build(m)
	if err != nil {
		return nil, err
	}
	for _, de := range omit {
		im.UnsetField(de)
	}
	if h := b.cfg.MAC; h != nil && h.Generate != nil {
		if err := iso.SignMAC(im, h.Generate); err != nil {
			return nil, err
		}
	}
	return im, nil
}

// formatErrorAnswer answers 30 to a message the typed layer rejected,
// echoing what the acquirer needs to match it, when those fields are
// themselves well-formed.
func formatErrorAnswer(im *iso8583.Message, mti string) *iso.Message {
	rmti := iso.ResponseMTI(mti)
	if rmti == "" {
		return nil
	}
	get := func(id int) string {
		if f := im.GetField(id); f != nil {
			v, _ := f.String()
			return v
		}
		return ""
	}
	r := &iso.Message{MTI: rmti, STAN: get(11), TerminalID: get(41), ResponseCode: iso.RCFormatError}
	if v := get(32); digits(v) {
		r.AcquirerID = v
	}
	if !digits(r.STAN) || len(r.STAN) != 6 {
		return nil
	}
	return r
}
