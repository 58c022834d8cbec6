package payments_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestRegistrationDecisionSurvivesCrash: a switch that dies while the
// reversal of a registration's hold is at the bank (written ahead, outcome
// never recorded) keeps, after the restart, the decision the merchant
// asked for: recovery lets the reversal stand as an advice, and the kept
// card gets its card id. The crash is the data file as it stood then (a
// consistent copy taken while the reversal waited for its answer) opened
// by a second switch with the same keys.
func TestRegistrationDecisionSurvivesCrash(t *testing.T) {
	ctx := context.Background()
	bank := switchtest.StartBank(t, "ascii")
	dirA, dirB := t.TempDir(), t.TempDir()
	a := switchtest.Run(t, switchtest.Options{DataDir: dirA, Bank: bank})
	res, err := a.D.Payments().Register(ctx, payments.RegisterRequest{Merchant: merchant, Number: "reg-crash", Amount: 100, Registration: true,
		ReturnURL: "https://shop.example.kz/ok"})
	require.NoError(t, err)
	paid, err := a.D.Payments().Pay(ctx, payments.PayRequest{OrderID: res.Order.ID, Card: payments.CardInput{PAN: visa, Expiry: visaExp, CVV2: "123"}})
	require.NoError(t, err)
	require.Equal(t, order.StatusApproved, paid.Order.Status)
	id := paid.Order.ID

	bank.SetKnobs(issuersim.Knobs{Rules: []issuersim.Rule{{MTI: "0400", Action: issuersim.ActionNoReply}}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = a.D.Payments().CompleteRegistration(ctx, payments.FollowUpRequest{OrderID: id}, true)
	}()
	require.Eventually(t, func() bool {
		o := a.Order(id)
		return o.Status == order.StatusApproved && o.LastOp(order.OpReversal) != nil && o.LastOp(order.OpReversal).Status == order.OpPending
	}, 10*time.Second, 5*time.Millisecond, "the reversal written ahead")
	written := a.Order(id)
	require.Equal(t, order.RegistrationKept, written.Registration.Deciding, "the decision goes ahead with its reversal")
	require.Empty(t, written.Registration.Status)
	require.NoError(t, a.D.Journal().CopyTo(filepath.Join(dirB, journal.DataFile)))
	entries, err := os.ReadDir(dirA)
	require.NoError(t, err)
	for _, e := range entries {
		if e.Type().IsRegular() && e.Name() != journal.DataFile {
			b, err := os.ReadFile(filepath.Join(dirA, e.Name()))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dirB, e.Name()), b, 0o600))
		}
	}
	<-done // the first switch's own exchange ends (unanswered: its cancel stands)
	bank.SetKnobs(issuersim.Knobs{})

	b := switchtest.Run(t, switchtest.Options{DataDir: dirB, Bank: bank}) // recovers at start
	o := b.Order(id)
	require.Equal(t, order.StatusReversed, o.Status, "the hold is released")
	require.Equal(t, order.RegistrationKept, o.Registration.Status, "the decision the merchant asked for")
	require.Empty(t, o.Registration.Deciding)
	require.NotNil(t, o.Stored, "the kept card has its card id")
	require.Len(t, o.Stored.ID, 36)
	again, err := b.D.Payments().CompleteRegistration(ctx, payments.FollowUpRequest{OrderID: id}, true)
	require.NoError(t, err)
	require.True(t, again.Replay, "the merchant's retry hears the decision")
	b.SAFDrained()
}
