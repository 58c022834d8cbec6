package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/order"
)

func createOrder(t *testing.T, h *harness, number string, amount int64, capture string) map[string]any {
	t.Helper()
	r := h.v1("POST", "/v1/orders", keyA, "", map[string]any{
		"amount": amount, "currency": "398", "order_number": number, "capture": capture,
		"return_url": "https://shop-a.example.kz/ok", "language": "en", "metadata": map[string]string{"cart": "42"},
	})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	return r.Body
}

func TestV1TwoStagePartialCaptureTwoRefunds(t *testing.T) {
	h := newHarness(t)
	o := createOrder(t, h, "v1-2stage-1", 100000, "manual")
	id := o["id"].(string)
	require.Equal(t, "registered", o["status"])
	require.EqualValues(t, 0, o["status_code"])
	require.Equal(t, "manual", o["capture"])
	require.Equal(t, "https://pay.tulpar.test/pay/"+id, o["payment_url"])
	require.Equal(t, map[string]any{"cart": "42"}, o["metadata"])

	h.pay(id, cardOK)
	g := h.v1("GET", "/v1/orders/"+id, keyA, "", nil)
	require.Equal(t, http.StatusOK, g.Status)
	require.Equal(t, "approved", g.Body["status"])
	require.EqualValues(t, 100000, g.Body["approved_amount"])
	require.Equal(t, map[string]any{"masked": "411111******1111", "brand": "visa", "expiry": "3012", "holder": "TEST CARDHOLDER"}, g.Body["card"])

	c := h.v1("POST", "/v1/orders/"+id+"/capture", keyA, "cap-1", map[string]any{"amount": 60000})
	require.Equal(t, http.StatusOK, c.Status, string(c.Raw))
	require.Equal(t, "deposited", c.Body["status"])
	require.EqualValues(t, 60000, c.Body["captured_amount"])

	r1 := h.v1("POST", "/v1/orders/"+id+"/refunds", keyA, "ref-1", map[string]any{"amount": 10000, "expected_refundable_amount": 60000})
	require.Equal(t, http.StatusCreated, r1.Status, string(r1.Raw))
	require.Equal(t, "refund", r1.Body["object"])
	require.Equal(t, "approved", r1.Body["status"])
	require.Len(t, r1.Body["rrn"], 12)
	r2 := h.v1("POST", "/v1/orders/"+id+"/refunds", keyA, "ref-2", map[string]any{"amount": 50000, "expected_refundable_amount": 50000})
	require.Equal(t, http.StatusCreated, r2.Status, string(r2.Raw))
	order := r2.Body["order"].(map[string]any)
	require.Equal(t, "refunded", order["status"])
	require.EqualValues(t, 60000, order["refunded_amount"])

	over := h.v1("POST", "/v1/orders/"+id+"/refunds", keyA, "", map[string]any{"amount": 1})
	require.Equal(t, http.StatusConflict, over.Status)
	require.Equal(t, "transition_not_allowed", errObj(over)["code"])

	ops := h.v1("GET", "/v1/orders/"+id, keyA, "", nil).Body["operations"].([]any)
	var types []string
	for _, op := range ops {
		types = append(types, op.(map[string]any)["type"].(string))
	}
	require.Equal(t, []string{"authorization", "completion", "refund", "refund"}, types)
}

