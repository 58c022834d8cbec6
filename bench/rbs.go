package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Mix is the share of each operation in the merchant-API scenario, in
// percent; they must add up to 100.
type Mix struct {
	Purchase int // one-stage: register.do, paymentorder.do
	TwoStage int // registerPreAuth.do, paymentorder.do, deposit.do
	Refund   int // refund.do of an earlier purchase of the same client
	Decline  int // register.do, paymentorder.do with a card the bank declines
}

// DefaultMix is a sale day's: mostly one-stage purchases, a quarter of
// holds captured at once, some refunds and declines.
var DefaultMix = Mix{Purchase: 60, TwoStage: 25, Refund: 10, Decline: 5}

// ParseMix reads "purchase=60,two_stage=25,refund=10,decline=5".
func ParseMix(s string) (Mix, error) {
	var m Mix
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return m, fmt.Errorf("mix: %q is not name=percent", part)
		}
		switch k {
		case KindPurchase:
			m.Purchase = n
		case KindTwoStage:
			m.TwoStage = n
		case KindRefund:
			m.Refund = n
		case KindDecline:
			m.Decline = n
		default:
			return m, fmt.Errorf("mix: unknown operation %q (purchase, two_stage, refund, decline)", k)
		}
	}
	return m, m.Validate()
}

// Validate checks the percentages.
func (m Mix) Validate() error {
	if m.Purchase < 0 || m.TwoStage < 0 || m.Refund < 0 || m.Decline < 0 || m.Purchase+m.TwoStage+m.Refund+m.Decline != 100 {
		return errors.New("mix: percentages must be non-negative and add up to 100")
	}
	return nil
}

func (m Mix) String() string {
	return fmt.Sprintf("purchase=%d,two_stage=%d,refund=%d,decline=%d", m.Purchase, m.TwoStage, m.Refund, m.Decline)
}

// Operation kinds of the merchant-API scenario.
const (
	KindPurchase = "purchase"
	KindTwoStage = "two_stage"
	KindRefund   = "refund"
	KindDecline  = "decline"
)

// AuthorizationKinds are the kinds that carry one authorization to a bank
// each: their sum is the "authorizations per second" of a run.
var AuthorizationKinds = []string{KindPurchase, KindTwoStage, KindDecline}

// Authorizations sums the throughput of the kinds that authorize.
func Authorizations(r *Result) float64 {
	var sum float64
	for _, k := range AuthorizationKinds {
		sum += r.Kinds[k].Throughput
	}
	return sum
}

// RBSOptions configure the merchant-API scenario.
type RBSOptions struct {
	// URL is the switch's base URL (the RBS facade is under
	// /payment/rest/).
	URL string
	// Token is the merchant's RBS token; or UserName and Password.
	Token              string
	UserName, Password string
	// Card pays the approvals; the default, 4444 5555 1111 3333, is not
	// enrolled in 3-D Secure in the simulators, so it proceeds without a
	// challenge. DeclineCard is one the bank declines (default
	// 4000 0000 0000 0044, reported lost: 41).
	Card, DeclineCard string
	// CVC and Expiry (YYYYMM) of both cards; default 123 and 203012.
	CVC, Expiry string
	// Amount of every order in minor units; default 100 (1.00 KZT), so a
	// long run does not drain the test card's balance.
	Amount int64
	Mix    Mix
	// Conns bounds the HTTP connections (one per client is right).
	Conns int
	// IdleConns is how many connections the client keeps open between
	// requests; default (and at most) Conns. An open loop needs Conns
	// only while the switch is behind: afterwards every connection a
	// stall opened would wait out IdleConnTimeout with its buffers and
	// goroutines, on both ends, in the process whose memory --self
	// measures.
	IdleConns int
	// Timeout bounds one HTTP request; default 30 s.
	Timeout time.Duration
}

// RBSMix drives the RBS facade end to end with card data sent by the
// merchant's server (paymentorder.do), so no browser is involved.
type RBSMix struct {
	o   RBSOptions
	hc  *http.Client
	run string

	mu    sync.Mutex
	state map[int]*rbsWorker
}

