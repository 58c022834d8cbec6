package links

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
)

var (
	dialects = []string{"ascii", "binary"}
	sides    = []Side{SideDial, SideListen}
)

// testConfig keeps every interval short so the suite stays fast.
func testConfig(name, dialect string) Config {
	return Config{
		Name: name, Dialect: dialect, AcquirerID: "400123",
		EchoInterval: 150 * time.Millisecond, RequestTimeout: time.Second,
		ConnectTimeout: time.Second, Backoff: Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond},
	}
}

func testLogger(t testing.TB) zerolog.Logger {
	if testing.Verbose() {
		return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
	}
	return zerolog.Nop()
}

// bank is one test bank behind a link: the link, its peer, and switches
// to take the bank away and bring it back over the side's transport.
type bank struct {
	link *Link
	peer *peer
	down func()
	up   func()
}

// startBank starts a peer and a link to it on the given side.
func startBank(t testing.TB, cfg Config, side Side, deps Deps, act func(*iso.Message) action) *bank {
	t.Helper()
	p := newPeer(t, cfg.Dialect)
	if act != nil {
		p.setAct(act)
	}
	if cfg.MAC.Enabled {
		p.setMAC(deps.MAC)
	}
	deps.Log = testLogger(t)
	b := &bank{peer: p}
	cfg.Side = side
	switch side {
	case SideDial:
		addr := p.listen("")
		cfg.Addrs = []string{addr}
		b.down = p.stop
		b.up = func() { p.listen(addr) }
	case SideListen:
		cfg.Listen = "127.0.0.1:0"
	}
	l, err := New(cfg, deps)
	require.NoError(t, err)
	require.NoError(t, l.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		l.Close(ctx)
	})
	if side == SideListen {
		b.down = p.stop
		b.up = func() { p.dial(l.Addr()) }
		b.up()
	}
	b.link = l
	return b
}

func waitReady(t testing.TB, l *Link) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, l.WaitReady(ctx))
}

func waitState(t testing.TB, l *Link, within time.Duration, ok func(State) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	require.NoError(t, l.waitState(ctx, ok))
}

func notReady(s State) bool { return s != StateReady }

// auth builds an 0100 with a given STAN, terminal and amount.
func auth(stan, tid string, amount int64) *iso.Message {
	m := &iso.Message{
		MTI: iso.MTIAuthorization, PAN: "4111111111111111", ProcessingCode: iso.ProcPurchase,
		STAN: stan, Expiry: "3012", MCC: "5411", POSEntryMode: iso.POSEntryEcommerce,
		POSCondition: iso.POSConditionECom, AcquirerID: "400123", RRN: "6327140000AB",
		TerminalID: tid, MerchantID: "000000000001234", Currency: iso.CurrencyKZT,
	}
	m.SetAmount(amount)
	m.Stamp(time.Now(), nil)
	return m
}

func forEach(t *testing.T, f func(t *testing.T, dialect string, side Side)) {
	for _, d := range dialects {
		for _, s := range sides {
			t.Run(d+"/"+string(s), func(t *testing.T) {
				t.Parallel()
				f(t, d, s)
			})
		}
	}
}

func TestSignOnBeforeReady(t *testing.T) {
	forEach(t, func(t *testing.T, dialect string, side Side) {
		release := make(chan struct{})
		b := startBank(t, testConfig("a", dialect), side, Deps{}, func(m *iso.Message) action {
			if m.NetworkCode == iso.NetSignOn {
				return action{hold: release}
			}
			return action{}
		})
		l := b.link
		waitState(t, l, 5*time.Second, func(s State) bool { return s == StateSigningOn })
		assert.False(t, l.Ready())
		_, err := l.Send(context.Background(), auth("", "TLP00001", 100))
		require.ErrorIs(t, err, ErrNotSent)
		require.ErrorIs(t, err, ErrNotReady)
		close(release)
		waitReady(t, l)
		resp, err := l.Send(context.Background(), auth("", "TLP00001", 100))
		require.NoError(t, err)
		assert.Equal(t, iso.RCApproved, resp.ResponseCode)
		assert.EqualValues(t, 1, b.peer.signOns.Load())
	})
}