func TestV1Idempotency(t *testing.T) {
	h := newHarness(t)
	body := map[string]any{"amount": 5000, "order_number": "v1-idem-1", "return_url": "https://shop-a.example.kz/ok"}
	a := h.v1("POST", "/v1/orders", keyA, "create-1", body)
	require.Equal(t, http.StatusCreated, a.Status)
	b := h.v1("POST", "/v1/orders", keyA, "create-1", body)
	require.Equal(t, http.StatusCreated, b.Status)
	require.Equal(t, string(a.Raw), string(b.Raw), "the stored answer, byte for byte")
	require.Equal(t, "true", b.Header.Get("Idempotent-Replayed"))

	body["amount"] = 5001
	c := h.v1("POST", "/v1/orders", keyA, "create-1", body)
	require.Equal(t, http.StatusUnprocessableEntity, c.Status)
	require.Equal(t, "idempotency_error", errObj(c)["type"])
	require.Equal(t, "idempotency_key_reused", errObj(c)["code"])

	// Keys are per merchant: shop-b's "create-1" is its own.
	d := h.v1("POST", "/v1/orders", keyB, "create-1", body)
	require.Equal(t, http.StatusCreated, d.Status)

	// Without a key, a second create with the same number is a conflict.
	body["amount"] = 5000
	e := h.v1("POST", "/v1/orders", keyA, "", body)
	require.Equal(t, http.StatusConflict, e.Status)
	require.Equal(t, "order_number_duplicate", errObj(e)["code"])
	require.Equal(t, "order_number", errObj(e)["param"])

	// Follow-ups: a retried refund refunds once.
	id := a.Body["id"].(string)
	h.pay(id, cardOK)
	r1 := h.v1("POST", "/v1/orders/"+id+"/refunds", keyA, "refund-1", map[string]any{"amount": 1000})
	r2 := h.v1("POST", "/v1/orders/"+id+"/refunds", keyA, "refund-1", map[string]any{"amount": 1000})
	require.Equal(t, http.StatusCreated, r1.Status)
	require.Equal(t, string(r1.Raw), string(r2.Raw))
	require.EqualValues(t, 1000, h.v1("GET", "/v1/orders/"+id, keyA, "", nil).Body["refunded_amount"])

	// A stored error is replayed too.
	x1 := h.v1("POST", "/v1/orders/"+id+"/capture", keyA, "cap-x", nil)
	require.Equal(t, http.StatusConflict, x1.Status)
	x2 := h.v1("POST", "/v1/orders/"+id+"/capture", keyA, "cap-x", nil)
	require.Equal(t, string(x1.Raw), string(x2.Raw))

	// Concurrent: while the first refund waits on a slow bank, the same
	// key is refused with 409; afterwards it replays.
	h.Bank.SetKnobs(issuersim.Knobs{Latency: 400 * time.Millisecond})
	var wg sync.WaitGroup
	results := make([]v1Resp, 4)
	refund := func(i int) {
		defer wg.Done()
		results[i] = h.v1("POST", "/v1/orders/"+id+"/refunds", keyA, "refund-2", map[string]any{"amount": 500})
	}
	wg.Add(1)
	go refund(0)
	// The first refund is at the bank once payments wrote it ahead as
	// pending; only then do the others come.
	require.Eventually(t, func() bool {
		o, err := h.svc.Get(context.Background(), id)
		require.NoError(t, err)
		for _, op := range o.Ops {
			if op.Type == order.OpRefund && op.Status == order.OpPending {
				return true
			}
		}
		return false
	}, 10*time.Second, time.Millisecond, "first refund in flight")
	for i := 1; i < len(results); i++ {
		wg.Add(1)
		go refund(i)
	}
	wg.Wait()
	h.Bank.SetKnobs(issuersim.Knobs{})
	require.Equal(t, http.StatusCreated, results[0].Status, string(results[0].Raw))
	for _, r := range results[1:] {
		require.Equal(t, http.StatusConflict, r.Status, string(r.Raw))
		require.Equal(t, "idempotency_error", errObj(r)["type"])
		require.Equal(t, "idempotency_key_in_use", errObj(r)["code"])
	}
	again := h.v1("POST", "/v1/orders/"+id+"/refunds", keyA, "refund-2", map[string]any{"amount": 500})
	require.Equal(t, string(results[0].Raw), string(again.Raw))
	require.EqualValues(t, 1500, h.v1("GET", "/v1/orders/"+id, keyA, "", nil).Body["refunded_amount"])
}

