package paylinks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/audit"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/paylinks"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
	"github.com/tulpar-switch/tulpar/switch/throttle"
)

// world is a switch whose mail goes to mailpit, once startMail starts it.
type world struct {
	*switchtest.Switch
	t        *testing.T
	smtpPort int
	mail     *switchtest.Mailpit
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t}
	port := switchtest.FreePort(t) // nothing listens there until startMail
	w.smtpPort = port
	w.Switch = switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.Mail = mailer.Config{Host: "127.0.0.1", Port: port, Security: "none", From: "Tulpar <invoices@tulpar.test>", Timeout: 5 * time.Second}
	}})
	return w
}

func (w *world) startMail() {
	w.mail = switchtest.StartMailpit(w.t, switchtest.MailpitOptions{SMTPPort: w.smtpPort})
}

// api sends a JSON API request as the test merchant.
func (w *world) api(method, path string, body any) (int, map[string]any) {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(w.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.URL()+path, rd)
	require.NoError(w.t, err)
	req.Header.Set("Authorization", "Bearer "+w.Secrets.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(w.t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(w.t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func (w *world) create(body map[string]any) map[string]any {
	w.t.Helper()
	st, l := w.api("POST", "/v1/payment_links", body)
	require.Equal(w.t, http.StatusCreated, st, "%v", l)
	return l
}

// page GETs a link's page.
func (w *world) page(u string) (int, string) {
	w.t.Helper()
	resp, err := http.Get(u)
	require.NoError(w.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(w.t, err)
	return resp.StatusCode, string(b)
}

// noRedirect is a client that shows redirects rather than following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (w *world) post(u string, form url.Values, header ...string) *http.Response {
	w.t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	require.NoError(w.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noRedirect.Do(req)
	require.NoError(w.t, err)
	resp.Body.Close()
	return resp
}

func decodeQR(t *testing.T, b []byte) string {
	t.Helper()
	return switchtest.ReadQR(t, b)
}

// TestLinkPaidInBrowser: a buyer opens a reusable link whose amount they
// choose in real Chromium on a 320 px phone, types an amount and e-mail,
// lands on the hosted payment page and pays: the order is an ordinary
// one, approved, recording the link; the link lists it and stays active.
func TestLinkPaidInBrowser(t *testing.T) {
	w := newWorld(t)
	back := make(chan string, 4)
	shop := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		back <- r.URL.String()
		_, _ = io.WriteString(rw, "<!DOCTYPE html><title>shop</title><p id=back>thanks</p>")
	}))
	t.Cleanup(shop.Close)
	l := w.create(map[string]any{"min_amount": 10000, "max_amount": 500000, "description": "Қайырымдылық", "ask_email": true,
		"language": "kk", "return_url": shop.URL + "/thanks",
		"custom_fields": []map[string]any{{"name": "contract", "label": "Келісімшарт нөмірі", "required": true}}})
	link := l["url"].(string)

	ctx := switchtest.NewChrome(t, chromedp.WindowSize(320, 800))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(320, 800, chromedp.EmulatePortrait, chromedp.EmulateMobile),
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.ID("f-amount")),
	))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("description")))
	require.NoError(t, err)
	require.Equal(t, "Қайырымдылық", text)
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	require.NoError(t, err)
	require.False(t, wide, "the link's page scrolls sideways at 320 px")
	colour, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById('submit')).backgroundColor`))
	require.NoError(t, err)
	require.Equal(t, "rgb(29, 78, 216)", colour, "the stylesheet passed the page's CSP")

	// Below the minimum: the form again, in Kazakh, naming the field.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("f-amount"), "50"),
		chromedp.SendKeys(chromedp.ID("f-email"), "buyer@example.kz"),
		chromedp.SendKeys(chromedp.ID("f-c-contract"), "K-17"),
	))
	// The form posts and the browser loads a new document: waiting for
	// that load before looking for the next page's elements keeps the
	// queries off the old document's nodes, which vanish under them.
	submit(t, ctx)
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("error"))))
	text, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("error")))
	require.NoError(t, err)
	require.Equal(t, "Сомасы: мәнін тексеріңіз", text)

	require.Equal(t, "50", run(t, ctx, chromedp.Value(chromedp.ID("f-amount"))), "what the buyer typed is kept")
	require.Equal(t, "K-17", run(t, ctx, chromedp.Value(chromedp.ID("f-c-contract"))))
	run(t, ctx, chromedp.Evaluate[string](`document.getElementById('f-amount').value = ''`))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("f-amount"), "1500,50"),
	))
	submit(t, ctx)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("pan")),
		chromedp.SendKeys(chromedp.ID("pan"), switchtest.Visa),
		chromedp.SendKeys(chromedp.ID("expiry"), "1230"),
		chromedp.SendKeys(chromedp.ID("cvv2"), switchtest.CVV2),
		chromedp.SendKeys(chromedp.ID("holder"), "AIGERIM TEST"),
		chromedp.Click(chromedp.ID("pay")),
	))
	require.Contains(t, <-back, "/thanks", "the buyer came back to the shop")

	_, got := w.api("GET", "/v1/payment_links/"+l["code"].(string), nil)
	require.Equal(t, "active", got["status"], "a reusable link stays open")
	ids := got["order_ids"].([]any)
	require.Len(t, ids, 1)
	o := w.Order(ids[0].(string))
	require.Equal(t, order.StatusDeposited, o.Status, "action code %d", o.ActionCode)
	require.EqualValues(t, 150050, o.Amount)
	require.Equal(t, "buyer@example.kz", o.Email)
	require.Equal(t, "kk", o.Language)
	require.Equal(t, l["code"], o.Params[paylinks.ParamLink])
	require.Equal(t, "K-17", o.Params["contract"], "the custom field's answer is in the order's params")
	_, viaAPI := w.api("GET", "/v1/orders/"+o.ID, nil)
	require.Equal(t, "deposited", viaAPI["status"], "the JSON API sees the link's order")
	require.Equal(t, l["code"].(string)+"-1", o.Number)

	// A second buyer: a second order, listed after the first.
	require.Equal(t, http.StatusUnprocessableEntity, w.post(link, url.Values{"amount": {"100"}, "email": {"second@example.kz"}}).StatusCode,
		"a required custom field left empty")
	second := w.post(link, url.Values{"amount": {"100"}, "email": {"second@example.kz"}, "c_contract": {"K-18"}})
	require.Equal(t, http.StatusSeeOther, second.StatusCode)
	id2 := strings.TrimPrefix(second.Header.Get("Location"), "/pay/")
	require.Equal(t, l["code"].(string)+"-2", w.Order(id2).Number)
	_, got = w.api("GET", "/v1/payment_links/"+l["code"].(string), nil)
	require.EqualValues(t, 2, got["order_count"])
	require.Equal(t, []any{o.ID, id2}, got["order_ids"])
}

// TestInvoiceMailed: an invoice made out to a buyer is e-mailed in its
// language with the link's QR code attached, which decodes to the link;
// the mail server is down at first, and the queue retries until it is up.
// The buyer opens it in real Chromium and pays it (two-stage: held), after
// which its page says it is paid and takes no second payment.
func TestInvoiceMailed(t *testing.T) {
	w := newWorld(t)
	back := make(chan string, 4)
	shop := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		back <- r.URL.String()
		_, _ = io.WriteString(rw, "<!DOCTYPE html><title>shop</title><p id=back>thanks</p>")
	}))
	t.Cleanup(shop.Close)
	inv := w.create(map[string]any{"amount": 1500000, "one_time": true, "customer_email": "buyer@example.kz",
		"cart":          []map[string]any{{"name": "Chair", "quantity": 2, "price": 700000}, {"name": "Delivery", "quantity": 1, "price": 100000}},
		"customer_name": "Aigerim", "description": "Invoice 17: two chairs", "language": "en", "capture": "manual",
		"return_url": shop.URL + "/paid", "expires_at": time.Now().Add(72 * time.Hour).Format(time.RFC3339)})
	link := inv["url"].(string)
	w.Eventually(func() bool {
		stats, err := w.D.SAF().Stats()
		require.NoError(t, err)
		for _, q := range stats {
			if q.Queue == paylinks.QueueKey(switchtest.Merchant) && q.HeadLastError != "" {
				return true
			}
		}
		return false
	}, "the send failed while the mail server is down, and stays queued")
	w.startMail()

	var msg switchtest.MailMessage
	w.Eventually(func() bool {
		for _, m := range w.mail.Messages() {
			msg = w.mail.Message(m.ID)
			return true
		}
		return false
	}, "the invoice arrived")
	require.Equal(t, "buyer@example.kz", msg.To[0].Address)
	require.Equal(t, "Invoice from Test Shop: Invoice 17: two chairs", msg.Subject)
	require.Contains(t, msg.Text, "Amount: 15000.00 ₸")
	require.Contains(t, msg.Text, "Pay: "+link)
	require.Len(t, msg.Attachments, 1)
	scanned := decodeQR(t, w.mail.Part(msg.ID, msg.Attachments[0].PartID))
	require.Equal(t, link, scanned, "the attached QR code is the link")

	// The link's own QR codes.
	resp, err := http.Get(link + "/qr.png")
	require.NoError(t, err)
	qr, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, "image/png", resp.Header.Get("Content-Type"))
	require.Equal(t, link, decodeQR(t, qr))
	st, svg := w.page(link + "/qr.svg")
	require.Equal(t, http.StatusOK, st)
	require.True(t, strings.HasPrefix(svg, "<svg"))

	st, body := w.page(link)
	require.Equal(t, http.StatusOK, st)
	require.Contains(t, body, "15000.00 ₸")
	require.NotContains(t, body, `name="email"`, "the invoice's e-mail is fixed, not asked")
	require.Contains(t, body, "<td class=\"name\">Chair</td><td class=\"num\">2 × 7000.00 ₸</td><td class=\"num\">14000.00 ₸</td>")

	// A post from another site is refused (the browser says so).
	require.Equal(t, http.StatusForbidden, w.post(link, url.Values{}, "Sec-Fetch-Site", "cross-site").StatusCode)

	first := w.post(link, url.Values{"lang": {"en"}})
	require.Equal(t, http.StatusSeeOther, first.StatusCode)
	pay := first.Header.Get("Location")
	require.True(t, strings.HasPrefix(pay, "/pay/"), pay)

	// The buyer scans the QR code and pays in the browser: the invoice's
	// unpaid order again, not a second one.
	ctx := switchtest.NewChrome(t, chromedp.WindowSize(320, 800))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(320, 800, chromedp.EmulatePortrait, chromedp.EmulateMobile),
		chromedp.Navigate(scanned),
		chromedp.WaitVisible(chromedp.ID("cart")),
	))
	require.False(t, run(t, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)),
		"the invoice with its cart scrolls sideways at 320 px")
	submit(t, ctx)
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("pan"))))
	require.Equal(t, w.URL()+pay, run(t, ctx, chromedp.Location()))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("pan"), switchtest.Visa),
		chromedp.SendKeys(chromedp.ID("expiry"), "1230"),
		chromedp.SendKeys(chromedp.ID("cvv2"), switchtest.CVV2),
		chromedp.SendKeys(chromedp.ID("holder"), "AIGERIM TEST"),
		chromedp.Click(chromedp.ID("pay")),
	))
	require.Contains(t, <-back, "/paid", "the buyer came back to the shop")
	o := w.Order(strings.TrimPrefix(pay, "/pay/"))
	require.Equal(t, order.StatusApproved, o.Status, "two-stage: held; action code %d", o.ActionCode)
	require.Equal(t, "Aigerim", o.Customer)
	require.Len(t, o.Cart, 2, "the invoice's cart is the order's, for its receipt")
	require.Equal(t, "Chair", o.Cart[0].Name)
	require.Equal(t, "buyer@example.kz", o.Email)

	st, body = w.page(link)
	require.Equal(t, http.StatusOK, st)
	require.Contains(t, body, "This invoice is already paid.")
	require.NotContains(t, body, "<form")
	require.Equal(t, http.StatusOK, w.post(link, url.Values{"lang": {"en"}}).StatusCode, "no second order")
	_, got := w.api("GET", "/v1/payment_links/"+inv["code"].(string), nil)
	require.Equal(t, "paid", got["status"])
	require.Len(t, got["order_ids"], 1)
}

// TestLinkRefused: an expired link and a switched-off perpetual one show
// why in the buyer's language with HTTP 410 and take no payment; an
// unknown code is 404.
func TestLinkRefused(t *testing.T) {
	w := newWorld(t)
	perpetual := w.create(map[string]any{"amount": 5000, "description": "Coffee"})
	st, _ := w.page(perpetual["url"].(string))
	require.Equal(t, http.StatusOK, st)
	st, _ = w.api("POST", "/v1/payment_links/"+perpetual["code"].(string)+"/disable", nil)
	require.Equal(t, http.StatusOK, st)
	st, body := w.page(perpetual["url"].(string))
	require.Equal(t, http.StatusGone, st)
	require.Contains(t, body, "Ссылка отключена магазином.")
	st, body = w.page(perpetual["url"].(string) + "?lang=en")
	require.Equal(t, http.StatusGone, st)
	require.Contains(t, body, "The shop has switched this payment link off.")
	require.Equal(t, http.StatusGone, w.post(perpetual["url"].(string), url.Values{}).StatusCode)

	brief := w.create(map[string]any{"amount": 5000, "language": "kk", "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339)})
	st, _ = w.page(brief["url"].(string))
	require.Equal(t, http.StatusOK, st)
	w.Advance(2 * time.Hour)
	st, body = w.page(brief["url"].(string))
	require.Equal(t, http.StatusGone, st)
	require.Contains(t, body, "Сілтеменің мерзімі өтті.")
	require.Equal(t, http.StatusGone, w.post(brief["url"].(string), url.Values{}).StatusCode)
	_, got := w.api("GET", "/v1/payment_links/"+brief["code"].(string), nil)
	require.Equal(t, "expired", got["status"])
	require.Empty(t, got["order_ids"])

	st, _ = w.page(w.URL() + paylinks.Prefix + "0000000000")
	require.Equal(t, http.StatusNotFound, st)
}

// submit clicks the link form's button and waits until the document the
// post leads to has loaded.
func submit(t *testing.T, ctx context.Context) {
	t.Helper()
	_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("submit")))
	require.NoError(t, err)
}

func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err)
	return v
}

// TestLinkNumberTakenByACrash: an order registered through a link whose
// count a crash kept from being recorded holds the link's next number;
// the next buyer gets the number after it, not an error for ever after.
func TestLinkNumberTakenByACrash(t *testing.T) {
	w := newWorld(t)
	l := w.create(map[string]any{"amount": 5000, "description": "Coffee"})
	code := l["code"].(string)
	_, err := w.D.Payments().Register(context.Background(), payments.RegisterRequest{Merchant: switchtest.Merchant, Number: code + "-1",
		Amount: 5000, ReturnURL: "https://shop.example.kz/ok"})
	require.NoError(t, err)
	resp := w.post(l["url"].(string), url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	id := path.Base(resp.Header.Get("Location"))
	require.Equal(t, code+"-2", w.Order(id).Number)
}

// TestDisableClosesOpenOrders: a buyer who opened a link before the shop
// switched it off cannot pay the order it made afterwards.
func TestDisableClosesOpenOrders(t *testing.T) {
	w := newWorld(t)
	l := w.create(map[string]any{"amount": 5000, "description": "Coffee"})
	resp := w.post(l["url"].(string), url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	id := path.Base(resp.Header.Get("Location"))
	require.Equal(t, order.StatusRegistered, w.Order(id).Status)
	st, _ := w.api("POST", "/v1/payment_links/"+l["code"].(string)+"/disable", nil)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, order.StatusDeclined, w.Order(id).Status, "the open order closed with the link")
	ans := w.Pay(id, switchtest.Visa)
	require.NotEqual(t, "0", fmt.Sprint(ans["errorCode"]), "and cannot be paid: %v", ans)
	require.Equal(t, order.StatusDeclined, w.Order(id).Status)
}

// TestCreateWithCommitsTogether: what CreateWith's caller keeps with a
// new link (the API's answer and idempotency receipt) commits in the
// link's transaction, or neither does.
func TestCreateWithCommitsTogether(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	svc := w.D.PaymentLinks()
	l := paylinks.Link{Merchant: switchtest.Merchant, Amount: 5000, Description: "Coffee"}
	key := payments.ReceiptKey{Merchant: switchtest.Merchant, Key: "together", RequestHash: []byte{7}}
	var code string
	answer := func(made *paylinks.Link) (payments.Record, error) {
		code = made.Code
		return w.D.Payments().ReceiptRecord(key, "", nil, []byte(`{"code":"`+made.Code+`"}`)), nil
	}

	refused := errors.New("the receipt cannot be written")
	_, err := svc.CreateWith(ctx, l, func(made *paylinks.Link) (payments.Record, error) {
		r, err := answer(made)
		r.Put = func(*bolt.Tx) error { return refused }
		return r, err
	})
	require.ErrorIs(t, err, refused)
	_, err = svc.Get(switchtest.Merchant, code)
	require.ErrorIs(t, err, paylinks.ErrNotFound, "no link without its receipt")
	rec, err := w.D.Payments().Receipt(switchtest.Merchant, "together")
	require.NoError(t, err)
	require.Nil(t, rec)

	made, err := svc.CreateWith(ctx, l, answer)
	require.NoError(t, err)
	require.Equal(t, code, made.Code)
	rec, err = w.D.Payments().Receipt(switchtest.Merchant, "together")
	require.NoError(t, err)
	require.Equal(t, `{"code":"`+made.Code+`"}`, string(rec.Answer))
	var linkSeq uint64
	require.NoError(t, w.D.Journal().Iterate(1, func(e journal.Entry) error {
		if e.Channel == order.ChannelPaymentLink {
			linkSeq = e.Seq
		}
		return nil
	}))
	next, err := w.D.Journal().Get(linkSeq + 1)
	require.NoError(t, err)
	require.Equal(t, order.ChannelAPI, next.Channel, "the link's entry, then the answer's, in one append")
	require.Equal(t, `{"code":"`+made.Code+`"}`, string(next.Payload))
}

// TestOneTimeLinkSecondBuyer: an invoice whose buyer fills in an e-mail and
// an answer gives its still-open order back to the same buyer only (a
// buyer correcting their details in the same browser gets a new order at
// once). A second buyer does not get the first one's order (its e-mail and
// answer would be theirs): while the first buyer may still be typing the
// card in (five minutes) and while an order is in 3-D Secure the other
// buyer is told someone else is paying; after that, an order still waiting
// for its card is closed and a new one made. Never two payments under way.
func TestOneTimeLinkSecondBuyer(t *testing.T) {
	w := &world{t: t}
	w.Switch = switchtest.Run(t, switchtest.Options{ThreeDS: true})
	inv := w.create(map[string]any{"amount": 10000, "one_time": true, "ask_email": true, "language": "en",
		"custom_fields": []map[string]any{{"name": "room", "label": "Room", "required": true}}})
	link := inv["url"].(string)
	post := func(hc *http.Client, email, room string) (*http.Response, string) {
		resp, err := hc.PostForm(link, url.Values{"lang": {"en"}, "email": {email}, "c_room": {room}})
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		return resp, string(b)
	}
	buyer := func(email, room string) (*http.Response, string) { return post(noRedirect, email, room) }
	orderOf := func(r *http.Response, body string) string {
		require.Equal(t, http.StatusSeeOther, r.StatusCode, body)
		return strings.TrimPrefix(r.Header.Get("Location"), "/pay/")
	}
	beingPaid := func(r *http.Response, body string) {
		require.Equal(t, http.StatusUnprocessableEntity, r.StatusCode)
		require.Contains(t, body, "Someone else is paying this invoice right now. Try again in a few minutes.")
	}

	// The first buyer mistypes their e-mail and corrects it in the same
	// browser: their own order is closed and a new one made at once.
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar, CheckRedirect: noRedirect.CheckRedirect}
	typo := orderOf(post(browser, "frist@example.kz", "12"))
	first := orderOf(post(browser, "first@example.kz", "12"))
	require.NotEqual(t, typo, first)
	require.Equal(t, order.StatusDeclined, w.Order(typo).Status)
	require.Equal(t, first, orderOf(buyer("First@Example.kz", "12")), "the same buyer again, on another device: the same order")
	beingPaid(buyer("second@example.kz", "7"))
	w.Advance(6 * time.Minute) // the first buyer has gone
	second := orderOf(buyer("second@example.kz", "7"))
	require.NotEqual(t, first, second, "another buyer: an order of their own")
	require.Equal(t, order.StatusDeclined, w.Order(first).Status, "the first buyer's order, still without a card, is closed")
	o := w.Order(second)
	require.Equal(t, "second@example.kz", o.Email)
	require.Equal(t, "7", o.Params["room"])

	// The second buyer's card goes to 3-D Secure.
	jar, err = cookiejar.New(nil)
	require.NoError(t, err)
	hc := &http.Client{Jar: jar, CheckRedirect: noRedirect.CheckRedirect}
	resp, err := hc.Get(w.URL() + "/pay/" + second)
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(page))
	require.NotNil(t, csrf, "the card form")
	resp, err = hc.PostForm(w.URL()+"/pay/"+second, url.Values{"csrf": {csrf[1]}, "pan": {"5555555555555599"},
		"expiry": {"12/30"}, "cvv2": {switchtest.CVV2}, "holder": {"SECOND BUYER"}, "email": {"second@example.kz"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, order.Status3DS, w.Order(second).Status)

	w.Advance(6 * time.Minute)
	beingPaid(buyer("first@example.kz", "12"))
	require.Equal(t, order.Status3DS, w.Order(second).Status, "not closed under the paying buyer")
	require.Equal(t, second, orderOf(buyer("second@example.kz", "7")), "the paying buyer gets their order back")
	st, got := w.api("GET", "/v1/payment_links/"+inv["code"].(string), nil)
	require.Equal(t, http.StatusOK, st)
	require.Len(t, got["order_ids"], 3, "the typo's, the first buyer's and the second's: never one more")

	// An auditor's replay of a copy rebuilds the link from its journal
	// entries, as it does the orders.
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	require.NoError(t, w.D.Journal().CopyTo(copyPath))
	d, err := audit.Open(copyPath, "", time.Second)
	require.NoError(t, err)
	defer d.Close()
	r, err := audit.Replay(context.Background(), d, nil)
	require.NoError(t, err)
	require.True(t, r.OK(), "%+v", r.Differences)
	require.Equal(t, 1, r.Links)
	require.Equal(t, 1, r.LinksMatched)
}

// TestSwitchOffDoesNotWaitForThePayment: the shop switches a link off
// while its buyer's payment is at a slow bank and the order's lifetime has
// run out. Neither the switch-off nor a read of the link waits for that
// exchange (a lazy expiry leaves an order under way to its operation,
// where it used to wait for the order's lock), a buyer of another link is
// served meanwhile, and the payment goes on to its outcome.
func TestSwitchOffDoesNotWaitForThePayment(t *testing.T) {
	w := &world{t: t}
	w.Switch = switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.Payments.ExchangeTimeout = 10 * time.Second
	}})
	slow := w.create(map[string]any{"amount": 7051, "one_time": true, "description": "Slow bank"})
	other := w.create(map[string]any{"amount": 5000, "description": "Coffee"})
	resp := w.post(slow["url"].(string), url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	id := path.Base(resp.Header.Get("Location"))

	w.Knobs(issuersim.Rule{AmountSuffix: "7051", Action: issuersim.ActionLate, Delay: 3 * time.Second})
	paid := make(chan map[string]any, 1)
	go func() {
		ans, err := w.RBS("paymentorder", switchtest.PayForm(id, switchtest.Visa), 0)
		if err != nil {
			ans = map[string]any{"error": err.Error()}
		}
		paid <- ans
	}()
	w.Eventually(func() bool { return w.Order(id).AtBank() }, "the payment is at the bank")
	w.Advance(21 * time.Minute) // the order's lifetime (20 minutes) is over while it is at the bank

	st, _ := w.api("POST", "/v1/payment_links/"+slow["code"].(string)+"/disable", nil)
	require.Equal(t, http.StatusOK, st)
	st, l := w.api("GET", "/v1/payment_links/"+slow["code"].(string), nil)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, "disabled", l["status"])
	resp = w.post(other["url"].(string), url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the other link's buyer gets an order")
	require.True(t, w.Order(id).AtBank(), "all while the payment is still at the bank")

	ans := <-paid
	require.Equal(t, "0", fmt.Sprint(ans["errorCode"]), "the slow payment went through: %v", ans)
	require.Equal(t, order.StatusDeposited, w.Order(id).Status, "left to its outcome, not closed under it")
}

// blockingOrders holds the registration of one link's orders until
// released.
type blockingOrders struct {
	paylinks.Orders
	prefix            string
	entered, released chan struct{}
}

func (b blockingOrders) Register(ctx context.Context, r payments.RegisterRequest) (*payments.Result, error) {
	if strings.HasPrefix(r.Number, b.prefix) {
		close(b.entered)
		<-b.released
	}
	return b.Orders.Register(ctx, r)
}

// TestLinksLockedOneByOne: a buyer of one link whose order takes its time
// to register does not hold a buyer of another link (one lock for every
// link, the build before, did).
func TestLinksLockedOneByOne(t *testing.T) {
	w := newWorld(t)
	a := w.create(map[string]any{"amount": 5000, "one_time": true, "description": "A"})
	b := w.create(map[string]any{"amount": 6000, "one_time": true, "description": "B"})
	orders := blockingOrders{Orders: w.D.Payments(), prefix: a["code"].(string) + "-", entered: make(chan struct{}), released: make(chan struct{})}
	svc, err := paylinks.New(paylinks.Config{}, paylinks.Deps{
		Journal: w.D.Journal(), Orders: orders, PublicURL: w.URL(), Log: zerolog.Nop(),
		Shops: func(string) (paylinks.Shop, bool) { return paylinks.Shop{Name: "Test Shop"}, true },
	})
	require.NoError(t, err)
	slow := make(chan error, 1)
	go func() {
		_, err := svc.Pay(context.Background(), a["code"].(string), paylinks.Buyer{})
		slow <- err
	}()
	<-orders.entered
	done := make(chan error, 1)
	go func() {
		_, err := svc.Pay(context.Background(), b["code"].(string), paylinks.Buyer{})
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err, "link B's buyer")
	case <-time.After(10 * time.Second):
		t.Fatal("link B's buyer waited for link A's")
	}
	close(orders.released)
	require.NoError(t, <-slow)
}

// Anyone may open a reusable link, so one address may make only so many
// orders through links a minute: the one past the limit is not made, and
// the buyer is told to wait and for how long. Another address goes on.
func TestLinkOrdersThrottledByAddress(t *testing.T) {
	w := &world{t: t}
	w.Switch = switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.PaymentLinks.Orders = throttle.Config{PerMinute: 1, Burst: 2}
	}})
	l := w.create(map[string]any{"amount": 5000, "description": "Donation", "language": "en"})
	for range 2 {
		require.Equal(t, http.StatusSeeOther, w.post(l["url"].(string), url.Values{"lang": {"en"}}).StatusCode)
	}
	resp, err := noRedirect.PostForm(l["url"].(string), url.Values{"lang": {"en"}})
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Contains(t, string(body), "Too many orders were made from your network. Try again in ")
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.InDelta(t, 60, secs, 31)
	st, got := w.api("GET", "/v1/payment_links/"+l["code"].(string), nil)
	require.Equal(t, http.StatusOK, st)
	require.Len(t, got["order_ids"], 2, "the third order was not made")

	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	other := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, CheckRedirect: noRedirect.CheckRedirect}
	resp, err = other.PostForm(l["url"].(string), url.Values{"lang": {"en"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "another address")
}

// hangingUp registers the order, then the buyer hangs up (their request's
// context ends) before the link has recorded it.
type hangingUp struct {
	paylinks.Orders
	hangUp context.CancelFunc
}

func (h hangingUp) Register(ctx context.Context, r payments.RegisterRequest) (*payments.Result, error) {
	res, err := h.Orders.Register(ctx, r)
	h.hangUp()
	return res, err
}

// TestBuyerHangsUpAfterTheOrder: an order registered for a link is
// recorded with the link even when the buyer's request ends right after:
// the link lists it and counts it, so the next order takes the next
// number (before, the link's write failed on the ended context, leaving
// an order the link did not know and a count behind the numbers).
func TestBuyerHangsUpAfterTheOrder(t *testing.T) {
	w := newWorld(t)
	l := w.create(map[string]any{"amount": 5000, "description": "Coffee"})
	code := l["code"].(string)
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := paylinks.New(paylinks.Config{}, paylinks.Deps{
		Journal: w.D.Journal(), Orders: hangingUp{Orders: w.D.Payments(), hangUp: cancel}, PublicURL: w.URL(), Log: zerolog.Nop(),
		Shops: func(string) (paylinks.Shop, bool) { return paylinks.Shop{Name: "Test Shop"}, true },
	})
	require.NoError(t, err)
	o, err := svc.Pay(ctx, code, paylinks.Buyer{Address: "203.0.113.5"})
	require.NoError(t, err, "the order is made, and so answered")
	require.Equal(t, code+"-1", o.Number)
	ids, err := svc.OrderIDs(code, 0)
	require.NoError(t, err)
	require.Equal(t, []string{o.ID}, ids, "the link lists it")
	got, err := svc.Get("", code)
	require.NoError(t, err)
	require.Equal(t, 1, got.OrderCount, "and counts it")
}
