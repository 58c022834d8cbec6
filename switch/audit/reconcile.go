package audit

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// Reconciliation results, one per transaction. Matched and Settled agree
// with the bank; the others are mismatches.
const (
	Matched = "matched"
	// Settled is an exchange Tulpar recorded as unanswered (timeout), or
	// the automatic reversal it queued for it, when the bank's file shows
	// that the pair leaves nothing standing: the bank applied both (the
	// answer was lost on the way back), or neither (the request never
	// reached its books, and the reversal changed nothing).
	Settled         = "settled"
	MissingAtBank   = "missing_at_bank"   // Tulpar recorded it approved; the bank's file lacks it
	MissingInTulpar = "missing_in_tulpar" // the bank applied it; Tulpar has no such exchange
	AmountDiffers   = "amount_differs"
	StatusDiffers   = "status_differs" // the bank applied what Tulpar recorded as declined or unanswered
)

// TulparTx is Tulpar's side of one bank exchange.
type TulparTx struct {
	OrderID, OrderNumber, Merchant string
	OpID                           string
	OpType                         order.OpType
	Status                         order.OpStatus
	Class                          string // A, F, R, C
	Time                           time.Time
	MTI, STAN, RRN, TerminalID     string
	Amount                         int64
	Final                          int64  // what should stand at the bank at the end of the day
	Of                             string // the operation this one follows up (a reversal's original)
}

// ReconLine is one transaction's outcome.
type ReconLine struct {
	Result string
	Tulpar *TulparTx      // nil when missing in Tulpar
	Bank   *SettlementRow // nil when missing at the bank
	Detail string
}

// ClassSum is the count and sums of one transaction class's lines that
// agree with a row of the bank's file: matched, or settled and in the file.
type ClassSum struct {
	Class        string
	Count        int
	TulparAmount int64
	BankAmount   int64
}

// ReconResult is a day's reconciliation with one bank.
type ReconResult struct {
	Bank     string
	Date     string
	Tulpar   int // Tulpar's exchanges with the bank that day
	BankRows int // rows in the settlement file
	Matched  []ClassSum
	Lines    []ReconLine // every transaction, matched or not
	// Ignorable counts Tulpar's declined or unanswered exchanges absent at
	// the bank, as they should be. An unanswered one whose automatic
	// reversal Tulpar recorded has a line instead (Settled or not).
	Ignorable int
}

// Mismatch reports whether the line disagrees with the bank: any result
// but Matched and Settled.
func (l ReconLine) Mismatch() bool { return l.Result != Matched && l.Result != Settled }

// Mismatches counts the lines that disagree with the bank.
func (r *ReconResult) Mismatches() int {
	n := 0
	for _, l := range r.Lines {
		if l.Mismatch() {
			n++
		}
	}
	return n
}

