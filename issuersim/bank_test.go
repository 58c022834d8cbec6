package issuersim

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
)

func forEachDialect(t *testing.T, fn func(t *testing.T, b *Bank, c *client)) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			b := MustStartBank(t, d, func(c *Config) { c.AcquirerID = acquirer })
			fn(t, b, MustDial(t, b))
		})
	}
}

func TestNetworkManagement(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		for _, code := range []string{iso.NetSignOn, iso.NetEcho} {
			resp := c.mustSend(c.network(code))
			assert.Equal(t, iso.RCApproved, resp.ResponseCode, code)
			assert.Equal(t, code, resp.NetworkCode)
			assert.Equal(t, acquirer, resp.AcquirerID)
		}
		kc := c.network(iso.NetKeyChange)
		kc.KeyUnderZMK, kc.KeyCheckValue = "0123456789ABCDEF0123456789ABCDEF", "A1B2C3"
		assert.Equal(t, iso.RCApproved, c.mustSend(kc).ResponseCode)
		assert.Equal(t, iso.RCFormatError, c.mustSend(c.network(iso.NetKeyChange)).ResponseCode, "key change without a key")
		assert.Equal(t, iso.RCInvalidTxn, c.mustSend(c.network("999")).ResponseCode)

		// Signed off: financial requests get 91 until the next sign-on.
		assert.Equal(t, iso.RCApproved, c.mustSend(c.network(iso.NetSignOff)).ResponseCode)
		assert.Equal(t, iso.RCIssuerDown, c.mustSend(c.auth(visa, 100)).ResponseCode)
		assert.Equal(t, iso.RCApproved, c.mustSend(c.network(iso.NetEcho)).ResponseCode, "echo is answered when signed off")
		c.mustSend(c.network(iso.NetSignOn))
		assert.Equal(t, iso.RCApproved, c.mustSend(c.auth(visa, 100)).ResponseCode)
		assert.EqualValues(t, 100, MustAccount(t, b, visa).Held)
	})
}

func TestRequireSignOn(t *testing.T) {
	b := MustStartBank(t, "ascii", func(c *Config) { c.RequireSignOn = true })
	c := MustDial(t, b)
	assert.Equal(t, iso.RCIssuerDown, c.mustSend(c.auth(visa, 100)).ResponseCode)
	c.mustSend(c.network(iso.NetSignOn))
	assert.Equal(t, iso.RCApproved, c.mustSend(c.auth(visa, 100)).ResponseCode)
}

func TestHoldThenCompleteForLess(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		before := MustAccount(t, b, visa)
		auth := c.auth(visa, 10_000)
		resp := c.mustSend(auth)
		require.Equal(t, iso.RCApproved, resp.ResponseCode)
		require.Len(t, resp.ApprovalCode, 6)
		assert.Equal(t, auth.RRN, resp.RRN)
		assert.Equal(t, auth.TerminalID, resp.TerminalID)
		assert.EqualValues(t, 10_000, resp.Amount)
		a := MustAccount(t, b, visa)
		assert.EqualValues(t, 10_000, a.Held)
		assert.Equal(t, before.Available-10_000, a.Available)
		assert.Equal(t, 1, a.Holds)

		over := c.completionOf(auth, resp.ApprovalCode, 10_001)
		assert.Equal(t, iso.RCInvalidAmount, c.mustSend(over).ResponseCode, "completion above the hold")

		comp := c.completionOf(auth, resp.ApprovalCode, 6_000)
		cr := c.mustSend(comp)
		require.Equal(t, iso.RCApproved, cr.ResponseCode)
		assert.Equal(t, iso.MTICompletionAdviceResponse, cr.MTI)
		assert.Equal(t, resp.ApprovalCode, cr.ApprovalCode)
		a = MustAccount(t, b, visa)
		assert.Zero(t, a.Held, "the rest of the hold is released")
		assert.Zero(t, a.Holds)
		assert.Equal(t, before.Balance-6_000, a.Balance)
		assert.Equal(t, before.Available-6_000, a.Available)
		assert.EqualValues(t, 6_000, a.Captured)

		// The SAF's repeat is the same advice: answered, not applied again.
		rep := c.mustSend(iso.Repeat(comp))
		assert.Equal(t, iso.RCApproved, rep.ResponseCode)
		assert.Equal(t, a, MustAccount(t, b, visa))
		// A second completion of the same hold is refused.
		assert.Equal(t, iso.RCInvalidTxn, c.mustSend(c.completionOf(auth, resp.ApprovalCode, 1_000)).ResponseCode)
		assert.Equal(t, a, MustAccount(t, b, visa))
	})
}

