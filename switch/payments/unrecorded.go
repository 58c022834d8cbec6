package payments

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/tulpar-switch/tulpar/specs"
	"github.com/tulpar-switch/tulpar/switch/order"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/journal"
)

// ErrStorage is wrapped when the journal could not make a change durable
// (disk full, I/O error). Nothing the change reports is done: the merchant
// is told "temporarily unavailable" and may retry. Whatever the bank did
// meanwhile is kept in memory and settled once the journal writes again
// (ResolveUnrecorded), or by Recover after a restart.
var ErrStorage = errors.New("temporarily unavailable: the journal cannot write")

// ErrInProgress is wrapped when an order has an exchange whose outcome is
// not recorded yet: a new operation on it must wait, and a repeated one
// must not be sent again.
var ErrInProgress = errors.New("an operation on this order is in progress")

// detach is the context a flow runs on: the caller's values, none of its
// cancellation. Once a message may leave for the bank, the exchange must
// run to an outcome that is journaled, on the switch's own deadlines (the
// exchange timeout, the journal's commit); a merchant hanging up must not
// cut it short between the bank's answer and its record.
func detach(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// unrecorded is what the switch knows of an order's exchanges whose outcome
// it could not journal: the bank's answer per operation, and the operations
// that provably never left. It lives in memory only; a crash loses it, and
// then Recover treats those exchanges as unanswered, which reverses them
// just the same.
type unrecorded struct {
	answers map[string]*iso.Message
	notSent map[string]bool
}

// keepUnrecorded remembers, for an order whose change could not be
// committed, the bank's answers and the operations never sent, so that
// ResolveUnrecorded can settle them once the journal writes again.
func (s *Service) keepUnrecorded(orderID string, answers map[string]*iso.Message, notSent ...string) {
	s.limboMu.Lock()
	defer s.limboMu.Unlock()
	u := s.limbo[orderID]
	if u == nil {
		u = &unrecorded{answers: map[string]*iso.Message{}, notSent: map[string]bool{}}
		s.limbo[orderID] = u
	}
	for id, m := range answers {
		u.answers[id] = m
	}
	for _, id := range notSent {
		u.notSent[id] = true
	}
	s.d.Log.Error().Str("order", orderID).Int("answers", len(answers)).
		Msg("outcome not journaled: kept in memory, settled when the journal writes again")
}

// Unrecorded counts the orders with exchanges whose outcome waits for the
// journal.
func (s *Service) Unrecorded() int {
	s.limboMu.Lock()
	defer s.limboMu.Unlock()
	return len(s.limbo)
}

// ResolveUnrecorded settles every exchange whose outcome the journal could
// not take when it happened, and returns how many orders still wait. The
// merchant was answered "temporarily unavailable" for each, so none of them
// may stand as done: an approval is recorded as the bank gave it and
// reversed through store-and-forward, a decline is recorded, an unanswered
// exchange is reversed; a merchant's cancel that the bank approved stands
// (releasing a hold is what was asked). The daemon calls it while any wait
// and the journal is healthy.
func (s *Service) ResolveUnrecorded(ctx context.Context) (int, error) {
	s.limboMu.Lock()
	ids := make([]string, 0, len(s.limbo))
	for id := range s.limbo {
		ids = append(ids, id)
	}
	s.limboMu.Unlock()
	sort.Strings(ids)
	var errs []error
	for _, id := range ids {
		s.limboMu.Lock()
		u := s.limbo[id]
		s.limboMu.Unlock()
		if err := s.resolveOrder(ctx, id, u); err != nil {
			errs = append(errs, fmt.Errorf("payments: settle order %s: %w", id, err))
			continue
		}
		s.limboMu.Lock()
		if s.limbo[id] == u {
			delete(s.limbo, id)
		}
		s.limboMu.Unlock()
	}
	return s.Unrecorded(), errors.Join(errs...)
}

// Recover finishes what a crash interrupted: every exchange recorded as
// pending (written ahead, outcome never recorded) is settled as
// ResolveUnrecorded settles one with no answer known. The daemon calls it
// once at start, before accepting requests.
func (s *Service) Recover(ctx context.Context) (int, error) {
	ids, err := s.store.pendingIDs()
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		s.limboMu.Lock()
		u := s.limbo[id]
		s.limboMu.Unlock()
		if err := s.resolveOrder(ctx, id, u); err != nil {
			return 0, fmt.Errorf("payments: recover order %s: %w", id, err)
		}
	}
	return len(ids), nil
}

