package cnp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// Limits on what a shop may send (the guide's where it has them).
const (
	maxAmount      = 1_000_000_000_000 // minor units: ten billion tenge
	maxGoods       = 100
	maxGoodsName   = 255
	maxGoodsID     = 256
	maxInfo        = 50
	maxInfoKey     = 40
	maxInfoValue   = 4000
	maxPurchaser   = 255
	maxDescription = 512
	maxOrderID     = 64
	maxReturnURL   = 2048
	maxRefundText  = 1000
)

// refusal is a request the operation refuses in its own words: success =
// false with errorDescription, false, or a status value. Its text names
// the field and stays in plain ASCII letters, digits and ".,:()-_/ ": the
// OpenCart module puts errorDescription into a URL unescaped.
type refusal struct{ field, reason string }

func (r *refusal) Error() string {
	if r.field == "" {
		return r.reason
	}
	return r.field + ": " + r.reason
}

func refuse(field, reason string) *refusal { return &refusal{field, reason} }

var referenceRe = regexp.MustCompile(`^[0-9A-Za-z ]{1,12}$`)

// parseMinor reads an amount in minor units as the guide spells it: an
// integer, no decimal point, no sign (1000.00 KZT is "100000").
func parseMinor(field, s string, zeroOK bool) (int64, *refusal) {
	switch {
	case s == "":
		return 0, refuse(field, "required")
	case !digits(s):
		return 0, refuse(field, "a whole number of minor units without decimal point or sign (1000.00 KZT is 100000)")
	case len(s) > 1 && s[0] == '0':
		return 0, refuse(field, "must not start with 0")
	case len(s) > 13:
		return 0, refuse(field, "at most 1000000000000")
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	switch {
	case n > maxAmount:
		return 0, refuse(field, "at most 1000000000000")
	case n == 0 && !zeroOK:
		return 0, refuse(field, "must be more than 0")
	}
	return n, nil
}

// text checks a free text member: valid UTF-8, no control characters, at
// most n characters.
func text(field, s string, n int) *refusal {
	if !utf8.ValidString(s) {
		return refuse(field, "not UTF-8")
	}
	if utf8.RuneCountInString(s) > n {
		return refuse(field, fmt.Sprintf("at most %d characters", n))
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return refuse(field, "control characters are not allowed")
		}
	}
	return nil
}

// language maps languageCode to the switch's: the guide's "kz" is Kazakh,
// which the switch (and ISO 639-1) calls "kk"; "kk" is taken too, and case
// does not matter.
func language(s string) (string, *refusal) {
	switch strings.ToLower(s) {
	case "ru":
		return "ru", nil
	case "kz", "kk":
		return "kk", nil
	case "en":
		return "en", nil
	case "":
		return "", refuse("languageCode", "required, supported: ru, kz, en")
	}
	return "", refuse("languageCode", "not supported, supported: ru, kz, en")
}

