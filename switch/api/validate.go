package api

import (
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on merchant input. Amounts are minor units; 10^12 tiyn is ten
// billion tenge, well above any card payment and far from int64's edge.
const (
	maxAmount        = 1_000_000_000_000
	maxOrderNumber   = 36
	maxDescription   = 512
	maxParams        = 50
	maxParamKey      = 64
	maxParamValue    = 512
	maxLifetimeSecs  = 30 * 24 * 3600
	maxIdemKeyLength = 255
)

// currencies are the ISO 4217 numeric codes the switch accepts: tenge and
// the currencies Kazakh acquirers settle cross-border payments in.
var currencies = map[string]string{"398": "KZT", "840": "USD", "978": "EUR", "643": "RUB"}

var (
	errRequired = errors.New("is required")
	errAmount   = errors.New("must be a positive integer number of minor units, at most 10^12")
)

// parseAmount parses a form amount: digits only, 1..10^12 (0 when zero is
// allowed).
func parseAmount(s string, zeroOK bool) (int64, error) {
	if s == "" {
		return 0, errRequired
	}
	if len(s) > 13 {
		return 0, errAmount
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errAmount
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxAmount || (n == 0 && !zeroOK) {
		return 0, errAmount
	}
	return n, nil
}

func knownCurrency(s string) bool { _, ok := currencies[s]; return ok }

func validLanguage(s string) bool { return s == "" || s == "ru" || s == "kk" || s == "en" }

func validEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

// validText accepts printable UTF-8 up to n runes.
func validText(s string, n int) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > n {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

// validOrderNumber: 1..36 printable ASCII, no spaces at the ends.
func validOrderNumber(s string) bool {
	if s == "" || len(s) > maxOrderNumber || strings.TrimSpace(s) != s {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func validParams(p map[string]string) bool {
	if len(p) > maxParams {
		return false
	}
	for k, v := range p {
		if k == "" || !validText(k, maxParamKey) || !validText(v, maxParamValue) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
