package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/specs"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/saf"
)

// FollowUpRequest is a merchant's completion, cancel or refund.
type FollowUpRequest struct {
	OrderID string
	// Merchant, when set, must own the order: another merchant's order is
	// order.ErrNotFound, exactly as one that does not exist.
	Merchant string
	// Amount in minor units; 0 means "all that is available" for a
	// completion or a cancel, and all that is refundable for a refund.
	Amount int64
	// IdemKey makes the request idempotent (externalRefundId, the JSON
	// API's Idempotency-Key): the same key answers the first answer.
	IdemKey string
	// OnlyWaiting limits a Decline to an order still waiting for its card
	// that nobody is working on now: an order whose lock is held (its card
	// is being paid) or that has moved on is ErrInProgress, at once. A
	// payment link closing an order another buyer left uses it.
	OnlyWaiting bool
	// ExpectedDeposited, when set, must equal the order's captured amount
	// minus refunds, or the refund is refused (guards parallel refunds).
	ExpectedDeposited *int64
	// Cart, when set with a completion, replaces the order's cart: the
	// goods the merchant ships are not always the goods it sold
	// (Processing.kz completeTransactionEx).
	Cart  []order.CartItem
	Reply Reply
}

// ErrBankRefused is wrapped when the bank declined a follow-up.
var ErrBankRefused = errors.New("bank declined the operation")

// ErrUnavailable is wrapped when the original bank cannot be reached and
// the operation cannot be queued.
var ErrUnavailable = errors.New("bank unavailable")

// ErrKeyReused is wrapped when an idempotency key that made one operation
// comes with another amount.
var ErrKeyReused = errors.New("idempotency key already used for another amount")

// Complete captures a hold: a 0220 completion advice, queued durably in
// store-and-forward, so the merchant's capture stands once accepted; the
// bank releases whatever of the hold is not captured. The same completion
// asked again (the same amount, 0 meaning the whole hold) is a replay.
func (s *Service) Complete(ctx context.Context, r FollowUpRequest) (*Result, error) {
	ctx = detach(ctx)
	return s.followUp(ctx, r, order.OpCompletion, func(o, n *order.Order, rp *reply) (*Result, error) {
		amount := r.Amount
		if amount == 0 {
			amount = o.Approved
		}
		if o.Status == order.StatusDeposited || o.Status == order.StatusRefunded {
			for i := range o.Ops {
				if op := &o.Ops[i]; op.Type == order.OpCompletion && op.Amount == amount {
					return rp.replay(o, op), nil
				}
			}
		}
		if err := order.CheckComplete(o, amount); err != nil {
			return nil, err
		}
		pan, err := s.pan(ctx, n)
		if err != nil {
			return nil, err
		}
		auth := o.AuthOp()
		m := s.stamp(iso.CompletionOf(s.originalMessage(n, auth, pan), auth.ApprovalCode, amount, s.stans[auth.Bank].Next(), s.d.Now()), n.Merchant)
		op := order.Operation{
			ID: newOpID(), Type: order.OpCompletion, Status: order.OpQueued, Amount: amount, Time: s.d.Now().UTC(), Bank: auth.Bank,
			MTI: m.MTI, STAN: m.STAN, RRN: m.RRN, DE7: m.TransmissionTime, ApprovalCode: auth.ApprovalCode,
			TerminalID: auth.TerminalID, MerchantID: auth.MerchantID, IdemKey: r.IdemKey, Of: auth.ID, ActionCode: order.ActionApproved,
		}
		n.Ops = append(n.Ops, op)
		if r.Cart != nil {
			n.Cart = r.Cart
		}
		order.ApplyCompletion(n, amount)
		n.ActionCode = order.ActionApproved
		err = s.commit(ctx, change{o: n, prev: o.Version, reply: rp, final: true,
			items: []queued{{auth.Bank, op.ID, order.KindCompletionAdvice, m}}})
		if err != nil {
			return nil, err
		}
		return rp.result(n, n.Op(op.ID)), nil
	})
}

