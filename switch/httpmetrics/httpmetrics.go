// Package httpmetrics counts and times every request of the switch's web
// listeners (the merchants' port with the hosted page, payment links and
// receipts; Processing.kz; the cabinet; the admin endpoint), so that an
// operator sees each endpoint's traffic, errors and latency, not only the
// merchant APIs' (which keep their own counters by answer code).
//
// An endpoint is the ServeMux pattern that served the request ("GET
// /pay/{orderId}", "POST /login"): bounded, unlike paths that carry order
// ids. The muxes set it on the request they are handed, so Handler must
// wrap them with nothing between that copies the request.
package httpmetrics

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Requests are a web service's request counter and latency histogram,
// named <prefix>_requests_total and <prefix>_request_duration_seconds: the
// listeners' here, and the merchant APIs' by their own answer codes.
type Requests struct {
	Count   *prometheus.CounterVec
	Latency *prometheus.HistogramVec
}

// buckets are every request histogram's: from a millisecond to a minute
// (a payment's 3-D Secure call and bank exchange included).
var buckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 60}

// NewRequests registers a service's Requests with reg (nil: kept
// unregistered, for tests): the counter with countLabels, the histogram
// with latencyLabels.
func NewRequests(reg prometheus.Registerer, prefix, countHelp string, countLabels []string, latencyHelp string, latencyLabels []string) (*Requests, error) {
	r := &Requests{
		Count:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: prefix + "_requests_total", Help: countHelp}, countLabels),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: prefix + "_request_duration_seconds", Help: latencyHelp, Buckets: buckets}, latencyLabels),
	}
	if reg == nil {
		return r, nil
	}
	for _, c := range []prometheus.Collector{r.Count, r.Latency} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics %s: %w", prefix, err)
		}
	}
	return r, nil
}

// Metrics are the counters and histograms of every listener.
type Metrics struct {
	*Requests
	inFlight *prometheus.GaugeVec
}

// New registers the metrics with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	req, err := NewRequests(reg, "tulpar_http",
		"HTTP requests by listener, endpoint (the route pattern; \"none\" when no route matched) and status code (\"panic\" when the handler panicked).",
		[]string{"server", "route", "code"},
		"HTTP request latency by listener and endpoint, from the request's headers to the handler's return.",
		[]string{"server", "route"})
	if err != nil {
		return nil, err
	}
	m := &Metrics{Requests: req, inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tulpar_http_requests_in_flight",
		Help: "HTTP requests being served, by listener.",
	}, []string{"server"})}
	if err := reg.Register(m.inFlight); err != nil {
		return nil, fmt.Errorf("httpmetrics: %w", err)
	}
	return m, nil
}

// Handler counts and times h's requests under server's name.
func (m *Metrics) Handler(server string, h http.Handler) http.Handler {
	inFlight := m.inFlight.WithLabelValues(server)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		inFlight.Inc()
		rec := &recorder{ResponseWriter: w}
		returned := false
		// Deferred rather than recovered: a panic goes on to net/http with
		// its own stack, and is still counted.
		defer func() {
			inFlight.Dec()
			route := r.Pattern
			if route == "" {
				route = "none"
			}
			code := "panic"
			if returned {
				code = strconv.Itoa(rec.code())
			}
			m.Count.WithLabelValues(server, route, code).Inc()
			m.Latency.WithLabelValues(server, route).Observe(time.Since(start).Seconds())
		}()
		h.ServeHTTP(rec, r)
		returned = true
	})
}

// recorder notes the status a handler answered with.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush keeps streamed answers (exports, the journal snapshot) streaming.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ReadFrom keeps sendfile for downloads (the journal's archives) where
// the connection's writer has it.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(r.ResponseWriter, src)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// code is the status sent: 200 when the handler wrote nothing.
func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