// Reconcile matches a bank's settlement rows against Tulpar's exchanges
// with that bank on date (YYYY-MM-DD in loc, the bank's business day), as
// the journal last records them.
//
// Tulpar's side is every authorization, purchase, completion, reversal
// (merchant's or automatic) and refund sent to the bank that day. The bank's
// file holds what it applied. Rows pair by transaction class (A, F, R, C),
// RRN, terminal and STAN; failing that by class, RRN and terminal (a bank
// may renumber STANs); failing that by class and RRN. A pair matches when
// the amounts agree (and, if the file has a final amount, what stands: an
// authorization's hold left open at the end of the day, a capture or refund
// net of its reversals) and the bank applied only what Tulpar recorded as
// approved (or queued to it through store-and-forward).
//
// An exchange Tulpar recorded as unanswered and the automatic 0420 it
// queued are judged together, since the bank may or may not have applied
// the request before its answer was lost: the pair is Settled when the
// bank's file shows both, or neither, or only the reversal as a no-op
// (nothing released). The bank's row of the request with no row of its
// reversal is a hold or a debit that stands: a mismatch on both lines.
//
// Unpaired: Tulpar's approved or queued exchanges are missing at the bank;
// declined or unanswered ones are not expected there (nor a reversal of an
// exchange the bank never applied, which changes nothing); every bank row
// left is missing in Tulpar.
func Reconcile(ctx context.Context, d *Data, bank, date string, loc *time.Location, rows []SettlementRow, progress Progress) (*ReconResult, error) {
	from, to, err := DayBounds(date, loc)
	if err != nil {
		return nil, err
	}
	ops, err := collectDay(ctx, d, from, to, func(o *order.Order, op *order.Operation) bool {
		b := op.Bank
		if b == "" {
			b = o.Bank
		}
		return b == bank && reportType(op.Type) != ""
	}, progress)
	if err != nil {
		return nil, err
	}
	res := &ReconResult{Bank: bank, Date: date, Tulpar: len(ops), BankRows: len(rows)}
	txs := make([]*TulparTx, len(ops))
	for i, x := range ops {
		txs[i] = &TulparTx{
			OrderID: x.order.ID, OrderNumber: x.order.Number, Merchant: x.order.Merchant,
			OpID: x.op.ID, OpType: x.op.Type, Status: x.op.Status, Class: reportType(x.op.Type), Time: x.op.Time,
			MTI: x.op.MTI, STAN: x.op.STAN, RRN: x.op.RRN, TerminalID: strings.TrimSpace(x.op.TerminalID),
			Amount: wireAmount(x.order, &x.op), Final: expectedFinal(x.order, &x.op, to), Of: x.op.Of,
		}
	}

	used := make([]bool, len(rows))
	pair := make([]int, len(txs)) // index into rows, or -1
	for i := range pair {
		pair[i] = -1
	}
	keys := []func(class, rrn, tid, stan string) string{
		func(c, r, t, s string) string { return c + "|" + r + "|" + t + "|" + s },
		func(c, r, t, _ string) string { return c + "|" + r + "|" + t },
		func(c, r, _, _ string) string { return c + "|" + r },
	}
	for _, key := range keys {
		index := map[string][]int{}
		for j, row := range rows {
			if !used[j] {
				k := key(row.Class, row.RRN, strings.TrimSpace(row.TerminalID), row.STAN)
				index[k] = append(index[k], j)
			}
		}
		for i, tx := range txs {
			if pair[i] >= 0 {
				continue
			}
			k := key(tx.Class, tx.RRN, tx.TerminalID, tx.STAN)
			if js := index[k]; len(js) > 0 {
				pair[i], used[js[0]] = js[0], true
				index[k] = js[1:]
			}
		}
	}

	rowOf := func(i int) *SettlementRow {
		if pair[i] < 0 {
			return nil
		}
		return &rows[pair[i]]
	}
	judged := map[int]ReconLine{}
	for i, k := range timedOutPairs(txs) {
		judged[i], judged[k] = judgeTimedOut(txs[i], txs[k], rowOf(i), rowOf(k))
	}

	sums := map[string]*ClassSum{}
	for i, tx := range txs {
		line, ok := judged[i]
		switch {
		case ok:
		case pair[i] < 0:
			if !expectedAtBank(tx, txs) {
				res.Ignorable++
				continue
			}
			line = ReconLine{Result: MissingAtBank, Tulpar: tx, Detail: missingDetail(tx)}
		default:
			line = judge(tx, rowOf(i))
		}
		if row := line.Bank; row != nil && !line.Mismatch() {
			s := sums[tx.Class]
			if s == nil {
				s = &ClassSum{Class: tx.Class}
				sums[tx.Class] = s
			}
			s.Count++
			s.TulparAmount += tx.Amount
			s.BankAmount += row.Amount
		}
		res.Lines = append(res.Lines, line)
	}
	for j := range rows {
		if !used[j] {
			res.Lines = append(res.Lines, ReconLine{Result: MissingInTulpar, Bank: &rows[j],
				Detail: fmt.Sprintf("settlement line %d: no %s with this RRN, terminal and STAN in the journal", rows[j].Line, rows[j].Type)})
		}
	}
	for _, c := range []string{TypeAuthorization, TypeFinancial, TypeReversal, TypeCredit} {
		if s := sums[c]; s != nil {
			res.Matched = append(res.Matched, *s)
		} else {
			res.Matched = append(res.Matched, ClassSum{Class: c})
		}
	}
	return res, nil
}

