package demo_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/demo"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// The demo merchant's sales are fiscalized at the demo's own fiscal
// service simulator: a payment's receipt is there, and with the order.
func TestDemoFiscalizesSales(t *testing.T) {
	d := startDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg, err := d.Payments().Register(ctx, payments.RegisterRequest{Merchant: demo.Merchant, Number: "fiscal-1", Amount: 15000,
		Description: "Demo order", ReturnURL: "https://shop.example.kz/ok"})
	require.NoError(t, err)
	id := reg.Order.ID
	_, err = d.Payments().Pay(ctx, payments.PayRequest{OrderID: id, Card: payments.CardInput{PAN: "4444555511113333", Expiry: "3012"},
		NotificationURL: d.URL() + "/pay/" + id + "/3ds"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		o, err := d.Payments().Get(ctx, id)
		require.NoError(t, err)
		return len(o.Fiscal) == 1
	}, 20*time.Second, 5*time.Millisecond, "the sale's fiscal receipt kept with the order")
	rs := d.Fiscal.Receipts()
	require.Len(t, rs, 1)
	require.Equal(t, "150.00", rs[0].Payment[0].Sum)
	require.Equal(t, "Demo order", rs[0].Goods[0].Name)
}
