package routing

import (
	"errors"
	"strings"
)

// binDigits is how many leading PAN digits routing reads. Bounds shorter than
// this are widened to it, so all ranges compare in one integer space.
const binDigits = 8

// pow10 holds 10^0 … 10^8.
var pow10 = [binDigits + 1]uint32{1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000}

// binSpace is the number of distinct 8-digit BIN values, one past the largest.
const binSpace = 100_000_000

// binRange is an inclusive range of 8-digit BIN values.
type binRange struct{ lo, hi uint32 }

// ParseBINRange parses a BIN range as written in the config: "400000-499999"
// or a single prefix "4111", bounds of 1 to 8 digits, both bounds of the same
// length. It returns the range widened to 8 digits, both ends inclusive:
// "400000-499999" gives 40000000 and 49999999, "4111" gives 41110000 and
// 41119999.
func ParseBINRange(s string) (lo, hi uint32, err error) {
	r, err := parseBINRange(s)
	return r.lo, r.hi, err
}

func parseBINRange(s string) (binRange, error) {
	loS, hiS, isRange := strings.Cut(s, "-")
	if !isRange {
		hiS = loS
	}
	lo, err := parseBINBound(loS)
	if err != nil {
		if isRange {
			return binRange{}, errors.New("bad range: lower bound: " + err.Error())
		}
		return binRange{}, errors.New("bad prefix: " + err.Error())
	}
	hi, err := parseBINBound(hiS)
	if err != nil {
		return binRange{}, errors.New("bad range: upper bound: " + err.Error())
	}
	if len(loS) != len(hiS) {
		return binRange{}, errors.New("bad range: bounds have different lengths")
	}
	if lo > hi {
		return binRange{}, errors.New("bad range: lower bound greater than upper")
	}
	pad := pow10[binDigits-len(loS)]
	return binRange{lo: lo * pad, hi: hi*pad + pad - 1}, nil
}

func parseBINBound(s string) (uint32, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	if len(s) > binDigits {
		return 0, errors.New("more than 8 digits")
	}
	var v uint32
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errors.New("not all digits")
		}
		v = v*10 + uint32(c-'0')
	}
	return v, nil
}

// errBadPAN is returned (wrapped) for a PAN whose leading digits are not
// digits. It never carries the value.
var errBadPAN = errors.New("PAN or BIN: first 8 characters must be digits")

// panPrefix reads up to the first 8 digits of pan. It returns the range of
// 8-digit BIN values the card may have (one value when 8 digits are known,
// all of them when none are) and how many digits it read.
func panPrefix(pan string) (binRange, int, error) {
	n := min(len(pan), binDigits)
	var v uint32
	for i := 0; i < n; i++ {
		c := pan[i]
		if c < '0' || c > '9' {
			return binRange{}, 0, errBadPAN
		}
		v = v*10 + uint32(c-'0')
	}
	pad := pow10[binDigits-n]
	return binRange{lo: v * pad, hi: v*pad + pad - 1}, n, nil
}

// Card brands, as written in the config and returned by BrandOf.
const (
	BrandVisa       = "visa"
	BrandMastercard = "mastercard"
	BrandMir        = "mir"
	BrandAmex       = "amex"
	BrandUnionPay   = "unionpay"
	BrandJCB        = "jcb"
	BrandDiscover   = "discover"
	BrandDiners     = "diners"
)

// brandNames lists the brands routing knows; a brand's id is its index + 1,
// 0 being "unknown". A rule's brands are a bit mask of ids.
var brandNames = [...]string{
	BrandVisa, BrandMastercard, BrandMir, BrandAmex,
	BrandUnionPay, BrandJCB, BrandDiscover, BrandDiners,
}

// Brand ids, in brandNames order.
const (
	idVisa = iota + 1
	idMastercard
	idMir
	idAmex
	idUnionPay
	idJCB
	idDiscover
	idDiners
)

// Brands returns the brand names a rule may use.
func Brands() []string { return append([]string(nil), brandNames[:]...) }

// brandID returns the id of brand, matching case-insensitively, or 0.
func brandID(brand string) int {
	for i, b := range brandNames {
		if strings.EqualFold(b, brand) {
			return i + 1
		}
	}
	return 0
}

// brandRange is one row of the brand table.
type brandRange struct {
	digits int
	lo, hi uint32
	id     int
}

// brandRanges maps IIN ranges to brand ids. A range is on the first `digits`
// digits of the PAN; brandOf returns the brand of the shortest matching
// prefix, so UnionPay's 62 wins over Discover's co-branded 622126-622925.
var brandRanges = [...]brandRange{
	{1, 4, 4, idVisa},
	{2, 34, 34, idAmex},
	{2, 36, 36, idDiners},
	{2, 37, 37, idAmex},
	{2, 38, 39, idDiners},
	{2, 51, 55, idMastercard},
	{2, 62, 62, idUnionPay},
	{2, 65, 65, idDiscover},
	{3, 300, 305, idDiners},
	{3, 644, 649, idDiscover},
	{4, 2200, 2204, idMir},
	{4, 2221, 2720, idMastercard},
	{4, 3528, 3589, idJCB},
	{4, 6011, 6011, idDiscover},
}

// BrandOf returns the card brand of a PAN or BIN from its issuer
// identification number ranges (Visa 4; Mastercard 51-55 and 2221-2720; Mir
// 2200-2204; Amex 34, 37; JCB 3528-3589; UnionPay 62; Discover 6011, 644-649,
// 65; Diners 300-305, 36, 38-39), or "" when it knows none. It reads at most
// the first 4 digits. Co-badged cards are the caller's to decide: set
// Payment.Brand to override.
func BrandOf(pan string) string {
	id := brandOf(pan)
	if id == 0 {
		return ""
	}
	return brandNames[id-1]
}

// BrandRange is one row of BrandOf's table: a card number whose first Digits
// digits, read as a decimal number, lie in [Lo, Hi] is of Brand.
type BrandRange struct {
	Digits int
	Lo, Hi int
	Brand  string
}

// BrandTable returns the table BrandOf reads, for code that must recognise a
// brand where Go does not run: the hosted page's script draws its badge from
// it. Rows come shortest prefix first, and BrandOf is exactly this reading of
// them: for n from 1 up to the number of leading digits known (at most the
// largest Digits), the first row with Digits n whose range holds the first n
// digits names the brand; no such row, no brand. The slice is the caller's.
func BrandTable() []BrandRange {
	out := make([]BrandRange, len(brandRanges))
	for i, r := range brandRanges {
		out[i] = BrandRange{Digits: r.digits, Lo: int(r.lo), Hi: int(r.hi), Brand: brandNames[r.id-1]}
	}
	return out
}

func brandOf(pan string) int {
	var v uint32
	for i := 0; i < len(pan) && i < 4; i++ {
		c := pan[i]
		if c < '0' || c > '9' {
			return 0
		}
		v = v*10 + uint32(c-'0')
		for _, r := range brandRanges {
			if r.digits == i+1 && r.lo <= v && v <= r.hi {
				return r.id
			}
		}
	}
	return 0
}