// maxPaid bounds each worker's orders waiting for a refund. A refund is a
// tenth of the default mix and a purchase six tenths, so the list only
// grows; at 1,000 a worker and 512 workers it grew by a megabyte a minute
// of the load generator's heap for half an hour, which the bench's memory
// samples (one process with --self) counted as the switch's.
const maxPaid = 16

type rbsWorker struct {
	rnd  *rand.Rand
	n    int
	paid []string // approved one-stage orders not yet refunded, oldest first
}

// NewRBSMix checks the options and prepares the HTTP client.
func NewRBSMix(o RBSOptions) (*RBSMix, error) {
	if o.URL == "" {
		return nil, errors.New("bench: url: required")
	}
	if o.Token == "" && (o.UserName == "" || o.Password == "") {
		return nil, errors.New("bench: token or user name and password: required")
	}
	if o.Card == "" {
		o.Card = "4444555511113333"
	}
	if o.DeclineCard == "" {
		o.DeclineCard = "4000000000000044"
	}
	if o.CVC == "" {
		o.CVC = "123"
	}
	if o.Expiry == "" {
		o.Expiry = "203012"
	}
	if len(o.Expiry) != 6 {
		return nil, errors.New("bench: expiry: YYYYMM")
	}
	if o.Amount <= 0 {
		o.Amount = 100
	}
	if o.Mix == (Mix{}) {
		o.Mix = DefaultMix
	}
	if err := o.Mix.Validate(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if o.Conns <= 0 {
		o.Conns = 64
	}
	if o.IdleConns <= 0 || o.IdleConns > o.Conns {
		o.IdleConns = o.Conns
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	o.URL = strings.TrimRight(o.URL, "/")
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        o.IdleConns,
		MaxIdleConnsPerHost: o.IdleConns,
		MaxConnsPerHost:     o.Conns,
		IdleConnTimeout:     90 * time.Second,
	}
	return &RBSMix{
		o: o, hc: &http.Client{Transport: tr, Timeout: o.Timeout},
		run: strconv.FormatInt(time.Now().UnixNano()/1e6, 36), state: map[int]*rbsWorker{},
	}, nil
}

// Close releases idle connections.
func (m *RBSMix) Close() { m.hc.CloseIdleConnections() }

func (m *RBSMix) worker(w int) *rbsWorker {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.state[w]
	if s == nil {
		s = &rbsWorker{rnd: rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))}
		m.state[w] = s
	}
	return s
}

// Target is the scenario: each call is one operation drawn from the mix.
// A purchase whose bank answer was not an approval, a decline that was
// approved, and any RBS error are errors of their own kinds.
func (m *RBSMix) Target() Target {
	return func(ctx context.Context, w int) (string, error) {
		s := m.worker(w)
		s.n++
		p := s.rnd.IntN(100)
		mix := m.o.Mix
		switch {
		case p < mix.Purchase:
			return KindPurchase, m.purchase(ctx, s, w, false)
		case p < mix.Purchase+mix.TwoStage:
			return KindTwoStage, m.purchase(ctx, s, w, true)
		case p < mix.Purchase+mix.TwoStage+mix.Refund:
			if len(s.paid) == 0 {
				// Nothing to refund yet: the buyer buys first.
				return KindPurchase, m.purchase(ctx, s, w, false)
			}
			id := s.paid[0]
			s.paid = s.paid[1:]
			return KindRefund, m.refund(ctx, id)
		default:
			return KindDecline, m.decline(ctx, s, w)
		}
	}
}

func (m *RBSMix) register(ctx context.Context, s *rbsWorker, w int, twoStage bool) (string, error) {
	endpoint := "register"
	if twoStage {
		endpoint = "registerPreAuth"
	}
	var ans struct {
		OrderID      string          `json:"orderId"`
		ErrorCode    json.RawMessage `json:"errorCode"`
		ErrorMessage string          `json:"errorMessage"`
	}
	form := url.Values{
		"orderNumber": {fmt.Sprintf("b%s-%d-%d", m.run, w, s.n)},
		"amount":      {strconv.FormatInt(m.o.Amount, 10)},
		"returnUrl":   {"https://shop.example.kz/ok"},
	}
	if err := m.call(ctx, endpoint, form, &ans); err != nil {
		return "", err
	}
	if ans.OrderID == "" {
		return "", Failf("rbs_"+endpoint+"_"+code(ans.ErrorCode), "%s: %s", endpoint, ans.ErrorMessage)
	}
	return ans.OrderID, nil
}

