package issuersim

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metrics counts what the bank received and answered, per MTI and DE39.
type metrics struct {
	received *prometheus.CounterVec // requests in, by MTI
	sent     *prometheus.CounterVec // messages out (answers and our echoes), by MTI
	answered *prometheus.CounterVec // answers by MTI and DE39
	withheld *prometheus.CounterVec // requests a knob left unanswered, by action
	conns    prometheus.Gauge
}

func newMetrics(bank string, reg prometheus.Registerer) (*metrics, error) {
	labels := prometheus.Labels{"bank": bank}
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "issuersim_received_total", Help: "ISO 8583 requests received by the simulated bank, by MTI.", ConstLabels: labels,
		}, []string{"mti"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "issuersim_sent_total", Help: "ISO 8583 messages sent by the simulated bank (answers and its own echoes), by MTI.", ConstLabels: labels,
		}, []string{"mti"}),
		answered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "issuersim_answers_total", Help: "Answers sent by the simulated bank, by MTI and DE39 response code.", ConstLabels: labels,
		}, []string{"mti", "rc"}),
		withheld: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "issuersim_withheld_total", Help: "Requests a knob left unanswered (no_reply) or answered by closing the connection (close).", ConstLabels: labels,
		}, []string{"action"}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "issuersim_connections", Help: "Open connections with the switch.", ConstLabels: labels,
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.received, m.sent, m.answered, m.withheld, m.conns} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// Received counts the requests of type mti the bank has received so far
// (answered or not): how a test knows that a message reached the bank.
func (b *Bank) Received(mti string) int {
	var m dto.Metric
	if err := b.met.received.WithLabelValues(mti).Write(&m); err != nil {
		return 0
	}
	return int(m.GetCounter().GetValue())
}
