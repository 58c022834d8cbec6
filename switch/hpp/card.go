package hpp

import (
	"encoding/json"
	"errors"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// Form field names; autocomplete attributes match them in the template.
const (
	fieldPAN    = "pan"
	fieldExpiry = "expiry"
	fieldCVV    = "cvv2"
	fieldHolder = "holder"
	fieldEmail  = "email"
	fieldLang   = "lang"
)

// maxHolder is the longest cardholder name accepted (ISO/IEC 7813 track 1
// holds 26 characters; e-commerce forms allow a little more).
const maxHolder = 45

// cardForm is the submitted form. The PAN and CVV2 live here only for the
// length of the request and are never written back into a page.
type cardForm struct {
	card   payments.CardInput
	email  string
	errors map[string]string // field → text key
}

// parseCardForm reads and checks what the buyer typed. Separators a
// buyer or a browser's autofill may add (spaces, dashes) are dropped.
func parseCardForm(get func(string) string, now time.Time) cardForm {
	f := cardForm{errors: map[string]string{}}
	f.card.PAN = digitsOnly(get(fieldPAN))
	f.card.CVV2 = strings.TrimSpace(get(fieldCVV))
	f.card.Holder = strings.Join(strings.Fields(get(fieldHolder)), " ")
	f.email = strings.TrimSpace(get(fieldEmail))

	// The page takes the brands routing knows: routing.BrandOf is the
	// module's one BIN table, and the script's badge reads it too.
	brand := routing.BrandOf(f.card.PAN)
	if iso.ValidPAN(f.card.PAN) != nil {
		f.errors[fieldPAN] = "err_pan"
	} else if brand == "" {
		f.errors[fieldPAN] = "err_brand"
	}
	exp, ok := parseExpiry(get(fieldExpiry))
	switch {
	case !ok:
		f.errors[fieldExpiry] = "err_expiry"
	case expired(exp, now):
		f.errors[fieldExpiry] = "err_expired"
	}
	f.card.Expiry = exp
	want := 3
	if brand == routing.BrandAmex {
		want = 4
	}
	if len(f.card.CVV2) != want || !isDigits(f.card.CVV2) {
		f.errors[fieldCVV] = "err_cvv"
	}
	if !validHolder(f.card.Holder) {
		f.errors[fieldHolder] = "err_holder"
	}
	if f.email != "" {
		if a, err := mail.ParseAddress(f.email); err != nil || a.Address != f.email || len(f.email) > 254 {
			f.errors[fieldEmail] = "err_email"
		}
	}
	return f
}

// parseStoredForm reads the form of an order paid with a registered card
// of brand: the CVV2 alone.
func parseStoredForm(get func(string) string, brand string) cardForm {
	f := cardForm{errors: map[string]string{}}
	f.card.CVV2 = strings.TrimSpace(get(fieldCVV))
	want := 3
	if brand == routing.BrandAmex {
		want = 4
	}
	if len(f.card.CVV2) != want || !isDigits(f.card.CVV2) {
		f.errors[fieldCVV] = "err_cvv"
	}
	return f
}

// payError maps an error of payments.Pay about card data to the field it
// names ("invalid card data: pan: fails the Luhn check"), so the page can
// highlight it. ok is false for errors that are not about card data.
func payError(err error) (field, key string, ok bool) {
	if !errors.Is(err, payments.ErrCard) {
		return "", "", false
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "pan:"):
		return fieldPAN, "err_pan", true
	case strings.Contains(msg, "expiry:") && strings.Contains(msg, "expired"):
		return fieldExpiry, "err_expired", true
	case strings.Contains(msg, "expiry:"):
		return fieldExpiry, "err_expiry", true
	case strings.Contains(msg, "cvv2:"):
		return fieldCVV, "err_cvv", true
	}
	return fieldPAN, "err_pan", true
}

// parseExpiry turns "MM/YY" (or "MMYY", "MM / YY", "MM/YYYY") into DE14's
// YYMM.
func parseExpiry(s string) (string, bool) {
	d := digitsOnly(s)
	if len(d) == 6 && d[2:4] == "20" { // MM/YYYY
		d = d[:2] + d[4:]
	}
	if len(d) != 4 {
		return "", false
	}
	mm, yy := d[:2], d[2:]
	if mm < "01" || mm > "12" {
		return "", false
	}
	return yy + mm, true
}

// expired reports whether a YYMM card expired before now's month: a card
// is good through the last day of its expiry month.
func expired(yymm string, now time.Time) bool {
	year := 2000 + int(yymm[0]-'0')*10 + int(yymm[1]-'0')
	month := int(yymm[2]-'0')*10 + int(yymm[3]-'0')
	return !now.Before(time.Date(year, time.Month(month)+1, 1, 0, 0, 0, 0, time.UTC))
}

func validHolder(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > maxHolder {
		return false
	}
	letters := 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case r == ' ' || r == '.' || r == '-' || r == '\'':
		default:
			return false
		}
	}
	return letters >= 2
}

// brandTable is routing's brand table as the page's script reads it from
// the form's data-brands attribute: [[digits, lo, hi, brand], …], shortest
// prefix first (routing.BrandTable). The script keeps no table of its own,
// so the badge a buyer sees and the server's check cannot disagree.
var brandTable = func() string {
	var rows [][4]any
	for _, r := range routing.BrandTable() {
		rows = append(rows, [4]any{r.Digits, r.Lo, r.Hi, r.Brand})
	}
	b, _ := json.Marshal(rows) // ints and strings: it cannot fail
	return string(b)
}()

func digitsOnly(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 32; i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