func TestSignOnDeclinedRetries(t *testing.T) {
	var n atomic.Int32
	b := startBank(t, testConfig("a", "ascii"), SideDial, Deps{}, func(m *iso.Message) action {
		if m.NetworkCode == iso.NetSignOn && n.Add(1) == 1 {
			return action{rc: iso.RCNotPermitted}
		}
		return action{}
	})
	waitReady(t, b.link)
	assert.EqualValues(t, 2, b.peer.signOns.Load(), "first sign-on declined, second accepted on a new connection")
}

func TestEchoKeepsLinkUp(t *testing.T) {
	forEach(t, func(t *testing.T, dialect string, side Side) {
		b := startBank(t, testConfig("a", dialect), side, Deps{}, nil)
		waitReady(t, b.link)
		since := b.link.Status().Since
		echoes := 0
		deadline := time.After(5 * time.Second)
		for echoes < 3 {
			select {
			case m := <-b.peer.seen:
				if m.NetworkCode == iso.NetEcho {
					echoes++
				}
			case <-deadline:
				t.Fatalf("only %d echoes", echoes)
			}
		}
		st := b.link.Status()
		assert.Equal(t, StateReady, st.State)
		assert.Equal(t, since, st.Since, "never left ready")
		assert.EqualValues(t, 1, b.peer.signOns.Load())
		assert.False(t, st.LastEcho.IsZero())
		assert.Positive(t, st.EchoRTT)
	})
}

func TestEchoFailureTakesLinkDownAndItRecovers(t *testing.T) {
	var drop atomic.Bool
	cfg := testConfig("a", "binary")
	cfg.EchoFailures = 1
	cfg.RequestTimeout = 200 * time.Millisecond
	b := startBank(t, cfg, SideDial, Deps{}, func(m *iso.Message) action {
		return action{drop: drop.Load() && m.NetworkCode == iso.NetEcho}
	})
	waitReady(t, b.link)
	drop.Store(true)
	// Socket stays open; only the echo goes unanswered.
	waitState(t, b.link, 2*time.Second, notReady)
	drop.Store(false)
	waitReady(t, b.link)
	assert.EqualValues(t, 2, b.peer.signOns.Load(), "a fresh sign-on after recovery")
	assert.Positive(t, b.link.Status().Timeouts)
}

func TestReadTimeoutTakesLinkDown(t *testing.T) {
	var drop atomic.Bool
	cfg := testConfig("a", "ascii")
	cfg.EchoFailures = 1000 // only the silence can tell
	cfg.EchoInterval = 50 * time.Millisecond
	cfg.ReadTimeout = 300 * time.Millisecond
	b := startBank(t, cfg, SideListen, Deps{}, func(m *iso.Message) action {
		return action{drop: drop.Load()}
	})
	waitReady(t, b.link)
	drop.Store(true)
	waitState(t, b.link, 2*time.Second, notReady)
}

// route picks the first ready link, as routing does in failover.
func route(ls ...*Link) *Link {
	for _, l := range ls {
		if l.Ready() {
			return l
		}
	}
	return nil
}

func TestFailoverAndRecovery(t *testing.T) {
	forEach(t, func(t *testing.T, dialect string, side Side) {
		a := startBank(t, testConfig("a", dialect), side, Deps{}, nil)
		bb := startBank(t, testConfig("b", dialect), side, Deps{}, nil)
		waitReady(t, a.link)
		waitReady(t, bb.link)
		require.Equal(t, a.link, route(a.link, bb.link))

		a.down()
		start := time.Now()
		waitState(t, a.link, a.link.Config().EchoInterval, notReady)
		t.Logf("down after %v", time.Since(start))

		l := route(a.link, bb.link)
		require.Equal(t, bb.link, l)
		resp, err := l.Send(context.Background(), auth("", "TLP00001", 500))
		require.NoError(t, err)
		assert.Equal(t, iso.RCApproved, resp.ResponseCode)
		_, err = a.link.Send(context.Background(), auth("", "TLP00001", 500))
		require.ErrorIs(t, err, ErrNotSent)

		a.up()
		waitReady(t, a.link)
		assert.EqualValues(t, 2, a.peer.signOns.Load(), "fresh sign-on after the bank came back")
		require.Equal(t, a.link, route(a.link, bb.link))
		_, err = a.link.Send(context.Background(), auth("", "TLP00001", 500))
		require.NoError(t, err)
	})
}

