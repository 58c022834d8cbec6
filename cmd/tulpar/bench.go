package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/tulpar-switch/tulpar/bench"
	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/demo"
)

// benchFlags are `tulpar bench`'s flags; the engine is package bench, and
// this file only wires scenarios that need the switch in-process.
type benchFlags struct {
	scenario, url, token, user, password, isoAddr, dialect, acquirer string
	self, separate, signOn, json, reference                          bool
	clients, workers, conns                                          int
	rate                                                             float64
	duration, warmup                                                 time.Duration
	requests, amount                                                 int64
	mix, card, declineCard, cpuProfile, memProfile, dataDir, logLvl  string
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f benchFlags
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.scenario, "scenario", "e2e", "what to load: e2e (merchant API: register.do, paymentorder.do, deposit.do, refund.do, in the --mix), "+
		"iso (0100s straight at a bank: through Tulpar's link with --self, else a raw client at --iso-addr), "+
		"sim (--self only: a raw client at the simulated bank, the simulator's own capacity), "+
		"reference (the bare moov-io/iso8583-connection round trip to a minimal echo server on loopback)")
	fs.BoolVar(&f.self, "self", false, "start the switch, two simulated banks and the 3-D Secure simulator in this process "+
		"(journal durable, in --data) and measure them; the load generator shares the machine")
	fs.BoolVar(&f.separate, "separate", false, "--self: run the simulated banks and the 3-D Secure simulator in a child process "+
		"(tulpar simulators), so the figures and the memory trend are the switch's and the load generator's only")
	fs.StringVar(&f.url, "url", "", "e2e without --self: the running switch's base URL, e.g. http://127.0.0.1:8080")
	fs.StringVar(&f.token, "token", "", "e2e without --self: the merchant's RBS token (paymentorder.do must be allowed for it)")
	fs.StringVar(&f.user, "user", "", "e2e without --self: RBS userName, when no --token")
	fs.StringVar(&f.password, "password", "", "e2e without --self: RBS password, when no --token")
	fs.StringVar(&f.isoAddr, "iso-addr", "", "iso without --self: host:port of an ISO 8583 host (a bank, or the issuersim command)")
	fs.StringVar(&f.dialect, "dialect", "ascii", "ISO dialect of iso, sim and reference: ascii or binary (--self iso uses the ascii bank's link)")
	fs.StringVar(&f.acquirer, "acquirer-id", "400001", "DE32 of the 0100s of iso, sim and reference (the demo's ascii bank expects 400001)")
	fs.BoolVar(&f.signOn, "sign-on", false, "iso without --self: send an 0800 sign-on on each connection first")
	fs.IntVar(&f.conns, "conns", 1, "TCP connections of the raw ISO client (iso without --self, sim, reference); 1 as a Tulpar link")
	fs.IntVar(&f.clients, "clients", 64, "closed loop: concurrent clients, each sending when its previous answer came (ignored with --rate)")
	fs.Float64Var(&f.rate, "rate", 0, "open loop: operations per second at fixed intended times; latency counts from the intended "+
		"time (coordinated-omission correct). 0: closed loop with --clients")
	fs.IntVar(&f.workers, "workers", bench.DefaultOpenWorkers, "open loop: most operations in flight; beyond it due operations queue, their latency still counting")
	fs.DurationVar(&f.duration, "duration", 30*time.Second, "measured time after the warm-up (0: only --requests ends the run)")
	fs.Int64Var(&f.requests, "requests", 0, "measured operations; the run ends at --duration or --requests, whichever comes first (0: no count)")
	fs.DurationVar(&f.warmup, "warmup", 5*time.Second, "load run first and left out of the results")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON on stdout (for scripts and CI trends) instead of tables")
	fs.BoolVar(&f.reference, "reference", false, "also measure the reference round trip (closed loop, same concurrency, same duration, --dialect) "+
		"just before the scenario, and report the scenario's authorizations per second as a ratio of it")
	fs.StringVar(&f.mix, "mix", bench.DefaultMix.String(), "e2e: percent of each operation; a refund refunds an earlier purchase of the same client")
	fs.Int64Var(&f.amount, "amount", 100, "e2e and iso: amount of each payment in minor units (100 = 1.00 KZT), small so long runs do not drain test cards")
	fs.StringVar(&f.card, "card", "4444555511113333", "e2e: the card that pays (the simulators' card not enrolled in 3-D Secure: no challenge)")
	fs.StringVar(&f.declineCard, "decline-card", "4000000000000044", "e2e: the card of the decline share (the simulators' lost card: 41)")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile (pprof) of the measured run, warm-up included, to this file")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a heap profile (pprof) at the end of the run to this file")
	fs.StringVar(&f.dataDir, "data", "", "--self: data directory of the switch (default: a temporary directory, removed afterwards)")
	fs.StringVar(&f.logLvl, "log-level", "warn", "--self: log level of the switch and simulators (logs go to stderr); info costs throughput")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: tulpar bench [--self] [--scenario e2e|iso|sim|reference] [--clients N | --rate R] [--duration D] [--requests N] [--reference] [--json]")
		fmt.Fprintln(stderr, "\nMeasures authorizations per second and their latency (HDR histograms: p50, p90, p99, p99.9, max),")
		fmt.Fprintln(stderr, "errors by kind and, with --self, the journal entries written. A live progress line goes to stderr")
		fmt.Fprintln(stderr, "when it is a terminal. Exits 1 when any measured operation failed.")
		fmt.Fprintln(stderr, "\nExamples:")
		fmt.Fprintln(stderr, "  tulpar bench --self --reference                       # peak, closed loop, 64 clients, with the moov ratio")
		fmt.Fprintln(stderr, "  tulpar bench --self --rate 1000 --duration 10m        # latency at a fixed rate, memory trend")
		fmt.Fprintln(stderr, "  tulpar bench --self --scenario iso                    # Tulpar's link layer and the simulated bank alone")
		fmt.Fprintln(stderr, "  tulpar bench --url http://switch:8080 --token T       # a running switch")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tulpar bench: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	opts := bench.Options{Duration: f.duration, Requests: f.requests, Warmup: f.warmup}
	if f.rate > 0 {
		opts.Model = bench.Open{Rate: f.rate, Workers: f.workers}
	} else {
		opts.Model = bench.Closed{Clients: f.clients}
	}
	if err := opts.Validate(); err != nil {
		fmt.Fprintln(stderr, "tulpar bench:", err)
		return exitUsage
	}
	mix, err := bench.ParseMix(f.mix)
	if err != nil {
		fmt.Fprintln(stderr, "tulpar bench:", err)
		return exitUsage
	}
	if ff, ok := stderr.(*os.File); ok && term.IsTerminal(int(ff.Fd())) {
		opts.Progress = func(p bench.Progress) { fmt.Fprintf(stderr, "\r%s\x1b[K", bench.ProgressLine(p)) }
	}
	rep, code := f.run(ctx, opts, mix, stderr)
	if rep == nil {
		return code
	}
	if opts.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if f.json {
		if err := rep.WriteJSON(stdout); err != nil {
			fmt.Fprintln(stderr, "tulpar bench:", err)
			return exitFail
		}
	} else {
		rep.Write(stdout)
	}
	if rep.Result.Errors > 0 || (rep.Reference != nil && rep.Reference.Errors > 0) {
		return exitFail
	}
	return exitOK
}

