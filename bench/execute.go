package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
)

// Execute runs c: the reference first when asked, then the system under
// test (c.Start), then the scenario, measured; it stops what it started.
// The report's Result has the scenario's errors: a run with failed
// operations is a report, not an error (see Report.Failed).
func Execute(ctx context.Context, c Config) (*Report, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Scenario == ScenarioReference {
		ref, err := c.runReference(ctx)
		c.endProgressLine()
		if err != nil {
			return nil, err
		}
		rep := NewReport(ScenarioReference, "bare moov-io/iso8583-connection round trip on loopback: client → minimal echo server → client, "+c.Dialect)
		rep.Result, rep.AuthorizationsPerSecond = ref, ref.Throughput
		rep.GOMAXPROCS = ref.GOMAXPROCS // the run's, not the process's again
		return rep, nil
	}
	var ref *Result
	if c.Reference {
		var err error
		ref, err = c.runReference(ctx)
		c.endProgressLine() // the scenario's progress line follows
		if err != nil {
			return nil, err
		}
		runtime.GC()
	}
	var sys *System
	if c.Start != nil {
		var err error
		if sys, err = c.Start(ctx); err != nil {
			return nil, err
		}
		if sys == nil {
			return nil, errors.New("the system under test did not start")
		}
		if sys.Close != nil {
			defer sys.Close()
		}
	}
	var peak *Result
	var peakDrain *DrainStats
	if c.HalfPeak {
		var err error
		if peak, peakDrain, err = c.runPeak(ctx, sys); err != nil {
			return nil, err
		}
		c.Load.Model = Open{Rate: peak.Throughput / 2, Workers: c.Workers}
	}
	sc, err := c.scenario(ctx, sys)
	if err != nil {
		return nil, err
	}
	rep, err := c.measure(ctx, sc, sys)
	if err != nil {
		return nil, err
	}
	rep.SetPeak(peak)
	if d := peakDrain; d != nil && d.TimedOut {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the peak run's queues still held %d items after %s of drain: the run at half of it started with them", d.DepthAfter, d.Waited.Round(time.Millisecond)))
	}
	rep.SetReference(ref)
	return rep, nil
}

// DefaultPeakDuration is Config.PeakDuration's default: as long as the
// default run, long enough for the writer's rounds to settle at peak.
const DefaultPeakDuration = 30 * time.Second

// runPeak measures the scenario's peak for HalfPeak: Load's closed loop
// for PeakDuration after Load's warm-up, on the system the measured run
// then uses. What it writes stays in the system: the measured run starts
// on a data file a peak run has grown, as a switch in service would.
func (c Config) runPeak(ctx context.Context, sys *System) (*Result, *DrainStats, error) {
	sc, err := c.scenario(ctx, sys)
	if err != nil {
		return nil, nil, err
	}
	defer sc.close()
	opts := c.load()
	opts.Duration, opts.Requests = cmp.Or(c.PeakDuration, DefaultPeakDuration), 0
	res, err := Run(ctx, opts, sc.target)
	c.endProgressLine() // the measured run's progress line follows
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err // a peak cut short sets no rate
	}
	if !(res.Throughput > 0) {
		return nil, nil, errors.New("half-peak: the peak run completed no operation, so it sets no rate")
	}
	// The peak's queued advices and reversals, and its garbage, are not
	// the measured run's to carry: they are sent and collected first, as
	// after the reference. Queues the drain gave up on are the report's
	// note.
	var d *DrainStats
	if sys != nil && sys.Journal != nil {
		if end, err := sys.Journal(); err == nil {
			d = drain(ctx, end, sys.Journal, c.drainTimeout(), 0, 0)
		}
	}
	runtime.GC()
	return res, d, nil
}

// drainTimeout is DrainTimeout or its default.
func (c Config) drainTimeout() time.Duration {
	if c.DrainTimeout <= 0 {
		return DefaultDrainTimeout
	}
	return c.DrainTimeout
}

// runReference measures the bare round trip with the scenario's
// concurrency: Load's clients in a closed loop (an open loop's rate says
// nothing about a limit), for Load's duration or, with HalfPeak, the
// peak's.
func (c Config) runReference(ctx context.Context) (*Result, error) {
	echo, err := StartEcho(c.Dialect)
	if err != nil {
		return nil, err
	}
	defer echo.Close()
	client, err := DialISO(ctx, echo.Addr(), ISOOptions{Dialect: c.Dialect, Conns: c.Conns, AcquirerID: c.AcquirerID})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	opts := c.load()
	opts.Model = Closed{Clients: concurrency(c.Load.Model)}
	if c.HalfPeak {
		// Compared with the peak run, and as long: not with the run
		// at half of it, which may last ten minutes.
		opts.Duration, opts.Requests = cmp.Or(c.PeakDuration, DefaultPeakDuration), 0
	}
	if c.ReferenceProcs > 0 {
		// Set now, and the process's own back when the reference ends.
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(c.ReferenceProcs))
	}
	res, err := Run(ctx, opts, client.Authorizations(c.Amount))
	if res != nil {
		res.GOMAXPROCS = runtime.GOMAXPROCS(0)
	}
	return res, err
}