// resolveOrder settles each pending operation of an order on its own, in
// one commit, never changing what the bank already approved and recorded:
//   - an authorization or purchase: its answer is recorded, and an
//     approval reversed (the merchant never heard it); no answer known, it
//     is reversed as an unanswered exchange; the order is declined;
//   - a refund: the same, the order's captured amount untouched;
//   - a merchant's cancel: an approval stands, a decline is recorded, and
//     without an answer the cancel stands and its 0420 is queued;
//   - a completion (an advice: recorded queued before it is sent, so only
//     a future flow that sends it online could leave it pending): queued
//     again as its 0220.
func (s *Service) resolveOrder(ctx context.Context, id string, u *unrecorded) error {
	unlock := s.locks.Lock(id)
	defer unlock()
	o, err := s.store.Get(id)
	if err != nil {
		return err
	}
	n := o.Clone()
	var pending []string
	for _, op := range n.Ops {
		if op.Status == order.OpPending && op.Type != order.OpThreeDS {
			pending = append(pending, op.ID)
		}
	}
	if len(pending) == 0 {
		// A pending 3-D Secure step is the buyer's, not the bank's: it
		// expires with the order.
		return nil
	}
	var pan string
	if n.Card != nil {
		if pan, err = s.d.Vault.DecryptPAN(ctx, n.Card.Ciphertext); err != nil {
			return err
		}
	}
	var entries []journal.Entry
	var items []queued
	for _, opID := range pending {
		op := n.Op(opID)
		var resp *iso.Message
		if u != nil {
			resp = u.answers[opID]
			if u.notSent[opID] {
				op.Status, op.ActionCode = order.OpDeclined, order.ActionIssuerDown
				continue
			}
		}
		s.d.Log.Warn().Str("order", id).Str("op", string(op.Type)).Str("bank", op.Bank).Str("stan", op.STAN).
			Bool("answer_known", resp != nil).Msg("settling an exchange whose outcome was not recorded")
		if resp != nil {
			entries = append(entries, s.isoEntry(n, op.Bank, journal.In, resp))
		}
		if q, ok := s.settleUnrecorded(n, op, pan, resp); ok {
			items = append(items, q)
		}
	}
	return s.commit(ctx, change{o: n, prev: o.Version, entries: entries, items: items})
}

// settleUnrecorded applies to n the outcome of one pending operation whose
// answer, if any, is resp; it returns the advice to queue, if one is due.
func (s *Service) settleUnrecorded(n *order.Order, op *order.Operation, pan string, resp *iso.Message) (queued, bool) {
	var approved bool
	if resp != nil {
		op.ResponseCode, op.ApprovalCode = resp.ResponseCode, resp.ApprovalCode
		op.ActionCode = order.ActionForDE39(resp.ResponseCode)
		approved = iso.LookupResponseCode(resp.ResponseCode).Approved
	}
	switch op.Type {
	case order.OpReversal:
		auth := n.Op(op.Of)
		switch {
		case resp != nil && !approved:
			op.Status = order.OpDeclined
			reversalDeclined(n)
			return queued{}, false
		case resp != nil:
			op.Status = order.OpApproved
			order.ApplyCancel(n, op.Amount)
			reversalStands(n, op.ID)
			return queued{}, false
		}
		// Unanswered: the cancel stands, as an advice the bank cannot refuse.
		op.Status, op.ActionCode = order.OpQueued, order.ActionApproved
		adv := s.reversalMessage(n, auth, pan, op.Amount, true, op.STAN)
		order.ApplyCancel(n, op.Amount)
		reversalStands(n, op.ID)
		return queued{op.Bank, op.ID, order.KindReversalAdvice, adv}, true
	case order.OpCompletion:
		auth := n.Op(op.Of)
		op.Status = order.OpQueued
		m := s.stamp(iso.CompletionOf(s.originalMessage(n, auth, pan), auth.ApprovalCode, op.Amount, op.STAN, s.d.Now()), n.Merchant)
		return queued{op.Bank, op.ID, order.KindCompletionAdvice, m}, true
	}
	// An authorization, purchase or refund.
	m := s.originalMessage(n, op, pan)
	if resp == nil {
		return s.timedOut(n, op, m, op.Bank), true
	}
	if !approved {
		op.Status = order.OpDeclined
		if op.Type != order.OpRefund {
			s.decline(n, "declined")
			n.ActionCode = op.ActionCode
		}
		return queued{}, false
	}
	op.Status = order.OpApproved
	if _, got := judge(op.Amount, resp); got != op.Amount {
		op.Requested, op.Amount = op.Amount, got
	}
	rev, msg := s.autoReversal(n, op, m, op.Bank, specs.ReasonDoubt)
	if op.Type != order.OpRefund {
		s.decline(n, "not_recorded")
		n.ActionCode = order.ActionSystemError
	}
	return queued{op.Bank, rev.ID, order.KindReversalAdvice, msg}, true
}