func TestPurchaseThenRefundTwice(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		before := MustAccount(t, b, mastercard)
		p := c.purchase(mastercard, 10_000)
		require.Equal(t, iso.RCApproved, c.mustSend(p).ResponseCode)
		assert.Equal(t, before.Balance-10_000, MustAccount(t, b, mastercard).Balance)

		r1 := c.mustSend(c.refundOf(p, 6_000))
		require.Equal(t, iso.RCApproved, r1.ResponseCode)
		assert.Len(t, r1.ApprovalCode, 6)
		// The second refund would take the refunds past what was captured.
		assert.Equal(t, iso.RCExceedsCapture, c.mustSend(c.refundOf(p, 6_000)).ResponseCode)
		a := MustAccount(t, b, mastercard)
		assert.Equal(t, before.Balance-4_000, a.Balance)
		assert.EqualValues(t, 6_000, a.Refunded)
		assert.EqualValues(t, 10_000, a.Captured)

		// The rest can still be refunded, found by the original's RRN
		// (DE37 + DE41) when DE90 is absent.
		byRRN := c.refundOf(p, 4_000)
		byRRN.Original, byRRN.RRN = nil, p.RRN
		assert.Equal(t, iso.RCApproved, c.mustSend(byRRN).ResponseCode)
		assert.Equal(t, before.Balance, MustAccount(t, b, mastercard).Balance)
		assert.Equal(t, iso.RCExceedsCapture, c.mustSend(c.refundOf(p, 1)).ResponseCode)
	})
}

func TestReversalTwiceIsIdempotent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		before := MustAccount(t, b, visa)
		auth := c.auth(visa, 7_000)
		require.Equal(t, iso.RCApproved, c.mustSend(auth).ResponseCode)

		rev := c.reversalOf(auth, false, nil)
		r1 := c.mustSend(rev)
		assert.Equal(t, iso.RCApproved, r1.ResponseCode)
		assert.Equal(t, before, MustAccount(t, b, visa), "hold released")
		// Another reversal of the same original (new STAN): same answer,
		// nothing credited twice.
		assert.Equal(t, iso.RCApproved, c.mustSend(c.reversalOf(auth, false, nil)).ResponseCode)
		adv := c.reversalOf(auth, true, nil)
		assert.Equal(t, iso.RCApproved, c.mustSend(adv).ResponseCode)
		assert.Equal(t, iso.RCApproved, c.mustSend(iso.Repeat(adv)).ResponseCode)
		assert.Equal(t, before, MustAccount(t, b, visa))
		// A reversed hold cannot be completed.
		assert.Equal(t, iso.RCInvalidTxn, c.mustSend(c.completionOf(auth, "ABC123", 1_000)).ResponseCode)

		// Partial reversal of a purchase: DE95 says what stays.
		p := c.purchase(visa, 9_000)
		require.Equal(t, iso.RCApproved, c.mustSend(p).ResponseCode)
		stays := int64(2_500)
		assert.Equal(t, iso.RCApproved, c.mustSend(c.reversalOf(p, false, &stays)).ResponseCode)
		a := MustAccount(t, b, visa)
		assert.Equal(t, before.Balance-2_500, a.Balance)
		assert.EqualValues(t, 2_500, a.Captured)
		assert.Equal(t, iso.RCApproved, c.mustSend(c.reversalOf(p, true, &stays)).ResponseCode, "same partial reversal again")
		assert.Equal(t, a, MustAccount(t, b, visa))
		tooMuch := int64(9_001)
		assert.Equal(t, iso.RCInvalidAmount, c.mustSend(c.reversalOf(p, false, &tooMuch)).ResponseCode)
		assert.Equal(t, iso.RCApproved, c.mustSend(c.reversalOf(p, false, nil)).ResponseCode, "the rest")
		assert.Equal(t, before, MustAccount(t, b, visa))
	})
}