// scenario is a target ready to run, and the report it fills.
type scenario struct {
	target Target
	close  func()
	report *Report
}

// scenario connects the scenario's target: to sys when there is one, else
// to the addresses in c.
func (c Config) scenario(ctx context.Context, sys *System) (*scenario, error) {
	switch {
	case c.Scenario == ScenarioDisk:
		pages := c.Pages
		if pages == 0 {
			pages = DefaultDiskPages
		}
		d, err := openDiskCommits(c.Dir, pages, c.Adjacent)
		if err != nil {
			return nil, err
		}
		what := fmt.Sprintf("%d random 4 KiB pages + fdatasync, then one page + fdatasync (a bbolt commit's writes), in %s", pages, c.Dir)
		if c.Adjacent {
			what = fmt.Sprintf("%d adjacent 4 KiB pages in one write + fdatasync, then one page + fdatasync (a bbolt commit's bytes, placed as a log's), in %s", pages, c.Dir)
		}
		return &scenario{target: d.commit, close: d.close, report: NewReport(ScenarioDisk, what)}, nil
	case c.Scenario == ScenarioE2E:
		return c.e2e(sys)
	case c.Scenario == ScenarioISO && sys != nil:
		return &scenario{target: linkAuthorizations(sys.Send, c.AcquirerID, c.Amount), close: func() {},
			report: NewReport(ScenarioISO, fmt.Sprintf("self: 0100s through Tulpar's link %s (links.Link.Send) to the simulated bank, %s", sys.Link, sys.LinkDialect))}, nil
	case c.Scenario == ScenarioISO:
		client, err := DialISO(ctx, c.ISOAddr, ISOOptions{Dialect: c.Dialect, Conns: c.Conns, SignOn: c.SignOn, AcquirerID: c.AcquirerID})
		if err != nil {
			return nil, err
		}
		return &scenario{target: client.Authorizations(c.Amount), close: func() { client.Close() },
			report: NewReport(ScenarioISO, fmt.Sprintf("raw ISO client (moov-io/iso8583-connection, %d conns) at %s, %s", c.Conns, c.ISOAddr, c.Dialect))}, nil
	default: // sim, which Validate lets through only with a System
		client, err := DialISO(ctx, sys.BankAddr, ISOOptions{Dialect: sys.BankDialect, Conns: c.Conns, AcquirerID: c.AcquirerID})
		if err != nil {
			return nil, err
		}
		return &scenario{target: client.Authorizations(c.Amount), close: func() { client.Close() },
			report: NewReport(ScenarioSim, fmt.Sprintf("self: raw ISO client (%d conns) straight at the simulated bank %s, %s", c.Conns, sys.Bank, sys.BankDialect))}, nil
	}
}

func (c Config) e2e(sys *System) (*scenario, error) {
	o := RBSOptions{URL: c.URL, Token: c.Token, UserName: c.UserName, Password: c.Password, Card: c.Card,
		DeclineCard: c.DeclineCard, Amount: c.Amount, Mix: c.Mix, Conns: concurrency(c.Load.Model),
		IdleConns: idleConns(c.Load.Model)}
	what := c.URL
	if sys != nil {
		o.URL, o.Token, o.UserName, o.Password = sys.URL, sys.Token, "", ""
		what = "self: " + sys.Describe
	}
	m, err := NewRBSMix(o)
	if err != nil {
		return nil, err
	}
	return &scenario{target: m.Target(), close: m.Close,
		report: NewReport(ScenarioE2E, what+"; RBS facade with card data (paymentorder.do), mix "+c.Mix.String())}, nil
}

// linkAuthorizations is the iso scenario's target through a switch's link:
// one 0100 of amount per call, like ISOClient.Authorizations, except that
// the link numbers DE11 itself.
func linkAuthorizations(send func(context.Context, *iso.Message) (*iso.Message, error), acquirerID string, amount int64) Target {
	nums := NewNumbers()
	return func(ctx context.Context, _ int) (string, error) {
		m := Authorization(acquirerID, amount, time.Now())
		_, m.RRN = nums.Next()
		resp, err := send(ctx, m)
		if err != nil {
			return "authorization", err
		}
		if resp.ResponseCode != iso.RCApproved {
			return "authorization", Failf("rc_"+resp.ResponseCode, "answered %s", resp.ResponseCode)
		}
		return "authorization", nil
	}
}