// judge compares an exchange with the bank's row it paired with.
func judge(tx *TulparTx, row *SettlementRow) ReconLine {
	line := ReconLine{Result: Matched, Tulpar: tx, Bank: row}
	if tx.Status != order.OpApproved && tx.Status != order.OpQueued {
		line.Result = StatusDiffers
		line.Detail = fmt.Sprintf("Tulpar recorded the %s as %s; the bank applied it", tx.OpType, tx.Status)
		return line
	}
	if d := amountsDiffer(tx, row); d != "" {
		line.Result, line.Detail = AmountDiffers, d
	}
	return line
}

// amountsDiffer says how the bank's row disagrees with what Tulpar
// expects of the exchange, or "" when the amounts agree.
func amountsDiffer(tx *TulparTx, row *SettlementRow) string {
	switch {
	case row.Amount != tx.Amount:
		return fmt.Sprintf("amount: Tulpar %d, bank %d", tx.Amount, row.Amount)
	case row.HasFinal && row.Final != tx.Final:
		return fmt.Sprintf("final amount: Tulpar %d, bank %d", tx.Final, row.Final)
	}
	return ""
}

// timedOutPairs pairs each exchange Tulpar recorded as unanswered with the
// automatic reversal it queued for it (payments: "sent, no reply" declines
// the operation and queues, in the same commit, an 0420 whose Of names
// it): index of the original in txs → index of its reversal. A reversal
// the bank declined pairs with nothing: it reversed nothing.
func timedOutPairs(txs []*TulparTx) map[int]int {
	type opKey struct{ order, op string }
	byOp := make(map[opKey]int, len(txs))
	for i, tx := range txs {
		byOp[opKey{tx.OrderID, tx.OpID}] = i
	}
	out := map[int]int{}
	for k, r := range txs {
		if r.OpType != order.OpAutoReversal || r.Of == "" || (r.Status != order.OpApproved && r.Status != order.OpQueued) {
			continue
		}
		i, ok := byOp[opKey{r.OrderID, r.Of}]
		if !ok || txs[i].Status != order.OpTimeout || txs[i].Class == TypeReversal {
			continue
		}
		if _, dup := out[i]; !dup {
			out[i] = k
		}
	}
	return out
}