// currency reads currencyCode (an xs:int) into three digits and checks the
// merchant may charge in it.
func (m *merchant) currency(field, s string) (string, *refusal) {
	if s == "" {
		return "", refuse(field, "required (398 for KZT)")
	}
	n, _ := strconv.Atoi(s)
	if n <= 0 || n > 999 {
		return "", refuse(field, "not an ISO 4217 numeric currency code")
	}
	c := fmt.Sprintf("%03d", n)
	if !m.currencies[c] {
		var on []string
		for k := range m.currencies {
			on = append(on, k)
		}
		return "", refuse(field, fmt.Sprintf("%s is not enabled for this merchant, enabled: %s", c, strings.Join(sortStrings(on), " ")))
	}
	return c, nil
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// localTime checks merchantLocalDateTime: dd.mm.yyyy hh24:mi:ss. It is
// kept as sent; the switch keeps its own clock.
func localTime(s string) *refusal {
	if s == "" {
		return refuse("merchantLocalDateTime", "required, dd.mm.yyyy hh24:mi:ss")
	}
	if _, err := time.Parse("02.01.2006 15:04:05", s); err != nil {
		return refuse("merchantLocalDateTime", "not dd.mm.yyyy hh24:mi:ss (01.02.2012 18:34:58)")
	}
	return nil
}

// returnURL checks the returnURL and, when it ends with "=", appends the
// transaction's reference, so the shop reads it from its own parameter
// (guide 2.1.1). The switch calls the URL itself too, so it must name the
// merchant's own hosts when those are configured, and otherwise a host
// that is not plainly private.
func (m *merchant) returnURL(raw, reference string) (string, *refusal) {
	const field = "returnURL"
	if raw == "" {
		return "", refuse(field, "required")
	}
	if len(raw) > maxReturnURL {
		return "", refuse(field, fmt.Sprintf("at most %d characters", maxReturnURL))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		return "", refuse(field, "must be an absolute http or https URL")
	case u.User != nil:
		return "", refuse(field, "must not carry credentials")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", refuse(field, "must not have a fragment")
	case len(m.ReturnHosts) > 0 && !hostAllowed(u.Hostname(), m.ReturnHosts):
		return "", refuse(field, "the host is not one of the return hosts of this merchant")
	case len(m.ReturnHosts) == 0 && privateHost(u.Hostname()):
		return "", refuse(field, "must name a public host")
	}
	if strings.HasSuffix(raw, "=") {
		raw += url.QueryEscape(reference)
	}
	return raw, nil
}

// goodsToCart checks a goods list and makes it the order's cart. The guide:
// the list is shown to the buyer and kept for the receipt, and its sum is
// not reconciled with the total. A GoodsItem has no quantity: each is one
// line of the amount given.
func (m *merchant) goodsToCart(field string, goods []goodsItem, currency string) ([]order.CartItem, *refusal) {
	if len(goods) > maxGoods {
		return nil, refuse(field, fmt.Sprintf("at most %d items", maxGoods))
	}
	cart := make([]order.CartItem, 0, len(goods))
	for i, g := range goods {
		at := fmt.Sprintf("%s.%d", field, i+1)
		if g.Name == "" {
			return nil, refuse(at+".nameOfGoods", "required")
		}
		if r := text(at+".nameOfGoods", g.Name, maxGoodsName); r != nil {
			return nil, r
		}
		if r := text(at+".merchantsGoodsID", g.ID, maxGoodsID); r != nil {
			return nil, r
		}
		price, r := parseMinor(at+".amount", g.Amount, true)
		if r != nil {
			return nil, r
		}
		if g.CurrencyCode == "" {
			return nil, refuse(at+".currencyCode", "required (398 for KZT)")
		}
		n, _ := strconv.Atoi(g.CurrencyCode)
		if n <= 0 || n > 999 {
			return nil, refuse(at+".currencyCode", "not an ISO 4217 numeric currency code")
		}
		item := order.CartItem{Name: g.Name, Quantity: 1, Price: price, ID: g.ID}
		if c := fmt.Sprintf("%03d", n); c != currency {
			item.Currency = c
		}
		cart = append(cart, item)
	}
	return cart, nil
}

func infoList(field string, in []infoItem) ([]order.Info, *refusal) {
	if len(in) > maxInfo {
		return nil, refuse(field, fmt.Sprintf("at most %d items", maxInfo))
	}
	out := make([]order.Info, 0, len(in))
	for i, it := range in {
		at := fmt.Sprintf("%s.%d", field, i+1)
		if r := text(at+".key", it.Key, maxInfoKey); r != nil {
			return nil, r
		}
		if r := text(at+".value", it.Value, maxInfoValue); r != nil {
			return nil, r
		}
		out = append(out, order.Info{Key: it.Key, Value: it.Value})
	}
	return out, nil
}

// purchaser checks the purchaser members.
func purchaser(email, name, phone string) *refusal {
	for _, f := range []struct{ field, v string }{{"purchaserEmail", email}, {"purchaserName", name}, {"purchaserPhone", phone}} {
		if r := text(f.field, f.v, maxPurchaser); r != nil {
			return r
		}
	}
	if email != "" {
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			return refuse("purchaserEmail", "not an e-mail address")
		}
	}
	return nil
}

// newReference is a customerReference the switch makes: the merchant's
// two-character prefix and ten random capital letters and digits, as the
// guide recommends (AAxxxxxxxxxx).
func (m *merchant) newReference() (string, error) {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := []byte(m.ReferencePrefix)
	for len(b) < 12 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", fmt.Errorf("cnp: reference: %w", err)
		}
		b = append(b, alphabet[n.Int64()])
	}
	return string(b), nil
}

// merchantFor finds the request's merchant and admits the caller. nil with
// a nil error: unknown merchant (the caller answers in its words); a
// refusal: disabled; errDenied: the fault is sent.
func (c *call) merchantFor(mid string) (*merchant, error) {
	m := c.s.merchants[mid]
	if m == nil {
		c.s.log.Warn().Str("merchant_id", safeLog(mid)).Str("remote", clientIP(c.r)).Str("operation", c.op).Msg("cnp request for an unknown merchantId")
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