func TestSlowReplyIsNoReplyAndLateReplyReachesHandler(t *testing.T) {
	forEach(t, func(t *testing.T, dialect string, side Side) {
		late := make(chan *iso.Message, 1)
		deps := Deps{OnUnsolicited: func(link string, m *iso.Message, isLate bool) {
			assert.Equal(t, "a", link)
			if isLate {
				late <- m
			}
		}}
		cfg := testConfig("a", dialect)
		cfg.RequestTimeout = 100 * time.Millisecond
		cfg.EchoInterval = time.Second
		b := startBank(t, cfg, side, deps, func(m *iso.Message) action {
			if m.Amount == 777 {
				return action{delay: 300 * time.Millisecond}
			}
			return action{}
		})
		waitReady(t, b.link)
		req := auth("", "TLP00001", 777)
		_, err := b.link.Send(context.Background(), req)
		require.ErrorIs(t, err, ErrNoReply)
		require.NotErrorIs(t, err, ErrNotSent)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var se *SendError
		require.ErrorAs(t, err, &se)
		assert.True(t, se.Sent)
		assert.Equal(t, req.STAN, se.STAN)

		select {
		case m := <-late:
			assert.Equal(t, req.STAN, m.STAN)
			assert.Equal(t, iso.MTIAuthorizationResponse, m.MTI)
		case <-time.After(3 * time.Second):
			t.Fatal("late reply never reached the handler")
		}
		st := b.link.Status()
		assert.EqualValues(t, 1, st.Late)
		assert.EqualValues(t, 1, st.Timeouts)
		// The link is still fine for the next request.
		_, err = b.link.Send(context.Background(), auth("", "TLP00001", 100))
		require.NoError(t, err)
	})
}

func TestCallerContextShorterThanRequestTimeout(t *testing.T) {
	b := startBank(t, testConfig("a", "ascii"), SideDial, Deps{}, func(m *iso.Message) action {
		return action{drop: m.Amount == 1}
	})
	waitReady(t, b.link)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.link.Send(ctx, auth("", "TLP00001", 1))
	require.ErrorIs(t, err, ErrNoReply)
	assert.Less(t, time.Since(start), 500*time.Millisecond)

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = b.link.Send(ctx, auth("", "TLP00001", 2))
	require.ErrorIs(t, err, ErrNotSent, "a dead context never reaches the wire")
}

// Many concurrent requests, answered out of order, some sharing a STAN
// (different terminals or message classes): each caller gets its own
// answer.
func TestConcurrentOutOfOrderNoCrossDelivery(t *testing.T) {
	forEach(t, func(t *testing.T, dialect string, side Side) {
		var seq atomic.Int64
		cfg := testConfig("a", dialect)
		// This test is about matching, not timeouts: on a small machine
		// under -race, 2000 pack/unpacks can take a while.
		cfg.RequestTimeout = 10 * time.Second
		cfg.EchoInterval = time.Second
		b := startBank(t, cfg, side, Deps{}, func(m *iso.Message) action {
			// Pseudo-random 0..15ms: later requests often overtake earlier ones.
			return action{delay: time.Duration(seq.Add(7919)%16) * time.Millisecond}
		})
		waitReady(t, b.link)
		const n = 500
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// 250 STANs, each used by two terminals.
				stan := fmt.Sprintf("%06d", 100000+i/2)
				tid := fmt.Sprintf("TLP0000%d", i%2)
				req := auth(stan, tid, int64(1000+i))
				if i%5 == 0 {
					req.MTI = iso.MTIFinancial
				}
				resp, err := b.link.Send(context.Background(), req)
				if err != nil {
					errs <- err
					return
				}
				if resp.STAN != stan || resp.TerminalID != tid || resp.Amount != int64(1000+i) || resp.MTI != iso.ResponseMTI(req.MTI) {
					errs <- fmt.Errorf("request %d got %s STAN %s TID %s amount %d", i, resp.MTI, resp.STAN, resp.TerminalID, resp.Amount)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		st := b.link.Status()
		assert.Zero(t, st.Unmatched)
		assert.Zero(t, st.Late)
		assert.Zero(t, st.InFlight)
	})
}

func TestDuplicateKeyInFlightIsNotSent(t *testing.T) {
	hold := make(chan struct{})
	b := startBank(t, testConfig("a", "ascii"), SideDial, Deps{}, func(m *iso.Message) action {
		if m.Amount == 5 {
			return action{hold: hold}
		}
		return action{}
	})
	waitReady(t, b.link)
	done := make(chan error, 1)
	go func() {
		_, err := b.link.Send(context.Background(), auth("000555", "TLP00001", 5))
		done <- err
	}()
	waitPeerRequests(t, b.peer, 1)
	_, err := b.link.Send(context.Background(), auth("000555", "TLP00001", 6))
	require.ErrorIs(t, err, ErrNotSent)
	require.ErrorIs(t, err, ErrDuplicateKey)
	// Same STAN, other terminal: a different key, so it goes.
	_, err = b.link.Send(context.Background(), auth("000555", "TLP00002", 6))
	require.NoError(t, err)
	close(hold)
	require.NoError(t, <-done)
}

func waitPeerRequests(t testing.TB, p *peer, n int32) {
	t.Helper()
	require.Eventually(t, func() bool { return p.requests.Load() == n }, 5*time.Second, time.Millisecond)
}

func waitInFlight(t testing.TB, l *Link, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return l.Status().InFlight == n }, 5*time.Second, time.Millisecond)
}

