package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"golang.org/x/term"

	"github.com/tulpar-switch/tulpar/bench"
	"github.com/tulpar-switch/tulpar/switch/cores"
	"github.com/tulpar-switch/tulpar/switch/demo"
)

// benchFlags are `tulpar bench`'s flags. The run is package bench's
// (bench.Execute); --self's world is switch/demo's (demo.SelfBench).
type benchFlags struct {
	scenario, url, token, user, password, isoAddr, dialect, acquirer string
	self, separate, signOn, json, reference, adjacent, halfPeak      bool
	clients, workers, conns, pages                                   int
	rate                                                             float64
	duration, warmup, drainTimeout, peakDuration                     time.Duration
	requests, amount                                                 int64
	mix, card, declineCard, cpuProfile, memProfile, dataDir, logLvl  string
	plot                                                             string
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f benchFlags
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.scenario, "scenario", "e2e", "what to load: e2e (merchant API: register.do, paymentorder.do, deposit.do, refund.do, in the --mix), "+
		"iso (0100s straight at a bank: through Tulpar's link with --self, else a raw client at --iso-addr), "+
		"sim (--self only: a raw client at the simulated bank, the simulator's own capacity), "+
		"reference (the bare moov-io/iso8583-connection round trip to a minimal echo server on loopback), "+
		"disk (no switch: a bbolt commit's writes and fdatasyncs on the disk of --data, the floor under each journal commit)")
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
	fs.IntVar(&f.clients, "clients", 64, "closed loop, and the peak run of --half-peak: concurrent clients, each sending when its previous answer came (ignored with --rate)")
	fs.Float64Var(&f.rate, "rate", 0, "open loop: operations per second at fixed intended times; latency counts from the intended "+
		"time (coordinated-omission correct). 0: closed loop with --clients")
	fs.IntVar(&f.workers, "workers", bench.DefaultOpenWorkers, "open loop (--rate, --half-peak): most operations in flight; beyond it due operations queue, their latency still counting")
	fs.DurationVar(&f.duration, "duration", 30*time.Second, "measured time after the warm-up (0: only --requests ends the run)")
	fs.Int64Var(&f.requests, "requests", 0, "measured operations; the run ends at --duration or --requests, whichever comes first (0: no count)")
	fs.DurationVar(&f.warmup, "warmup", 5*time.Second, "load run first and left out of the results")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON on stdout (for scripts and CI trends) instead of tables")
	fs.BoolVar(&f.reference, "reference", false, "also measure the reference round trip (closed loop, same concurrency, same duration or with --half-peak the peak's, --dialect) "+
		"just before the scenario, and report the scenario's authorizations per second as a ratio of it")
	fs.BoolVar(&f.halfPeak, "half-peak", false, "first measure the peak on the same system (closed loop, --clients, --peak-duration after --warmup), "+
		"then run the measured load as an open loop at half of the peak's throughput: the load of the latency target")
	fs.DurationVar(&f.peakDuration, "peak-duration", 0, "--half-peak: measured time of the peak run (0: 30s)")
	fs.StringVar(&f.mix, "mix", bench.DefaultMix.String(), "e2e: percent of each operation; a refund refunds an earlier purchase of the same client")
	fs.Int64Var(&f.amount, "amount", 100, "e2e and iso: amount of each payment in minor units (100 = 1.00 KZT), small so long runs do not drain test cards")
	fs.StringVar(&f.card, "card", "4444555511113333", "e2e: the card that pays (the simulators' card not enrolled in 3-D Secure: no challenge)")
	fs.StringVar(&f.declineCard, "decline-card", "4000000000000044", "e2e: the card of the decline share (the simulators' lost card: 41)")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile (pprof) of the measured run, warm-up included, to this file")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a heap profile (pprof) at the end of the run to this file")
	fs.StringVar(&f.dataDir, "data", "", "--self: data directory of the switch (default: a temporary directory, removed afterwards); "+
		"disk: the directory whose disk is measured (required)")
	fs.IntVar(&f.pages, "pages", bench.DefaultDiskPages, "disk: pages each commit writes before its first fdatasync")
	fs.BoolVar(&f.adjacent, "adjacent", false, "disk: write each commit's pages side by side in one write (as an append-only log would) instead of at random places (as bbolt's freelist places them)")
	fs.StringVar(&f.plot, "plot", "", "write the run's memory over time (resident set and live heap) as a PNG to this file")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", bench.DefaultDrainTimeout, "--self: after the run, wait at most this long for the queued advices, reversals and callbacks to be sent (reported as the drain)")
	fs.StringVar(&f.logLvl, "log-level", "warn", "--self: log level of the switch and simulators (logs go to stderr); info costs throughput")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: tulpar bench [--self] [--scenario e2e|iso|sim|reference|disk] [--clients N] [--rate R | --half-peak [--peak-duration D]] [--duration D] [--requests N] [--reference] [--json]")
		fmt.Fprintln(stderr, "\nMeasures authorizations per second and their latency (HDR histograms: p50, p90, p99, p99.9, max),")
		fmt.Fprintln(stderr, "errors by kind and, with --self, the journal entries written. A live progress line goes to stderr")
		fmt.Fprintln(stderr, "when it is a terminal. Exits 1 when any measured operation failed.")
		fmt.Fprintln(stderr, "\nExamples:")
		fmt.Fprintln(stderr, "  tulpar bench --self --reference                       # peak, closed loop, 64 clients, with the moov ratio")
		fmt.Fprintln(stderr, "  tulpar bench --self --rate 1000 --duration 10m        # latency at a fixed rate, memory trend")
		fmt.Fprintln(stderr, "  tulpar bench --self --separate --reference --half-peak --duration 10m --plot rss.png")
		fmt.Fprintln(stderr, "                                                        # the targets: ratio at the peak, p99 and memory at half of it")
		fmt.Fprintln(stderr, "  tulpar bench --self --scenario iso                    # Tulpar's link layer and the simulated bank alone")
		fmt.Fprintln(stderr, "  tulpar bench --url http://switch:8080 --token T       # a running switch")
		fmt.Fprintln(stderr, "  tulpar bench --scenario disk --data /var/lib/tulpar --clients 1  # the disk's floor under each commit")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := f.config(stderr)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintln(stderr, "tulpar bench:", err)
		return exitUsage
	}
	rep, err := bench.Execute(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "tulpar bench:", err)
		return exitFail
	}
	if f.json {
		if err := rep.WriteJSON(stdout); err != nil {
			fmt.Fprintln(stderr, "tulpar bench:", err)
			return exitFail
		}
	} else {
		rep.Write(stdout)
	}
	if f.plot != "" {
		if err := writePlot(f.plot, rep.Memory); err != nil {
			fmt.Fprintln(stderr, "tulpar bench:", err)
			return exitFail
		}
	}
	if rep.Failed() {
		return exitFail
	}
	return exitOK
}