func TestV1CancelAndDecline(t *testing.T) {
	h := newHarness(t)
	held := createOrder(t, h, "v1-cancel-1", 3000, "manual")["id"].(string)
	h.pay(held, cardOK)
	c := h.v1("POST", "/v1/orders/"+held+"/cancel", keyA, "", nil)
	require.Equal(t, http.StatusOK, c.Status, string(c.Raw))
	require.Equal(t, "reversed", c.Body["status"])

	unpaid := createOrder(t, h, "v1-cancel-2", 3000, "automatic")["id"].(string)
	d := h.v1("POST", "/v1/orders/"+unpaid+"/cancel", keyA, "", map[string]any{})
	require.Equal(t, http.StatusOK, d.Status)
	require.Equal(t, "declined", d.Body["status"])
	require.Equal(t, "merchant_declined", d.Body["decline_code"])

	low := createOrder(t, h, "v1-low-1", 500000, "automatic")["id"].(string)
	h.pay(low, cardLow)
	g := h.v1("GET", "/v1/orders/"+low, keyA, "", nil)
	require.Equal(t, "declined", g.Body["status"])
	require.Equal(t, "insufficient_funds", g.Body["decline_code"])
	require.EqualValues(t, 116, g.Body["action_code"])

	h.Advance(21 * time.Minute)
	exp := createOrder(t, h, "v1-exp-1", 100, "automatic")["id"].(string)
	h.Advance(21 * time.Minute)
	e := h.v1("GET", "/v1/orders/"+exp, keyA, "", nil)
	require.Equal(t, "declined", e.Body["status"])
	require.EqualValues(t, -2007, e.Body["action_code"])
	require.Equal(t, "expired", e.Body["decline_code"])
}

