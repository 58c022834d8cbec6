package payments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tulpar-switch/tulpar/specs"
	"github.com/tulpar-switch/tulpar/switch/order"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// Authenticator is 3-D Secure as the flows need it; threeds.Client
// satisfies it, and so can a real 3-D Secure server.
type Authenticator interface {
	Begin(ctx context.Context, req threeds.Request) (threeds.Outcome, error)
	Result(ctx context.Context, transID string) (threeds.Outcome, error)
}

// CardInput is card data as the buyer typed it. It lives only in memory
// for the length of the request.
type CardInput struct {
	PAN    string
	Expiry string // YYMM
	CVV2   string
	Holder string
}

// PayRequest pays an order with a card.
type PayRequest struct {
	OrderID string
	Card    CardInput
	Email   string
	IP      string
	// NotificationURL is where the ACS sends the buyer's browser back after
	// a challenge (the hosted page's 3-D Secure return).
	NotificationURL string
	// Merchant, when set, must own the order (see FollowUpRequest).
	Merchant string
	// CardID pays with the merchant's stored card instead of Card's number
	// (RBS paymentOrderBinding): Card then holds at most the CVV2 the
	// buyer gave. Without a CVV2 the merchant pays alone
	// (order.Order.MerchantInitiated). An order registered with a stored
	// card is paid with it whether CardID names it or not.
	CardID string
	// KeepCard stores the card once the payment is approved, for the
	// order's customer (the buyer ticked "remember this card"; a merchant
	// paying with card data and a clientId did not say bindingNotNeeded).
	// An order without a customer stores nothing.
	KeepCard bool
	Reply    Reply
}

// ErrCard is wrapped when card data is not acceptable (Luhn, expiry).
var ErrCard = errors.New("invalid card data")

// ValidateCard checks card data without revealing it in the error.
func ValidateCard(c CardInput, now time.Time) error {
	if err := iso.ValidPAN(c.PAN); err != nil {
		return fmt.Errorf("%w: pan: %w", ErrCard, err)
	}
	if len(c.Expiry) != 4 || !isDigits(c.Expiry) {
		return fmt.Errorf("%w: expiry: must be YYMM", ErrCard)
	}
	month := int(c.Expiry[2]-'0')*10 + int(c.Expiry[3]-'0')
	if month < 1 || month > 12 {
		return fmt.Errorf("%w: expiry: month must be 01 to 12", ErrCard)
	}
	if cardExpired(c.Expiry, now) {
		return fmt.Errorf("%w: expiry: the card has expired", ErrCard)
	}
	if c.CVV2 != "" && (len(c.CVV2) < 3 || len(c.CVV2) > 4 || !isDigits(c.CVV2)) {
		return fmt.Errorf("%w: cvv2: must be 3 or 4 digits", ErrCard)
	}
	return nil
}

// cardExpired reports whether a card valid through YYMM (checked) has
// expired at now: it is good through the last day of its month.
func cardExpired(yymm string, now time.Time) bool {
	year := 2000 + int(yymm[0]-'0')*10 + int(yymm[1]-'0')
	month := int(yymm[2]-'0')*10 + int(yymm[3]-'0')
	return !now.Before(time.Date(year, time.Month(month)+1, 1, 0, 0, 0, 0, time.UTC))
}

