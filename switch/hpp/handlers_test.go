package hpp_test

import (
	"encoding/json"
	"html"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/throttle"
)

const amountKZT = "15\u00a0000,00\u00a0₸"

func TestPageInEachLanguage(t *testing.T) {
	s := newStack(t)
	tests := []struct {
		name      string
		orderLang string
		query     string
		wantLang  string
		words     []string
	}{
		{"kazakh from the order", "kk", "", "kk", []string{"Карта нөмірі", "Жарамдылық мерзімі", "Карта иесінің аты", amountKZT + " төлеу"}},
		{"russian from the order", "ru", "", "ru", []string{"Номер карты", "Срок действия", "Имя владельца карты", "Оплатить " + amountKZT}},
		{"english from the query", "ru", "?lang=en", "en", []string{"Card number", "Valid thru", "Cardholder name", "Pay " + amountKZT}},
		{"kazakh from the query", "en", "?lang=kk", "kk", []string{"Карта нөмірі", amountKZT + " төлеу"}},
		{"unknown query language falls back to the order's", "kk", "?lang=de", "kk", []string{"Карта нөмірі"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := s.register(orderSpec{lang: tc.orderLang})
			r := newBrowser(t).get(s.URL() + "/pay/" + o.ID + tc.query)
			require.Equal(t, http.StatusOK, r.status, r.body)
			require.Contains(t, r.body, `<html lang="`+tc.wantLang+`">`)
			require.Contains(t, r.body, `<dd id="amount">`+amountKZT+`</dd>`)
			// html/template escapes the merchant's name; the page shows it as registered.
			require.Contains(t, r.body, "Altyn &lt;Shop&gt; &amp; Co")
			require.Contains(t, r.body, description)
			require.Contains(t, r.body, o.Number)
			for _, w := range tc.words {
				require.Contains(t, r.body, w)
			}
			// The switcher offers the three languages, marking the current one.
			for _, l := range []string{"kk", "ru", "en"} {
				require.Contains(t, r.body, `href="/pay/`+o.ID+`?lang=`+l+`"`)
			}
			require.Contains(t, r.body, `hreflang="`+tc.wantLang+`" aria-current="true"`)
		})
	}
}

// TestPageShowsTheCart: the merchant's goods are on the page, each line
// with its amount in its own currency (a Processing.kz goodsList may mix
// them, and is never summed against the total).
func TestPageShowsTheCart(t *testing.T) {
	s := newStack(t)
	o := s.register(orderSpec{lang: "kk", cart: []order.CartItem{
		{Name: "Шай <қара>", Quantity: 1, Price: 1_000_000, Code: "TEA-1"},
		{Name: "Кесе", Quantity: 2, Price: 250_000},
		{Name: "Gift card", Quantity: 1, Price: 1000, Currency: "840"},
	}})
	r := newBrowser(t).get(s.URL() + "/pay/" + o.ID)
	require.Equal(t, http.StatusOK, r.status)
	for _, want := range []string{
		`<div class="line"><dt>Шай &lt;қара&gt;</dt><dd>10` + "\u00a0" + `000,00` + "\u00a0" + `₸</dd></div>`,
		`<div class="line"><dt>Кесе × 2</dt><dd>5` + "\u00a0" + `000,00` + "\u00a0" + `₸</dd></div>`,
		`<div class="line"><dt>Gift card</dt><dd>10,00` + "\u00a0" + `$</dd></div>`,
	} {
		require.Contains(t, r.body, want)
	}
}

