package callbacks_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/callbacks"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/saf"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// Every event reaches the merchant with RBS's parameters and a checksum
// the merchant's own implementation accepts; nothing of the card goes.
func TestEventsReachMerchant(t *testing.T) {
	m := newFakeMerchant(t, alwaysOK)
	h := newHarness(t, callbacks.Config{Merchants: map[string]callbacks.Target{"m1": m.target()}})

	auth := op(order.OpAuthorization, order.OpApproved, 150000)
	purchase := op(order.OpPurchase, order.OpApproved, 150000)
	timedOut := op(order.OpPurchase, order.OpTimeout, 150000)
	autoRev := op(order.OpAutoReversal, order.OpQueued, 150000)
	autoRev.Of = timedOut.ID

	tests := []struct {
		name  string
		order *order.Order
		want  map[string]string // without mdOrder and orderNumber, which are the order's
	}{
		{"hold approved", mkOrder("m1", orderID(1), true, order.StatusApproved, auth),
			map[string]string{"operation": "approved", "status": "1", "amount": "150000"}},
		{"purchase approved", mkOrder("m1", orderID(2), false, order.StatusDeposited, purchase),
			map[string]string{"operation": "deposited", "status": "1", "amount": "150000"}},
		{"completion queued", mkOrder("m1", orderID(3), true, order.StatusDeposited, auth, op(order.OpCompletion, order.OpQueued, 120000)),
			map[string]string{"operation": "deposited", "status": "1", "amount": "120000"}},
		{"reversal approved", mkOrder("m1", orderID(4), true, order.StatusReversed, auth, op(order.OpReversal, order.OpApproved, 150000)),
			map[string]string{"operation": "reversed", "status": "1", "amount": "150000"}},
		{"reversal queued", mkOrder("m1", orderID(5), true, order.StatusReversed, auth, op(order.OpReversal, order.OpQueued, 150000)),
			map[string]string{"operation": "reversed", "status": "1", "amount": "150000"}},
		{"partial refund", mkOrder("m1", orderID(6), false, order.StatusDeposited, purchase, op(order.OpRefund, order.OpApproved, 50000)),
			map[string]string{"operation": "refunded", "status": "1", "amount": "50000"}},
		{"hold declined", mkOrder("m1", orderID(7), true, order.StatusDeclined, op(order.OpAuthorization, order.OpDeclined, 150000)),
			map[string]string{"operation": "declined", "status": "0"}},
		{"purchase timed out", mkOrder("m1", orderID(8), false, order.StatusDeclined, timedOut, autoRev),
			map[string]string{"operation": "declined", "status": "0"}},
		{"3-D Secure declined", mkOrder("m1", orderID(9), false, order.StatusDeclined, op(order.OpThreeDS, order.OpDeclined, 150000)),
			map[string]string{"operation": "declined", "status": "0"}},
		{"expired", mkOrder("m1", orderID(10), false, order.StatusDeclined, op(order.OpExpire, order.OpDeclined, 0)),
			map[string]string{"operation": "declinedByTimeout", "status": "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.commit(t, tt.order)
			got := m.next(t)
			require.Equal(t, http.MethodGet, got.method)
			want := with(with(tt.want, "mdOrder", tt.order.ID), "orderNumber", tt.order.Number)
			require.Equal(t, want, flat(got.params))
			require.Equal(t, merchantChecksum(flat(got.params), testSecret), got.params.Get("checksum"))
			require.True(t, callbacks.Verify(flatAll(got.params), testSecret))
			// The exact parameters above already leave no room for the card;
			// this says it plainly.
			for _, card := range []string{"440043", "tok_"} {
				require.NotContains(t, got.raw, card)
			}
			require.Equal(t, saf.Delivered, h.nextOutcome(t).out)
		})
	}
}