func TestDuplicateRequest(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		before := MustAccount(t, b, visa)
		p := c.purchase(visa, 3_000)
		r1 := c.mustSend(p)
		require.Equal(t, iso.RCApproved, r1.ResponseCode)
		r2 := c.mustSend(p)
		assert.Equal(t, r1, r2, "the stored answer, re-sent")
		assert.Equal(t, before.Balance-3_000, MustAccount(t, b, visa).Balance, "applied once")

		// Same STAN, RRN and terminal with another amount is not a
		// retransmission.
		other := *p
		other.SetAmount(4_000)
		assert.Equal(t, iso.RCDuplicate, c.mustSend(&other).ResponseCode)
		assert.Equal(t, before.Balance-3_000, MustAccount(t, b, visa).Balance)

		// A declined request is a duplicate too: its answer stays.
		d := c.purchase(lowBalance, 1_000_000)
		assert.Equal(t, iso.RCInsufficientFunds, c.mustSend(d).ResponseCode)
		assert.Equal(t, iso.RCInsufficientFunds, c.mustSend(d).ResponseCode)
	})
}

func TestDeclines(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		cases := []struct {
			name string
			msg  func() *iso.Message
			rc   string
			pan  string // account that must not change
		}{
			{"insufficient funds", func() *iso.Message { return c.auth(lowBalance, 100_001) }, iso.RCInsufficientFunds, lowBalance},
			{"insufficient funds purchase", func() *iso.Message { return c.purchase(lowBalance, 100_001) }, iso.RCInsufficientFunds, lowBalance},
			{"expired card", func() *iso.Message { return c.auth(expiredCard, 100) }, iso.RCExpiredCard, expiredCard},
			{"expiry mismatch", func() *iso.Message { m := c.auth(visa, 100); m.Expiry = "2912"; return m }, iso.RCExpiredCard, visa},
			{"wrong CVV2 visa", func() *iso.Message { m := c.auth(visa, 100); m.CVV2 = "124"; return m }, "N7", visa},
			{"wrong CVV2 mastercard", func() *iso.Message { m := c.purchase(mastercard, 100); m.CVV2 = "321"; return m }, iso.RCBadCVV2, mastercard},
			{"unknown card", func() *iso.Message { return c.auth("4000000000000010", 100) }, iso.RCInvalidCard, ""},
			{"lost", func() *iso.Message { return c.auth(lostCard, 100) }, iso.RCLostCard, lostCard},
			{"stolen", func() *iso.Message { return c.auth(stolenCard, 100) }, iso.RCStolenCard, stolenCard},
			{"not permitted", func() *iso.Message { return c.auth(notAllowed, 100) }, iso.RCNotPermitted, notAllowed},
			{"restricted", func() *iso.Message { return c.auth(restricted, 100) }, iso.RCRestricted, restricted},
			{"currency mismatch", func() *iso.Message { return c.auth(usdCard, 100) }, iso.RCNotPermitted, usdCard},
			{"zero purchase", func() *iso.Message { return c.purchase(visa, 0) }, iso.RCInvalidAmount, visa},
			{"no PAN", func() *iso.Message { m := c.auth(visa, 100); m.PAN = ""; return m }, iso.RCFormatError, visa},
			{"no amount", func() *iso.Message { m := c.auth(visa, 100); m.HasAmount = false; return m }, iso.RCFormatError, visa},
			{"no terminal", func() *iso.Message { m := c.auth(visa, 100); m.TerminalID = ""; return m }, iso.RCFormatError, visa},
			{"other acquirer", func() *iso.Message { m := c.auth(visa, 100); m.AcquirerID = "999"; return m }, "03", visa},
		}
		for _, tc := range cases {
			var before AccountView
			if tc.pan != "" {
				before = MustAccount(t, b, tc.pan)
			}
			resp := c.mustSend(tc.msg())
			assert.Equal(t, tc.rc, resp.ResponseCode, tc.name)
			assert.Empty(t, resp.ApprovalCode, tc.name)
			if tc.pan != "" {
				assert.Equal(t, before, MustAccount(t, b, tc.pan), tc.name)
			}
		}
	})
}

func TestUnknownOriginal(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		before := MustAccount(t, b, visa)
		never := c.purchase(visa, 5_000) // never sent
		assert.Equal(t, iso.RCOriginalNotFound, c.mustSend(c.reversalOf(never, false, nil)).ResponseCode)
		// An advice is acknowledged with nothing applied so the SAF drains.
		assert.Equal(t, iso.RCApproved, c.mustSend(c.reversalOf(never, true, nil)).ResponseCode)
		assert.Equal(t, iso.RCOriginalNotFound, c.mustSend(c.refundOf(never, 1_000)).ResponseCode)
		neverAuth := c.auth(visa, 5_000)
		assert.Equal(t, iso.RCOriginalNotFound, c.mustSend(c.completionOf(neverAuth, "ABC123", 5_000)).ResponseCode)
		assert.Equal(t, before, MustAccount(t, b, visa))

		// The original exists, but on another card.
		p := c.purchase(visa, 1_000)
		require.Equal(t, iso.RCApproved, c.mustSend(p).ResponseCode)
		wrong := c.refundOf(p, 500)
		wrong.PAN = mastercard
		assert.Equal(t, iso.RCOriginalNotFound, c.mustSend(wrong).ResponseCode)
	})
}

