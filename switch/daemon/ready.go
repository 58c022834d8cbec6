package daemon

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tulpar-switch/tulpar/switch/links"
)

// gate is what merchant requests pass: closed until recovery has finished
// and the banks are reachable (openWhenReady), and closed again while the
// journal cannot write, since nothing done then could be answered as done.
type gate struct {
	mu     sync.Mutex
	open   bool
	opened chan struct{} // closed when open first becomes true
}

func newGate() *gate { return &gate{opened: make(chan struct{})} }

func (g *gate) isOpen() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

func (g *gate) setOpen() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open {
		g.open = true
		close(g.opened)
	}
}

// guard answers r with unavailable while the gate is closed or the journal
// cannot write; otherwise h serves it.
func (d *Daemon) guard(h http.Handler, unavailable http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.gate.isOpen() || d.writable() != nil {
			unavailable(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// WaitReady blocks until the switch takes merchant requests (recovery done,
// banks reachable), or ctx ends.
func (d *Daemon) WaitReady(ctx context.Context) error {
	select {
	case <-d.gate.opened:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("daemon: not ready: %w", context.Cause(ctx))
	}
}

// openWhenReady opens the gate once every bank the routing rules name has a
// signed-on link, or, after StartWait, with whichever of them have one.
// Recovery has run before it starts.
func (d *Daemon) openWhenReady(ctx context.Context) {
	defer d.wg.Done()
	banks := d.cfg.routedBanks()
	wait, cancel := context.WithTimeout(ctx, d.cfg.StartWait)
	defer cancel()
	var wg sync.WaitGroup
	for _, b := range banks {
		if l := d.links.Get(b); l != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = l.WaitReady(wait)
			}()
		}
	}
	wg.Wait()
	for {
		var missing []string
		for _, b := range banks {
			if !d.links.Ready(b) {
				missing = append(missing, b)
			}
		}
		switch {
		case len(missing) == 0:
			d.gate.setOpen()
			d.log.Info().Msg("ready: recovery done, every routed bank signed on")
			return
		case len(missing) < len(banks):
			d.gate.setOpen()
			d.log.Warn().Strs("banks_down", missing).Msg("ready without every routed bank: routing fails over the missing ones")
			return
		}
		// No bank at all: keep answering 503 until one signs on.
		select {
		case <-ctx.Done():
			return
		case <-time.After(d.cfg.JournalProbeInterval):
		}
	}
}

// writable says why the switch cannot make new work durable, or nil. The
// journal's last commit failing is one reason; outcomes still waiting in
// memory for the journal is the other: on a full disk a small commit (a
// probe) may reuse freed pages and succeed while a payment's commit cannot,
// and the kept outcomes are the proof that writes do not yet go through.
func (d *Daemon) writable() error {
	if err := d.journal.Healthy(); err != nil {
		return err
	}
	if n := d.payments.Unrecorded(); n > 0 {
		return fmt.Errorf("%d orders' bank outcomes wait in memory for the journal", n)
	}
	return nil
}

// checkJournal watches the journal (every JournalProbeInterval): while it
// cannot write, it probes with an empty commit; once it writes, it settles
// the outcomes payments had to keep in memory.
func (d *Daemon) checkJournal(ctx context.Context) {
	if d.journal.Healthy() != nil {
		if err := d.journal.Probe(ctx); err != nil {
			d.log.Warn().Err(err).Msg("journal still cannot write")
			return
		}
	}
	if d.payments.Unrecorded() == 0 {
		return
	}
	left, err := d.payments.ResolveUnrecorded(ctx)
	if err != nil {
		d.log.Error().Err(err).Int("orders_left", left).Msg("settling unrecorded outcomes")
	} else {
		d.log.Info().Msg("unrecorded outcomes settled")
	}
}

// readyz tells the truth: 503 with the reasons while merchant requests
// would be refused (starting, journal not writing) or no bank is reachable.
func (d *Daemon) readyz(w http.ResponseWriter, _ *http.Request) {
	ok := true
	var lines []string
	if !d.gate.isOpen() {
		ok = false
		lines = append(lines, "switch: starting (recovery, bank sign-on)")
	}
	if err := d.writable(); err != nil {
		ok = false
		lines = append(lines, "journal: cannot write: "+err.Error())
	} else {
		lines = append(lines, "journal: ok")
	}
	anyReady := false
	for _, st := range d.links.Statuses() {
		lines = append(lines, fmt.Sprintf("%s: %s", st.Name, st.State))
		anyReady = anyReady || st.State == links.StateReady
	}
	if !anyReady {
		ok = false
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

// healthCollector exports the readiness parts as gauges, read at scrape
// time.
type healthCollector struct{ d *Daemon }

var (
	descJournalWritable = prometheus.NewDesc("tulpar_journal_writable",
		"1 when the journal's last commit succeeded, 0 while it cannot write.", nil, nil)
	descUnrecorded = prometheus.NewDesc("tulpar_payments_unrecorded_orders",
		"Orders whose bank outcome is held in memory until the journal writes again.", nil, nil)
	descReady = prometheus.NewDesc("tulpar_ready",
		"1 when the switch takes merchant requests.", nil, nil)
)

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descJournalWritable
	ch <- descUnrecorded
	ch <- descReady
}

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	writable, ready := 1.0, 0.0
	if c.d.writable() != nil {
		writable = 0
	}
	if c.d.gate.isOpen() && writable == 1 {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(descJournalWritable, prometheus.GaugeValue, writable)
	ch <- prometheus.MustNewConstMetric(descUnrecorded, prometheus.GaugeValue, float64(c.d.payments.Unrecorded()))
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, ready)
}