// Pay runs card entry: 3-D Secure, routing, and the authorization (0100
// for two-stage orders) or purchase (0200). It returns the order in its new
// state; a decline is a result, not an error. Errors are for requests that
// could not be considered (unknown order, wrong state, bad card data).
func (s *Service) Pay(ctx context.Context, r PayRequest) (*Result, error) {
	ctx = detach(ctx)
	now := s.d.Now()
	switch {
	case r.Card.PAN != "":
		if err := ValidateCard(r.Card, now); err != nil {
			return nil, err
		}
	case r.CardID == "":
		// No number and no stored card named: only an order registered
		// with a stored card (which it keeps) can be paid so.
		if o, err := s.store.Get(r.OrderID); err == nil && o.StoredCard == "" {
			return nil, fmt.Errorf("%w: pan: must be 13 to 19 digits", ErrCard)
		}
	}
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
	if order.Expired(o, now) {
		if o, err = s.expireLocked(ctx, o); err != nil {
			return nil, err
		}
		return nil, order.CheckPay(o, now)
	}
	if o.AtBank() {
		return nil, fmt.Errorf("payments: order %s: %w", o.ID, ErrInProgress)
	}
	if err := order.CheckPay(o, now); err != nil {
		if attempted(o) {
			// The buyer (or the shop, retrying after a lost answer) pays
			// an order whose payment is decided: the recorded outcome is
			// the answer, and nothing goes to the bank again, whatever
			// became of the card since.
			return rp.replay(o, lastPayment(o)), nil
		}
		return nil, err
	}
	n := o.Clone()
	if r.Card.PAN != "" && n.StoredCard != "" {
		// A card number typed for an order registered with a stored card
		// (or an earlier attempt's): this attempt is that card's, not the
		// stored one's, or the bank would charge one card while the order,
		// its reversals and refunds named the other.
		n.StoredCard, n.Card, n.MerchantInitiated = "", nil, false
	}
	if r.Card.PAN == "" {
		if err := s.useStoredCard(ctx, n, &r, now); err != nil {
			return nil, err
		}
		if err := ValidateCard(r.Card, now); err != nil {
			return nil, err
		}
	}
	if n.Status == order.StatusRegistered {
		// A new attempt; a second submission during an open challenge is
		// the same attempt, started again.
		n.Attempts++
	}
	if err := s.attachCard(ctx, n, r); err != nil {
		return nil, err
	}
	var tds *iso.ThreeDS
	var pre []journal.Entry
	// A merchant paying alone with a stored card has no cardholder to
	// authenticate: merchant-initiated payments are outside 3-D Secure.
	if s.d.ThreeDS != nil && !n.MerchantInitiated {
		merchant := s.merchants[n.Merchant]
		transID := threeDSTransID(n)
		if op := n.LastOp(order.OpThreeDS); op != nil && op.Status == order.OpPending {
			// The buyer submits again while an earlier challenge is open
			// (a reloaded page): the earlier one is over.
			op.Status = order.OpDeclined
		}
		out, err := s.d.ThreeDS.Begin(ctx, threeds.Request{
			TransID: transID, PAN: r.Card.PAN, Expiry: r.Card.Expiry, Amount: n.Amount, Currency: n.Currency,
			MerchantName: merchant.Name, NotificationURL: r.NotificationURL,
		})
		entry := s.threeDSEntry(n.ID, "begin", out, err)
		switch {
		case err != nil:
			return s.declineBefore(ctx, n, o.Version, "3ds_error", order.ActionThreeDSError, entry, rp)
		case out.Status == threeds.ChallengeRequired:
			n.Status = order.Status3DS
			n.ThreeDS = &order.ThreeDSInfo{TransID: transID, Status: string(out.Status), Version: out.Version, DSTransID: out.DSTransID}
			n.Ops = append(n.Ops, order.Operation{ID: newOpID(), Type: order.OpThreeDS, Status: order.OpPending, Amount: n.Amount, Time: now.UTC()})
			s.holdCVV(n.ID, r.Card.CVV2, n.ExpiresAt)
			rp.challenge = &out
			err := s.commit(ctx, change{o: n, prev: o.Version, reply: rp, final: true, entries: []journal.Entry{entry}})
			if err != nil {
				return nil, err
			}
			return rp.result(n, n.LastOp(order.OpThreeDS)), nil
		case !out.Proceed():
			return s.declineBefore(ctx, n, o.Version, "3ds_failed", order.ActionThreeDSFailed, entry, rp)
		}
		n.ThreeDS = &order.ThreeDSInfo{TransID: transID, Status: string(out.Status), ECI: out.ECI, Version: out.Version, DSTransID: out.DSTransID}
		tds = threeDSField(out)
		pre = append(pre, entry)
	}
	n, err = s.authorize(ctx, n, o.Version, r.Card.PAN, r.Card.CVV2, tds, pre, rp)
	if err != nil {
		return nil, err
	}
	return rp.result(n, lastPayment(n)), nil
}

