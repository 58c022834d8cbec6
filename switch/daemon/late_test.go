package daemon_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestLateReplyIsJournaled: a bank that answers after the switch gave up
// has its late answer journaled (never handed to anyone), while the
// payment itself was declined and reversed.
func TestLateReplyIsJournaled(t *testing.T) {
	s := switchtest.Run(t, switchtest.Options{Dialect: "binary", Configure: func(c *daemon.Config) {
		c.Payments.ExchangeTimeout = 200 * time.Millisecond
	}})
	ctx := context.Background()
	s.Knobs(issuersim.Rule{MTI: "0200", Action: "late", Delay: 600 * time.Millisecond})
	reg, err := s.D.Payments().Register(ctx, payments.RegisterRequest{Merchant: switchtest.Merchant, Number: "late-1", Amount: 3100, ReturnURL: "https://x.kz/"})
	require.NoError(t, err)
	o := reg.Order
	res, err := s.D.Payments().Pay(ctx, payments.PayRequest{OrderID: o.ID, Card: payments.CardInput{PAN: switchtest.MC, Expiry: switchtest.Expiry}})
	require.NoError(t, err)
	require.Equal(t, order.StatusDeclined, res.Order.Status)
	require.Equal(t, "timeout", res.Order.DeclineReason)

	s.Eventually(func() bool {
		// With its order: the order's history and replay show it.
		entries, err := s.D.Journal().ByOrder(o.ID)
		require.NoError(t, err)
		for _, e := range entries {
			if e.Channel == order.ChannelLate(switchtest.BankName) && e.MTI == "0210" {
				return true
			}
		}
		return false
	}, "the late 0210 is in the journal, with its order")
	require.Equal(t, order.StatusDeclined, s.Order(o.ID).Status, "a late approval never turns a declined payment into an approved one")
}