// pay sends the card with paymentorder.do and reports whether the bank
// approved.
func (m *RBSMix) pay(ctx context.Context, orderID, pan string) (bool, error) {
	var ans struct {
		ErrorCode    json.RawMessage `json:"errorCode"`
		ErrorMessage string          `json:"errorMessage"`
		Error        string          `json:"error"`
		ACSURL       string          `json:"acsUrl"`
		Redirect     string          `json:"redirect"`
	}
	form := url.Values{
		"MDORDER": {orderID}, "$PAN": {pan}, "$CVC": {m.o.CVC},
		"YYYY": {m.o.Expiry[:4]}, "MM": {m.o.Expiry[4:]}, "TEXT": {"LOAD TEST"}, "language": {"en"},
	}
	if err := m.call(ctx, "paymentorder", form, &ans); err != nil {
		return false, err
	}
	switch {
	case code(ans.ErrorCode) != "0":
		return false, Failf("rbs_paymentorder_"+code(ans.ErrorCode), "paymentorder: %s", ans.ErrorMessage)
	case ans.ACSURL != "":
		return false, Failf("3ds_challenge", "the card was challenged: use a card that skips 3-D Secure")
	}
	return ans.Error == "", nil
}

func (m *RBSMix) purchase(ctx context.Context, s *rbsWorker, w int, twoStage bool) error {
	id, err := m.register(ctx, s, w, twoStage)
	if err != nil {
		return err
	}
	ok, err := m.pay(ctx, id, m.o.Card)
	if err != nil {
		return err
	}
	if !ok {
		return Failf("declined", "an approval card was declined")
	}
	if twoStage {
		return m.followUp(ctx, "deposit", url.Values{"orderId": {id}, "amount": {"0"}})
	}
	if len(s.paid) < maxPaid {
		s.paid = append(s.paid, id)
	}
	return nil
}

func (m *RBSMix) decline(ctx context.Context, s *rbsWorker, w int) error {
	id, err := m.register(ctx, s, w, false)
	if err != nil {
		return err
	}
	ok, err := m.pay(ctx, id, m.o.DeclineCard)
	if err != nil {
		return err
	}
	if ok {
		return Failf("approved", "the decline card was approved")
	}
	return nil
}

func (m *RBSMix) refund(ctx context.Context, id string) error {
	return m.followUp(ctx, "refund", url.Values{"orderId": {id}, "amount": {strconv.FormatInt(m.o.Amount, 10)}})
}

func (m *RBSMix) followUp(ctx context.Context, endpoint string, form url.Values) error {
	var ans struct {
		ErrorCode    json.RawMessage `json:"errorCode"`
		ErrorMessage string          `json:"errorMessage"`
	}
	if err := m.call(ctx, endpoint, form, &ans); err != nil {
		return err
	}
	if c := code(ans.ErrorCode); c != "0" && c != "" {
		return Failf("rbs_"+endpoint+"_"+c, "%s: %s", endpoint, ans.ErrorMessage)
	}
	return nil
}

// call POSTs a form to an RBS endpoint and decodes the JSON answer.
func (m *RBSMix) call(ctx context.Context, endpoint string, form url.Values, into any) error {
	if m.o.Token != "" {
		form.Set("token", m.o.Token)
	} else {
		form.Set("userName", m.o.UserName)
		form.Set("password", m.o.Password)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.o.URL+"/payment/rest/"+endpoint+".do", strings.NewReader(form.Encode()))
	if err != nil {
		return Fail("http", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := m.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return Fail("timeout", err)
		}
		return Fail("http", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Fail("http", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Failf(fmt.Sprintf("http_%d", resp.StatusCode), "%s.do answered %s", endpoint, resp.Status)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return Failf("bad_answer", "%s.do: %v", endpoint, err)
	}
	return nil
}

// code reads an RBS errorCode, a string in most answers and a number in
// paymentorder.do's; absent is "0".
func code(raw json.RawMessage) string {
	s := strings.Trim(string(raw), `"`)
	if s == "" {
		return "0"
	}
	return s
}