func TestInFlightLimit(t *testing.T) {
	hold := make(chan struct{})
	cfg := testConfig("a", "binary")
	cfg.MaxInFlight = 2
	cfg.EchoInterval = time.Second
	b := startBank(t, cfg, SideDial, Deps{}, func(m *iso.Message) action {
		if m.Amount == 9 {
			return action{hold: hold}
		}
		return action{}
	})
	waitReady(t, b.link)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := b.link.Send(context.Background(), auth("", "TLP00001", 9))
			done <- err
		}()
	}
	waitPeerRequests(t, b.peer, 2)
	waitInFlight(t, b.link, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := b.link.Send(ctx, auth("", "TLP00001", 10))
	require.ErrorIs(t, err, ErrNotSent)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualValues(t, 2, b.peer.requests.Load(), "the third request never reached the bank")

	// A waiting Send proceeds as soon as a slot frees.
	third := make(chan error, 1)
	go func() {
		_, err := b.link.Send(context.Background(), auth("", "TLP00001", 11))
		third <- err
	}()
	close(hold)
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	require.NoError(t, <-third)
}

func TestCloseDuringSend(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	b := startBank(t, testConfig("a", "ascii"), SideDial, Deps{}, func(m *iso.Message) action {
		if m.Amount == 3 {
			return action{hold: hold}
		}
		return action{}
	})
	waitReady(t, b.link)
	done := make(chan error, 1)
	go func() {
		_, err := b.link.Send(context.Background(), auth("", "TLP00001", 3))
		done <- err
	}()
	waitPeerRequests(t, b.peer, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := b.link.Close(ctx)
	require.Error(t, err, "Close reports the request it abandoned")
	require.ErrorIs(t, <-done, ErrNoReply, "written, never answered: outcome unknown")
	_, err = b.link.Send(context.Background(), auth("", "TLP00001", 4))
	require.ErrorIs(t, err, ErrNotSent)
	require.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, StateClosed, b.link.Status().State)
}

