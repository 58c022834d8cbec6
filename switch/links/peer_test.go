package links

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"
	"github.com/moov-io/iso8583-connection/server"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
)

// peer is a minimal bank host for tests, on moov's server package (or a
// dialed moov connection for listen-side links). It answers every request
// with 00 unless its act function says otherwise.
type peer struct {
	t     testing.TB
	codec *iso.Codec
	macP  atomic.Pointer[MACer] // nil: no MACs

	act atomic.Pointer[func(m *iso.Message) action]

	mu    sync.Mutex
	srv   *server.Server
	addr  string
	dials []*connection.Connection
	last  *connection.Connection // latest connection a message came on

	signOns, signOffs, echoes, requests, badMACs atomic.Int32
	seen                                         chan *iso.Message // every request (dropped when full)

	waitMu  sync.Mutex
	waiters map[string]chan *iso.Message
}

type action struct {
	drop   bool               // never answer
	delay  time.Duration      // answer after this long
	rc     string             // DE39, default 00
	hold   chan struct{}      // answer when closed
	tamper bool               // corrupt the MAC of the answer
	edit   func(*iso.Message) // change the answer before it is sent
}

func newPeer(t testing.TB, dialect string) *peer {
	t.Helper()
	c, err := iso.LoadCodec(dialect)
	require.NoError(t, err)
	p := &peer{t: t, codec: c, waiters: map[string]chan *iso.Message{}, seen: make(chan *iso.Message, 256)}
	t.Cleanup(p.stop)
	return p
}

func (p *peer) setMAC(m MACer) { p.macP.Store(&m) }

func (p *peer) mac() MACer {
	if m := p.macP.Load(); m != nil {
		return *m
	}
	return nil
}

func (p *peer) setAct(f func(m *iso.Message) action) { p.act.Store(&f) }

func (p *peer) opts() []connection.Option {
	return []connection.Option{
		connection.SetRequestIDGenerator(anyKey{}),
		connection.InboundMessageHandler(p.handle),
		connection.IdleTime(time.Hour),
		connection.ReadTimeout(time.Hour),
	}
}

// listen starts the peer as a server (for dial-side links); addr "" picks
// a port, a previous addr restarts it there.
func (p *peer) listen(addr string) string {
	p.t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	srv := server.New(p.codec.Spec(), p.codec.ReadLength, p.codec.WriteLength, p.opts()...)
	require.NoError(p.t, srv.Start(addr))
	p.mu.Lock()
	p.srv, p.addr = srv, srv.Addr
	p.mu.Unlock()
	return srv.Addr
}

// dial connects the peer to a listen-side link.
func (p *peer) dial(addr string) {
	p.t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(p.t, err)
	mc, err := connection.NewFrom(nc, p.codec.Spec(), p.codec.ReadLength, p.codec.WriteLength, p.opts()...)
	require.NoError(p.t, err)
	p.mu.Lock()
	p.dials = append(p.dials, mc)
	p.mu.Unlock()
}

// stop closes the server and every connection: the bank goes away.
func (p *peer) stop() {
	p.mu.Lock()
	srv, dials := p.srv, p.dials
	p.srv, p.dials, p.last = nil, nil, nil
	p.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	for _, mc := range dials {
		mc.Close()
	}
}

func (p *peer) handle(mc *connection.Connection, im *iso8583.Message) {
	m, err := p.codec.Parse(im)
	if err != nil {
		p.t.Errorf("peer: parse: %v", err)
		return
	}
	p.mu.Lock()
	p.last = mc
	p.mu.Unlock()
	if macer := p.mac(); macer != nil {
		if err := iso.VerifyMAC(im, func(d, mac []byte) error { return macer.VerifyMAC(context.Background(), "k", d, mac) }); err != nil {
			p.badMACs.Add(1)
		}
	}
	if iso.IsResponse(m.MTI) {
		p.waitMu.Lock()
		ch := p.waiters[iso.MatchKey(m)]
		p.waitMu.Unlock()
		if ch != nil {
			ch <- m
		}
		return
	}
	select {
	case p.seen <- m:
	default:
	}
	if m.MTI == iso.MTINetworkManagement {
		switch m.NetworkCode {
		case iso.NetSignOn:
			p.signOns.Add(1)
		case iso.NetSignOff:
			p.signOffs.Add(1)
		case iso.NetEcho:
			p.echoes.Add(1)
		}
	} else {
		p.requests.Add(1)
	}
	var a action
	if f := p.act.Load(); f != nil {
		a = (*f)(m)
	}
	if a.drop {
		return
	}
	if a.hold != nil {
		<-a.hold
	}
	if a.delay > 0 {
		time.Sleep(a.delay) // simulated host latency, not synchronisation
	}
	if a.rc == "" {
		a.rc = iso.RCApproved
	}
	resp := iso.Respond(m, a.rc)
	if !iso.IsRefund(m.ProcessingCode) && m.MTI != iso.MTINetworkManagement {
		resp.ApprovalCode = "A1B2C3"
	}
	if a.edit != nil {
		a.edit(resp)
	}
	p.write(mc, resp, a.tamper)
}

func (p *peer) write(mc *connection.Connection, m *iso.Message, tamper bool) {
	im, err := p.codec.Build(m)
	if err != nil {
		p.t.Errorf("peer: build: %v", err)
		return
	}
	if macer := p.mac(); macer != nil {
		err := iso.SignMAC(im, func(d []byte) ([]byte, error) {
			mac, err := macer.GenerateMAC(context.Background(), "k", d)
			if tamper {
				mac[0] ^= 0xFF
			}
			return mac, err
		})
		require.NoError(p.t, err)
	}
	body, err := im.Pack()
	require.NoError(p.t, err)
	frame, err := p.codec.Frame(body)
	require.NoError(p.t, err)
	_, _ = mc.Write(frame) // the link may be gone: that is the test's business
}

// request sends a request to the link from the bank's side and waits for
// the answer.
func (p *peer) request(m *iso.Message, timeout time.Duration) (*iso.Message, error) {
	p.mu.Lock()
	mc := p.last
	p.mu.Unlock()
	if mc == nil {
		return nil, errors.New("peer: no connection")
	}
	ch := make(chan *iso.Message, 1)
	key := iso.MatchKey(m)
	p.waitMu.Lock()
	p.waiters[key] = ch
	p.waitMu.Unlock()
	defer func() { p.waitMu.Lock(); delete(p.waiters, key); p.waitMu.Unlock() }()
	p.write(mc, m, false)
	select {
	case r := <-ch:
		return r, nil
	case <-time.After(timeout):
		return nil, errors.New("peer: no answer")
	}
}

// hmacMACer is a test MAC module: HMAC-SHA256 truncated to 8 bytes.
type hmacMACer struct{ key []byte }

func (h hmacMACer) GenerateMAC(_ context.Context, keyID string, data []byte) ([]byte, error) {
	m := hmac.New(sha256.New, append(append([]byte{}, h.key...), keyID...))
	m.Write(data)
	return m.Sum(nil)[:8], nil
}

func (h hmacMACer) VerifyMAC(ctx context.Context, keyID string, data, mac []byte) error {
	want, _ := h.GenerateMAC(ctx, keyID, data)
	if !hmac.Equal(want, mac) {
		return errors.New("MAC mismatch")
	}
	return nil
}