func TestForcedResponseCode(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		b.SetKnobs(Knobs{Rules: []Rule{{AmountSuffix: "51", ResponseCode: iso.RCInsufficientFunds}, {MTI: "0100", PAN: mastercard, ResponseCode: "05"}}})
		before := MustAccount(t, b, visa)
		assert.Equal(t, iso.RCInsufficientFunds, c.mustSend(c.auth(visa, 10_051)).ResponseCode)
		assert.Equal(t, iso.RCApproved, c.mustSend(c.auth(visa, 10_052)).ResponseCode)
		assert.Equal(t, before.Available-10_052, MustAccount(t, b, visa).Available)
		assert.Equal(t, iso.RCDoNotHonour, c.mustSend(c.auth(mastercard, 100)).ResponseCode)
		assert.Equal(t, iso.RCApproved, c.mustSend(c.purchase(mastercard, 100)).ResponseCode)
	})
}

// TestForcedDeclineOfCompletionAdvice: a knob can fail completion advices
// (the bank's 96 to an 0220); nothing is applied, and once the rule is
// gone the SAF's repeat (0221, same STAN) is applied, once.
func TestForcedDeclineOfCompletionAdvice(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		auth := c.auth(visa, 5_000)
		ar := c.mustSend(auth)
		require.Equal(t, iso.RCApproved, ar.ResponseCode)
		held := MustAccount(t, b, visa)

		b.SetKnobs(Knobs{Rules: []Rule{{MTI: iso.MTICompletionAdvice, ResponseCode: iso.RCMalfunction}}})
		comp := c.completionOf(auth, ar.ApprovalCode, 5_000)
		cr := c.mustSend(comp)
		assert.Equal(t, iso.MTICompletionAdviceResponse, cr.MTI)
		assert.Equal(t, iso.RCMalfunction, cr.ResponseCode)
		assert.Equal(t, held, MustAccount(t, b, visa), "nothing applied")

		b.SetKnobs(Knobs{})
		rep := iso.Repeat(comp)
		rr := c.mustSend(rep)
		assert.Equal(t, iso.MTICompletionAdviceResponse, rr.MTI)
		require.Equal(t, iso.RCApproved, rr.ResponseCode, "the repeat is decided afresh")
		a := MustAccount(t, b, visa)
		assert.Zero(t, a.Held)
		assert.Equal(t, held.Captured+5_000, a.Captured)
		assert.Equal(t, held.Balance-5_000, a.Balance)

		// Another repeat is a duplicate of the applied one.
		assert.Equal(t, iso.RCApproved, c.mustSend(rep).ResponseCode)
		assert.Equal(t, iso.RCApproved, c.mustSend(comp).ResponseCode)
		assert.Equal(t, a, MustAccount(t, b, visa), "applied once")
	})
}

func TestLatency(t *testing.T) {
	const latency = 150 * time.Millisecond
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		b.SetKnobs(Knobs{Latency: latency, Jitter: 20 * time.Millisecond})
		start := time.Now()
		assert.Equal(t, iso.RCApproved, c.mustSend(c.network(iso.NetEcho)).ResponseCode)
		assert.Equal(t, iso.RCApproved, c.mustSend(c.auth(visa, 100)).ResponseCode)
		assert.GreaterOrEqual(t, time.Since(start), 2*latency)

		// late: answered after the rule's delay on top of the latency.
		b.SetKnobs(Knobs{Rules: []Rule{{PAN: visa, Action: ActionLate, Delay: 200 * time.Millisecond}}})
		start = time.Now()
		assert.Equal(t, iso.RCApproved, c.mustSend(c.auth(visa, 100)).ResponseCode)
		assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	})
}

func TestJitterAnswersOutOfOrder(t *testing.T) {
	b := MustStartBank(t, "binary", nil)
	c := MustDial(t, b)
	b.SetKnobs(Knobs{Jitter: 100 * time.Millisecond})
	const n = 20
	done := make(chan string, n)
	for range n {
		m := c.auth(visa, 1)
		go func() {
			resp, err := c.send(m)
			if err != nil {
				done <- err.Error()
				return
			}
			done <- resp.ResponseCode
		}()
	}
	for range n {
		assert.Equal(t, iso.RCApproved, <-done)
	}
	assert.Equal(t, n, MustAccount(t, b, visa).Holds)
}

