package links

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/issuersim"
)

// The tests in this file run links against issuersim, the bank simulator,
// over real TCP: the acceptance tests of issue 5.

// simBank is a link and the simulated bank behind it, with a way to stop
// the bank and start a fresh one in its place (same address on the dial
// side; dialing the link again on the listen side).
type simBank struct {
	t    testing.TB
	link *Link
	cfg  issuersim.Config
	mu   sync.Mutex
	sim  *issuersim.Bank
}

func simConfig(name, dialect string) issuersim.Config {
	c := issuersim.DefaultConfig()
	c.Name, c.Dialect, c.AcquirerID = name, dialect, "400123"
	// Financial requests are declined 91 until the switch signs on: an
	// approval proves the sign-on happened on this very simulator.
	c.RequireSignOn = true
	return c
}

func startSim(t testing.TB, cfg issuersim.Config) *issuersim.Bank {
	t.Helper()
	b, err := issuersim.New(cfg, zerolog.Nop(), nil)
	require.NoError(t, err)
	require.NoError(t, b.Start(context.Background()))
	return b
}

func startSimBank(t testing.TB, lcfg Config, side Side, scfg issuersim.Config, deps Deps) *simBank {
	t.Helper()
	sb := &simBank{t: t}
	deps.Log = testLogger(t)
	lcfg.Side = side
	switch side {
	case SideDial:
		scfg.Listen = "127.0.0.1:0"
		sb.sim = startSim(t, scfg)
		scfg.Listen = sb.sim.Addr() // a restart comes back on the same port
		lcfg.Addrs = []string{sb.sim.Addr()}
	case SideListen:
		lcfg.Listen = "127.0.0.1:0"
	}
	l, err := New(lcfg, deps)
	require.NoError(t, err)
	require.NoError(t, l.Start(context.Background()))
	sb.link = l
	if side == SideListen {
		scfg.Listen, scfg.Dial = "", l.Addr()
		sb.sim = startSim(t, scfg)
	}
	sb.cfg = scfg
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		l.Close(ctx)
		sb.stop()
	})
	return sb
}

func (sb *simBank) bank() *issuersim.Bank {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.sim
}

func (sb *simBank) stop() {
	sb.mu.Lock()
	sim := sb.sim
	sb.sim = nil
	sb.mu.Unlock()
	if sim != nil {
		require.NoError(sb.t, sim.Close())
	}
}

// restart brings up a fresh simulator: no memory of the old sign-on.
func (sb *simBank) restart() {
	sim := startSim(sb.t, sb.cfg)
	sb.mu.Lock()
	sb.sim = sim
	sb.mu.Unlock()
}

func TestSimSignOnBeforeReady(t *testing.T) {
	forEach(t, func(t *testing.T, dialect string, side Side) {
		scfg := simConfig("a", dialect)
		// Sign-on (every 0800) answered late: the link must wait for it.
		scfg.Knobs = issuersim.Knobs{Rules: []issuersim.Rule{{MTI: iso.MTINetworkManagement, Action: "late", Delay: 300 * time.Millisecond}}}
		sb := startSimBank(t, testConfig("a", dialect), side, scfg, Deps{})
		waitState(t, sb.link, 5*time.Second, func(s State) bool { return s == StateSigningOn })
		assert.False(t, sb.link.Ready())
		_, err := sb.link.Send(context.Background(), auth("", "TLP00001", 100))
		require.ErrorIs(t, err, ErrNotSent)

		waitReady(t, sb.link)
		sb.bank().SetKnobs(issuersim.Knobs{})
		resp, err := sb.link.Send(context.Background(), auth("", "TLP00001", 100))
		require.NoError(t, err)
		assert.Equal(t, iso.RCApproved, resp.ResponseCode, "the simulator saw our sign-on")
	})
}

