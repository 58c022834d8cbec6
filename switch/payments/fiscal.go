package payments

import (
	"context"
	"fmt"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// RecordFiscal keeps a fiscal receipt the fiscal service issued for one of
// the order's operations (switch/fiscal delivers them) with the order, in
// an order change of its own: the journal's state entry carries it, so a
// replay sees it. A receipt the order already holds (the same external id:
// an attempt whose outcome was recorded but not acknowledged) is a replay
// and writes nothing.
func (s *Service) RecordFiscal(ctx context.Context, orderID string, r order.FiscalReceipt) error {
	ctx = detach(ctx)
	unlock := s.locks.Lock(orderID)
	defer unlock()
	o, err := s.store.Get(orderID)
	if err != nil {
		return err
	}
	if o.FiscalFor(r.ExternalID) != nil {
		return nil
	}
	if r.OpID != "" && o.Op(r.OpID) == nil {
		return fmt.Errorf("payments: order %s: fiscal receipt %s for an operation the order does not have", orderID, r.ExternalID)
	}
	n := o.Clone()
	n.Fiscal = append(n.Fiscal, r)
	return s.commit(ctx, change{o: n, prev: o.Version})
}