// Each event goes once, whatever else commits with the same operation as
// the latest; changes that are no event send nothing. The merchant's queue
// is a FIFO, so a final sentinel proves nothing else was queued.
func TestEachEventOnce(t *testing.T) {
	m := newFakeMerchant(t, alwaysOK)
	h := newHarness(t, callbacks.Config{Merchants: map[string]callbacks.Target{"m1": m.target()}})

	// One-stage: pending, approved, the same state again, a declined refund,
	// then an approved one.
	x := mkOrder("m1", orderID(1), false, order.StatusRegistered, op(order.OpPurchase, order.OpPending, 150000))
	h.commit(t, x)
	x.Ops[0].Status, x.Status = order.OpApproved, order.StatusDeposited
	h.commit(t, x)
	h.commit(t, x)
	x.Ops = append(x.Ops, op(order.OpRefund, order.OpPending, 10000))
	h.commit(t, x)
	x.Ops[1].Status = order.OpDeclined
	h.commit(t, x)
	x.Ops = append(x.Ops, op(order.OpRefund, order.OpApproved, 20000))
	h.commit(t, x)

	// Two-stage: the completion is committed queued, a refund follows, and
	// then the bank's acknowledgement of the completion advice commits with
	// the refund still the latest operation.
	y := mkOrder("m1", orderID(2), true, order.StatusApproved, op(order.OpAuthorization, order.OpApproved, 150000))
	h.commit(t, y)
	y.Ops = append(y.Ops, op(order.OpCompletion, order.OpQueued, 150000))
	y.Status = order.StatusDeposited
	h.commit(t, y)
	y.Ops = append(y.Ops, op(order.OpRefund, order.OpApproved, 150000))
	y.Status = order.StatusRefunded
	h.commit(t, y)
	y.Ops[1].Status = order.OpApproved
	h.commit(t, y)
	// A reversal the bank refused, on another hold: nothing.
	w := mkOrder("m1", orderID(3), true, order.StatusApproved, op(order.OpAuthorization, order.OpApproved, 150000))
	h.commit(t, w)
	w.Ops = append(w.Ops, op(order.OpReversal, order.OpDeclined, 150000))
	h.commit(t, w)
	// A refund that timed out leaves the order deposited: nothing.
	x.Ops = append(x.Ops, op(order.OpRefund, order.OpTimeout, 5000))
	rev := op(order.OpAutoReversal, order.OpQueued, 5000)
	rev.Of = x.Ops[len(x.Ops)-1].ID
	x.Ops = append(x.Ops, rev)
	h.commit(t, x)
	// A merchant without callbacks configured: nothing, no error.
	other := mkOrder("nobody", orderID(4), false, order.StatusDeposited, op(order.OpPurchase, order.OpApproved, 1))
	h.commit(t, other)

	sentinel := mkOrder("m1", orderID(9), false, order.StatusDeclined, op(order.OpExpire, order.OpDeclined, 0))
	h.commit(t, sentinel)

	want := []struct{ order, operation, amount string }{
		{x.ID, "deposited", "150000"},
		{x.ID, "refunded", "20000"},
		{y.ID, "approved", "150000"},
		{y.ID, "deposited", "150000"},
		{y.ID, "refunded", "150000"},
		{w.ID, "approved", "150000"},
		{sentinel.ID, "declinedByTimeout", ""},
	}
	for i, w := range want {
		got := m.next(t)
		require.Equal(t, w.order, got.params.Get("mdOrder"), "callback %d", i+1)
		require.Equal(t, w.operation, got.params.Get("operation"), "callback %d", i+1)
		require.Equal(t, w.amount, got.params.Get("amount"), "callback %d", i+1)
	}
	pending, err := h.q.Pending(callbacks.QueueKey("nobody"))
	require.NoError(t, err)
	require.Empty(t, pending)
}

