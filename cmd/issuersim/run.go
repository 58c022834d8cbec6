package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/specs"
	"github.com/tulpar-switch/tulpar/switch/httplog"
)

// Default addresses when neither the flags nor the config file name one.
// If a default port is taken, the bank takes any free port and says so.
const (
	defaultListen = "127.0.0.1:8583"
	defaultAdmin  = "127.0.0.1:8584"
)

const usageHead = `issuersim: a simulated partner-bank host speaking ISO 8583 over TCP.

It keeps balances and holds on a card book, declines for real reasons,
answers slowly or not at all when its knobs say so, and writes the bank's
settlement file. With no flags it starts one bank with the default card
book, listening on %s (any free port if that one is taken), with
the admin API on %s.

Usage:
  issuersim [flags]

Flags override the config file; the config file overrides the defaults.

`

const usageTail = `
Admin API (no authentication: keep it on loopback):
  GET /knobs    PUT /knobs    GET /accounts    GET /settlement?date=YYYY-MM-DD    GET /metrics
  curl -X PUT localhost:8584/knobs -d '{"latency":"200ms","rules":[{"amount_suffix":"51","response_code":"51"}]}'

Knob rules (first match wins; see package issuersim's Rule):
  match      pan, amount_suffix, mti
  action     respond (default), no_reply, late (with delay), close
  respond    response_code: a forced decline, nothing applied; or, on 0100
             and 0200 purchases the books approve, approve_amount N (minor
             units) with response_code 10: a partial approval of N < DE4
             (N held or captured, DE4 = N, DE54 = the amount asked), or with
             response_code 00: approved for N ≠ DE4, N booked
  curl -X PUT localhost:8584/knobs -d '{"rules":[{"mti":"0100","response_code":"10","approve_amount":500000}]}'

Knob omit: data elements dropped from every answer, as a host that does
not echo them: '{"omit":[32]}' answers 0810s and 0110s without DE32.
`

// options are the command's flags.
type options struct {
	config, name, dialect, listen, dial, acquirerID, admin, timezone, logLevel string
	echoInterval, latency, jitter, idleTimeout                                 time.Duration
	requireSignOn, check                                                       bool
}

func newFlags(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("issuersim", flag.ContinueOnError)
	fs.StringVar(&o.config, "config", "", "bank config `file`, YAML or JSON (card book, knobs, addresses); see package issuersim's Config")
	fs.StringVar(&o.name, "name", "", "bank `name` in logs, metrics and the settlement file (default \"demo-bank\")")
	fs.StringVar(&o.dialect, "dialect", "", "ISO 8583 `dialect`: one of "+strings.Join(specs.Names(), ", ")+" (default \"ascii\")")
	fs.StringVar(&o.listen, "listen", "", "`address` to listen on for the switch (server side; default "+defaultListen+")")
	fs.StringVar(&o.dial, "dial", "", "switch `address` to dial instead of listening (client side); redials with backoff while the switch is down")
	fs.StringVar(&o.acquirerID, "acquirer-id", "", "DE32 `id` the bank expects from the switch (others are declined 03) and sets on its own echoes; empty accepts any")
	fs.StringVar(&o.admin, "admin", "", "`address` of the admin HTTP API: knobs, accounts, settlement file, metrics (default "+defaultAdmin+"; \"off\" disables it)")
	fs.DurationVar(&o.echoInterval, "echo-interval", 0, "send the bank's own 0800 echo on each connection this often (0: never)")
	fs.DurationVar(&o.latency, "latency", 0, "fixed latency added to every answer")
	fs.DurationVar(&o.jitter, "jitter", 0, "random extra latency, uniform in [0, jitter): answers come back out of order")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 0, "close a connection after this long without a message (0: never)")
	fs.BoolVar(&o.requireSignOn, "require-sign-on", false, "answer financial requests 91 until the switch signs on (0800 DE70 001)")
	fs.StringVar(&o.timezone, "timezone", "", "IANA `zone` of the bank's business day for the settlement file (default UTC)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug (every message, log-safe), info, warn, error")
	fs.BoolVar(&o.check, "check", false, "validate the configuration, print it in short and exit")
	return fs
}

// run is the command: parse flags, build the bank, serve until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlags(&o)
	fs.SetOutput(stderr)
	usage := func(w io.Writer) {
		fmt.Fprintf(w, usageHead, defaultListen, defaultAdmin)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fmt.Fprint(w, usageTail)
	}
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		fmt.Fprintln(stderr, "issuersim:", err)
		fmt.Fprintln(stderr, "run issuersim --help for the flags")
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "issuersim: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	level, err := zerolog.ParseLevel(o.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "issuersim: -log-level: unknown level %q\n", o.logLevel)
		return 2
	}
	log := zerolog.New(zerolog.SyncWriter(stderr)).Level(level).With().Timestamp().Logger()

	cfg, fallback, err := buildConfig(fs, &o)
	if err != nil {
		fmt.Fprintln(stderr, "issuersim:", err)
		return 1
	}
	if o.check {
		side := "listen " + cfg.Listen
		if cfg.Dial != "" {
			side = "dial " + cfg.Dial
		}
		fmt.Fprintf(stdout, "issuersim %s: config ok: %s dialect, %s, %d cards, %d knob rules\n", cfg.Name, cfg.Dialect, side, len(cfg.Cards), len(cfg.Knobs.Rules))
		return 0
	}
	return serve(ctx, cfg, fallback, log, stdout, stderr)
}