// measure runs the scenario under the load, with the profiles, the memory
// sampler and the journal's counts around it, and closes its target.
func (c Config) measure(ctx context.Context, sc *scenario, sys *System) (*Report, error) {
	var ops atomic.Int64
	counted := func(ctx context.Context, w int) (string, error) {
		ops.Add(1)
		return sc.target(ctx, w)
	}
	var before JournalSample
	if sys != nil && sys.Journal != nil {
		before, _ = sys.Journal() // a failed count counts from zero
	}
	var disk func() (DiskCounters, bool)
	switch {
	case c.Scenario == ScenarioDisk:
		disk = diskOf(c.Dir)
	case sys != nil && sys.DataDir != "":
		disk = diskOf(sys.DataDir)
	}
	proc := sampleProcess(disk)
	sched := schedLatencies()
	t0 := time.Now()
	stopCPU, err := startCPUProfile(c.CPUProfile)
	if err != nil {
		sc.close()
		return nil, err
	}
	var dataFile func() int64
	if sys != nil {
		dataFile = sys.DataFileSize
	}
	mem := SampleMemory(time.Second, c.Load.Warmup, dataFile, disk)
	res, err := Run(ctx, c.load(), counted)
	rep := sc.report
	rep.Sched = schedStats(sched, schedLatencies())
	rep.Memory = mem.Stop()
	stopCPU()
	sc.close()
	c.endProgressLine()
	if err != nil {
		return nil, err
	}
	rep.Result, rep.AuthorizationsPerSecond = res, res.Throughput
	switch c.Scenario {
	case ScenarioE2E:
		rep.AuthorizationsPerSecond = Authorizations(res)
	case ScenarioDisk:
		rep.AuthorizationsPerSecond = 0 // a commit is not one; its rate is Result.Throughput
	}
	if sys != nil {
		if sys.Journal != nil {
			wall := time.Since(t0)
			if after, err := sys.Journal(); err == nil {
				rep.Journal = journalStats(before, after, ops.Load(), wall)
				rep.Cost = costStats(proc, sampleProcess(disk), ops.Load(), before.DataBytes, after.DataBytes)
				rep.Drain = drain(ctx, after, sys.Journal, c.drainTimeout(), rep.AuthorizationsPerSecond, res.Elapsed)
			}
		}
		rep.Notes = append(rep.Notes, sys.Notes...)
	}
	if c.Scenario == ScenarioDisk {
		rep.Cost = costStats(proc, sampleProcess(disk), ops.Load(), 0, 0)
	}
	if c.MemProfile != "" {
		if err := writeHeapProfile(c.MemProfile); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// journalStats are what the journal wrote between two samples, over ops
// operations (warm-up included) and wall time.
func journalStats(before, after JournalSample, ops int64, wall time.Duration) *JournalStats {
	js := &JournalStats{Before: before.Entries, After: after.Entries, Written: after.Entries - before.Entries}
	if ops > 0 {
		js.PerOperation = float64(js.Written) / float64(ops)
	}
	if commits := after.Commits - before.Commits; commits > 0 {
		busy := after.CommitSeconds - before.CommitSeconds
		js.Commits = uint64(commits)
		js.EntriesPerCommit = float64(js.Written) / commits
		if ops > 0 {
			js.CommitsPerOperation = commits / float64(ops)
		}
		js.MeanCommit = time.Duration(busy / commits * float64(time.Second))
		js.WriterBusy = busy / wall.Seconds()
	}
	if n := after.Reopens - before.Reopens; n > 0 {
		js.Reopens = uint64(n)
		js.MeanReopen = time.Duration((after.ReopenSeconds - before.ReopenSeconds) / n * float64(time.Second))
	}
	return js
}

// load is c.Load with the progress line on c.Progress.
func (c Config) load() Options {
	o := c.Load
	if c.Progress != nil {
		o.Progress = func(p Progress) { fmt.Fprintf(c.Progress, "\r%s\x1b[K", ProgressLine(p)) }
	}
	return o
}

// endProgressLine ends the line the progress was rewriting, so that what
// follows starts on its own.
func (c Config) endProgressLine() {
	if c.Progress != nil {
		fmt.Fprintln(c.Progress)
	}
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
