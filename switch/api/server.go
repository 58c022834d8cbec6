package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tulpar-switch/tulpar/switch/authguard"
	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/httpmetrics"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/threeds"
	"github.com/tulpar-switch/tulpar/switch/tlsconf"
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
	m      *httpmetrics.Requests
	mux    *http.ServeMux
	routes []Route
	now    func() time.Time

	// pins are the merchants' pinned client certificates, by merchant.
	pins map[string]tlsconf.Pins

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
	guard, err := authguard.New(cfg.Guard, "api", reg)
	if err != nil {
		return nil, fmt.Errorf("api: guard: %w", err)
	}
	a, err := newAuthn(&cfg, guard)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := &Server{svc: svc, cfg: cfg, log: log, auth: a, m: m, mux: http.NewServeMux(), now: time.Now, inflight: map[string]bool{},
		pins: map[string]tlsconf.Pins{}}
	for _, mc := range cfg.Merchants {
		if len(mc.ClientCertSHA256) > 0 {
			s.pins[mc.Merchant], _ = tlsconf.ParsePins("client_cert_sha256", mc.ClientCertSHA256) // Validate checked them
		}
	}
	s.routesRBS()
	s.routesV1()
	return s, nil
}

// certRefused reports whether the signed-in merchant pins client
// certificates and the request did not come with one of them.
func (c *call) certRefused() bool {
	pins, ok := c.s.pins[c.merchant.Merchant]
	if !ok || pins.Match(c.r.TLS) {
		return false
	}
	c.s.log.Warn().Str("merchant", c.merchant.Merchant).Str("remote", clientip.Host(c.r)).Str("endpoint", c.endpoint).
		Msg("merchant's credentials without its pinned client certificate refused")
	return true
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
	lang     string // the RBS answer's language (ru, kk, en)
	code     string // errorCode (RBS) or error code (v1): a metrics label and a log field
	replay   bool
	status   int

	// reqPayload is the request as journaled (no card data, no
	// credentials); reqJournaled says whether an order change already
	// carried it.
	reqPayload   []byte
	reqJournaled bool
	// built is the answer a flow's Reply built, to send once committed.
	built struct {
		status int
		body   []byte
	}
	// sent is true once the answer has been written.
	sent bool
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, endpoint string, h func(*call)) {
	c := &call{s: s, w: w, r: r, endpoint: endpoint, start: time.Now()}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	defer func() {
		if p := recover(); p != nil {
			s.log.Error().Str("endpoint", endpoint).Interface("panic", p).Msg("handler panic")
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
	c.s.m.Count.WithLabelValues(c.endpoint, status, c.code).Inc()
	c.s.m.Latency.WithLabelValues(c.endpoint).Observe(d.Seconds())
	ev := c.s.log.Info()
	if c.status >= 500 {
		ev = c.s.log.Error()
	}
	ev = ev.Str("endpoint", c.endpoint).Str("method", c.r.Method).Int("status", c.status).
		Str("code", c.code).Dur("duration", d).Str("remote", clientip.Host(c.r))
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

// answerPayload is an answer as the journal keeps it: the endpoint, the
// HTTP status and the body (a receipt replays the last two).
// requestToJournal is the request's journal payload, nil when a commit
// already carried it.
func (c *call) requestToJournal() []byte {
	if c.reqJournaled {
		return nil
	}
	return c.reqPayload
}

func (c *call) answerPayload(status int, body []byte) []byte {
	b, _ := json.Marshal(answerRecord{c.endpoint, status, body})
	return b
}

type answerRecord struct {
	Endpoint string          `json:"endpoint"`
	Status   int             `json:"status"`
	Body     json.RawMessage `json:"body"`
}

// reply lets a payments flow journal the request with its first change
// and the answer, built by build from the order as committed, with its
// last: a merchant hears only what is on disk, one fsync sooner.
func (c *call) reply(build func(o *order.Order, ch *threeds.Outcome) (int, []byte)) payments.Reply {
	return payments.Reply{Request: c.reqPayload, Answer: func(o *order.Order, ch *threeds.Outcome) []byte {
		c.orderID = o.ID
		c.built.status, c.built.body = build(o, ch)
		return c.answerPayload(c.built.status, c.built.body)
	}}
}

// took notes what a flow journaled for the call; when the flow committed
// the answer too, it sends it and reports true.
func (c *call) took(res *payments.Result) bool {
	if res == nil {
		return false
	}
	if res.Order != nil {
		c.orderID = res.Order.ID
	}
	c.reqJournaled = res.RequestJournaled
	c.replay = c.replay || res.Replay
	if !res.Answered {
		return false
	}
	c.code = ""
	c.send(c.built.status, c.built.body)
	return true
}

// write journals the answer (and the request, unless a flow did) and then
// sends it; with key, the answer is kept as its idempotency receipt in the
// same commit. When the journal cannot take it, the merchant hears that
// the request did nothing and may be repeated: an answer that is not on
// disk is never sent.
//
// A request nobody signed in for is answered without a journal entry: it
// did nothing, it is no merchant's message, and a flood of guesses must
// not become a flood of journal writes that the merchants' own requests
// queue behind (the guard's metrics and the warn log count them).
func (c *call) write(status int, body []byte, key *payments.ReceiptKey) {
	if c.merchant == nil {
		c.send(status, body)
		return
	}
	req := c.requestToJournal()
	ans := c.answerPayload(status, body)
	var err error
	if key != nil {
		err = c.s.svc.RecordReceipt(c.r.Context(), *key, c.orderID, req, ans)
	} else {
		err = c.s.svc.RecordAPI(c.r.Context(), c.orderID, req, ans)
	}
	if err != nil {
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
	return c.rbsFatal(rbsErr(rbsSystemError, tUnavailable))
}

// rbsFatal is the RBS answer when a request cannot be served: numeric in
// paymentorder.do, as its every answer.
func (c *call) rbsFatal(e *rbsError) (int, []byte) {
	c.code = e.ErrorCode
	if c.lang == "" {
		c.lang = queryLanguage(c.r)
	}
	msg := e.message(c.lang)
	if numericCode(c.endpoint) {
		b, _ := json.Marshal(map[string]any{"errorCode": 7, "errorMessage": msg, "error": msg})
		return http.StatusOK, b
	}
	b, _ := json.Marshal(rbsBody{e.ErrorCode, msg})
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
	} else if strings.HasSuffix(r.URL.Path, "/paymentOrderBinding.do") {
		endpoint = "paymentOrderBinding"
	}
	c := &call{s: s, w: w, r: r, endpoint: endpoint, start: time.Now()}
	if endpoint != "v1" {
		// The answer in the shop's language; a body that cannot be read
		// leaves it Russian, as the gateway's default.
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		c.lang = queryLanguage(r)
		if form, e := readForm(r); e == nil {
			if lang, ok := normLanguage(form.Get("language")); ok && lang != "" {
				c.lang = lang
			}
		}
	}
	c.send(c.unavailable())
	c.finish()
}

func (c *call) send(status int, body []byte) {
	c.sent = true
	c.status = status
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.WriteHeader(status)
	// body may be shared (a constant answer): never append to it.
	c.w.Write(slices.Concat(body, []byte{'\n'}))
}

// systemError is the answer when nothing more precise can be said.
func (c *call) systemError() (int, []byte) {
	if strings.HasPrefix(c.endpoint, "v1") {
		c.code = "internal_error"
		b, _ := json.Marshal(errorBody{apiError{Type: "api_error", Code: "internal_error", Message: "internal error; retry with the same Idempotency-Key"}})
		return http.StatusInternalServerError, b
	}
	return c.rbsFatal(rbsErr(rbsSystemError, tSystem))
}

func newMetrics(reg prometheus.Registerer) (*httpmetrics.Requests, error) {
	return httpmetrics.NewRequests(reg, "tulpar_api",
		"Merchant API requests by endpoint, HTTP status and answer code (RBS errorCode or JSON API error code; empty on success).",
		[]string{"endpoint", "status", "code"},
		"Merchant API request latency by endpoint, including the bank exchange and the journal commit.",
		[]string{"endpoint"})
}
