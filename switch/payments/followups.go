package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tulpar-switch/tulpar/switch/order"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/saf"
)

// FollowUpRequest is a merchant's completion, cancel or refund.
type FollowUpRequest struct {
	OrderID string
	// Amount in minor units; 0 means "all that is available" for a
	// completion. Ignored for a cancel.
	Amount int64
	// IdemKey makes the request idempotent (externalRefundId, the JSON
	// API's Idempotency-Key): the same key answers the first answer.
	IdemKey string
	// ExpectedDeposited, when set, must equal the order's captured amount
	// minus refunds, or the refund is refused (guards parallel refunds).
	ExpectedDeposited *int64
	Journal           []journal.Entry
}

// ErrBankRefused is wrapped when the bank declined a follow-up.
var ErrBankRefused = errors.New("bank declined the operation")

// ErrUnavailable is wrapped when the original bank cannot be reached and
// the operation cannot be queued.
var ErrUnavailable = errors.New("bank unavailable")

// Complete captures a hold: a 0220 completion advice, queued durably in
// store-and-forward, so the merchant's capture stands once accepted; the
// bank releases whatever of the hold is not captured.
func (s *Service) Complete(ctx context.Context, r FollowUpRequest) (*order.Order, *order.Operation, error) {
	ctx = detach(ctx)
	var amount int64
	check := func(o *order.Order) error {
		if amount = r.Amount; amount == 0 {
			amount = o.Approved
		}
		return order.CheckComplete(o, amount)
	}
	return s.followUp(ctx, r, order.OpCompletion, check, func(o, n *order.Order, pan string) (*order.Order, *order.Operation, error) {
		return s.complete(ctx, r, o, n, pan, amount)
	})
}

func (s *Service) complete(ctx context.Context, r FollowUpRequest, o, n *order.Order, pan string, amount int64) (*order.Order, *order.Operation, error) {
	auth := o.AuthOp()
	m := iso.CompletionOf(s.originalMessage(n, auth, pan), auth.ApprovalCode, amount, s.stans[auth.Bank].Next(), s.d.Now())
	op := order.Operation{
		ID: newOpID(), Type: order.OpCompletion, Status: order.OpQueued, Amount: amount, Time: s.d.Now().UTC(), Bank: auth.Bank,
		MTI: m.MTI, STAN: m.STAN, RRN: m.RRN, DE7: m.TransmissionTime, ApprovalCode: auth.ApprovalCode,
		TerminalID: auth.TerminalID, MerchantID: auth.MerchantID, IdemKey: r.IdemKey, Of: auth.ID, ActionCode: order.ActionApproved,
	}
	n.Ops = append(n.Ops, op)
	order.ApplyCompletion(n, amount)
	n.ActionCode = order.ActionApproved
	if err := s.commitQueued(ctx, n, o.Version, r.Journal, queued{auth.Bank, op.ID, order.KindCompletionAdvice, m}); err != nil {
		return nil, nil, err
	}
	return n, n.Op(op.ID), nil
}

// Cancel reverses a hold with an 0400: all of what is held when r.Amount
// is 0 or all of it, else r.Amount of it, the ISO 8583:1987 way (DE4 the
// original amount, DE95 what stays held), leaving the rest approved. When
// the bank cannot be reached or does not answer, the cancel still stands:
// an 0420 reversal advice is queued and store-and-forward delivers it.
func (s *Service) Cancel(ctx context.Context, r FollowUpRequest) (*order.Order, *order.Operation, error) {
	ctx = detach(ctx)
	check := func(o *order.Order) error { return order.CheckCancel(o, r.Amount) }
	return s.followUp(ctx, r, order.OpReversal, check, func(o, n *order.Order, pan string) (*order.Order, *order.Operation, error) {
		return s.cancel(ctx, r, o, n, pan)
	})
}

