package routing

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// precedenceConfig has rules whose criteria overlap, so the order decides.
func precedenceConfig() Config {
	return Config{Rules: []RuleConfig{
		{Name: "vip-merchant", Merchants: []string{"m-vip"}, Banks: banks("halyk")},
		{Name: "kz-mir", Brands: []string{"mir"}, Currencies: []string{"KZT"}, Banks: banks("kaspi")},
		{Name: "big-visa", Brands: []string{"visa"}, AmountMin: i64(1_000_000), Banks: banks("bcc")},
		{Name: "on-us", BINs: []string{"440043", "40000000-40000099"}, Banks: banks("kaspi")},
		{Name: "small-usd", Currencies: []string{"840"}, AmountMax: i64(500_00), Banks: banks("forte")},
		{Name: "default", Banks: banks("halyk", "kaspi")},
	}}
}

func TestRoutePrecedence(t *testing.T) {
	r := MustNew(t, precedenceConfig(), testBanks)
	tests := []struct {
		name string
		p    Payment
		rule string
		bank string
	}{
		{"merchant beats everything", Payment{Merchant: "m-vip", PAN: "2200000000000004", Currency: "398", Amount: 5_000_000}, "vip-merchant", "halyk"},
		{"mir in KZT", Payment{Merchant: "m1", PAN: "2200000000000004", Currency: "398", Amount: 100}, "kz-mir", "kaspi"},
		{"mir in kzt lower case", Payment{Merchant: "m1", PAN: "2204999900000000", Currency: "kzt", Amount: 100}, "kz-mir", "kaspi"},
		{"mir in USD small", Payment{Merchant: "m1", PAN: "2200000000000004", Currency: "USD", Amount: 100}, "small-usd", "forte"},
		{"mir in USD big", Payment{Merchant: "m1", PAN: "2200000000000004", Currency: "840", Amount: 500_01}, "default", "halyk"},
		{"big visa before on-us BIN", Payment{Merchant: "m1", PAN: "4400431234567890", Currency: "398", Amount: 1_000_000}, "big-visa", "bcc"},
		{"on-us BIN below the big-visa amount", Payment{Merchant: "m1", PAN: "4400431234567890", Currency: "398", Amount: 999_999}, "on-us", "kaspi"},
		{"on-us 8-digit range", Payment{PAN: "4000009912345678", Currency: "398", Amount: 1}, "on-us", "kaspi"},
		{"BIN only, no full PAN", Payment{PAN: "44004312", Currency: "398", Amount: 1}, "on-us", "kaspi"},
		{"explicit brand overrides the BIN", Payment{PAN: "2200000000000004", Brand: "visa", Currency: "398", Amount: 2_000_000}, "big-visa", "bcc"},
		{"brand in upper case", Payment{PAN: "4111111111111111", Brand: "VISA", Amount: 2_000_000}, "big-visa", "bcc"},
		{"brand routing does not know", Payment{PAN: "2200000000000004", Brand: "maestro", Currency: "398"}, "default", "halyk"},
		{"no card at all", Payment{Merchant: "m2", Currency: "398", Amount: 100}, "default", "halyk"},
		{"no currency", Payment{PAN: "2200000000000004", Amount: 100}, "default", "halyk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := r.Route(tt.p, nil)
			if err != nil {
				t.Fatalf("Route: %v", err)
			}
			if d.Rule != tt.rule || d.Bank != tt.bank {
				t.Errorf("got rule %q bank %q (%s), want rule %q bank %q", d.Rule, d.Bank, d.Reason, tt.rule, tt.bank)
			}
			if d.RuleIndex < 0 || precedenceConfig().Rules[d.RuleIndex].Name != d.Rule {
				t.Errorf("RuleIndex %d does not name rule %q", d.RuleIndex, d.Rule)
			}
			if !strings.Contains(d.Reason, `"`+tt.rule+`"`) {
				t.Errorf("reason %q does not name the rule", d.Reason)
			}
		})
	}
}

