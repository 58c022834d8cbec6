package cabinet

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// filter is the register's filter as the URL carries it: a GET form, so a
// filtered page is a link, a saved template is its query string, and the
// exports take the very same parameters.
type filter struct {
	From, To             string // dates, YYYY-MM-DD, in the user's zone; To inclusive
	AmountFrom, AmountTo string
	Merchant             string
	Number               string
	Last4, RRN, Approval string
	Statuses             []string
	Sort                 string // a column id with a sort key
	Asc                  bool
	Page, Size           int
}

// Page sizes offered.
var pageSizes = []int{20, 50, 100}

// defaultDays is the date range of a register opened without one.
const defaultDays = 30

// parseFilter reads the filter; with no date keys at all it takes the last
// defaultDays days up to today in loc.
func parseFilter(v url.Values, now time.Time, loc *time.Location) filter {
	g := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	f := filter{From: g("from"), To: g("to"), AmountFrom: g("amount_from"), AmountTo: g("amount_to"), Merchant: g("merchant"),
		Number: g("number"), Last4: g("last4"), RRN: g("rrn"), Approval: strings.ToUpper(g("approval")), Sort: g("sort"), Asc: g("dir") == "asc"}
	if _, has := v["from"]; !has {
		if _, has := v["to"]; !has {
			today := now.In(loc)
			f.To = today.Format(isoDate)
			f.From = today.AddDate(0, 0, -defaultDays).Format(isoDate)
		}
	}
	for _, s := range v["status"] {
		if _, ok := statusNames[s]; ok && !slices.Contains(f.Statuses, s) {
			f.Statuses = append(f.Statuses, s)
		}
	}
	f.Page, _ = strconv.Atoi(g("page"))
	f.Page = max(f.Page, 1)
	f.Size, _ = strconv.Atoi(g("size"))
	if !slices.Contains(pageSizes, f.Size) {
		f.Size = pageSizes[0]
	}
	if c, ok := columnByID[f.Sort]; !ok || c.sort == "" {
		f.Sort = "created"
	}
	return f
}

// query is f as a payments query for user scope (a merchant's users see
// only their merchant's orders, whatever the URL says), or the fields that
// are wrong (text keys with the field's name).
func (f filter) query(merchant string, loc *time.Location) (payments.Query, []string) {
	var q payments.Query
	var bad []string
	day := func(s, name string) time.Time {
		if s == "" {
			return time.Time{}
		}
		d, err := time.ParseInLocation(isoDate, s, loc)
		if err != nil {
			bad = append(bad, name)
		}
		return d
	}
	q.From = day(f.From, "from")
	if to := day(f.To, "to"); !to.IsZero() {
		q.To = to.AddDate(0, 0, 1) // the whole of the last day
	}
	var err error
	if q.MinAmount, err = parseAmount(f.AmountFrom, iso.CurrencyKZT); err != nil {
		bad = append(bad, "amount_from")
	}
	if q.MaxAmount, err = parseAmount(f.AmountTo, iso.CurrencyKZT); err != nil {
		bad = append(bad, "amount_to")
	}
	q.Number = f.Number
	if f.Last4 != "" && (len(f.Last4) != 4 || !digits(f.Last4)) {
		bad = append(bad, "last4")
	}
	q.Last4 = f.Last4
	if len(f.RRN) > 12 || !alnum(f.RRN) {
		bad = append(bad, "rrn")
	}
	q.RRN = f.RRN
	if len(f.Approval) > 6 || !alnum(f.Approval) {
		bad = append(bad, "approval")
	}
	q.Approval = f.Approval
	for _, s := range f.Statuses {
		q.Statuses = append(q.Statuses, statusNames[s])
	}
	switch {
	case merchant != "":
		q.Merchants = []string{merchant}
	case f.Merchant != "":
		q.Merchants = []string{f.Merchant}
	}
	return q, bad
}

// sortKey is the payments sort of f.
func (f filter) sortKey() payments.SortKey { return columnByID[f.Sort].sort }

// values is f as a query string, without the defaults, for links (page
// and sort change on top of it).
func (f filter) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	v.Set("from", f.From)
	v.Set("to", f.To)
	set("amount_from", f.AmountFrom)
	set("amount_to", f.AmountTo)
	set("merchant", f.Merchant)
	set("number", f.Number)
	set("last4", f.Last4)
	set("rrn", f.RRN)
	set("approval", f.Approval)
	for _, s := range f.Statuses {
		v.Add("status", s)
	}
	if f.Sort != "created" || f.Asc {
		v.Set("sort", f.Sort)
		if f.Asc {
			v.Set("dir", "asc")
		}
	}
	if f.Size != pageSizes[0] {
		v.Set("size", strconv.Itoa(f.Size))
	}
	return v
}

// with is f's link with one more change.
func (f filter) with(k, val string) string {
	v := f.values()
	v.Set(k, val)
	return v.Encode()
}

func (f filter) hasStatus(s string) bool { return slices.Contains(f.Statuses, s) }

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func alnum(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// statusChoices lists statuses for the filter, in the user's language.
func statusChoices(lang string, f filter) []choice {
	out := make([]choice, 0, len(statusOrder))
	for _, s := range statusOrder {
		p := statusParam(s)
		out = append(out, choice{Value: p, Label: statusWord(lang, s), On: f.hasStatus(p)})
	}
	return out
}

type choice struct {
	Value, Label string
	On           bool
}
