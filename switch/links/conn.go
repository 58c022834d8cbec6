package links

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"

	"github.com/tulpar-switch/tulpar/iso"
)

// Why Tulpar does not use moov's Connection.Send (v0.9.0), although it
// uses everything else of moov's Connection (the read and write loops,
// idle pings, read timeouts, failure handling; frames are read by our
// msgReader, frame.go):
//
//   - Send takes no context, and blocks handing the request to the write
//     loop with no timeout at all.
//   - Its pending map is overwritten by a second request with the same ID,
//     cross-delivering the first one's response.
//   - When a Send times out at the moment its response arrives, the reader
//     goroutine blocks forever on an unbuffered channel and the response is
//     lost instead of reaching the late-response handler.
//   - On connection failure it sends to every pending request's unbuffered
//     error channel while holding the map's lock; a Send that has just left
//     its select waits for that lock: both hang.
//
// So a link writes framed bytes with Connection.Write (which reports the
// socket write's own result) and matches responses itself (Link.exchange).
// With no moov Send ever pending, every inbound message reaches
// InboundMessageHandler.

// errConnClosed is moov's "the writer was gone before it took the bytes".
var errConnClosed = connection.ErrConnectionClosed

var errReadTimeout = errors.New("nothing received within read_timeout")

// conn is one TCP connection of a link.
type conn struct {
	l       *Link
	slot    int
	nc      net.Conn // the socket, for the frame body's read deadline
	remote  string
	mc      *connection.Connection
	ready   atomic.Bool // signed on (or sign-on not required)
	echoing atomic.Bool
	fails   atomic.Int32  // consecutive echo failures
	lastIn  atomic.Int64  // unix ns of the last message read
	resign  chan struct{} // the bank signed off: sign on again
}

// newConn wraps an established TCP connection.
func (l *Link) newConn(nc net.Conn, slot int) (*conn, error) {
	c := &conn{l: l, slot: slot, nc: nc, remote: nc.RemoteAddr().String(), resign: make(chan struct{}, 1)}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	// Handlers get moov's *Connection as an argument and use that, never
	// c.mc, which is set after NewFrom has already started the loops.
	mc, err := connection.NewFrom(
		&deadlineConn{Conn: nc, timeout: l.cfg.WriteTimeout},
		l.codec.Spec(), l.codec.ReadLength, l.codec.WriteLength,
		connection.SetMessageReader(msgReader{c}),
		connection.SetRequestIDGenerator(anyKey{}),
		connection.InboundMessageHandler(func(mc *connection.Connection, im *iso8583.Message) { c.inbound(mc, im) }),
		connection.IdleTime(l.cfg.EchoInterval),
		connection.PingHandler(func(*connection.Connection) { c.echo() }),
		connection.ReadTimeout(l.cfg.ReadTimeout),
		connection.ReadTimeoutHandler(func(mc *connection.Connection) {
			l.log.Warn().Str("remote", c.remote).Dur("read_timeout", l.cfg.ReadTimeout).Msg("bank silent: closing connection")
			mc.TriggerFailure(errReadTimeout)
		}),
		connection.ErrorHandler(func(err error) {
			// moov wraps read errors in SafeError: no message content here.
			l.log.Debug().Str("remote", c.remote).Err(err).Msg("connection error")
		}),
	)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.mc = mc
	return c, nil
}

func (c *conn) write(frame []byte) (int, error) { return c.mc.Write(frame) }
func (c *conn) done() <-chan struct{}           { return c.mc.Done() }

// closed reports whether the connection has closed, whether or not the
// goroutine serving it has noticed yet.
func (c *conn) closed() bool {
	select {
	case <-c.done():
		return true
	default:
		return false
	}
}
func (c *conn) close() { c.mc.Close() }