func TestRouteBINEdges(t *testing.T) {
	cfg := Config{Rules: []RuleConfig{
		{Name: "six", BINs: []string{"400000-400999"}, Banks: banks("halyk")},
		{Name: "eight", BINs: []string{"41234560-41234569"}, Banks: banks("kaspi")},
		{Name: "prefix", BINs: []string{"5555"}, Banks: banks("bcc")},
		{Name: "bottom", BINs: []string{"00000000"}, Banks: banks("forte")},
		{Name: "top", BINs: []string{"9999-9999"}, Banks: banks("jusan")},
		{Name: "default", Banks: banks("halyk")},
	}}
	r := MustNew(t, cfg, testBanks)
	tests := []struct {
		pan  string
		rule string
	}{
		// 6-digit range: lower-1, lower, upper, upper+1.
		{"3999999999999999", "default"},
		{"4000000000000000", "six"},
		{"4009999999999999", "six"},
		{"4010000000000000", "default"},
		// 8-digit range.
		{"4123455999999999", "default"},
		{"4123456000000000", "eight"},
		{"4123456999999999", "eight"},
		{"4123457000000000", "default"},
		// Single 4-digit prefix.
		{"5554999999999999", "default"},
		{"5555000000000000", "prefix"},
		{"5555999999999999", "prefix"},
		{"5556000000000000", "default"},
		// The ends of the BIN space.
		{"0000000000000000", "bottom"},
		{"0000000100000000", "default"},
		{"9999999900000000", "top"},
		{"9998999999999999", "default"},
		// Fewer digits than a bound: a range matches only if it holds
		// every card that starts with them.
		{"400500", "six"},       // 6-digit BIN in a 6-digit range
		{"40050", "six"},        // 40050x all inside 400000-400999
		{"4010", "default"},     // 4010xx is outside
		{"400", "six"},          // 400xxx is exactly the range
		{"40", "default"},       // 40xxxx is wider than the range
		{"412345", "default"},   // 412345xx is wider than 41234560-69
		{"4123456", "eight"},    // 4123456x is exactly the range
		{"41234565", "eight"},   // 8 digits: one point
		{"555", "default"},      // 555x is wider than 5555
		{"5555", "prefix"},      // exactly the prefix
		{"", "default"},         // no card
		{"4000009", "six"},      // 7 digits inside a 6-digit range
		{"40099999", "six"},     // 8 digits at the 6-digit upper edge
		{"40100000", "default"}, // and just past it
		{"39999999", "default"}, // just below the lower edge
		{"99999999", "top"},     // the largest BIN
		{"999999999999", "top"}, // a 12-digit PAN
		{"0000000012345", "bottom"},
	}
	for _, tt := range tests {
		d, err := r.Route(Payment{PAN: tt.pan}, nil)
		if err != nil {
			t.Fatalf("%q: %v", tt.pan, err)
		}
		if d.Rule != tt.rule {
			t.Errorf("PAN %q: rule %q, want %q", tt.pan, d.Rule, tt.rule)
		}
	}
}

