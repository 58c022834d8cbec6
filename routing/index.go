package routing

import (
	"math"
	"slices"
)

// The index turns "the first rule that matches" into a few lookups and a
// bitwise AND. For each criterion it keeps, per possible value of the
// payment's attribute, the set of rules that value satisfies (rules without
// that criterion are in every set). A payment's candidate rules are the AND
// of one set per criterion, and the first set bit is the first matching rule.
// Range criteria (BIN, amount) are cut into elementary segments at every
// bound, so each segment has one set. A decision therefore costs a map
// lookup, two binary searches and len(rules)/64 word ANDs, instead of a scan
// of every rule; memory is one bit per rule per distinct value or segment
// (1,000 rules with one BIN range each: about 2,000 segments of 128 bytes).

// bitset is a set of rule indexes, bit i%64 of word i/64.
type bitset []uint64

func (b bitset) set(i int) { b[i/64] |= 1 << (i % 64) }

type index struct {
	words int

	merchantAny bitset            // rules without a merchant criterion
	merchants   map[string]bitset // merchantAny plus rules naming the merchant

	brands [len(brandNames) + 1]bitset // by brand id; [0] is "unknown brand"

	currencies [maxCurrency]bitset // by numeric code; [0] is "no currency"

	binStarts []uint32 // sorted, binStarts[0] == 0; segment s is [binStarts[s], binStarts[s+1])
	binSets   []bitset // by segment
	binAll    bitset   // rules matching a payment with no card digits

	amountStarts []int64 // sorted, amountStarts[0] == math.MinInt64
	amountSets   []bitset
}

func buildIndex(rules []*rule) *index {
	n := len(rules)
	ix := &index{words: (n + 63) / 64}
	arena := []uint64(nil)
	newSet := func() bitset {
		if len(arena) < ix.words {
			arena = make([]uint64, max(ix.words*256, 1024))
		}
		b := bitset(arena[:ix.words:ix.words])
		arena = arena[ix.words:]
		return b
	}
	// withAny returns a new set holding the rules for which has is false,
	// i.e. those without the criterion.
	withAny := func(has func(*rule) bool) bitset {
		b := newSet()
		for _, ru := range rules {
			if !has(ru) {
				b.set(ru.index)
			}
		}
		return b
	}

	// Merchants.
	ix.merchantAny = withAny(func(ru *rule) bool { return len(ru.merchants) > 0 })
	ix.merchants = make(map[string]bitset)
	for _, ru := range rules {
		for _, m := range ru.merchants {
			b, ok := ix.merchants[m]
			if !ok {
				b = newSet()
				copy(b, ix.merchantAny)
				ix.merchants[m] = b
			}
			b.set(ru.index)
		}
	}

	// Brands.
	brandAny := withAny(func(ru *rule) bool { return ru.brands != 0 })
	ix.brands[0] = brandAny
	for id := 1; id < len(ix.brands); id++ {
		b := newSet()
		copy(b, brandAny)
		for _, ru := range rules {
			if ru.brands&(1<<id) != 0 {
				b.set(ru.index)
			}
		}
		ix.brands[id] = b
	}

	// Currencies.
	currencyAny := withAny(func(ru *rule) bool { return len(ru.currencies) > 0 })
	// Currencies no rule names share currencyAny.
	for c := range ix.currencies {
		ix.currencies[c] = currencyAny
	}
	var own [maxCurrency]bool
	for _, ru := range rules {
		for _, c := range ru.currencies {
			if !own[c] {
				own[c] = true
				ix.currencies[c] = newSet()
				copy(ix.currencies[c], currencyAny)
			}
			ix.currencies[c].set(ru.index)
		}
	}

	// BIN segments.
	binAny := withAny(func(ru *rule) bool { return len(ru.bins) > 0 })
	ix.binStarts = []uint32{0}
	for _, ru := range rules {
		for _, r := range ru.bins {
			ix.binStarts = append(ix.binStarts, r.lo)
			if r.hi+1 < binSpace {
				ix.binStarts = append(ix.binStarts, r.hi+1)
			}
		}
	}
	slices.Sort(ix.binStarts)
	ix.binStarts = slices.Compact(ix.binStarts)
	ix.binSets = make([]bitset, len(ix.binStarts))
	for s := range ix.binSets {
		ix.binSets[s] = newSet()
		copy(ix.binSets[s], binAny)
	}
	for _, ru := range rules {
		for _, r := range ru.bins {
			// Bounds are segment starts, so the range is whole segments.
			from := segment(ix.binStarts, r.lo)
			to := segment(ix.binStarts, r.hi)
			for s := from; s <= to; s++ {
				ix.binSets[s].set(ru.index)
			}
		}
	}
	ix.binAll = newSet()
	copy(ix.binAll, ix.binSets[0])
	for _, b := range ix.binSets[1:] {
		for w := range b {
			ix.binAll[w] &= b[w]
		}
	}

	// Amount segments.
	amountAny := withAny(func(ru *rule) bool { return ru.hasAmount })
	ix.amountStarts = []int64{math.MinInt64}
	for _, ru := range rules {
		if !ru.hasAmount {
			continue
		}
		ix.amountStarts = append(ix.amountStarts, ru.amountLo)
		if ru.amountHi < math.MaxInt64 {
			ix.amountStarts = append(ix.amountStarts, ru.amountHi+1)
		}
	}
	slices.Sort(ix.amountStarts)
	ix.amountStarts = slices.Compact(ix.amountStarts)
	ix.amountSets = make([]bitset, len(ix.amountStarts))
	for s := range ix.amountSets {
		ix.amountSets[s] = newSet()
		copy(ix.amountSets[s], amountAny)
	}
	for _, ru := range rules {
		if !ru.hasAmount {
			continue
		}
		from := segment(ix.amountStarts, ru.amountLo)
		to := segment(ix.amountStarts, ru.amountHi)
		for s := from; s <= to; s++ {
			ix.amountSets[s].set(ru.index)
		}
	}
	return ix
}

// segment returns the index of the segment holding v: the last start ≤ v.
// starts[0] is the smallest possible value, so there always is one.
func segment[T uint32 | int64](starts []T, v T) int {
	i, found := slices.BinarySearch(starts, v)
	if !found {
		i--
	}
	return i
}
