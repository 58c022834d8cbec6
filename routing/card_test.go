package routing

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
)

// TestBrandOf walks both edges of every range in the brand table, plus the
// numbers just outside them. BrandOf is the only BIN table in the module:
// the hosted page, its script and the routing rules all read this one.
func TestBrandOf(t *testing.T) {
	tests := []struct{ name, pan, brand string }{
		{"visa", "4111111111111111", BrandVisa},
		{"visa 13 digits", "4222222222222", BrandVisa},
		{"visa from its first digit", "4", BrandVisa},
		{"visa top", "4999999999999999", BrandVisa},

		{"mastercard 51", "5100000000000000", BrandMastercard},
		{"mastercard 55", "5599999999999999", BrandMastercard},
		{"below mastercard 51", "5000000000000000", ""},
		{"above mastercard 55", "5600000000000000", ""},
		{"mastercard 2221", "2221000000000000", BrandMastercard},
		{"mastercard 2720", "2720999999999999", BrandMastercard},
		{"below mastercard 2221", "2220999999999999", ""},
		{"above mastercard 2720", "2721000000000000", ""},

		{"mir 2200", "2200000000000000", BrandMir},
		{"mir 2204", "2204999999999999", BrandMir},
		{"below mir", "2199999999999999", ""},
		{"above mir", "2205000000000000", ""},
		{"mir needs four digits", "220", ""},
		{"mir from four digits", "2201", BrandMir},

		{"amex 34", "340000000000000", BrandAmex},
		{"amex 37", "370000000000000", BrandAmex},
		{"33 is nobody's", "330000000000000", ""},
		{"35 outside JCB is nobody's", "350000000000000", ""},

		{"jcb 3528", "3528000000000000", BrandJCB},
		{"jcb 3589", "3589999999999999", BrandJCB},
		{"jcb 3566", "3566002020360505", BrandJCB},
		{"below jcb", "3527999999999999", ""},
		{"above jcb", "3590000000000000", ""},

		{"unionpay 62", "6200000000000000", BrandUnionPay},
		{"unionpay 19 digits", "6212345678901234567", BrandUnionPay},
		{"unionpay wins the discover co-brand 622126-622925", "6221260000000000", BrandUnionPay},

		{"discover 6011", "6011000000000000", BrandDiscover},
		{"6010 is nobody's", "6010000000000000", ""},
		{"6012 is nobody's", "6012000000000000", ""},
		{"discover 644", "6440000000000000", BrandDiscover},
		{"discover 649", "6499999999999999", BrandDiscover},
		{"643 is nobody's", "6430000000000000", ""},
		{"discover 65", "6500000000000000", BrandDiscover},
		{"discover 65 top", "6599999999999999", BrandDiscover},
		{"66 is nobody's", "6600000000000000", ""},

		{"diners 300", "30000000000000", BrandDiners},
		{"diners 305", "30599999999999", BrandDiners},
		{"306 is nobody's", "30600000000000", ""},
		{"diners 36", "36000000000000", BrandDiners},
		{"diners 38", "38000000000000", BrandDiners},
		{"diners 39", "39000000000000", BrandDiners},

		{"empty", "", ""},
		{"too few digits to tell", "22", ""},
		{"not a digit first", "x411", ""},
		{"humo, not known", "9860000000000000", ""},
		{"uatp 1, not known", "1000000000000008", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BrandOf(tt.pan); got != tt.brand {
				t.Errorf("BrandOf(%q) = %q, want %q", tt.pan, got, tt.brand)
			}
		})
	}
}

// Every brand a rule may name is one BrandOf can return, so no rule on a
// brand is dead.
func TestEveryBrandHasRanges(t *testing.T) {
	for _, b := range Brands() {
		if !slices.ContainsFunc(brandRanges[:], func(r brandRange) bool { return brandNames[r.id-1] == b }) {
			t.Errorf("brand %q has no range in BrandOf's table", b)
		}
	}
}

// BrandTable read as its doc says gives BrandOf's answer for every prefix
// of one to five digits, leading zeros included: the hosted page's script,
// which reads it that way, and the server cannot disagree on a brand.
func TestBrandTableIsBrandOf(t *testing.T) {
	table := BrandTable()
	if !slices.IsSortedFunc(table, func(a, b BrandRange) int { return a.Digits - b.Digits }) {
		t.Fatal("BrandTable: rows not shortest prefix first")
	}
	read := func(digits string) string {
		for n := 1; n <= len(digits); n++ {
			v, _ := strconv.Atoi(digits[:n])
			for _, r := range table {
				if r.Digits == n && r.Lo <= v && v <= r.Hi {
					return r.Brand
				}
			}
		}
		return ""
	}
	for n := 1; n <= 5; n++ {
		for v := range int(pow10[n]) {
			s := fmt.Sprintf("%0*d", n, v)
			if got, want := read(s), BrandOf(s); got != want {
				t.Fatalf("prefix %s: the table says %q, BrandOf %q", s, got, want)
			}
		}
	}
	table[0].Brand = "changed"
	if BrandTable()[0].Brand == "changed" {
		t.Error("BrandTable shares its rows with the caller")
	}
}
