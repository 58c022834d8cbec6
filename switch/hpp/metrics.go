package hpp

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	views   *prometheus.CounterVec // page: form, result, expired, ...
	submits *prometheus.CounterVec // outcome: approved, declined, challenge, invalid_card, csrf, ...
	returns *prometheus.CounterVec // outcome of the return from the ACS
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		views: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tulpar_hpp_page_views_total",
			Help: "Hosted payment pages shown, by page.",
		}, []string{"page"}),
		submits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tulpar_hpp_submits_total",
			Help: "Card forms submitted, by outcome.",
		}, []string{"outcome"}),
		returns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tulpar_hpp_3ds_returns_total",
			Help: "Browsers returned from the 3-D Secure ACS, by outcome.",
		}, []string{"outcome"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []**prometheus.CounterVec{&m.views, &m.submits, &m.returns} {
		if err := reg.Register(*c); err != nil {
			// A second Server on the same registry shares the counters.
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			*c = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return m, nil
}