func TestFormFieldsForPhonesAndAutofill(t *testing.T) {
	s := newStack(t)
	o := s.register(orderSpec{lang: "ru"})
	r := newBrowser(t).get(s.URL() + "/pay/" + o.ID)
	require.Equal(t, http.StatusOK, r.status)
	for _, want := range []string{
		`name="viewport" content="width=device-width,initial-scale=1"`,
		`id="pan" name="pan" type="text" inputmode="numeric" autocomplete="cc-number"`,
		`id="expiry" name="expiry" type="text" inputmode="numeric" autocomplete="cc-exp"`,
		`id="cvv2" name="cvv2" type="password" inputmode="numeric" autocomplete="cc-csc"`,
		`autocomplete="cc-name"`,
		`autocomplete="email"`,
		`placeholder="ММ/ГГ"`,
		`<script src="/pay/hpp.js?v=`,
		`<link rel="stylesheet" href="/pay/hpp.css?v=`,
	} {
		require.Contains(t, r.body, want)
	}
	// No external resource of any kind.
	require.NotRegexp(t, `(src|href)="(https?:)?//`, r.body)
	// The buyer's e-mail from the order is offered.
	require.NotContains(t, r.body, "<script>")
}

// The form hands its script routing's brand table, the one the server
// checks with; the script has none of its own.
func TestFormCarriesRoutingsBrandTable(t *testing.T) {
	s := newStack(t)
	o := s.register(orderSpec{lang: "en"})
	r := newBrowser(t).get(s.URL() + "/pay/" + o.ID)
	require.Equal(t, http.StatusOK, r.status)
	m := regexp.MustCompile(`<form id="payform" [^>]*data-brands="([^"]*)"`).FindStringSubmatch(r.body)
	require.NotNil(t, m, "no data-brands on the form")
	var rows [][4]any
	require.NoError(t, json.Unmarshal([]byte(html.UnescapeString(m[1])), &rows))
	table := routing.BrandTable()
	require.Len(t, rows, len(table))
	for i, row := range table {
		require.Equal(t, [4]any{float64(row.Digits), float64(row.Lo), float64(row.Hi), row.Brand}, rows[i])
	}
}

func TestAssets(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t)
	for name, ctype := range map[string]string{"hpp.js": "javascript", "hpp.css": "text/css"} {
		r := b.get(s.URL() + "/pay/" + name + "?v=1")
		require.Equal(t, http.StatusOK, r.status, name)
		require.Contains(t, r.header.Get("Content-Type"), ctype)
		require.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
	}
	require.Contains(t, b.get(s.URL()+"/pay/hpp.css").body, "max-width:359px")
	// Everything lives under /pay/, the one prefix the daemon mounts (the
	// requests above went through it); nothing else of the package is
	// served.
	for _, path := range []string{"/pay/form.html", "/pay/templates/form.html", "/pay/doc.go", "/pay/assets/hpp.js"} {
		require.Equal(t, http.StatusNotFound, b.get(s.URL()+path).status, path)
	}
}

func TestSecurityHeaders(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t)
	paid := s.register(orderSpec{lang: "en"})
	form := b.get(s.URL() + "/pay/" + paid.ID)
	r := b.post(s.URL()+"/pay/"+paid.ID, card(csrfToken(t, form.body), frictionless))
	result := b.get(r.follow(t))
	ch := s.register(orderSpec{lang: "en"})
	chForm := b.get(s.URL() + "/pay/" + ch.ID)
	chPage := b.post(s.URL()+"/pay/"+ch.ID, card(csrfToken(t, chForm.body), challenge))
	forbidden := b.post(s.URL()+"/pay/"+ch.ID, url.Values{"csrf": {"nope"}})
	missing := b.get(s.URL() + "/pay/0190f3c2-0000-7000-8000-000000000000")

	pages := map[string]response{"form": form, "result": result, "challenge": chPage, "forbidden": forbidden, "not found": missing}
	for name, p := range pages {
		t.Run(name, func(t *testing.T) {
			h := p.header
			require.Equal(t, "DENY", h.Get("X-Frame-Options"))
			require.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
			require.Equal(t, "no-store", h.Get("Cache-Control"))
			require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
			csp := h.Get("Content-Security-Policy")
			require.Contains(t, csp, "frame-ancestors 'none'")
			if name == "challenge" {
				require.Equal(t, http.StatusOK, p.status, p.body)
				require.Contains(t, csp, "form-action 'self' "+s.ACSURL)
				require.Contains(t, p.body, `action="`+s.ACSURL+`/acs/challenge`)
				return
			}
			require.Contains(t, csp, "default-src 'self'")
			require.Contains(t, csp, "form-action 'self'")
			require.NotContains(t, csp, "unsafe-inline")
		})
	}
	// The cookie behind the CSRF token.
	var c *http.Cookie
	for _, ck := range (&http.Response{Header: form.header}).Cookies() {
		if ck.Name == "tulpar_hpp" {
			c = ck
		}
	}
	require.NotNil(t, c, "no CSRF cookie")
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.Equal(t, "/pay/"+paid.ID, c.Path)
}

