package routing

import (
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strings"
)

var (
	// ErrNoRoute means no bank can take a new authorization: no rule
	// matches, or the rule that matches has no ready bank. The wrapping
	// error and Decision.Reason say which.
	ErrNoRoute = errors.New("routing: no route")

	// ErrBankDown means a follow-up's original bank is not ready. The
	// Decision still names that bank: queue the message for
	// store-and-forward to it; never send it to another bank.
	ErrBankDown = errors.New("routing: original bank not ready")

	// ErrNoOriginalBank means FollowUp was called without the bank that
	// authorized the original: a bug or a damaged order record.
	ErrNoOriginalBank = errors.New("routing: follow-up without original bank")

	// ErrBadPayment means the payment given to Route is malformed (a PAN
	// that does not start with digits, a currency that is not an ISO 4217
	// code). It never carries card data.
	ErrBadPayment = errors.New("routing: bad payment")
)

// Payment holds what routing needs to know about a new authorization.
type Payment struct {
	// Merchant is the merchant id that rules' merchants compare with.
	Merchant string
	// PAN is the card number or just its BIN: only the first 8 characters
	// are read, and they must be digits. With fewer than 8 digits (or none)
	// a rule's BIN ranges match only if they cover every card number that
	// starts with the digits given.
	PAN string
	// Brand is the card brand ("visa", …, any case). When empty it is
	// derived from PAN with BrandOf; set it for co-badged cards. A brand
	// routing does not know matches only rules without brands.
	Brand string
	// Currency is the ISO 4217 code, numeric ("398") or alphabetic ("KZT").
	// Empty matches only rules without currencies.
	Currency string
	// Amount is in minor units of Currency.
	Amount int64
}

// Decision is where a message goes and why.
type Decision struct {
	// Bank is the bank to send to. It is empty whenever the error is not
	// nil, except for FollowUp's ErrBankDown, where it names the original
	// bank to queue for.
	Bank string
	// Rule is the name of the rule that decided, RuleIndex its position in
	// Config.Rules (from 0). For follow-ups Rule is "" and RuleIndex -1; when
	// no rule matched, too.
	Rule      string
	RuleIndex int
	// Reason explains the decision in one line for logs and the journal. It
	// never holds card data.
	Reason string
	// Candidates is the failover order among the banks that were ready,
	// Bank first, so a caller whose send fails with "not sent" can try the
	// next one. It may be shared with the Router and other decisions: never
	// modify its elements.
	Candidates []string
}

// Router makes routing decisions. It is immutable after New and safe for
// concurrent use.
type Router struct {
	rules    []*rule
	ix       *index
	rand     func() float64
	followUp map[string][]string // bank → []string{bank}, so FollowUp does not allocate
}

// Option changes a Router built by New.
type Option func(*Router)

// WithRand sets the source of the volume split's draws: a function returning
// a float64 in [0, 1). It is called from every goroutine that calls Route, so
// it must be safe for concurrent use (wrap a seeded *rand.Rand in a mutex in
// tests). The default is math/rand/v2's Float64.
func WithRand(f func() float64) Option {
	return func(r *Router) {
		if f != nil {
			r.rand = f
		}
	}
}

