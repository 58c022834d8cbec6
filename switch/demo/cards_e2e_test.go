package demo_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/demo"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// buyer is a browser without JavaScript: it keeps cookies and submits the
// auto-submitting forms the pages carry, as a browser's noscript path does.
type buyer struct {
	t  *testing.T
	hc *http.Client
}

// newBuyer is a browser without scripts: cookies, no redirects followed,
// and the demo's CA trusted.
func newBuyer(t *testing.T, d *demo.Demo) *buyer {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	hc := d.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &buyer{t, hc}
}

type page struct {
	status int
	url    *url.URL
	loc    string
	body   string
}

func (b *buyer) do(method, u string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	require.NoError(b.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.hc.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return page{resp.StatusCode, resp.Request.URL, resp.Header.Get("Location"), string(data)}
}

var (
	csrfRe   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	formRe   = regexp.MustCompile(`<form method="post" action="([^"]*)"[^>]*>`)
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	otpRe    = regexp.MustCompile(`<strong id="otp">(\d{6})</strong>`)
)

// form reads the page's form: absolute action and hidden fields.
func (p page) form(t *testing.T) (string, url.Values) {
	t.Helper()
	m := formRe.FindStringSubmatch(p.body)
	require.NotNil(t, m, "no form in:\n%s", p.body)
	action, err := p.url.Parse(html.UnescapeString(m[1]))
	require.NoError(t, err)
	v := url.Values{}
	for _, in := range hiddenRe.FindAllStringSubmatch(p.body, -1) {
		v.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	return action.String(), v
}

// TestEveryTestCardEndToEnd: for each test card, register over the RBS
// API, submit the hosted page, pass 3-D Secure at the simulated ACS when it
// asks, and read the status back: real HTTP, real ISO 8583 over TCP to
// both simulated banks, a real bbolt journal.
func TestEveryTestCardEndToEnd(t *testing.T) {
	d := startDemo(t)
	rest := func(method string, form url.Values) map[string]any {
		form.Set("userName", d.Secrets.UserName)
		form.Set("password", d.Secrets.Password)
		resp, err := d.Client().PostForm(d.URL()+"/payment/rest/"+method, form)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out
	}
	cases := []struct {
		name, pan string
		secret    string // one-time code (read from the page) or 3DS1 password
		status    float64
		eci       float64
		action    float64
	}{
		{"frictionless", "4111111111111111", "", 2, 5, 0},
		{"challenge with one-time code", "5555555555555599", "otp", 2, 2, 0},
		// The demo merchant allows three attempts: a failed one leaves the
		// order registered, waiting for another card, with the decline's
		// action code.
		{"frictionless failure", "5168494895055780", "", 0, 0, -2006},
		{"attempt", "4000001111111118", "", 2, 6, 0},
		{"not enrolled", "4444555511113333", "", 2, 7, 0},
		{"3-D Secure 1 password page", "4012001038166662", "password", 2, 5, 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := rest("register.do", url.Values{"orderNumber": {"card-" + string(rune('a'+i))}, "amount": {"12345"},
				"returnUrl": {"https://shop.example.kz/ok"}, "failUrl": {"https://shop.example.kz/fail"}, "language": {"en"}})
			formURL, _ := reg["formUrl"].(string)
			require.NotEmpty(t, formURL, "%v", reg)
			b := newBuyer(t, d)
			p := b.do(http.MethodGet, formURL, nil)
			require.Equal(t, http.StatusOK, p.status)
			token := csrfRe.FindStringSubmatch(p.body)
			require.NotNil(t, token)
			p = b.do(http.MethodPost, formURL, url.Values{"csrf": {token[1]}, "pan": {tc.pan}, "expiry": {"12/30"},
				"cvv2": {"123"}, "holder": {"TEST BUYER"}, "email": {"buyer@example.kz"}})
			if tc.secret != "" {
				require.Equal(t, http.StatusOK, p.status, p.body)
				action, v := p.form(t) // the auto-submit to the ACS
				acs := b.do(http.MethodPost, action, v)
				require.Equal(t, http.StatusOK, acs.status, acs.body)
				code := tc.secret
				if code == "otp" {
					m := otpRe.FindStringSubmatch(acs.body)
					require.NotNil(t, m, acs.body)
					code = m[1]
				}
				action, v = acs.form(t)
				v.Set("code", code)
				back := b.do(http.MethodPost, action, v) // the ACS sends the browser home
				action, v = back.form(t)
				require.True(t, strings.HasPrefix(action, d.URL()+"/pay/"), action)
				p = b.do(http.MethodPost, action, v)
			}
			require.Equal(t, http.StatusSeeOther, p.status, p.body)
			require.Contains(t, p.loc, "/result")

			st := rest("getOrderStatusExtended.do", url.Values{"orderId": {reg["orderId"].(string)}})
			require.Equal(t, tc.status, st["orderStatus"], "%v", st)
			require.Equal(t, tc.action, st["actionCode"])
			if tc.status == 2 {
				info := st["cardAuthInfo"].(map[string]any)
				require.Equal(t, tc.eci, info["secureAuthInfo"].(map[string]any)["eci"])
				require.Len(t, info["approvalCode"], 6)
				require.NotEmpty(t, st["authRefNum"])
			}
		})
	}
}

// TestSecondSubmitDuringChallenge: a buyer who reloads the page and pays
// with another card while a challenge is open gets a fresh 3-D Secure
// attempt, passes it, and the order is paid once.
func TestSecondSubmitDuringChallenge(t *testing.T) {
	d := startDemo(t)
	form := url.Values{"userName": {d.Secrets.UserName}, "password": {d.Secrets.Password}, "orderNumber": {"twice"},
		"amount": {"4321"}, "returnUrl": {"https://shop.example.kz/ok"}, "language": {"en"}}
	resp, err := d.Client().PostForm(d.URL()+"/payment/rest/register.do", form)
	require.NoError(t, err)
	var reg struct{ OrderID, FormURL string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&reg))
	resp.Body.Close()

	submit := func(b *buyer, pan string) page {
		p := b.do(http.MethodGet, reg.FormURL, nil)
		token := csrfRe.FindStringSubmatch(p.body)
		require.NotNil(t, token, p.body)
		p = b.do(http.MethodPost, reg.FormURL, url.Values{"csrf": {token[1]}, "pan": {pan}, "expiry": {"12/30"},
			"cvv2": {"123"}, "holder": {"TEST BUYER"}})
		require.Equal(t, http.StatusOK, p.status, p.body)
		return p
	}
	b := newBuyer(t, d)
	first := submit(b, "5555555555555599")
	// The page again, another card: the first challenge is abandoned, and
	// 3-D Secure refuses a second, different request under one id.
	second := submit(b, "4012001038166662")

	action, v := second.form(t)
	acs := b.do(http.MethodPost, action, v)
	require.Equal(t, http.StatusOK, acs.status, acs.body)
	action, v = acs.form(t)
	v.Set("code", "password")
	back := b.do(http.MethodPost, action, v)
	action, v = back.form(t)
	require.Equal(t, http.StatusSeeOther, b.do(http.MethodPost, action, v).status)

	o, err := d.Payments().Get(context.Background(), reg.OrderID)
	require.NoError(t, err)
	require.Equal(t, order.StatusDeposited, o.Status, "%+v", o.Ops)
	require.Equal(t, reg.OrderID+"-a2", o.ThreeDS.TransID)
	paid := 0
	for _, op := range o.Ops {
		if op.Type == order.OpPurchase && op.Status == order.OpApproved {
			paid++
		}
	}
	require.Equal(t, 1, paid, "paid once")

	// The abandoned first challenge finished late changes nothing.
	action, v = first.form(t)
	acs = b.do(http.MethodPost, action, v)
	if m := otpRe.FindStringSubmatch(acs.body); m != nil {
		action, v = acs.form(t)
		v.Set("code", m[1])
		back = b.do(http.MethodPost, action, v)
		action, v = back.form(t)
		b.do(http.MethodPost, action, v)
	}
	again, err := d.Payments().Get(context.Background(), reg.OrderID)
	require.NoError(t, err)
	// The demo merchant fiscalizes: its fiscal receipt may be recorded with
	// the order meanwhile, which is a change of its own; the payment is not.
	require.Equal(t, o.Ops, again.Ops, "no operation added or changed")
	require.Equal(t, o.Status, again.Status)
	require.Equal(t, o.ThreeDS, again.ThreeDS)
}
