package payments

import (
	"fmt"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// Period is how a report groups orders by creation time.
type Period string

// Report periods, in the report's time zone; weeks start on Monday.
const (
	PeriodDay   Period = "day"
	PeriodWeek  Period = "week"
	PeriodMonth Period = "month"
	PeriodYear  Period = "year"
)

// Tally is a count of orders and the sum of their amounts (minor units).
type Tally struct {
	Count  int
	Amount int64
}

func (t *Tally) add(amount int64) { t.Count++; t.Amount += amount }

// ReportLine is one period of a report.
type ReportLine struct {
	Start time.Time // the period's first instant, in the report's zone
	// Success are the orders the bank approved (held, captured, later
	// reversed or refunded too), at the amount approved; Failed the
	// declined ones (by the bank, 3-D Secure, the merchant or expiry), at
	// the amount registered; Open those still awaiting payment.
	Success, Failed, Open Tally
	Refunded              int64 // refunded of the successful ones
}

// Conversion is the share of decided orders that succeeded, 0 to 1.
func (l ReportLine) Conversion() float64 {
	if n := l.Success.Count + l.Failed.Count; n > 0 {
		return float64(l.Success.Count) / float64(n)
	}
	return 0
}

// Decline is one reason orders failed for: their action code.
type Decline struct {
	ActionCode int
	Tally
}

// Report is what the cabinet's reports show: the period's lines, their
// total, and why orders failed.
type Report struct {
	Period   Period
	Location *time.Location
	Currency string
	Lines    []ReportLine // one per period with orders, in time order
	Total    ReportLine
	Declines []Decline // most frequent first
	// OtherCurrency counts the orders of q in other currencies than
	// Currency: they are in no sum.
	OtherCurrency int
}

// Report reads the index rows of the orders q selects (no order is
// decoded) and sums them by period in loc, for orders in currency
// (ISO 4217 numeric; empty is KZT).
func (s *Store) Report(q Query, period Period, loc *time.Location, currency string) (*Report, error) {
	start, ok := periodStart[period]
	if !ok {
		return nil, fmt.Errorf("%w: period %q", ErrQuery, period)
	}
	if loc == nil {
		loc = time.UTC
	}
	if currency == "" {
		currency = iso.CurrencyKZT
	}
	r := &Report{Period: period, Location: loc, Currency: currency}
	declines := map[int]*Decline{}
	var cur *ReportLine
	var end int64 // the current line's period ends before this instant (Unix ns)
	err := s.eachSums(q, func(created int64, row *order.Row) error {
		if row.Currency != currency {
			r.OtherCurrency++
			return nil
		}
		if cur == nil || created >= end {
			t := start(time.Unix(0, created).In(loc))
			r.Lines = append(r.Lines, ReportLine{Start: t})
			cur = &r.Lines[len(r.Lines)-1]
			end = next(period, t).UnixNano()
		}
		switch row.Status {
		case order.StatusDeclined:
			cur.Failed.add(row.Amount)
			d := declines[row.ActionCode]
			if d == nil {
				d = &Decline{ActionCode: row.ActionCode}
				declines[row.ActionCode] = d
			}
			d.add(row.Amount)
		case order.StatusRegistered, order.Status3DS:
			cur.Open.add(row.Amount)
		default:
			cur.Success.add(row.Approved)
			cur.Refunded += row.Refunded
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, l := range r.Lines {
		r.Total.Success.Count += l.Success.Count
		r.Total.Success.Amount += l.Success.Amount
		r.Total.Failed.Count += l.Failed.Count
		r.Total.Failed.Amount += l.Failed.Amount
		r.Total.Open.Count += l.Open.Count
		r.Total.Open.Amount += l.Open.Amount
		r.Total.Refunded += l.Refunded
	}
	for _, d := range declines {
		r.Declines = append(r.Declines, *d)
	}
	sortDeclines(r.Declines)
	return r, nil
}

func sortDeclines(ds []Decline) {
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && (ds[j].Count > ds[j-1].Count || ds[j].Count == ds[j-1].Count && ds[j].ActionCode < ds[j-1].ActionCode); j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

var periodStart = map[Period]func(time.Time) time.Time{
	PeriodDay: func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location()) },
	PeriodWeek: func(t time.Time) time.Time {
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		return time.Date(t.Year(), t.Month(), t.Day()-back, 0, 0, 0, 0, t.Location())
	},
	PeriodMonth: func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, t.Location()) },
	PeriodYear:  func(t time.Time) time.Time { return time.Date(t.Year(), 1, 1, 0, 0, 0, 0, t.Location()) },
}

// next is the start of the period after the one starting at start.
func next(p Period, start time.Time) time.Time {
	switch p {
	case PeriodDay:
		return start.AddDate(0, 0, 1)
	case PeriodWeek:
		return start.AddDate(0, 0, 7)
	case PeriodMonth:
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(1, 0, 0)
}

// PeriodStart is the start of the period p that holds t, in t's zone.
func PeriodStart(p Period, t time.Time) (time.Time, bool) {
	f, ok := periodStart[p]
	if !ok {
		return time.Time{}, false
	}
	return f(t), true
}

// NextPeriod is the start of the period after the one starting at start.
func NextPeriod(p Period, start time.Time) time.Time { return next(p, start) }
