package saf

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the queue's counters; the gauges (depth, dead letters,
// oldest age) are read from the store at scrape time by the Queue itself,
// so they are never stale and the oldest age keeps growing while a bank is
// down.
type metrics struct {
	attempts  *prometheus.CounterVec
	delivered *prometheus.CounterVec
	steps     *prometheus.CounterVec
}

var (
	descDepth = prometheus.NewDesc("tulpar_saf_depth",
		"Items pending per queue, the head included.", []string{"queue"}, nil)
	descDead = prometheus.NewDesc("tulpar_saf_dead_letters",
		"Items in the dead letters per queue, waiting for an operator.", []string{"queue"}, nil)
	descOldest = prometheus.NewDesc("tulpar_saf_oldest_age_seconds",
		"Age of the oldest pending item per queue; 0 when none.", []string{"queue"}, nil)
)

func newMetrics(q *Queue, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tulpar_saf_attempts_total",
			Help: "Delivery attempts whose outcome was recorded, per queue and outcome (delivered, retry, rejected; unavailable: nothing sent, not counted as an attempt).",
		}, []string{"queue", "outcome"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tulpar_saf_delivered_total",
			Help: "Items the bank acknowledged and the queue removed.",
		}, []string{"queue"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tulpar_saf_commits_total",
			Help: "Steps a queue's worker committed, each recording a batch of outcomes and claiming the next batch (in the switch, inside the journal's commit rounds).",
		}, []string{"queue"}),
	}
	if reg != nil {
		all := []prometheus.Collector{m.attempts, m.delivered, m.steps, (*gauges)(q)}
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

// gauges is the Queue seen as a prometheus.Collector.
type gauges Queue

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDepth
	ch <- descDead
	ch <- descOldest
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	q := (*Queue)(g)
	stats, err := q.Stats()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descDepth, err)
		return
	}
	seen := make(map[string]bool, len(stats))
	for _, s := range stats {
		seen[s.Queue] = true
		ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(s.Depth), s.Queue)
		ch <- prometheus.MustNewConstMetric(descDead, prometheus.GaugeValue, float64(s.DeadLetters), s.Queue)
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, s.OldestAge.Seconds(), s.Queue)
	}
	// A bank that drained reports zeros rather than vanishing, so alerts on
	// depth see it recover.
	q.mu.Lock()
	var idle []string
	for bank := range q.workers {
		if !seen[bank] {
			idle = append(idle, bank)
		}
	}
	q.mu.Unlock()
	for _, bank := range idle {
		for _, d := range []*prometheus.Desc{descDepth, descDead, descOldest} {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, 0, bank)
		}
	}
}
