package cnp

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
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

// Version is getVersion's answer.
const Version = "Tulpar CNPMerchantWebService (CNP Merchant Integration Guide 1.18)"

// Server is the Processing.kz merchant web service over a
// payments.Service. It is safe for concurrent use.
type Server struct {
	svc       *payments.Service
	cfg       Config
	log       zerolog.Logger
	merchants map[string]*merchant // by merchantId
	wsdl      []byte               // addresses on PublicURL
	wsdlTLS   []byte               // addresses on TLS.PublicURL, served on that listener
	m         *httpmetrics.Requests
	guard     *authguard.Guard
	mux       *http.ServeMux
	now       func() time.Time
}

// merchant is a MerchantConfig made ready for requests.
type merchant struct {
	MerchantConfig
	pay        *payments.Merchant
	ips        []netip.Prefix
	password   []byte // SHA-256
	certs      tlsconf.Pins
	currencies map[string]bool
	terminals  map[string]bool
}

// New builds the service. cfg is validated and its merchants must be
// payments merchants; PublicURL and PaymentPageURL are required here (the
// daemon fills them from its own address).
func New(svc *payments.Service, cfg Config, log zerolog.Logger, reg prometheus.Registerer) (*Server, error) {
	if svc == nil {
		return nil, errors.New("cnp: payments service is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.PublicURL == "" || cfg.PaymentPageURL == "" {
		return nil, errors.New("cnp: public_url and payment_page_url are required")
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	cfg.PaymentPageURL = strings.TrimRight(cfg.PaymentPageURL, "/")
	s := &Server{svc: svc, cfg: cfg, log: log, merchants: map[string]*merchant{}, wsdl: WSDL(cfg.PublicURL), now: time.Now}
	s.wsdlTLS = s.wsdl
	if cfg.TLS.PublicURL != "" {
		s.wsdlTLS = WSDL(cfg.TLS.PublicURL)
	}
	for i, mc := range cfg.Merchants {
		pm, ok := svc.Merchant(mc.Merchant)
		if !ok {
			return nil, fmt.Errorf("cnp: merchants[%d].merchant: %q is not a payments merchant", i, mc.Merchant)
		}
		m := &merchant{MerchantConfig: mc, pay: pm, currencies: map[string]bool{}, terminals: map[string]bool{}}
		for _, a := range mc.AllowedIPs {
			p, _ := parsePrefix(a)
			m.ips = append(m.ips, p)
		}
		if mc.BasicAuth.UserName != "" {
			m.password, _ = hex.DecodeString(mc.BasicAuth.PasswordSHA256)
		}
		m.certs, _ = tlsconf.ParsePins("client_cert_sha256", mc.ClientCertSHA256) // Validate checked them
		if len(mc.Currencies) == 0 {
			m.currencies["398"] = true
		}
		for _, c := range mc.Currencies {
			m.currencies[c] = true
		}
		for _, t := range mc.TerminalIDs {
			m.terminals[t] = true
		}
		if len(mc.TerminalIDs) == 0 {
			for _, t := range pm.Terminals {
				m.terminals[t.TerminalID] = true
			}
		}
		if m.ReferencePrefix == "" {
			m.ReferencePrefix = DefaultReferencePrefix
		}
		s.merchants[mc.MerchantID] = m
	}
	var err error
	if s.m, err = newMetrics(reg); err != nil {
		return nil, err
	}
	if s.guard, err = authguard.New(cfg.Guard, "cnp", reg); err != nil {
		return nil, fmt.Errorf("cnp: guard: %w", err)
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET "+wsdlPath, s.serveWSDL)
	for _, p := range []string{servicePath, soap11Path + "{$}", soap12Path + "{$}", strings.TrimSuffix(soap11Path, "/"), strings.TrimSuffix(soap12Path, "/")} {
		s.mux.HandleFunc(p, s.endpoint(false))
	}
	// The WSDL's HTTP binding: operation/location under the port address,
	// and, as Axis2 also takes it, under the service address.
	s.mux.HandleFunc(httpPath+"{op}", s.endpoint(true))
	s.mux.HandleFunc(servicePath+"/{op}", s.endpoint(true))
	s.mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such service: the Processing.kz web service is at "+servicePath+" (WSDL: ?wsdl)", http.StatusNotFound)
	})
	return s, nil
}

// Handler serves everything under Prefix: the service's endpoints (the
// vendor's address and its WSDL's Axis2 port addresses, SOAP 1.1 and 1.2)
// and the WSDL (?wsdl on any of them, and the vendor's .wsdl file). The
// daemon's http.Server must set its own timeouts.
func (s *Server) Handler() http.Handler { return s.mux }

// Config returns the service's config with its defaults filled in.
func (s *Server) Config() Config { return s.cfg }

func (s *Server) endpoint(plain bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && wantsWSDL(r) {
			s.serveWSDL(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET (?wsdl), POST")
			http.Error(w, "CNPMerchantWebService: POST a SOAP 1.1 or 1.2 request here; the WSDL is at ?wsdl", http.StatusMethodNotAllowed)
			return
		}
		c := s.newCall(w, r)
		defer c.finish()
		body, f := c.read(plain)
		if f != nil {
			c.fault(f)
			return
		}
		c.dispatch(body)
	}
}

// call is one request on its way through: what the log line, the metrics
// and the journal need to know about it.
type call struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	start time.Time

	version  soapVersion
	action   string
	op       string
	merchant *merchant
	orderID  string
	// outcome is a short word for logs and metrics: ok, false, refused,
	// fault, denied, unavailable.
	outcome string
	replay  bool
	status  int

	// reqPayload is the request as journaled (no credentials);
	// reqJournaled says whether an order change already carried it.
	reqPayload   []byte
	reqJournaled bool
	// built is the answer a flow's Reply built, to send once committed.
	built []byte
	sent  bool
}

