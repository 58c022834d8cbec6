package threeds

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tulpar-switch/tulpar/emv3ds"
)

// maxResponse bounds what the client reads from the Directory Server.
const maxResponse = 64 << 10

// Client is the requestor over the Directory Server HTTP API of
// issuersim/acs. It keeps no state between calls and is safe for
// concurrent use.
type Client struct {
	base string
	hc   *http.Client
	m    *metrics // nil: not counted (Instrument)
}

// metrics count the directory server's calls, as a bank link's sends are:
// an operator sees it slow down, fail, or challenge more buyers.
type metrics struct {
	calls   *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// Instrument registers the client's metrics with reg:
// tulpar_threeds_calls_total{call,outcome} (call begin or result; outcome
// the transaction status's name, "error", "invalid" for a request refused
// before it was sent, or "pending" for a challenge still open) and
// tulpar_threeds_call_duration_seconds{call}. Call it before the first
// payment.
func (c *Client) Instrument(reg prometheus.Registerer) error {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tulpar_threeds_calls_total",
			Help: "Calls to the 3-D Secure directory server by call (begin: the AReq; result: the RRes after a challenge) and outcome.",
		}, []string{"call", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tulpar_threeds_call_duration_seconds",
			Help:    "3-D Secure directory server call latency by call, refused requests excluded.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"call"}),
	}
	for _, col := range []prometheus.Collector{m.calls, m.latency} {
		if err := reg.Register(col); err != nil {
			return fmt.Errorf("threeds: metrics: %w", err)
		}
	}
	c.m = m
	return nil
}

// observe counts one call that started at start.
func (c *Client) observe(call string, start time.Time, o Outcome, err error) {
	if c.m == nil {
		return
	}
	outcome := o.Status.String()
	switch {
	case errors.Is(err, ErrInvalidRequest):
		c.m.calls.WithLabelValues(call, "invalid").Inc()
		return // nothing was sent
	case errors.Is(err, ErrChallengePending):
		outcome = "pending"
	case err != nil:
		outcome = "error"
	}
	c.m.calls.WithLabelValues(call, outcome).Inc()
	c.m.latency.WithLabelValues(call).Observe(time.Since(start).Seconds())
}

// NewClient returns a client of the Directory Server at dsURL (the root the
// acs handler is mounted at, e.g. "http://127.0.0.1:8443"). httpClient nil
// means HTTPClient(DefaultTimeout). Every call is also bounded by its
// context.
func NewClient(dsURL string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = HTTPClient(DefaultTimeout)
	}
	return &Client{base: strings.TrimRight(dsURL, "/"), hc: httpClient}
}

// DefaultTimeout bounds one call to the directory server by default.
const DefaultTimeout = 30 * time.Second

// HTTPClient is the HTTP client a Client needs: an overall timeout, no
// redirects followed (an AReq carries a PAN: it must not be re-sent
// wherever a redirect points), and a pool of kept connections (Pooled).
func HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:       timeout,
		Transport:     Pooled(http.DefaultTransport.(*http.Transport).Clone()),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// MaxIdleConns is how many connections to the directory server are kept
// for the next payments.
const MaxIdleConns = 256

// Pooled sizes t's idle pool for a directory server: every payment calls
// the one host, many at once. Go's default keeps two idle connections per
// host, and each payment past them paid a new TCP and TLS handshake (0.6 of
// a connection per payment under load).
func Pooled(t *http.Transport) *http.Transport {
	t.MaxIdleConns, t.MaxIdleConnsPerHost = MaxIdleConns, MaxIdleConns
	return t
}

// Begin sends the AReq: it asks the Directory Server to authenticate the
// buyer. The Outcome is final (Y, A, N, U, R) or ChallengeRequired, with
// the form to auto-POST to the ACS in ChallengeURL and ChallengeForm (creq
// and threeDSSessionData for 2.x, PaReq and MD for 1.0.2); Result then
// gives the answer once the browser comes back. On error the Outcome's
// Status is Errored. A Request that makes an AReq the DS would refuse
// (emv3ds.AReq.Check) fails with ErrInvalidRequest before anything is sent.
func (c *Client) Begin(ctx context.Context, req Request) (Outcome, error) {
	start := time.Now()
	o, err := c.begin(ctx, req)
	c.observe("begin", start, o, err)
	return o, err
}

func (c *Client) begin(ctx context.Context, req Request) (Outcome, error) {
	if !emv3ds.ValidTransID(req.TransID) {
		return Outcome{}, fmt.Errorf("threeds: begin: trans id: %w: want 1 to 64 of [A-Za-z0-9._-]", ErrInvalidRequest)
	}
	fail := func(err error) (Outcome, error) {
		return Outcome{TransID: req.TransID}, fmt.Errorf("threeds: begin %s: %w", req.TransID, err)
	}
	areq := emv3ds.AReq{
		MessageType:          emv3ds.MessageTypeAReq,
		MessageVersion:       emv3ds.Version220,
		ThreeDSServerTransID: req.TransID,
		AcctNumber:           req.PAN,
		CardExpiryDate:       req.Expiry,
		PurchaseAmount:       strconv.FormatInt(req.Amount, 10),
		PurchaseCurrency:     req.Currency,
		MerchantName:         req.MerchantName,
		AcquirerBIN:          req.AcquirerBIN,
		AcquirerMerchantID:   req.AcquirerMerchantID,
		NotificationURL:      req.NotificationURL,
		DeviceChannel:        "02", // browser
		BrowserAcceptHeader:  req.Browser.AcceptHeader,
		BrowserUserAgent:     req.Browser.UserAgent,
		BrowserLanguage:      req.Browser.Language,
		BrowserIP:            req.Browser.IP,
	}
	// The DS checks an AReq with the same function: what passes here is
	// what it accepts. The error names the element, never its value.
	if err := areq.Check(); err != nil {
		return fail(fmt.Errorf("AReq: %w: %v", ErrInvalidRequest, err))
	}
	body, err := json.Marshal(areq)
	if err != nil {
		return fail(fmt.Errorf("AReq: %w", err))
	}
	const step = "POST /ds/authenticate"
	resp, err := c.do(ctx, http.MethodPost, "/ds/authenticate", body)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", step, err))
	}
	r, o, err := c.decode(resp, emv3ds.MessageTypeARes, req.TransID)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", step, err))
	}
	if o.Status == ChallengeRequired {
		o.ChallengeForm = challengeForm(r)
	}
	if o.ECI == "" && (o.Status == NotEnrolled || o.Status == Failed || o.Status == Rejected) {
		o.ECI = noAuthECI(req.PAN)
	}
	return o, nil
}

