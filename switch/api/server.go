package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPI returns the OpenAPI 3.1 document of the web service, as served at
// GET /v1/openapi.yaml.
func OpenAPI() []byte { return append([]byte(nil), openapiYAML...) }

// Server is the merchant web service over a payments.Service.
type Server struct {
	svc    *payments.Service
	cfg    Config
	log    zerolog.Logger
	auth   *authn
	m      *metrics
	mux    *http.ServeMux
	routes []Route
	now    func() time.Time

	// orders serialises this package's follow-ups per order, so that what
	// it reads before calling payments (ownership, an earlier operation
	// with the same idempotency key) is still true when payments acts.
	orders keyedLock
	// inflight holds the JSON API's idempotency keys being processed.
	inflightMu sync.Mutex
	inflight   map[string]bool
}

// Route is one method and path the server answers.
type Route struct {
	Method string
	Path   string // as in the OpenAPI document: /v1/orders/{id}
}

// New builds the server. cfg is validated, and each of its merchants must
// be one payments knows.
func New(svc *payments.Service, cfg Config, log zerolog.Logger, reg prometheus.Registerer) (*Server, error) {
	if svc == nil {
		return nil, fmt.Errorf("api: payments service is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for i, m := range cfg.Merchants {
		if _, ok := svc.Merchant(m.Merchant); !ok {
			return nil, fmt.Errorf("api: merchants[%d].merchant: %q is not a payments merchant", i, m.Merchant)
		}
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	cfg.PaymentPageURL = strings.TrimRight(cfg.PaymentPageURL, "/")
	a, err := newAuthn(&cfg)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := &Server{svc: svc, cfg: cfg, log: log, auth: a, m: m, mux: http.NewServeMux(), now: time.Now, inflight: map[string]bool{}}
	s.routesRBS()
	s.routesV1()
	return s, nil
}

// Handler returns the HTTP handler: /payment/rest/ (RBS) and /v1/ (JSON).
// The daemon's http.Server must set its own timeouts (ReadHeaderTimeout,
// ReadTimeout, WriteTimeout, IdleTimeout).
func (s *Server) Handler() http.Handler { return s.mux }

// Routes lists every method and path the server answers.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// handle registers h for method and path under an endpoint name used in
// logs and metrics.
func (s *Server) handle(method, path, endpoint string, h func(*call)) {
	s.routes = append(s.routes, Route{method, path})
	s.mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, endpoint, h)
	})
}

// call is one API request on its way through: what the log line and the
// journal need to know about it.
type call struct {
	s        *Server
	w        http.ResponseWriter
	r        *http.Request
	endpoint string
	start    time.Time

	merchant *MerchantConfig
	orderID  string
	code     string // errorCode (RBS) or error code (v1): a metrics label and a log field
	replay   bool
	status   int

	// reqPayload is the request as journaled (no card data, no
	// credentials); reqJournaled says whether an order change already
	// carried it.
	reqPayload   []byte
	reqJournaled bool
	// sent is true once the answer has been written.
	sent bool
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, endpoint string, h func(*call)) {
	c := &call{s: s, w: w, r: r, endpoint: endpoint, start: time.Now()}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	defer func() {
		if p := recover(); p != nil {
			s.log.Error().Str("endpoint", endpoint).Interface("panic", p).Msg("api: handler panic")
			if c.status == 0 {
				c.status = http.StatusInternalServerError
				c.code = "panic"
				http.Error(w, `{"error":{"type":"api_error","code":"internal_error","message":"internal error"}}`, http.StatusInternalServerError)
			}
		}
		c.finish()
	}()
	h(c)
}

// finish writes the call's one log line and its metrics.
func (c *call) finish() {
	d := time.Since(c.start)
	status := strconv.Itoa(c.status)
	c.s.m.requests.WithLabelValues(c.endpoint, status, c.code).Inc()
	c.s.m.latency.WithLabelValues(c.endpoint).Observe(d.Seconds())
	ev := c.s.log.Info()
	if c.status >= 500 {
		ev = c.s.log.Error()
	}
	ev = ev.Str("endpoint", c.endpoint).Str("method", c.r.Method).Int("status", c.status).
		Str("code", c.code).Dur("duration", d).Str("remote", clientIP(c.r))
	if c.merchant != nil {
		ev = ev.Str("merchant", c.merchant.Merchant)
	}
	if c.orderID != "" {
		ev = ev.Str("order", c.orderID)
	}
	if c.replay {
		ev = ev.Bool("replay", true)
	}
	ev.Msg("api call")
}

// requestEntry is the journal entry of the request, for payments to
// commit with the operation it causes.
func (c *call) requestEntry() []journal.Entry {
	return []journal.Entry{{Direction: journal.In, Channel: order.ChannelAPI, OrderID: c.orderID, Payload: c.reqPayload}}
}

