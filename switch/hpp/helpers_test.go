package hpp_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm/hsmtest"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// Test cards (the ACS's and the simulated bank's books agree on them).
const (
	frictionless = "4111111111111111" // 3-D Secure Y without a challenge
	challenge    = "5555555555555599" // 3-D Secure one-time code
	notEnrolled  = "4444555511113333" // no 3-D Secure; the bank declines it 51 (newStack's card book)
	testCVV      = "917"              // hsmtest's distinctive CVV2: findable if leaked
	// merchantName is also DE43, which the ASCII dialect carries in ASCII
	// only (payments does not transliterate): Latin, with characters HTML
	// must escape.
	merchantName = "Altyn <Shop> & Co"
	description  = "Заказ №17: электрочайник"
	shopURL      = "https://shop.example.kz"
)

// stack is the switch (switchtest) as the hosted page's buyers see it: the
// page, the payment core, the simulated ACS and bank (issuersim) over a
// real ISO 8583 link. The switch's log goes to a file scanned for card
// data at the end.
type stack struct {
	*switchtest.Switch
	t      *testing.T
	svc    *payments.Service
	logDir string
	seq    atomic.Int64
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{t: t, logDir: t.TempDir()}
	logFile, err := os.Create(filepath.Join(s.logDir, "tulpar.log"))
	require.NoError(t, err)
	// Registered before the switch starts, so it runs once the switch has
	// stopped.
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
	// Every card takes the distinctive CVV2; notEnrolled cannot pay an
	// order of 15 000,00 ₸.
	cards := issuersim.DefaultCards()
	for i := range cards {
		cards[i].CVV2 = testCVV
		if cards[i].PAN == notEnrolled {
			cards[i].Balance = 100
		}
	}
	s.Switch = switchtest.Run(t, switchtest.Options{Log: logFile, Cards: cards, ThreeDS: true, Configure: func(c *daemon.Config) {
		m := &c.Payments.Merchants[0]
		m.Name, m.URL, m.MCC, m.Country = merchantName, shopURL, "5722", "KZ"
		c.HPP.Secret, c.HPP.Title = "0123456789abcdef0123456789abcdef", "Tulpar Test"
	}})
	s.svc = s.D.Payments()
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
		Merchant: switchtest.Merchant, Number: fmt.Sprintf("%s-%d", s.t.Name(), n), Amount: 1_500_000, Description: description,
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

// counter reads one counter of the switch's metrics.
func (s *stack) counter(name, label, value string) float64 {
	s.t.Helper()
	return switchtest.Counter(s.t, s.D.Registry(), name, label, value)
}

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
	formRe   = regexp.MustCompile(`<form method="post" action="([^"]*)"[^>]*>`)
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
