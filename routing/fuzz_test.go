package routing

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func FuzzParseBINRange(f *testing.F) {
	for _, s := range []string{"4", "4111", "400000-499999", "41234560-41234569", "0-9", "99999999", "4999-40", "5-4", "-", "4--5", "١٢٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := ParseBINRange(s)
		if err != nil {
			return
		}
		if lo > hi || hi >= binSpace {
			t.Fatalf("%q: lo %d hi %d", s, lo, hi)
		}
		// The widened bounds agree with the plain reading of the range.
		in := func(v uint32) bool { return refBINsMatch(fmt.Sprintf("%08d", v), []string{s}) }
		if !in(lo) || !in(hi) || (lo > 0 && in(lo-1)) || (hi+1 < binSpace && in(hi+1)) {
			t.Fatalf("%q: bounds %d-%d disagree with the reference", s, lo, hi)
		}
	})
}

func FuzzConfig(f *testing.F) {
	sample, err := os.ReadFile("testdata/routing.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	f.Add([]byte("rules:\n  - name: a\n    bins: [\"4999-40\"]\n    banks: [{name: halyk, weight: -3}]\n"))
	f.Add([]byte("rules:\n  - name: a\n    amount_min: 5\n    amount_max: 4\n    banks: [{name: nobank}]\n  - {name: a, banks: []}\n"))
	f.Add([]byte("rules:\n  - {name: z, currencies: [kzt, \"840\"], brands: [MIR], banks: [{name: kaspi}], fallthrough: true}\n"))
	known := []string{"halyk", "kaspi", "bcc"}
	payments := []Payment{
		{},
		{Merchant: "ECOM-00042", PAN: "2200000000000004", Currency: "398", Amount: 100},
		{PAN: "4400431234567890", Currency: "840", Amount: 60_000_000},
		{PAN: "5213", Brand: "mastercard", Currency: "KZT", Amount: -1},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := decodeConfig(data)
		if err != nil {
			return
		}
		r, err := New(cfg, known)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "routing: rule") {
					t.Fatalf("error line %q does not name a rule", line)
				}
			}
			return
		}
		for _, p := range payments {
			for _, ready := range []func(string) bool{nil, down("halyk"), down(known...)} {
				d, err := r.Route(p, ready)
				if err != nil {
					if !errors.Is(err, ErrNoRoute) {
						t.Fatalf("%+v: %v", p, err)
					}
					continue
				}
				rc := cfg.Rules[d.RuleIndex]
				if !refMatch(rc, p) || d.Rule != rc.Name || d.Bank == "" || d.Candidates[0] != d.Bank {
					t.Fatalf("%+v: decision %+v from rule %+v", p, d, rc)
				}
			}
		}
	})
}

func FuzzRoute(f *testing.F) {
	cfg := precedenceConfig()
	cfg.Rules = append([]RuleConfig{
		{Name: "short", BINs: []string{"5", "22-27", "40000-40050", "41111111-41111199"}, Currencies: []string{"643"}, Banks: banks("bcc")},
	}, cfg.Rules...)
	r := MustNew(f, cfg, testBanks)
	f.Add("m-vip", "2200000000000004", "", "398", int64(5_000_000))
	f.Add("m1", "4400431234567890", "", "KZT", int64(999_999))
	f.Add("m1", "400", "visa", "kzt", int64(0))
	f.Add("", "22", "", "643", int64(-5))
	f.Add("m1", "4111 1111", "", "XYZ", int64(1))
	f.Fuzz(func(t *testing.T, merchant, pan, brand, currency string, amount int64) {
		p := Payment{Merchant: merchant, PAN: pan, Brand: brand, Currency: currency, Amount: amount}
		d, err := r.Route(p, nil)
		if errors.Is(err, ErrBadPayment) {
			if strings.Contains(err.Error(), pan) && pan != "" && len(pan) > 3 {
				t.Fatalf("error %q carries the PAN", err)
			}
			return
		}
		if _, known := refCurrency[strings.ToUpper(currency)]; currency != "" && !known {
			return // the reference knows only a few currencies
		}
		want, _ := refRoute(cfg, p, func(string) bool { return true })
		if d.RuleIndex != want {
			t.Fatalf("%+v: rule %d (%v), reference %d", p, d.RuleIndex, err, want)
		}
	})
}