// lastPayment is the order's latest authorization or purchase, or nil.
func lastPayment(o *order.Order) *order.Operation {
	for i := len(o.Ops) - 1; i >= 0; i-- {
		if t := o.Ops[i].Type; t == order.OpAuthorization || t == order.OpPurchase {
			return &o.Ops[i]
		}
	}
	return nil
}

// ThreeDSComplete continues a payment after the buyer's challenge: it asks
// the 3-D Secure server for the result (the browser's word is not enough)
// and authorizes when authentication allows it.
func (s *Service) ThreeDSComplete(ctx context.Context, orderID string) (*order.Order, error) {
	ctx = detach(ctx)
	if s.d.ThreeDS == nil {
		return nil, errors.New("payments: 3-D Secure is not configured")
	}
	unlock := s.locks.Lock(orderID)
	defer unlock()
	o, err := s.store.Get(orderID)
	if err != nil {
		return nil, err
	}
	if o.AtBank() {
		return nil, fmt.Errorf("payments: order %s: %w", o.ID, ErrInProgress)
	}
	if o.Status != order.Status3DS {
		return nil, &order.TransitionError{Op: order.OpThreeDS, From: o.Status, Reason: "the order is not waiting for 3-D Secure"}
	}
	n := o.Clone()
	transID := orderID
	if o.ThreeDS != nil && o.ThreeDS.TransID != "" {
		transID = o.ThreeDS.TransID
	}
	out, err := s.d.ThreeDS.Result(ctx, transID)
	if errors.Is(err, threeds.ErrChallengePending) {
		// The browser came back before the buyer finished at the ACS (or
		// someone posted the order id by hand): nothing is decided yet.
		return o, fmt.Errorf("payments: order %s: %w", orderID, err)
	}
	entry := s.threeDSEntry(n.ID, "result", out, err)
	if op := n.LastOp(order.OpThreeDS); op != nil {
		op.Status = order.OpApproved
		if err != nil || !out.Proceed() {
			op.Status = order.OpDeclined
		}
	}
	if err != nil {
		s.forgetCVV(orderID)
		return s.declineAfter3DS(ctx, n, o.Version, "3ds_error", order.ActionThreeDSError, entry)
	}
	n.ThreeDS = &order.ThreeDSInfo{TransID: transID, Status: string(out.Status), ECI: out.ECI, Version: out.Version, DSTransID: out.DSTransID}
	if !out.Proceed() {
		s.forgetCVV(orderID)
		return s.declineAfter3DS(ctx, n, o.Version, "3ds_failed", order.ActionThreeDSFailed, entry)
	}
	pan, err := s.d.Vault.DecryptPAN(ctx, n.Card.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("payments: order %s: card: %w", orderID, err)
	}
	// After a restart the CVV2 is gone (it was never on disk): the
	// authorization goes without it, authenticated by 3-D Secure.
	cvv := s.takeCVV(orderID)
	return s.authorize(ctx, n, o.Version, pan, cvv, threeDSField(out), []journal.Entry{entry}, nil)
}

func (s *Service) declineAfter3DS(ctx context.Context, n *order.Order, prev uint64, reason string, action int, entry journal.Entry) (*order.Order, error) {
	s.decline(n, reason)
	n.ActionCode = action
	if err := s.commit(ctx, change{o: n, prev: prev, final: true, entries: []journal.Entry{entry}}); err != nil {
		return nil, err
	}
	return n, nil
}

