package cnp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// merchantFor finds the request's merchant and admits the caller. nil with
// a nil error: unknown merchant (the caller answers in its words); a
// refusal: disabled; errDenied: the fault is sent.
func (c *call) merchantFor(mid string) (*merchant, error) {
	m := c.s.merchants[mid]
	if m == nil {
		c.s.log.Warn().Str("merchant_id", safeLog(mid)).Str("remote", clientip.Host(c.r)).Str("operation", c.op).Msg("cnp request for an unknown merchantId")
		return nil, nil
	}
	if err := c.admit(m); err != nil {
		return nil, err
	}
	if m.Disabled {
		return m, refuse("merchantId", "the merchant is disabled")
	}
	return m, nil
}

// safeLog trims what a stranger sent before it reaches a log line.
func safeLog(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.ToValidUTF8(s, "?")
}

// startTransaction: guide 2.1.
func (c *call) startTransaction(body *node) error {
	ms, err := readMembers(body, "startTransaction", nsOps, []string{"transaction"})
	if err != nil {
		return err
	}
	var t *transactionDetails
	if n := ms.one("transaction"); n != nil {
		if t, err = readTransactionDetails(n, "transaction"); err != nil {
			return err
		}
	}
	c.journalRequest(t)
	if t == nil {
		c.startRefused("", refuse("transaction", "required"))
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
	req, given, r := m.registration(t, false)
	if r != nil {
		c.startRefused(t.CustomerReference, r)
		return nil
	}
	c.register(m, req, given, t.ReturnURL)
	return nil
}

// registration checks a TransactionDetails and makes it a payments
// registration; given says the shop chose the reference. A card
// registration (startRegistration) has no goods and no order id.
func (m *merchant) registration(t *transactionDetails, card bool) (payments.RegisterRequest, bool, *refusal) {
	req := payments.RegisterRequest{Merchant: m.Merchant, TwoStage: !m.AutoSettlement, Description: t.Description, Email: t.PurchaserEmail}
	ref := t.CustomerReference
	if ref != "" && !referenceRe.MatchString(ref) {
		return req, false, refuse("customerReference", "1 to 12 latin letters, digits or spaces")
	}
	if t.OrderID == "" && !card {
		return req, false, refuse("orderId", "required")
	}
	if len(t.OrderID) > maxOrderID || !printable(t.OrderID) {
		return req, false, refuse("orderId", fmt.Sprintf("1 to %d printable ASCII characters", maxOrderID))
	}
	var r *refusal
	if req.Amount, r = parseMinor("totalAmount", t.TotalAmount, false); r != nil {
		return req, false, r
	}
	if req.Currency, r = m.currency("currencyCode", t.CurrencyCode); r != nil {
		return req, false, r
	}
	if req.Language, r = language(t.LanguageCode); r != nil {
		return req, false, r
	}
	if r = localTime(t.LocalDateTime); r != nil {
		return req, false, r
	}
	if t.TerminalID != "" && !m.terminals[t.TerminalID] {
		return req, false, refuse("terminalID", "not a terminal of this merchant (leave it out when none was assigned)")
	}
	if len(t.Goods) == 0 && !card {
		return req, false, refuse("goodsList", "at least one item is required")
	}
	if req.Cart, r = m.goodsToCart("goodsList", t.Goods, req.Currency); r != nil {
		return req, false, r
	}
	info, r := infoList("merchantAdditionalInformationList", t.Info)
	if r != nil {
		return req, false, r
	}
	if r = text("description", t.Description, maxDescription); r != nil {
		return req, false, r
	}
	if r = purchaser(t.PurchaserEmail, t.PurchaserName, t.PurchaserPhone); r != nil {
		return req, false, r
	}
	for k, v := range t.BillingAddress {
		if r = text("billingAddress."+k, v, maxPurchaser); r != nil {
			return req, false, r
		}
	}
	if r = text("cardId", t.CardID, 64); r != nil {
		return req, false, r
	}
	req.CardID = t.CardID
	// The URL is checked now; the reference is appended once known.
	if _, r = m.returnURL(t.ReturnURL, ""); r != nil {
		return req, false, r
	}
	req.Number = ref
	req.Shop = &order.MerchantData{OrderID: t.OrderID, LocalTime: t.LocalDateTime, Terminal: t.TerminalID,
		BuyerName: t.PurchaserName, BuyerPhone: t.PurchaserPhone, Info: info}
	if len(info) == 0 {
		req.Shop.Info = nil
	}
	return req, ref != "", nil
}

// register creates the order: with the shop's reference, a repeat of the
// same request (a retry after a lost answer) answers the same; with one
// the switch makes, a clash with an earlier reference draws another.
func (c *call) register(m *merchant, req payments.RegisterRequest, given bool, rawReturn string) {
	ctx := c.r.Context()
	for attempt := 0; ; attempt++ {
		if !given {
			ref, err := m.newReference()
			if err != nil {
				c.s.log.Error().Err(err).Msg("cnp reference")
				c.startRefused("", refuse("", "System error, try again later"))
				return
			}
			req.Number = ref
		}
		req.ReturnURL, _ = m.returnURL(rawReturn, req.Number)
		req.SameAgain = given
		req.Reply = c.reply(func(o *order.Order) []byte {
			return startResult(c.op, o.Number, c.s.redirectURL(o), "")
		})
		res, err := c.s.svc.Register(ctx, req)
		switch {
		case errors.Is(err, order.ErrDuplicateNumber) && !given && attempt < 5:
			continue
		case errors.Is(err, order.ErrDuplicateNumber):
			c.startRefused(req.Number, refuse("customerReference", "already used by another transaction of this merchant"))
		case err != nil:
			c.startRefused(req.Number, c.flowRefusal(err))
		case !c.took(res):
			c.answer(startResult(c.op, res.Order.Number, c.s.redirectURL(res.Order), ""))
		}
		return
	}
}

// redirectURL is where the shop sends the buyer: the hosted page.
func (s *Server) redirectURL(o *order.Order) string { return s.cfg.PaymentPageURL + "/" + o.ID }

// startRefused answers success=false. A storage failure is answered as
// unavailable (nothing was done; the same request later will work).
func (c *call) startRefused(reference string, r *refusal) {
	if r.reason == msgUnavailable {
		c.unavailable()
		return
	}
	c.outcome = "refused"
	c.answer(startResult(c.op, reference, "", r.Error()))
}

// payments names a few fields its own way.
var paymentsFields = map[string]string{"orderNumber": "customerReference", "amount": "totalAmount", "currency": "currencyCode", "language": "languageCode"}

// flowRefusal turns a payments error into the operation's refusal.
func (c *call) flowRefusal(err error) *refusal {
	var in *order.InputError
	switch {
	case errors.As(err, &in):
		f := in.Field
		if n, ok := paymentsFields[f]; ok {
			f = n
		}
		return refuse(f, in.Reason)
	case errors.Is(err, payments.ErrStorage):
		return refuse("", msgUnavailable)
	case errors.Is(err, payments.ErrInProgress):
		return refuse("", "an operation on this transaction is in progress, check its status later")
	}
	c.s.log.Error().Err(err).Str("operation", c.op).Msg("payments error")
	return refuse("", "System error, try again later")
}