func TestNoReply(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		before := MustAccount(t, b, visa)
		b.SetKnobs(Knobs{Rules: []Rule{{PAN: visa, MTI: iso.MTIAuthorization, Action: ActionNoReply}}})
		auth := c.auth(visa, 2_000)
		_, err := c.send(auth, connection.SendTimeout(200*time.Millisecond))
		require.ErrorIs(t, err, connection.ErrSendTimeout)
		// The bank applied it; only the answer was lost. The switch's
		// reversal advice puts the books right.
		assert.EqualValues(t, 2_000, MustAccount(t, b, visa).Held)
		assert.Equal(t, iso.RCApproved, c.mustSend(c.reversalOf(auth, true, nil)).ResponseCode)
		assert.Equal(t, before, MustAccount(t, b, visa))
	})
}

func TestCloseConnection(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		before := MustAccount(t, b, visa)
		b.SetKnobs(Knobs{Rules: []Rule{{AmountSuffix: "99", Action: ActionClose}}})
		_, err := c.send(c.auth(visa, 199))
		require.ErrorIs(t, err, connection.ErrConnectionClosed)
		c.waitClosed(5 * time.Second)
		assert.Equal(t, before, MustAccount(t, b, visa), "nothing applied")

		// The bank still takes new connections.
		c2 := MustDial(t, b)
		assert.Equal(t, iso.RCApproved, c2.mustSend(c2.auth(visa, 200)).ResponseCode)
	})
}

// A bank that does not echo DE32 (or DE37): the knob drops them from
// every answer, network management included, and the switch's client
// still matches the answers.
func TestOmitKnob(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		b.SetKnobs(Knobs{Omit: []int{32, 37}})
		resp := c.mustSend(c.network(iso.NetSignOn))
		assert.Equal(t, iso.RCApproved, resp.ResponseCode)
		assert.Empty(t, resp.AcquirerID, "0810 without DE32")
		auth := c.auth(visa, 100)
		resp = c.mustSend(auth)
		assert.Equal(t, iso.RCApproved, resp.ResponseCode)
		assert.Empty(t, resp.AcquirerID, "0110 without DE32")
		assert.Empty(t, resp.RRN, "0110 without DE37")
		assert.Equal(t, auth.TerminalID, resp.TerminalID, "what is not omitted is echoed")

		b.SetKnobs(Knobs{})
		assert.Equal(t, acquirer, c.mustSend(c.network(iso.NetEcho)).AcquirerID, "echoed again")
	})
}

func TestManyInFlight(t *testing.T) {
	b := MustStartBank(t, "ascii", nil)
	c := MustDial(t, b)
	const n = 200
	errs := make(chan error, n)
	for range n {
		m := c.auth(visa, 10)
		go func() {
			resp, err := c.send(m)
			if err == nil && resp.ResponseCode != iso.RCApproved {
				err = errors.New("declined " + resp.ResponseCode)
			}
			errs <- err
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	assert.EqualValues(t, n*10, MustAccount(t, b, visa).Held)
}

// TestDialSide plays the switch's listener: the bank dials it, the test
// signs on through the connection and answers the bank's echoes; when the
// switch drops the link the bank dials again.
func TestDialSide(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { ln.Close() })
			codec, err := iso.LoadCodec(d)
			require.NoError(t, err)

			cfg := DefaultConfig()
			cfg.Name, cfg.Dialect, cfg.Listen, cfg.Dial = "dialer-"+d, d, "", ln.Addr().String()
			cfg.AcquirerID = acquirer
			cfg.EchoInterval = 50 * time.Millisecond
			b, err := New(cfg, zerolog.Nop(), nil)
			require.NoError(t, err)
			require.NoError(t, b.Start(t.Context()))
			t.Cleanup(func() { b.Close() })
			assert.Empty(t, b.Addr())

			echoes := make(chan *iso.Message, 16)
			accept := func() *connection.Connection {
				nc, err := ln.Accept()
				require.NoError(t, err)
				conn, err := connection.NewFrom(nc, codec.Spec(), codec.ReadLength, codec.WriteLength,
					connection.SetRequestIDGenerator(iso.MatchKeyGenerator{}),
					connection.InboundMessageHandler(func(c *connection.Connection, im *iso8583.Message) {
						m, err := codec.Parse(im)
						if err != nil || m.MTI != iso.MTINetworkManagement {
							return
						}
						out, _ := codec.Build(iso.Respond(m, iso.RCApproved))
						_ = c.Reply(out)
						select {
						case echoes <- m:
						default:
						}
					}))
				require.NoError(t, err)
				return conn
			}
			conn := accept()
			cl := &client{tb: t, codec: codec, conn: conn, closed: make(chan struct{})}
			resp := cl.mustSend(cl.network(iso.NetSignOn))
			assert.Equal(t, iso.RCApproved, resp.ResponseCode)
			assert.Equal(t, iso.RCApproved, cl.mustSend(cl.auth(visa, 100)).ResponseCode)

			select {
			case e := <-echoes:
				assert.Equal(t, iso.NetEcho, e.NetworkCode)
				assert.Equal(t, acquirer, e.AcquirerID)
			case <-time.After(5 * time.Second):
				t.Fatal("no echo from the bank")
			}

			// The switch drops the link; the bank comes back.
			conn.Close()
			conn2 := accept()
			t.Cleanup(func() { conn2.Close() })
			cl2 := &client{tb: t, codec: codec, conn: conn2, closed: make(chan struct{})}
			cl2.seq.Store(1000)
			assert.Equal(t, iso.RCApproved, cl2.mustSend(cl2.network(iso.NetSignOn)).ResponseCode)
		})
	}
}

