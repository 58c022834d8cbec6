package audit

import (
	"strings"

	"github.com/tulpar-switch/tulpar/iso"
)

// hiddenKeys are JSON keys whose values never leave the tools, whatever
// they hold: card verification data, PAN ciphertext, keys, expiry dates.
// The payments core does not journal CVV2 or CAVV at all; hiding them here
// as well keeps a mistake upstream from reaching an auditor's spreadsheet.
var hiddenKeys = map[string]bool{
	"cvv": true, "cvv2": true, "cvc": true, "cvc2": true, "cavv": true, "ciphertext": true,
	"pan": true, "track": true, "track2": true, "expiry": true, "key": true, "password": true,
	"card_number": true, "cardnumber": true, "pin": true,
}

// sensitivePath reports whether the last element of a JSON path names a
// hidden key.
func sensitivePath(path string) bool {
	if i := strings.LastIndexAny(path, ".]"); i >= 0 {
		path = path[i+1:]
	}
	return hiddenKeys[strings.ToLower(path)]
}

// maskValue returns v with hidden keys replaced by "(present)" and every
// string that looks like a card number masked (first six, last four).
func maskValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if hiddenKeys[strings.ToLower(k)] {
				if val == nil || val == "" {
					out[k] = val
				} else {
					out[k] = "(present)"
				}
				continue
			}
			out[k] = maskValue(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = maskValue(val)
		}
		return out
	case string:
		return maskString(x)
	}
	return v
}

// maskString masks every run of 13 to 19 digits that passes the Luhn check:
// what a card number looks like wherever it hides in free text.
func maskString(s string) string {
	if !hasPAN(s) {
		return s
	}
	var b strings.Builder
	eachDigitRun(s, func(run string, digits bool) {
		if digits && looksLikePAN(run) {
			b.WriteString(iso.MaskPAN(run))
		} else {
			b.WriteString(run)
		}
	})
	return b.String()
}

func hasPAN(s string) bool {
	found := false
	eachDigitRun(s, func(run string, digits bool) { found = found || digits && looksLikePAN(run) })
	return found
}

// eachDigitRun splits s into maximal runs of digits and of non-digits.
func eachDigitRun(s string, fn func(run string, digits bool)) {
	for i := 0; i < len(s); {
		isDigit := s[i] >= '0' && s[i] <= '9'
		j := i
		for j < len(s) && (s[j] >= '0' && s[j] <= '9') == isDigit {
			j++
		}
		fn(s[i:j], isDigit)
		i = j
	}
}

func looksLikePAN(digits string) bool {
	return len(digits) >= 13 && len(digits) <= 19 && iso.Luhn(digits)
}