// 500, 500, then 200: three attempts, delivered once, each attempt the
// same signed callback, one log line per attempt.
func TestRetriesUntil200(t *testing.T) {
	m := newFakeMerchant(t, func(_ *http.Request, n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	h := newHarness(t, callbacks.Config{Merchants: map[string]callbacks.Target{"m1": m.target()}})
	o := mkOrder("m1", orderID(1), false, order.StatusDeposited, op(order.OpPurchase, order.OpApproved, 150000))
	h.commit(t, o)

	var raws []string
	for _, want := range []saf.Outcome{saf.Retry, saf.Retry, saf.Delivered} {
		got := m.next(t)
		require.True(t, callbacks.Verify(flatAll(got.params), testSecret))
		raws = append(raws, got.raw)
		require.Equal(t, want, h.nextOutcome(t).out)
	}
	require.Equal(t, raws[0], raws[1])
	require.Equal(t, raws[0], raws[2])

	require.Equal(t, 2.0, h.sentCount(t, "m1", "retry"))
	require.Equal(t, 1.0, h.sentCount(t, "m1", "delivered"))
	h.stop(t) // records the last outcome; nothing is in flight any more
	require.Equal(t, int32(3), m.count.Load(), "attempts")

	var lines []string
	for _, l := range h.logs.Lines() {
		if strings.Contains(l, `"message":"callback"`) {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 3)
	for i, l := range lines {
		for _, f := range []string{`"merchant":"m1"`, `"order":"` + o.ID + `"`, `"operation":"deposited"`} {
			require.Contains(t, l, f, "line %d", i+1)
		}
		want := `"http_status":500`
		if i == 2 {
			want = `"http_status":200`
		}
		require.Contains(t, l, want, "line %d", i+1)
		require.NotContains(t, l, "checksum")
	}

	db, err := bolt.Open(h.path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("saf.pending")).Bucket([]byte(callbacks.QueueKey("m1")))
		if b != nil {
			if k, _ := b.Cursor().First(); k != nil {
				return errors.New("callback still pending after delivery")
			}
		}
		return nil
	}))
}

// A merchant that is down when the switch stops hears the callback after
// the switch starts again on the same file.
func TestDeliveredAfterRestart(t *testing.T) {
	// Reserve a port, then free it: connecting is refused until the
	// merchant starts listening there again.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	cfg := callbacks.Config{Merchants: map[string]callbacks.Target{"m1": {URL: "http://" + addr + "/callback", Secret: testSecret, AllowPrivate: true}}}

	path := t.TempDir() + "/tulpar.db"
	h := startHarness(t, path, cfg)
	o := mkOrder("m1", orderID(1), true, order.StatusApproved, op(order.OpAuthorization, order.OpApproved, 150000))
	h.commit(t, o)
	first := h.nextOutcome(t)
	require.Equal(t, saf.Retry, first.out)
	require.Error(t, first.err)
	h.stop(t) // the process "dies"

	l, err = net.Listen("tcp", addr)
	require.NoError(t, err, "the merchant comes back on its port %s", addr)
	m := &fakeMerchant{reqs: make(chan received, 10), status: alwaysOK}
	m.srv = httptest.NewUnstartedServer(http.HandlerFunc(m.serve))
	m.srv.Listener.Close()
	m.srv.Listener = l
	m.srv.Start()
	t.Cleanup(m.srv.Close)

	h2 := startHarness(t, path, cfg)
	got := m.next(t)
	require.Equal(t, o.ID, got.params.Get("mdOrder"))
	require.Equal(t, "approved", got.params.Get("operation"))
	require.True(t, callbacks.Verify(flatAll(got.params), testSecret))
	require.Equal(t, saf.Delivered, h2.nextOutcome(t).out)
}

