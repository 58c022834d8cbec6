// Package receipt makes an order's receipts ("торговый чек"): a page the
// shop and the buyer open by link, and the same receipt as PDF, in Kazakh,
// Russian or English, for each approved operation that moved or held money
// (a payment, a pre-authorization, its completion, each refund).
//
// A receipt shows what the Processing.kz brochure promises shops: the
// merchant's name and web site, the order number, the amount and
// currency, the date, the transaction number (RRN), the buyer's name, the
// authorization code, the operation type, the cart's lines (name, price,
// quantity, total), the masked card and a link to the merchant's return
// and refund conditions, with a QR code of the receipt's own link.
//
// The link carries a token, an HMAC of the order and operation ids under
// a key kept in the data file: whoever has the link reads the receipt
// (the shop sends it to the buyer), and nobody can guess another order's.
package receipt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// Config is the receipts section of the daemon's config.
type Config struct {
	// TimeZone the receipts' times are shown in. Default Asia/Almaty.
	TimeZone string `yaml:"time_zone"`
	// Merchants holds what a receipt shows of a merchant besides its
	// payments entry (name and web site).
	Merchants map[string]MerchantReceipt `yaml:"merchants"`
}

// MerchantReceipt is one merchant's receipt settings.
type MerchantReceipt struct {
	// TermsURL is the merchant's return and refund conditions.
	TermsURL string `yaml:"terms_url"`
	// EmailBuyer e-mails each receipt, PDF attached, to the order's
	// e-mail when it has one (the daemon's mail section sends it).
	EmailBuyer bool `yaml:"email_buyer"`
}

// Validate checks the section; errors name the key.
func (c Config) Validate() error {
	var errs []error
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			errs = append(errs, fmt.Errorf("receipts: time_zone: %q: %v", c.TimeZone, err))
		}
	}
	for id, m := range c.Merchants {
		if m.TermsURL != "" && !strings.HasPrefix(m.TermsURL, "https://") && !strings.HasPrefix(m.TermsURL, "http://") {
			errs = append(errs, fmt.Errorf("receipts: merchants.%s.terms_url: %q: an absolute http(s) URL", id, m.TermsURL))
		}
	}
	return errors.Join(errs...)
}

// Shop is what a receipt says of the merchant.
type Shop struct {
	Name, Site, TermsURL string
}

// View is one receipt, ready to render: every value already formatted in
// its language.
type View struct {
	Lang     string
	T        Texts
	Refund   bool
	Shop     Shop
	Number   string // the merchant's order number
	OrderID  string
	OpType   string // the operation, in words
	Amount   string // with its currency
	Time     string
	RRN      string
	AuthCode string
	Buyer    string
	Card     string // masked
	Items    []Item
	Total    string // the cart's total, when there is a cart
	URL      string // the receipt's own link (the QR code's content)
	PDFURL   string
	// Fiscal is the fiscal receipt of the operation, once the fiscal
	// service has issued it.
	Fiscal *Fiscal
}

// Fiscal is what a receipt shows of its fiscal receipt.
type Fiscal struct {
	Sign, Link, QR string
}

// Item is one cart line.
type Item struct {
	Name, Price, Quantity, Total string
}

// ErrNoReceipt means the order has no approved operation the receipt
// could be of (not paid, declined, or an unknown operation).
var ErrNoReceipt = errors.New("receipt: no approved operation to make a receipt of")

// Receipted reports whether op gets a receipt: approved, and money moved
// or held.
func Receipted(op *order.Operation) bool {
	if op.Status != order.OpApproved {
		return false
	}
	switch op.Type {
	case order.OpPurchase, order.OpAuthorization, order.OpCompletion, order.OpRefund:
		return true
	}
	return false
}

