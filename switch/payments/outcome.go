package payments

import (
	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/specs"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// verdict is what a bank's answer to an authorization or purchase means
// for the order, once its amount is read as well as its code.
type verdict int

const (
	verdictDeclined verdict = iota
	verdictApproved         // approved for the amount asked
	verdictPartial          // DE39 10: approved for less than asked
	verdictMismatch         // approved, for an amount nobody asked
)

// judge reads the answer to a request for asked: the approved amount is
// DE4 of the answer when the bank sent one, else the amount asked. A host
// that approves with another DE4 and a code other than 10 breaks ISO
// 8583:1987; it is reversed, never guessed at.
func judge(asked int64, resp *iso.Message) (verdict, int64) {
	if !iso.LookupResponseCode(resp.ResponseCode).Approved {
		return verdictDeclined, 0
	}
	got := asked
	if resp.HasAmount {
		got = resp.Amount
	}
	switch {
	case got == asked:
		return verdictApproved, got
	case resp.ResponseCode == iso.RCPartialApproval && got > 0 && got < asked:
		return verdictPartial, got
	}
	return verdictMismatch, got
}

// autoReversal appends to n the automatic reversal of op, whose request
// was sent as m, and returns the 0420 that undoes what the bank may hold
// for it: DE4 the amount that may stand (what the bank approved when it
// said, else what was asked), no DE95, so nothing of it stays; reason is
// why, which the bank's dialect spells in DE39 (specs.Reason…).
func (s *Service) autoReversal(n *order.Order, op *order.Operation, m *iso.Message, bank, reason string) (*order.Operation, *iso.Message) {
	orig := *m
	orig.SetAmount(op.Amount)
	rev := s.stamp(iso.ReversalOf(&orig, true, s.stans[bank].Next(), s.d.Now(), nil), n.Merchant)
	rev.CVV2, rev.ThreeDS, rev.ResponseCode = "", nil, s.reversalReason(bank, reason)
	n.Ops = append(n.Ops, order.Operation{
		ID: newOpID(), Type: order.OpAutoReversal, Status: order.OpQueued, Amount: op.Amount, Time: s.d.Now().UTC(), Bank: bank,
		MTI: rev.MTI, STAN: rev.STAN, RRN: rev.RRN, DE7: rev.TransmissionTime, TerminalID: op.TerminalID,
		MerchantID: op.MerchantID, Of: op.ID,
	})
	return &n.Ops[len(n.Ops)-1], rev
}

// reversalReason is the DE39 bank's dialect gives reason (specs.Reason…).
func (s *Service) reversalReason(bank, reason string) string {
	if c, ok := s.d.Banks.Codec(bank); ok {
		return c.Dialect().ReversalReason(reason)
	}
	return specs.DefaultReversalReasons[reason]
}

// decline records a declined payment attempt of n: the buyer may try again
// while the merchant's attempts last and the reason allows (an expired
// order, or one the merchant declined, is over).
func (s *Service) decline(n *order.Order, reason string) {
	max := s.merchants[n.Merchant].MaxAttempts
	if max == 0 {
		max = DefaultMaxAttempts
	}
	retry := n.Attempts < max && reason != "expired" && reason != "merchant_declined"
	order.ApplyDecline(n, reason, retry)
}
