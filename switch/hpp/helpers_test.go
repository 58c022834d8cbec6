package hpp_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/hsm/hsmtest"
	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/issuersim/acs"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/hpp"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/saf"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// Test cards (the ACS's and the simulated bank's books agree on them).
const (
	frictionless = "4111111111111111" // 3-D Secure Y without a challenge
	challenge    = "5555555555555599" // 3-D Secure one-time code
	notEnrolled  = "4444555511113333" // no 3-D Secure; the fake bank declines it 51
	testCVV      = "917"              // hsmtest's distinctive CVV2: findable if leaked
	// merchantName is also DE43, which the ASCII dialect carries in ASCII
	// only (payments does not transliterate): Latin, with characters HTML
	// must escape.
	merchantName = "Altyn <Shop> & Co"
	description  = "Заказ №17: электрочайник"
	shopURL      = "https://shop.example.kz"
)

// stack is the payment core as the hosted page sees it, with the page on a
// loopback HTTP server. Banks are either a fake that answers at once
// (handler tests) or issuersim over real links (the browser test).
type stack struct {
	t      *testing.T
	svc    *payments.Service
	hpp    *hpp.Server
	srv    *httptest.Server // the hosted page
	acs    *httptest.Server // the simulated DS/ACS
	reg    *prometheus.Registry
	clock  *clock
	logDir string
	seq    atomic.Int64
}

type stackOptions struct {
	// banks builds the payment core's bank side; nil is fakeBanks.
	banks func(t *testing.T, bank string, log zerolog.Logger) payments.Banks
}

const bankName = "testbank"

// newStack wires journal, security module, banks, routing, SAF, 3-D
// Secure and payments as the daemon does, and the hosted page over them.
// switch/daemon will own this wiring; until it lands the test has its own.
func newStack(t *testing.T, opt stackOptions) *stack {
	t.Helper()
	s := &stack{t: t, reg: prometheus.NewRegistry(), clock: &clock{}, logDir: t.TempDir()}
	logFile, err := os.Create(filepath.Join(s.logDir, "tulpar.log"))
	require.NoError(t, err)
	log := zerolog.New(logFile).With().Timestamp().Logger()
	t.Cleanup(func() {
		require.NoError(t, logFile.Close())
		// Nothing the page or the core logged may hold a test PAN or CVV2.
		hsmtest.ScanForSecrets(t, s.logDir)
		// A failed test shows the log, unless it holds card data.
		if findings, _, _, err := hsmtest.Find(s.logDir, hsmtest.Needles()...); t.Failed() && err == nil && len(findings) == 0 {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("the switch's log:\n%s", b)
			}
		}
	})

	j, err := journal.Open(filepath.Join(t.TempDir(), "tulpar.db"), journal.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, j.Close()) })
	module, err := hsm.NewEphemeral()
	require.NoError(t, err)

	if opt.banks == nil {
		opt.banks = func(*testing.T, string, zerolog.Logger) payments.Banks { return newFakeBanks() }
	}
	banks := opt.banks(t, bankName, log.With().Str("component", "links").Logger())
	router, err := routing.New(routing.Config{Rules: []routing.RuleConfig{
		{Name: "all", Banks: []routing.BankConfig{{Name: bankName}}},
	}}, []string{bankName})
	require.NoError(t, err)

	var svc *payments.Service
	queue, err := saf.New(j.DB(), saf.Config{RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond},
		saf.DelivererFunc(func(ctx context.Context, it saf.Item, repeat bool) (saf.Outcome, error) {
			return svc.Deliver(ctx, it, repeat)
		}), log.With().Str("component", "saf").Logger(), nil)
	require.NoError(t, err)

	ds := acs.New(acs.Config{}, log.With().Str("component", "acs").Logger())
	s.acs = httptest.NewServer(ds.Handler())
	t.Cleanup(s.acs.Close)

	cfg := payments.DefaultConfig()
	cfg.Banks = []payments.BankProfile{{Name: bankName, AcquirerID: "400123"}}
	cfg.Merchants = []payments.Merchant{{
		ID: "shop", Name: merchantName, URL: shopURL, MCC: "5722", City: "Almaty", Country: "KZ",
		Terminals: map[string]payments.Terminal{bankName: {TerminalID: "TERM0001", MerchantID: "MERCHANT0000001"}},
	}}
	svc, err = payments.New(cfg, payments.Deps{
		Journal: j, Banks: banks, Router: router, Vault: module, SAF: queue,
		ThreeDS: threeds.NewClient(s.acs.URL, nil), Log: log.With().Str("component", "payments").Logger(),
		Now: s.clock.Now,
	})
	require.NoError(t, err)
	s.svc = svc
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, queue.Start(ctx))
	t.Cleanup(func() {
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = queue.Close(sctx)
	})

	// The page needs its public URL before it exists: route through a
	// handler set once the server is built.
	var h atomic.Pointer[http.Handler]
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*h.Load()).ServeHTTP(w, r) }))
	t.Cleanup(s.srv.Close)
	s.hpp, err = hpp.New(svc, hpp.Config{PublicURL: s.srv.URL, Secret: "0123456789abcdef0123456789abcdef", Title: "Tulpar Test"},
		log.With().Str("component", "hpp").Logger(), s.reg)
	require.NoError(t, err)
	handler := s.hpp.Handler()
	h.Store(&handler)
	return s
}