func (s *Service) cancel(ctx context.Context, r FollowUpRequest, o, n *order.Order, pan string) (*order.Order, *order.Operation, error) {
	auth := o.AuthOp()
	amount := r.Amount
	if amount == 0 {
		amount = o.Approved
	}
	m := s.reversalMessage(n, auth, pan, amount, false, s.stans[auth.Bank].Next())
	op := order.Operation{
		ID: newOpID(), Type: order.OpReversal, Status: order.OpPending, Amount: amount, Time: s.d.Now().UTC(), Bank: auth.Bank,
		MTI: m.MTI, STAN: m.STAN, RRN: m.RRN, DE7: m.TransmissionTime, TerminalID: auth.TerminalID,
		MerchantID: auth.MerchantID, IdemKey: r.IdemKey, Of: auth.ID,
	}
	n.Ops = append(n.Ops, op)
	resp, prev, err := s.exchange(ctx, n, o.Version, r.Journal, auth.Bank, m)
	if prev == 0 {
		return nil, nil, err
	}
	p := n.Op(op.ID)
	if err != nil {
		// Not sent or no reply: the reversal must still reach the bank.
		p.Status, p.ActionCode = order.OpQueued, order.ActionApproved
		order.ApplyCancel(n, p.Amount)
		n.ActionCode = order.ActionApproved
		advice := *m
		advice.MTI = iso.MTIReversalAdvice
		if err := s.commitQueued(ctx, n, prev, nil, queued{auth.Bank, op.ID, order.KindReversalAdvice, &advice}); err != nil {
			s.keepUnrecorded(n.ID, nil)
			return nil, nil, err
		}
		return n, n.Op(op.ID), nil
	}
	p.ResponseCode, p.ActionCode = resp.ResponseCode, order.ActionForDE39(resp.ResponseCode)
	entries := []journal.Entry{s.isoEntry(n, auth.Bank, journal.In, resp)}
	approved := iso.LookupResponseCode(resp.ResponseCode).Approved
	p.Status = order.OpDeclined
	if approved {
		p.Status = order.OpApproved
		order.ApplyCancel(n, p.Amount)
		n.ActionCode = order.ActionApproved
	}
	if err := s.commit(ctx, n, prev, entries, nil); err != nil {
		s.keepUnrecorded(n.ID, map[string]*iso.Message{op.ID: resp})
		return nil, nil, err
	}
	if !approved {
		return n, n.Op(op.ID), fmt.Errorf("%w: reversal answered %s", ErrBankRefused, resp.ResponseCode)
	}
	return n, n.Op(op.ID), nil
}

// reversalMessage is the 0400 (or, advice, the 0420) that reverses amount
// of what auth holds: DE4 the original amount, and, when part of the hold
// stays, DE95 with what stays, as ISO 8583:1987 expresses a partial
// reversal. What stays is counted from the order as it was before this
// reversal: n.Approved is what the bank holds now.
func (s *Service) reversalMessage(n *order.Order, auth *order.Operation, pan string, amount int64, advice bool, stan string) *iso.Message {
	var stays *int64
	if rest := n.Approved - amount; rest > 0 {
		stays = &rest
	}
	return iso.ReversalOf(s.originalMessage(n, auth, pan), advice, stan, s.d.Now(), stays)
}

// Refund returns captured money with an 0200, processing code 20, naming
// the capture in DE90. A refund whose outcome is unknown is declined for
// the merchant and reversed through store-and-forward, so it can be asked
// again without paying twice.
func (s *Service) Refund(ctx context.Context, r FollowUpRequest) (*order.Order, *order.Operation, error) {
	ctx = detach(ctx)
	if err := s.awaitCapture(ctx, r.OrderID); err != nil {
		return nil, nil, err
	}
	check := func(o *order.Order) error {
		if r.ExpectedDeposited != nil && *r.ExpectedDeposited != o.Deposited-o.Refunded {
			return &order.InputError{Field: "expectedDepositedAmount", Reason: fmt.Sprintf("is %d, the order has %d refundable", *r.ExpectedDeposited, o.Deposited-o.Refunded)}
		}
		if err := order.CheckRefund(o, r.Amount); err != nil {
			return err
		}
		if bank := o.CaptureOp().Bank; !s.d.Banks.Ready(bank) {
			return fmt.Errorf("%w: %s is not connected; refund later", ErrUnavailable, bank)
		}
		return nil
	}
	return s.followUp(ctx, r, order.OpRefund, check, func(o, n *order.Order, pan string) (*order.Order, *order.Operation, error) {
		return s.refund(ctx, r, o, n, pan)
	})
}