func (s *Server) newCall(w http.ResponseWriter, r *http.Request) *call {
	return &call{s: s, w: w, r: r, start: time.Now(), version: soap11}
}

// read checks the request's HTTP and SOAP layers and returns the Body's
// operation element (nil for an empty Body, getVersion's). c.op is set
// once known.
func (c *call) read(plain bool) (*node, *fault) {
	v, action, f := readVersion(c.r, plain)
	if v != 0 {
		c.version = v
	}
	if f != nil {
		return nil, f
	}
	c.action = action
	c.r.Body = http.MaxBytesReader(c.w, c.r.Body, c.s.cfg.MaxBodyBytes)
	root, err := parseXML(c.r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &fault{sender: true, status: http.StatusRequestEntityTooLarge,
				reason: fmt.Sprintf("the request is larger than %d bytes", c.s.cfg.MaxBodyBytes)}
		}
		return nil, clientFault("%v", err)
	}
	if err := resolveRefs(root); err != nil {
		return nil, clientFault("%v", err)
	}
	body, f := readEnvelope(root, v)
	if f != nil {
		return nil, f
	}
	if plain {
		c.action = c.r.PathValue("op")
	}
	switch {
	case body == nil && c.action == "":
		return nil, clientFault("the Body is empty and no SOAPAction (SOAP 1.2: action) names the operation")
	case body == nil:
		op, ok := operations[c.action]
		if !ok {
			return nil, clientFault("SOAPAction names no operation of CNPMerchantWebService: %s", c.action)
		}
		c.op = op.name
		if op.input {
			return nil, clientFault("the Body is empty, and %s takes a {%s}%s element", op.name, nsOps, op.name)
		}
		return nil, nil
	}
	op, ok := operations[body.name.Local]
	if !ok || body.name.Space != nsOps {
		return nil, clientFault("unknown operation %s (operations are in namespace %s)", describe(body.name.Space, body.name.Local), nsOps)
	}
	c.op = op.name
	if c.action != "" && c.action != op.name {
		return nil, clientFault("the SOAPAction names %s and the Body %s: which one is meant?", c.action, op.name)
	}
	return body, nil
}