// config is the run the flags describe; with --self, the bench starts the
// demo world (switch/demo) after the reference.
func (f *benchFlags) config(stderr io.Writer) (bench.Config, error) {
	load := bench.Options{Duration: f.duration, Requests: f.requests, Warmup: f.warmup}
	if f.rate > 0 {
		load.Model = bench.Open{Rate: f.rate, Workers: f.workers}
	} else {
		load.Model = bench.Closed{Clients: f.clients}
	}
	mix, err := bench.ParseMix(f.mix)
	if err != nil {
		return bench.Config{}, err
	}
	cfg := bench.Config{
		Scenario: f.scenario, Load: load, Reference: f.reference, HalfPeak: f.halfPeak, PeakDuration: f.peakDuration, ReferenceProcs: referenceProcs(),
		URL: f.url, Token: f.token, UserName: f.user, Password: f.password,
		Mix: mix, Card: f.card, DeclineCard: f.declineCard, Amount: f.amount,
		ISOAddr: f.isoAddr, Dialect: f.dialect, AcquirerID: f.acquirer, SignOn: f.signOn, Conns: f.conns,
		CPUProfile: f.cpuProfile, MemProfile: f.memProfile, DrainTimeout: f.drainTimeout,
	}
	if f.halfPeak {
		cfg.Workers = f.workers // the open loop's, as --rate's
	}
	if f.scenario == bench.ScenarioDisk {
		cfg.Dir, cfg.Pages, cfg.Adjacent = f.dataDir, f.pages, f.adjacent
	}
	if ff, ok := stderr.(*os.File); ok && term.IsTerminal(int(ff.Fd())) {
		cfg.Progress = stderr
	}
	if f.self {
		log := newLogger(stderr, f.logLvl)
		self := demo.SelfBench{DataDir: f.dataDir, Log: log}
		if f.separate {
			self.Simulators = func() (demo.BenchSimulators, error) {
				c, err := startChildSimulators(log.GetLevel().String(), stderr)
				if err != nil {
					return nil, err // not a nil *childSimulators in a non-nil interface
				}
				return c, nil
			}
		}
		cfg.Start = self.Start
	}
	return cfg, nil
}

func writePlot(path string, m *bench.MemoryStats) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := bench.WritePlot(f, m); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// referenceProcs is GOMAXPROCS for the reference round trip: the cores Go
// counted when the process runs the switch with more schedulers
// (cores.Tune), so that the ratio compares with the bare round trip as
// moov-io runs by default; 0 (as the process) otherwise.
func referenceProcs() int {
	if runtime.GOMAXPROCS(0) == cores.N() {
		return 0
	}
	return cores.N()
}
