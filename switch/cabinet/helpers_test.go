package cabinet_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
	"github.com/tulpar-switch/tulpar/switch/users"
)

// Rival is a second merchant, whose orders the test merchant's users must
// never see.
const Rival = "rival"

// Passwords of the users newStack makes.
const (
	merchantLogin = "anna@shop.kz"
	viewerLogin   = "viewer@shop.kz"
	rivalLogin    = "boss@rival.kz"
	operatorLogin = "operator"
	password      = "Cabinet-pass-1"
)

// stack is the switch with its cabinet on loopback (switchtest: a real
// daemon, a simulated bank over a real ISO 8583 link, a real data file),
// served over HTTPS with a certificate of a CA made for the test, as in
// production; two merchants and a user of each role.
type stack struct {
	*switchtest.Switch
	TLS *switchtest.TLS
	t   testing.TB
	seq atomic.Int64
}

func newStack(t testing.TB, configure ...func(*daemon.Config)) *stack {
	t.Helper()
	s := &stack{t: t, TLS: switchtest.NewTLS(t)}
	s.Switch = switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.CabinetListen = "127.0.0.1:0"
		c.CabinetTLS = &s.TLS.Server
		m := c.Payments.Merchants[0]
		m.Name = "Altyn Shop"
		c.Payments.Merchants[0] = m
		r := m
		r.ID, r.Name = Rival, "Rival Store"
		r.Terminals = map[string]payments.Terminal{switchtest.BankName: {TerminalID: "RIVAL001", MerchantID: "000000000009999"}}
		c.Payments.Merchants = append(c.Payments.Merchants, r)
		// The merchant's callback server in the settings test is on loopback.
		c.API.Merchants[0].CallbackAllowPrivate = true
		for _, f := range configure {
			f(c)
		}
	}})
	us := s.D.Users()
	for _, u := range []users.NewUser{
		{Login: merchantLogin, Role: users.RoleMerchant, Merchant: switchtest.Merchant},
		{Login: viewerLogin, Role: users.RoleViewer, Merchant: switchtest.Merchant},
		{Login: rivalLogin, Role: users.RoleMerchant, Merchant: Rival},
		{Login: operatorLogin, Role: users.RoleOperator},
	} {
		u.Password, u.Permanent = password, true
		_, err := us.Create(context.Background(), u, "test")
		require.NoError(t, err)
	}
	return s
}

// paid registers and pays an order of merchant for amount (minor units)
// with the Visa test card; twoStage leaves it held.
func (s *stack) paid(merchant string, amount int64, twoStage bool) *order.Order {
	s.t.Helper()
	ctx := context.Background()
	svc := s.D.Payments()
	n := s.seq.Add(1)
	reg, err := svc.Register(ctx, payments.RegisterRequest{Merchant: merchant, Number: fmt.Sprintf("%s-%d", merchant, 1000+n), Amount: amount,
		Description: "Электрочайник", TwoStage: twoStage, ReturnURL: "https://shop.example.kz/ok",
		Params: map[string]string{"CMS": "Opencart 2.1.x", "Module-Version": "2.2.0"}})
	require.NoError(s.t, err)
	res, err := svc.Pay(ctx, payments.PayRequest{OrderID: reg.Order.ID, IP: "81.18.144.50",
		Card: payments.CardInput{PAN: switchtest.Visa, Expiry: switchtest.Expiry, CVV2: switchtest.CVV2, Holder: "DGNF TEST"}})
	require.NoError(s.t, err)
	return res.Order
}

// client is a browser without a browser: cookies, no redirects followed,
// so tests see each 303.
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func (s *stack) client() *client { return s.clientFrom("") }

// clientFrom is a client whose connections leave from local, another
// loopback address ("127.0.0.2"), so that the cabinet sees a second
// network; "": the system's choice.
func (s *stack) clientFrom(local string) *client {
	jar, err := cookiejar.New(nil)
	require.NoError(s.t, err)
	hc := s.TLS.Client()
	if local != "" {
		tr := hc.Transport.(*http.Transport)
		tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}).DialContext
	}
	hc.Jar, hc.Timeout = jar, 30*time.Second
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: s.t, base: s.D.CabinetURL(), hc: hc}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(req *http.Request) page {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return page{resp.StatusCode, resp.Header, string(b)}
}

func (c *client) get(path string) page {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	require.NoError(c.t, err)
	return c.do(req)
}

func (c *client) post(path string, v url.Values) page {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(v.Encode()))
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	require.NotNil(t, m, "no CSRF field in the page")
	return m[1]
}

// login signs in and returns the session's CSRF token.
func (c *client) login(login, pw string) page {
	c.t.Helper()
	p := c.get("/login?lang=en")
	require.Equal(c.t, http.StatusOK, p.status)
	return c.post("/login", url.Values{"csrf": {csrf(c.t, p.body)}, "login": {login}, "password": {pw}})
}

// signedIn is a client signed in as login, and its CSRF token.
func (s *stack) signedIn(login string) (*client, string) {
	s.t.Helper()
	c := s.client()
	p := c.login(login, password)
	require.Equal(s.t, http.StatusSeeOther, p.status, p.body)
	home := c.get("/orders")
	require.Equal(s.t, http.StatusOK, home.status, home.body)
	return c, csrf(s.t, home.body)
}