// serve signs c on, keeps it in the link's ready set until it dies or the
// link stops, and reports whether it was ever ready.
func (l *Link) serve(ctx context.Context, c *conn) (wasReady bool) {
	defer c.close()
	for {
		if l.cfg.SignsOn() {
			l.setSlot(c.slot, StateSigningOn, c)
			if _, err := l.network(ctx, c, iso.NetSignOn); err != nil {
				l.log.Warn().Err(err).Str("remote", c.remote).Msg("sign-on failed")
				return wasReady
			}
			l.log.Info().Str("remote", c.remote).Msg("signed on")
		}
		c.fails.Store(0)
		c.ready.Store(true)
		l.setSlot(c.slot, StateReady, c)
		wasReady = true
		select {
		case <-c.done():
			c.ready.Store(false)
			l.log.Warn().Str("remote", c.remote).Msg("connection closed")
			return wasReady
		case <-ctx.Done():
			c.ready.Store(false)
			return wasReady
		case <-c.resign:
			c.ready.Store(false)
			l.setSlot(c.slot, StateSigningOn, c)
			// Give the bank a moment before asking again.
			select {
			case <-time.After(l.cfg.Backoff.Min):
			case <-c.done():
				return wasReady
			case <-ctx.Done():
				return wasReady
			}
		}
	}
}

// echo runs when nothing was written on the connection for EchoInterval.
func (c *conn) echo() {
	l := c.l
	if !c.ready.Load() || !c.echoing.CompareAndSwap(false, true) {
		return
	}
	// moov calls this when nothing was written for EchoInterval. If
	// requests are in flight and the bank spoke within it (responses still
	// streaming in after a burst), the connection is alive and busy: an
	// echo would only queue behind those responses and, timing out, kill
	// a healthy connection.
	if l.inFlight.Load() > 0 && time.Since(time.Unix(0, c.lastIn.Load())) < l.cfg.EchoInterval {
		c.echoing.Store(false)
		return
	}
	defer c.echoing.Store(false)
	ctx := l.ctx
	rtt, err := l.network(ctx, c, iso.NetEcho)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		select {
		case <-c.done():
			return
		default:
		}
		n := c.fails.Add(1)
		l.log.Warn().Err(err).Str("remote", c.remote).Int32("consecutive", n).Msg("echo failed")
		if int(n) >= l.cfg.EchoFailures {
			c.mc.TriggerFailure(fmt.Errorf("%d consecutive echoes failed", n))
		}
		return
	}
	c.fails.Store(0)
	l.lastEcho.Store(l.now().UnixNano())
	l.echoRTT.Store(int64(rtt))
	l.met.echoRTT.Set(rtt.Seconds())
}

// inbound handles every message moov reads: responses go to their waiting
// Send or to OnUnsolicited; requests from the bank are answered.
func (c *conn) inbound(mc *connection.Connection, im *iso8583.Message) {
	l := c.l
	c.lastIn.Store(time.Now().UnixNano())
	l.received.Add(1)
	l.met.received.Inc()
	mti, _ := im.GetMTI()
	m, perr := l.codec.Parse(im)
	var macErr error
	if l.cfg.MAC.Enabled && perr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.RequestTimeout)
		macErr = iso.VerifyMAC(im, func(data, mac []byte) error {
			return l.deps.MAC.VerifyMAC(ctx, l.cfg.MAC.KeyID, data, mac)
		})
		cancel()
	}
	if iso.IsResponse(mti) {
		l.onResponse(c, im, m, perr, macErr)
		return
	}
	l.onRequest(c, mc, m, perr, macErr)
}

func (l *Link) onResponse(c *conn, im *iso8583.Message, m *iso.Message, perr, macErr error) {
	key, kerr := l.match.Key(im)
	late := false
	var mismatch error
	if kerr == nil {
		var cause error
		switch {
		case perr != nil:
			cause = fmt.Errorf("response unreadable: %w", perr)
		case macErr != nil:
			// The bank's answer cannot be trusted, so its outcome is
			// unknown: the caller gets ErrNoReply and reverses.
			cause = macErr
		}
		var ok bool
		ok, mismatch = l.deliver(key, l.match.Checked(im), result{m: m, cause: cause})
		if ok {
			if cause != nil {
				l.log.Warn().Err(cause).Str("remote", c.remote).Msg("response rejected")
			}
			return
		}
		if mismatch == nil {
			l.pendMu.Lock()
			late = l.late.take(key, time.Now())
			l.pendMu.Unlock()
		}
	}
	if late {
		l.lateN.Add(1)
		l.met.late.Inc()
	} else {
		l.unmatchedN.Add(1)
		l.met.unmatched.Inc()
	}
	if m == nil {
		l.log.Warn().Err(perr).Bool("late", late).Str("remote", c.remote).Msg("unreadable response dropped")
		return
	}
	ev := l.log.Warn().Object("msg", m).Bool("late", late).Str("remote", c.remote)
	if macErr != nil {
		ev = ev.AnErr("mac", macErr)
	}
	if mismatch != nil {
		// The request with this key stays waiting for its own answer.
		ev = ev.AnErr("match", mismatch).Strs("match_key", l.cfg.MatchKey)
	}
	ev.Msg("response without a waiting request")
	if l.deps.OnUnsolicited != nil {
		l.deps.OnUnsolicited(l.cfg.Name, m, late)
	}
}

