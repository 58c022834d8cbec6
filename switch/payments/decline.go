package payments

import (
	"context"
	"fmt"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// Decline closes an unpaid order at the merchant's request (RBS
// decline.do, the JSON API's cancel of a registered order): it can no
// longer be paid. A lapsed order is expired first (and then refused, as
// already declined), so the record says which of the two ended it. An
// order the merchant declined already is a replay. See
// FollowUpRequest.OnlyWaiting for the conditional form.
func (s *Service) Decline(ctx context.Context, r FollowUpRequest) (*Result, error) {
	ctx = detach(ctx)
	unlock, ok := s.locks.TryLock(r.OrderID)
	switch {
	case !ok && r.OnlyWaiting:
		return nil, fmt.Errorf("payments: order %s: %w", r.OrderID, ErrInProgress)
	case !ok:
		unlock = s.locks.Lock(r.OrderID)
	}
	defer unlock()
	o, err := s.store.Get(r.OrderID)
	if err != nil {
		return nil, err
	}
	if r.Merchant != "" && o.Merchant != r.Merchant {
		return nil, fmt.Errorf("order %q: %w", r.OrderID, order.ErrNotFound)
	}
	rp := newReply(r.Reply)
	if o.Status == order.StatusDeclined && o.DeclineReason == "merchant_declined" {
		return rp.replay(o, o.LastOp(order.OpDecline)), nil
	}
	if o, err = s.expireLocked(ctx, o); err != nil {
		return nil, err
	}
	if r.OnlyWaiting && (o.Status != order.StatusRegistered || o.AtBank()) {
		return nil, fmt.Errorf("payments: order %s is %v, not waiting for its card: %w", r.OrderID, o.Status, ErrInProgress)
	}
	if err := order.CheckDecline(o); err != nil {
		return nil, err
	}
	now := s.d.Now()
	n := o.Clone()
	n.Status, n.DeclineReason, n.ActionCode = order.StatusDeclined, "merchant_declined", order.ActionMerchantDeclined
	if op := n.LastOp(order.OpThreeDS); op != nil && op.Status == order.OpPending {
		op.Status = order.OpDeclined
	}
	n.Ops = append(n.Ops, order.Operation{ID: newOpID(), Type: order.OpDecline, Status: order.OpApproved, Amount: n.Amount, Time: now.UTC(), ActionCode: order.ActionMerchantDeclined})
	s.forgetCVV(r.OrderID)
	if err := s.commit(ctx, change{o: n, prev: o.Version, reply: rp, final: true}); err != nil {
		return nil, err
	}
	return rp.result(n, &n.Ops[len(n.Ops)-1]), nil
}
