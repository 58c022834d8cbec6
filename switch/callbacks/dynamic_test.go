package callbacks_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/callbacks"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/saf"
)

// TestOrderCallbackURL: an order with its own callback address has its
// callbacks sent there, with the merchant's method and secret; the
// merchant's configured URL hears nothing of it, and other orders go on
// reaching the configured URL.
func TestOrderCallbackURL(t *testing.T) {
	configured := newFakeMerchant(t, alwaysOK)
	own := newFakeMerchant(t, alwaysOK)
	target := configured.target()
	target.Method = http.MethodPost
	h := newHarness(t, callbacks.Config{Merchants: map[string]callbacks.Target{"m1": target}})

	o := mkOrder("m1", orderID(1), false, order.StatusDeposited, op(order.OpPurchase, order.OpApproved, 150000))
	o.CallbackURL = own.srv.URL + "/orders/notify?shop=7"
	h.commit(t, o)
	got := own.next(t)
	require.Equal(t, http.MethodPost, got.method, "the merchant's method")
	require.Equal(t, "deposited", got.params.Get("operation"))
	require.True(t, callbacks.Verify(flatAll(got.params), testSecret), "the merchant's secret")
	require.Equal(t, saf.Delivered, h.nextOutcome(t).out)

	plain := mkOrder("m1", orderID(2), false, order.StatusDeposited, op(order.OpPurchase, order.OpApproved, 1000))
	h.commit(t, plain)
	require.Equal(t, plain.ID, configured.next(t).params.Get("mdOrder"))
	require.Equal(t, saf.Delivered, h.nextOutcome(t).out)
	require.EqualValues(t, 1, configured.count.Load(), "the order with its own address never reached the configured one")
}
