package api

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzOrderBundle: any orderBundle text is a cart or a refusal naming a
// field, never a panic; a cart taken adds up to the order's amount and
// holds only whole, non-negative minor units.
func FuzzOrderBundle(f *testing.F) {
	for _, seed := range []string{
		`{"cartItems":{"items":[{"name":"a","quantity":{"value":2},"itemPrice":50}]}}`,
		`{"cartItems":{"items":[{"name":"a","quantity":{"value":"1.5","measure":"kg"},"itemAmount":150,"tax":{"taxType":1}}]}}`,
		`{"customerDetails":{"phone":"+7 (701) 123-45-67"},"cartItems":{"items":[{"name":"a","quantity":{"value":1},"itemPrice":99.99999999}]}}`,
		`{"cartItems":{"items":[{"name":"a","quantity":{"value":1e30},"itemPrice":1e-30}]}}`,
		`[]`, `{"cartItems":null}`,
	} {
		f.Add(seed, int64(100))
	}
	f.Fuzz(func(t *testing.T, raw string, amount int64) {
		b, e := parseBundle(raw, amount)
		if e != nil {
			require.Contains(t, e.message(langEN), "orderBundle")
			return
		}
		var total int64
		for _, it := range b.items {
			require.GreaterOrEqual(t, it.Amount, int64(0))
			require.GreaterOrEqual(t, it.Price, int64(0))
			require.NotEmpty(t, it.Name)
			total += it.Amount
		}
		require.Equal(t, amount, total)
	})
}

// FuzzNormPhone: a phone number taken is + and 8 to 15 digits.
func FuzzNormPhone(f *testing.F) {
	for _, seed := range []string{"+7 (701) 123-45-67", "8 701 123 45 67", "7011234567", "0044 20 7946 0958", "+", "8"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := normPhone(s)
		if !ok || p == "" {
			return
		}
		require.Regexp(t, `^\+[1-9][0-9]{7,14}$`, p)
	})
}