// Cancel reverses a hold with an 0400: all of what is held when r.Amount
// is 0 or all of it, else r.Amount of it, the ISO 8583:1987 way (DE4 the
// original amount, DE95 what stays held), leaving the rest approved. When
// the bank cannot be reached or does not answer, the cancel still stands:
// an 0420 reversal advice is queued and store-and-forward delivers it.
//
// An order reversed already, or a partial cancel of the same amount as the
// order's latest one, is a replay: the RBS reverse.do has no idempotency
// key, and a retry after a lost answer must not release twice.
func (s *Service) Cancel(ctx context.Context, r FollowUpRequest) (*Result, error) {
	ctx = detach(ctx)
	return s.followUp(ctx, r, order.OpReversal, func(o, n *order.Order, rp *reply) (*Result, error) {
		last := o.LastOp(order.OpReversal)
		switch {
		case o.Status == order.StatusReversed && last != nil:
			return rp.replay(o, last), nil
		case r.Amount != 0 && last != nil && last.Amount == r.Amount && last.Status != order.OpDeclined && r.IdemKey == "":
			return rp.replay(o, last), nil
		}
		if err := order.CheckCancel(o, r.Amount); err != nil {
			return nil, err
		}
		pan, err := s.pan(ctx, n)
		if err != nil {
			return nil, err
		}
		return s.cancel(ctx, r, o, n, pan, rp)
	})
}

// CompleteRegistration decides a card registration (the Processing.kz
// completeRegistration): keep is true to keep the card, which becomes the
// order's stored card with its card id, false to drop it. Either way the verification hold is
// released with a reversal, and the decision is recorded with the
// reversal's outcome only once the reversal stands (approved, or queued
// for store-and-forward when the bank cannot be reached): a reversal the
// bank declines decides nothing. The same decision asked again is a
// replay; the other one is refused.
func (s *Service) CompleteRegistration(ctx context.Context, r FollowUpRequest, keep bool) (*Result, error) {
	ctx = detach(ctx)
	decision := order.RegistrationDropped
	if keep {
		decision = order.RegistrationKept
	}
	r.Amount = 0
	return s.followUp(ctx, r, order.OpReversal, func(o, n *order.Order, rp *reply) (*Result, error) {
		switch {
		case o.Registration == nil:
			return nil, &order.TransitionError{Op: order.OpReversal, From: o.Status, Reason: "the order is no card registration"}
		case o.Registration.Status == decision:
			return rp.replay(o, o.LastOp(order.OpReversal)), nil
		case o.Registration.Status != "":
			return nil, &order.TransitionError{Op: order.OpReversal, From: o.Status, Reason: "the registration is decided already"}
		}
		if err := order.CheckCancel(o, 0); err != nil {
			return nil, err
		}
		pan, err := s.pan(ctx, n)
		if err != nil {
			return nil, err
		}
		n.Registration.Deciding = decision
		return s.cancel(ctx, r, o, n, pan, rp)
	})
}

// reversalStands records on n what a reversal opID that stands (approved,
// or queued as an advice) carries out besides releasing the amount: a
// registration's decision written ahead with it (Registration.Deciding),
// whether the flow records the outcome (cancel) or recovery does after a
// crash (settleUnrecorded).
func reversalStands(n *order.Order, opID string) {
	r := n.Registration
	if r == nil || r.Deciding == "" {
		return
	}
	r.Status, r.Deciding = r.Deciding, ""
	if r.Status == order.RegistrationKept {
		n.Stored = &order.StoredCard{ID: uuid.NewString(), Op: opID}
	}
}

// reversalDeclined records on n that a reversal the bank declined decided
// nothing: the merchant may ask again.
func reversalDeclined(n *order.Order) {
	if n.Registration != nil {
		n.Registration.Deciding = ""
	}
}

