package routing

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The reference router below is the specification written as plainly as
// possible: try every rule in order, compare on decimal prefixes of the
// PAN at the bound's own length. Route's index must agree with it.

// refCurrency knows the codes the generator uses.
var refCurrency = map[string]string{"KZT": "398", "USD": "840", "RUB": "643", "398": "398", "840": "840", "643": "643", "978": "978"}

// refBINsMatch reports whether every card number that starts with the known
// digits of pan falls in one of ranges. With 8 or more digits that is one
// card; with fewer, the completions form an interval that the ranges, widened
// to 8 digits, must cover between them.
func refBINsMatch(pan string, ranges []string) bool {
	d := pan[:min(len(pan), 8)]
	scale := uint64(1)
	for range 8 - len(d) {
		scale *= 10
	}
	var v uint64
	if d != "" {
		v, _ = strconv.ParseUint(d, 10, 64)
	}
	want, last := v*scale, v*scale+scale-1

	type iv struct{ lo, hi uint64 }
	var ivs []iv
	for _, r := range ranges {
		loS, hiS, ok := strings.Cut(r, "-")
		if !ok {
			hiS = loS
		}
		lo, _ := strconv.ParseUint(loS, 10, 64)
		hi, _ := strconv.ParseUint(hiS, 10, 64)
		pad := uint64(1)
		for range 8 - len(loS) {
			pad *= 10
		}
		ivs = append(ivs, iv{lo * pad, hi*pad + pad - 1})
	}
	slices.SortFunc(ivs, func(a, b iv) int { return cmp.Compare(a.lo, b.lo) })
	for _, x := range ivs { // sweep: want is the first card not yet covered
		if x.lo > want {
			break
		}
		if x.hi >= last {
			return true
		}
		want = max(want, x.hi+1)
	}
	return false
}

func refMatch(rc RuleConfig, p Payment) bool {
	if len(rc.Merchants) > 0 && !slices.Contains(rc.Merchants, p.Merchant) {
		return false
	}
	if len(rc.BINs) > 0 && !refBINsMatch(p.PAN, rc.BINs) {
		return false
	}
	brand := strings.ToLower(p.Brand)
	if brand == "" {
		brand = BrandOf(p.PAN)
	}
	if len(rc.Brands) > 0 && !slices.ContainsFunc(rc.Brands, func(b string) bool { return strings.EqualFold(b, brand) }) {
		return false
	}
	if len(rc.Currencies) > 0 && !slices.ContainsFunc(rc.Currencies, func(c string) bool {
		return p.Currency != "" && refCurrency[strings.ToUpper(c)] == refCurrency[strings.ToUpper(p.Currency)]
	}) {
		return false
	}
	if rc.AmountMin != nil && p.Amount < *rc.AmountMin {
		return false
	}
	if rc.AmountMax != nil && p.Amount > *rc.AmountMax {
		return false
	}
	return true
}

// refRoute returns the index of the deciding rule (-1: none) and whether it
// has a ready bank.
func refRoute(cfg Config, p Payment, ready func(string) bool) (int, bool) {
	for i, rc := range cfg.Rules {
		if !refMatch(rc, p) {
			continue
		}
		if slices.ContainsFunc(rc.Banks, func(b BankConfig) bool { return ready(b.Name) }) {
			return i, true
		}
		if !rc.Fallthrough {
			return i, false
		}
	}
	return -1, false
}

// hot prefixes make generated ranges and PANs meet often.
var hotPrefixes = []string{"4", "40", "4111", "411111", "41111111", "5", "52", "2200", "2204", "62", "9", "0"}

func randDigits(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
	}
	return string(b)
}

func randPrefix(rng *rand.Rand, n int) string {
	h := hotPrefixes[rng.IntN(len(hotPrefixes))]
	if len(h) >= n {
		return h[:n]
	}
	return h + randDigits(rng, n-len(h))
}

func randBINRange(rng *rand.Rand) string {
	n := []int{1, 2, 4, 6, 6, 7, 8, 8}[rng.IntN(8)]
	a := randPrefix(rng, n)
	if rng.IntN(3) == 0 {
		return a
	}
	b := randPrefix(rng, n)
	if a > b {
		a, b = b, a
	}
	return a + "-" + b
}

func pick[T any](rng *rand.Rand, from []T, max int) []T {
	var out []T
	for range 1 + rng.IntN(max) {
		out = append(out, from[rng.IntN(len(from))])
	}
	return out
}

var (
	genMerchants  = []string{"m1", "m2", "m3", "m4"}
	genBrands     = []string{"visa", "mastercard", "mir", "unionpay", "amex", "JCB"}
	genCurrencies = []string{"KZT", "398", "USD", "840", "643", "RUB", "978"}
	genAmounts    = []int64{0, 1, 99, 100, 101, 10_000, 1_000_000}
	genBanks      = []string{"halyk", "kaspi", "bcc", "forte"}
)