// useStoredCard fills r's card from the stored card n is paid with (the
// one it was registered with, or r.CardID): the card must still be able to
// pay (enabled, within its expiry, which the merchant may have changed
// since), and be the order's customer's. The buyer gave only the CVV2, or
// nothing when the merchant pays alone.
func (s *Service) useStoredCard(ctx context.Context, n *order.Order, r *PayRequest, now time.Time) error {
	id := n.StoredCard
	switch {
	case r.CardID != "" && id != "" && r.CardID != id:
		return &order.InputError{Field: "cardId", Reason: order.ErrCardOther.Error(), Err: order.ErrCardOther}
	case r.CardID != "":
		id = r.CardID
	case id == "":
		return fmt.Errorf("%w: pan: must be 13 to 19 digits", ErrCard)
	}
	reg, err := s.storedCard(n.Merchant, id, now)
	if err != nil {
		return err
	}
	// A card stored for a customer pays that customer's orders only: an
	// order registered without a clientId is nobody's, and a merchant must
	// not charge a customer's card for it (RBS refuses the same).
	if reg.Stored.ClientID != "" && n.Customer != reg.Stored.ClientID {
		return &order.InputError{Field: "cardId", Reason: order.ErrCardOwner.Error(), Err: order.ErrCardOwner}
	}
	pan, err := s.d.Vault.DecryptPAN(ctx, reg.Card.Ciphertext)
	if err != nil {
		return fmt.Errorf("payments: order %s: stored card: %w", reg.ID, err)
	}
	r.Card.PAN, r.Card.Expiry = pan, reg.StoredExpiry()
	if r.Card.Holder == "" {
		r.Card.Holder = reg.Card.Holder
	}
	c := *reg.Card
	c.Ciphertext = append([]byte(nil), reg.Card.Ciphertext...)
	c.Expiry = reg.StoredExpiry()
	n.Card, n.StoredCard = &c, id
	n.MerchantInitiated = r.Card.CVV2 == ""
	r.KeepCard = false
	return nil
}

func (s *Service) attachCard(ctx context.Context, n *order.Order, r PayRequest) error {
	if r.Email != "" {
		n.Email = r.Email
	}
	n.IP = r.IP
	if n.StoredCard != "" && n.Card != nil {
		// A stored card: useStoredCard put it in the order.
		return nil
	}
	ct, err := s.d.Vault.EncryptPAN(ctx, r.Card.PAN)
	if err != nil {
		return fmt.Errorf("payments: order %s: protect card: %w", n.ID, err)
	}
	tok, err := s.d.Vault.TokenizePAN(ctx, r.Card.PAN)
	if err != nil {
		return fmt.Errorf("payments: order %s: tokenize card: %w", n.ID, err)
	}
	n.Card = &order.Card{
		Masked: iso.MaskPAN(r.Card.PAN), Token: tok, Ciphertext: ct, Expiry: r.Card.Expiry,
		Holder: strings.TrimSpace(r.Card.Holder), Brand: routing.BrandOf(r.Card.PAN),
	}
	n.KeepCard = r.KeepCard && n.Customer != ""
	n.MerchantInitiated = false
	return nil
}

// keepCard stores the card of n's approved payment op when its buyer
// asked to, for the order's customer. A customer who has the same card
// stored already (enabled, the same expiry) keeps that one: the order
// then names it as the card it was paid with.
func (s *Service) keepCard(n *order.Order, op *order.Operation) {
	if !n.KeepCard || n.Customer == "" || n.Stored != nil || n.StoredCard != "" || n.Card == nil {
		return
	}
	held, err := s.store.TokenCards(n.Merchant, n.Card.Token)
	if err != nil {
		// Storing a second copy is better than losing the buyer's wish.
		s.d.Log.Error().Err(err).Str("order", n.ID).Msg("reading the customer's stored cards")
	}
	now := s.d.Now()
	for _, h := range held {
		if h.Stored.ClientID == n.Customer && !h.Stored.Unbound && h.StoredExpiry() == n.Card.Expiry && !order.CardExpired(h.StoredExpiry(), now) {
			n.StoredCard = h.Stored.ID
			return
		}
	}
	n.Stored = &order.StoredCard{ID: uuid.NewString(), ClientID: n.Customer, Op: op.ID}
}