// run sets up the scenario, runs it (and the reference), and tears down.
func (f *benchFlags) run(ctx context.Context, opts bench.Options, mix bench.Mix, stderr io.Writer) (*bench.Report, int) {
	fail := func(err error) (*bench.Report, int) {
		fmt.Fprintln(stderr, "tulpar bench:", err)
		return nil, exitFail
	}
	// The reference runs first, alone in the process: after the scenario
	// the heap would still hold what the simulators' books collected.
	var ref *bench.Result
	if f.reference && f.scenario != "reference" {
		var err error
		if ref, err = f.runReference(ctx, opts, stderr); err != nil {
			return fail(err)
		}
		runtime.GC()
	}
	var self *selfSwitch
	if f.self {
		var err error
		if self, err = startSelf(ctx, f.dataDir, f.separate, newLogger(stderr, f.logLvl), stderr); err != nil {
			return fail(err)
		}
		defer self.close()
	}
	var (
		target  bench.Target
		closeFn = func() {}
		rep     *bench.Report
	)
	switch f.scenario {
	case "e2e":
		o := bench.RBSOptions{URL: f.url, Token: f.token, UserName: f.user, Password: f.password, Card: f.card,
			DeclineCard: f.declineCard, Amount: f.amount, Mix: mix, Conns: concurrency(opts.Model)}
		what := f.url
		if self != nil {
			o.URL, o.Token, o.UserName, o.Password = self.d.URL(), self.secrets.Token, "", ""
			what = "self: in-process switch at " + o.URL + ", two simulated banks, 3-D Secure simulator, journal durable"
		}
		m, err := bench.NewRBSMix(o)
		if err != nil {
			return fail(err)
		}
		target, closeFn = m.Target(), m.Close
		rep = bench.NewReport("e2e", what+"; RBS facade with card data (paymentorder.do), mix "+mix.String())
	case "iso":
		if self != nil {
			link := self.d.Links().Get(demo.BankASCII)
			nums := bench.NewNumbers()
			target = func(ctx context.Context, _ int) (string, error) {
				m := bench.Authorization(f.acquirer, f.amount, time.Now())
				_, m.RRN = nums.Next() // the link numbers DE11 itself
				resp, err := link.Send(ctx, m)
				if err != nil {
					return "authorization", err
				}
				if resp.ResponseCode != iso.RCApproved {
					return "authorization", bench.Failf("rc_"+resp.ResponseCode, "answered %s", resp.ResponseCode)
				}
				return "authorization", nil
			}
			rep = bench.NewReport("iso", "self: 0100s through Tulpar's link "+demo.BankASCII+" (links.Link.Send) to the simulated bank, ascii")
			break
		}
		if f.isoAddr == "" {
			fmt.Fprintln(stderr, "tulpar bench: iso: --iso-addr or --self required")
			return nil, exitUsage
		}
		c, err := bench.DialISO(ctx, f.isoAddr, bench.ISOOptions{Dialect: f.dialect, Conns: f.conns, SignOn: f.signOn, AcquirerID: f.acquirer})
		if err != nil {
			return fail(err)
		}
		target, closeFn = c.Authorizations(f.amount), func() { c.Close() }
		rep = bench.NewReport("iso", fmt.Sprintf("raw ISO client (moov-io/iso8583-connection, %d conns) at %s, %s", f.conns, f.isoAddr, f.dialect))
	case "sim":
		if self == nil {
			fmt.Fprintln(stderr, "tulpar bench: sim: needs --self (for a running simulator use --scenario iso --iso-addr)")
			return nil, exitUsage
		}
		c, err := bench.DialISO(ctx, self.asciiAddr, bench.ISOOptions{Dialect: "ascii", Conns: f.conns, AcquirerID: f.acquirer})
		if err != nil {
			return fail(err)
		}
		target, closeFn = c.Authorizations(f.amount), func() { c.Close() }
		rep = bench.NewReport("sim", fmt.Sprintf("self: raw ISO client (%d conns) straight at the simulated bank %s, ascii", f.conns, demo.BankASCII))
	case "reference":
		ref, err := f.runReference(ctx, opts, stderr)
		if err != nil {
			return fail(err)
		}
		rep = bench.NewReport("reference", "bare moov-io/iso8583-connection round trip on loopback: client → minimal echo server → client, "+f.dialect)
		rep.Result, rep.AuthorizationsPerSecond = ref, ref.Throughput
		return rep, exitOK
	default:
		fmt.Fprintf(stderr, "tulpar bench: scenario: %q is not e2e, iso, sim or reference\n", f.scenario)
		return nil, exitUsage
	}

	var ops atomic.Int64
	counted := func(ctx context.Context, w int) (string, error) {
		ops.Add(1)
		return target(ctx, w)
	}
	var before uint64
	var jm0 journalMetrics
	if self != nil {
		before, _ = self.d.Journal().Count()
		jm0 = readJournalMetrics(self.d.Registry())
	}
	t0 := time.Now()
	stopCPU, err := startCPUProfile(f.cpuProfile)
	if err != nil {
		return fail(err)
	}
	mem := bench.SampleMemory(time.Second, opts.Warmup)
	res, err := bench.Run(ctx, opts, counted)
	rep.Memory = mem.Stop()
	stopCPU()
	closeFn()
	if err != nil {
		return fail(err)
	}
	rep.Result = res
	rep.AuthorizationsPerSecond = res.Throughput
	if f.scenario == "e2e" {
		rep.AuthorizationsPerSecond = bench.Authorizations(res)
	}
	if self != nil {
		after, err := self.d.Journal().Count()
		if err == nil {
			rep.Journal = &bench.JournalStats{Before: before, After: after, Written: after - before}
			if n := ops.Load(); n > 0 {
				rep.Journal.PerOperation = float64(after-before) / float64(n)
			}
			jm := readJournalMetrics(self.d.Registry())
			if c := jm.commits - jm0.commits; c > 0 {
				busy := jm.seconds - jm0.seconds
				rep.Journal.Commits = uint64(c)
				rep.Journal.EntriesPerCommit = float64(after-before) / c
				rep.Journal.MeanCommit = time.Duration(busy / c * float64(time.Second))
				rep.Journal.WriterBusy = busy / time.Since(t0).Seconds()
			}
		}
		if f.separate {
			rep.Notes = append(rep.Notes, "the simulated banks and the 3-D Secure simulator run in a child process; the load generator runs in this one and shares its CPUs")
		} else {
			rep.Notes = append(rep.Notes, "the simulated banks, the 3-D Secure simulator and the load generator run in this process and share its CPUs")
		}
	}
	if f.memProfile != "" {
		if err := writeHeapProfile(f.memProfile); err != nil {
			return fail(err)
		}
	}
	if ref != nil {
		rep.SetReference(ref)
	}
	return rep, exitOK
}

