package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/bench"
	"github.com/tulpar-switch/tulpar/switch/daemon"
)

// SelfBench is the world `tulpar bench --self` measures: the demo's config
// (two banks, 3-D Secure, the demo merchant and its API credentials) with
// simulators sized for load. Start's simulators are sized for people: the
// ACS holds at most 100,000 transactions for 15 minutes and the cards hold
// 500,000 KZT, so a sale-day run would fail on the simulators, not on the
// switch.
type SelfBench struct {
	// DataDir holds the switch's data (its journal is durable, as in
	// production). Empty: a temporary directory, removed when the run ends.
	DataDir string
	Log     zerolog.Logger
	// Simulators, when set, starts the banks and the 3-D Secure server in a
	// process of their own (`tulpar bench --separate`: cmd/tulpar runs
	// itself as `tulpar simulators`), so that the figures are the switch's
	// and the load generator's only. Nil: StartSimulators, in this process.
	Simulators func() (BenchSimulators, error)
}

// BenchSimulators are what the self-bench needs of its simulators, wherever
// they run; *Simulators is the in-process kind.
type BenchSimulators interface {
	ACSURL() string
	ASCIIAddr() string
	StartBinary(switchAddr string) error
	Close() error
}

// How long the self-bench waits for both bank links to sign on, and for
// the switch to stop.
const (
	benchReadyWait = 30 * time.Second
	benchStopWait  = 15 * time.Second
)

// Start starts the simulators, the switch and the binary bank, waits until
// both links are up, and describes the world to the bench, whose Execute
// stops it (System.Close). It is bench.Config.Start.
func (b SelfBench) Start(ctx context.Context) (*bench.System, error) {
	w := &benchWorld{dir: b.DataDir, separate: b.Simulators != nil, log: b.Log}
	if err := w.start(ctx, b); err != nil {
		w.close()
		return nil, err
	}
	return w.system(), nil
}

// benchWorld is a running self-bench world.
type benchWorld struct {
	d        *daemon.Daemon
	sims     BenchSimulators
	token    string
	dir      string
	tmp      bool // dir was made here, and goes at close
	separate bool
	closed   bool
	log      zerolog.Logger
}

func (w *benchWorld) start(ctx context.Context, b SelfBench) error {
	if w.dir == "" {
		dir, err := os.MkdirTemp("", "tulpar-bench-")
		if err != nil {
			return err
		}
		w.dir, w.tmp = dir, true
	}
	if err := ensureKeys(w.dir); err != nil {
		return err
	}
	startSims := b.Simulators
	if startSims == nil {
		startSims = func() (BenchSimulators, error) {
			s, err := StartSimulators(b.Log)
			if err != nil {
				return nil, err // not a nil *Simulators in a non-nil interface
			}
			return s, nil
		}
	}
	var err error
	if w.sims, err = startSims(); err != nil {
		return err
	}
	cfg, secrets, err := SwitchConfig(w.dir, "127.0.0.1:0", w.sims.ACSURL(), w.sims.ASCIIAddr())
	// The bench measures the switch, not TLS on loopback: plain HTTP, as
	// behind a proxy that terminates TLS.
	cfg.TLS, cfg.PlainHTTP = nil, true
	if err != nil {
		return err
	}
	w.token = secrets.Token
	if w.d, err = daemon.Start(ctx, cfg, b.Log); err != nil {
		return err
	}
	if err := w.sims.StartBinary(w.d.Links().Get(BankBinary).Addr()); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, benchReadyWait)
	defer cancel()
	for _, name := range []string{BankASCII, BankBinary} {
		if err := w.d.Links().Get(name).WaitReady(wctx); err != nil {
			return fmt.Errorf("link %s: %w", name, err)
		}
	}
	return nil
}

func (w *benchWorld) system() *bench.System {
	note := "the simulated banks, the 3-D Secure simulator and the load generator run in this process and share its CPUs"
	if w.separate {
		note = "the simulated banks and the 3-D Secure simulator run in a child process with one Go scheduler; the load generator runs in this one and shares its CPUs"
	}
	return &bench.System{
		Describe: "in-process switch at " + w.d.URL() + ", two simulated banks, 3-D Secure simulator, journal durable",
		URL:      w.d.URL(), Token: w.token,
		Link: BankASCII, LinkDialect: "ascii", Send: w.d.Links().Get(BankASCII).Send,
		Bank: BankASCII, BankAddr: w.sims.ASCIIAddr(), BankDialect: "ascii",
		Journal:      w.journal,
		DataFileSize: w.dataFileSize,
		DataDir:      w.dir,
		Notes:        []string{note},
		Close:        w.close,
	}
}

// journal samples the journal: its entries, and the writer's commit
// counters from the daemon's Prometheus registry (zero when they cannot be
// read).
func (w *benchWorld) journal() (bench.JournalSample, error) {
	n, err := w.d.Journal().Count()
	if err != nil {
		return bench.JournalSample{}, err
	}
	s := bench.JournalSample{Entries: n}
	journalCommits(w.d.Registry(), &s)
	s.DataBytes = w.dataFileSize()
	queues, err := w.d.SAF().Stats()
	if err != nil {
		return bench.JournalSample{}, err
	}
	for _, q := range queues {
		s.SAFDepth += q.Depth
	}
	return s, nil
}

// dataFileSize is how much of the data file the switch has written, in
// bytes (bbolt's high-water page times the page size), 0 when it cannot
// be read. The file's own size runs ahead of it by up to 16 MB: bbolt
// grows it in steps, which in a 30-second run was a kilobyte an
// operation either way.
func (w *benchWorld) dataFileSize() int64 {
	var n int64
	if err := w.d.Journal().DB().View(func(tx *bolt.Tx) error { n = tx.Size(); return nil }); err != nil {
		return 0
	}
	return n
}

// journalCommits reads the journal writer's group commits and reopens,
// and the seconds spent in them, into s.
func journalCommits(g prometheus.Gatherer, s *bench.JournalSample) {
	families, err := g.Gather()
	if err != nil {
		return
	}
	for _, f := range families {
		switch f.GetName() {
		case "tulpar_journal_batches_total":
			s.Commits = f.GetMetric()[0].GetCounter().GetValue()
		case "tulpar_journal_commit_seconds":
			s.CommitSeconds = f.GetMetric()[0].GetHistogram().GetSampleSum()
		case "tulpar_journal_reopens_total":
			s.Reopens = f.GetMetric()[0].GetCounter().GetValue()
		case "tulpar_journal_reopen_seconds":
			s.ReopenSeconds = f.GetMetric()[0].GetHistogram().GetSampleSum()
		}
	}
}

// close stops the switch, then the simulators, and removes a temporary
// data directory. Safe to call twice.
func (w *benchWorld) close() {
	if w.closed {
		return
	}
	w.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), benchStopWait)
	defer cancel()
	var errs []error
	if w.d != nil {
		errs = append(errs, w.d.Shutdown(ctx))
	}
	if w.sims != nil {
		errs = append(errs, w.sims.Close())
	}
	if w.tmp {
		errs = append(errs, os.RemoveAll(w.dir))
	}
	if err := errors.Join(errs...); err != nil {
		// The run is measured by now: say why the stop was untidy, but do
		// not fail the run for it.
		w.log.Warn().Err(err).Msg("self-bench: stop")
	}
}