// declineBefore declines an order before any bank saw it.
func (s *Service) declineBefore(ctx context.Context, n *order.Order, prev uint64, reason string, action int, entry journal.Entry, rp *reply) (*Result, error) {
	s.decline(n, reason)
	n.ActionCode = action
	n.Ops = append(n.Ops, order.Operation{ID: newOpID(), Type: order.OpThreeDS, Status: order.OpDeclined, Amount: n.Amount, Time: s.d.Now().UTC(), ActionCode: action})
	if err := s.commit(ctx, change{o: n, prev: prev, reply: rp, final: true, entries: []journal.Entry{entry}}); err != nil {
		return nil, err
	}
	return rp.result(n, &n.Ops[len(n.Ops)-1]), nil
}

// authorize routes and sends the authorization or purchase, failing over
// to the next ready bank only while the message was provably not sent.
func (s *Service) authorize(ctx context.Context, n *order.Order, prev uint64, pan, cvv string, tds *iso.ThreeDS, pre []journal.Entry, rp *reply) (*order.Order, error) {
	opType, mti := order.OpPurchase, iso.MTIFinancial
	if n.TwoStage {
		opType, mti = order.OpAuthorization, iso.MTIAuthorization
	}
	if tds == nil {
		tds = &iso.ThreeDS{ECI: "07"} // non-authenticated e-commerce
	}
	cof := storedUse(n)
	dec, err := s.d.Router.Route(routing.Payment{Merchant: n.Merchant, PAN: pan, Currency: n.Currency, Amount: n.Amount}, s.d.Banks.Ready)
	if err != nil {
		s.d.Log.Warn().Str("order", n.ID).Err(err).Msg("no route")
		s.decline(n, "no_route")
		n.ActionCode = order.ActionIssuerDown
		n.Ops = append(n.Ops, order.Operation{ID: newOpID(), Type: opType, Status: order.OpDeclined, Amount: n.Amount, Time: s.d.Now().UTC(), ActionCode: order.ActionIssuerDown})
		if err := s.commit(ctx, change{o: n, prev: prev, reply: rp, final: true, entries: pre}); err != nil {
			return nil, err
		}
		return n, nil
	}
	// notSent are operations written ahead as pending that provably never
	// left: should a later commit fail, recovery must not reverse them.
	var notSent []string
	for _, bank := range dec.Candidates {
		m, op, err := s.newRequest(n, bank, mti, opType, pan, cvv, tds, cof)
		if err != nil {
			return nil, err
		}
		n.Bank, n.Rule = bank, dec.Rule
		n.Ops = append(n.Ops, *op)
		resp, v, err := s.exchangeWith(ctx, n, prev, rp, bank, m, pre)
		if v == 0 {
			s.keepUnrecorded(n.ID, nil, notSent...)
			return nil, err
		}
		prev, pre = v, nil
		op = n.Op(op.ID)
		switch {
		case errors.Is(err, links.ErrNotSent):
			op.Status, op.ActionCode = order.OpDeclined, order.ActionIssuerDown
			notSent = append(notSent, op.ID)
			s.d.Log.Warn().Str("order", n.ID).Str("bank", bank).Err(err).Msg("not sent; trying the next bank")
			continue
		case err != nil:
			id := n.ID
			done, err := s.unknownOutcome(ctx, n, prev, op, m, bank, rp)
			if err != nil {
				s.keepUnrecorded(id, nil, notSent...)
			}
			return done, err
		}
		items := s.settlePayment(n, op, m, resp, bank)
		err = s.commit(ctx, change{o: n, prev: prev, reply: rp, final: true, items: items,
			entries: []journal.Entry{s.isoEntry(n, bank, journal.In, resp)}})
		if err != nil {
			// The bank has answered and the journal cannot say so: the
			// answer is kept until it can (unrecorded.go).
			s.keepUnrecorded(n.ID, map[string]*iso.Message{op.ID: resp}, notSent...)
			return nil, err
		}
		return n, nil
	}
	// Every candidate refused the message before it left.
	s.decline(n, "issuer_unavailable")
	n.ActionCode = order.ActionIssuerDown
	if err := s.commit(ctx, change{o: n, prev: prev, reply: rp, final: true, entries: pre}); err != nil {
		s.keepUnrecorded(n.ID, nil, notSent...)
		return nil, err
	}
	return n, nil
}