func TestCSRF(t *testing.T) {
	s := newStack(t)
	tests := []struct {
		name string
		// prepare returns the browser that posts and the token it sends.
		prepare func(t *testing.T, o *order.Order) (*browser, string)
	}{
		{"no cookie, no token", func(t *testing.T, o *order.Order) (*browser, string) {
			return newBrowser(t), ""
		}},
		{"cookie, no token", func(t *testing.T, o *order.Order) (*browser, string) {
			b := newBrowser(t)
			b.get(s.URL() + "/pay/" + o.ID)
			return b, ""
		}},
		{"cookie, wrong token", func(t *testing.T, o *order.Order) (*browser, string) {
			b := newBrowser(t)
			tok := csrfToken(t, b.get(s.URL()+"/pay/"+o.ID).body)
			return b, tok[:len(tok)-2] + "AA"
		}},
		{"token without its cookie", func(t *testing.T, o *order.Order) (*browser, string) {
			// An attacker who opened the page himself has a token, but the
			// victim's browser does not carry his cookie.
			tok := csrfToken(t, newBrowser(t).get(s.URL()+"/pay/"+o.ID).body)
			victim := newBrowser(t)
			victim.get(s.URL() + "/pay/" + o.ID)
			return victim, tok
		}},
		{"token of another order", func(t *testing.T, o *order.Order) (*browser, string) {
			b := newBrowser(t)
			other := s.register(orderSpec{})
			b.get(s.URL() + "/pay/" + o.ID)
			return b, csrfToken(t, b.get(s.URL()+"/pay/"+other.ID).body)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := s.register(orderSpec{lang: "kk"})
			before := s.counter("tulpar_hpp_submits_total", "outcome", "csrf")
			b, tok := tc.prepare(t, o)
			r := b.post(s.URL()+"/pay/"+o.ID, card(tok, frictionless))
			require.Equal(t, http.StatusForbidden, r.status, r.body)
			require.Contains(t, r.body, "Бет ескірген")
			require.NotContains(t, r.body, frictionless)
			got := s.get(o.ID)
			require.Equal(t, order.StatusRegistered, got.Status)
			require.Nil(t, got.Card, "nothing may reach payments")
			require.Equal(t, o.Version, got.Version)
			require.Equal(t, before+1, s.counter("tulpar_hpp_submits_total", "outcome", "csrf"))
		})
	}
}

