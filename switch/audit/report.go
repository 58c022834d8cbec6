package audit

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// Report types, as in the Processing.kz daily report merchants know
// (A authorization, F financial, R reversal), plus C for a refund (credit):
// a refund moves money back and is neither a hold nor a cancellation, so
// it gets its own letter rather than an R with a negative amount that
// spreadsheets would sum into the wrong column.
const (
	TypeAuthorization = "A" // 0100 hold
	TypeFinancial     = "F" // 0200 one-stage purchase or 0220 completion: money captured
	TypeReversal      = "R" // 0400/0420 cancellation, by the merchant or automatic
	TypeCredit        = "C" // refund
)

// reportType maps an operation to its report letter; "" leaves it out
// (3-D Secure steps and expiries move no money).
func reportType(opType order.OpType) string {
	switch opType {
	case order.OpAuthorization:
		return TypeAuthorization
	case order.OpPurchase, order.OpCompletion:
		return TypeFinancial
	case order.OpReversal, order.OpAutoReversal:
		return TypeReversal
	case order.OpRefund:
		return TypeCredit
	}
	return ""
}

// Report responses.
const (
	RespOK      = "ok"
	RespDecline = "Decline"
	RespPending = "Pending" // sent, no answer yet when the report was made
	RespQueued  = "Queued"  // in store-and-forward, not yet acknowledged by the bank
)

func reportResponse(status order.OpStatus) string {
	switch status {
	case order.OpApproved:
		return RespOK
	case order.OpDeclined, order.OpTimeout:
		return RespDecline
	case order.OpQueued:
		return RespQueued
	}
	return RespPending
}

// ReportLine is one operation in a daily report.
type ReportLine struct {
	Time        time.Time // in the report's location
	OrderNumber string    // Customer No (Tulpar): the merchant's order number
	RRN         string    // Customer No (Bank)
	Requested   int64     // minor units
	Answered    int64     // minor units; 0 unless approved
	Type        string    // A, F, R, C
	Response    string    // ok, Decline, Pending, Queued
	AuthCode    string
	TransNo     string // Tulpar's order id: the same on every line of one payment
	Currency    string // ISO 4217 numeric
}

// TypeTotal sums one report type's approved lines.
type TypeTotal struct {
	Type   string
	Count  int
	Amount int64
}

// Report is one merchant's operations of one day.
type Report struct {
	Merchant     string
	Date         string // YYYY-MM-DD
	Location     *time.Location
	Lines        []ReportLine
	Transactions int         // distinct payments (Trans No), as the seed's "Total transactions"
	Totals       []TypeTotal // approved lines per type, in A F R C order
	Declined     int
}

// DailyReports builds the operations report of date (YYYY-MM-DD in loc) for
// every merchant with operations that day, or only for merchant when it is
// set (then a report is returned even for a day without operations).
func DailyReports(ctx context.Context, d *Data, date string, loc *time.Location, merchant string, progress Progress) ([]*Report, error) {
	from, to, err := DayBounds(date, loc)
	if err != nil {
		return nil, err
	}
	ops, err := collectDay(ctx, d, from, to, func(o *order.Order, op *order.Operation) bool {
		return reportType(op.Type) != "" && (merchant == "" || o.Merchant == merchant)
	}, progress)
	if err != nil {
		return nil, err
	}
	byMerchant := map[string]*Report{}
	if merchant != "" {
		byMerchant[merchant] = &Report{Merchant: merchant, Date: date, Location: loc}
	}
	for _, x := range ops {
		r := byMerchant[x.order.Merchant]
		if r == nil {
			r = &Report{Merchant: x.order.Merchant, Date: date, Location: loc}
			byMerchant[x.order.Merchant] = r
		}
		l := ReportLine{
			Time: x.op.Time.In(loc), OrderNumber: x.order.Number, RRN: x.op.RRN,
			Requested: x.op.Amount, Type: reportType(x.op.Type), Response: reportResponse(x.op.Status),
			AuthCode: x.op.ApprovalCode, TransNo: x.order.ID, Currency: x.order.Currency,
		}
		if l.Response == RespOK {
			l.Answered = x.op.Amount
		}
		r.Lines = append(r.Lines, l)
	}
	out := make([]*Report, 0, len(byMerchant))
	for _, r := range byMerchant {
		r.total()
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Merchant < out[j].Merchant })
	return out, nil
}

func (r *Report) total() {
	payments := map[string]bool{}
	sums := map[string]*TypeTotal{}
	for _, l := range r.Lines {
		payments[l.TransNo] = true
		if l.Response == RespDecline {
			r.Declined++
		}
		if l.Response != RespOK {
			continue
		}
		t := sums[l.Type]
		if t == nil {
			t = &TypeTotal{Type: l.Type}
			sums[l.Type] = t
		}
		t.Count++
		t.Amount += l.Answered
	}
	r.Transactions = len(payments)
	r.Totals = r.Totals[:0]
	for _, typ := range []string{TypeAuthorization, TypeFinancial, TypeReversal, TypeCredit} {
		if t := sums[typ]; t != nil {
			r.Totals = append(r.Totals, *t)
		} else {
			r.Totals = append(r.Totals, TypeTotal{Type: typ})
		}
	}
}

// ReportColumns are the report's column titles, in the seed's order, with
// the currency added last.
var ReportColumns = []string{
	"Date Time", "Customer No (Tulpar)", "Customer No (Bank)", "Amount (requested)", "Amount (response)",
	"Type", "Response", "Auth Code", "Trans No", "Currency",
}

const reportTimeLayout = "2006-01-02 15:04:05"

// currency returns the report's currency when all lines share one.
func (r *Report) currency() string {
	c := ""
	for _, l := range r.Lines {
		if c == "" {
			c = l.Currency
		} else if l.Currency != c {
			return ""
		}
	}
	return c
}

// WriteCSV writes the report as CSV: a title row, the column row, one row
// per operation, then the totals.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	rows := [][]string{
		{"Operations report", r.Merchant, r.Date, r.Location.String()},
		ReportColumns,
	}
	for _, l := range r.Lines {
		rows = append(rows, []string{
			l.Time.Format(reportTimeLayout), l.OrderNumber, l.RRN,
			FormatAmount(l.Requested, l.Currency), FormatAmount(l.Answered, l.Currency),
			l.Type, l.Response, l.AuthCode, l.TransNo, l.Currency,
		})
	}
	rows = append(rows, []string{"Total transactions", strconv.Itoa(r.Transactions)})
	cur := r.currency()
	for _, t := range r.Totals {
		rows = append(rows, []string{"Total " + t.Type + " ok", strconv.Itoa(t.Count), FormatAmount(t.Amount, cur)})
	}
	rows = append(rows, []string{"Declined", strconv.Itoa(r.Declined)})
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("audit: report %s: %w", r.Merchant, err)
	}
	return nil
}

// FormatAmount renders minor units with the currency's decimals
// (ISO 4217; two when unknown), without thousands separators so that
// spreadsheets read it as a number.
func FormatAmount(minor int64, currency string) string {
	exp := currencyExponent(currency)
	if exp == 0 {
		return strconv.FormatInt(minor, 10)
	}
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	p := int64(1)
	for i := 0; i < exp; i++ {
		p *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, minor/p, exp, minor%p)
}

func currencyExponent(numeric string) int {
	switch numeric {
	case "392", "410", "704", "152", "950", "952", "953", "108", "174", "262", "324", "548", "600", "646", "800":
		return 0
	case "048", "368", "400", "414", "434", "512", "788":
		return 3
	}
	return 2
}
