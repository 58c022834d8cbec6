package cnp

import (
	"crypto/rand"
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
)

// The guide's rules on what a shop sends (2.1.1 and its tables), each
// refusal naming the field.

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
	maxRefundID    = 64 // as RBS refund.do's externalRefundId
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
		item := order.CartItem{Name: g.Name, Quantity: 1, Price: price, Code: g.ID}
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

// refundIDKey is the additionalInformation key by which a shop gives a
// refund an id of its own. The vendor's refundTransaction has none, so a
// retry after a lost answer would refund again; with one, the same id
// answers the first refund's outcome and sends nothing to the bank, as
// RBS refund.do's externalRefundId (the same refund: order.RefundIdemKey).
const refundIDKey = "externalRefundId"

// refundID is the refund's id from its additionalInformation ("" when it
// has none); more than one, or one too long, is refused.
func refundID(field string, in []infoItem) (string, *refusal) {
	id, seen := "", false
	for i, it := range in {
		if it.Key != refundIDKey {
			continue
		}
		at := fmt.Sprintf("%s.%d.value", field, i+1)
		if seen {
			return "", refuse(at, refundIDKey+" is given twice")
		}
		if r := text(at, it.Value, maxRefundID); r != nil {
			return "", r
		}
		id, seen = it.Value, true
	}
	return id, nil
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
