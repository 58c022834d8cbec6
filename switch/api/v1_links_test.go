package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestV1PaymentLinks: a merchant creates a link and an invoice, reads
// them back and switches one off; another merchant cannot see them; each
// bad input is refused naming its field. Every answer is checked against
// the OpenAPI document.
func TestV1PaymentLinks(t *testing.T) {
	h := newHarness(t)
	check := newSpecCheck(t, h.URL())
	h.client = &http.Client{Transport: check}

	link := h.v1("POST", "/v1/payment_links", keyA, "", map[string]any{
		"min_amount": 10000, "max_amount": 500000, "description": "Donation", "ask_email": true, "language": "en",
		"custom_fields": []map[string]any{{"name": "dedication", "label": "In memory of"}}})
	require.Equal(t, http.StatusCreated, link.Status, string(link.Raw))
	code := link.Body["code"].(string)
	require.Len(t, code, 10)
	require.Equal(t, h.URL()+"/l/"+code, link.Body["url"])
	require.Equal(t, "active", link.Body["status"])
	require.EqualValues(t, 10000, link.Body["min_amount"])
	require.NotContains(t, link.Body, "amount")
	require.Equal(t, []any{map[string]any{"name": "dedication", "label": "In memory of", "required": false}}, link.Body["custom_fields"])

	deadline := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	inv := h.v1("POST", "/v1/payment_links", keyA, "inv-1", map[string]any{
		"amount": 1500000, "one_time": true, "cart": []any{map[string]any{"name": "Chair", "quantity": 2, "price": 750000}}, "customer_email": "buyer@example.kz", "customer_name": "Айгерім",
		"capture": "manual", "language": "kk", "description": "Invoice 17", "expires_at": deadline.Format(time.RFC3339)})
	require.Equal(t, http.StatusCreated, inv.Status, string(inv.Raw))
	require.Equal(t, true, inv.Body["one_time"])
	require.Equal(t, "manual", inv.Body["capture"])
	require.Equal(t, deadline.Format(time.RFC3339), inv.Body["expires_at"])
	require.Equal(t, []any{map[string]any{"name": "Chair", "quantity": 2.0, "price": 750000.0}}, inv.Body["cart"])
	again := h.v1("POST", "/v1/payment_links", keyA, "inv-1", map[string]any{
		"amount": 1500000, "one_time": true, "cart": []any{map[string]any{"name": "Chair", "quantity": 2, "price": 750000}}, "customer_email": "buyer@example.kz", "customer_name": "Айгерім",
		"capture": "manual", "language": "kk", "description": "Invoice 17", "expires_at": deadline.Format(time.RFC3339)})
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	require.Equal(t, inv.Body["code"], again.Body["code"], "the same key makes no second invoice")

	got := h.v1("GET", "/v1/payment_links/"+code, keyA, "", nil)
	require.Equal(t, http.StatusOK, got.Status)
	require.Equal(t, link.Body["url"], got.Body["url"])

	// Another merchant's link does not exist for shop-b.
	for _, r := range []v1Resp{
		h.v1("GET", "/v1/payment_links/"+code, keyB, "", nil),
		h.v1("POST", "/v1/payment_links/"+code+"/disable", keyB, "", nil),
	} {
		require.Equal(t, http.StatusNotFound, r.Status)
		require.Equal(t, "payment_link_not_found", errObj(r)["code"])
	}
	require.Equal(t, http.StatusNotFound, h.v1("GET", "/v1/payment_links/nope", keyA, "", nil).Status)
	require.Equal(t, http.StatusUnauthorized, h.v1("GET", "/v1/payment_links/"+code, "", "", nil).Status)

	off := h.v1("POST", "/v1/payment_links/"+code+"/disable", keyA, "", nil)
	require.Equal(t, http.StatusOK, off.Status)
	require.Equal(t, "disabled", off.Body["status"])
	require.NotEmpty(t, off.Body["disabled_at"])
	require.Equal(t, "disabled", h.v1("GET", "/v1/payment_links/"+code, keyA, "", nil).Body["status"])

	for _, c := range []struct {
		body  map[string]any
		param string
	}{
		{map[string]any{}, "min_amount"},
		{map[string]any{"amount": 0}, "amount"},
		{map[string]any{"amount": 100, "min_amount": 5}, "min_amount"},
		{map[string]any{"min_amount": 500, "max_amount": 100}, "max_amount"},
		{map[string]any{"min_amount": 500, "max_amount": 1000, "one_time": true}, "amount"},
		{map[string]any{"amount": 100, "currency": "999"}, "currency"},
		{map[string]any{"amount": 100, "language": "de"}, "language"},
		{map[string]any{"amount": 100, "customer_email": "not-an-address"}, "customer_email"},
		{map[string]any{"amount": 100, "customer_email": "a@b.kz", "ask_email": true}, "ask_email"},
		{map[string]any{"amount": 100, "capture": "later"}, "capture"},
		{map[string]any{"amount": 100, "return_url": "ftp://x"}, "return_url"},
		{map[string]any{"amount": 100, "expires_at": "tomorrow"}, "expires_at"},
		{map[string]any{"amount": 100, "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"},
		{map[string]any{"amount": "100"}, "amount"},
		{map[string]any{"amount": 100, "colour": "red"}, "colour"},
		{map[string]any{"amount": 100, "cart": []any{map[string]any{"name": "A", "quantity": 1, "price": 99}}}, "cart"},
		{map[string]any{"amount": 100, "cart": []any{map[string]any{"name": "", "quantity": 1, "price": 100}}}, "cart[0].name"},
		{map[string]any{"amount": 100, "cart": []any{map[string]any{"name": "A", "quantity": 0, "price": 100}}}, "cart[0].quantity"},
		{map[string]any{"min_amount": 100, "max_amount": 200, "cart": []any{map[string]any{"name": "A", "quantity": 1, "price": 100}}}, "cart"},
		{map[string]any{"amount": 100, "custom_fields": []any{map[string]any{"name": "Room No", "label": "Room"}}}, "custom_fields[0].name"},
		{map[string]any{"amount": 100, "custom_fields": []any{map[string]any{"name": "payment_link", "label": "x"}}}, "custom_fields[0].name"},
		{map[string]any{"amount": 100, "custom_fields": []any{map[string]any{"name": "a", "label": "A"}, map[string]any{"name": "b", "label": ""}}}, "custom_fields[1].label"},
	} {
		r := h.v1("POST", "/v1/payment_links", keyA, "", c.body)
		require.Equal(t, http.StatusBadRequest, r.Status, "%v: %s", c.body, r.Raw)
		require.Equal(t, c.param, errObj(r)["param"], "%v: %s", c.body, r.Raw)
	}

	answered := check.answered()
	for _, want := range []string{"createPaymentLink 201", "createPaymentLink 400", "getPaymentLink 200", "getPaymentLink 401",
		"getPaymentLink 404", "disablePaymentLink 200", "disablePaymentLink 404"} {
		require.Contains(t, answered, want)
	}
}