// TestV1Malformed: each malformed request is answered with its status,
// type, code and param, and nothing changes.
func TestV1Malformed(t *testing.T) {
	h := newHarness(t)
	paid := createOrder(t, h, "v1-bad-paid", 1000, "automatic")["id"].(string)
	h.pay(paid, cardOK)
	open := createOrder(t, h, "v1-bad-open", 1000, "manual")["id"].(string)
	theirs := h.v1("POST", "/v1/orders", keyB, "", map[string]any{"amount": 1, "order_number": "b-1", "return_url": "https://b.example.kz/"}).Body["id"].(string)
	good := func(kv ...any) map[string]any {
		m := map[string]any{"amount": 1000, "order_number": "v1-bad-new", "return_url": "https://shop-a.example.kz/ok"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	cases := []struct {
		name, method, path, key string
		body                    any
		status                  int
		typ, code, param        string
	}{
		{"no key", "POST", "/v1/orders", "", good(), 401, "authentication_error", "authentication_required", ""},
		{"wrong key", "POST", "/v1/orders", "sk_wrong", good(), 401, "authentication_error", "invalid_api_key", ""},
		{"rbs token is not an api key", "GET", "/v1/orders/" + paid, tokenA, nil, 401, "authentication_error", "invalid_api_key", ""},
		{"missing amount", "POST", "/v1/orders", keyA, good("amount", nil), 400, "invalid_request_error", "parameter_missing", "amount"},
		{"zero amount", "POST", "/v1/orders", keyA, good("amount", 0), 400, "invalid_request_error", "parameter_invalid", "amount"},
		{"negative amount", "POST", "/v1/orders", keyA, good("amount", -1), 400, "invalid_request_error", "parameter_invalid", "amount"},
		{"fractional amount", "POST", "/v1/orders", keyA, `{"amount":10.5,"order_number":"x","return_url":"https://a.kz/"}`, 400, "invalid_request_error", "parameter_invalid", "amount"},
		{"string amount", "POST", "/v1/orders", keyA, good("amount", "1000"), 400, "invalid_request_error", "parameter_invalid", "amount"},
		{"huge amount", "POST", "/v1/orders", keyA, good("amount", 1000000000001), 400, "invalid_request_error", "parameter_invalid", "amount"},
		{"bad currency", "POST", "/v1/orders", keyA, good("currency", "KZT"), 400, "invalid_request_error", "parameter_invalid", "currency"},
		{"unknown currency", "POST", "/v1/orders", keyA, good("currency", "999"), 400, "invalid_request_error", "parameter_invalid", "currency"},
		{"missing order_number", "POST", "/v1/orders", keyA, good("order_number", nil), 400, "invalid_request_error", "parameter_missing", "order_number"},
		{"missing return_url", "POST", "/v1/orders", keyA, good("return_url", nil), 400, "invalid_request_error", "parameter_missing", "return_url"},
		{"bad return_url", "POST", "/v1/orders", keyA, good("return_url", "shop.kz/ok"), 400, "invalid_request_error", "parameter_invalid", "return_url"},
		{"bad fail_url", "POST", "/v1/orders", keyA, good("fail_url", "mailto:a@b.kz"), 400, "invalid_request_error", "parameter_invalid", "fail_url"},
		{"bad capture", "POST", "/v1/orders", keyA, good("capture", "later"), 400, "invalid_request_error", "parameter_invalid", "capture"},
		{"bad language", "POST", "/v1/orders", keyA, good("language", "de"), 400, "invalid_request_error", "parameter_invalid", "language"},
		{"bad email", "POST", "/v1/orders", keyA, good("email", "nope"), 400, "invalid_request_error", "parameter_invalid", "email"},
		{"unknown field", "POST", "/v1/orders", keyA, good("amout", 5), 400, "invalid_request_error", "parameter_unknown", "amout"},
		{"malformed json", "POST", "/v1/orders", keyA, `{"amount":`, 400, "invalid_request_error", "body_invalid", ""},
		{"two objects", "POST", "/v1/orders", keyA, `{} {}`, 400, "invalid_request_error", "body_invalid", ""},
		{"too large", "POST", "/v1/orders", keyA, `{"description":"` + strings.Repeat("x", 70000) + `"}`, 413, "invalid_request_error", "body_too_large", ""},
		{"unknown order", "GET", "/v1/orders/00000000-0000-0000-0000-000000000000", keyA, nil, 404, "invalid_request_error", "order_not_found", "id"},
		{"other merchant's order", "GET", "/v1/orders/" + theirs, keyA, nil, 404, "invalid_request_error", "order_not_found", "id"},
		{"capture unknown order", "POST", "/v1/orders/nope/capture", keyA, nil, 404, "invalid_request_error", "order_not_found", "id"},
		{"capture unpaid", "POST", "/v1/orders/" + open + "/capture", keyA, nil, 409, "invalid_request_error", "transition_not_allowed", ""},
		{"capture bad amount", "POST", "/v1/orders/" + open + "/capture", keyA, map[string]any{"amount": 0}, 400, "invalid_request_error", "parameter_invalid", "amount"},
		{"cancel paid one-stage", "POST", "/v1/orders/" + paid + "/cancel", keyA, nil, 409, "invalid_request_error", "transition_not_allowed", ""},
		{"refund too much", "POST", "/v1/orders/" + paid + "/refunds", keyA, map[string]any{"amount": 1001}, 422, "invalid_request_error", "amount_too_large", "amount"},
		{"refund no amount", "POST", "/v1/orders/" + paid + "/refunds", keyA, map[string]any{}, 400, "invalid_request_error", "parameter_missing", "amount"},
		{"refund expected mismatch", "POST", "/v1/orders/" + paid + "/refunds", keyA, map[string]any{"amount": 1, "expected_refundable_amount": 999}, 409, "invalid_request_error", "refundable_amount_mismatch", "expected_refundable_amount"},
		{"refund unpaid", "POST", "/v1/orders/" + open + "/refunds", keyA, map[string]any{"amount": 1}, 409, "invalid_request_error", "transition_not_allowed", ""},
		{"unknown route", "GET", "/v1/payments", keyA, nil, 404, "invalid_request_error", "resource_missing", ""},
	}
	before := h.snapshot()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.v1(c.method, c.path, c.key, "", c.body)
			require.Equal(t, c.status, r.Status, string(r.Raw))
			e := errObj(r)
			require.Equal(t, c.typ, e["type"], string(r.Raw))
			require.Equal(t, c.code, e["code"], string(r.Raw))
			if c.param != "" {
				require.Equal(t, c.param, e["param"])
				require.True(t, strings.HasPrefix(e["message"].(string), c.param+":"), "the message names the param: %s", e["message"])
			} else {
				require.NotContains(t, e, "param")
			}
			require.NotEmpty(t, e["message"])
		})
	}
	require.Equal(t, before, h.snapshot(), "malformed requests changed an order")
}
