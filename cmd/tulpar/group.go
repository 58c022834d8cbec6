package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// subcommand is one command of a group (tulpar keys create, tulpar
// journal verify).
type subcommand struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// runGroup dispatches `tulpar <group> <command>`. about is the group's help,
// printed before the command list for -h (exit 0) or no command (exit 2).
func runGroup(ctx context.Context, group, about string, subs []subcommand, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		w, code := stderr, exitUsage
		if len(args) > 0 {
			w, code = stdout, exitOK
		}
		fmt.Fprintf(w, "Usage: tulpar %s <command> [flags]\n\n%s\n\nCommands:\n", group, strings.TrimSpace(about))
		width := 0
		for _, c := range subs {
			width = max(width, len(c.name))
		}
		for _, c := range subs {
			fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
		}
		fmt.Fprintf(w, "\nRun 'tulpar %s <command> -h' for its flags.\n", group)
		return code
	}
	for _, c := range subs {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "tulpar %s: unknown command %q (run 'tulpar %s -h')\n", group, args[0], group)
	return exitUsage
}

// newFlagSet makes the flag set of `tulpar <name>`, whose -h prints the
// usage line, the description and the flags.
func newFlagSet(name, usage, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("tulpar "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: tulpar %s %s\n\n%s\n\nFlags:\n", name, usage, strings.TrimSpace(about))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses and turns flag errors into exit codes; -h is success.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return exitOK, true
}