func TestSimEchoKeepsLinkUp(t *testing.T) {
	forEach(t, func(t *testing.T, dialect string, side Side) {
		scfg := simConfig("a", dialect)
		// The simulator drops a connection silent for 400ms; echoes every
		// 150ms must keep it open.
		scfg.IdleTimeout = 400 * time.Millisecond
		sb := startSimBank(t, testConfig("a", dialect), side, scfg, Deps{})
		waitReady(t, sb.link)
		since := sb.link.Status().Since
		var prev time.Time
		echoes := 0
		require.Eventually(t, func() bool {
			if le := sb.link.Status().LastEcho; !le.Equal(prev) {
				prev = le
				echoes++
			}
			return echoes > 5 // about 900ms: more than twice the idle timeout
		}, 5*time.Second, 5*time.Millisecond)
		st := sb.link.Status()
		assert.Equal(t, StateReady, st.State)
		assert.Equal(t, since, st.Since, "never left ready")
		assert.Zero(t, st.Timeouts)
	})
}

func TestSimFailoverAndRecovery(t *testing.T) {
	forEach(t, func(t *testing.T, dialect string, side Side) {
		a := startSimBank(t, testConfig("a", dialect), side, simConfig("a", dialect), Deps{})
		b := startSimBank(t, testConfig("b", dialect), side, simConfig("b", dialect), Deps{})
		waitReady(t, a.link)
		waitReady(t, b.link)
		require.Equal(t, a.link, route(a.link, b.link))

		a.stop()
		start := time.Now()
		waitState(t, a.link, a.link.Config().EchoInterval, notReady)
		t.Logf("link down %v after the simulator stopped", time.Since(start))

		l := route(a.link, b.link)
		require.Equal(t, b.link, l, "new authorizations go to the second bank")
		resp, err := l.Send(context.Background(), auth("", "TLP00001", 500))
		require.NoError(t, err)
		assert.Equal(t, iso.RCApproved, resp.ResponseCode)

		a.restart()
		waitReady(t, a.link)
		require.Equal(t, a.link, route(a.link, b.link))
		resp, err = a.link.Send(context.Background(), auth("", "TLP00001", 500))
		require.NoError(t, err)
		assert.Equal(t, iso.RCApproved, resp.ResponseCode, "fresh simulator approves: the link signed on again")
	})
}

func TestSimSlowReplyIsNoReplyAndLateReplyReachesHandler(t *testing.T) {
	forEach(t, func(t *testing.T, dialect string, side Side) {
		late := make(chan *iso.Message, 1)
		deps := Deps{OnUnsolicited: func(link string, m *iso.Message, isLate bool) {
			if isLate {
				late <- m
			}
		}}
		lcfg := testConfig("a", dialect)
		lcfg.RequestTimeout = 150 * time.Millisecond
		scfg := simConfig("a", dialect)
		scfg.Knobs = issuersim.Knobs{Rules: []issuersim.Rule{{AmountSuffix: "77", Action: "late", Delay: 400 * time.Millisecond}}}
		sb := startSimBank(t, lcfg, side, scfg, deps)
		waitReady(t, sb.link)

		req := auth("", "TLP00001", 1077)
		_, err := sb.link.Send(context.Background(), req)
		require.ErrorIs(t, err, ErrNoReply)
		require.NotErrorIs(t, err, ErrNotSent)
		select {
		case m := <-late:
			assert.Equal(t, req.STAN, m.STAN)
			assert.Equal(t, iso.MTIAuthorizationResponse, m.MTI)
			assert.Equal(t, iso.RCApproved, m.ResponseCode, "applied at the bank: the caller must reverse")
		case <-time.After(5 * time.Second):
			t.Fatal("late reply never reached the handler")
		}
		assert.EqualValues(t, 1, sb.link.Status().Late)
	})
}