func TestCloseGracefulSignsOff(t *testing.T) {
	forEach(t, func(t *testing.T, dialect string, side Side) {
		b := startBank(t, testConfig("a", dialect), side, Deps{}, func(m *iso.Message) action {
			return action{delay: 50 * time.Millisecond}
		})
		waitReady(t, b.link)
		done := make(chan error, 1)
		go func() {
			_, err := b.link.Send(context.Background(), auth("", "TLP00001", 3))
			done <- err
		}()
		waitPeerRequests(t, b.peer, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		require.NoError(t, b.link.Close(ctx))
		require.NoError(t, <-done, "in-flight request finished before close")
		assert.EqualValues(t, 1, b.peer.signOffs.Load())
	})
}

func TestBankInitiatedMessages(t *testing.T) {
	forEach(t, func(t *testing.T, dialect string, side Side) {
		unsolicited := make(chan *iso.Message, 4)
		b := startBank(t, testConfig("a", dialect), side, Deps{OnUnsolicited: func(_ string, m *iso.Message, late bool) {
			assert.False(t, late)
			unsolicited <- m
		}}, nil)
		waitReady(t, b.link)
		// The bank's echo and sign-on are answered 00.
		for _, code := range []string{iso.NetEcho, iso.NetSignOn} {
			req := iso.NetworkRequest(code, "900001", time.Now())
			req.AcquirerID = "500500"
			resp, err := b.peer.request(req, 2*time.Second)
			require.NoError(t, err)
			assert.Equal(t, iso.RCApproved, resp.ResponseCode)
			assert.Equal(t, code, resp.NetworkCode)
		}
		// A key change without an importer is refused.
		kc := iso.NetworkRequest(iso.NetKeyChange, "900002", time.Now())
		kc.KeyUnderZMK, kc.KeyCheckValue = "00112233445566778899AABBCCDDEEFF", "ABC123"
		resp, err := b.peer.request(kc, 2*time.Second)
		require.NoError(t, err)
		assert.Equal(t, iso.RCInvalidTxn, resp.ResponseCode)
		// An authorization from the bank: the acquirer declines it and reports it.
		resp, err = b.peer.request(auth("900003", "TLP00009", 1), 2*time.Second)
		require.NoError(t, err)
		assert.Equal(t, iso.RCInvalidTxn, resp.ResponseCode)
		m := <-unsolicited
		assert.Equal(t, "900003", m.STAN)
		// A response nobody asked for is unmatched, not late.
		p := b.peer
		p.mu.Lock()
		mc := p.last
		p.mu.Unlock()
		p.write(mc, iso.Respond(auth("900004", "TLP00009", 1), "00"), false)
		m = <-unsolicited
		assert.Equal(t, "900004", m.STAN)
		assert.EqualValues(t, 2, b.link.Status().Unmatched)
		assert.True(t, b.link.Ready())
	})
}

type keyImporter struct {
	mu   sync.Mutex
	got  []string
	fail bool
}

func (k *keyImporter) ImportKey(_ context.Context, keyID, wrapped, kcv string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail {
		return errors.New("kcv mismatch")
	}
	k.got = append(k.got, keyID+"/"+wrapped+"/"+kcv)
	return nil
}

func TestKeyChangeFromBank(t *testing.T) {
	ki := &keyImporter{}
	cfg := testConfig("a", "ascii")
	cfg.MAC = MACConfig{Enabled: true, KeyID: "k"}
	b := startBank(t, cfg, SideDial, Deps{MAC: hmacMACer{key: []byte("secret")}, Keys: ki}, nil)
	waitReady(t, b.link)
	kc := iso.NetworkRequest(iso.NetKeyChange, "900002", time.Now())
	kc.KeyUnderZMK, kc.KeyCheckValue = "00112233445566778899AABBCCDDEEFF", "ABC123"
	resp, err := b.peer.request(kc, 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, iso.RCApproved, resp.ResponseCode)
	assert.Equal(t, []string{"k/00112233445566778899AABBCCDDEEFF/ABC123"}, ki.got)

	ki.fail = true
	kc.STAN = "900003"
	resp, err = b.peer.request(kc, 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, iso.RCSecurityViolation, resp.ResponseCode)
}

func TestMAC(t *testing.T) {
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			macer := hmacMACer{key: []byte("secret")}
			cfg := testConfig("a", dialect)
			cfg.MAC = MACConfig{Enabled: true, KeyID: "k"}
			late := make(chan bool, 1)
			b := startBank(t, cfg, SideDial, Deps{MAC: macer, OnUnsolicited: func(_ string, _ *iso.Message, l bool) { late <- l }},
				func(m *iso.Message) action { return action{tamper: m.Amount == 66} })
			waitReady(t, b.link)

			// Both ways: the bank verified the link's MAC, the link the bank's.
			resp, err := b.link.Send(context.Background(), auth("", "TLP00001", 100))
			require.NoError(t, err)
			assert.Len(t, resp.MAC, 8)
			assert.Zero(t, b.peer.badMACs.Load())

			// A tampered response cannot be trusted: outcome unknown.
			_, err = b.link.Send(context.Background(), auth("", "TLP00001", 66))
			require.ErrorIs(t, err, ErrNoReply)
			require.ErrorIs(t, err, iso.ErrBadMAC)

			// A link with the wrong key: the bank sees bad MACs.
			b.peer.setMAC(hmacMACer{key: []byte("other")})
			_, err = b.link.Send(context.Background(), auth("", "TLP00001", 100))
			require.ErrorIs(t, err, iso.ErrBadMAC, "the bank's MAC under its key fails ours")
			assert.Positive(t, b.peer.badMACs.Load())
		})
	}
}

