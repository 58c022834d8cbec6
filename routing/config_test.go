package routing

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// decodeConfig decodes YAML as the daemon does, refusing unknown keys.
func decodeConfig(data []byte) (Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&cfg)
	return cfg, err
}

func TestDecodeSampleConfig(t *testing.T) {
	data, err := os.ReadFile("testdata/routing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := decodeConfig(data)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if n := len(cfg.Rules); n != 5 {
		t.Fatalf("%d rules, want 5", n)
	}
	lf := cfg.Rules[3]
	if lf.Name != "large-foreign" || lf.AmountMin == nil || *lf.AmountMin != 50_000_000 || lf.AmountMax != nil || !lf.Fallthrough {
		t.Errorf("large-foreign decoded as %+v", lf)
	}
	if got := cfg.Rules[4].Banks; len(got) != 3 || got[0] != (BankConfig{"halyk", 70}) || got[2] != (BankConfig{"bcc", 0}) {
		t.Errorf("default banks decoded as %+v", got)
	}

	r := MustNew(t, cfg, []string{"halyk", "kaspi", "bcc"}, WithRand(func() float64 { return 0.8 }))
	tests := []struct {
		p    Payment
		down []string
		rule string
		bank string
	}{
		{Payment{Merchant: "ECOM-00042", PAN: "2200000000000004", Currency: "398", Amount: 100}, nil, "vip-merchant", "halyk"},
		{Payment{Merchant: "ECOM-00001", PAN: "2200000000000004", Currency: "398", Amount: 100}, nil, "kz-mir", "kaspi"},
		{Payment{Merchant: "ECOM-00001", PAN: "5213240000000000", Currency: "398", Amount: 100}, nil, "on-us-bins", "halyk"},
		{Payment{Merchant: "ECOM-00001", PAN: "4111111111111111", Currency: "EUR", Amount: 60_000_000}, nil, "large-foreign", "bcc"},
		{Payment{Merchant: "ECOM-00001", PAN: "4111111111111111", Currency: "EUR", Amount: 60_000_000}, []string{"bcc"}, "default", "kaspi"},
		{Payment{Merchant: "ECOM-00001", PAN: "4111111111111111", Currency: "398", Amount: 100}, nil, "default", "kaspi"},
		{Payment{Merchant: "ECOM-00001", PAN: "4111111111111111", Currency: "398", Amount: 100}, []string{"kaspi", "halyk"}, "default", "bcc"},
	}
	for _, tt := range tests {
		d, err := r.Route(tt.p, down(tt.down...))
		if err != nil {
			t.Fatalf("%+v: %v", tt.p, err)
		}
		if d.Rule != tt.rule || d.Bank != tt.bank {
			t.Errorf("%+v down %v: rule %q bank %q, want %q %q (%s)", tt.p, tt.down, d.Rule, d.Bank, tt.rule, tt.bank, d.Reason)
		}
	}
}

func TestDecodeRejectsUnknownKeys(t *testing.T) {
	_, err := decodeConfig([]byte("rules:\n  - name: x\n    bin: [\"4\"]\n    banks: [{name: halyk}]\n"))
	if err == nil || !strings.Contains(err.Error(), "bin") {
		t.Errorf("err = %v, want one naming the unknown key", err)
	}
}