// cancel sends the reversal, and records with its outcome what a reversal
// that stands or is declined changes besides (reversalStands,
// reversalDeclined).
func (s *Service) cancel(ctx context.Context, r FollowUpRequest, o, n *order.Order, pan string, rp *reply) (*Result, error) {
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
	resp, prev, err := s.exchange(ctx, n, o.Version, rp, auth.Bank, m)
	if prev == 0 {
		return nil, err
	}
	p := n.Op(op.ID)
	if err != nil {
		// Not sent or no reply: the reversal must still reach the bank.
		p.Status, p.ActionCode = order.OpQueued, order.ActionApproved
		order.ApplyCancel(n, p.Amount)
		n.ActionCode = order.ActionApproved
		reversalStands(n, op.ID)
		advice := *m
		advice.MTI = iso.MTIReversalAdvice
		err := s.commit(ctx, change{o: n, prev: prev, reply: rp, final: true,
			items: []queued{{auth.Bank, op.ID, order.KindReversalAdvice, &advice}}})
		if err != nil {
			s.keepUnrecorded(n.ID, nil)
			return nil, err
		}
		return rp.result(n, n.Op(op.ID)), nil
	}
	p.ResponseCode, p.ActionCode = resp.ResponseCode, order.ActionForDE39(resp.ResponseCode)
	approved := iso.LookupResponseCode(resp.ResponseCode).Approved
	if approved {
		p.Status = order.OpApproved
		order.ApplyCancel(n, p.Amount)
		n.ActionCode = order.ActionApproved
		reversalStands(n, op.ID)
	} else {
		p.Status = order.OpDeclined
		reversalDeclined(n)
	}
	err = s.commit(ctx, change{o: n, prev: prev, reply: rp, final: approved,
		entries: []journal.Entry{s.isoEntry(n, auth.Bank, journal.In, resp)}})
	if err != nil {
		s.keepUnrecorded(n.ID, map[string]*iso.Message{op.ID: resp})
		return nil, err
	}
	res := rp.result(n, n.Op(op.ID))
	if !approved {
		return res, fmt.Errorf("%w: reversal answered %s", ErrBankRefused, resp.ResponseCode)
	}
	return res, nil
}

// reversalMessage is the 0400 (or, advice, the 0420) that reverses amount
// of what auth holds: DE4 the original amount, and, when part of the hold
// stays, DE95 with what stays, as ISO 8583:1987 expresses a partial
// reversal. What stays is counted from the order as it was before this
// reversal: n.Approved is what the bank holds now.
func (s *Service) reversalMessage(n *order.Order, auth *order.Operation, pan string, amount int64, advice bool, stan string) *iso.Message {
	var stays *int64
	reason := specs.ReasonCancel
	if rest := n.Approved - amount; rest > 0 {
		stays, reason = &rest, specs.ReasonPartial
	}
	m := s.stamp(iso.ReversalOf(s.originalMessage(n, auth, pan), advice, stan, s.d.Now(), stays), n.Merchant)
	m.ResponseCode = s.reversalReason(auth.Bank, reason)
	return m
}

// Refund returns captured money with an 0200, processing code 20, naming
// the capture in DE90. A refund whose outcome is unknown is declined for
// the merchant and reversed through store-and-forward, so it can be asked
// again without paying twice. An Amount of 0 refunds all that is left.
func (s *Service) Refund(ctx context.Context, r FollowUpRequest) (*Result, error) {
	ctx = detach(ctx)
	if err := s.awaitCapture(ctx, r.OrderID); err != nil {
		return nil, err
	}
	return s.followUp(ctx, r, order.OpRefund, func(o, n *order.Order, rp *reply) (*Result, error) {
		if r.ExpectedDeposited != nil && *r.ExpectedDeposited != o.Deposited-o.Refunded {
			return nil, &order.InputError{Field: "expectedDepositedAmount", Reason: fmt.Sprintf("is %d, the order has %d refundable", *r.ExpectedDeposited, o.Deposited-o.Refunded)}
		}
		if r.Amount == 0 && o.Status == order.StatusDeposited {
			// Counted under the order's lock: two such refunds at once
			// cannot both take the whole amount.
			r.Amount = o.Deposited - o.Refunded
		}
		if err := order.CheckRefund(o, r.Amount); err != nil {
			return nil, err
		}
		if bank := o.CaptureOp().Bank; !s.d.Banks.Ready(bank) {
			return nil, fmt.Errorf("%w: %s is not connected; refund later", ErrUnavailable, bank)
		}
		pan, err := s.pan(ctx, n)
		if err != nil {
			return nil, err
		}
		return s.refund(ctx, r, o, n, pan, rp)
	})
}