// dispatch runs the Body's operation.
func (c *call) dispatch(body *node) {
	op := operations[c.op]
	if err := op.run(c, body); err != nil {
		var f *fault
		if !errors.As(err, &f) {
			f = clientFault("%v", err)
		}
		c.fault(f)
	}
}

// operation is one of the WSDL's.
type operation struct {
	name string
	// input is false for getVersion, whose message has no part.
	input bool
	run   func(c *call, body *node) error
}

var operations = map[string]*operation{}

func init() {
	for _, op := range []*operation{
		{"startTransaction", true, (*call).startTransaction},
		{"getTransactionStatus", true, (*call).getTransactionStatus},
		{"getExtendedTransactionStatus", true, (*call).getExtendedTransactionStatus},
		{"completeTransaction", true, func(c *call, b *node) error { return c.completeTransaction(b, false) }},
		{"completeTransactionEx", true, func(c *call, b *node) error { return c.completeTransaction(b, true) }},
		{"refundTransaction", true, (*call).refundTransaction},
		{"startRegistration", true, (*call).startRegistration},
		{"getRegistrationStatus", true, (*call).getRegistrationStatus},
		{"completeRegistration", true, (*call).completeRegistration},
		{"getVersion", false, (*call).getVersion},
	} {
		operations[op.name] = op
	}
}

// journalRequest records what the request asked, as the journal keeps it:
// the decoded request, never a credential.
func (c *call) journalRequest(req any) {
	c.reqPayload, _ = json.Marshal(struct {
		Dialect   string `json:"dialect"`
		Operation string `json:"operation"`
		SOAP      string `json:"soap"`
		Request   any    `json:"request,omitempty"`
	}{"cnp", c.op, c.version.String(), req})
}

// answerPayload is an answer as the journal keeps it.
func (c *call) answerPayload(status int, body []byte) []byte {
	b, _ := json.Marshal(struct {
		Endpoint string `json:"endpoint"`
		Status   int    `json:"status"`
		Body     string `json:"body"`
	}{"cnp/" + c.op, status, string(body)})
	return b
}

// reply lets a payments flow journal the request with its first change and
// the answer, built by build from the order as committed, with its last.
func (c *call) reply(build func(o *order.Order) []byte) payments.Reply {
	return payments.Reply{Request: c.reqPayload, Answer: func(o *order.Order, _ *threeds.Outcome) []byte {
		c.orderID = o.ID
		c.built = envelopeOf(c.version, build(o))
		return c.answerPayload(http.StatusOK, c.built)
	}}
}

// took notes what a flow journaled; when the flow committed the answer
// too, it sends it and reports true.
func (c *call) took(res *payments.Result) bool {
	if res == nil {
		return false
	}
	if res.Order != nil {
		c.orderID = res.Order.ID
	}
	c.reqJournaled = c.reqJournaled || res.RequestJournaled
	c.replay = c.replay || res.Replay
	if !res.Answered {
		return false
	}
	c.send(http.StatusOK, c.built)
	return true
}

// answer journals a response element (and the request, unless a flow did)
// and sends it in an envelope. When the journal cannot take it, the shop
// hears the operation's "temporarily unavailable" instead: an answer that
// is not on disk is never sent.
func (c *call) answer(body []byte) {
	env := envelopeOf(c.version, body)
	req := c.reqPayload
	if c.reqJournaled {
		req = nil
	}
	if req == nil && !c.reqJournaled {
		c.journalRequest(nil)
		req = c.reqPayload
	}
	if err := c.s.svc.RecordAPI(c.r.Context(), c.orderID, req, c.answerPayload(http.StatusOK, env)); err != nil {
		c.s.log.Error().Err(err).Str("operation", c.op).Msg("answer not journaled")
		c.unavailable()
		return
	}
	c.send(http.StatusOK, env)
}