// runReference measures the bare round trip with the scenario's
// concurrency: --clients in a closed loop (an open loop's rate says
// nothing about a limit).
func (f *benchFlags) runReference(ctx context.Context, opts bench.Options, stderr io.Writer) (*bench.Result, error) {
	echo, err := bench.StartEcho(f.dialect)
	if err != nil {
		return nil, err
	}
	defer echo.Close()
	c, err := bench.DialISO(ctx, echo.Addr(), bench.ISOOptions{Dialect: f.dialect, Conns: f.conns, AcquirerID: f.acquirer})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	opts.Model = bench.Closed{Clients: concurrency(opts.Model)}
	res, err := bench.Run(ctx, opts, c.Authorizations(f.amount))
	if opts.Progress != nil && f.scenario != "reference" {
		fmt.Fprintln(stderr) // the scenario's progress line follows
	}
	return res, err
}

func concurrency(m bench.Model) int {
	switch m := m.(type) {
	case bench.Closed:
		return m.Clients
	case bench.Open:
		if m.Workers > 0 {
			return m.Workers
		}
		return bench.DefaultOpenWorkers
	}
	return 1
}

func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	out, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); out.Close() }, nil
}

func writeHeapProfile(path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	runtime.GC()
	return pprof.WriteHeapProfile(out)
}

