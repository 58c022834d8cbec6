package routing

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Config is the routing section of the daemon's config file. Its zero value
// is not valid: at least one rule is required.
type Config struct {
	// Rules are tried in order; the first that matches decides (see
	// RuleConfig.Fallthrough for the one exception).
	Rules []RuleConfig `yaml:"rules"`
}

// RuleConfig is one routing rule. Every criterion is optional; a rule that
// sets none matches every payment and, unless it falls through, must come
// last. Within a criterion any listed value matches; across criteria all
// that are set must hold.
type RuleConfig struct {
	// Name identifies the rule in decisions, errors and logs. Required and
	// unique.
	Name string `yaml:"name"`

	// Merchants are merchant ids, compared exactly.
	Merchants []string `yaml:"merchants,omitempty"`
	// BINs are card number prefix ranges: "40000000-49999999",
	// "400000-499999" or a single prefix "4111"; 1 to 8 digits, both bounds
	// of the same length, inclusive. A bound of N digits compares the first
	// N digits of the card number.
	BINs []string `yaml:"bins,omitempty"`
	// Brands are card brands as BrandOf names them ("visa", "mastercard",
	// "mir", "amex", "unionpay", "jcb", "discover", "diners"), any case.
	Brands []string `yaml:"brands,omitempty"`
	// Currencies are ISO 4217 codes, numeric ("398") or alphabetic ("KZT").
	Currencies []string `yaml:"currencies,omitempty"`
	// AmountMin and AmountMax bound the amount in minor units, both
	// inclusive; nil means unbounded on that side. They are pointers so
	// that "amount_max: 0" means zero, not "no limit".
	AmountMin *int64 `yaml:"amount_min,omitempty"`
	AmountMax *int64 `yaml:"amount_max,omitempty"`

	// Banks is the ordered list of banks for payments this rule matches.
	// Required. Without weights the first ready bank is used and the rest
	// are failover in order. When any bank has a weight, traffic is split
	// among the ready weighted banks in proportion to their weights, and
	// banks without a weight are failover, in order, once all weighted
	// banks are down.
	Banks []BankConfig `yaml:"banks"`

	// Fallthrough lets a payment that matches this rule try the next
	// matching rule when none of this rule's banks is ready. Off by default:
	// a rule usually carries an agreement with its banks, so "no route" is
	// the safe answer, not a silent move to another bank.
	Fallthrough bool `yaml:"fallthrough,omitempty"`
}

// BankConfig names a bank in a rule, optionally with a volume-split weight.
type BankConfig struct {
	// Name must be one of the bank names given to New.
	Name string `yaml:"name"`
	// Weight is the bank's share of the rule's traffic relative to the other
	// weighted banks; 0 means "failover only" when any bank of the rule has
	// a weight. At most MaxWeight.
	Weight int `yaml:"weight,omitempty"`
}

// Limits on a rule, checked by New.
const (
	// MaxBanksPerRule bounds a rule's bank list; readiness is kept in a
	// 64-bit mask on the decision path.
	MaxBanksPerRule = 64
	// MaxWeight bounds one bank's weight so sums never overflow.
	MaxWeight = 1_000_000
)

// rule is a RuleConfig compiled for routing.
type rule struct {
	index        int
	name         string
	label        string // `rule 3 "kz-visa"`, for reasons and errors
	fallsThrough bool

	banks    []string
	weights  []int // parallel to banks; all 0 when the rule is unweighted
	weighted bool
	allReady uint64 // readiness mask with every bank ready

	// orders[i] and reasons[i] are the candidates and the reason when every
	// bank is ready and bank i is chosen (only i = 0 for an unweighted
	// rule), precomputed so that the common decision does not allocate.
	orders  [][]string
	reasons []string

	// Criteria, kept for building the index.
	merchants  []string
	bins       []binRange
	brands     uint32 // bit i set: brand id i matches; 0: any brand
	currencies []uint16
	amountLo   int64
	amountHi   int64
	hasAmount  bool
}