// New validates cfg and compiles it. knownBanks are the banks the daemon has
// links for; a rule naming any other bank is an error. The error, when not
// nil, joins every problem found, each naming the rule (index from 0, and
// name) and the field, e.g.
//
//	routing: rule 3 "kz-visa": bins[1] "4999-40": bad range: bounds have different lengths
func New(cfg Config, knownBanks []string, opts ...Option) (*Router, error) {
	rules, err := compile(cfg, knownBanks)
	if err != nil {
		return nil, err
	}
	r := &Router{
		rules:    rules,
		ix:       buildIndex(rules),
		rand:     rand.Float64,
		followUp: make(map[string][]string, len(knownBanks)),
	}
	for _, b := range knownBanks {
		r.followUp[b] = []string{b}
	}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// Route decides which bank takes a new authorization (a purchase, a
// two-stage hold, an account verification). ready reports whether a bank's
// link can take a request now; nil means every bank is ready. It is called
// once for each bank of each rule tried.
//
// The first rule that matches decides. If none of its banks is ready, Route
// returns ErrNoRoute naming the rule and the banks that are down, unless the
// rule falls through, in which case the next matching rule is tried. The
// Decision returned with ErrNoRoute carries the Rule and Reason, not a Bank.
//
// Route does not allocate while every bank of the deciding rule is ready.
func (r *Router) Route(p Payment, ready func(bank string) bool) (Decision, error) {
	card, digits, err := panPrefix(p.PAN)
	if err != nil {
		return Decision{RuleIndex: -1}, fmt.Errorf("%w: %w", ErrBadPayment, err)
	}
	brand := 0
	if p.Brand != "" {
		brand = brandID(p.Brand)
	} else if digits > 0 {
		brand = brandOf(p.PAN)
	}
	var currency uint16
	if p.Currency != "" {
		currency, err = parseCurrency(p.Currency)
		if err != nil {
			return Decision{RuleIndex: -1}, fmt.Errorf("%w: currency: %w", ErrBadPayment, err)
		}
	}

	ix := r.ix
	merchant, ok := ix.merchants[p.Merchant]
	if !ok {
		merchant = ix.merchantAny
	}
	brands := ix.brands[brand]
	currencies := ix.currencies[currency]
	amounts := ix.amountSets[segment(ix.amountStarts, p.Amount)]
	// With 8 digits the card is one point, in one segment. With fewer it is
	// a range of possible cards, and a rule matches only if it covers every
	// segment of that range.
	binFrom, binTo := segment(ix.binStarts, card.lo), segment(ix.binStarts, card.hi)
	bins := ix.binSets[binFrom]
	if digits == 0 {
		bins, binTo = ix.binAll, binFrom
	}

	var fellThrough []string // reasons of rules that fell through; rare
	for w := range ix.words {
		m := merchant[w] & brands[w] & currencies[w] & amounts[w] & bins[w]
		for s := binFrom + 1; s <= binTo; s++ {
			m &= ix.binSets[s][w]
		}
		for m != 0 {
			ru := r.rules[w*64+bits.TrailingZeros64(m)]
			m &= m - 1
			d, ok := ru.pick(ready, r.rand)
			if ok {
				if fellThrough != nil {
					d.Reason = strings.Join(fellThrough, "; ") + "; " + d.Reason
				}
				return d, nil
			}
			why := ru.label + " matched but no bank is ready (down: " + strings.Join(ru.banks, ", ") + ")"
			if !ru.fallsThrough {
				if fellThrough != nil {
					why = strings.Join(fellThrough, "; ") + "; " + why
				}
				return Decision{Rule: ru.name, RuleIndex: ru.index, Reason: why}, fmt.Errorf("%w: %s", ErrNoRoute, why)
			}
			fellThrough = append(fellThrough, ru.label+" fell through (down: "+strings.Join(ru.banks, ", ")+")")
		}
	}
	why := fmt.Sprintf("no rule matches merchant %q, brand %s, currency %s, amount %d",
		p.Merchant, brandName(brand), currencyName(currency), p.Amount)
	if fellThrough != nil {
		why = strings.Join(fellThrough, "; ") + "; no later rule matches"
	}
	return Decision{RuleIndex: -1, Reason: why}, fmt.Errorf("%w: %s", ErrNoRoute, why)
}

// pick chooses a ready bank of the rule; ok is false when none is ready.
func (ru *rule) pick(ready func(string) bool, draw func() float64) (d Decision, ok bool) {
	var up uint64
	for i, b := range ru.banks {
		if ready == nil || ready(b) {
			up |= 1 << i
		}
	}
	if up == 0 {
		return Decision{}, false
	}
	d = Decision{Rule: ru.name, RuleIndex: ru.index}
	all := up == ru.allReady

	if !ru.weighted {
		if all {
			d.Bank, d.Reason, d.Candidates = ru.banks[0], ru.reasons[0], ru.orders[0]
			return d, true
		}
		for i, b := range ru.banks {
			if up&(1<<i) != 0 {
				d.Candidates = append(d.Candidates, b)
			}
		}
		d.Bank = d.Candidates[0]
		d.Reason = fmt.Sprintf("%s: failover to %s (down: %s)", ru.label, d.Bank, ru.down(up))
		return d, true
	}

	total := 0
	for i, w := range ru.weights {
		if up&(1<<i) != 0 {
			total += w
		}
	}
	if total == 0 {
		// Every weighted bank is down: failover-only banks, in order.
		d.Candidates = splitOrder(ru, bits.TrailingZeros64(up), up)
		d.Bank = d.Candidates[0]
		d.Reason = fmt.Sprintf("%s: failover to %s, every weighted bank is down (down: %s)", ru.label, d.Bank, ru.down(up))
		return d, true
	}
	x := int(draw() * float64(total))
	x = min(max(x, 0), total-1) // a draw source that returns 1.0 must not break the split
	chosen := -1
	for i, w := range ru.weights {
		if up&(1<<i) == 0 || w == 0 {
			continue
		}
		if x < w {
			chosen = i
			break
		}
		x -= w
	}
	d.Bank = ru.banks[chosen]
	if all {
		d.Reason, d.Candidates = ru.reasons[chosen], ru.orders[chosen]
		return d, true
	}
	d.Candidates = splitOrder(ru, chosen, up)
	d.Reason = fmt.Sprintf("%s: volume split among ready banks drew %s (weight %d of %d; down: %s)",
		ru.label, d.Bank, ru.weights[chosen], total, ru.down(up))
	return d, true
}

// down lists the rule's banks not in the ready mask up.
func (ru *rule) down(up uint64) string {
	var b strings.Builder
	for i, name := range ru.banks {
		if up&(1<<i) == 0 {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(name)
		}
	}
	return b.String()
}

// FollowUp decides where a completion, reversal or refund goes: always to
// originalBank, the bank that authorized the original, whatever the rules
// say now. When ready (nil: every bank is ready) says that bank is not ready,
// FollowUp still returns it in the Decision, with an error wrapping
// ErrBankDown: queue the message for store-and-forward to that bank, never
// drop it and never send it elsewhere.
func (r *Router) FollowUp(originalBank string, ready func(bank string) bool) (Decision, error) {
	if originalBank == "" {
		return Decision{RuleIndex: -1}, ErrNoOriginalBank
	}
	cands, ok := r.followUp[originalBank]
	if !ok {
		// A bank removed from the config since the authorization still owns
		// its follow-ups; the links layer decides whether it can reach it.
		cands = []string{originalBank}
	}
	d := Decision{Bank: originalBank, RuleIndex: -1, Candidates: cands, Reason: "follow-up goes to the bank that authorized the original"}
	if ready != nil && !ready(originalBank) {
		d.Reason = "follow-up goes to the bank that authorized the original, which is not ready: queue for store-and-forward"
		return d, fmt.Errorf("%w: %q: queue for store-and-forward", ErrBankDown, originalBank)
	}
	return d, nil
}

func brandName(id int) string {
	if id == 0 {
		return "unknown"
	}
	return brandNames[id-1]
}

func currencyName(c uint16) string {
	if c == 0 {
		return "none"
	}
	return fmt.Sprintf("%03d", c)
}
