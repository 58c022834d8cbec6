package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// TestLateReplyIsJournaled: a bank that answers after the switch gave up
// has its late answer journaled (never handed to anyone), while the
// payment itself was declined and reversed.
func TestLateReplyIsJournaled(t *testing.T) {
	bcfg := issuersim.DefaultConfig()
	bcfg.Name, bcfg.Dialect, bcfg.Listen, bcfg.AcquirerID = crashBank, "binary", "127.0.0.1:0", "400777"
	bank, err := issuersim.New(bcfg, zerolog.Nop(), nil)
	require.NoError(t, err)
	require.NoError(t, bank.Start(context.Background()))
	t.Cleanup(func() { bank.Close() })
	dir := t.TempDir()
	mustKeyFiles(t, dir)
	cfg := crashConfig(dir, bank.Addr())
	cfg.Payments.ExchangeTimeout = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := Start(ctx, cfg, zerolog.Nop())
	require.NoError(t, err)
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	require.NoError(t, d.Links().Get(crashBank).WaitReady(ctx))

	bank.SetKnobs(issuersim.Knobs{Rules: []issuersim.Rule{{MTI: "0200", Action: "late", Delay: 600 * time.Millisecond}}})
	reg, err := d.Payments().Register(ctx, payments.RegisterRequest{Merchant: crashMerchant, Number: "late-1", Amount: 3100, ReturnURL: "https://x.kz/"})
	require.NoError(t, err)
	o := reg.Order
	res, err := d.Payments().Pay(ctx, payments.PayRequest{OrderID: o.ID, Card: payments.CardInput{PAN: crashPAN, Expiry: crashExpiry}})
	require.NoError(t, err)
	require.Equal(t, order.StatusDeclined, res.Order.Status)
	require.Equal(t, "timeout", res.Order.DeclineReason)

	require.Eventually(t, func() bool {
		// With its order: the order's history and replay show it.
		entries, err := d.Journal().ByOrder(o.ID)
		require.NoError(t, err)
		for _, e := range entries {
			if e.Channel == order.ChannelLate(crashBank) && e.MTI == "0210" {
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "the late 0210 is in the journal, with its order")
	got, err := d.Payments().Get(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, order.StatusDeclined, got.Status, "a late approval never turns a declined payment into an approved one")
}
