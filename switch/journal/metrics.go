package journal

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

type metrics struct {
	entries   prometheus.Counter
	batches   prometheus.Counter
	failed    prometheus.Counter
	batchSize prometheus.Histogram
	commit    prometheus.Histogram
	reopens   prometheus.Counter
	reopen    prometheus.Histogram
	// reopensPostponed counts rounds a due reopen was put off (a
	// transaction was open): rising with no reopens, the allocation map
	// grows again.
	reopensPostponed prometheus.Counter
}

// newMetrics builds the journal's collectors and registers them on reg when
// reg is not nil. Collectors exist either way so the writer never checks.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		entries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tulpar_journal_entries_appended_total",
			Help: "Entries committed to the journal.",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tulpar_journal_batches_total",
			Help: "Transactions committed by the journal writer (group commits).",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tulpar_journal_append_failures_total",
			Help: "Append calls answered with an error by the writer (commit failure or failed tx func).",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tulpar_journal_batch_entries",
			Help:    "Entries per committed transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 13), // 1 .. 4096
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tulpar_journal_commit_seconds",
			Help:    "Time to write and fsync one journal transaction.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100µs .. ~3.3s
		}),
		reopens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tulpar_journal_reopens_total",
			Help: "Times the writer closed and opened the data file again to empty bbolt's allocation map.",
		}),
		reopensPostponed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tulpar_journal_reopens_postponed_total",
			Help: "Rounds a due reopen of the data file was put off because a transaction was open.",
		}),
		reopen: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tulpar_journal_reopen_seconds",
			Help:    "Time the writer took to close and open the data file again, during which nothing reads or writes it.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100µs .. ~3.3s
		}),
	}
	if reg != nil {
		all := []prometheus.Collector{m.entries, m.batches, m.failed, m.batchSize, m.commit, m.reopens, m.reopen, m.reopensPostponed}
		for i, c := range all {
			if err := reg.Register(c); err != nil {
				for _, done := range all[:i] {
					reg.Unregister(done)
				}
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) observe(entries int, d time.Duration) {
	m.entries.Add(float64(entries))
	m.batches.Inc()
	m.batchSize.Observe(float64(entries))
	m.commit.Observe(d.Seconds())
}

// batchesValue reads the batch counter; for benchmarks.
func (m *metrics) batchesValue() uint64 {
	var d dto.Metric
	if err := m.batches.Write(&d); err != nil {
		return 0
	}
	return uint64(d.GetCounter().GetValue())
}