// journalMetrics are the journal writer's counters, read from the daemon's
// Prometheus registry.
type journalMetrics struct{ commits, seconds float64 }

func readJournalMetrics(g prometheus.Gatherer) journalMetrics {
	var m journalMetrics
	families, err := g.Gather()
	if err != nil {
		return m
	}
	for _, f := range families {
		switch f.GetName() {
		case "tulpar_journal_batches_total":
			m.commits = f.GetMetric()[0].GetCounter().GetValue()
		case "tulpar_journal_commit_seconds":
			m.seconds = f.GetMetric()[0].GetHistogram().GetSampleSum()
		}
	}
	return m
}

// selfSwitch is the demo's switch for benchmarking: the demo's config
// (two banks, 3-D Secure, the demo merchant and its API credentials) with
// simulators sized for load. daemon.StartDemo's simulators are sized for
// people: its ACS holds at most 100,000 transactions for 15 minutes and
// its cards hold 500,000 KZT, so a sale-day run would fail on the
// simulators, not on the switch.
type selfSwitch struct {
	d         *daemon.Daemon
	sims      *demo.Simulators // in this process
	child     *childSimulators // or in their own (--separate)
	asciiAddr string
	secrets   struct{ Token string }
	dir       string
	tmp       bool
	closed    bool
}