// settlePayment applies the bank's answer to an authorization or purchase
// op (sent as m) to n, and returns the reversal to queue with it when the
// bank approved an amount the order does not take: less than asked, which
// only a merchant that accepts partial approvals keeps (RBS plugins expect
// all or nothing), or an amount nobody asked for.
func (s *Service) settlePayment(n *order.Order, op *order.Operation, m, resp *iso.Message, bank string) []queued {
	op.ResponseCode, op.ApprovalCode = resp.ResponseCode, resp.ApprovalCode
	op.ActionCode = order.ActionForDE39(resp.ResponseCode)
	v, amount := judge(op.Amount, resp)
	if v == verdictPartial && s.merchants[n.Merchant].AcceptPartialApproval {
		v = verdictApproved
	}
	if v == verdictDeclined {
		op.Status = order.OpDeclined
		s.decline(n, "declined")
		n.ActionCode = op.ActionCode
		return nil
	}
	op.Status = order.OpApproved
	if amount != op.Amount {
		op.Requested, op.Amount = op.Amount, amount
	}
	if v == verdictApproved {
		order.ApplyPayment(n, true, amount, "")
		n.ActionCode = op.ActionCode
		s.keepCard(n, op)
		return nil
	}
	reason, action := "partial_approval", order.ActionPartialApproval
	ev := s.d.Log.Warn()
	if v == verdictMismatch {
		// Not a decline the bank chose: a host that approves an amount
		// nobody asked for is broken, and someone must look.
		reason, action = "amount_mismatch", order.ActionAmountMismatch
		ev = s.d.Log.Error()
	}
	ev.Str("order", n.ID).Str("bank", bank).Str("stan", op.STAN).Str("rc", resp.ResponseCode).
		Int64("asked", op.Requested).Int64("approved", amount).Msg("approval for another amount: reversing it")
	rev, msg := s.autoReversal(n, op, m, bank, specs.ReasonDoubt)
	s.decline(n, reason)
	n.ActionCode = action
	return []queued{{bank: bank, opID: rev.ID, kind: order.KindReversalAdvice, m: msg}}
}

// send bounds one exchange by the configured timeout and logs it, one
// line, through iso's log-safe description.
func (s *Service) send(ctx context.Context, orderID, bank string, m *iso.Message) (*iso.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ExchangeTimeout)
	defer cancel()
	start := time.Now()
	s.recent.add(bank, m, orderID, start)
	resp, err := s.d.Banks.Send(ctx, bank, m)
	ev := s.d.Log.Info()
	if err != nil {
		ev = s.d.Log.Warn().Err(err)
	} else {
		ev = ev.Str("rc", resp.ResponseCode).Str("approval", resp.ApprovalCode)
	}
	ev.Str("order", orderID).Str("bank", bank).Object("request", m).Dur("took", time.Since(start)).Msg("bank exchange")
	return resp, err
}

// storedUse is how n's payment uses a stored card, as the card schemes
// want it marked (specs.Stored*): storing the card (a registration's
// verification hold, a payment whose buyer keeps the card), paying with a
// stored one with the cardholder or by the merchant alone; "" for none.
func storedUse(n *order.Order) string {
	switch {
	case n.StoredCard != "" && n.MerchantInitiated:
		return specs.StoredMerchant
	case n.StoredCard != "":
		return specs.StoredCardholder
	case n.Registration != nil || n.KeepCard:
		return specs.StoredInitial
	}
	return ""
}

