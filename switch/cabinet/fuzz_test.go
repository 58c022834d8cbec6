package cabinet

import (
	"net/url"
	"testing"
	"time"
)

// FuzzFilter feeds the register's query string parser whatever a browser
// (or anyone) sends: it never panics, a parsed filter's link parses back to
// the same filter, and a merchant's user stays in its merchant.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{"", "from=&to=", "status=deposited&status=declined&amount_from=1%20000.50&last4=1111",
		"merchant=rival&rrn=612300000001&approval=a1b2c3&sort=amount&dir=asc&page=1000&size=50", "from=2026-13-45&amount_to=1e9",
		"number=%00&status=nope&page=-3"} {
		f.Add(s)
	}
	loc := time.FixedZone("Almaty", 5*3600)
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fl := parseFilter(v, now, loc)
		q, _ := fl.query("shop", loc)
		if len(q.Merchants) != 1 || q.Merchants[0] != "shop" {
			t.Fatalf("a merchant's user left its merchant: %v", q.Merchants)
		}
		if fl.Page < 1 || fl.Size <= 0 || columnByID[fl.Sort] == nil {
			t.Fatalf("bad paging or sort: %+v", fl)
		}
		again := parseFilter(fl.values(), now, loc)
		again.Page = fl.Page
		if fl.values().Encode() != again.values().Encode() {
			t.Fatalf("the link does not give the filter back:\n%s\n%s", fl.values().Encode(), again.values().Encode())
		}
		_, _ = parseAmount(v.Get("amount_from"), "398")
	})
}
