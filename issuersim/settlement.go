package issuersim

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
)

// settlementHeader is the settlement file's first line. The columns are a
// contract with the auditors' reconciliation: add at the end, never reorder.
var settlementHeader = []string{
	"business_date", "time", "type", "mti", "stan", "rrn", "terminal_id", "merchant_id",
	"pan", "currency", "amount", "final_amount", "approval_code",
	"original_mti", "original_stan", "original_rrn",
}

// WriteSettlement writes the CSV settlement file of one business day: the
// calendar date of day (its year, month and day as given) in the bank's
// time zone. One row per message the bank applied, in the order applied:
// authorizations, purchases, completions, refunds and reversals. Declines,
// duplicates and reversals that changed nothing are not in it: the file is
// what the bank considers final.
//
// amount is DE4 as approved (as requested, unless a knob's approve_amount
// approved another amount); final_amount is what stands when the file is
// written: an authorization's open hold (0 once completed or reversed), a
// capture net of reversals, a refund net of reversals, a reversal's amount
// released or credited. PANs are masked.
func (b *Bank) WriteSettlement(w io.Writer, day time.Time) error {
	y, m, d := day.Date()
	from := time.Date(y, m, d, 0, 0, 0, 0, b.loc)
	to := from.AddDate(0, 0, 1)
	date := from.Format(time.DateOnly)

	b.books.mu.Lock()
	var rows [][]string
	for _, r := range b.books.records {
		if r.at.Before(from) || !r.at.Before(to) {
			continue
		}
		row := []string{
			date, r.at.In(b.loc).Format(time.RFC3339), r.kind.String(), r.mti, r.stan, r.rrn, r.tid, r.mid,
			iso.MaskPAN(r.acct.pan), r.currency, strconv.FormatInt(r.amount, 10), strconv.FormatInt(r.final(), 10), r.approval,
			"", "", "",
		}
		if o := r.orig; o != nil {
			row[13], row[14], row[15] = o.mti, o.stan, o.rrn
		}
		rows = append(rows, row)
	}
	b.books.mu.Unlock()

	cw := csv.NewWriter(w)
	if err := cw.Write(settlementHeader); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}
