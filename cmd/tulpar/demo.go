package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/tulpar-switch/tulpar/switch/demo"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", "", "data directory (journal, orders, demo keys), kept when the demo stops; default: a new temporary directory")
	listen := fs.String("listen", "127.0.0.1:8080", "HTTP address of the switch (merchant API, payment page, metrics)")
	cabinet := fs.String("cabinet-listen", "", "HTTPS address of the merchant cabinet, with the demo's certificate (default: --listen's host, the next port)")
	noSamples := fs.Bool("no-samples", false, "do not make the few days of sample orders the cabinet opens on")
	printConfig := fs.Bool("print-config", false, "print the demo's config as YAML (a starting point for `tulpar serve`) and exit")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error (logs go to stderr)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: tulpar demo [--data DIR] [--listen ADDR] [--print-config]")
		fmt.Fprintln(stderr, "\nStarts the switch with two simulated banks (alatau-sim: ascii dialect, the switch dials it;")
		fmt.Fprintln(stderr, "saryarka-sim: binary dialect, it dials the switch), a simulated 3-D Secure directory server")
		fmt.Fprintln(stderr, "and ACS, a demo merchant, and the merchant cabinet with a demo user and a few days of sample")
		fmt.Fprintln(stderr, "orders made through the simulated banks. No file and no setup needed. Ctrl-C stops it; its data")
		fmt.Fprintln(stderr, "directory is kept, and printed, for the auditors' tools (tulpar journal, report, reconcile).")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *printConfig {
		if err := demo.WriteConfig(stdout, *listen); err != nil {
			fmt.Fprintln(stderr, "tulpar demo:", err)
			return exitFail
		}
		return exitOK
	}
	err := demo.Run(ctx, demo.Options{DataDir: *dataDir, Listen: *listen, CabinetListen: *cabinet, NoSamples: *noSamples,
		Log: newLogger(stderr, *logLevel)}, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "tulpar demo:", err)
		return exitFail
	}
	return exitOK
}