func TestBadCardRerendersForm(t *testing.T) {
	s := newStack(t)
	tests := []struct {
		name    string
		lang    string
		change  url.Values
		field   string
		message string
	}{
		{"Luhn", "ru", url.Values{"pan": {"4111 1111 1111 1112"}}, "pan", "Проверьте номер карты."},
		{"too short", "en", url.Values{"pan": {"4111 1111"}}, "pan", "Check the card number."},
		{"brand not accepted", "en", url.Values{"pan": {"9000 0000 0000 0001"}}, "pan", "Cards of this payment system are not accepted."},
		{"expiry month", "kk", url.Values{"expiry": {"13/30"}}, "expiry", "Мерзімді АА/ЖЖ түрінде енгізіңіз."},
		{"card expired", "ru", url.Values{"expiry": {"01/20"}}, "expiry", "Срок действия карты истёк."},
		{"cvv2 short", "en", url.Values{"cvv2": {"91"}}, "cvv2", "Enter the 3 or 4 digits of CVV2/CVC2."},
		{"holder missing", "kk", url.Values{"holder": {"  "}}, "holder", "Атыңызды картада жазылғандай енгізіңіз."},
		{"holder with digits", "en", url.Values{"holder": {"R2D2"}}, "holder", "Enter the name as it is written on the card."},
		{"e-mail", "ru", url.Values{"email": {"buyer at example"}}, "email", "Проверьте адрес e-mail."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := s.register(orderSpec{lang: tc.lang})
			b := newBrowser(t)
			v := card(csrfToken(t, b.get(s.URL()+"/pay/"+o.ID).body), frictionless)
			for k, vs := range tc.change {
				v[k] = vs
			}
			r := b.post(s.URL()+"/pay/"+o.ID, v)
			require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
			require.Contains(t, r.body, `<p class="err" id="`+tc.field+`-err"`)
			require.Regexp(t, `id="`+tc.field+`" [^>]*aria-invalid="true"`, r.body)
			require.Contains(t, r.body, ">"+tc.message+"</p>")
			require.Contains(t, r.body, `role="alert"`)
			// Never the card back into the page; the rest is kept.
			for _, secret := range []string{frictionless, spaced(frictionless), v.Get("pan"), digits(v.Get("pan"))} {
				if len(digits(secret)) >= 8 {
					require.NotContains(t, r.body, secret)
				}
			}
			require.NotContains(t, r.body, `value="`+v.Get("cvv2")+`"`)
			require.NotContains(t, r.body, `value="`+v.Get("expiry")+`"`)
			if tc.field != "holder" {
				require.Contains(t, r.body, `value="AIGERIM NURLANOVA"`)
			}
			if tc.field != "email" {
				require.Contains(t, r.body, `value="buyer@example.kz"`)
			}
			// The form still works: a fresh token and the same cookie.
			got := s.get(o.ID)
			require.Equal(t, order.StatusRegistered, got.Status)
			require.Nil(t, got.Card)
			r = b.post(s.URL()+"/pay/"+o.ID, card(csrfToken(t, r.body), frictionless))
			require.Equal(t, http.StatusSeeOther, r.status, r.body)
			require.Equal(t, order.StatusDeposited, s.get(o.ID).Status)
		})
	}
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func TestExpiredOrder(t *testing.T) {
	s := newStack(t)
	o := s.register(orderSpec{lang: "en", failURL: shopURL + "/fail"})
	b := newBrowser(t)
	tok := csrfToken(t, b.get(s.URL()+"/pay/"+o.ID).body)
	s.Advance(time.Hour)

	r := b.get(s.URL() + "/pay/" + o.ID)
	require.Equal(t, http.StatusGone, r.status)
	require.Contains(t, r.body, "<h1>Payment session expired</h1>")
	require.NotContains(t, r.body, `name="pan"`)
	require.Contains(t, r.body, `id="back" href="`+shopURL+`/fail?orderId=`+o.ID+`"`)

	// A form opened before the end cannot pay after it.
	r = b.post(s.URL()+"/pay/"+o.ID, card(tok, frictionless))
	require.Equal(t, http.StatusGone, r.status)
	require.Contains(t, r.body, "Payment session expired")
	got := s.get(o.ID)
	require.Equal(t, order.StatusDeclined, got.Status)
	require.Equal(t, order.ActionExpired, got.ActionCode)
	require.Nil(t, got.Card)

	r = b.get(s.URL() + "/pay/" + o.ID + "?lang=ru")
	require.Contains(t, r.body, "Время оплаты истекло")
	r = b.get(s.URL() + "/pay/" + o.ID + "/result?lang=kk")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, "Төлем уақыты өтті")
}