func TestMACEnabledNeedsModule(t *testing.T) {
	cfg := testConfig("a", "ascii")
	cfg.Addrs = []string{"127.0.0.1:1"}
	cfg.MAC = MACConfig{Enabled: true, KeyID: "k"}
	_, err := New(cfg, Deps{})
	require.ErrorContains(t, err, "mac.enabled")
}

func TestAddrsTriedInOrderAndPool(t *testing.T) {
	p := newPeer(t, "ascii")
	addr := p.listen("")
	dead := p.freeAddr()
	cfg := testConfig("a", "ascii")
	cfg.Addrs = []string{dead, addr}
	cfg.PoolSize = 3
	l, err := New(cfg, Deps{Log: testLogger(t)})
	require.NoError(t, err)
	require.NoError(t, l.Start(context.Background()))
	defer l.Close(context.Background())
	require.Eventually(t, func() bool { return l.Status().ReadyConns == 3 }, 5*time.Second, time.Millisecond)
	assert.EqualValues(t, 3, p.signOns.Load())
	for i := range 9 {
		_, err := l.Send(context.Background(), auth("", "TLP00001", int64(i+1)))
		require.NoError(t, err)
	}
}

// freeAddr returns a loopback address nobody listens on.
func (p *peer) freeAddr() string {
	srv := newPeer(p.t, "ascii")
	a := srv.listen("")
	srv.stop()
	return a
}

func TestListenSidePoolFull(t *testing.T) {
	cfg := testConfig("a", "ascii")
	b := startBank(t, cfg, SideListen, Deps{}, nil)
	waitReady(t, b.link)
	other := newPeer(t, "ascii")
	other.dial(b.link.Addr())
	other.mu.Lock()
	mc := other.dials[0]
	other.mu.Unlock()
	select {
	case <-mc.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("second connection beyond pool_size was not refused")
	}
	assert.EqualValues(t, 1, b.link.Status().Conns)
}

func TestMetricsTwoLinksOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := startBank(t, testConfig("a", "ascii"), SideDial, Deps{Registry: reg}, nil)
	b := startBank(t, testConfig("b", "binary"), SideDial, Deps{Registry: reg}, nil)
	waitReady(t, a.link)
	waitReady(t, b.link)
	for range 3 {
		_, err := a.link.Send(context.Background(), auth("", "TLP00001", 1))
		require.NoError(t, err)
	}
	get := func(name string, labels ...string) (float64, bool) {
		t.Helper()
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
		next:
			for _, m := range mf.GetMetric() {
				want := map[string]string{}
				for i := 0; i < len(labels); i += 2 {
					want[labels[i]] = labels[i+1]
				}
				for _, lp := range m.GetLabel() {
					if v, ok := want[lp.GetName()]; ok && v != lp.GetValue() {
						continue next
					}
				}
				switch {
				case m.Gauge != nil:
					return m.GetGauge().GetValue(), true
				case m.Counter != nil:
					return m.GetCounter().GetValue(), true
				case m.Histogram != nil:
					return float64(m.GetHistogram().GetSampleCount()), true
				}
			}
		}
		return 0, false
	}
	v, _ := get("tulpar_link_state", "link", "a", "state", "ready")
	assert.Equal(t, 1.0, v)
	v, _ = get("tulpar_link_state", "link", "a", "state", "down")
	assert.Equal(t, 0.0, v)
	v, _ = get("tulpar_link_sent_total", "link", "a")
	assert.GreaterOrEqual(t, v, 4.0) // sign-on + 3
	v, _ = get("tulpar_link_state", "link", "b", "state", "ready")
	assert.Equal(t, 1.0, v)
	v, _ = get("tulpar_link_send_duration_seconds", "link", "a")
	assert.Equal(t, 3.0, v)
	v, _ = get("tulpar_link_send_duration_seconds", "link", "b")
	assert.Equal(t, 0.0, v)
}