// Operation picks the operation a receipt is of: opID, or without one the
// payment (the completion of a two-stage payment when there is one, else
// its pre-authorization or purchase).
func Operation(o *order.Order, opID string) (*order.Operation, error) {
	if opID != "" {
		op := o.Op(opID)
		if op == nil || !Receipted(op) {
			return nil, ErrNoReceipt
		}
		return op, nil
	}
	var best *order.Operation
	for i := range o.Ops {
		op := &o.Ops[i]
		if !Receipted(op) || op.Type == order.OpRefund {
			continue
		}
		if best == nil || op.Type == order.OpCompletion || (best.Type == order.OpAuthorization && op.Type == order.OpPurchase) {
			best = op
		}
	}
	if best == nil {
		return nil, ErrNoReceipt
	}
	return best, nil
}

// Build makes op's receipt of o in lang (kk, ru or en; ru when unknown).
func Build(o *order.Order, op *order.Operation, shop Shop, lang string, loc *time.Location, url, pdfURL string) *View {
	lang = Language(lang)
	t := texts[lang]
	v := &View{Lang: lang, T: t, Refund: op.Type == order.OpRefund, Shop: shop, Number: o.Number, OrderID: o.ID,
		OpType: t.OpTypes[op.Type], Amount: Money(op.Amount, o.Currency, lang), Time: op.Time.In(loc).Format("02.01.2006 15:04:05"),
		RRN: op.RRN, AuthCode: op.ApprovalCode, URL: url, PDFURL: pdfURL}
	if o.Card != nil {
		v.Card = strings.TrimSpace(strings.ToUpper(o.Card.Brand) + " " + o.Card.Masked)
		v.Buyer = o.Card.Holder
	}
	if v.Buyer == "" && o.Shop != nil {
		v.Buyer = o.Shop.BuyerName
	}
	if v.Buyer == "" {
		v.Buyer = o.Customer
	}
	for _, f := range o.Fiscal {
		if f.OpID == op.ID && f.FiscalSign != "" {
			v.Fiscal = &Fiscal{Sign: f.FiscalSign, Link: f.Link, QR: f.QR}
		}
	}
	var total int64
	for _, c := range o.Cart {
		line := c.Amount
		if line == 0 {
			line = c.Price * c.Quantity
		}
		qty := strconv.FormatInt(c.Quantity, 10)
		if c.QuantityDecimal != "" {
			qty = c.QuantityDecimal
		}
		if c.Measure != "" {
			qty += " " + c.Measure
		}
		v.Items = append(v.Items, Item{Name: c.Name, Price: Money(c.Price, o.Currency, lang), Quantity: qty, Total: Money(line, o.Currency, lang)})
		total += line
	}
	if len(v.Items) > 0 {
		v.Total = Money(total, o.Currency, lang)
	}
	return v
}

// Language is lang if receipts speak it, else Russian (kz is Kazakh, as
// shops' plugins write it).
func Language(lang string) string {
	lang = strings.ToLower(lang)
	if lang == "kz" {
		lang = "kk"
	}
	if _, ok := texts[lang]; ok {
		return lang
	}
	return "ru"
}

// Money formats minor units with the currency as people of lang write it:
// "1 500,50 ₸" (kk, ru), "KZT 1,500.50" (en).
func Money(minor int64, currency, lang string) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	whole, frac := minor/100, minor%100
	digits := strconv.FormatInt(whole, 10)
	sep, dec := "\u00a0", ","
	if lang == "en" {
		sep, dec = ",", "."
	}
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(d)
	}
	num := fmt.Sprintf("%s%s%s%02d", sign, b.String(), dec, frac)
	sym, code := currencies[currency].symbol, currencies[currency].code
	if code == "" {
		sym, code = currency, currency
	}
	if lang == "en" {
		return code + " " + num
	}
	return num + "\u00a0" + sym
}

var currencies = map[string]struct{ code, symbol string }{
	"398": {"KZT", "₸"}, "643": {"RUB", "₽"}, "840": {"USD", "$"}, "978": {"EUR", "€"},
}
