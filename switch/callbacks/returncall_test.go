package callbacks_test

import (
	"context"
	"net/http"
	"net/netip"
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

// TestReturnURLCall: a merchant with a return URL call hears each
// payment's outcome at the order's return URL, the shop's own query kept
// byte for byte and the signed parameters after it; follow-ups it asked
// for itself are not called; a shop page that redirects has been called.
func TestReturnURLCall(t *testing.T) {
	shop := newFakeMerchant(t, func(_ *http.Request, n int) int {
		if n == 1 {
			return http.StatusFound // OpenCart's return page redirects the browser on
		}
		return http.StatusOK
	})
	h := newHarness(t, callbacks.Config{ReturnCalls: map[string]callbacks.ReturnCall{"m1": {Secret: testSecret}}})
	ret := shop.srv.URL + "/index.php?route=payment/processingkz/success&orderID=77&sessionID=TS0000000001"
	with := func(o *order.Order) *order.Order { o.ReturnURL = ret; return o }

	auth := op(order.OpAuthorization, order.OpApproved, 150000)
	h.commit(t, with(mkOrder("m1", orderID(1), true, order.StatusApproved, auth)))
	got := shop.next(t)
	require.Equal(t, http.MethodGet, got.method)
	require.True(t, strings.HasPrefix(got.raw, "route=payment/processingkz/success&orderID=77&sessionID=TS0000000001&"), got.raw)
	require.Equal(t, "TS0000000001", got.params.Get("sessionID"))
	require.Equal(t, "approved", got.params.Get("operation"))
	p := flatAll(got.params)
	for _, k := range []string{"route", "orderID", "sessionID"} {
		delete(p, k)
	}
	require.True(t, callbacks.Verify(p, testSecret), "the parameters are signed")
	require.Equal(t, saf.Delivered, h.nextOutcome(t).out, "a 302 from the shop's page is delivered")

	// The shop's capture and refund are not called back; the next call is
	// the next payment's decline.
	h.commit(t, with(mkOrder("m1", orderID(1), true, order.StatusDeposited, auth, op(order.OpCompletion, order.OpQueued, 100000))))
	h.commit(t, with(mkOrder("m1", orderID(1), true, order.StatusDeposited, auth, op(order.OpRefund, order.OpApproved, 100))))
	h.commit(t, with(mkOrder("m1", orderID(2), true, order.StatusDeclined, op(order.OpAuthorization, order.OpDeclined, 5))))
	got = shop.next(t)
	require.Equal(t, "declined", got.params.Get("operation"))
	require.Equal(t, orderID(2), got.params.Get("mdOrder"))
	h.commit(t, with(mkOrder("m1", orderID(3), true, order.StatusDeclined, op(order.OpExpire, order.OpDeclined, 0))))
	require.Equal(t, "declinedByTimeout", shop.next(t).params.Get("operation"))
}

// TestReturnURLCallBesideCallbacks: a merchant with both gets both, each
// once.
func TestReturnURLCallBesideCallbacks(t *testing.T) {
	cb := newFakeMerchant(t, alwaysOK)
	shop := newFakeMerchant(t, alwaysOK)
	h := newHarness(t, callbacks.Config{Merchants: map[string]callbacks.Target{"m1": cb.target()}, ReturnCalls: map[string]callbacks.ReturnCall{"m1": {Unsigned: true}}})
	o := mkOrder("m1", orderID(1), false, order.StatusDeposited, op(order.OpPurchase, order.OpApproved, 700))
	o.ReturnURL = shop.srv.URL + "/r"
	h.commit(t, o)
	h.commit(t, o)
	require.Equal(t, "deposited", cb.next(t).params.Get("operation"))
	got := shop.next(t)
	require.Equal(t, "deposited", got.params.Get("operation"))
	require.False(t, got.params.Has(callbacks.ParamChecksum), "unsigned")
	require.Equal(t, saf.Delivered, h.nextOutcome(t).out)
	require.Equal(t, saf.Delivered, h.nextOutcome(t).out)
	require.EqualValues(t, 1, cb.count.Load())
	require.EqualValues(t, 1, shop.count.Load())
}

// TestReturnURLCallPublicOnly: with PublicOnly, an address that is not on
// the public internet is never dialled, whatever name led to it.
func TestReturnURLCallPublicOnly(t *testing.T) {
	shop := newFakeMerchant(t, alwaysOK)
	n, err := callbacks.New(callbacks.Config{ReturnCalls: map[string]callbacks.ReturnCall{"m1": {Secret: "s", PublicOnly: true}}}, zerolog.Nop(), nil, nil)
	require.NoError(t, err)
	q := &switchtest.Queue{}
	n.Bind(q)
	db, err := bolt.Open(t.TempDir()+"/tulpar.db", 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	o := mkOrder("m1", orderID(1), false, order.StatusDeposited, op(order.OpPurchase, order.OpApproved, 700))
	o.ReturnURL = strings.Replace(shop.srv.URL, "127.0.0.1", "localhost", 1) + "/r"
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return n.InTx(tx, o, &o.Ops[0]) }))
	out, err := n.Deliver(context.Background(), q.Items()[0], false)
	require.Equal(t, saf.Retry, out)
	require.ErrorIs(t, err, callbacks.ErrNotPublic)
	require.Zero(t, shop.count.Load())

	for addr, public := range map[string]bool{
		"8.8.8.8": true, "2a00:1450::1": true, "127.0.0.1": false, "10.1.2.3": false, "192.168.1.1": false,
		"172.16.0.1": false, "169.254.169.254": false, "100.64.0.1": false, "::1": false, "fe80::1": false,
		"::ffff:127.0.0.1": false, "0.0.0.0": false, "fc00::1": false,
	} {
		require.Equal(t, public, callbacks.PublicAddr(netip.MustParseAddr(addr)), addr)
	}
}

func TestReturnCallConfig(t *testing.T) {
	c := callbacks.Config{ReturnCalls: map[string]callbacks.ReturnCall{"m1": {}}}
	require.ErrorContains(t, c.Validate(), "return call of m1: a secret, or unsigned, and not both")
	c.ReturnCalls["m1"] = callbacks.ReturnCall{Secret: "s", Unsigned: true}
	require.Error(t, c.Validate())
	require.NotContains(t, callbacks.ReturnCall{Secret: "top-secret"}.String(), "top-secret")
}