func (s *Service) refund(ctx context.Context, r FollowUpRequest, o, n *order.Order, pan string, rp *reply) (*Result, error) {
	capture := o.CaptureOp()
	bank := capture.Bank
	rrn, err := s.rrn(bank)
	if err != nil {
		return nil, err
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
	m.Stamp(now, s.zones[n.Merchant])
	op := order.Operation{
		ID: newOpID(), Type: order.OpRefund, Status: order.OpPending, Amount: r.Amount, Time: now.UTC(), Bank: bank,
		MTI: m.MTI, STAN: m.STAN, RRN: rrn, DE7: m.TransmissionTime, TerminalID: capture.TerminalID,
		MerchantID: capture.MerchantID, IdemKey: r.IdemKey, Of: capture.ID,
	}
	n.Ops = append(n.Ops, op)
	resp, prev, err := s.exchange(ctx, n, o.Version, rp, bank, m)
	if prev == 0 {
		return nil, err
	}
	p := n.Op(op.ID)
	switch {
	case errors.Is(err, links.ErrNotSent):
		p.Status, p.ActionCode = order.OpDeclined, order.ActionIssuerDown
		if err := s.commit(ctx, change{o: n, prev: prev, reply: rp}); err != nil {
			s.keepUnrecorded(n.ID, nil, op.ID)
			return nil, err
		}
		return rp.result(n, n.Op(op.ID)), fmt.Errorf("%w: %v", ErrUnavailable, err)
	case err != nil:
		id := n.ID
		n, err := s.unknownOutcome(ctx, n, prev, p, m, bank, rp)
		if err != nil {
			s.keepUnrecorded(id, nil)
			return nil, err
		}
		return rp.result(n, n.Op(op.ID)), nil
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
		rev, msg := s.autoReversal(n, p, m, bank, specs.ReasonDoubt)
		items = append(items, queued{bank, rev.ID, order.KindReversalAdvice, msg})
		p = n.Op(op.ID)
		p.ActionCode = order.ActionAmountMismatch
	}
	err = s.commit(ctx, change{o: n, prev: prev, reply: rp, final: true, items: items,
		entries: []journal.Entry{s.isoEntry(n, bank, journal.In, resp)}})
	if err != nil {
		s.keepUnrecorded(n.ID, map[string]*iso.Message{op.ID: resp})
		return nil, err
	}
	return rp.result(n, n.Op(op.ID)), nil
}

// awaitCapture waits until the bank has acknowledged the completion a
// refund refers to. A completion goes as an advice through store-and-
// forward; a refund sent before the advice arrives would find nothing
// captured at the bank and be declined. So the refund waits for the
// advice (nudging the queue), as long as the exchange timeout allows, and
// otherwise asks the merchant to retry.
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

// followUp runs a follow-up on an order under its lock: another merchant's
// order does not exist; a request whose idempotency key already ran
// answers that operation again; an order with an exchange of unknown
// outcome answers ErrInProgress; run checks the state machine, builds and
// sends it from a copy of the order.
func (s *Service) followUp(ctx context.Context, r FollowUpRequest, t order.OpType, run func(o, n *order.Order, rp *reply) (*Result, error)) (*Result, error) {
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
	if op := o.FindIdem(t, r.IdemKey); op != nil && op.Status != order.OpPending {
		if r.Amount != 0 && op.Amount != r.Amount && op.Requested != r.Amount {
			return nil, fmt.Errorf("payments: order %s: %w", o.ID, ErrKeyReused)
		}
		return rp.replay(o, op), nil
	}
	if o.AtBank() {
		// An earlier exchange's outcome is not recorded yet (the journal
		// could not write it): nothing new may start from a state that
		// is about to change.
		return nil, fmt.Errorf("payments: order %s: %w", o.ID, ErrInProgress)
	}
	return run(o, o.Clone(), rp)
}

// pan is the order's card number, decrypted for the message to the bank.
func (s *Service) pan(ctx context.Context, o *order.Order) (string, error) {
	pan, err := s.d.Vault.DecryptPAN(ctx, o.Card.Ciphertext)
	if err != nil {
		return "", fmt.Errorf("payments: order %s: card: %w", o.ID, err)
	}
	return pan, nil
}

// exchange writes n (with its new pending operation) and m ahead, then
// sends m. It returns the version the write produced, 0 when the write
// itself failed (err says why and nothing was sent).
func (s *Service) exchange(ctx context.Context, n *order.Order, prev uint64, rp *reply, bank string, m *iso.Message) (*iso.Message, uint64, error) {
	return s.exchangeWith(ctx, n, prev, rp, bank, m, nil)
}

// exchangeWith is exchange with entries journaled ahead of the message (a
// 3-D Secure step that led to it).
func (s *Service) exchangeWith(ctx context.Context, n *order.Order, prev uint64, rp *reply, bank string, m *iso.Message, pre []journal.Entry) (*iso.Message, uint64, error) {
	// Write-ahead: the exchange is on disk before the message leaves, so
	// recovery can reverse it if the process dies mid-flight.
	if err := s.commit(ctx, change{o: n, prev: prev, reply: rp, entries: append(pre, s.isoEntry(n, bank, journal.Out, m))}); err != nil {
		return nil, 0, err
	}
	resp, err := s.send(ctx, n.ID, bank, m)
	return resp, n.Version, err
}

// unknownOutcome handles "sent, no reply": the operation is declined for
// the merchant and an 0420 reversal goes into store-and-forward in the
// same transaction, so it is never reported approved and never forgotten.
func (s *Service) unknownOutcome(ctx context.Context, n *order.Order, prev uint64, op *order.Operation, m *iso.Message, bank string, rp *reply) (*order.Order, error) {
	s.d.Log.Warn().Str("order", n.ID).Str("bank", bank).Str("stan", m.STAN).Msg("no reply: declined, reversal queued")
	item := s.timedOut(n, op, m, bank)
	if err := s.commit(ctx, change{o: n, prev: prev, reply: rp, final: true, items: []queued{item}}); err != nil {
		return nil, err
	}
	return n, nil
}

// timedOut marks op (sent as m) as sent with no reply, declines the order
// if op was its payment, and returns the reversal to queue.
func (s *Service) timedOut(n *order.Order, op *order.Operation, m *iso.Message, bank string) queued {
	op.Status, op.ActionCode, op.ResponseCode = order.OpTimeout, order.ActionNoIssuer, ""
	if op.Type == order.OpAuthorization || op.Type == order.OpPurchase {
		s.decline(n, "timeout")
		n.ActionCode = order.ActionNoIssuer
	}
	rev, msg := s.autoReversal(n, op, m, bank, specs.ReasonLate)
	return queued{bank, rev.ID, order.KindReversalAdvice, msg}
}

// queued is an advice to enqueue for store-and-forward with an order's
// change.
type queued struct {
	bank, opID, kind string
	m                *iso.Message
}

// safItems are the store-and-forward items of o's queued advices.
func (s *Service) safItems(o *order.Order, items []queued) ([]saf.Item, error) {
	its := make([]saf.Item, len(items))
	for i, q := range items {
		payload, err := json.Marshal(order.Advice{OrderID: o.ID, OpID: q.opID, Message: order.Sanitize(q.m)})
		if err != nil {
			return nil, fmt.Errorf("payments: queue %s: %w", q.kind, err)
		}
		its[i] = saf.Item{Queue: q.bank, OrderID: o.ID, Kind: q.kind, Payload: payload}
	}
	return its, nil
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
