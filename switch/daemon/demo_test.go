package daemon

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/payments"
)

// startDemo runs the whole demo on loopback ports in t.TempDir().
func startDemo(t *testing.T) *Demo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := StartDemo(ctx, DemoOptions{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	require.NoError(t, err)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, d.Close(sctx))
	})
	require.NoError(t, d.WaitReady(ctx))
	return d
}

func TestDemoPaysThroughBothBanks(t *testing.T) {
	d := startDemo(t)
	ctx := context.Background()
	svc := d.Payments()
	for i, pan := range []string{"4111111111111111", "4111111111111111", "4111111111111111", "4111111111111111"} {
		o, err := svc.Register(ctx, payments.RegisterRequest{Merchant: DemoMerchant, Number: "demo-" + string(rune('a'+i)), Amount: 150000, ReturnURL: "https://shop.example.kz/ok"})
		require.NoError(t, err)
		res, err := svc.Pay(ctx, payments.PayRequest{OrderID: o.ID, Card: payments.CardInput{PAN: pan, Expiry: "3012", CVV2: "123", Holder: "TEST"}, NotificationURL: d.URL() + "/pay/" + o.ID + "/3ds"})
		require.NoError(t, err)
		require.Nil(t, res.Challenge)
		require.Equal(t, payments.StatusDeposited, res.Order.Status, "order %d: %+v", i, res.Order.Ops)
	}
	resp, err := http.Get(d.URL() + "/readyz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.NoError(t, d.Journal().Verify(ctx))
}