// setsNoCriteria reports whether the rule matches every payment. It looks at
// the config, not the compiled rule, so that a criterion with only bad
// values is not taken for "no criterion".
func (rc *RuleConfig) setsNoCriteria() bool {
	return len(rc.Merchants) == 0 && len(rc.BINs) == 0 && len(rc.Brands) == 0 &&
		len(rc.Currencies) == 0 && rc.AmountMin == nil && rc.AmountMax == nil
}

// configErrors collects every problem New finds, so an operator sees them
// all at once.
type configErrors []error

func (e *configErrors) add(ruleIdx int, name, field, format string, args ...any) {
	*e = append(*e, fmt.Errorf("routing: rule %d %q: %s: %s", ruleIdx, name, field, fmt.Sprintf(format, args...)))
}

// compile validates cfg against the known bank names and compiles its rules.
func compile(cfg Config, knownBanks []string) ([]*rule, error) {
	if len(cfg.Rules) == 0 {
		return nil, errors.New("routing: rules: at least one rule is required")
	}
	known := make(map[string]bool, len(knownBanks))
	for _, b := range knownBanks {
		known[b] = true
	}
	var errs configErrors
	var rules []*rule
	names := make(map[string]int, len(cfg.Rules))
	catchAll := -1 // index of the first rule that matches everything and stops
	for i, rc := range cfg.Rules {
		ru := compileRule(i, rc, known, knownBanks, &errs)
		if rc.Name == "" {
			errs.add(i, rc.Name, "name", "required")
		} else if j, dup := names[rc.Name]; dup {
			errs.add(i, rc.Name, "name", "duplicate of rule %d", j)
		} else {
			names[rc.Name] = i
		}
		if catchAll >= 0 {
			errs.add(i, rc.Name, "rule", "unreachable: rule %d %q sets no criteria and does not fall through, so it takes every payment first",
				catchAll, cfg.Rules[catchAll].Name)
		} else if rc.setsNoCriteria() && !rc.Fallthrough {
			catchAll = i
		}
		rules = append(rules, ru)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rules, nil
}

func compileRule(i int, rc RuleConfig, known map[string]bool, knownBanks []string, errs *configErrors) *rule {
	ru := &rule{
		index:        i,
		name:         rc.Name,
		label:        fmt.Sprintf("rule %d %q", i, rc.Name),
		fallsThrough: rc.Fallthrough,
		amountLo:     math.MinInt64,
		amountHi:     math.MaxInt64,
	}
	field := func(name string, j int, v string) string { return fmt.Sprintf("%s[%d] %q", name, j, v) }

	for j, m := range rc.Merchants {
		switch {
		case m == "":
			errs.add(i, rc.Name, field("merchants", j, m), "empty")
		case strings.TrimSpace(m) != m:
			errs.add(i, rc.Name, field("merchants", j, m), "leading or trailing space")
		case !slices.Contains(ru.merchants, m):
			ru.merchants = append(ru.merchants, m)
		}
	}
	for j, s := range rc.BINs {
		br, err := parseBINRange(s)
		if err != nil {
			errs.add(i, rc.Name, field("bins", j, s), "%v", err)
			continue
		}
		ru.bins = append(ru.bins, br)
	}
	for j, b := range rc.Brands {
		id := brandID(b)
		if id == 0 {
			errs.add(i, rc.Name, field("brands", j, b), "unknown brand (want one of %s)", strings.Join(brandNames[:], ", "))
			continue
		}
		ru.brands |= 1 << id
	}
	for j, c := range rc.Currencies {
		n, err := parseCurrency(c)
		if err != nil {
			errs.add(i, rc.Name, field("currencies", j, c), "%v", err)
			continue
		}
		if !slices.Contains(ru.currencies, n) {
			ru.currencies = append(ru.currencies, n)
		}
	}
	if rc.AmountMin != nil {
		ru.hasAmount = true
		ru.amountLo = *rc.AmountMin
		if *rc.AmountMin < 0 {
			errs.add(i, rc.Name, "amount_min", "negative (%d)", *rc.AmountMin)
		}
	}
	if rc.AmountMax != nil {
		ru.hasAmount = true
		ru.amountHi = *rc.AmountMax
		if *rc.AmountMax < 0 {
			errs.add(i, rc.Name, "amount_max", "negative (%d)", *rc.AmountMax)
		}
	}
	if rc.AmountMin != nil && rc.AmountMax != nil && *rc.AmountMin > *rc.AmountMax {
		errs.add(i, rc.Name, "amount_min", "%d greater than amount_max %d", *rc.AmountMin, *rc.AmountMax)
	}

	compileBanks(ru, rc, known, knownBanks, errs)
	return ru
}

func compileBanks(ru *rule, rc RuleConfig, known map[string]bool, knownBanks []string, errs *configErrors) {
	i := ru.index
	switch {
	case len(rc.Banks) == 0:
		errs.add(i, rc.Name, "banks", "at least one bank is required")
		return
	case len(rc.Banks) > MaxBanksPerRule:
		errs.add(i, rc.Name, "banks", "%d banks, at most %d", len(rc.Banks), MaxBanksPerRule)
		return
	}
	ok := true
	for j, b := range rc.Banks {
		f := fmt.Sprintf("banks[%d]", j)
		switch {
		case b.Name == "":
			errs.add(i, rc.Name, f+".name", "required")
			ok = false
		case !known[b.Name]:
			errs.add(i, rc.Name, fmt.Sprintf("%s.name %q", f, b.Name), "unknown bank (known: %s)", strings.Join(knownBanks, ", "))
			ok = false
		case slices.Contains(ru.banks, b.Name):
			errs.add(i, rc.Name, fmt.Sprintf("%s.name %q", f, b.Name), "listed twice")
			ok = false
		}
		if b.Weight < 0 || b.Weight > MaxWeight {
			errs.add(i, rc.Name, f+".weight", "%d out of range 0..%d", b.Weight, MaxWeight)
			ok = false
		}
		ru.banks = append(ru.banks, b.Name)
		ru.weights = append(ru.weights, b.Weight)
		ru.weighted = ru.weighted || b.Weight > 0
	}
	if !ok {
		return
	}
	ru.allReady = 1<<len(ru.banks) - 1 // len ≤ 64: 1<<64 - 1 wraps to all ones
	if !ru.weighted {
		ru.orders = [][]string{ru.banks}
		ru.reasons = []string{ru.label + ": first bank in order"}
		return
	}
	total := 0
	for _, w := range ru.weights {
		total += w
	}
	ru.orders = make([][]string, len(ru.banks))
	ru.reasons = make([]string, len(ru.banks))
	for j, w := range ru.weights {
		if w == 0 {
			continue // failover-only banks are never drawn while a weighted bank is ready
		}
		ru.orders[j] = splitOrder(ru, j, ru.allReady)
		ru.reasons[j] = fmt.Sprintf("%s: volume split drew %s (weight %d of %d)", ru.label, ru.banks[j], w, total)
	}
}

// splitOrder is the failover order of a weighted rule when bank chosen was
// drawn and the banks in mask are ready: the chosen bank, the other ready
// weighted banks in config order, then the ready failover-only banks in
// config order.
func splitOrder(ru *rule, chosen int, mask uint64) []string {
	out := make([]string, 0, len(ru.banks))
	out = append(out, ru.banks[chosen])
	for pass := range 2 {
		for j, b := range ru.banks {
			if j == chosen || mask&(1<<j) == 0 || (ru.weights[j] > 0) != (pass == 0) {
				continue
			}
			out = append(out, b)
		}
	}
	return out
}