// newRequest builds the ISO request of a new operation for bank; cof is
// its stored-card use (storedUse), which a later use of a stored card
// also says in DE22 as the bank's dialect spells credential on file.
func (s *Service) newRequest(n *order.Order, bank, mti string, t order.OpType, pan, cvv string, tds *iso.ThreeDS, cof string) (*iso.Message, *order.Operation, error) {
	merchant := s.merchants[n.Merchant]
	term, ok := merchant.Terminals[bank]
	if !ok {
		return nil, nil, fmt.Errorf("payments: merchant %s has no terminal at bank %s", n.Merchant, bank)
	}
	rrn, err := s.rrn(bank)
	if err != nil {
		return nil, nil, err
	}
	now := s.d.Now()
	m := &iso.Message{
		MTI: mti, PAN: pan, ProcessingCode: iso.ProcPurchase, STAN: s.stans[bank].Next(),
		Expiry: n.Card.Expiry, MCC: merchant.MCC, POSEntryMode: iso.POSEntryEcommerce,
		POSCondition: iso.POSConditionECom, AcquirerID: s.banks[bank].AcquirerID, RRN: rrn,
		TerminalID: term.TerminalID, MerchantID: term.MerchantID, MerchantName: s.de43[n.Merchant],
		Currency: n.Currency, CVV2: cvv, ThreeDS: tds, StoredCredential: cof,
	}
	if cof == specs.StoredCardholder || cof == specs.StoredMerchant {
		if c, ok := s.d.Banks.Codec(bank); ok && c != nil {
			m.POSEntryMode = c.Dialect().CredentialOnFile.POSEntryMode
		}
	}
	m.SetAmount(n.Amount)
	m.Stamp(now, s.zones[n.Merchant])
	op := &order.Operation{
		ID: newOpID(), Type: t, Status: order.OpPending, Amount: n.Amount, Time: now.UTC(), Bank: bank,
		MTI: mti, STAN: m.STAN, RRN: rrn, DE7: m.TransmissionTime, TerminalID: term.TerminalID, MerchantID: term.MerchantID,
	}
	return m, op, nil
}

// merchantName formats DE43: name (25), city (13), country (2), as ISO
// 8583:1987 lays it out, in Latin letters: DE43 is ASCII (or EBCDIC) on
// the wire, and a Kazakh shop's name is usually Cyrillic.
func merchantName(m *Merchant) string {
	pad := func(s string, n int) string {
		s = toLatin(s)
		if len(s) > n {
			return s[:n]
		}
		return s + strings.Repeat(" ", n-len(s))
	}
	country := m.Country
	if country == "" {
		country = "KZ"
	}
	return pad(m.Name, 25) + pad(m.City, 13) + pad(country, 2)
}

// threeDSField is the authorization's 3-D Secure data; without an ECI
// from the server the payment goes as non-authenticated e-commerce (07).
func threeDSField(out threeds.Outcome) *iso.ThreeDS {
	t := &iso.ThreeDS{ECI: out.ECI, CAVV: out.CAVV, TransactionID: out.DSTransID, Version: out.Version}
	if t.ECI == "" {
		t.ECI = "07"
	}
	return t
}

// attempted reports whether a payment of o was tried: 3-D Secure or the
// bank saw it, so its outcome is the order's answer to the next attempt.
func attempted(o *order.Order) bool {
	for _, op := range o.Ops {
		switch op.Type {
		case order.OpAuthorization, order.OpPurchase, order.OpThreeDS:
			return true
		}
	}
	return false
}

// threeDSTransID names the AReq n is about to send: the order id for its
// first, then order id + "-aN". The ACS refuses another AReq under an id it
// has seen, so every AReq of an order needs its own: a new attempt after a
// decline (Attempts grew) and a card submitted again during an open
// challenge (which left an OpThreeDS) both move N on. N may skip a number;
// it never repeats one.
func threeDSTransID(n *order.Order) string {
	k := countOps(n, order.OpThreeDS) + max(n.Attempts-1, 0)
	if k == 0 {
		return n.ID
	}
	return fmt.Sprintf("%s-a%d", n.ID, k+1)
}

func countOps(o *order.Order, t order.OpType) int {
	n := 0
	for _, op := range o.Ops {
		if op.Type == t {
			n++
		}
	}
	return n
}
