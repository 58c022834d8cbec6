package cabinet

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// currencies the cabinet names with a sign; others show their ISO 4217
// alphabetic code when known, else the numeric one. All have two decimals
// but those listed with 0.
var currencies = map[string]struct {
	sign, code string
	exp        int
}{
	"398": {"₸", "KZT", 2}, "643": {"₽", "RUB", 2}, "840": {"$", "USD", 2}, "978": {"€", "EUR", 2},
	"156": {"¥", "CNY", 2}, "417": {"сом", "KGS", 2}, "860": {"сўм", "UZS", 2}, "392": {"¥", "JPY", 0}, "410": {"₩", "KRW", 0},
}

func exponent(currency string) int {
	if c, ok := currencies[currency]; ok {
		return c.exp
	}
	return 2
}

// currencyCode is the alphabetic code of a numeric one ("398" → "KZT").
func currencyCode(currency string) string {
	if c, ok := currencies[currency]; ok {
		return c.code
	}
	return currency
}

// nbsp keeps an amount on one line.
const nbsp = "\u00a0"

// plainAmount writes minor units as the manual does, without a sign:
// 1000000 tiyn is "10 000.00" (no-break spaces between groups).
func plainAmount(minor int64, currency string) string {
	exp := exponent(currency)
	neg := minor < 0
	if neg {
		minor = -minor
	}
	s := strconv.FormatInt(minor, 10)
	for len(s) <= exp {
		s = "0" + s
	}
	whole, frac := s[:len(s)-exp], s[len(s)-exp:]
	var b strings.Builder
	if neg {
		b.WriteString("−")
	}
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(nbsp)
		}
		b.WriteRune(d)
	}
	if exp > 0 {
		b.WriteString(".")
		b.WriteString(frac)
	}
	return b.String()
}

// money is plainAmount with the currency's sign: "10 000.00 ₸".
func money(minor int64, currency string) string {
	sign := currency
	if c, ok := currencies[currency]; ok {
		sign = c.sign
	}
	return plainAmount(minor, currency) + nbsp + sign
}

// decimal is an amount for files: "10000.00", no groups, a dot.
func decimal(minor int64, currency string) string {
	exp := exponent(currency)
	neg := minor < 0
	if neg {
		minor = -minor
	}
	s := strconv.FormatInt(minor, 10)
	for len(s) <= exp {
		s = "0" + s
	}
	out := s[:len(s)-exp]
	if exp > 0 {
		out += "." + s[len(s)-exp:]
	}
	if neg {
		out = "-" + out
	}
	return out
}

var errAmount = errors.New("not an amount")

// parseAmount reads what a person types for money ("1500", "1 500.5",
// "1500,50") as minor units of currency. Empty is 0.
func parseAmount(s, currency string) (int64, error) {
	s = strings.NewReplacer(" ", "", nbsp, "", "\u202f", "", "₸", "").Replace(strings.TrimSpace(s))
	if s == "" {
		return 0, nil
	}
	s = strings.Replace(s, ",", ".", 1)
	whole, frac, _ := strings.Cut(s, ".")
	exp := exponent(currency)
	if whole == "" || len(frac) > exp || len(whole) > 12 {
		return 0, errAmount
	}
	for len(frac) < exp {
		frac += "0"
	}
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return 0, errAmount
		}
	}
	return strconv.ParseInt(whole+frac, 10, 64)
}

// Time formats, as the manual writes them.
const (
	dateTime = "02.01.2006 15:04:05"
	dateOnly = "02.01.2006"
	isoDate  = "2006-01-02" // <input type="date">
)

func when(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format(dateTime)
}

// cardExpiry writes YYMM as the manual does: 12/2024.
func cardExpiry(yymm string) string {
	if len(yymm) != 4 {
		return yymm
	}
	return yymm[2:] + "/20" + yymm[:2]
}

// maskedCard writes 411111******1111 as the manual does: 4111 **** * 1111.
func maskedCard(masked string) string {
	if len(masked) < 8 {
		return masked
	}
	return masked[:4] + " **** * " + masked[len(masked)-4:]
}
