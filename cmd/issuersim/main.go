// Command issuersim runs a simulated partner-bank host that speaks ISO 8583
// over TCP, for the switch's tests, demo and benchmarks. See package
// issuersim; `issuersim --help` lists the flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // bank time zones on machines without a zone database
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