// judgeTimedOut judges an unanswered exchange t and its automatic reversal
// r together, from the bank's rows for each (nil when its file lacks one).
// Either the bank applied t and lost the answer on the way back, and then
// its file must show r releasing it, or t never reached its books, and
// then r changed nothing: banks leave such a reversal out of the file (as
// issuersim does) or list it with nothing released.
func judgeTimedOut(t, r *TulparTx, tRow, rRow *SettlementRow) (ReconLine, ReconLine) {
	tl := ReconLine{Result: Settled, Tulpar: t, Bank: tRow}
	rl := ReconLine{Result: Settled, Tulpar: r, Bank: rRow}
	queued := ""
	if r.Status == order.OpQueued {
		queued = "; it is still queued in store-and-forward"
	}
	switch {
	case tRow == nil:
		r.Final = 0 // there was nothing to release
		tl.Detail = fmt.Sprintf("no answer in time; the bank never applied it, so its automatic reversal (op %s) changed nothing", r.OpID)
		rl.Detail = fmt.Sprintf("reverses the unanswered %s (op %s), which the bank never applied: nothing to release%s", t.OpType, t.OpID, queued)
		if rRow != nil {
			rl.Detail = fmt.Sprintf("reverses the unanswered %s (op %s), which the bank never applied; the bank lists it with nothing released", t.OpType, t.OpID)
			if d := amountsDiffer(r, rRow); d != "" {
				rl.Result, rl.Detail = AmountDiffers, d+fmt.Sprintf(" (the bank's file lacks the %s it reverses)", t.OpType)
			}
		}
	case rRow == nil:
		tl.Result = StatusDiffers
		tl.Detail = fmt.Sprintf("Tulpar recorded the %s as %s and reversed it automatically (op %s, %s); the bank applied it and its file has no reversal of it",
			t.OpType, t.Status, r.OpID, r.Status)
		rl.Result, rl.Detail = MissingAtBank, missingDetail(r)
	default:
		tl.Detail = fmt.Sprintf("no answer in time; the bank applied it and its automatic reversal (op %s, settlement line %d): nothing stands", r.OpID, rRow.Line)
		rl.Detail = fmt.Sprintf("reverses the unanswered %s (op %s, settlement line %d), which the bank applied", t.OpType, t.OpID, tRow.Line)
		if d := amountsDiffer(t, tRow); d != "" {
			tl.Result, tl.Detail = AmountDiffers, d
		}
		if d := amountsDiffer(r, rRow); d != "" {
			rl.Result, rl.Detail = AmountDiffers, d
		}
	}
	return tl, rl
}

// expectedAtBank says whether an unpaired Tulpar exchange is a mismatch.
func expectedAtBank(tx *TulparTx, all []*TulparTx) bool {
	switch tx.Status {
	case order.OpApproved, order.OpQueued:
	default:
		return false // declined or unanswered: the bank applied nothing
	}
	if tx.Class == TypeReversal {
		// A reversal of an exchange the bank never applied changes nothing
		// at the bank, and banks leave such reversals out of the file.
		for _, o := range all {
			if o.OrderID == tx.OrderID && o.Class != TypeReversal && o.Status != order.OpApproved && o.Status != order.OpQueued && sameOriginal(tx, o) {
				return false
			}
		}
	}
	return true
}

// sameOriginal reports whether reversal rev cancels o: completions and
// reversals carry the RRN of what they follow up.
func sameOriginal(rev, o *TulparTx) bool { return rev.RRN != "" && rev.RRN == o.RRN }

func missingDetail(tx *TulparTx) string {
	if tx.Status == order.OpQueued {
		return "queued in store-and-forward, not yet applied by the bank"
	}
	return fmt.Sprintf("Tulpar recorded an approved %s; the bank's file lacks it", tx.OpType)
}

// wireAmount is DE4 of op's message, which is the bank's amount column: a
// merchant's reversal carries its original's amount (ISO 8583:1987; a
// partial one says in DE95 what stays, and what it released is its final
// amount), every other operation its own.
func wireAmount(o *order.Order, op *order.Operation) int64 {
	if op.Type == order.OpReversal {
		for i := range o.Ops {
			if o.Ops[i].ID == op.Of {
				return o.Ops[i].Amount
			}
		}
	}
	return op.Amount
}

// expectedFinal is what should stand at the bank for op at cutoff, by the
// settlement file's rule: an authorization's hold is gone once completed and
// shrinks by its reversals; a capture or refund shrinks by its reversals; a
// reversal stands at its amount.
func expectedFinal(o *order.Order, op *order.Operation, cutoff time.Time) int64 {
	if op.Type == order.OpReversal || op.Type == order.OpAutoReversal {
		return op.Amount
	}
	final := op.Amount
	for i := range o.Ops {
		f := &o.Ops[i]
		if f.Of != op.ID || !f.Time.Before(cutoff) || (f.Status != order.OpApproved && f.Status != order.OpQueued) {
			continue
		}
		switch f.Type {
		case order.OpCompletion:
			if op.Type == order.OpAuthorization {
				return 0
			}
		case order.OpReversal, order.OpAutoReversal:
			final -= f.Amount
		}
	}
	if final < 0 {
		final = 0
	}
	return final
}

