package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/tulpar-switch/tulpar/switch/audit"
)

func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var df dataFlags
	var bank, settlement, date, tz, csvOut string
	fs := auditFlags("reconcile", "--data DIR | --copy FILE --bank NAME --settlement FILE --date YYYY-MM-DD [--csv FILE]", `
Matches a bank's settlement file for one business day against Tulpar's
exchanges with that bank, from the journal alone. Pairs by transaction class
(A authorization, F purchase or completion, R reversal, C refund), RRN,
terminal and STAN; then compares the amount requested and, when the file has
one, the final amount (an authorization's hold left open, a capture or refund
net of reversals). Prints matched counts and sums per class, then each
transaction missing at the bank (Tulpar approved it or queued it through
store-and-forward), missing in Tulpar, differing in amount, or applied by the
bank though Tulpar recorded it declined or unanswered. Exits 1 on any.

An exchange the bank did not answer in time and the 0420 reversal Tulpar
queued for it are "settled" when together they leave nothing at the bank: its
file shows both, or neither, or only the reversal with nothing released.
Settled lines are printed and count as matched; the bank's record of the
exchange without its reversal is a mismatch.

The settlement file is CSV with a header naming its columns: rrn, stan,
amount (minor units) and type (authorization, purchase, completion, refund,
reversal) or mti are required; terminal_id, final_amount, approval_code,
merchant_id, currency are used when present (the issuer simulator's layout).`, stderr)
	df.register(fs)
	fs.StringVar(&bank, "bank", "", "the bank link's name as the switch's config names it (required)")
	fs.StringVar(&settlement, "settlement", "", "the bank's settlement CSV of that day (required)")
	fs.StringVar(&date, "date", "", "the business day, YYYY-MM-DD in --tz (required)")
	fs.StringVar(&tz, "tz", "UTC", "the bank's time zone, which bounds its business day (IANA name, e.g. Asia/Almaty)")
	fs.StringVar(&csvOut, "csv", "", "also write every transaction, matched or not, to this CSV file (- for standard output)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if bank == "" || settlement == "" || date == "" {
		fmt.Fprintln(stderr, "--bank, --settlement and --date are required")
		return exitUsage
	}
	loc, ok := businessDay(date, tz, stderr)
	if !ok {
		return exitUsage
	}
	sf, err := os.Open(settlement)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	rows, err := audit.ParseSettlement(sf)
	sf.Close()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	d, code := df.open(stderr)
	if d == nil {
		return code
	}
	defer d.Close()
	p, done := df.progress(stderr, "reconcile")
	res, err := audit.Reconcile(ctx, d, bank, date, loc, rows, p)
	done()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	res.WriteText(stdout)
	if csvOut != "" {
		w, closeOut, err := createOut(csvOut, stdout)
		if err == nil {
			err = res.WriteCSV(w)
			if cerr := closeOut(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
	}
	if res.Mismatches() > 0 {
		return exitFail
	}
	return exitOK
}