// answerEntries are the entries to make durable before answering: the
// answer, and the request too when no order change carried it.
func (c *call) answerEntries(status int, body []byte) []journal.Entry {
	var es []journal.Entry
	if !c.reqJournaled {
		es = append(es, journal.Entry{Direction: journal.In, Channel: order.ChannelAPI, OrderID: c.orderID, Payload: c.reqPayload})
	}
	ans, _ := json.Marshal(struct {
		Endpoint string          `json:"endpoint"`
		Status   int             `json:"status"`
		Body     json.RawMessage `json:"body"`
	}{c.endpoint, status, body})
	return append(es, journal.Entry{Direction: journal.Out, Channel: order.ChannelAPI, OrderID: c.orderID, Payload: ans})
}

// write journals the answer and then sends it. When the journal cannot
// take it, the merchant gets a system error instead: an answer that is not
// on disk is never sent.
func (c *call) write(status int, body []byte, journaled func(ctx context.Context, es []journal.Entry) error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.r.Context()), 10*time.Second)
	defer cancel()
	es := c.answerEntries(status, body)
	var err error
	if journaled != nil {
		err = journaled(ctx, es)
	} else {
		err = c.s.svc.JournalAPIEntries(ctx, es...)
	}
	if err != nil {
		// An answer that is not on disk is never sent: the merchant hears
		// that the request did nothing and may be repeated.
		c.s.log.Error().Err(err).Str("endpoint", c.endpoint).Msg("answer not journaled")
		status, body = c.unavailable()
	}
	c.send(status, body)
}

// unavailable is the answer when the switch cannot make work durable (the
// journal cannot write) or is not ready for it yet: retryable, in the
// endpoint's dialect, with Retry-After for clients that read it.
func (c *call) unavailable() (int, []byte) {
	c.w.Header().Set("Retry-After", "5")
	if strings.HasPrefix(c.endpoint, "v1") {
		c.code = "temporarily_unavailable"
		b, _ := json.Marshal(errorBody{apiError{Type: "api_error", Code: "temporarily_unavailable",
			Message: "the service is temporarily unavailable; retry later with the same Idempotency-Key"}})
		return http.StatusServiceUnavailable, b
	}
	c.code = rbsSystemError
	if c.endpoint == "paymentorder" {
		b, _ := json.Marshal(map[string]any{"errorCode": 7, "errorMessage": msgUnavailable, "error": msgUnavailable})
		return http.StatusOK, b
	}
	b, _ := json.Marshal(rbsError{rbsSystemError, msgUnavailable})
	return http.StatusOK, b
}

// Unavailable answers any merchant request with "temporarily unavailable"
// in its dialect, journaling nothing (the daemon calls it while the switch
// starts or while the journal cannot write).
func (s *Server) Unavailable(w http.ResponseWriter, r *http.Request) {
	endpoint := "rbs"
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		endpoint = "v1"
	} else if strings.HasSuffix(r.URL.Path, "/paymentorder.do") {
		endpoint = "paymentorder"
	}
	c := &call{s: s, w: w, r: r, endpoint: endpoint, start: time.Now()}
	c.send(c.unavailable())
	c.finish()
}

// answerWith lets payments commit the answer with the change it reports
// (payments.WithAnswer): one durable commit fewer before the merchant hears
// back. body builds the answer from the order as committed. sent sends that
// answer and reports true when payments committed it; otherwise the caller
// answers as usual, journaling its answer itself.
func (c *call) answerWith(ctx context.Context, body func(o *order.Order, ch *threeds.Outcome) any) (context.Context, func() (sent bool)) {
	var b []byte
	ctx, answered := payments.WithAnswer(ctx, func(o *order.Order, ch *threeds.Outcome) []journal.Entry {
		c.orderID, c.reqJournaled = o.ID, true
		b, _ = json.Marshal(body(o, ch))
		return c.answerEntries(http.StatusOK, b)
	})
	return ctx, func() bool {
		if !answered() {
			return false
		}
		c.code = ""
		c.send(http.StatusOK, b)
		return true
	}
}

func (c *call) send(status int, body []byte) {
	c.sent = true
	c.status = status
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.WriteHeader(status)
	c.w.Write(append(body, '\n'))
}

// systemError is the answer when nothing more precise can be said.
func (c *call) systemError() (int, []byte) {
	if strings.HasPrefix(c.endpoint, "v1") {
		c.code = "internal_error"
		b, _ := json.Marshal(errorBody{apiError{Type: "api_error", Code: "internal_error", Message: "internal error; retry with the same Idempotency-Key"}})
		return http.StatusInternalServerError, b
	}
	c.code = "7"
	if c.endpoint == "paymentorder" {
		b, _ := json.Marshal(map[string]any{"errorCode": 7, "errorMessage": "System error", "error": "System error"})
		return http.StatusOK, b
	}
	b, _ := json.Marshal(rbsError{"7", "System error"})
	return http.StatusOK, b
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// keyedLock serialises work per key.
type keyedLock struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedLock) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tulpar_api_requests_total",
			Help: "Merchant API requests by endpoint, HTTP status and answer code (RBS errorCode or JSON API error code; empty on success).",
		}, []string{"endpoint", "status", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tulpar_api_request_duration_seconds",
			Help:    "Merchant API request latency by endpoint, including the bank exchange and the journal commit.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20},
		}, []string{"endpoint"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.latency} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("api: metrics: %w", err)
			}
		}
	}
	return m, nil
}
