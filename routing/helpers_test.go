package routing

import (
	"slices"
	"testing"
)

var testBanks = []string{"halyk", "kaspi", "bcc", "forte", "jusan"}

// MustNew builds a Router or fails the test.
func MustNew(tb testing.TB, cfg Config, banks []string, opts ...Option) *Router {
	tb.Helper()
	r, err := New(cfg, banks, opts...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return r
}

func i64(v int64) *int64 { return &v }

// banks turns names into an unweighted bank list.
func banks(names ...string) []BankConfig {
	out := make([]BankConfig, len(names))
	for i, n := range names {
		out[i] = BankConfig{Name: n}
	}
	return out
}

// down returns a readiness function under which the named banks are down.
func down(names ...string) func(string) bool {
	return func(b string) bool { return !slices.Contains(names, b) }
}