func TestRouteFailoverOrder(t *testing.T) {
	cfg := Config{Rules: []RuleConfig{
		{Name: "kz", Currencies: []string{"KZT"}, Banks: banks("halyk", "kaspi", "bcc")},
		{Name: "usd", Currencies: []string{"USD"}, Banks: banks("forte"), Fallthrough: true},
		{Name: "default", Banks: banks("jusan", "halyk")},
	}}
	r := MustNew(t, cfg, testBanks)
	tests := []struct {
		name       string
		currency   string
		down       []string
		bank       string
		candidates []string
		noRoute    bool
		reason     []string
	}{
		{"all up", "398", nil, "halyk", []string{"halyk", "kaspi", "bcc"}, false, []string{`rule 0 "kz"`, "first bank in order"}},
		{"first down", "398", []string{"halyk"}, "kaspi", []string{"kaspi", "bcc"}, false, []string{"failover to kaspi", "down: halyk"}},
		{"middle down", "398", []string{"kaspi"}, "halyk", []string{"halyk", "bcc"}, false, nil},
		{"two down", "398", []string{"halyk", "kaspi"}, "bcc", []string{"bcc"}, false, []string{"down: halyk, kaspi"}},
		{"banks of other rules down", "398", []string{"jusan", "forte"}, "halyk", []string{"halyk", "kaspi", "bcc"}, false, nil},
		{"all down: no route, no fall through", "398", []string{"halyk", "kaspi", "bcc"}, "", nil, true,
			[]string{`rule 0 "kz" matched but no bank is ready`, "down: halyk, kaspi, bcc"}},
		{"fallthrough rule down", "840", []string{"forte"}, "jusan", []string{"jusan", "halyk"}, false,
			[]string{`rule 1 "usd" fell through (down: forte)`, `rule 2 "default"`}},
		{"fallthrough then next rule down", "840", []string{"forte", "jusan", "halyk"}, "", nil, true,
			[]string{`rule 1 "usd" fell through`, `rule 2 "default" matched but no bank is ready (down: jusan, halyk)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := r.Route(Payment{Currency: tt.currency, Amount: 100}, down(tt.down...))
			if tt.noRoute {
				if !errors.Is(err, ErrNoRoute) {
					t.Fatalf("err = %v, want ErrNoRoute", err)
				}
				if d.Bank != "" || d.Rule == "" {
					t.Errorf("decision with no route: %+v", d)
				}
			} else if err != nil {
				t.Fatalf("Route: %v", err)
			}
			if d.Bank != tt.bank || !slices.Equal(d.Candidates, tt.candidates) {
				t.Errorf("bank %q candidates %v, want %q %v", d.Bank, d.Candidates, tt.bank, tt.candidates)
			}
			msg := d.Reason
			if err != nil {
				msg = err.Error()
			}
			for _, s := range tt.reason {
				if !strings.Contains(msg, s) {
					t.Errorf("%q does not contain %q", msg, s)
				}
			}
		})
	}
}

func TestRouteNoRuleMatches(t *testing.T) {
	r := MustNew(t, Config{Rules: []RuleConfig{
		{Name: "only-mir", Brands: []string{"mir"}, Banks: banks("halyk")},
	}}, testBanks)
	d, err := r.Route(Payment{Merchant: "m1", PAN: "4111111111111111", Currency: "398", Amount: 1}, nil)
	if !errors.Is(err, ErrNoRoute) {
		t.Fatalf("err = %v, want ErrNoRoute", err)
	}
	if d.RuleIndex != -1 || d.Bank != "" {
		t.Errorf("decision %+v", d)
	}
	for _, s := range []string{"no rule matches", `merchant "m1"`, "brand visa", "currency 398"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%q does not contain %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "4111") {
		t.Errorf("error carries card digits: %q", err)
	}
}

func TestRouteBadPayment(t *testing.T) {
	r := MustNew(t, precedenceConfig(), testBanks)
	for _, p := range []Payment{
		{PAN: "4111 1111 1111 1111"},
		{PAN: "41x1"},
		{PAN: "4111111111111111", Currency: "KZ"},
		{PAN: "4111111111111111", Currency: "XYZ"},
		{PAN: "4111111111111111", Currency: "000"},
	} {
		_, err := r.Route(p, nil)
		if !errors.Is(err, ErrBadPayment) {
			t.Errorf("%+v: err = %v, want ErrBadPayment", p, err)
		}
		if err != nil && strings.Contains(err.Error(), "4111") {
			t.Errorf("error carries card digits: %q", err)
		}
	}
	// Only the first 8 characters are read: the rest is not routing's.
	if _, err := r.Route(Payment{PAN: "41111111 tail"}, nil); err != nil {
		t.Errorf("tail after 8 digits: %v", err)
	}
}

func TestVolumeSplit(t *testing.T) {
	const draws = 100_000
	const tolerance = 0.02
	tests := []struct {
		name  string
		banks []BankConfig
		down  []string
		want  map[string]float64
	}{
		{"70/30", []BankConfig{{"halyk", 70}, {"kaspi", 30}}, nil,
			map[string]float64{"halyk": 0.70, "kaspi": 0.30}},
		{"50/30/20 with failover-only bank", []BankConfig{{"halyk", 50}, {"jusan", 0}, {"kaspi", 30}, {"bcc", 20}}, nil,
			map[string]float64{"halyk": 0.50, "kaspi": 0.30, "bcc": 0.20}},
		{"one weighted bank down: split renormalised", []BankConfig{{"halyk", 50}, {"kaspi", 30}, {"bcc", 20}}, []string{"halyk"},
			map[string]float64{"kaspi": 0.60, "bcc": 0.40}},
		{"weighted banks down: failover-only bank in order", []BankConfig{{"halyk", 70}, {"kaspi", 30}, {"bcc", 0}, {"forte", 0}}, []string{"halyk", "kaspi"},
			map[string]float64{"bcc": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2026, 5))
			r := MustNew(t, Config{Rules: []RuleConfig{{Name: "split", Banks: tt.banks}}}, testBanks, WithRand(rng.Float64))
			counts := map[string]int{}
			for range draws {
				d, err := r.Route(Payment{PAN: "4111111111111111", Amount: 100}, down(tt.down...))
				if err != nil {
					t.Fatal(err)
				}
				counts[d.Bank]++
				if d.Candidates[0] != d.Bank {
					t.Fatalf("candidates %v do not start with %q", d.Candidates, d.Bank)
				}
			}
			for bank, share := range tt.want {
				got := float64(counts[bank]) / draws
				if got < share-tolerance || got > share+tolerance {
					t.Errorf("%s: share %.4f, want %.2f ± %.2f", bank, got, share, tolerance)
				}
			}
			for bank := range counts {
				if _, ok := tt.want[bank]; !ok {
					t.Errorf("%s got %d payments, want none", bank, counts[bank])
				}
			}
		})
	}
}

func TestVolumeSplitCandidates(t *testing.T) {
	bs := []BankConfig{{"halyk", 70}, {"jusan", 0}, {"kaspi", 30}, {"forte", 0}}
	for _, tt := range []struct {
		draw float64
		down []string
		want []string
	}{
		{0, nil, []string{"halyk", "kaspi", "jusan", "forte"}},
		{0.6999, nil, []string{"halyk", "kaspi", "jusan", "forte"}},
		{0.7, nil, []string{"kaspi", "halyk", "jusan", "forte"}},
		{0.9999999, nil, []string{"kaspi", "halyk", "jusan", "forte"}},
		{1, nil, []string{"kaspi", "halyk", "jusan", "forte"}}, // a source out of contract still picks a bank
		{0, []string{"halyk"}, []string{"kaspi", "jusan", "forte"}},
		{0, []string{"jusan"}, []string{"halyk", "kaspi", "forte"}},
		{0.9, []string{"halyk", "kaspi"}, []string{"jusan", "forte"}},
		{0.9, []string{"halyk", "kaspi", "jusan"}, []string{"forte"}},
	} {
		r := MustNew(t, Config{Rules: []RuleConfig{{Name: "split", Banks: bs}}}, testBanks,
			WithRand(func() float64 { return tt.draw }))
		d, err := r.Route(Payment{}, down(tt.down...))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(d.Candidates, tt.want) || d.Bank != tt.want[0] {
			t.Errorf("draw %v down %v: bank %q candidates %v, want %v", tt.draw, tt.down, d.Bank, d.Candidates, tt.want)
		}
	}
}

func TestFollowUpOriginalBankOnly(t *testing.T) {
	// The rules would now send everything to kaspi; follow-ups ignore them.
	r := MustNew(t, Config{Rules: []RuleConfig{{Name: "all-kaspi", Banks: banks("kaspi")}}}, testBanks)
	tests := []struct {
		name     string
		original string
		down     []string
		wantErr  error
	}{
		{"original up", "halyk", nil, nil},
		{"original up, rule's bank down", "halyk", []string{"kaspi"}, nil},
		{"original down: still the original, queue it", "halyk", []string{"halyk"}, ErrBankDown},
		{"everything down", "bcc", testBanks, ErrBankDown},
		{"bank since removed from the config", "oldbank", nil, nil},
		{"bank since removed and down", "oldbank", []string{"oldbank"}, ErrBankDown},
		{"no original bank", "", nil, ErrNoOriginalBank},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := r.FollowUp(tt.original, down(tt.down...))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if d.Bank != tt.original {
				t.Errorf("bank %q, want the original %q", d.Bank, tt.original)
			}
			if tt.original != "" && !slices.Equal(d.Candidates, []string{tt.original}) {
				t.Errorf("candidates %v, want only the original", d.Candidates)
			}
			if d.Rule != "" || d.RuleIndex != -1 {
				t.Errorf("follow-up decided by a rule: %+v", d)
			}
		})
	}
}

func TestFollowUpProperty(t *testing.T) {
	r := MustNew(t, precedenceConfig(), testBanks)
	rng := rand.New(rand.NewPCG(7, 7))
	for range 10_000 {
		orig := testBanks[rng.IntN(len(testBanks))]
		up := rng.Uint64()
		ready := func(b string) bool { return up&(1<<slices.Index(testBanks, b)) != 0 }
		d, err := r.FollowUp(orig, ready)
		if d.Bank != orig || len(d.Candidates) != 1 || d.Candidates[0] != orig {
			t.Fatalf("follow-up for %q went to %q %v", orig, d.Bank, d.Candidates)
		}
		if ready(orig) != (err == nil) || (err != nil && !errors.Is(err, ErrBankDown)) {
			t.Fatalf("ready %v, err %v", ready(orig), err)
		}
	}
}

func TestRouteDoesNotAllocate(t *testing.T) {
	cfg := precedenceConfig()
	cfg.Rules = append([]RuleConfig{{Name: "split", Merchants: []string{"m-split"}, Banks: []BankConfig{{"halyk", 70}, {"kaspi", 30}}}}, cfg.Rules...)
	r := MustNew(t, cfg, testBanks)
	for _, p := range []Payment{
		{Merchant: "m1", PAN: "4400431234567890", Currency: "398", Amount: 999_999},
		{Merchant: "m1", PAN: "2200000000000004", Currency: "KZT", Amount: 100},
		{Merchant: "m-split", PAN: "4400431234567890", Currency: "398", Amount: 100},
		{Merchant: "m1", PAN: "400000", Amount: 100},
	} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := r.Route(p, down("forte")); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%+v: %v allocations per decision, want 0", p, allocs)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = r.FollowUp("halyk", nil) }); allocs != 0 {
		t.Errorf("FollowUp: %v allocations, want 0", allocs)
	}
}

func TestRouteConcurrent(t *testing.T) {
	cfg := precedenceConfig()
	cfg.Rules[len(cfg.Rules)-1].Banks = []BankConfig{{"halyk", 1}, {"kaspi", 1}}
	r := MustNew(t, cfg, testBanks) // default, shared random source
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2_000 {
				p := Payment{Merchant: "m", PAN: "4111111111111111", Currency: "398", Amount: int64(g*i) % 2_000_000}
				if _, err := r.Route(p, down("bcc")); err != nil {
					t.Error(err)
					return
				}
				if _, err := r.FollowUp("halyk", nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
