package iso

import (
	"errors"
	"strings"
)

// The reasons ValidPAN gives. They never carry the digits, and they read as
// the reason after a field name, so a caller writes "pan: " and the error:
// "pan: fails the Luhn check".
var (
	ErrPANDigits = errors.New("must be 13 to 19 digits")
	ErrPANLuhn   = errors.New("fails the Luhn check")
)

// ValidPAN checks a card number as a cardholder typed it, with separators
// already removed: 13 to 19 ASCII digits (ISO/IEC 7812-1 allows 8 to 19, but
// no payment card in use is shorter than 13) that pass the Luhn check. It
// returns nil, ErrPANDigits or ErrPANLuhn. It says nothing about the brand.
func ValidPAN(pan string) error {
	if len(pan) < 13 || len(pan) > 19 || !isDigits(pan) {
		return ErrPANDigits
	}
	if !Luhn(pan) {
		return ErrPANLuhn
	}
	return nil
}

// Luhn reports whether pan passes the Luhn (mod 10) check of ISO/IEC
// 7812-1. Anything but ASCII digits, or nothing at all, fails.
func Luhn(pan string) bool {
	if pan == "" {
		return false
	}
	sum := 0
	for i := 0; i < len(pan); i++ {
		c := pan[len(pan)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// MaskPAN keeps the first six and last four digits (PCI DSS 3.4.1) and
// replaces the rest with '*': 411111******1111. Anything that is not 12 to
// 19 digits is fully hidden, stars of the same length, so a malformed PAN
// cannot leak through the masking. It is the one way a PAN is shown: in
// logs, pages, reports and API answers.
func MaskPAN(pan string) string {
	if len(pan) < 12 || len(pan) > 19 || !isDigits(pan) {
		return strings.Repeat("*", len(pan))
	}
	return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
}
