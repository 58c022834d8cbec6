package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/journal"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "the YAML config file (required); see `tulpar demo -print-config` for a complete example")
	check := fs.Bool("check", false, "validate the config file and exit: 0 if it is valid, 1 with every error naming its key")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: tulpar serve --config FILE [--check]")
		fmt.Fprintln(stderr, "\nRuns the switch: bank links, the merchant web service, the hosted payment page,")
		fmt.Fprintln(stderr, "/metrics, /healthz and /readyz. SIGINT or SIGTERM stops it gracefully.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *config == "" {
		fmt.Fprintln(stderr, "tulpar serve: --config is required")
		fs.Usage()
		return exitUsage
	}
	cfg, err := daemon.LoadConfig(*config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if *check {
		fmt.Fprintf(stdout, "%s: OK\n", *config)
		return exitOK
	}
	log := newLogger(stderr, cfg.LogLevel)
	if err := daemon.Run(ctx, cfg, log); err != nil {
		// A damaged data file is for the operator to repair before anything
		// else: the journal's one line (the file, the problem, the way out),
		// plain, not inside a log event.
		if errors.Is(err, journal.ErrDamaged) {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		log.Error().Err(err).Msg("tulpar stopped with an error")
		return exitFail
	}
	return exitOK
}

// newLogger is the process logger: JSON lines on w, one event per line.
func newLogger(w io.Writer, level string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	if w == nil {
		w = os.Stderr
	}
	// Many goroutines log at once; SyncWriter keeps each line whole on a
	// writer that is not safe for concurrent use (tests pass a buffer).
	return zerolog.New(zerolog.SyncWriter(w)).Level(lvl).With().Timestamp().Logger()
}