func TestConfigErrors(t *testing.T) {
	ok := func() RuleConfig { return RuleConfig{Name: "ok", Banks: banks("halyk")} }
	with := func(f func(*RuleConfig)) RuleConfig { rc := ok(); f(&rc); return rc }
	tests := []struct {
		name  string
		rules []RuleConfig
		want  []string // substrings, each naming the rule and the field
	}{
		{"no rules", nil, []string{"routing: rules: at least one rule is required"}},
		{"no name", []RuleConfig{with(func(r *RuleConfig) { r.Name = "" })}, []string{`routing: rule 0 "": name: required`}},
		{"duplicate name", []RuleConfig{with(func(r *RuleConfig) { r.Merchants = []string{"m"} }), ok()},
			[]string{`rule 1 "ok": name: duplicate of rule 0`}},
		{"BIN lower greater than upper", []RuleConfig{ok(), with(func(r *RuleConfig) { r.Name = "kz-visa"; r.BINs = []string{"4", "499999-400000"} })},
			[]string{`routing: rule 1 "kz-visa": bins[1] "499999-400000": bad range: lower bound greater than upper`}},
		{"BIN bounds of different lengths", []RuleConfig{with(func(r *RuleConfig) { r.BINs = []string{"4999-40"} })},
			[]string{`rule 0 "ok": bins[0] "4999-40": bad range: bounds have different lengths`}},
		{"BIN not digits", []RuleConfig{with(func(r *RuleConfig) { r.BINs = []string{"4x11"} })},
			[]string{`bins[0] "4x11": bad prefix: not all digits`}},
		{"BIN too long", []RuleConfig{with(func(r *RuleConfig) { r.BINs = []string{"411111111"} })},
			[]string{`bins[0] "411111111": bad prefix: more than 8 digits`}},
		{"BIN empty upper", []RuleConfig{with(func(r *RuleConfig) { r.BINs = []string{"4111-"} })},
			[]string{`bins[0] "4111-": bad range: upper bound: empty`}},
		{"BIN empty", []RuleConfig{with(func(r *RuleConfig) { r.BINs = []string{""} })},
			[]string{`bins[0] "": bad prefix: empty`}},
		{"BIN with spaces", []RuleConfig{with(func(r *RuleConfig) { r.BINs = []string{"400000 - 499999"} })},
			[]string{`bins[0] "400000 - 499999": bad range: lower bound: not all digits`}},
		{"unknown brand", []RuleConfig{with(func(r *RuleConfig) { r.Brands = []string{"visa", "maestro"} })},
			[]string{`rule 0 "ok": brands[1] "maestro": unknown brand (want one of visa, mastercard, mir`}},
		{"bad currency", []RuleConfig{with(func(r *RuleConfig) { r.Currencies = []string{"KZT", "tenge", "XYZ", "000", "39"} })},
			[]string{`currencies[1] "tenge": want a numeric ISO 4217 code`, `currencies[2] "XYZ": alphabetic code not known here`,
				`currencies[3] "000"`, `currencies[4] "39"`}},
		{"empty merchant", []RuleConfig{with(func(r *RuleConfig) { r.Merchants = []string{"m1", ""} })},
			[]string{`merchants[1] "": empty`}},
		{"merchant with space", []RuleConfig{with(func(r *RuleConfig) { r.Merchants = []string{"m1 "} })},
			[]string{`merchants[0] "m1 ": leading or trailing space`}},
		{"amount min > max", []RuleConfig{with(func(r *RuleConfig) { r.AmountMin, r.AmountMax = i64(500), i64(100) })},
			[]string{`rule 0 "ok": amount_min: 500 greater than amount_max 100`}},
		{"negative amounts", []RuleConfig{with(func(r *RuleConfig) { r.AmountMin, r.AmountMax = i64(-1), i64(-2) })},
			[]string{`amount_min: negative (-1)`, `amount_max: negative (-2)`}},
		{"no banks", []RuleConfig{with(func(r *RuleConfig) { r.Banks = nil })},
			[]string{`rule 0 "ok": banks: at least one bank is required`}},
		{"unknown bank", []RuleConfig{with(func(r *RuleConfig) { r.Banks = banks("halyk", "sberbank") })},
			[]string{`rule 0 "ok": banks[1].name "sberbank": unknown bank (known: halyk, kaspi, bcc, forte, jusan)`}},
		{"bank without name", []RuleConfig{with(func(r *RuleConfig) { r.Banks = []BankConfig{{Weight: 5}} })},
			[]string{`banks[0].name: required`}},
		{"bank twice", []RuleConfig{with(func(r *RuleConfig) { r.Banks = banks("halyk", "kaspi", "halyk") })},
			[]string{`banks[2].name "halyk": listed twice`}},
		{"bad weights", []RuleConfig{with(func(r *RuleConfig) { r.Banks = []BankConfig{{"halyk", -1}, {"kaspi", MaxWeight + 1}} })},
			[]string{`banks[0].weight: -1 out of range`, `banks[1].weight: 1000001 out of range`}},
		{"too many banks", []RuleConfig{with(func(r *RuleConfig) { r.Banks = make([]BankConfig, MaxBanksPerRule+1) })},
			[]string{`banks: 65 banks, at most 64`}},
		{"catch-all before other rules", []RuleConfig{{Name: "everything", Banks: banks("halyk")}, with(func(r *RuleConfig) { r.Name = "late" })},
			[]string{`rule 1 "late": rule: unreachable: rule 0 "everything" sets no criteria`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(Config{Rules: tt.rules}, testBanks)
			if err == nil {
				t.Fatalf("New accepted the config: %+v", r)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, s)
				}
			}
		})
	}
}

