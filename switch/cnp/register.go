package cnp

import (
	"errors"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// Card registration: startRegistration, getRegistrationStatus,
// completeRegistration, and startTransaction's cardId. The WSDL declares
// them and the guide says nothing; the vendor's Java sample shows the
// flow: start a registration, send the buyer to the page, read its
// status, complete it true or false, then pay later with
// TransactionDetails.cardId.
//
// Here a registration is a transaction of its own: the buyer enters the
// card on the hosted page and the bank authorizes RegistrationDetails'
// totalAmount as a verification hold. completeRegistration(true) keeps the
// card, gives it its cardId and releases the hold; false releases the hold
// and keeps nothing. A later startTransaction with that cardId sends the
// buyer to a page that shows the card masked and asks only its CVV2. The
// card is kept as the switch keeps every card: an hsm token and the PAN
// encrypted through hsm, never in clear.

// Registration statuses (registrationStatus): the transaction's own
// status (transactionStatus) tells the hold's life beside it.
const (
	RegistrationPending    = "PENDING"    // the card is not entered, or completeRegistration not called yet
	RegistrationRegistered = "REGISTERED" // kept: cardId pays later transactions
	RegistrationCancelled  = "CANCELLED"  // completeRegistration(false)
	RegistrationDeclined   = "DECLINED"   // the verification failed, expired, or the hold was released without a decision
)

// registrationStatus is a registration order's registrationStatus.
func registrationStatus(o *order.Order) string {
	switch {
	case o.Registration.Status == order.RegistrationKept:
		return RegistrationRegistered
	case o.Registration.Status == order.RegistrationDropped:
		return RegistrationCancelled
	case o.Status == order.StatusRegistered || o.Status == order.Status3DS || o.Status == order.StatusApproved:
		return RegistrationPending
	}
	return RegistrationDeclined
}

// registrationTexts describe a registration on the hosted page, in the
// order's language, where a purchase shows the merchant's description.
var registrationTexts = map[string]string{
	"ru": "Регистрация карты: сумма блокируется для проверки карты и сразу возвращается",
	"kk": "Картаны тіркеу: сома картаны тексеру үшін бұғатталады және бірден қайтарылады",
	"en": "Card registration: the amount is held to verify the card and released at once",
}

// startRegistration: RegistrationDetails → StartRegistrationResult.
func (c *call) startRegistration(body *node) error {
	ms, err := readMembers(body, c.op, nsOps, []string{"registration"})
	if err != nil {
		return err
	}
	var t *registrationDetails
	if n := ms.one("registration"); n != nil {
		if t, err = readRegistrationDetails(n, "registration"); err != nil {
			return err
		}
	}
	c.journalRequest(t)
	if t == nil {
		c.startRefused("", refuse("registration", "required"))
		return nil
	}
	if t.MerchantID == "" {
		c.startRefused(t.CustomerReference, refuse("merchantId", "required"))
		return nil
	}
	m, err := c.merchantFor(t.MerchantID)
	var r *refusal
	switch {
	case errors.Is(err, errDenied):
		return nil
	case errors.As(err, &r):
		c.startRefused(t.CustomerReference, r)
		return nil
	case m == nil:
		c.startRefused(t.CustomerReference, refuse("merchantId", "unknown merchant"))
		return nil
	}
	// A registration is checked as a transaction is, with what it lacks
	// (goods, an order id) left out of the rules.
	req, given, r := m.registration(&transactionDetails{
		CurrencyCode: t.CurrencyCode, CustomerReference: t.CustomerReference, LanguageCode: t.LanguageCode,
		MerchantID: t.MerchantID, LocalDateTime: t.LocalDateTime, PurchaserEmail: t.PurchaserEmail,
		PurchaserName: t.PurchaserName, PurchaserPhone: t.PurchaserPhone, ReturnURL: t.ReturnURL,
		TerminalID: t.TerminalID, TotalAmount: t.TotalAmount,
	}, true)
	if r != nil {
		c.startRefused(t.CustomerReference, r)
		return nil
	}
	req.Registration, req.Description = true, registrationTexts[req.Language]
	c.register(m, req, given, t.ReturnURL)
	return nil
}

// getRegistrationStatus: StoredRegistrationStatus, that is the
// transaction's InternalTransactionStatus and the card: its id once kept,
// its masked number, and registrationStatus. A reference that is no
// registration is NO_SUCH_TRANSACTION here.
func (c *call) getRegistrationStatus(body *node) error {
	l, err := readLookup(body, c.op)
	if err != nil {
		return err
	}
	c.journalRequest(l)
	m, o, status, err := c.find(l.MerchantID, l.ReferenceNr)
	switch {
	case errors.Is(err, errDenied):
		return nil
	case err != nil:
		c.switchFault(err)
		return nil
	case o != nil && o.Registration == nil:
		o, status = nil, StatusNoSuchTransaction
	}
	f := statusFields{o: o, status: status, internal: true}
	if m != nil && m.pay != nil {
		f.url = m.pay.URL
	}
	c.answer(registrationResult(f))
	return nil
}

func registrationResult(f statusFields) []byte {
	var w xmlWriter
	respond(&w, "getRegistrationStatus", "xmlns:ax21", nsBeans)
	f.write(&w)
	if o := f.o; o != nil && o.Registration != nil {
		w.optLeaf("ax21:cardId", o.Registration.CardID)
		if o.Card != nil {
			w.leaf("ax21:maskedPan", o.Card.Masked)
		}
		w.leaf("ax21:registrationStatus", registrationStatus(o))
	}
	endRespond(&w, "getRegistrationStatus")
	return w.Bytes()
}

// completeRegistration: true keeps the card, false drops it; the
// verification hold is released either way.
func (c *call) completeRegistration(body *node) error {
	ms, err := readMembers(body, c.op, nsOps, []string{"merchantId", "referenceNr", "registrationSuccess"})
	if err != nil {
		return err
	}
	req := &registrationCompletion{}
	if err := ms.strs("merchantId", &req.MerchantID, "referenceNr", &req.ReferenceNr); err != nil {
		return err
	}
	if req.Success, req.SuccessGiven, err = ms.xsBool("registrationSuccess"); err != nil {
		return err
	}
	c.journalRequest(req)
	m, o := c.followUpFor(req.MerchantID, req.ReferenceNr)
	switch {
	case o == nil:
		return nil
	case !req.SuccessGiven:
		c.falseAnswer(refuse("registrationSuccess", "required: true to keep the card, false not to"))
		return nil
	}
	res, err := c.s.svc.CompleteRegistration(c.r.Context(), payments.FollowUpRequest{
		OrderID: o.ID, Merchant: m.Merchant, Reply: payments.Reply{Request: c.reqPayload},
	}, req.Success)
	c.took(res)
	switch {
	case err != nil:
		c.falseAnswer(c.followUpRefusal(err))
	default:
		c.answer(boolResult(c.op, true))
	}
	return nil
}
