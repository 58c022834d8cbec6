// Package paylinks is payment links and invoices: a short, unguessable
// link (and its QR code) that opens a small page where the buyer pays a
// merchant an amount, fixed or of the buyer's choosing. Paying registers
// an ordinary order (payments.Service.Register) and sends the buyer to the
// hosted payment page, so every API, report and the cabinet see it; the
// order's params record the link's code.
//
// An invoice is a one-time link made out to a buyer (e-mail, name,
// pay-by deadline): it is e-mailed to the buyer through store-and-forward
// and, once paid, shows "already paid".
//
// Links are kept in the data file's payment_links bucket, each create and
// change written with a journal entry holding the link in the same
// commit (channel payment_link).
package paylinks

import (
	"crypto/rand"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// Link is a payment link or invoice as stored and journaled.
type Link struct {
	Code     string `json:"code"`
	Merchant string `json:"merchant"`
	// OneTime links (invoices) are paid once; a reusable link takes any
	// number of payments.
	OneTime bool `json:"one_time,omitempty"`
	// Amount is fixed when positive; when zero the buyer chooses it
	// between MinAmount and MaxAmount (minor units, both inclusive).
	Amount      int64            `json:"amount,omitempty"`
	MinAmount   int64            `json:"min_amount,omitempty"`
	MaxAmount   int64            `json:"max_amount,omitempty"`
	Currency    string           `json:"currency"`
	Description string           `json:"description,omitempty"`
	Language    string           `json:"language"`
	Cart        []order.CartItem `json:"cart,omitempty"`
	// Email and Name are the buyer's when the merchant fixed them (an
	// invoice's addressee); AskEmail and AskName make the buyer fill them
	// in on the page when they are not fixed.
	Email    string `json:"email,omitempty"`
	Name     string `json:"name,omitempty"`
	AskEmail bool   `json:"ask_email,omitempty"`
	AskName  bool   `json:"ask_name,omitempty"`
	TwoStage bool   `json:"two_stage,omitempty"`
	// Fields are the merchant's own questions the buyer answers on the
	// page (a contract number, a room); the answers go into the order's
	// params under each field's name.
	Fields []Field `json:"fields,omitempty"`
	// ReturnURL is where the hosted page sends the buyer after paying;
	// empty for the merchant's site.
	ReturnURL string    `json:"return_url,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt ends the link; zero for a perpetual one.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// DisabledAt is when the merchant switched the link off; zero while on.
	DisabledAt time.Time `json:"disabled_at,omitzero"`
	// OrderCount is how many orders were registered through the link;
	// their ids are in a bucket of their own (Service.OrderIDs), so that a
	// perpetual link's record stays small however often it is paid.
	OrderCount int `json:"order_count,omitempty"`
}

// Field is a custom field of a link's form.
type Field struct {
	Name     string `json:"name"`  // the order param's key: a-z, 0-9, _
	Label    string `json:"label"` // as the buyer reads it
	Required bool   `json:"required,omitempty"`
}

// Limits of custom fields.
const (
	MaxFields     = 5
	MaxFieldLabel = 64
	MaxFieldValue = 256
	MaxCart       = 100
)

// State is what a link can do now.
type State string

// States.
const (
	Active   State = "active"
	Expired  State = "expired"
	Disabled State = "disabled"
	Paid     State = "paid" // a one-time link whose order is paid
)

// ParamLink is the order param that names the link an order was paid
// through.
const ParamLink = "payment_link"

// Limits.
const (
	CodeLength     = 10
	MaxDescription = 512
	MaxName        = 128
	maxAmount      = 1_000_000_000_000 // minor units, as the JSON API's
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newCode is CodeLength base62 characters from crypto/rand (59 bits):
// short enough for a QR code and a chat message, too many to guess.
func newCode() string {
	b := make([]byte, CodeLength)
	var r [1]byte
	for i := 0; i < len(b); {
		rand.Read(r[:])
		if r[0] >= 248 { // 248 = 4*62: no bias toward the first letters
			continue
		}
		b[i] = base62[r[0]%62]
		i++
	}
	return string(b)
}

// validCode says whether s could be a code, before any lookup.
func validCode(s string) bool {
	if len(s) != CodeLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// FieldError is an input refused, naming the field as the JSON API names
// it.
type FieldError struct {
	Field, Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func bad(field, format string, a ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// currencies the switch accepts, with their sign.
var currencies = map[string]struct {
	alpha, sign string
}{"398": {"KZT", "₸"}, "840": {"USD", "$"}, "978": {"EUR", "€"}, "643": {"RUB", "₽"}}

// Validate checks a link the merchant asks for at now; errors are
// FieldErrors.
func (l *Link) Validate(now time.Time) error {
	switch {
	case l.Amount < 0 || l.Amount > maxAmount:
		return bad("amount", "must be a positive number of minor units up to %d", int64(maxAmount))
	case l.Amount > 0 && (l.MinAmount != 0 || l.MaxAmount != 0):
		return bad("min_amount", "only for a link whose buyer chooses the amount (no amount)")
	case l.Amount == 0 && l.MinAmount <= 0:
		return bad("min_amount", "is required when the buyer chooses the amount (no amount), positive")
	case l.Amount == 0 && (l.MaxAmount < l.MinAmount || l.MaxAmount > maxAmount):
		return bad("max_amount", "must be at least min_amount and at most %d", int64(maxAmount))
	case l.Amount == 0 && l.OneTime:
		return bad("amount", "is required for a one-time link (invoice)")
	}
	if _, ok := currencies[l.Currency]; !ok {
		return bad("currency", "must be an ISO 4217 numeric code the switch accepts: 398, 840, 978 or 643")
	}
	if !validText(l.Description, MaxDescription) {
		return bad("description", "must be at most %d printable characters", MaxDescription)
	}
	if _, ok := texts[l.Language]; !ok {
		return bad("language", "must be ru, kk or en")
	}
	if l.Email != "" {
		if !validEmail(l.Email) {
			return bad("customer_email", "must be an e-mail address")
		}
		if l.AskEmail {
			return bad("ask_email", "the buyer cannot fill an e-mail the link fixes (customer_email)")
		}
	}
	if !validText(l.Name, MaxName) {
		return bad("customer_name", "must be at most %d printable characters", MaxName)
	}
	if l.Name != "" && l.AskName {
		return bad("ask_name", "the buyer cannot fill a name the link fixes (customer_name)")
	}
	if l.ReturnURL != "" {
		u, err := url.Parse(l.ReturnURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("return_url", "must be an absolute http(s) URL")
		}
	}
	if !l.ExpiresAt.IsZero() && !l.ExpiresAt.After(now) {
		return bad("expires_at", "must be in the future")
	}
	if len(l.Fields) > MaxFields {
		return bad("custom_fields", "at most %d", MaxFields)
	}
	seen := map[string]bool{}
	for i, f := range l.Fields {
		at := fmt.Sprintf("custom_fields[%d]", i)
		if !validFieldName(f.Name) || f.Name == ParamLink {
			return bad(at+".name", "must be 1 to 32 of a-z, 0-9 and _, not %s", ParamLink)
		}
		if seen[f.Name] {
			return bad(at+".name", "%q twice", f.Name)
		}
		seen[f.Name] = true
		if strings.TrimSpace(f.Label) == "" || !validText(f.Label, MaxFieldLabel) {
			return bad(at+".label", "must be 1 to %d printable characters", MaxFieldLabel)
		}
	}
	if len(l.Cart) > MaxCart {
		return bad("cart", "at most %d lines", MaxCart)
	}
	var total int64
	for i, it := range l.Cart {
		at := fmt.Sprintf("cart[%d]", i)
		switch {
		case strings.TrimSpace(it.Name) == "" || !validText(it.Name, MaxName):
			return bad(at+".name", "must be 1 to %d printable characters", MaxName)
		case it.Quantity <= 0 || it.Quantity > 1_000_000:
			return bad(at+".quantity", "must be a whole number from 1 to 1000000")
		case it.Price <= 0 || it.Price > maxAmount:
			return bad(at+".price", "must be a positive number of minor units up to %d", int64(maxAmount))
		}
		total += it.Quantity * it.Price
		if total > maxAmount {
			return bad("cart", "the lines' total exceeds %d", int64(maxAmount))
		}
	}
	if len(l.Cart) > 0 && total != l.Amount { // a link the buyer chooses the amount of has no cart
		return bad("cart", "the lines' total %d is not the amount %d", total, l.Amount)
	}
	return nil
}

func validFieldName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// validEmail: a bare address, as a mail header takes it.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && len(s) <= 254
}

// validText: at most max characters, no control characters.
func validText(s string, max int) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// StateAt is the link's state at now; paid says whether an order of it
// is paid (the caller reads the orders).
func (l *Link) StateAt(now time.Time, paid bool) State {
	switch {
	case l.OneTime && paid:
		return Paid
	case !l.DisabledAt.IsZero():
		return Disabled
	case !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt):
		return Expired
	}
	return Active
}