// A change whose transaction rolls back queues nothing and remembers
// nothing: the same change committed later is sent, once.
func TestRolledBackChangeSendsNothing(t *testing.T) {
	m := newFakeMerchant(t, alwaysOK)
	h := newHarness(t, callbacks.Config{Merchants: map[string]callbacks.Target{"m1": m.target()}})

	r := mkOrder("m1", orderID(1), false, order.StatusDeclined, op(order.OpPurchase, order.OpDeclined, 150000))
	boom := errors.New("journal write failed")
	err := h.db.Update(func(tx *bolt.Tx) error {
		require.NoError(t, h.n.InTx(tx, r, &r.Ops[0]))
		return boom
	})
	require.ErrorIs(t, err, boom)
	pending, err := h.q.Pending(callbacks.QueueKey("m1"))
	require.NoError(t, err)
	require.Empty(t, pending)

	s := mkOrder("m1", orderID(2), false, order.StatusDeposited, op(order.OpPurchase, order.OpApproved, 150000))
	h.commit(t, s)
	require.Equal(t, s.ID, m.next(t).params.Get("mdOrder"), "the rolled-back callback went first")

	h.commit(t, r)
	got := m.next(t)
	require.Equal(t, r.ID, got.params.Get("mdOrder"))
	require.Equal(t, "declined", got.params.Get("operation"))
}

// A merchant that takes its time does not delay another merchant.
func TestSlowMerchantDoesNotBlockOthers(t *testing.T) {
	release := make(chan struct{})
	slow := newFakeMerchant(t, func(r *http.Request, _ int) int {
		select {
		case <-release:
			return http.StatusOK
		case <-r.Context().Done():
			return http.StatusServiceUnavailable
		}
	})
	fast := newFakeMerchant(t, alwaysOK)
	h := newHarness(t, callbacks.Config{Merchants: map[string]callbacks.Target{"slow": slow.target(), "fast": fast.target()}})

	h.commit(t, mkOrder("slow", orderID(1), false, order.StatusDeposited, op(order.OpPurchase, order.OpApproved, 1)))
	require.Equal(t, orderID(1), slow.next(t).params.Get("mdOrder")) // the slow merchant now holds the request

	for i := 2; i <= 4; i++ {
		h.commit(t, mkOrder("fast", orderID(i), false, order.StatusDeposited, op(order.OpPurchase, order.OpApproved, 1)))
		require.Equal(t, orderID(i), fast.next(t).params.Get("mdOrder"))
		require.Equal(t, saf.Delivered, h.nextOutcomeFor(t, callbacks.QueueKey("fast")).out)
	}

	close(release)
	require.Equal(t, saf.Delivered, h.nextOutcomeFor(t, callbacks.QueueKey("slow")).out)
}

// InTx wakes the merchant's queue only once the change has committed.
func TestInTxNotifiesAfterCommit(t *testing.T) {
	db, err := bolt.Open(t.TempDir()+"/tulpar.db", 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	n, err := callbacks.New(callbacks.Config{Merchants: map[string]callbacks.Target{"m1": {URL: "https://shop/cb", Secret: "s"}}}, zerolog.Nop(), nil, nil)
	require.NoError(t, err)
	o := mkOrder("m1", orderID(1), false, order.StatusDeposited, op(order.OpPurchase, order.OpApproved, 1))

	require.ErrorIs(t, db.Update(func(tx *bolt.Tx) error { return n.InTx(tx, o, &o.Ops[0]) }), callbacks.ErrNotBound)

	q := &switchtest.Queue{}
	n.Bind(q)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		require.NoError(t, n.InTx(tx, o, &o.Ops[0]))
		require.Empty(t, q.Notified(), "notified before commit")
		return nil
	}))
	require.Equal(t, []string{"callback:m1"}, q.Notified())
	require.Len(t, q.Items(), 1)
	require.Equal(t, order.KindCallback, q.Items()[0].Kind)
	require.Equal(t, o.ID, q.Items()[0].OrderID)
	require.NotContains(t, string(q.Items()[0].Payload), "checksum", "no signature (nor secret) on disk")
}

