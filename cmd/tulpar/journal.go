package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
	_ "time/tzdata" // --tz names work on hosts without a zoneinfo database

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/tulpar-switch/tulpar/switch/audit"
	"github.com/tulpar-switch/tulpar/switch/journal"
)

// The auditors' commands: tulpar journal verify|replay|export, tulpar report
// daily, tulpar reconcile. They only read, and only a file no switch holds.

var journalCommands = []subcommand{
	{"verify", "check the hash chain and sequence of every entry", journalVerify},
	{"replay", "rebuild every order from the journal and compare it with the order store", journalReplay},
	{"export", "write entries log-safe, ISO messages decoded field by field (jsonl or csv)", journalExport},
}

func runJournal(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runGroup(ctx, "journal", `
The journal is the switch's append-only, hash-chained record of every message
and order change, kept with the order store in `+journal.DataFile+` in the data
directory, and in the archive files each closed business day moved to
(`+journal.ArchiveDirName+` beside it, or --archive): these commands read them
as one history. They open it read-only and refuse a file a running switch
holds: stop the switch, or give --copy a consistent copy the switch wrote
(GET /admin/journal/snapshot on the admin listener) with the archives. Exit codes: 0 ok, 1 failure or mismatch, 2 usage.
`, journalCommands, args, stdout, stderr)
}

// businessDay checks --date (YYYY-MM-DD) in the zone --tz names; a bad
// value is reported on stderr, naming the flag.
func businessDay(date, tz string, stderr io.Writer) (*time.Location, bool) {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		fmt.Fprintf(stderr, "--tz: %v\n", err)
		return nil, false
	}
	if _, _, err := audit.DayBounds(date, loc); err != nil {
		fmt.Fprintf(stderr, "--date: %v\n", err)
		return nil, false
	}
	return loc, true
}

// auditFlags makes the flag set of an auditors' command.
func auditFlags(name, usage, about string, stderr io.Writer) *flag.FlagSet {
	return newFlagSet(name, usage, about, stderr)
}

// dataFlags are the flags of every command that reads the data file.
type dataFlags struct {
	dir, copy string
	archive   string
	lock      time.Duration
	quiet     bool
}

func (d *dataFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.dir, "data", "", "the switch's data directory (reads "+journal.DataFile+" in it, read-only)")
	fs.StringVar(&d.copy, "copy", "", "a copy of the data file to read instead of --data (the way to audit while the switch runs)")
	fs.StringVar(&d.archive, "archive", "", "the journal's archive files (default: "+journal.ArchiveDirName+" beside the data file or the copy)")
	fs.DurationVar(&d.lock, "lock-timeout", audit.DefaultLockTimeout, "how long to wait for the file lock before deciding a switch holds the file")
	fs.BoolVar(&d.quiet, "quiet", false, "no progress bar (there is none anyway when stderr is not a terminal)")
}

// open opens the data file; on failure it prints why and returns the exit
// code.
func (d *dataFlags) open(stderr io.Writer) (*audit.Data, int) {
	path, err := audit.PathFor(d.dir, d.copy)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, exitUsage
	}
	data, err := audit.Open(path, d.archive, d.lock)
	if err != nil {
		fmt.Fprintln(stderr, err)
		if errors.Is(err, audit.ErrLocked) {
			fmt.Fprintln(stderr, "tulpar never reads the live file of a running switch.")
		}
		return nil, exitFail
	}
	return data, exitOK
}

// progress returns a progress bar on stderr when it is a terminal, and a
// function to clear it.
func (d *dataFlags) progress(stderr io.Writer, what string) (audit.Progress, func()) {
	f, ok := stderr.(*os.File)
	if d.quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, func() {}
	}
	var bar *progressbar.ProgressBar
	return func(done, total uint64) {
			if bar == nil {
				bar = progressbar.NewOptions64(int64(total), progressbar.OptionSetWriter(stderr),
					progressbar.OptionSetDescription(what), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
					progressbar.OptionSetItsString("entries"), progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionClearOnFinish())
			}
			_ = bar.Set64(int64(done))
		}, func() {
			if bar != nil {
				_ = bar.Finish()
			}
		}
}

func journalVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var df dataFlags
	fs := auditFlags("journal verify", "--data DIR | --copy FILE", `
Walks the whole journal: every entry's hash, sequence numbers without gaps,
each entry carrying its predecessor's hash, the head record, the order index.
Prints OK with counts, or the first broken entry and what is wrong with it,
and exits 1. Anchor the printed head hash outside the file (a ticket, a
signed e-mail): a cut tail with a rewritten head is only visible against it.`, stderr)
	df.register(fs)
	byChannel := fs.Bool("by-channel", false, "also count entries per channel and direction (a second pass over the journal)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	d, code := df.open(stderr)
	if d == nil {
		return code
	}
	defer d.Close()
	p, done := df.progress(stderr, "counting")
	r, err := audit.Verify(ctx, d, *byChannel, p)
	done()
	audit.WriteVerify(stdout, r, err)
	if err != nil {
		return exitFail
	}
	return exitOK
}

func journalReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var df dataFlags
	fs := auditFlags("journal replay", "--data DIR | --copy FILE", `
Rebuilds every order from the journal alone (each order's last state entry)
and compares it with the order store. Prints a summary and every order that
is missing on either side or differs, with the differing fields; exits 1 on
any difference. It does not check the hash chain: run verify first.`, stderr)
	df.register(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	d, code := df.open(stderr)
	if d == nil {
		return code
	}
	defer d.Close()
	p, done := df.progress(stderr, "replay")
	r, err := audit.Replay(ctx, d, p)
	done()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	audit.WriteReplay(stdout, r)
	if !r.OK() {
		return exitFail
	}
	return exitOK
}

func journalExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var df dataFlags
	var from, to, tz, out string
	var f audit.ExportFilter
	var format string
	fs := auditFlags("journal export", "--data DIR | --copy FILE [--from T] [--to T] [--order ID] [--merchant M] [--format jsonl|csv]", `
Writes journal entries in a log-safe form: PANs masked (the journal holds only
ciphertext, shown as "encrypted"), no CVV2, CAVV, keys or expiry dates; each
ISO 8583 message unpacked in its bank's dialect and listed data element by
data element; every entry with its sequence number and hashes, so an export
can be checked against the chain.`, stderr)
	df.register(fs)
	fs.StringVar(&from, "from", "", "first entry time, inclusive: YYYY-MM-DD (midnight in --tz) or RFC 3339")
	fs.StringVar(&to, "to", "", "last entry time, exclusive: YYYY-MM-DD (midnight in --tz) or RFC 3339")
	fs.StringVar(&tz, "tz", "UTC", "time zone of --from and --to dates (IANA name, e.g. Asia/Almaty)")
	fs.StringVar(&f.OrderID, "order", "", "only the entries of this order id")
	fs.StringVar(&f.Merchant, "merchant", "", "only the entries of this merchant's orders")
	fs.StringVar(&format, "format", audit.FormatJSONL, "jsonl (one JSON object per line) or csv")
	fs.StringVar(&out, "out", "-", "file to write; - is standard output")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		fmt.Fprintf(stderr, "--tz: %v\n", err)
		return exitUsage
	}
	if f.From, err = audit.ParseTime(from, loc); err != nil {
		fmt.Fprintf(stderr, "--from: %v\n", err)
		return exitUsage
	}
	if f.To, err = audit.ParseTime(to, loc); err != nil {
		fmt.Fprintf(stderr, "--to: %v\n", err)
		return exitUsage
	}
	if format != audit.FormatJSONL && format != audit.FormatCSV {
		fmt.Fprintf(stderr, "--format: want jsonl or csv, not %q\n", format)
		return exitUsage
	}
	d, code := df.open(stderr)
	if d == nil {
		return code
	}
	defer d.Close()
	w, closeOut, err := createOut(out, stdout)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	p, done := df.progress(stderr, "export")
	n, err := audit.Export(ctx, d, f, format, w, p)
	done()
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	fmt.Fprintf(stderr, "%d entries exported\n", n)
	return exitOK
}

// createOut opens the output file, or stdout for "-". The returned close
// must be called and its error reported: a full disk shows there.
func createOut(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "-" || path == "" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() error {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}, nil
}