func TestSimConcurrentOutOfOrder(t *testing.T) {
	forEach(t, func(t *testing.T, dialect string, side Side) {
		lcfg := testConfig("a", dialect)
		lcfg.RequestTimeout = 10 * time.Second // matching, not timeouts
		lcfg.EchoInterval = time.Second
		lcfg.MaxInFlight = 500
		scfg := simConfig("a", dialect)
		scfg.Knobs = issuersim.Knobs{Jitter: 20 * time.Millisecond}
		sb := startSimBank(t, lcfg, side, scfg, Deps{})
		waitReady(t, sb.link)

		const n = 500
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// 250 STANs, each on two terminals: matching on STAN alone
				// would cross-deliver.
				stan := fmt.Sprintf("%06d", 200000+i/2)
				tid := fmt.Sprintf("TLP0000%d", i%2)
				amount := int64(1000 + i)
				resp, err := sb.link.Send(context.Background(), auth(stan, tid, amount))
				switch {
				case err != nil:
					errs <- err
				case resp.STAN != stan || resp.TerminalID != tid || resp.Amount != amount:
					errs <- fmt.Errorf("request %d (STAN %s TID %s amount %d) got STAN %s TID %s amount %d",
						i, stan, tid, amount, resp.STAN, resp.TerminalID, resp.Amount)
				case resp.ResponseCode != iso.RCApproved:
					errs <- fmt.Errorf("request %d: DE39 %s", i, resp.ResponseCode)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		st := sb.link.Status()
		assert.Zero(t, st.Unmatched)
		assert.Zero(t, st.Late)
	})
}

func TestSimMAC(t *testing.T) {
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			macer := hmacMACer{key: []byte("zone-key")}
			ctx := context.Background()
			var bankKey atomic.Pointer[hmacMACer] // the key the bank uses
			bankKey.Store(&macer)
			scfg := simConfig("a", dialect)
			scfg.MAC = &issuersim.MACHooks{
				Generate: func(d []byte) ([]byte, error) { return bankKey.Load().GenerateMAC(ctx, "k", d) },
				Verify:   func(d, mac []byte) error { return bankKey.Load().VerifyMAC(ctx, "k", d, mac) },
			}
			lcfg := testConfig("a", dialect)
			lcfg.MAC = MACConfig{Enabled: true, KeyID: "k"}
			sb := startSimBank(t, lcfg, SideDial, scfg, Deps{MAC: macer})
			waitReady(t, sb.link) // the sign-on itself went both ways MACed
			resp, err := sb.link.Send(ctx, auth("", "TLP00001", 100))
			require.NoError(t, err)
			assert.Equal(t, iso.RCApproved, resp.ResponseCode)

			// The bank's key differs from ours: its answers fail our check.
			bankKey.Store(&hmacMACer{key: []byte("other")})
			_, err = sb.link.Send(ctx, auth("", "TLP00001", 100))
			require.ErrorIs(t, err, ErrNoReply)
			require.ErrorIs(t, err, iso.ErrBadMAC)
		})
	}
}

// TestSimReadyFalseOnceSendSawTheClose: when the bank closes the
// connection under a request, the link is not ready by the time Send
// returns, though the goroutine serving the connection may not have
// noticed yet: a caller deciding from Ready after a failed Send (the
// store-and-forward queue) sees the link down, not a link that failed
// one message.
func TestSimReadyFalseOnceSendSawTheClose(t *testing.T) {
	lcfg := testConfig("a", "ascii")
	lcfg.Backoff = Backoff{Min: time.Hour, Max: time.Hour} // no reconnect within the test
	scfg := simConfig("a", "ascii")
	scfg.Knobs = issuersim.Knobs{Rules: []issuersim.Rule{{AmountSuffix: "66", Action: issuersim.ActionClose}}}
	sb := startSimBank(t, lcfg, SideDial, scfg, Deps{})
	waitReady(t, sb.link)
	for i := range 20 {
		if i > 0 {
			// Bring it back for the next round: a fresh link each time.
			sb = startSimBank(t, lcfg, SideDial, scfg, Deps{})
			waitReady(t, sb.link)
		}
		_, err := sb.link.Send(context.Background(), auth("", "TLP00001", 1066))
		require.Error(t, err)
		require.False(t, sb.link.Ready(), "round %d: the connection the Send saw close is not ready", i)
	}
}
