package routing

import "errors"

// alphaCurrencies maps ISO 4217 alphabetic codes to numeric ones for the
// currencies a Central Asian acquirer is likely to see. The config may use
// any numeric code; an alphabetic code outside this table is an error that
// asks for the numeric one, rather than a guess.
var alphaCurrencies = map[[3]byte]uint16{
	{'A', 'E', 'D'}: 784, {'A', 'M', 'D'}: 51, {'A', 'U', 'D'}: 36, {'A', 'Z', 'N'}: 944,
	{'B', 'G', 'N'}: 975, {'B', 'R', 'L'}: 986, {'B', 'Y', 'N'}: 933, {'C', 'A', 'D'}: 124,
	{'C', 'H', 'F'}: 756, {'C', 'N', 'Y'}: 156, {'C', 'Z', 'K'}: 203, {'D', 'K', 'K'}: 208,
	{'E', 'G', 'P'}: 818, {'E', 'U', 'R'}: 978, {'G', 'B', 'P'}: 826, {'G', 'E', 'L'}: 981,
	{'H', 'K', 'D'}: 344, {'H', 'U', 'F'}: 348, {'I', 'D', 'R'}: 360, {'I', 'L', 'S'}: 376,
	{'I', 'N', 'R'}: 356, {'J', 'P', 'Y'}: 392, {'K', 'G', 'S'}: 417, {'K', 'R', 'W'}: 410,
	{'K', 'W', 'D'}: 414, {'K', 'Z', 'T'}: 398, {'M', 'D', 'L'}: 498, {'M', 'N', 'T'}: 496,
	{'M', 'X', 'N'}: 484, {'M', 'Y', 'R'}: 458, {'N', 'O', 'K'}: 578, {'N', 'Z', 'D'}: 554,
	{'P', 'L', 'N'}: 985, {'Q', 'A', 'R'}: 634, {'R', 'O', 'N'}: 946, {'R', 'U', 'B'}: 643,
	{'S', 'A', 'R'}: 682, {'S', 'E', 'K'}: 752, {'S', 'G', 'D'}: 702, {'T', 'H', 'B'}: 764,
	{'T', 'J', 'S'}: 972, {'T', 'M', 'T'}: 934, {'T', 'R', 'Y'}: 949, {'U', 'A', 'H'}: 980,
	{'U', 'S', 'D'}: 840, {'U', 'Z', 'S'}: 860, {'Z', 'A', 'R'}: 710,
}

// maxCurrency is one past the largest numeric ISO 4217 code.
const maxCurrency = 1000

var (
	errCurrencyForm  = errors.New("want a numeric ISO 4217 code like \"398\" or an alphabetic one like \"KZT\"")
	errCurrencyAlpha = errors.New("alphabetic code not known here: use the numeric ISO 4217 code")
	errCurrencyZero  = errors.New("\"000\" is not a currency")
)

// parseCurrency returns the numeric ISO 4217 code of s, given as three
// digits ("398") or three letters in any case ("KZT", "kzt"). It does not
// allocate: Route calls it for every payment.
func parseCurrency(s string) (uint16, error) {
	if len(s) != 3 {
		return 0, errCurrencyForm
	}
	if isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) {
		n := uint16(s[0]-'0')*100 + uint16(s[1]-'0')*10 + uint16(s[2]-'0')
		if n == 0 {
			return 0, errCurrencyZero
		}
		return n, nil
	}
	var k [3]byte
	for i := range 3 {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c < 'A' || c > 'Z' {
			return 0, errCurrencyForm
		}
		k[i] = c
	}
	n, ok := alphaCurrencies[k]
	if !ok {
		return 0, errCurrencyAlpha
	}
	return n, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
