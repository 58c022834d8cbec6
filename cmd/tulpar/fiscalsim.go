package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tulpar-switch/tulpar/switch/fiscal/fiscalsim"
)

// runFiscalsim is `tulpar fiscalsim`: the simulated fiscal service
// (Nurkassa-shaped) on its own, for a switch under test or a shop's
// integration to send receipts to.
func runFiscalsim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("fiscalsim", "[--listen ADDR] [--login L --password P] [--token-ttl D]", `
A simulated fiscal service answering the Nurkassa API as the switch's
fiscal section speaks it: login, sale and return receipts under a Pos-Id,
lookup by external id, ticket pages and QR links. It keeps its receipts in
memory until it stops. Point a merchant's fiscal.merchants entry at the URL
it prints, with the login and password given here (any, without them).`, stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "HTTP address to serve")
	login := fs.String("login", "", "the only login accepted (with --password); default: any")
	password := fs.String("password", "", "the password of --login")
	ttl := fs.Duration("token-ttl", 0, "how long a token is good for (0: until the simulator stops)")
	logLevel := fs.String("log-level", "info", "log level (logs go to stderr)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if (*login == "") != (*password == "") {
		fmt.Fprintln(stderr, "tulpar fiscalsim: --login and --password go together")
		return exitUsage
	}
	cfg := fiscalsim.Config{TokenTTL: *ttl}
	if *login != "" {
		cfg.Users = map[string]string{*login: *password}
	}
	sim, err := fiscalsim.Start(*listen, cfg, newLogger(stderr, *logLevel))
	if err != nil {
		fmt.Fprintln(stderr, "tulpar fiscalsim:", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "fiscal service simulator listening on %s\n", sim.URL())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sim.Shutdown(sctx); err != nil {
		fmt.Fprintln(stderr, "tulpar fiscalsim:", err)
		return exitFail
	}
	return exitOK
}
