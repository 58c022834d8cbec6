package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
)

// The scenarios: what one operation is.
const (
	// ScenarioE2E: the merchant API with card data, in the Mix.
	ScenarioE2E = "e2e"
	// ScenarioISO: an 0100 at a bank: through the switch's own link with a
	// System, else a raw client at ISOAddr.
	ScenarioISO = "iso"
	// ScenarioSim: a raw client straight at a System's simulated bank, the
	// simulator's own capacity.
	ScenarioSim = "sim"
	// ScenarioReference: the bare moov-io/iso8583-connection round trip to
	// a minimal echo server on loopback.
	ScenarioReference = "reference"
	// ScenarioDisk: no switch, one durable commit as bbolt writes one on
	// the disk of Dir (disk.go).
	ScenarioDisk = "disk"
)

// Config is one benchmark run as `tulpar bench` gives it: the scenario, the
// load, what to compare it with and what to write down. Its fields are the
// command's flags, and Validate's errors name the flag.
type Config struct {
	// Scenario is one of the Scenario constants.
	Scenario string
	// Load is the load model, the run's length and the warm-up. Its
	// Progress is Execute's (see Progress).
	Load Options
	// Reference also measures the reference round trip, before the
	// scenario and with its concurrency, and reports the ratio to it.
	Reference bool
	// ReferenceProcs, when set, is GOMAXPROCS for the reference's round
	// trips: Go's default on this machine when the process runs with more
	// (cmd/tulpar raises it for the switch), so that the switch's setting
	// does not slow the bare round trip it is compared with.
	ReferenceProcs int

	// URL and Token (or UserName and Password) are a running switch's
	// merchant API, for e2e without a System.
	URL, Token, UserName, Password string
	// Mix, Card and DeclineCard shape e2e's operations.
	Mix               Mix
	Card, DeclineCard string
	// Amount of each payment in minor units (e2e and iso).
	Amount int64

	// ISOAddr is the ISO 8583 host of iso without a System. Dialect,
	// AcquirerID (DE32), SignOn and Conns shape the raw ISO client of iso,
	// sim and reference.
	ISOAddr, Dialect, AcquirerID string
	SignOn                       bool
	Conns                        int

	// CPUProfile, when set, is the file for a CPU profile of the measured
	// run, warm-up included; MemProfile for a heap profile at its end.
	CPUProfile, MemProfile string
	// Progress, when set (a terminal), gets a progress line once a second,
	// rewritten in place.
	Progress io.Writer

	// Dir, Pages and Adjacent shape the disk scenario: the directory
	// whose disk it measures (the switch's data directory), the pages each
	// commit writes before its first fdatasync (default
	// DefaultDiskPages), and whether they go side by side in one write
	// (as an append-only log's) instead of at random places (as bbolt's).
	Dir      string
	Pages    int
	Adjacent bool

	// HalfPeak first measures the scenario's peak on the same system (a
	// closed loop of Load's clients for PeakDuration, after Load's
	// warm-up), then runs the measured load as an open loop at half of
	// that rate: the load at which the performance targets ask for
	// latency, found in the run rather than copied from an earlier one.
	// Load's model must be the closed loop. Between the two runs the
	// system's queues are drained and the heap collected. PeakDuration
	// is the peak run's (0: DefaultPeakDuration) and Workers the open
	// loop's (0: DefaultOpenWorkers); neither is for a run without
	// HalfPeak. Not for the disk scenario, which has no system.
	HalfPeak     bool
	PeakDuration time.Duration
	Workers      int

	// DrainTimeout bounds the wait, after the measured run, for the
	// system's store-and-forward queues to empty (--self). Default 2m.
	DrainTimeout time.Duration

	// Start, when set, starts the system under test in this process
	// (`--self`), after the reference: the reference runs alone, since
	// after the system has run the heap would still hold what its
	// simulators collected. Execute stops the system at the end.
	Start func(ctx context.Context) (*System, error)
}

