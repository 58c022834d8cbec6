package routing

import (
	"fmt"
	"testing"
)

// benchConfig builds n rules in the shapes a real acquirer has: most rules
// are per-merchant or per-BIN agreements, some by brand, currency and
// amount, a few with volume splits, and a catch-all at the end. Rule i's
// BIN range is 4000xxxx with xxxx = i*10 … i*10+9, so the payment with BIN
// 4000 (n-2)*10 matches only near the end of the list.
func benchConfig(n int) Config {
	var cfg Config
	bs := []string{"halyk", "kaspi", "bcc", "forte", "jusan"}
	for i := range n - 1 {
		rc := RuleConfig{Name: fmt.Sprintf("rule-%04d", i), Banks: banks(bs[i%5], bs[(i+1)%5])}
		switch i % 4 {
		case 0:
			rc.Merchants = []string{fmt.Sprintf("M%05d", i), fmt.Sprintf("M%05d", i+1)}
		case 1:
			rc.BINs = []string{fmt.Sprintf("4000%04d-4000%04d", i*10, i*10+9), fmt.Sprintf("5%05d", i)}
			rc.Brands = []string{"visa", "mastercard"}
		case 2:
			rc.BINs = []string{fmt.Sprintf("4000%04d-4000%04d", i*10, i*10+9)}
			rc.Currencies = []string{"KZT", "USD"}
			rc.AmountMin, rc.AmountMax = i64(int64(i)), i64(int64(i)*1_000)
		case 3:
			rc.BINs = []string{fmt.Sprintf("4000%04d-4000%04d", i*10, i*10+9)}
			rc.Banks = []BankConfig{{bs[i%5], 70}, {bs[(i+1)%5], 30}, {bs[(i+2)%5], 0}}
		}
		cfg.Rules = append(cfg.Rules, rc)
	}
	cfg.Rules = append(cfg.Rules, RuleConfig{Name: "default", Banks: banks("halyk", "kaspi")})
	return cfg
}

var benchPayments = []struct {
	name string
	p    Payment
}{
	{"first-rule", Payment{Merchant: "M00000", PAN: "4111111111111111", Currency: "398", Amount: 100}},
	{"late-bin-rule", Payment{Merchant: "X", PAN: "4000997512345678", Currency: "398", Amount: 100}},        // rule 997, weighted
	{"late-amount-rule", Payment{Merchant: "X", PAN: "4000994512345678", Currency: "840", Amount: 500_000}}, // rule 994
	{"catch-all", Payment{Merchant: "X", PAN: "2200000000000004", Currency: "398", Amount: 100}},
	{"six-digit-bin", Payment{Merchant: "X", PAN: "400099", Currency: "398", Amount: 100}},
}

func BenchmarkRoute1000Rules(b *testing.B) {
	r := MustNew(b, benchConfig(1000), testBanks)
	ready := down("forte") // a bank down: the decision path reads readiness
	for _, bp := range benchPayments {
		b.Run(bp.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Route(bp.p, ready); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRoute1000RulesAllReady is the common case: no bank down, so no
// decision allocates.
func BenchmarkRoute1000RulesAllReady(b *testing.B) {
	r := MustNew(b, benchConfig(1000), testBanks)
	ready := func(string) bool { return true }
	for _, bp := range benchPayments {
		b.Run(bp.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Route(bp.p, ready); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRouteParallel1000Rules(b *testing.B) {
	r := MustNew(b, benchConfig(1000), testBanks)
	p := benchPayments[1].p
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Route(p, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkReference1000Rules runs the plain rule-by-rule reference on the
// same rules, to show what the index buys.
func BenchmarkReference1000Rules(b *testing.B) {
	cfg := benchConfig(1000)
	ready := down("forte")
	for _, bp := range benchPayments[1:3] {
		b.Run(bp.name, func(b *testing.B) {
			for b.Loop() {
				refRoute(cfg, bp.p, ready)
			}
		})
	}
}

func BenchmarkNew1000Rules(b *testing.B) {
	cfg := benchConfig(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(cfg, testBanks); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchConfigRoutes(t *testing.T) {
	r := MustNew(t, benchConfig(1000), testBanks)
	want := map[string]string{
		"first-rule": "rule-0000", "late-bin-rule": "rule-0997", "late-amount-rule": "rule-0994",
		"catch-all": "default", "six-digit-bin": "default",
	}
	for _, bp := range benchPayments {
		d, err := r.Route(bp.p, down("forte"))
		if err != nil || d.Rule != want[bp.name] {
			t.Errorf("%s: rule %q err %v, want %q", bp.name, d.Rule, err, want[bp.name])
		}
	}
}
