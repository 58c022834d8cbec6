package demo_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/callbacks"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/demo"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// TestCallbacksReachTheMerchant: a merchant's server that fails once gets
// the signed callback again until it answers 200, for a payment made
// through the whole switch.
func TestCallbacksReachTheMerchant(t *testing.T) {
	const secret = "merchant-callback-secret"
	got := make(chan url.Values, 16)
	var attempts atomic.Int32
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		got <- r.URL.Query()
	}))
	defer shop.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Log: zerolog.Nop(),
		Configure: func(c *daemon.Config) {
			c.API.Merchants[0].CallbackURL, c.API.Merchants[0].CallbackSecret = shop.URL+"/cb", secret
			c.API.Merchants[0].CallbackAllowPrivate = true // the shop is on loopback
			c.SAF.RetryMin, c.SAF.RetryMax = 10*time.Millisecond, 50*time.Millisecond
		}})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close(context.Background()) })
	require.NoError(t, d.WaitReady(ctx))

	reg, err := d.Payments().Register(ctx, payments.RegisterRequest{Merchant: demo.Merchant, Number: "cb-1", Amount: 5000, ReturnURL: "https://shop.example.kz/ok"})
	require.NoError(t, err)
	o := reg.Order
	_, err = d.Payments().Pay(ctx, payments.PayRequest{OrderID: o.ID, Card: payments.CardInput{PAN: "4444555511113333", Expiry: "3012"},
		NotificationURL: d.URL() + "/pay/" + o.ID + "/3ds"})
	require.NoError(t, err)

	select {
	case q := <-got:
		require.Equal(t, o.ID, q.Get("mdOrder"))
		require.Equal(t, "cb-1", q.Get("orderNumber"))
		require.Equal(t, "deposited", q.Get("operation"))
		require.Equal(t, "1", q.Get("status"))
		params := map[string]string{}
		for k := range q {
			params[k] = q.Get(k)
		}
		require.True(t, callbacks.Verify(params, secret), "checksum verifies with the merchant's secret")
		require.NotContains(t, q.Encode(), "4444555511113333")
	case <-ctx.Done():
		t.Fatal("no callback reached the merchant")
	}
	require.GreaterOrEqual(t, attempts.Load(), int32(2), "the failed attempt was retried")

	// Each attempt is journaled: what went out, and what the merchant said.
	require.Eventually(t, func() bool {
		entries, err := d.Journal().ByOrder(o.ID)
		require.NoError(t, err)
		var out, ok200 int
		for _, e := range entries {
			if e.Channel != order.ChannelCallback {
				continue
			}
			if e.Direction == journal.Out {
				out++
			} else if strings.Contains(string(e.Payload), `"http_status":200`) {
				ok200++
			}
		}
		return out >= 2 && ok200 == 1
	}, 10*time.Second, 5*time.Millisecond, "callback attempts journaled")
}
