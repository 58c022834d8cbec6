package demo_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/demo"
	"github.com/tulpar-switch/tulpar/switch/fiscal"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// startDemo runs the whole demo on loopback ports in t.TempDir().
func startDemo(t *testing.T) *demo.Demo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	require.NoError(t, err)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, d.Close(sctx))
	})
	require.NoError(t, d.WaitReady(ctx))
	return d
}

func TestDemoPaysThroughBothBanks(t *testing.T) {
	d := startDemo(t)
	ctx := context.Background()
	svc := d.Payments()
	for i, pan := range []string{"4111111111111111", "4111111111111111", "4111111111111111", "4111111111111111"} {
		reg, err := svc.Register(ctx, payments.RegisterRequest{Merchant: demo.Merchant, Number: "demo-" + string(rune('a'+i)), Amount: 150000, ReturnURL: "https://shop.example.kz/ok"})
		require.NoError(t, err)
		o := reg.Order
		res, err := svc.Pay(ctx, payments.PayRequest{OrderID: o.ID, Card: payments.CardInput{PAN: pan, Expiry: "3012", CVV2: "123", Holder: "TEST"}, NotificationURL: d.URL() + "/pay/" + o.ID + "/3ds"})
		require.NoError(t, err)
		require.Nil(t, res.Challenge)
		require.Equal(t, order.StatusDeposited, res.Order.Status, "order %d: %+v", i, res.Order.Ops)
	}
	resp, err := d.Client().Get(d.URL() + "/readyz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.NoError(t, d.Journal().Verify(ctx))
}

// TestCardPageOnlyOverTLS: the merchants' port speaks only TLS, with the
// demo CA's certificate, and tells browsers to keep to HTTPS.
func TestCardPageOnlyOverTLS(t *testing.T) {
	d := startDemo(t)
	require.True(t, strings.HasPrefix(d.URL(), "https://"), d.URL())
	// The 3-D Secure challenge the page posts the browser to is HTTPS too.
	require.True(t, strings.HasPrefix(d.ACSURL, "https://"), d.ACSURL)
	resp, err := d.Client().Get(d.URL() + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "max-age=31536000", resp.Header.Get("Strict-Transport-Security"))
	require.Equal(t, uint16(tls.VersionTLS13), resp.TLS.Version)

	// Plain HTTP to the same port gets no page: Go's TLS server answers a
	// plaintext request with a 400 saying so, and never the handler.
	plain, err := http.Get("http://" + strings.TrimPrefix(d.URL(), "https://") + "/healthz")
	require.NoError(t, err)
	b, _ := io.ReadAll(plain.Body)
	plain.Body.Close()
	require.Equal(t, http.StatusBadRequest, plain.StatusCode)
	require.Contains(t, string(b), "HTTPS")
	// A client that does not trust the demo CA is refused the handshake.
	_, err = http.Get(d.URL() + "/healthz")
	require.ErrorContains(t, err, "certificate")
}

func TestAdminEndpoints(t *testing.T) {
	d := startDemo(t)
	require.NotEmpty(t, d.AdminURL())
	get := func(path string) (int, []byte) {
		resp, err := http.Get(d.AdminURL() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, body
	}
	code, body := get("/admin/links")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(body), demo.BankASCII)
	code, body = get("/admin/saf")
	require.Equal(t, http.StatusOK, code, string(body))
	require.Contains(t, string(body), "dead_letters")
	resp, err := http.Post(d.AdminURL()+"/admin/saf/retry?id=999", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no such dead letter")

	// The snapshot is a bbolt file whose journal verifies on its own.
	code, snap := get("/admin/journal/snapshot")
	require.Equal(t, http.StatusOK, code)
	path := filepath.Join(t.TempDir(), "copy.db")
	require.NoError(t, os.WriteFile(path, snap, 0o600))
	j, err := journal.OpenReadOnly(path, journal.Options{})
	require.NoError(t, err)
	defer j.Close()
	require.NoError(t, j.Verify(context.Background()))
	// Nothing for operators is on the merchants' port.
	resp, err = d.Client().Get(d.URL() + "/admin/journal/snapshot")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestGracefulShutdownFinishesInFlight: a payment at a slow bank when the
// switch is told to stop still gets its answer, and its journal is whole.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	// The sale's fiscal receipt would be journaled after the merchant's
	// answer: this test is about the payment's own entries.
	noFiscal := func(c *daemon.Config) { c.Fiscal = fiscal.Config{} }
	d, err := demo.Start(ctx, demo.Options{DataDir: dir, Listen: "127.0.0.1:0", Log: zerolog.Nop(), Configure: noFiscal})
	require.NoError(t, err)
	require.NoError(t, d.WaitReady(ctx))
	for _, b := range d.Banks {
		b.SetKnobs(issuersim.Knobs{Latency: 300 * time.Millisecond})
	}
	reg, err := d.Payments().Register(ctx, payments.RegisterRequest{Merchant: demo.Merchant, Number: "slow", Amount: 777, ReturnURL: "https://shop.example.kz/ok"})
	require.NoError(t, err)
	o := reg.Order
	// Through the merchant API, as in production: the HTTP server's
	// shutdown is what waits for handlers in flight.
	done := make(chan map[string]any, 1)
	go func() {
		form := url.Values{"userName": {d.Secrets.UserName}, "password": {d.Secrets.Password}, "MDORDER": {o.ID},
			"$PAN": {"4444555511113333"}, "$CVC": {"123"}, "YYYY": {"2030"}, "MM": {"12"}, "TEXT": {"SLOW BANK"}}
		resp, err := d.Client().PostForm(d.URL()+"/payment/rest/paymentorder.do", form)
		if err != nil {
			done <- map[string]any{"transport_error": err.Error()}
			return
		}
		defer resp.Body.Close()
		var ans map[string]any
		json.NewDecoder(resp.Body).Decode(&ans)
		done <- ans
	}()
	// The payment is at the bank once it is written ahead as pending.
	require.Eventually(t, func() bool {
		got, err := d.Payments().Store().Get(o.ID)
		require.NoError(t, err)
		for _, op := range got.Ops {
			if op.Status == order.OpPending && op.Type == order.OpPurchase {
				return true
			}
		}
		return false
	}, 10*time.Second, time.Millisecond)
	require.NoError(t, d.Close(ctx))
	ans := <-done
	require.Equal(t, float64(0), ans["errorCode"], "%v", ans)
	require.Contains(t, ans["redirect"], "shop.example.kz/ok", "the payment in flight was approved and answered")

	j, err := journal.OpenReadOnly(filepath.Join(dir, journal.DataFile), journal.Options{})
	require.NoError(t, err)
	defer j.Close()
	require.NoError(t, j.Verify(ctx))
	entries, err := j.ByOrder(o.ID)
	require.NoError(t, err)
	var mtis []string
	for _, e := range entries {
		if e.MTI != "" {
			mtis = append(mtis, e.MTI)
		}
	}
	require.Equal(t, []string{"0200", "0210"}, mtis, "the bank's answer is journaled")
	require.Equal(t, order.ChannelAPI, entries[len(entries)-1].Channel, "and the merchant's answer last")
}

// TestSecurityHeadersOnEveryPage: every answer of the merchants' port,
// pages, APIs, errors and the card page, forbids framing and sniffing, sends
// HSTS, and a policy; no HTML page has inline script or event handlers, and
// the card form posts its data in the body, never in a URL.
func TestSecurityHeadersOnEveryPage(t *testing.T) {
	d := startDemo(t)
	reg, err := d.Payments().Register(context.Background(), payments.RegisterRequest{Merchant: demo.Merchant, Number: "hdr-1", Amount: 1000, ReturnURL: "https://shop.example.kz/ok"})
	require.NoError(t, err)
	hc := d.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	scriptTag := regexp.MustCompile(`(?i)<script\b[^>]*>`)
	handlerAttr := regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`)
	for _, tc := range []struct{ method, path, form string }{
		{"GET", "/pay/" + reg.Order.ID, ""},
		{"POST", "/pay/" + reg.Order.ID, "csrf=forged&pan=4111111111111111"},
		{"GET", "/pay/" + reg.Order.ID + "/result", ""},
		{"GET", "/pay/nonexistent", ""},
		{"GET", "/pay/hpp.js", ""},
		{"POST", "/payment/rest/getOrderStatusExtended.do", "userName=x&password=y"},
		{"GET", "/v1/openapi.yaml", ""},
		{"GET", "/v1/orders/x", ""},
		{"GET", "/CNPMerchantWebServices/services/CNPMerchantWebService?wsdl", ""},
		{"GET", "/healthz", ""},
		{"GET", "/metrics", ""},
		{"GET", "/no/such/page", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, d.URL()+tc.path, strings.NewReader(tc.form))
			require.NoError(t, err)
			if tc.form != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := hc.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			h := resp.Header
			require.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'", "status %d", resp.StatusCode)
			require.NotContains(t, h.Get("Content-Security-Policy"), "unsafe-inline")
			require.Equal(t, "DENY", h.Get("X-Frame-Options"))
			require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
			require.Equal(t, "max-age=31536000", h.Get("Strict-Transport-Security"))
			if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				return
			}
			require.Equal(t, "no-store", h.Get("Cache-Control"), "an HTML page of the card flow is never cached")
			for _, tag := range scriptTag.FindAllString(string(body), -1) {
				require.Contains(t, tag, "src=", "inline script in %s", tc.path)
			}
			require.Empty(t, handlerAttr.FindString(string(body)), "inline event handler in %s", tc.path)
			if strings.Contains(string(body), `name="pan"`) {
				require.Regexp(t, `<form[^>]+method="post"`, string(body), "card data goes in the body")
			}
		})
	}
}