// Result asks for the final result (the RRes) of the authentication Begin
// started for transID, server to server, after the browser came back from
// the challenge. It returns ErrChallengePending while the challenge is open
// and ErrUnknownTransaction for an id the Directory Server does not know or
// has expired. On error the Outcome's Status is Errored.
func (c *Client) Result(ctx context.Context, transID string) (Outcome, error) {
	start := time.Now()
	o, err := c.result(ctx, transID)
	c.observe("result", start, o, err)
	return o, err
}

func (c *Client) result(ctx context.Context, transID string) (Outcome, error) {
	if !emv3ds.ValidTransID(transID) {
		return Outcome{}, fmt.Errorf("threeds: result: trans id: %w: want 1 to 64 of [A-Za-z0-9._-]", ErrInvalidRequest)
	}
	fail := func(o Outcome, err error) (Outcome, error) {
		o.TransID = transID
		return o, fmt.Errorf("threeds: result %s: %w", transID, err)
	}
	step := "GET /ds/result"
	resp, err := c.do(ctx, http.MethodGet, "/ds/result/"+url.PathEscape(transID), nil)
	if err != nil {
		return fail(Outcome{}, fmt.Errorf("%s: %w", step, err))
	}
	_, o, err := c.decode(resp, emv3ds.MessageTypeRRes, transID)
	if err != nil {
		return fail(Outcome{}, fmt.Errorf("%s: %w", step, err))
	}
	if o.Status == ChallengeRequired {
		// Not an outcome to act on: the core keeps the order at "3-D Secure
		// in progress" and must not redirect the browser a second time.
		return fail(Outcome{Status: ChallengeRequired, DSTransID: o.DSTransID, Version: o.Version}, ErrChallengePending)
	}
	return o, nil
}

type response struct {
	status int
	body   []byte
}

func (c *Client) do(ctx context.Context, method, path string, body []byte) (response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return response{}, err
	}
	hr.Header.Set("Accept", "application/json")
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return response{}, fmt.Errorf("reading the answer: %w", err)
	}
	if len(b) > maxResponse {
		return response{}, fmt.Errorf("%w: answer longer than %d bytes", ErrBadResponse, maxResponse)
	}
	return response{resp.StatusCode, b}, nil
}

func (c *Client) decode(resp response, want, transID string) (emv3ds.Result, Outcome, error) {
	if resp.status != http.StatusOK {
		return emv3ds.Result{}, Outcome{}, decodeErro(resp.body, resp.status)
	}
	r, o, err := decodeResult(resp.body, want)
	if err != nil {
		return r, Outcome{}, err
	}
	if r.ThreeDSServerTransID != transID {
		return r, Outcome{}, fmt.Errorf("%w: %s: answers another threeDSServerTransID", ErrBadResponse, want)
	}
	return r, o, nil
}

// challengeForm is what the browser POSTs to the ACS: the EMV 2.x CReq
// (base64url JSON) with threeDSSessionData, or for a 1.0.2 card the PaReq
// and MD of 3-D Secure 1 (in the simulator a base64 JSON PaReq, not XML).
// The session data and MD carry only the transaction id, never card data.
func challengeForm(r emv3ds.Result) map[string]string {
	cr := emv3ds.CReq{
		ThreeDSServerTransID: r.ThreeDSServerTransID,
		ACSTransID:           r.ACSTransID,
		MessageVersion:       r.MessageVersion,
	}
	if strings.HasPrefix(r.MessageVersion, "1.") {
		cr.MessageType = emv3ds.MessageTypePaReq
		return map[string]string{"PaReq": cr.FormValue(), "MD": r.ThreeDSServerTransID}
	}
	cr.MessageType = emv3ds.MessageTypeCReq
	cr.ChallengeWindowSize = "05" // full screen: the hosted page redirects, no iframe
	return map[string]string{
		"creq":               cr.FormValue(),
		"threeDSSessionData": base64.RawURLEncoding.EncodeToString([]byte(r.ThreeDSServerTransID)),
	}
}

// noAuthECI is the ECI of a payment without authentication, for a DS that
// gave none: 00 for Mastercard (51–55, 2221–2720), 07 for the others.
func noAuthECI(pan string) string {
	if len(pan) >= 4 && ((pan[0] == '5' && pan[1] >= '1' && pan[1] <= '5') || (pan[:4] >= "2221" && pan[:4] <= "2720")) {
		return "00"
	}
	return "07"
}