// WriteText prints the summary and every line that is not a plain match:
// the mismatches and the settled lines.
func (r *ReconResult) WriteText(w io.Writer) {
	verdict := "OK"
	if n := r.Mismatches(); n > 0 {
		verdict = fmt.Sprintf("MISMATCH (%d)", n)
	}
	fmt.Fprintf(w, "%s: bank %s, business day %s: %d Tulpar exchanges, %d settlement rows\n", verdict, r.Bank, r.Date, r.Tulpar, r.BankRows)
	for _, s := range r.Matched {
		fmt.Fprintf(w, "  matched %s: %d, Tulpar %d, bank %d (minor units)\n", s.Class, s.Count, s.TulparAmount, s.BankAmount)
	}
	settled := 0
	for _, l := range r.Lines {
		if l.Result == Settled {
			settled++
		}
	}
	if settled > 0 {
		fmt.Fprintf(w, "  %d settled: unanswered exchanges and their automatic reversals, nothing standing at the bank\n", settled)
	}
	if r.Ignorable > 0 {
		fmt.Fprintf(w, "  %d declined or unanswered exchanges, absent at the bank as expected\n", r.Ignorable)
	}
	for _, l := range r.Lines {
		if l.Result == Matched {
			continue
		}
		fmt.Fprintf(w, "%s: %s\n", l.Result, describeLine(l))
		fmt.Fprintf(w, "  %s\n", l.Detail)
	}
}

func describeLine(l ReconLine) string {
	if t := l.Tulpar; t != nil {
		return fmt.Sprintf("%s %s %d rrn %s stan %s terminal %s (order %s, number %s, merchant %s, op %s)",
			t.Class, t.OpType, t.Amount, t.RRN, t.STAN, t.TerminalID, t.OrderID, t.OrderNumber, t.Merchant, t.OpID)
	}
	b := l.Bank
	return fmt.Sprintf("%s %s %d rrn %s stan %s terminal %s (settlement line %d)", b.Class, b.Type, b.Amount, b.RRN, b.STAN, b.TerminalID, b.Line)
}

// ReconColumns are the columns of WriteCSV.
var ReconColumns = []string{
	"result", "class", "rrn", "stan", "terminal_id",
	"order_id", "order_number", "merchant", "op_id", "op_type", "tulpar_status", "tulpar_amount", "tulpar_final",
	"bank_line", "bank_type", "bank_amount", "bank_final", "detail",
}

// WriteCSV writes every transaction, matched or not, one row each.
func (r *ReconResult) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ReconColumns); err != nil {
		return err
	}
	for _, l := range r.Lines {
		row := make([]string, len(ReconColumns))
		row[0] = l.Result
		if t := l.Tulpar; t != nil {
			row[1], row[2], row[3], row[4] = t.Class, t.RRN, t.STAN, t.TerminalID
			row[5], row[6], row[7], row[8], row[9], row[10] = t.OrderID, t.OrderNumber, t.Merchant, t.OpID, string(t.OpType), string(t.Status)
			row[11], row[12] = strconv.FormatInt(t.Amount, 10), strconv.FormatInt(t.Final, 10)
		}
		if b := l.Bank; b != nil {
			if l.Tulpar == nil {
				row[1], row[2], row[3], row[4] = b.Class, b.RRN, b.STAN, b.TerminalID
			}
			row[13], row[14], row[15] = strconv.Itoa(b.Line), b.Type, strconv.FormatInt(b.Amount, 10)
			if b.HasFinal {
				row[16] = strconv.FormatInt(b.Final, 10)
			}
		}
		row[17] = l.Detail
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
