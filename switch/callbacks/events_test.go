package callbacks_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/callbacks"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// classify is the whole event table; this test is its negative half (the
// positive half goes end to end in TestEventsReachMerchant).
func TestClassifyNoEvent(t *testing.T) {
	refund := op(order.OpRefund, order.OpTimeout, 10)
	refundRev := op(order.OpAutoReversal, order.OpQueued, 10)
	refundRev.Of = refund.ID
	orphanRev := op(order.OpAutoReversal, order.OpQueued, 10)
	orphanRev.Of = "no-such-op"
	tests := []struct {
		name string
		st   order.Status
		ops  []order.Operation
	}{
		{"authorization pending", order.StatusRegistered, ops(op(order.OpAuthorization, order.OpPending, 1))},
		{"purchase pending", order.StatusRegistered, ops(op(order.OpPurchase, order.OpPending, 1))},
		// Declined by one bank, failing over to the next: not the order's outcome.
		{"purchase declined, order not declined", order.StatusRegistered, ops(op(order.OpPurchase, order.OpDeclined, 1))},
		{"completion declined by the bank", order.StatusDeposited, ops(op(order.OpCompletion, order.OpDeclined, 1))},
		{"reversal pending", order.StatusApproved, ops(op(order.OpReversal, order.OpPending, 1))},
		{"reversal declined", order.StatusApproved, ops(op(order.OpReversal, order.OpDeclined, 1))},
		{"refund pending", order.StatusDeposited, ops(op(order.OpRefund, order.OpPending, 1))},
		{"refund declined", order.StatusDeposited, ops(op(order.OpRefund, order.OpDeclined, 1))},
		{"refund timed out", order.StatusDeposited, ops(refund, refundRev)},
		{"auto reversal of nothing known", order.StatusDeclined, ops(orphanRev)},
		{"3-D Secure challenge", order.Status3DS, ops(op(order.OpThreeDS, order.OpPending, 1))},
		{"3-D Secure passed", order.Status3DS, ops(op(order.OpThreeDS, order.OpApproved, 1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mkOrder("m1", orderID(1), false, tt.st, tt.ops...)
			ev, ok := callbacks.Classify(o, &o.Ops[len(o.Ops)-1])
			require.False(t, ok, "got %+v", ev)
		})
	}
}

func ops(o ...order.Operation) []order.Operation { return o }
