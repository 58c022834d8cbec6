package links

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"
)

// dialLoop keeps one connection slot of a dial-side link alive: connect
// (addresses in order), sign on, serve, and back off after a failure.
func (l *Link) dialLoop(ctx context.Context, slot int) {
	defer l.wg.Done()
	backoff := l.cfg.Backoff.Min
	for ctx.Err() == nil {
		l.setSlot(slot, StateConnecting, nil)
		if nc := l.dial(ctx); nc != nil {
			if c, err := l.newConn(nc, slot); err == nil {
				if l.serve(ctx, c) {
					backoff = l.cfg.Backoff.Min
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		l.setSlot(slot, StateDown, nil)
		// Jitter keeps a pool's connections from reconnecting in lockstep.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, l.cfg.Backoff.Max)
	}
}

// dial tries the addresses in order and returns the first connection.
func (l *Link) dial(ctx context.Context) net.Conn {
	d := net.Dialer{Timeout: l.cfg.ConnectTimeout, KeepAlive: 15 * time.Second}
	for _, addr := range l.cfg.Addrs {
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err == nil && l.tls != nil {
			nc, err = l.handshake(ctx, nc, addr)
		}
		if err == nil {
			l.log.Info().Str("remote", addr).Bool("tls", l.tls != nil).Msg("connected")
			return nc
		}
		if ctx.Err() != nil {
			return nil
		}
		l.log.Warn().Str("remote", addr).Err(err).Msg("connect failed")
	}
	return nil
}

// acceptLoop takes the bank's connections on the listen side, up to
// PoolSize at a time; extra connections are closed at once. Tulpar signs
// on over an accepted connection exactly as over a dialed one (and answers
// the bank's own sign-on), so readiness means the same on both sides.
func (l *Link) acceptLoop(ctx context.Context, ln net.Listener) {
	defer l.wg.Done()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, do not spin.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.log.Warn().Err(err).Dur("retry_in", delay).Msg("accept failed")
			select {
			case <-time.After(delay):
				continue
			case <-ctx.Done():
				return
			}
		}
		delay = 0
		slot := l.claimSlot()
		if slot < 0 {
			l.log.Warn().Str("remote", nc.RemoteAddr().String()).Int("pool_size", l.cfg.PoolSize).Msg("connection refused: pool full")
			nc.Close()
			continue
		}
		l.log.Info().Str("remote", nc.RemoteAddr().String()).Msg("bank connected")
		c, err := l.newConn(nc, slot)
		if err != nil {
			l.setSlot(slot, StateConnecting, nil)
			continue
		}
		l.setSlot(slot, StateSigningOn, c)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.serve(ctx, c)
			l.setSlot(slot, StateConnecting, nil)
		}()
	}
}

// claimSlot reserves a free slot for an accepted connection, or -1.
func (l *Link) claimSlot() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return -1
	}
	for i, c := range l.conns {
		if c == nil && l.slotState[i] != StateSigningOn {
			l.slotState[i] = StateSigningOn
			return i
		}
	}
	return -1
}

// handshake runs the TLS handshake of a dialed connection within the
// connect timeout; a failure closes it.
func (l *Link) handshake(ctx context.Context, nc net.Conn, addr string) (net.Conn, error) {
	host, _, _ := net.SplitHostPort(addr)
	tc := tls.Client(nc, l.tls.Client(host))
	hctx, cancel := context.WithTimeout(ctx, l.cfg.ConnectTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		l.tlsFailures.Add(1)
		nc.Close()
		return nil, fmt.Errorf("tls: %w", err)
	}
	return tc, nil
}