// Deliver's answers to what the merchant or the item says.
func TestDeliverOutcomes(t *testing.T) {
	post := newFakeMerchant(t, alwaysOK)
	redirect := newFakeMerchant(t, func(*http.Request, int) int { return http.StatusFound })
	noContent := newFakeMerchant(t, func(*http.Request, int) int { return http.StatusNoContent })
	hang := newFakeMerchant(t, func(r *http.Request, _ int) int { <-r.Context().Done(); return http.StatusOK })
	withQuery := newFakeMerchant(t, alwaysOK)
	unsigned := newFakeMerchant(t, alwaysOK)

	cfg := callbacks.Config{Merchants: map[string]callbacks.Target{
		"post":      {URL: post.srv.URL, Secret: testSecret, Method: "POST", AllowPrivate: true},
		"redirect":  redirect.target(),
		"nocontent": noContent.target(),
		"hang":      hang.target(),
		"query":     {URL: withQuery.srv.URL + "/cb?shop=7", Secret: testSecret, AllowPrivate: true},
		"unsigned":  {URL: unsigned.srv.URL, Unsigned: true, AllowPrivate: true},
		"gone":      redirect.target(),
	}}
	n, err := callbacks.New(cfg, zerolog.Nop(), nil, nil)
	require.NoError(t, err)
	q := &switchtest.Queue{}
	n.Bind(q)
	db, err := bolt.Open(t.TempDir()+"/tulpar.db", 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	item := func(merchant string) saf.Item {
		o := mkOrder(merchant, orderID(len(q.Items())+1), false, order.StatusDeposited, op(order.OpPurchase, order.OpApproved, 700))
		require.NoError(t, db.Update(func(tx *bolt.Tx) error { return n.InTx(tx, o, &o.Ops[0]) }))
		items := q.Items()
		return items[len(items)-1]
	}
	ctx := context.Background()

	t.Run("POST form", func(t *testing.T) {
		out, err := n.Deliver(ctx, item("post"), false)
		require.NoError(t, err)
		require.Equal(t, saf.Delivered, out)
		got := post.next(t)
		require.Equal(t, http.MethodPost, got.method)
		require.Equal(t, "application/x-www-form-urlencoded", got.header.Get("Content-Type"))
		require.Equal(t, "700", got.params.Get("amount"))
		require.True(t, callbacks.Verify(flatAll(got.params), testSecret))
	})
	t.Run("merchant's own query kept, not signed", func(t *testing.T) {
		out, _ := n.Deliver(ctx, item("query"), false)
		require.Equal(t, saf.Delivered, out)
		got := withQuery.next(t)
		require.Equal(t, "7", got.params.Get("shop"))
		p := flatAll(got.params)
		delete(p, "shop")
		require.True(t, callbacks.Verify(p, testSecret))
	})
	t.Run("unsigned", func(t *testing.T) {
		out, _ := n.Deliver(ctx, item("unsigned"), false)
		require.Equal(t, saf.Delivered, out)
		require.False(t, unsigned.next(t).params.Has("checksum"))
	})
	t.Run("redirect is not followed", func(t *testing.T) {
		out, err := n.Deliver(ctx, item("redirect"), false)
		require.Equal(t, saf.Retry, out)
		require.ErrorContains(t, err, "HTTP 302")
	})
	t.Run("204 is not 200", func(t *testing.T) {
		out, _ := n.Deliver(ctx, item("nocontent"), false)
		require.Equal(t, saf.Retry, out)
	})
	t.Run("attempt cut short", func(t *testing.T) {
		it := item("hang")
		actx, cancel := context.WithCancel(ctx)
		go func() { <-hang.reqs; cancel() }()
		out, err := n.Deliver(actx, it, true)
		require.Equal(t, saf.Retry, out)
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("merchant removed from config", func(t *testing.T) {
		it := item("gone")
		delete(cfg.Merchants, "gone")
		n2, err := callbacks.New(cfg, zerolog.Nop(), nil, nil)
		require.NoError(t, err)
		out, err := n2.Deliver(ctx, it, false)
		require.Equal(t, saf.Rejected, out)
		require.ErrorContains(t, err, "merchant gone has no callback configured")
	})
	t.Run("another kind", func(t *testing.T) {
		it := item("post")
		it.Kind = order.KindReversalAdvice
		out, _ := n.Deliver(ctx, it, false)
		require.Equal(t, saf.Rejected, out)
	})
	t.Run("undecodable", func(t *testing.T) {
		out, _ := n.Deliver(ctx, saf.Item{Kind: order.KindCallback, Payload: []byte("{")}, false)
		require.Equal(t, saf.Rejected, out)
	})
}

// TestCallbacksKeepOffInternalAddresses: a merchant's callbacks, and an
// order's own callback URL, never dial loopback or another non-public
// address unless the merchant's config allows it: a URL a merchant
// controls must not reach into the switch's network.
func TestCallbacksKeepOffInternalAddresses(t *testing.T) {
	shop := newFakeMerchant(t, alwaysOK)
	internal := shop.target()
	internal.AllowPrivate = false
	internal.URL = strings.Replace(internal.URL, "127.0.0.1", "localhost", 1) // a name leading to 127.0.0.1
	n, err := callbacks.New(callbacks.Config{Merchants: map[string]callbacks.Target{"m1": internal}}, zerolog.Nop(), nil, nil)
	require.NoError(t, err)
	q := &switchtest.Queue{}
	n.Bind(q)
	db, err := bolt.Open(t.TempDir()+"/tulpar.db", 0o600, nil)
	require.NoError(t, err)
	defer db.Close()

	o := mkOrder("m1", orderID(1), false, order.StatusDeposited, op(order.OpPurchase, order.OpApproved, 700))
	dyn := mkOrder("m1", orderID(2), false, order.StatusDeposited, op(order.OpPurchase, order.OpApproved, 700))
	dyn.CallbackURL = "http://169.254.169.254/latest/meta-data"
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		if err := n.InTx(tx, o, &o.Ops[0]); err != nil {
			return err
		}
		return n.InTx(tx, dyn, &dyn.Ops[0])
	}))
	require.Len(t, q.Items(), 2)
	for _, it := range q.Items() {
		out, err := n.Deliver(context.Background(), it, false)
		require.Equal(t, saf.Retry, out)
		require.ErrorIs(t, err, callbacks.ErrNotPublic)
	}
	require.Zero(t, shop.count.Load(), "nothing reached the internal address")
}

