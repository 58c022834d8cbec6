package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/audit"
)

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "daily" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(stdout, "Usage: tulpar report daily [flags]\n\nRun 'tulpar report daily -h' for its flags.")
			return exitOK
		}
		fmt.Fprintln(stderr, "Usage: tulpar report daily [flags]")
		return exitUsage
	}
	return reportDaily(ctx, args[1:], stdout, stderr)
}

func reportDaily(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var df dataFlags
	var date, merchant, format, outDir, tz string
	fs := auditFlags("report daily", "--data DIR | --copy FILE --date YYYY-MM-DD [--merchant M] [--format csv|xlsx] [--out DIR]", `
Writes each merchant's operations report of one day, in the layout merchants
know from Processing.kz: Date Time, Customer No (Tulpar: the merchant's order
number), Customer No (Bank: the RRN), amount requested, amount in response,
Type (A authorization, F financial: purchase or completion, R reversal,
C credit: refund), Response (ok, Decline, Pending, Queued), Auth Code,
Trans No (Tulpar's order id, the same on every line of one payment),
Currency; then the number of payments and, per type, the count and sum of
approved lines. One file per merchant: DIR/<merchant>_<date>.<format>.
Operations are taken from the journal alone, as it last records them.`, stderr)
	df.register(fs)
	fs.StringVar(&date, "date", "", "the business day, YYYY-MM-DD in --tz (required)")
	fs.StringVar(&tz, "tz", "UTC", "time zone of the business day and of the times printed (IANA name, e.g. Asia/Almaty)")
	fs.StringVar(&merchant, "merchant", "", "only this merchant (a report is written even for a day without operations)")
	fs.StringVar(&format, "format", "csv", "csv or xlsx")
	fs.StringVar(&outDir, "out", ".", "directory to write the reports in; - writes CSV to standard output")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if date == "" {
		fmt.Fprintln(stderr, "--date is required")
		return exitUsage
	}
	if format != "csv" && format != "xlsx" {
		fmt.Fprintf(stderr, "--format: want csv or xlsx, not %q\n", format)
		return exitUsage
	}
	if outDir == "-" && format != "csv" {
		fmt.Fprintln(stderr, "--out -: only CSV goes to standard output")
		return exitUsage
	}
	loc, ok := businessDay(date, tz, stderr)
	if !ok {
		return exitUsage
	}
	d, code := df.open(stderr)
	if d == nil {
		return code
	}
	defer d.Close()
	p, done := df.progress(stderr, "report")
	reports, err := audit.DailyReports(ctx, d, date, loc, merchant, p)
	done()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if len(reports) == 0 {
		fmt.Fprintf(stderr, "no operations on %s\n", date)
	}
	for _, r := range reports {
		if outDir == "-" {
			if err := r.WriteCSV(stdout); err != nil {
				fmt.Fprintln(stderr, err)
				return exitFail
			}
			continue
		}
		path := filepath.Join(outDir, fileSafe(r.Merchant)+"_"+date+"."+format)
		if err := writeReport(path, r, format); err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		fmt.Fprintf(stdout, "%s: %d operations, %d payments\n", path, len(r.Lines), r.Transactions)
	}
	return exitOK
}

func writeReport(path string, r *audit.Report, format string) error {
	w, closeOut, err := createOut(path, nil)
	if err != nil {
		return err
	}
	if format == "xlsx" {
		err = r.WriteXLSX(w)
	} else {
		err = r.WriteCSV(w)
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// fileSafe keeps a merchant name usable as a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}