func (s *Service) refund(ctx context.Context, r FollowUpRequest, o, n *order.Order, pan string) (*order.Order, *order.Operation, error) {
	capture := o.CaptureOp()
	bank := capture.Bank
	rrn, err := s.rrns.Next()
	if err != nil {
		return nil, nil, err
	}
	now := s.d.Now()
	orig := s.originalMessage(n, capture, pan)
	m := &iso.Message{
		MTI: iso.MTIFinancial, PAN: pan, ProcessingCode: iso.ProcRefund, STAN: s.stans[bank].Next(),
		Expiry: n.Card.Expiry, MCC: s.merchants[n.Merchant].MCC, POSEntryMode: iso.POSEntryEcommerce,
		POSCondition: iso.POSConditionECom, AcquirerID: s.banks[bank].AcquirerID, RRN: rrn,
		TerminalID: capture.TerminalID, MerchantID: capture.MerchantID, MerchantName: s.de43[n.Merchant],
		Currency: n.Currency, Original: iso.OriginalOf(orig),
	}
	m.SetAmount(r.Amount)
	m.Stamp(now, nil)
	op := order.Operation{
		ID: newOpID(), Type: order.OpRefund, Status: order.OpPending, Amount: r.Amount, Time: now.UTC(), Bank: bank,
		MTI: m.MTI, STAN: m.STAN, RRN: rrn, DE7: m.TransmissionTime, TerminalID: capture.TerminalID,
		MerchantID: capture.MerchantID, IdemKey: r.IdemKey, Of: capture.ID,
	}
	n.Ops = append(n.Ops, op)
	resp, prev, err := s.exchange(ctx, n, o.Version, r.Journal, bank, m)
	if prev == 0 {
		return nil, nil, err
	}
	p := n.Op(op.ID)
	switch {
	case errors.Is(err, links.ErrNotSent):
		p.Status, p.ActionCode = order.OpDeclined, order.ActionIssuerDown
		if err := s.commit(ctx, n, prev, nil, nil); err != nil {
			s.keepUnrecorded(n.ID, nil, op.ID)
			return nil, nil, err
		}
		return n, n.Op(op.ID), fmt.Errorf("%w: %v", ErrUnavailable, err)
	case err != nil:
		id := n.ID
		n, err := s.unknownOutcome(ctx, n, prev, p, m, bank)
		if err != nil {
			s.keepUnrecorded(id, nil)
			return nil, nil, err
		}
		return n, n.Op(op.ID), nil
	}
	p.ResponseCode, p.ApprovalCode, p.ActionCode = resp.ResponseCode, resp.ApprovalCode, order.ActionForDE39(resp.ResponseCode)
	p.Status = order.OpDeclined
	var items []queued
	switch v, amount := judge(r.Amount, resp); v {
	case verdictApproved:
		p.Status = order.OpApproved
		order.ApplyRefund(n, r.Amount)
	case verdictPartial, verdictMismatch:
		// A refund of another amount than asked: undo it, and let the
		// merchant ask again.
		p.Status, p.Requested, p.Amount = order.OpApproved, p.Amount, amount
		s.d.Log.Error().Str("order", n.ID).Str("bank", bank).Str("stan", p.STAN).Str("rc", resp.ResponseCode).
			Int64("asked", r.Amount).Int64("approved", amount).Msg("refund approved for another amount: reversing it")
		rev, msg := s.autoReversal(n, p, m, bank)
		items = append(items, queued{bank, rev.ID, order.KindReversalAdvice, msg})
		p = n.Op(op.ID)
		p.ActionCode = order.ActionAmountMismatch
	}
	if err := s.commitQueued(ctx, n, prev, []journal.Entry{s.isoEntry(n, bank, journal.In, resp)}, items...); err != nil {
		s.keepUnrecorded(n.ID, map[string]*iso.Message{op.ID: resp})
		return nil, nil, err
	}
	return n, n.Op(op.ID), nil
}

// awaitCapture waits until the bank has acknowledged the completion a
// refund refers to. A completion goes as an advice through store-and-
// forward; a refund sent before the advice arrives would find nothing
// captured at the bank and be declined. So the refund waits for the
// advice (nudging the queue), as long as the request's deadline and the
// exchange timeout allow, and otherwise asks the merchant to retry.
func (s *Service) awaitCapture(ctx context.Context, orderID string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ExchangeTimeout)
	defer cancel()
	for {
		changed := s.nextChange(orderID)
		o, err := s.store.Get(orderID)
		if err != nil {
			return err
		}
		c := o.CaptureOp()
		if c == nil || c.Type != order.OpCompletion || c.Status != order.OpQueued {
			return nil
		}
		s.d.SAF.Kick(c.Bank)
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%w: %s has not yet acknowledged the completion; retry the refund later", ErrUnavailable, c.Bank)
		}
	}
}

// followUp runs a follow-up on an order under its lock: a request whose
// idempotency key already ran answers that operation again; check says
// whether the state machine allows it now; run builds and sends it from a
// copy of the order and the card's PAN.
func (s *Service) followUp(ctx context.Context, r FollowUpRequest, t order.OpType, check func(*order.Order) error,
	run func(o, n *order.Order, pan string) (*order.Order, *order.Operation, error)) (*order.Order, *order.Operation, error) {
	unlock := s.locks.lock(r.OrderID)
	defer unlock()
	o, err := s.store.Get(r.OrderID)
	if err != nil {
		return nil, nil, err
	}
	if op := o.FindIdem(t, r.IdemKey); op != nil && op.Status != order.OpPending {
		return o, op, nil
	}
	if o.AtBank() {
		// An earlier exchange's outcome is not recorded yet (the journal
		// could not write it): nothing new may start from a state that
		// is about to change.
		return o, nil, fmt.Errorf("payments: order %s: %w", o.ID, ErrInProgress)
	}
	if err := check(o); err != nil {
		return o, nil, err
	}
	n := o.Clone()
	pan, err := s.d.Vault.DecryptPAN(ctx, n.Card.Ciphertext)
	if err != nil {
		return nil, nil, fmt.Errorf("payments: order %s: card: %w", n.ID, err)
	}
	return run(o, n, pan)
}

