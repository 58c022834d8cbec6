package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/demo"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// TestReconcileTimedOutAuthorization pays through the demo while the bank
// applies the 0100 and never answers it: the switch declines the payment
// and reverses it with an 0420 through store-and-forward, the bank's file
// shows the authorization and its reversal, and tulpar reconcile finds
// the day settled.
func TestReconcileTimedOutAuthorization(t *testing.T) {
	const card = "4444555511113333"
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{DataDir: dir, Listen: "127.0.0.1:0", Log: zerolog.Nop(),
		Configure: func(cfg *daemon.Config) {
			cfg.Payments.ExchangeTimeout = 2 * time.Second
			cfg.Routing = routing.Config{Rules: []routing.RuleConfig{{Name: "all-to-alatau", Banks: []routing.BankConfig{{Name: demo.BankASCII}}}}}
		}})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close(context.Background()) })
	require.NoError(t, d.WaitReady(ctx))
	bank := d.Banks[demo.BankASCII]
	before, _ := bank.Account(card)
	bank.SetKnobs(issuersim.Knobs{Rules: []issuersim.Rule{{PAN: card, MTI: iso.MTIAuthorization, Action: issuersim.ActionNoReply}}})

	svc := d.Payments()
	reg, err := svc.Register(ctx, payments.RegisterRequest{Merchant: demo.Merchant, Number: "lost-answer", Amount: 25000,
		TwoStage: true, ReturnURL: "https://shop.example.kz/ok"})
	require.NoError(t, err)
	o := reg.Order
	res, err := svc.Pay(ctx, payments.PayRequest{OrderID: o.ID, Card: payments.CardInput{PAN: card, Expiry: "3012"},
		NotificationURL: d.URL() + "/pay/" + o.ID + "/3ds"})
	require.NoError(t, err)
	require.True(t, res.Order.AttemptDeclined(), "declined for the shop (the demo merchant allows another attempt)")
	auth := res.Order.Ops[len(res.Order.Ops)-2]
	require.Equal(t, order.OpTimeout, auth.Status)
	require.Equal(t, order.OpAutoReversal, res.Order.Ops[len(res.Order.Ops)-1].Type)

	require.Eventually(t, func() bool {
		o, err := svc.Get(ctx, o.ID)
		require.NoError(t, err)
		return o.Ops[len(o.Ops)-1].Status == order.OpApproved
	}, 20*time.Second, 10*time.Millisecond, "the 0420 delivered")
	after, _ := bank.Account(card)
	require.Equal(t, before.Held, after.Held, "the bank released the hold it applied")

	day := auth.Time.UTC().Format(time.DateOnly)
	settlement := filepath.Join(t.TempDir(), "settlement.csv")
	f, err := os.Create(settlement)
	require.NoError(t, err)
	require.NoError(t, bank.WriteSettlement(f, auth.Time.UTC()))
	require.NoError(t, f.Close())
	require.NoError(t, d.Close(ctx))

	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"reconcile", "--data", dir, "--bank", demo.BankASCII,
		"--settlement", settlement, "--date", day, "--quiet"}, &out, &errOut)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	require.Contains(t, out.String(), "OK: bank "+demo.BankASCII)
	require.Contains(t, out.String(), "2 settlement rows")
	require.Contains(t, out.String(), "settled: A authorization 25000")
	require.Contains(t, out.String(), "settled: R auto_reversal 25000")
}