func TestResultRedirectsToTheOrdersURL(t *testing.T) {
	s := newStack(t)
	tests := []struct {
		name       string
		order      orderSpec
		pan        string
		status     order.Status
		heading    string
		text       string
		redirectTo string
	}{
		{"one-stage approved", orderSpec{lang: "en", failURL: shopURL + "/fail"}, frictionless, order.StatusDeposited,
			"Payment successful", "Request processed successfully", shopURL + "/ok?cart=7&orderId="},
		{"two-stage approved", orderSpec{lang: "kk", twoStage: true}, frictionless, order.StatusApproved,
			"Төлем сәтті өтті", "Сұраныс сәтті өңделді", shopURL + "/ok?cart=7&orderId="},
		{"declined to the fail URL", orderSpec{lang: "ru", failURL: shopURL + "/fail"}, notEnrolled, order.StatusDeclined,
			"Оплата не прошла", "Банк отклонил платёж", shopURL + "/fail?orderId="},
		{"declined without a fail URL goes to the return URL", orderSpec{lang: "en"}, notEnrolled, order.StatusDeclined,
			"Payment failed", "The bank declined the payment", shopURL + "/ok?cart=7&orderId="},
		{"a bad return URL falls back to the merchant's site", orderSpec{lang: "en", returnURL: "javascript:alert(1)"}, frictionless, order.StatusDeposited,
			"Payment successful", "Request processed successfully", shopURL + "?orderId="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := s.register(tc.order)
			b := newBrowser(t)
			r := b.post(s.URL()+"/pay/"+o.ID, card(csrfToken(t, b.get(s.URL()+"/pay/"+o.ID).body), tc.pan))
			require.Equal(t, http.StatusSeeOther, r.status, r.body)
			next := r.follow(t)
			require.True(t, strings.HasPrefix(next, s.URL()+"/pay/"+o.ID+"/result"), next)

			// Whatever the request says, the way back is the order's.
			r = b.get(next + "&returnUrl=https://evil.example/&failUrl=https://evil.example/")
			require.Equal(t, http.StatusOK, r.status, r.body)
			require.Contains(t, r.body, "<h1>"+tc.heading+"</h1>")
			require.Contains(t, r.body, tc.text)
			require.NotContains(t, r.body, order.ActionText(order.ActionFunds, tc.order.lang), "never the issuer's reason")
			require.NotContains(t, r.body, "evil.example")
			require.Regexp(t, `<dd id="card">\d{6}\*{6}\d{4}</dd>`, r.body) // the masked card is shown...
			require.NotContains(t, r.body, tc.pan)                          // ...never the card
			want := tc.redirectTo + o.ID
			m := metaRe.FindStringSubmatch(r.body)
			require.NotNil(t, m, r.body)
			require.Equal(t, "2", m[1])
			require.Equal(t, want, htmlUnescape(m[2]))
			back := backRe.FindStringSubmatch(r.body)
			require.NotNil(t, back)
			require.Equal(t, want, htmlUnescape(back[1]))
			require.Equal(t, tc.status, s.get(o.ID).Status)

			// Back to the form after the payment: the result again, no form.
			r = b.get(s.URL() + "/pay/" + o.ID)
			require.Equal(t, http.StatusSeeOther, r.status)
			require.Contains(t, r.follow(t), "/pay/"+o.ID+"/result")
		})
	}
}

func htmlUnescape(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }

// TestChallengeOverHTTP runs the 3-D Secure challenge as a browser without
// JavaScript would: follow the auto-submitting forms by hand.
func TestChallengeOverHTTP(t *testing.T) {
	s := newStack(t)
	o := s.register(orderSpec{lang: "ru", failURL: shopURL + "/fail"})
	b := newBrowser(t)
	r := b.post(s.URL()+"/pay/"+o.ID, card(csrfToken(t, b.get(s.URL()+"/pay/"+o.ID).body), challenge))
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.NotContains(t, r.body, challenge)
	require.Equal(t, order.Status3DS, s.get(o.ID).Status)
	require.Equal(t, 1.0, s.counter("tulpar_hpp_submits_total", "outcome", "challenge"))

	// While the buyer is at the ACS the result page waits.
	wait := newBrowser(t).get(s.URL() + "/pay/" + o.ID + "/result")
	require.Contains(t, wait.body, "Банк подтверждает платёж")
	require.Regexp(t, `content="3;url=/pay/`+o.ID+`/result\?lang=ru"`, wait.body)
	require.Contains(t, wait.body, `id="again" href="/pay/`+o.ID+`?lang=ru"`)

	action, v := autoForm(t, r)
	acsPage := b.post(action, v)
	require.Equal(t, http.StatusOK, acsPage.status, acsPage.body)
	code := otpRe.FindStringSubmatch(acsPage.body)
	require.NotNil(t, code, acsPage.body)
	action, v = autoForm(t, acsPage)
	v.Set("code", code[1])
	back := b.post(action, v)
	action, v = autoForm(t, back)
	require.Equal(t, s.URL()+"/pay/"+o.ID+"/3ds?lang=ru", action)
	require.Equal(t, "Y", v.Get("transStatus"))

	// The POST back comes from another site: no cookie, no token.
	r = newBrowser(t).post(action, v)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, s.URL()+"/pay/"+o.ID+"/result?lang=ru", r.follow(t))
	got := s.get(o.ID)
	require.Equal(t, order.StatusDeposited, got.Status)
	require.Equal(t, "02", got.ThreeDS.ECI)

	// A replay finds the order decided and changes nothing.
	r = newBrowser(t).post(action, v)
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Equal(t, got.Version, s.get(o.ID).Version)
	res := b.get(s.URL() + "/pay/" + o.ID + "/result")
	require.Contains(t, res.body, "Оплата прошла успешно")
	require.Contains(t, res.body, "555555******5599")
}

// TestThreeDSReturnIsNotTrusted: the browser's transStatus decides nothing.
func TestThreeDSReturnIsNotTrusted(t *testing.T) {
	s := newStack(t)

	t.Run("claimed success for an order never at the ACS", func(t *testing.T) {
		o := s.register(orderSpec{lang: "en"})
		r := newBrowser(t).post(s.URL()+"/pay/"+o.ID+"/3ds", url.Values{"threeDSServerTransID": {o.ID}, "transStatus": {"Y"}})
		require.Equal(t, http.StatusSeeOther, r.status, r.body)
		got := s.get(o.ID)
		require.Equal(t, order.StatusRegistered, got.Status)
		require.Equal(t, o.Version, got.Version)
	})
	t.Run("claimed success while the challenge is open", func(t *testing.T) {
		o := s.register(orderSpec{lang: "en"})
		b := newBrowser(t)
		r := b.post(s.URL()+"/pay/"+o.ID, card(csrfToken(t, b.get(s.URL()+"/pay/"+o.ID).body), challenge))
		require.Equal(t, http.StatusOK, r.status)
		r = newBrowser(t).post(s.URL()+"/pay/"+o.ID+"/3ds", url.Values{"threeDSServerTransID": {o.ID}, "transStatus": {"Y"}})
		require.Equal(t, http.StatusSeeOther, r.status, r.body)
		got := s.get(o.ID)
		require.Equal(t, order.Status3DS, got.Status, "the buyer's challenge is still open: nothing is decided")
	})
	t.Run("another order's id", func(t *testing.T) {
		o := s.register(orderSpec{lang: "en"})
		other := s.register(orderSpec{lang: "en"})
		r := newBrowser(t).post(s.URL()+"/pay/"+o.ID+"/3ds", url.Values{"threeDSServerTransID": {other.ID}, "transStatus": {"Y"}})
		require.Equal(t, http.StatusBadRequest, r.status)
		require.Equal(t, o.Version, s.get(o.ID).Version)
		require.Equal(t, other.Version, s.get(other.ID).Version)
	})
	t.Run("no transaction id", func(t *testing.T) {
		o := s.register(orderSpec{lang: "en"})
		r := newBrowser(t).post(s.URL()+"/pay/"+o.ID+"/3ds", url.Values{"transStatus": {"Y"}})
		require.Equal(t, http.StatusBadRequest, r.status)
	})
}