func TestConfigErrorsAreAllReported(t *testing.T) {
	_, err := New(Config{Rules: []RuleConfig{
		{Name: "a", BINs: []string{"5-4"}, Banks: banks("halyk")},
		{Name: "b", Brands: []string{"maestro"}, Banks: banks("nobank")},
		{Name: "a", Banks: banks("kaspi")},
	}}, testBanks)
	if err == nil {
		t.Fatal("New accepted a bad config")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 4 {
		t.Errorf("%d errors, want 4:\n%v", len(lines), err)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "routing: rule ") {
			t.Errorf("%q does not name its rule", l)
		}
	}
}

func TestFallthroughCatchAllIsNotUnreachable(t *testing.T) {
	_, err := New(Config{Rules: []RuleConfig{
		{Name: "preferred", Banks: banks("halyk"), Fallthrough: true},
		{Name: "rest", Banks: banks("kaspi")},
	}}, testBanks)
	if err != nil {
		t.Fatal(err)
	}
}

func TestParseBINRange(t *testing.T) {
	tests := []struct {
		in     string
		lo, hi uint32
	}{
		{"4", 40000000, 49999999},
		{"4111", 41110000, 41119999},
		{"400000-499999", 40000000, 49999999},
		{"40000000-49999999", 40000000, 49999999},
		{"41234560-41234569", 41234560, 41234569},
		{"00000000", 0, 0},
		{"99999999", 99999999, 99999999},
		{"0-9", 0, 99999999},
		{"0000-0000", 0, 9999},
	}
	for _, tt := range tests {
		lo, hi, err := ParseBINRange(tt.in)
		if err != nil || lo != tt.lo || hi != tt.hi {
			t.Errorf("ParseBINRange(%q) = %d, %d, %v; want %d, %d", tt.in, lo, hi, err, tt.lo, tt.hi)
		}
	}
	for _, bad := range []string{"", "-", "4-", "-4", "a", "4-5-6", "499-400", "4000-40000", "123456789", "+4", " 4"} {
		if _, _, err := ParseBINRange(bad); err == nil {
			t.Errorf("ParseBINRange(%q) accepted", bad)
		}
	}
}

func TestErrorsAreSentinels(t *testing.T) {
	// A caller decides on these with errors.Is; make sure the wrapping holds.
	r := MustNew(t, Config{Rules: []RuleConfig{{Name: "x", Banks: banks("halyk")}}}, testBanks)
	_, err := r.Route(Payment{}, down("halyk"))
	if !errors.Is(err, ErrNoRoute) || errors.Is(err, ErrBankDown) {
		t.Errorf("Route with bank down: %v", err)
	}
	_, err = r.FollowUp("halyk", down("halyk"))
	if !errors.Is(err, ErrBankDown) || errors.Is(err, ErrNoRoute) {
		t.Errorf("FollowUp with bank down: %v", err)
	}
}