func TestStartContextCloses(t *testing.T) {
	cfg := DefaultConfig()
	b, err := New(cfg, zerolog.Nop(), nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, b.Start(ctx))
	require.ErrorIs(t, b.Start(ctx), ErrClosed)
	c := MustDial(t, b)
	cancel()
	c.waitClosed(5 * time.Second)
}

func TestFormatErrorAnswered(t *testing.T) {
	// A message the typed layer rejects (DE3 not digits) is answered 30
	// so the acquirer is not left waiting.
	b := MustStartBank(t, "ascii", nil)
	c := MustDial(t, b)
	im := iso8583.NewMessage(c.codec.Spec())
	im.MTI("0100")
	require.NoError(t, im.Field(3, "ABCDEF"))
	require.NoError(t, im.Field(11, "000777"))
	require.NoError(t, im.Field(41, terminal))
	resp, err := c.conn.Send(im)
	require.NoError(t, err)
	rc, err := resp.GetString(39)
	require.NoError(t, err)
	assert.Equal(t, iso.RCFormatError, rc)
}

// A follow-up must carry what its original carried that the bank finds and
// settles it by: a completion, reversal or refund whose DE90 acquirer id,
// DE32, DE42, DE49 or (but for a refund) DE37 differ is a format error and
// changes nothing.
func TestFollowUpMustMatchItsOriginal(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		auth := c.auth(visa, 10_000)
		resp := c.mustSend(auth)
		require.Equal(t, iso.RCApproved, resp.ResponseCode)
		before := MustAccount(t, b, visa)
		for _, tc := range []struct {
			name string
			edit func(*iso.Message)
		}{
			{"DE90 acquirer", func(m *iso.Message) { o := *m.Original; o.AcquirerID = "999"; m.Original = &o }},
			{"DE32", func(m *iso.Message) { m.AcquirerID = "999" }},
			{"DE42", func(m *iso.Message) { m.MerchantID = "OTHERMERCHANT01" }},
			{"DE49", func(m *iso.Message) { m.Currency = "840" }},
			{"DE37", func(m *iso.Message) { m.RRN = "000000000001" }},
		} {
			// A foreign acquirer or merchant is refused before the books
			// are read (03); the rest is a format error (30).
			comp := c.completionOf(auth, resp.ApprovalCode, 5_000)
			tc.edit(comp)
			assert.Contains(t, []string{iso.RCFormatError, "03"}, c.mustSend(comp).ResponseCode, "completion with another %s", tc.name)
			rev := c.reversalOf(auth, false, nil)
			tc.edit(rev)
			assert.Contains(t, []string{iso.RCFormatError, "03"}, c.mustSend(rev).ResponseCode, "reversal with another %s", tc.name)
		}
		assert.Equal(t, before, MustAccount(t, b, visa), "nothing applied")
		require.Equal(t, iso.RCApproved, c.mustSend(c.completionOf(auth, resp.ApprovalCode, 5_000)).ResponseCode, "the matching completion is")
	})
}