// fallbacks says which addresses are defaults that may move to a free port.
type fallbacks struct{ listen, admin bool }

func buildConfig(fs *flag.FlagSet, o *options) (issuersim.Config, fallbacks, error) {
	cfg := issuersim.DefaultConfig()
	var fb fallbacks
	if o.config != "" {
		var err error
		if cfg, err = issuersim.LoadConfig(o.config); err != nil {
			return cfg, fb, err
		}
	} else {
		cfg.Listen, cfg.Admin = defaultListen, defaultAdmin
		fb = fallbacks{listen: true, admin: true}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	str := func(name string, dst *string, v string) {
		if set[name] {
			*dst = v
		}
	}
	str("name", &cfg.Name, o.name)
	str("dialect", &cfg.Dialect, o.dialect)
	str("acquirer-id", &cfg.AcquirerID, o.acquirerID)
	str("timezone", &cfg.Timezone, o.timezone)
	if set["listen"] {
		cfg.Listen, cfg.Dial, fb.listen = o.listen, "", false
	}
	if set["dial"] {
		cfg.Dial, cfg.Listen, fb.listen = o.dial, "", false
		if set["listen"] {
			return cfg, fb, errors.New("-listen and -dial: give one of them")
		}
	}
	if set["admin"] {
		cfg.Admin, fb.admin = o.admin, false
		if o.admin == "off" {
			cfg.Admin = ""
		}
	}
	if set["echo-interval"] {
		cfg.EchoInterval = o.echoInterval
	}
	if set["latency"] {
		cfg.Knobs.Latency = o.latency
	}
	if set["jitter"] {
		cfg.Knobs.Jitter = o.jitter
	}
	if set["idle-timeout"] {
		cfg.IdleTimeout = o.idleTimeout
	}
	if set["require-sign-on"] {
		cfg.RequireSignOn = o.requireSignOn
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fb, fmt.Errorf("config: %w", err)
	}
	return cfg, fb, nil
}

func serve(ctx context.Context, cfg issuersim.Config, fb fallbacks, log zerolog.Logger, stdout, stderr io.Writer) int {
	// The command serves the admin API itself, to add /metrics to it.
	adminAddr := cfg.Admin
	cfg.Admin = ""
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	bank, err := startBank(ctx, cfg, fb.listen, log, reg)
	if err != nil {
		fmt.Fprintln(stderr, "issuersim:", err)
		return 1
	}
	defer bank.Close()
	if bank.Addr() != "" {
		fmt.Fprintf(stdout, "issuersim %s: ISO 8583 (%s dialect) listening on %s\n", bank.Name(), bank.Dialect(), bank.Addr())
	} else {
		fmt.Fprintf(stdout, "issuersim %s: ISO 8583 (%s dialect) dialing the switch at %s\n", bank.Name(), bank.Dialect(), cfg.Dial)
	}

	if adminAddr != "" {
		ln, err := listen(adminAddr, fb.admin)
		if err != nil {
			fmt.Fprintln(stderr, "issuersim: admin:", err)
			return 1
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.Handle("/", bank.AdminHandler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: httplog.ErrorLog(log, "admin")}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error().Err(err).Msg("admin API stopped")
			}
		}()
		defer srv.Close()
		fmt.Fprintf(stdout, "issuersim %s: admin http://%s/knobs (also /accounts, /settlement?date=YYYY-MM-DD, /metrics)\n", bank.Name(), ln.Addr())
	}
	<-ctx.Done()
	fmt.Fprintf(stdout, "issuersim %s: stopping\n", bank.Name())
	return 0
}

// startBank starts the bank, moving to a free port when the default one
// is taken.
func startBank(ctx context.Context, cfg issuersim.Config, fallback bool, log zerolog.Logger, reg prometheus.Registerer) (*issuersim.Bank, error) {
	if fallback {
		if ln, err := net.Listen("tcp", cfg.Listen); err != nil {
			log.Warn().Str("addr", cfg.Listen).Err(err).Msg("default port taken; using any free port")
			cfg.Listen = hostOf(cfg.Listen) + ":0"
		} else {
			ln.Close()
		}
	}
	// The wirer names the component; the bank does not name itself.
	bank, err := issuersim.New(cfg, log.With().Str("bank", cfg.Name).Logger(), reg)
	if err != nil {
		return nil, err
	}
	if err := bank.Start(ctx); err != nil {
		return nil, err
	}
	return bank, nil
}

func listen(addr string, fallback bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil && fallback {
		return net.Listen("tcp", hostOf(addr)+":0")
	}
	return ln, err
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "127.0.0.1"
	}
	return host
}