func TestUnknownOrder(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t)
	for _, path := range []string{
		"/pay/0190f3c2-0000-7000-8000-000000000000", "/pay/0190f3c2-0000-7000-8000-000000000000/result",
		"/pay/bad;id", "/pay/" + strings.Repeat("a", 65),
	} {
		r := b.get(s.URL() + path)
		require.Equal(t, http.StatusNotFound, r.status, path)
		require.Contains(t, r.body, "Заказ не найден", path)
	}
	r := b.get(s.URL() + "/pay/0190f3c2-0000-7000-8000-000000000000?lang=en")
	require.Contains(t, r.body, "Order not found")
}

// TestLogsOrderAndMaskedCardOnly: the page logs what support needs (order,
// masked card, outcome) and nothing of the card itself, nor the form.
func TestLogsOrderAndMaskedCardOnly(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t)
	bad := s.register(orderSpec{lang: "en"})
	v := card(csrfToken(t, b.get(s.URL()+"/pay/"+bad.ID).body), frictionless)
	v.Set("expiry", "13/30")
	require.Equal(t, http.StatusUnprocessableEntity, b.post(s.URL()+"/pay/"+bad.ID, v).status)
	good := s.register(orderSpec{lang: "en"})
	require.Equal(t, http.StatusSeeOther, b.post(s.URL()+"/pay/"+good.ID, card(csrfToken(t, b.get(s.URL()+"/pay/"+good.ID).body), frictionless)).status)

	logged, err := os.ReadFile(filepath.Join(s.logDir, "tulpar.log"))
	require.NoError(t, err)
	lines := string(logged)
	for _, id := range []string{bad.ID, good.ID} {
		require.Regexp(t, `"component":"hpp","order":"`+id+`","pan":"411111\*{6}1111","outcome":"(invalid_card|approved)"`, lines)
	}
	// The CVV2 is three digits: any hex id may hold them, so it is looked
	// for as a value.
	for _, secret := range []string{frictionless, `"` + testCVV + `"`, "=" + testCVV, "AIGERIM", "buyer@example.kz", "csrf", "13/30"} {
		require.NotContains(t, lines, secret)
	}
}

// Card testing: one address may try only so many cards a minute, over all
// orders. The card past the limit never reaches the bank; the buyer is
// told to wait and for how long; another address is not held back.
func TestCardAttemptsThrottledByAddress(t *testing.T) {
	s := newStack(t, func(c *daemon.Config) {
		c.HPP.CardAttempts = throttle.Config{PerMinute: 1, Burst: 2, Exempt: []string{"127.0.0.3"}}
	})
	pay := func(b *browser) response {
		o := s.register(orderSpec{lang: "en"})
		return b.post(s.URL()+"/pay/"+o.ID, card(csrfToken(t, b.get(s.URL()+"/pay/"+o.ID).body), frictionless))
	}
	bot := newBrowser(t)
	for range 2 {
		require.Equal(t, http.StatusSeeOther, pay(bot).status)
	}
	sent := s.Bank.Received("0200")
	r := pay(bot)
	require.Equal(t, http.StatusTooManyRequests, r.status, r.body)
	require.Contains(t, r.body, "Too many cards were tried from your network. Nothing was charged. Try again in ")
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err)
	require.InDelta(t, 60, secs, 31, "one a minute: the next within a minute")
	require.Equal(t, sent, s.Bank.Received("0200"), "the throttled card never reached the bank")
	require.Equal(t, 1.0, s.counter("tulpar_hpp_submits_total", "outcome", "throttled"))

	from := func(local string) *browser {
		b := newBrowser(t)
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
		b.hc.Transport = &http.Transport{DialContext: d.DialContext}
		return b
	}
	require.Equal(t, http.StatusSeeOther, pay(from("127.0.0.2")).status, "another address pays")
	callCentre := from("127.0.0.3")
	for i := range 4 {
		require.Equal(t, http.StatusSeeOther, pay(callCentre).status, "an exempt address is not limited (card %d)", i+1)
	}
}
