package payments

import (
	"context"
	"fmt"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// ParamsRequest adds a merchant's own parameters to an order (RBS
// addParams.do): names and values the merchant reads back in the order's
// status, which change nothing of its payment.
type ParamsRequest struct {
	OrderID string
	// Merchant, when set, must own the order (else order.ErrNotFound).
	Merchant string
	// Params are added; a name the order has already takes the new value.
	Params map[string]string
	// Max, when positive, bounds how many parameters the order may hold
	// with these added.
	Max   int
	Reply Reply
}

// AddParams adds parameters to an order in any state. Parameters the
// order already holds with the same values are a replay: nothing is
// written.
func (s *Service) AddParams(ctx context.Context, r ParamsRequest) (*Result, error) {
	ctx = detach(ctx)
	unlock := s.locks.Lock(r.OrderID)
	defer unlock()
	o, err := s.store.Get(r.OrderID)
	if err != nil {
		return nil, err
	}
	if r.Merchant != "" && o.Merchant != r.Merchant {
		return nil, fmt.Errorf("order %q: %w", r.OrderID, order.ErrNotFound)
	}
	rp := newReply(r.Reply)
	n := o.Clone()
	if n.Params == nil {
		n.Params = make(map[string]string, len(r.Params))
	}
	same := true
	for k, v := range r.Params {
		if old, ok := n.Params[k]; !ok || old != v {
			same = false
		}
		n.Params[k] = v
	}
	if same {
		return rp.replay(o, nil), nil
	}
	if r.Max > 0 && len(n.Params) > r.Max {
		return nil, &order.InputError{Field: "params", Reason: fmt.Sprintf("the order would hold %d parameters, at most %d", len(n.Params), r.Max)}
	}
	if err := s.commit(ctx, change{o: n, prev: o.Version, reply: rp, final: true}); err != nil {
		return nil, err
	}
	return rp.result(n, nil), nil
}