type orderSpec struct {
	lang, returnURL, failURL string
	twoStage                 bool
	lifetime                 time.Duration
	cart                     []order.CartItem
}

// register creates an order of 15 000,00 ₸.
func (s *stack) register(o orderSpec) *order.Order {
	s.t.Helper()
	if o.returnURL == "" {
		o.returnURL = shopURL + "/ok?cart=7"
	}
	n := s.seq.Add(1)
	got, err := s.svc.Register(context.Background(), payments.RegisterRequest{
		Merchant: "shop", Number: fmt.Sprintf("%s-%d", s.t.Name(), n), Amount: 1_500_000, Description: description,
		Language: o.lang, ReturnURL: o.returnURL, FailURL: o.failURL, TwoStage: o.twoStage, Lifetime: o.lifetime,
		Cart: o.cart,
	})
	require.NoError(s.t, err)
	return got.Order
}

func (s *stack) get(id string) *order.Order {
	s.t.Helper()
	o, err := s.svc.Get(context.Background(), id)
	require.NoError(s.t, err)
	return o
}

// counter reads one counter of the page's metrics.
func (s *stack) counter(name, label, value string) float64 {
	s.t.Helper()
	mfs, err := s.reg.Gather()
	require.NoError(s.t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// clock is payments' clock: real time plus an offset tests move forward.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// fakeBanks answers every request at once: approved, except notEnrolled,
// which is declined for insufficient funds (51).
type fakeBanks struct {
	codec *iso.Codec
	mu    sync.Mutex
	sent  []*iso.Message
}

func newFakeBanks() *fakeBanks {
	c, err := iso.LoadCodec("ascii")
	if err != nil {
		panic(err)
	}
	return &fakeBanks{codec: c}
}

func (f *fakeBanks) Send(_ context.Context, _ string, m *iso.Message) (*iso.Message, error) {
	f.mu.Lock()
	f.sent = append(f.sent, m)
	f.mu.Unlock()
	rc := iso.RCApproved
	if m.PAN == notEnrolled {
		rc = iso.RCInsufficientFunds
	}
	r := iso.Respond(m, rc)
	if rc == iso.RCApproved {
		r.ApprovalCode = "A1B2C3"
	}
	return r, nil
}

func (f *fakeBanks) Ready(string) bool               { return true }
func (f *fakeBanks) Codec(string) (*iso.Codec, bool) { return f.codec, true }

// browser is a plain HTTP client with cookies that does not follow
// redirects, so tests see each 303.
type browser struct {
	t  *testing.T
	hc *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, hc: &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	resp, err := b.hc.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return response{resp.StatusCode, resp.Header, string(body), resp.Request.URL}
}

func (b *browser) get(u string) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(b.t, err)
	return b.do(req)
}

func (b *browser) post(u string, v url.Values) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// follow resolves a redirect's Location against the request's URL.
func (r response) follow(t *testing.T) string {
	t.Helper()
	require.Contains(t, []int{http.StatusSeeOther, http.StatusFound}, r.status, r.body)
	u, err := r.url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	return u.String()
}

var (
	csrfRe   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	formRe   = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	otpRe    = regexp.MustCompile(`<strong id="otp">(\d{6})</strong>`)
	backRe   = regexp.MustCompile(`<a class="button" id="back" href="([^"]*)">`)
	metaRe   = regexp.MustCompile(`<meta http-equiv="refresh" content="(\d+);url=([^"]*)">`)
)

func csrfToken(t *testing.T, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	require.NotNil(t, m, "no CSRF field in:\n%s", body)
	return m[1]
}

// card is a valid form for pan.
func card(token, pan string) url.Values {
	return url.Values{
		"csrf": {token}, "pan": {spaced(pan)}, "expiry": {"12/30"}, "cvv2": {testCVV},
		"holder": {"AIGERIM NURLANOVA"}, "email": {"buyer@example.kz"},
	}
}

func spaced(pan string) string {
	var b strings.Builder
	for i, c := range pan {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// autoForm reads a page's auto-submitting form (the challenge redirect and
// the ACS's way back): its absolute action and hidden fields.
func autoForm(t *testing.T, r response) (string, url.Values) {
	t.Helper()
	m := formRe.FindStringSubmatch(r.body)
	require.NotNil(t, m, "no form in:\n%s", r.body)
	action, err := r.url.Parse(html.UnescapeString(m[1]))
	require.NoError(t, err)
	v := url.Values{}
	for _, in := range hiddenRe.FindAllStringSubmatch(r.body, -1) {
		v.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	return action.String(), v
}
