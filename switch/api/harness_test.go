package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/api"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// Test credentials. shop-a may send card data (paymentorder.do); shop-b
// may not.
const (
	userA, passA, tokenA, keyA = "shop-a-api", "pass-a-secret", "token-a-secret", "sk_test_a"
	userB, passB, keyB         = "shop-b-api", "pass-b-secret", "sk_test_b"

	cardOK     = "4111111111111111" // issuersim: active, CVV2 123, expiry 12/30
	cardLow    = "4000001111111118" // issuersim: balance 1000.00
	cardCVV    = "123"
	cardExpiry = "3012"
)

// harness is the switch (switchtest) with two merchants on the API, its
// log kept for the tests to read.
type harness struct {
	*switchtest.Switch
	t    testing.TB
	svc  *payments.Service
	cfg  api.Config
	logs *switchtest.LogBuffer
	// client sends the tests' requests (a specCheck's, to validate every
	// answer against the OpenAPI document).
	client *http.Client
}

// newHarness starts the switch; configure, if any, has the last word on
// the API's config (callback addresses, say).
func newHarness(t testing.TB, configure ...func(*api.Config)) *harness {
	t.Helper()
	h := &harness{t: t, logs: &switchtest.LogBuffer{}, client: http.DefaultClient}
	hashA, err := api.HashPassword(passA)
	require.NoError(t, err)
	hashB, err := api.HashPassword(passB)
	require.NoError(t, err)
	h.cfg = api.Config{
		PaymentPageURL: "https://pay.tulpar.test/pay/",
		Merchants: []api.MerchantConfig{
			{Merchant: "shop-a", UserName: userA, PasswordHash: hashA, Token: api.SHA256Hex(tokenA),
				APIKeys: []string{api.SHA256Hex(keyA)}, AllowCardEntry: true},
			{Merchant: "shop-b", UserName: userB, PasswordHash: hashB, APIKeys: []string{api.SHA256Hex(keyB)}},
		},
	}
	for _, f := range configure {
		f(&h.cfg)
	}
	// Registered first, so it runs last: no card data in any log line of
	// the whole run, shutdown included.
	t.Cleanup(func() {
		for _, pan := range []string{cardOK, cardLow} {
			require.NotContains(t, h.logs.String(), pan)
		}
	})
	h.Switch = switchtest.Run(t, switchtest.Options{Log: h.logs, Configure: func(c *daemon.Config) {
		c.API = h.cfg
		c.Payments.Merchants = nil
		for i, id := range []string{"shop-a", "shop-b"} {
			c.Payments.Merchants = append(c.Payments.Merchants, payments.Merchant{
				ID: id, Name: "Shop " + id, URL: "https://" + id + ".example.kz", MCC: "5411", City: "Almaty", Country: "KZ", MaxAttempts: 1,
				Terminals: map[string]payments.Terminal{switchtest.BankName: {TerminalID: fmt.Sprintf("TLPT000%d", i+1), MerchantID: fmt.Sprintf("00000000000010%d", i+1)}},
			})
		}
	}})
	h.svc = h.D.Payments()
	return h
}

// rbs posts a form to an RBS method and decodes the JSON answer.
func (h *harness) rbs(method string, form url.Values) map[string]any {
	h.t.Helper()
	resp, err := h.client.PostForm(h.URL()+"/payment/rest/"+method+".do", form)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	require.Equal(h.t, http.StatusOK, resp.StatusCode)
	var out map[string]any
	require.NoError(h.t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

func credsA(kv ...string) url.Values {
	v := url.Values{"userName": {userA}, "password": {passA}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

type v1Resp struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// v1 sends a JSON API request.
func (h *harness) v1(method, path, key, idem string, body any) v1Resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(h.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.URL()+path, rd)
	require.NoError(h.t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.client.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	out := v1Resp{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		require.NoError(h.t, json.Unmarshal(raw, &out.Body), string(raw))
	}
	return out
}

// pay pays an order with a card as the hosted payment page would.
func (h *harness) pay(orderID, pan string) *order.Order {
	h.t.Helper()
	res, err := h.svc.Pay(context.Background(), payments.PayRequest{
		OrderID: orderID, Card: payments.CardInput{PAN: pan, Expiry: cardExpiry, CVV2: cardCVV, Holder: "TEST CARDHOLDER"}, IP: "10.0.0.7",
	})
	require.NoError(h.t, err)
	return res.Order
}

// snapshot is everything a malformed request must leave unchanged.
func (h *harness) snapshot() string {
	h.t.Helper()
	var b strings.Builder
	require.NoError(h.t, h.svc.Store().All(func(o *order.Order) error {
		fmt.Fprintf(&b, "%s v%d s%d a%d d%d r%d ops%d\n", o.ID, o.Version, o.Status, o.Approved, o.Deposited, o.Refunded, len(o.Ops))
		return nil
	}))
	return b.String()
}

func errObj(r v1Resp) map[string]any {
	e, _ := r.Body["error"].(map[string]any)
	return e
}

// srvMetric returns the request counter of one label set.
func (h *harness) srvMetric(endpoint, status, code string) float64 {
	h.t.Helper()
	return switchtest.Counter(h.t, h.D.Registry(), "tulpar_api_requests_total", "endpoint", endpoint, "status", status, "code", code)
}