// fault journals and sends a SOAP fault.
func (c *call) fault(f *fault) {
	if c.outcome == "" {
		c.outcome = "fault"
	}
	status, env := faultBody(c.version, f)
	if c.reqPayload == nil {
		c.reqPayload, _ = json.Marshal(struct {
			Dialect   string `json:"dialect"`
			Operation string `json:"operation,omitempty"`
			SOAP      string `json:"soap"`
			Fault     string `json:"fault"`
		}{"cnp", c.op, c.version.String(), f.reason})
	}
	req := c.reqPayload
	if c.reqJournaled {
		req = nil
	}
	if err := c.s.svc.RecordAPI(c.r.Context(), c.orderID, req, c.answerPayload(status, env)); err != nil {
		c.s.log.Error().Err(err).Str("operation", c.op).Msg("fault not journaled")
		status, env = faultBody(c.version, unavailableFault())
	}
	c.send(status, env)
}

func unavailableFault() *fault {
	return &fault{status: http.StatusServiceUnavailable, reason: msgUnavailable}
}

// msgUnavailable answers what the switch could not make durable: nothing
// was done, and the same request later will be answered.
const msgUnavailable = "Service temporarily unavailable, try again later"

// unavailable answers the operation's "temporarily unavailable" without
// journaling (the journal is what cannot write): a start's success=false,
// a follow-up's false, and for a query, which has no such word, a Server
// fault with HTTP 503.
func (c *call) unavailable() {
	c.outcome = "unavailable"
	c.w.Header().Set("Retry-After", "5")
	switch c.op {
	case "startTransaction", "startRegistration":
		c.send(http.StatusOK, envelopeOf(c.version, startResult(c.op, "", "", msgUnavailable)))
	case "completeTransaction", "completeTransactionEx", "refundTransaction", "completeRegistration":
		c.send(http.StatusOK, envelopeOf(c.version, boolResult(c.op, false)))
	default:
		c.send(faultBody(c.version, unavailableFault()))
	}
}

// Unavailable answers any request with "temporarily unavailable" in the
// dialect, journaling nothing (the daemon calls it while the switch starts
// or while the journal cannot write). The WSDL is still served.
func (s *Server) Unavailable(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && (wantsWSDL(r) || r.URL.Path == wsdlPath) {
		s.serveWSDL(w, r)
		return
	}
	c := s.newCall(w, r)
	defer c.finish()
	plain := strings.HasPrefix(r.URL.Path, httpPath) || strings.HasPrefix(r.URL.Path, servicePath+"/")
	if _, f := c.read(plain); f != nil {
		c.outcome = "fault"
		c.send(faultBody(c.version, f))
		return
	}
	c.unavailable()
}

func (c *call) send(status int, body []byte) {
	c.sent, c.status = true, status
	h := c.w.Header()
	h.Set("Content-Type", contentType(c.version, c.op+"Response"))
	h.Set("Cache-Control", "no-store")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body)
}

// finish writes the call's one log line and its metrics, and answers a
// panic with a fault.
func (c *call) finish() {
	if p := recover(); p != nil {
		c.s.log.Error().Str("operation", c.op).Interface("panic", p).Msg("handler panic")
		if !c.sent {
			c.outcome = "fault"
			c.send(faultBody(c.version, &fault{reason: "internal error"}))
		}
	}
	if c.outcome == "" {
		c.outcome = "ok"
	}
	d := time.Since(c.start)
	op := c.op
	if op == "" {
		op = "unknown"
	}
	c.s.m.Count.WithLabelValues(op, strconv.Itoa(c.status), c.outcome).Inc()
	c.s.m.Latency.WithLabelValues(op).Observe(d.Seconds())
	ev := c.s.log.Info()
	if c.status >= 500 && c.outcome != "fault" {
		ev = c.s.log.Error()
	}
	ev = ev.Str("operation", op).Str("soap", c.version.String()).Int("status", c.status).Str("outcome", c.outcome).
		Dur("duration", d).Str("remote", clientip.Host(c.r))
	if c.merchant != nil {
		ev = ev.Str("merchant", c.merchant.Merchant).Str("merchant_id", c.merchant.MerchantID)
	}
	if c.orderID != "" {
		ev = ev.Str("order", c.orderID)
	}
	if c.replay {
		ev = ev.Bool("replay", true)
	}
	ev.Msg("cnp call")
}