// System is a system under test running in this process. The scenarios
// reach it only through these fields, so the bench still imports nothing of
// the switch; switch/demo's self-bench world fills them in.
type System struct {
	// Describe says what runs, for the report ("in-process switch at …").
	Describe string
	// URL and Token are its merchant API and an RBS token (e2e).
	URL, Token string
	// Send sends a request through the switch's own link Link to a bank
	// speaking LinkDialect; the link numbers DE11 itself (iso).
	Link, LinkDialect string
	Send              func(ctx context.Context, m *iso.Message) (*iso.Message, error)
	// Bank is a simulated bank at BankAddr speaking BankDialect, which a
	// raw client can dial straight (sim).
	Bank, BankAddr, BankDialect string
	// Journal, when set, samples the switch's journal before and after the
	// measured run.
	Journal func() (JournalSample, error)
	// DataFileSize, when set, reads the size of the switch's data file:
	// the memory samples carry it, so a long run shows the file's growth
	// beside the resident set's.
	DataFileSize func() int64
	// DataDir is the switch's data directory: the report counts the writes
	// of the disk that holds it (DiskCounters).
	DataDir string
	// Notes go into the report.
	Notes []string
	// Close stops it.
	Close func()
}

// JournalSample is a system's journal at one moment: the entries it holds,
// and the writer's group commits so far and the seconds spent in them.
type JournalSample struct {
	Entries       uint64
	Commits       float64
	CommitSeconds float64
	// Reopens are the times the writer closed and opened the data file
	// again, and ReopenSeconds the time it took.
	Reopens       float64
	ReopenSeconds float64
	// DataBytes is the data file's size; SAFDepth the items waiting in the
	// store-and-forward queues (advices, reversals, callbacks).
	DataBytes int64
	SAFDepth  int
}

// Validate checks the run before anything starts; an error is the
// command's usage error.
func (c Config) Validate() error {
	if err := c.Load.Validate(); err != nil {
		return err
	}
	if !c.HalfPeak && (c.PeakDuration != 0 || c.Workers != 0) {
		return errors.New("half-peak: a peak's duration and an open loop's workers are set only for --half-peak")
	}
	if c.HalfPeak {
		switch {
		case c.Scenario == ScenarioReference:
			return errors.New("half-peak: the reference scenario is a peak itself; use --reference with another scenario")
		case c.Scenario == ScenarioDisk:
			return errors.New("half-peak: the disk scenario has no system whose peak it would halve")
		case c.Workers < 0:
			return errors.New("workers: must not be negative")
		case c.Load.Model.name() != (Closed{}).name():
			return errors.New("half-peak: sets the rate itself, at half of the measured peak; drop --rate")
		case c.PeakDuration < 0:
			return errors.New("half-peak: the peak's duration must not be negative")
		}
	}
	switch c.Scenario {
	case ScenarioE2E:
		return c.Mix.Validate()
	case ScenarioISO:
		if c.ISOAddr == "" && c.Start == nil {
			return errors.New("iso: --iso-addr or --self required")
		}
	case ScenarioSim:
		if c.Start == nil {
			return errors.New("sim: needs --self (for a running simulator use --scenario iso --iso-addr)")
		}
	case ScenarioReference:
	case ScenarioDisk:
		switch {
		case c.Start != nil:
			return errors.New("disk: measures the disk of --data alone; without --self")
		case c.Dir == "":
			return errors.New("disk: --data required: a directory on the disk to measure (the switch's data directory)")
		case c.Pages < 0 || c.Pages > diskFilePage/2:
			return fmt.Errorf("disk: --pages: %d is not between 1 and %d", c.Pages, diskFilePage/2)
		case c.Reference:
			return errors.New("disk: --reference compares authorizations; a commit is not one")
		}
	default:
		return fmt.Errorf("scenario: %q is not e2e, iso, sim, reference or disk", c.Scenario)
	}
	return nil
}

// openIdleConns is how many connections an open loop's HTTP client keeps
// between requests: the closed loop's default clients, far above what
// 1,000 operations a second at tens of milliseconds each hold in flight.
// Its 512 workers' connections, kept after a stall, had added 20 MB to
// the live heap of a ten-minute run at 600/s for the 90 s they idled.
const openIdleConns = 64

// idleConns is the HTTP connections the load keeps open between requests:
// every client's in a closed loop, where each is used again at once.
func idleConns(m Model) int {
	if _, open := m.(Open); open {
		return min(concurrency(m), openIdleConns)
	}
	return concurrency(m)
}

// concurrency is the load's concurrency: the clients of a closed loop, the
// workers of an open one. The e2e client has as many connections at most,
// and the reference runs with as many clients.
func concurrency(m Model) int {
	switch m := m.(type) {
	case Closed:
		return m.Clients
	case Open:
		if m.Workers > 0 {
			return m.Workers
		}
		return DefaultOpenWorkers
	}
	return 1
}