func startSelf(ctx context.Context, dir string, separate bool, log zerolog.Logger, stderr io.Writer) (s *selfSwitch, err error) {
	s = &selfSwitch{dir: dir}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.dir == "" {
		if s.dir, err = os.MkdirTemp("", "tulpar-bench-"); err != nil {
			return s, err
		}
		s.tmp = true
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return s, err
	}
	if err := benchKeys(s.dir); err != nil {
		return s, err
	}
	var acsURL string
	var startBinary func(addr string) error
	if separate {
		if s.child, err = startChildSimulators(log.GetLevel().String(), stderr); err != nil {
			return s, err
		}
		acsURL, s.asciiAddr, startBinary = s.child.addrs.ACS, s.child.addrs.ASCII, s.child.startBinary
	} else {
		if s.sims, err = demo.StartSimulators(log); err != nil {
			return s, err
		}
		acsURL, s.asciiAddr, startBinary = s.sims.ACSURL(), s.sims.ASCIIAddr(), s.sims.StartBinary
	}
	cfg, secrets, err := demo.SwitchConfig(s.dir, "127.0.0.1:0", acsURL, s.asciiAddr)
	if err != nil {
		return s, err
	}
	s.secrets.Token = secrets.Token
	if s.d, err = daemon.Start(ctx, cfg, log); err != nil {
		return s, err
	}
	if err := startBinary(s.d.Links().Get(demo.BankBinary).Addr()); err != nil {
		return s, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, name := range []string{demo.BankASCII, demo.BankBinary} {
		if err := s.d.Links().Get(name).WaitReady(wctx); err != nil {
			return s, fmt.Errorf("link %s: %w", name, err)
		}
	}
	return s, nil
}

func (s *selfSwitch) close() {
	if s.closed {
		return
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if s.d != nil {
		s.d.Shutdown(ctx)
	}
	if s.sims != nil {
		s.sims.Close()
	}
	if s.child != nil {
		s.child.close()
	}
	if s.tmp {
		os.RemoveAll(s.dir)
	}
}

// benchKeys creates the master key and key store the demo config names,
// as `tulpar demo` does on its first run.
func benchKeys(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "keys.json")); err == nil {
		return nil
	}
	mk, err := hsm.GenerateMasterKey()
	if err != nil {
		return err
	}
	if err := hsm.WriteMasterKeyFile(filepath.Join(dir, "master.key"), mk); err != nil {
		return err
	}
	store, err := hsm.CreateKeyStore(filepath.Join(dir, "keys.json"), mk)
	if err != nil {
		return err
	}
	for id, t := range map[string]hsm.KeyType{"dek": hsm.KeyDEK, "token": hsm.KeyToken, "cvk": hsm.KeyCVK} {
		if _, err := store.Create(id, t, ""); err != nil {
			return fmt.Errorf("key %s: %w", id, err)
		}
	}
	return nil
}
