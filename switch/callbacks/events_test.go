package callbacks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/payments"
)

// classify is the whole event table; this test is its negative half (the
// positive half goes end to end in TestEventsReachMerchant).
func TestClassifyNoEvent(t *testing.T) {
	refund := op(payments.OpRefund, payments.OpTimeout, 10)
	refundRev := op(payments.OpAutoReversal, payments.OpQueued, 10)
	refundRev.Of = refund.ID
	orphanRev := op(payments.OpAutoReversal, payments.OpQueued, 10)
	orphanRev.Of = "no-such-op"
	tests := []struct {
		name string
		st   payments.Status
		ops  []payments.Operation
	}{
		{"authorization pending", payments.StatusRegistered, ops(op(payments.OpAuthorization, payments.OpPending, 1))},
		{"purchase pending", payments.StatusRegistered, ops(op(payments.OpPurchase, payments.OpPending, 1))},
		// Declined by one bank, failing over to the next: not the order's outcome.
		{"purchase declined, order not declined", payments.StatusRegistered, ops(op(payments.OpPurchase, payments.OpDeclined, 1))},
		{"completion declined by the bank", payments.StatusDeposited, ops(op(payments.OpCompletion, payments.OpDeclined, 1))},
		{"reversal pending", payments.StatusApproved, ops(op(payments.OpReversal, payments.OpPending, 1))},
		{"reversal declined", payments.StatusApproved, ops(op(payments.OpReversal, payments.OpDeclined, 1))},
		{"refund pending", payments.StatusDeposited, ops(op(payments.OpRefund, payments.OpPending, 1))},
		{"refund declined", payments.StatusDeposited, ops(op(payments.OpRefund, payments.OpDeclined, 1))},
		{"refund timed out", payments.StatusDeposited, ops(refund, refundRev)},
		{"auto reversal of nothing known", payments.StatusDeclined, ops(orphanRev)},
		{"3-D Secure challenge", payments.Status3DS, ops(op(payments.OpThreeDS, payments.OpPending, 1))},
		{"3-D Secure passed", payments.Status3DS, ops(op(payments.OpThreeDS, payments.OpApproved, 1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := order("m1", orderID(1), false, tt.st, tt.ops...)
			ev, ok := classify(o, &o.Ops[len(o.Ops)-1])
			require.False(t, ok, "got %+v", ev)
		})
	}
}

func ops(o ...payments.Operation) []payments.Operation { return o }