func TestSet(t *testing.T) {
	pa, pb := newPeer(t, "ascii"), newPeer(t, "binary")
	ca, cb := testConfig("a", "ascii"), testConfig("b", "binary")
	ca.Addrs, cb.Addrs = []string{pa.listen("")}, []string{pb.listen("")}
	_, err := NewSet([]Config{ca, ca}, Deps{})
	require.ErrorContains(t, err, "duplicate")
	s, err := NewSet([]Config{ca, cb}, Deps{})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	waitReady(t, s.Get("a"))
	waitReady(t, s.Get("b"))
	assert.True(t, s.Ready("a"))
	assert.False(t, s.Ready("nope"))
	assert.Equal(t, []string{"a", "b"}, s.Names())
	st := s.Statuses()
	require.Len(t, st, 2)
	assert.Equal(t, StateReady, st[1].State)
	require.NoError(t, s.Close(context.Background()))
	assert.Equal(t, StateClosed, s.Get("a").Status().State)
	assert.EqualValues(t, 1, pa.signOffs.Load())
}

func TestLateKeys(t *testing.T) {
	s := newLateKeys(time.Minute, 3)
	t0 := time.Now()
	for i := range 5 {
		s.add(fmt.Sprint(i), t0)
	}
	assert.Equal(t, 3, s.len(), "bounded")
	assert.False(t, s.take("0", t0), "oldest evicted")
	assert.True(t, s.take("4", t0))
	assert.False(t, s.take("4", t0), "taken once")
	assert.False(t, s.take("3", t0.Add(2*time.Minute)), "expired")
}

func TestPackFailureIsNotSent(t *testing.T) {
	b := startBank(t, testConfig("a", "binary"), SideDial, Deps{}, nil)
	waitReady(t, b.link)
	m := auth("42", "TLP00001", 1) // DE11 must be 6 digits
	_, err := b.link.Send(context.Background(), m)
	require.ErrorIs(t, err, ErrNotSent)
	assert.Contains(t, err.Error(), "DE11")
	assert.NotContains(t, err.Error(), m.PAN)
	assert.Zero(t, b.peer.requests.Load())
}

func TestBankSignOffThenSignOnAgain(t *testing.T) {
	b := startBank(t, testConfig("a", "ascii"), SideDial, Deps{}, nil)
	waitReady(t, b.link)
	req := iso.NetworkRequest(iso.NetSignOff, "900001", time.Now())
	resp, err := b.peer.request(req, 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, iso.RCApproved, resp.ResponseCode)
	waitState(t, b.link, 2*time.Second, notReady)
	waitReady(t, b.link)
	assert.EqualValues(t, 2, b.peer.signOns.Load(), "signed on again over the same connection")
}

// OnSignedOn hears every connection that signs on, so a bank coming back
// on another connection of a listen link whose state never left Ready is
// heard too; OnStateChange hears the link's one change to Ready.
func TestSignedOnHeardPerConnection(t *testing.T) {
	cfg := testConfig("a", "ascii")
	cfg.PoolSize = 2
	signed := make(chan string, 4)
	var mu sync.Mutex
	var states []State
	b := startBank(t, cfg, SideListen, Deps{
		OnSignedOn: func(link string) { signed <- link },
		OnStateChange: func(_ string, st State) {
			mu.Lock()
			states = append(states, st)
			mu.Unlock()
		},
	}, nil)
	require.Equal(t, "a", <-signed)
	b.peer.dial(b.link.Addr())
	require.Equal(t, "a", <-signed, "the second connection too")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, countState(states, StateReady), "the link became ready once: %v", states)
}

func countState(states []State, want State) int {
	n := 0
	for _, st := range states {
		if st == want {
			n++
		}
	}
	return n
}