// onRequest answers a request the bank initiated. Tulpar is the acquirer:
// it serves network management (sign-on, sign-off, echo, key change) and
// declines anything else with 12, reporting it as unmatched.
func (l *Link) onRequest(c *conn, mc *connection.Connection, m *iso.Message, perr, macErr error) {
	if perr != nil {
		l.unmatchedN.Add(1)
		l.met.unmatched.Inc()
		l.log.Warn().Err(perr).Str("remote", c.remote).Msg("unreadable request from the bank dropped")
		return
	}
	var rc string
	switch {
	case macErr != nil:
		rc = iso.RCSecurityViolation
		l.log.Warn().Object("msg", m).AnErr("mac", macErr).Msg("request from the bank with a bad MAC")
	case m.MTI == iso.MTINetworkManagement:
		switch m.NetworkCode {
		case iso.NetSignOn, iso.NetEcho:
			rc = iso.RCApproved
		case iso.NetSignOff:
			rc = iso.RCApproved
			if l.cfg.SignsOn() {
				l.log.Warn().Str("remote", c.remote).Msg("bank signed off")
				select {
				case c.resign <- struct{}{}:
				default:
				}
			}
		case iso.NetKeyChange:
			rc = l.importKey(m)
		default:
			rc = iso.RCInvalidTxn
		}
	default:
		rc = iso.RCInvalidTxn
		l.unmatchedN.Add(1)
		l.met.unmatched.Inc()
		l.log.Warn().Object("msg", m).Msg("unsupported request from the bank declined")
		if l.deps.OnUnsolicited != nil {
			l.deps.OnUnsolicited(l.cfg.Name, m, false)
		}
	}
	resp := iso.Respond(m, rc)
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.WriteTimeout)
	defer cancel()
	frame, _, _, err := l.frame(ctx, resp)
	if err == nil {
		_, err = mc.Write(frame)
	}
	if err != nil {
		l.log.Warn().Err(err).Str("mti", resp.MTI).Str("stan", resp.STAN).Msg("reply to the bank failed")
		return
	}
	l.sent.Add(1)
	l.met.sent.Inc()
}

func (l *Link) importKey(m *iso.Message) string {
	if l.deps.Keys == nil || l.cfg.MAC.KeyID == "" {
		l.log.Warn().Msg("key change from the bank refused: no key importer configured")
		return iso.RCInvalidTxn
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.RequestTimeout)
	defer cancel()
	if err := l.deps.Keys.ImportKey(ctx, l.cfg.MAC.KeyID, m.KeyUnderZMK, m.KeyCheckValue); err != nil {
		l.log.Warn().Err(err).Msg("key change from the bank refused")
		return iso.RCSecurityViolation
	}
	l.log.Info().Str("key_id", l.cfg.MAC.KeyID).Str("kcv", m.KeyCheckValue).Msg("key changed by the bank")
	return iso.RCApproved
}

// deadlineConn bounds every socket write: a bank that stops reading kills
// the connection instead of blocking the link's writer forever.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	if err := d.Conn.SetWriteDeadline(time.Now().Add(d.timeout)); err != nil {
		return 0, err
	}
	return d.Conn.Write(p)
}

// anyKey never fails: moov drops a response whose request id cannot be
// computed, and Tulpar wants every message in its own handler.
type anyKey struct{}

func (anyKey) GenerateRequestID(im *iso8583.Message) (string, error) {
	k, err := iso.MatchKeyGenerator{}.GenerateRequestID(im)
	if err != nil {
		return "-", nil
	}
	return k, nil
}
