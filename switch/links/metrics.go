package links

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// vecs are the link metrics, labelled by link. They are registered once
// per registry: a second link finds them registered and shares them.
type vecs struct {
	state     *prometheus.GaugeVec
	inFlight  *prometheus.GaugeVec
	echoRTT   *prometheus.GaugeVec
	sent      *prometheus.CounterVec
	received  *prometheus.CounterVec
	timeouts  *prometheus.CounterVec
	notSent   *prometheus.CounterVec
	late      *prometheus.CounterVec
	unmatched *prometheus.CounterVec
	frameErrs *prometheus.CounterVec
	duration  *prometheus.HistogramVec
}

func newVecs() *vecs {
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "tulpar", Subsystem: "link", Name: name, Help: help}, labels)
	}
	c := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tulpar", Subsystem: "link", Name: name, Help: help}, []string{"link"})
	}
	return &vecs{
		state:     g("state", "1 for the link's current state, 0 for the others.", "link", "state"),
		inFlight:  g("in_flight", "Requests awaiting a response.", "link"),
		echoRTT:   g("echo_rtt_seconds", "Round-trip time of the last successful echo.", "link"),
		sent:      c("sent_total", "Messages written to the bank."),
		received:  c("received_total", "Messages read from the bank."),
		timeouts:  c("timeouts_total", "Requests sent without a trustworthy reply in time (outcome unknown)."),
		notSent:   c("not_sent_total", "Sends refused before reaching the bank."),
		late:      c("late_total", "Responses that arrived after their caller gave up."),
		unmatched: c("unmatched_total", "Messages from the bank nobody asked for."),
		frameErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tulpar", Subsystem: "link", Name: "frame_errors_total",
			Help: "Frames from the bank refused, by reason (header_not_numeric, length_out_of_range, truncated, unparseable); each dropped its connection.",
		}, []string{"link", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "tulpar", Subsystem: "link", Name: "send_duration_seconds",
			Help:    "Time from Send to its matched response.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"link"}),
	}
}

func (v *vecs) register(reg prometheus.Registerer) *vecs {
	if reg == nil {
		return v
	}
	reuse := func(c prometheus.Collector) prometheus.Collector {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return are.ExistingCollector
			}
		}
		return c
	}
	return &vecs{
		state:     reuse(v.state).(*prometheus.GaugeVec),
		inFlight:  reuse(v.inFlight).(*prometheus.GaugeVec),
		echoRTT:   reuse(v.echoRTT).(*prometheus.GaugeVec),
		sent:      reuse(v.sent).(*prometheus.CounterVec),
		received:  reuse(v.received).(*prometheus.CounterVec),
		timeouts:  reuse(v.timeouts).(*prometheus.CounterVec),
		notSent:   reuse(v.notSent).(*prometheus.CounterVec),
		late:      reuse(v.late).(*prometheus.CounterVec),
		unmatched: reuse(v.unmatched).(*prometheus.CounterVec),
		frameErrs: reuse(v.frameErrs).(*prometheus.CounterVec),
		duration:  reuse(v.duration).(*prometheus.HistogramVec),
	}
}

// linkMetrics are one link's children of the vecs.
type linkMetrics struct {
	states                                             map[State]prometheus.Gauge
	inFlight, echoRTT                                  prometheus.Gauge
	sent, received, timeouts, notSent, late, unmatched prometheus.Counter
	duration                                           prometheus.Observer
	frameErrors                                        map[string]prometheus.Counter // by reason
}

func metricsFor(reg prometheus.Registerer, link string) linkMetrics {
	v := newVecs().register(reg)
	m := linkMetrics{
		states:    make(map[State]prometheus.Gauge, len(allStates)),
		inFlight:  v.inFlight.WithLabelValues(link),
		echoRTT:   v.echoRTT.WithLabelValues(link),
		sent:      v.sent.WithLabelValues(link),
		received:  v.received.WithLabelValues(link),
		timeouts:  v.timeouts.WithLabelValues(link),
		notSent:   v.notSent.WithLabelValues(link),
		late:      v.late.WithLabelValues(link),
		unmatched: v.unmatched.WithLabelValues(link),
		duration:  v.duration.WithLabelValues(link),
		// Every reason exists from the start, at 0: a rate() over it works
		// before the first bad frame.
		frameErrors: make(map[string]prometheus.Counter, len(frameReasons)),
	}
	for _, r := range frameReasons {
		m.frameErrors[r] = v.frameErrs.WithLabelValues(link, r)
	}
	for _, s := range allStates {
		m.states[s] = v.state.WithLabelValues(link, string(s))
	}
	return m
}

func (m linkMetrics) setState(st State) {
	for s, g := range m.states {
		if s == st {
			g.Set(1)
		} else {
			g.Set(0)
		}
	}
}