// TestMerchantTypedURLKeepsOffInternalAddresses: a callback URL the
// merchant set in the cabinet, with no configured target, reaches a
// loopback server only when the operator allowed the merchant that.
func TestMerchantTypedURLKeepsOffInternalAddresses(t *testing.T) {
	for _, allowed := range []bool{false, true} {
		shop := newFakeMerchant(t, alwaysOK)
		// The configured target may reach private addresses; the URL the
		// merchant typed may only if PrivateOK says so.
		configured := callbacks.Target{URL: "https://configured.example.kz/cb", Unsigned: true, AllowPrivate: true}
		n, err := callbacks.New(callbacks.Config{Merchants: map[string]callbacks.Target{"m1": configured}, PrivateOK: map[string]bool{"m1": allowed}}, zerolog.Nop(), nil, nil)
		require.NoError(t, err)
		n.URLs(func(string) string { return shop.srv.URL + "/typed" })
		q := &switchtest.Queue{}
		n.Bind(q)
		db, err := bolt.Open(t.TempDir()+"/tulpar.db", 0o600, nil)
		require.NoError(t, err)
		o := mkOrder("m1", orderID(1), false, order.StatusDeposited, op(order.OpPurchase, order.OpApproved, 700))
		require.NoError(t, db.Update(func(tx *bolt.Tx) error { return n.InTx(tx, o, &o.Ops[0]) }))
		out, err := n.Deliver(context.Background(), q.Items()[0], false)
		if allowed {
			require.NoError(t, err)
			require.Equal(t, saf.Delivered, out)
			require.EqualValues(t, 1, shop.count.Load())
		} else {
			require.ErrorIs(t, err, callbacks.ErrNotPublic)
			require.Zero(t, shop.count.Load())
		}
		require.NoError(t, db.Close())
	}
}