// exchange writes n (with its new pending operation) and m ahead, then
// sends m. It returns the version the write produced, 0 when the write
// itself failed (err says why and nothing was sent).
func (s *Service) exchange(ctx context.Context, n *order.Order, prev uint64, pre []journal.Entry, bank string, m *iso.Message) (*iso.Message, uint64, error) {
	// Write-ahead: the exchange is on disk before the message leaves, so
	// recovery can reverse it if the process dies mid-flight.
	if err := s.commit(notFinal(ctx), n, prev, append(pre, s.isoEntry(n, bank, journal.Out, m)), nil); err != nil {
		return nil, 0, err
	}
	resp, err := s.send(ctx, n.ID, bank, m)
	return resp, n.Version, err
}

// unknownOutcome handles "sent, no reply": the operation is declined for
// the merchant and an 0420 reversal goes into store-and-forward in the
// same transaction, so it is never reported approved and never forgotten.
func (s *Service) unknownOutcome(ctx context.Context, n *order.Order, prev uint64, op *order.Operation, m *iso.Message, bank string) (*order.Order, error) {
	s.d.Log.Warn().Str("order", n.ID).Str("bank", bank).Str("stan", m.STAN).Msg("no reply: declined, reversal queued")
	item := s.timedOut(n, op, m, bank)
	if err := s.commitQueued(ctx, n, prev, nil, item); err != nil {
		return nil, err
	}
	return n, nil
}

// timedOut marks op (sent as m) as sent with no reply, declines the order
// if op was its payment, and returns the reversal to queue.
func (s *Service) timedOut(n *order.Order, op *order.Operation, m *iso.Message, bank string) queued {
	op.Status, op.ActionCode, op.ResponseCode = order.OpTimeout, order.ActionNoIssuer, ""
	if op.Type == order.OpAuthorization || op.Type == order.OpPurchase {
		order.ApplyPayment(n, false, 0, "timeout")
		n.ActionCode = order.ActionNoIssuer
	}
	rev, msg := s.autoReversal(n, op, m, bank)
	return queued{bank, rev.ID, order.KindReversalAdvice, msg}
}

// queued is an advice to enqueue for store-and-forward with an order's
// change.
type queued struct {
	bank, opID, kind string
	m                *iso.Message
}

// commitQueued commits n and enqueues items for store-and-forward in the
// same transaction.
func (s *Service) commitQueued(ctx context.Context, n *order.Order, prev uint64, entries []journal.Entry, items ...queued) error {
	if len(items) == 0 {
		return s.commit(ctx, n, prev, entries, nil)
	}
	its := make([]saf.Item, len(items))
	for i, q := range items {
		payload, err := json.Marshal(order.Advice{OrderID: n.ID, OpID: q.opID, Message: order.Sanitize(q.m)})
		if err != nil {
			return fmt.Errorf("payments: queue %s: %w", q.kind, err)
		}
		its[i] = saf.Item{Bank: q.bank, OrderID: n.ID, Kind: q.kind, Payload: payload}
	}
	err := s.commit(ctx, n, prev, entries, func(tx *bolt.Tx) error {
		for _, it := range its {
			if _, err := s.d.SAF.EnqueueTx(tx, it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, q := range items {
		s.d.SAF.Notify(q.bank)
	}
	return nil
}

// originalMessage rebuilds, from what the order stores, the message of op
// as it was sent: enough for DE90 and the fields a follow-up echoes.
func (s *Service) originalMessage(o *order.Order, op *order.Operation, pan string) *iso.Message {
	m := &iso.Message{
		MTI: op.MTI, PAN: pan, ProcessingCode: iso.ProcPurchase, STAN: op.STAN, TransmissionTime: op.DE7,
		Expiry: o.Card.Expiry, POSEntryMode: iso.POSEntryEcommerce, POSCondition: iso.POSConditionECom,
		RRN: op.RRN, ApprovalCode: op.ApprovalCode, TerminalID: op.TerminalID, MerchantID: op.MerchantID,
		Currency: o.Currency, AcquirerID: s.banks[op.Bank].AcquirerID, MerchantName: s.de43[o.Merchant],
	}
	if mc := s.merchants[o.Merchant]; mc != nil {
		m.MCC = mc.MCC
	}
	if op.Type == order.OpRefund {
		m.ProcessingCode = iso.ProcRefund
	}
	m.SetAmount(op.Amount)
	return m
}
