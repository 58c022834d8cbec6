package cnp

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tulpar-switch/tulpar/switch/httpmetrics"
)

func newMetrics(reg prometheus.Registerer) (*httpmetrics.Requests, error) {
	return httpmetrics.NewRequests(reg, "tulpar_cnp",
		"Processing.kz web service requests by operation, HTTP status and outcome (ok, false, refused, fault, denied, unavailable).",
		[]string{"operation", "status", "outcome"},
		"Processing.kz web service request latency by operation, including the bank exchange and the journal commit.",
		[]string{"operation"})
}
