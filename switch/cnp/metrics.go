package cnp

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tulpar_cnp_requests_total",
			Help: "Processing.kz web service requests by operation, HTTP status and outcome (ok, false, refused, fault, denied, unavailable).",
		}, []string{"operation", "status", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tulpar_cnp_request_duration_seconds",
			Help:    "Processing.kz web service request latency by operation, including the bank exchange and the journal commit.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20},
		}, []string{"operation"}),
	}
	if reg != nil {
		for _, col := range []prometheus.Collector{m.requests, m.latency} {
			if err := reg.Register(col); err != nil {
				return nil, fmt.Errorf("cnp: metrics: %w", err)
			}
		}
	}
	return m, nil
}