func randConfig(rng *rand.Rand) Config {
	var cfg Config
	n := 1 + rng.IntN(60)
	for i := range n {
		rc := RuleConfig{Name: fmt.Sprintf("r%d", i), Fallthrough: rng.IntN(4) == 0}
		if rng.IntN(3) == 0 {
			rc.Merchants = pick(rng, genMerchants, 2)
		}
		if rng.IntN(2) == 0 {
			for range 1 + rng.IntN(3) {
				rc.BINs = append(rc.BINs, randBINRange(rng))
			}
		}
		if rng.IntN(3) == 0 {
			rc.Brands = pick(rng, genBrands, 2)
		}
		if rng.IntN(3) == 0 {
			rc.Currencies = pick(rng, genCurrencies, 2)
		}
		if rng.IntN(4) == 0 {
			rc.AmountMin = i64(genAmounts[rng.IntN(len(genAmounts))])
		}
		if rng.IntN(4) == 0 {
			rc.AmountMax = i64(genAmounts[rng.IntN(len(genAmounts))])
			if rc.AmountMin != nil && *rc.AmountMin > *rc.AmountMax {
				rc.AmountMin, rc.AmountMax = rc.AmountMax, rc.AmountMin
			}
		}
		if rc.setsNoCriteria() && !rc.Fallthrough && i < n-1 {
			rc.Fallthrough = true // a catch-all that stops must be last
		}
		perm := rng.Perm(len(genBanks))[:1+rng.IntN(len(genBanks))]
		weighted := rng.IntN(3) == 0
		for _, j := range perm {
			w := 0
			if weighted && rng.IntN(4) != 0 {
				w = 1 + rng.IntN(100)
			}
			rc.Banks = append(rc.Banks, BankConfig{Name: genBanks[j], Weight: w})
		}
		cfg.Rules = append(cfg.Rules, rc)
	}
	return cfg
}

func randPayment(rng *rand.Rand) Payment {
	p := Payment{
		Merchant: genMerchants[rng.IntN(len(genMerchants))],
		PAN:      randPrefix(rng, []int{0, 1, 3, 4, 6, 7, 8, 16, 19}[rng.IntN(9)]),
		Amount:   genAmounts[rng.IntN(len(genAmounts))] + int64(rng.IntN(3)) - 1,
	}
	if rng.IntN(5) == 0 {
		p.Merchant = "other"
	}
	if rng.IntN(4) == 0 {
		p.Brand = genBrands[rng.IntN(len(genBrands))]
	}
	if rng.IntN(6) != 0 {
		p.Currency = genCurrencies[rng.IntN(len(genCurrencies))]
	}
	return p
}

func TestRouteMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8583))
	configs, payments := 300, 300
	if testing.Short() {
		configs = 50
	}
	var decided, noRoute, noRule, binDecided, shortBIN int
	defer func() {
		t.Logf("decided %d (by a BIN rule %d, of which with < 8 digits %d), no ready bank %d, no rule %d",
			decided, binDecided, shortBIN, noRoute, noRule)
	}()
	for c := range configs {
		cfg := randConfig(rng)
		r, err := New(cfg, genBanks, WithRand(rng.Float64))
		if err != nil {
			t.Fatalf("config %d: %v", c, err)
		}
		for range payments {
			p := randPayment(rng)
			up := rng.Uint64()
			if rng.IntN(2) == 0 {
				up = ^uint64(0) // often everything is up
			}
			ready := func(b string) bool { return up&(1<<slices.Index(genBanks, b)) != 0 }

			wantRule, wantOK := refRoute(cfg, p, ready)
			d, err := r.Route(p, ready)
			if d.RuleIndex != wantRule || (err == nil) != wantOK {
				t.Fatalf("config %d, payment %+v, up %04b: got rule %d err %v (%s); reference says rule %d ok %v\nrules: %+v",
					c, p, up&15, d.RuleIndex, err, d.Reason, wantRule, wantOK, cfg.Rules)
			}
			if err != nil {
				if !errors.Is(err, ErrNoRoute) {
					t.Fatalf("err %v is not ErrNoRoute", err)
				}
				if wantRule < 0 {
					noRule++
				} else {
					noRoute++
				}
				continue
			}
			decided++
			if len(cfg.Rules[d.RuleIndex].BINs) > 0 {
				binDecided++
				if len(p.PAN) < 8 {
					shortBIN++
				}
			}
			checkDecision(t, cfg.Rules[d.RuleIndex], d, ready)
		}
	}
}

// checkDecision checks the bank choice against the rule: a ready bank of the
// rule, the first ready one when unweighted, a weighted one while any is
// ready, and candidates that are exactly the rule's ready banks.
func checkDecision(t *testing.T, rc RuleConfig, d Decision, ready func(string) bool) {
	t.Helper()
	var readyBanks []string
	weightedUp := false
	for _, b := range rc.Banks {
		if ready(b.Name) {
			readyBanks = append(readyBanks, b.Name)
			weightedUp = weightedUp || b.Weight > 0
		}
	}
	if d.Rule != rc.Name || !ready(d.Bank) || len(d.Candidates) == 0 || d.Candidates[0] != d.Bank {
		t.Fatalf("rule %q: decision %+v", rc.Name, d)
	}
	got := slices.Sorted(slices.Values(d.Candidates))
	if !slices.Equal(got, slices.Sorted(slices.Values(readyBanks))) {
		t.Fatalf("rule %q: candidates %v, ready banks %v", rc.Name, d.Candidates, readyBanks)
	}
	i := slices.IndexFunc(rc.Banks, func(b BankConfig) bool { return b.Name == d.Bank })
	switch {
	case weightedUp && rc.Banks[i].Weight == 0:
		t.Fatalf("rule %q: failover-only bank %q chosen while a weighted bank is up", rc.Name, d.Bank)
	case !weightedUp && d.Bank != readyBanks[0]:
		t.Fatalf("rule %q: bank %q, want first ready %q", rc.Name, d.Bank, readyBanks[0])
	}
}
