package api_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/specs"
	"github.com/tulpar-switch/tulpar/switch/api"
	"github.com/tulpar-switch/tulpar/switch/callbacks"
)

const shopASecret = "shop-a-callback-secret"

func credsB(kv ...string) url.Values {
	v := url.Values{"userName": {userB}, "password": {passB}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// signed returns a callback's parameters once its checksum is checked.
func signed(t *testing.T, cb url.Values) map[string]string {
	t.Helper()
	p := map[string]string{}
	for k := range cb {
		p[k] = cb.Get(k)
	}
	require.True(t, callbacks.Verify(p, shopASecret), "checksum of %v", p)
	delete(p, callbacks.ParamChecksum)
	return p
}

// TestRBSBindings is a binding's life through the facade as a shop plugin
// drives it: a paid order of a clientId creates it (and the bindingCreated
// callback); the order's status names it; getBindings and
// getBindingsByCardOrId list it; paymentOrderBinding.do pays another order
// with it (the bank told it is a stored card the cardholder uses), a retry
// answering the same without a second payment; extendBinding.do changes
// its expiry; unBindCard.do disables it (bindingActivityChanged), after
// which it lists and pays nothing; bindCard.do enables it again. Another
// merchant's requests find nothing, worded as for a binding that does not
// exist. Every refusal names its parameter in the request's language.
func TestRBSBindings(t *testing.T) {
	cbSrv, got := callbackServer(t)
	h := newHarness(t, func(c *api.Config) {
		c.Merchants[0].CallbackURL, c.Merchants[0].CallbackSecret = cbSrv.URL+"/cb", shopASecret
		c.Merchants[0].CallbackAllowPrivate = true // the test's server is on loopback
	})
	reg := func(number string, kv ...string) string {
		t.Helper()
		out := h.rbs("register", credsA(append([]string{"orderNumber", number, "amount", "150000",
			"returnUrl", "https://shop-a.example.kz/ok", "failUrl", "https://shop-a.example.kz/fail"}, kv...)...))
		require.NotEmpty(t, out["orderId"], out)
		return out["orderId"].(string)
	}
	cofMode := specs.MustLoad(h.Bank.Dialect()).CredentialOnFile.POSEntryMode

	// A card paid without keeping it (bindingNotNeeded) makes no binding.
	kept := reg("b-0", "clientId", "17")
	require.EqualValues(t, 0, h.rbs("paymentorder", credsA("MDORDER", kept, "$PAN", cardOK, "$CVC", cardCVV, "YYYY", "2030", "MM", "12",
		"bindingNotNeeded", "true"))["errorCode"])
	require.Equal(t, "deposited", nextCallback(t, got).Get("operation"))
	require.Equal(t, map[string]any{"errorCode": "2", "errorMessage": "Information not found: no bindings"},
		h.rbs("getBindings", credsA("clientId", "17", "language", "en")))

	// The first payment of clientId 17 keeps its card.
	first := reg("b-1", "clientId", "17")
	out := payOrder(t, h, first, cardOK)
	require.EqualValues(t, 0, out["errorCode"], out)
	require.Equal(t, "deposited", nextCallback(t, got).Get("operation"))
	created := signed(t, nextCallback(t, got))
	bindingID := created["bindingId"]
	require.Len(t, bindingID, 36)
	require.Equal(t, map[string]string{"mdOrder": first, "orderNumber": "b-1", "operation": "bindingCreated", "bindingId": bindingID, "clientId": "17"}, created)
	uses := h.Bank.CredentialUses()
	require.Equal(t, specs.StoredInitial, uses[len(uses)-1].Use, "the bank was told the card is being stored")
	require.Equal(t, map[string]any{"clientId": "17", "bindingId": bindingID}, status(t, h, first)["bindingInfo"])

	listed := []any{map[string]any{"bindingId": bindingID, "maskedPan": "411111**1111", "expiryDate": "203012", "clientId": "17",
		"paymentWay": "CARD", "paymentSystem": "VISA"}}
	for _, q := range []url.Values{
		credsA("clientId", "17"),
	} {
		out := h.rbs("getBindings", q)
		require.Equal(t, "0", out["errorCode"], out)
		require.Equal(t, listed, out["bindings"])
	}
	for _, q := range []url.Values{credsA("bindingId", bindingID), credsA("pan", cardOK)} {
		out := h.rbs("getBindingsByCardOrId", q)
		require.Equal(t, "0", out["errorCode"], out)
		require.Equal(t, listed, out["bindings"])
	}
	require.Equal(t, map[string]any{"errorCode": "5", "errorMessage": "Invalid bindingId: give pan or bindingId, not both"},
		h.rbs("getBindingsByCardOrId", credsA("pan", cardOK, "bindingId", bindingID, "language", "en")))
	require.Equal(t, map[string]any{"errorCode": "4", "errorMessage": "Не указан параметр bindingId"},
		h.rbs("getBindingsByCardOrId", credsA()))
	require.Equal(t, map[string]any{"errorCode": "5", "errorMessage": "pan параметрінің мәні қате: бақылау цифры дұрыс 13–19 цифрлы карта нөмірі"},
		h.rbs("getBindingsByCardOrId", credsA("pan", "4111111111111112", "language", "kz")))
	require.Equal(t, map[string]any{"errorCode": "4", "errorMessage": "Client ID can not be empty"},
		h.rbs("getBindings", credsA("language", "en")))

	// Another order of the customer, paid with the binding and its CVC.
	second := reg("b-2", "clientId", "17")
	payBinding := func(q url.Values) map[string]any { t.Helper(); return h.rbs("paymentOrderBinding", q) }
	require.Equal(t, map[string]any{"errorCode": float64(4), "errorMessage": "cvc can not be empty", "error": "cvc can not be empty"},
		payBinding(credsA("mdOrder", second, "bindingId", bindingID, "ip", "10.1.2.3", "language", "en")),
		"the CVC is required: this merchant may not pay alone")
	require.Equal(t, map[string]any{"errorCode": float64(5), "errorMessage": "Invalid ip: an IPv4 or IPv6 address", "error": "Invalid ip: an IPv4 or IPv6 address"},
		payBinding(credsA("mdOrder", second, "bindingId", bindingID, "cvc", cardCVV, "ip", "ten", "language", "en")))
	paid := payBinding(credsA("mdOrder", second, "bindingId", bindingID, "cvc", cardCVV, "ip", "10.1.2.3"))
	require.Equal(t, map[string]any{"errorCode": float64(0), "info": "Your order is proceeded, redirecting...",
		"redirect": "https://shop-a.example.kz/ok?orderId=" + second}, paid)
	u := h.Bank.CredentialUses()[len(h.Bank.CredentialUses())-1]
	require.Equal(t, specs.StoredCardholder, u.Use, "the bank was told it is a stored card the cardholder uses")
	require.Equal(t, cofMode, u.POSEntryMode)
	require.True(t, u.CVV2)
	require.Equal(t, "deposited", nextCallback(t, got).Get("operation"))
	n := len(h.Bank.CredentialUses())
	require.Equal(t, paid, payBinding(credsA("mdOrder", second, "bindingId", bindingID, "cvc", cardCVV, "ip", "10.1.2.3")),
		"a retry answers the recorded outcome")
	require.Len(t, h.Bank.CredentialUses(), n, "and sends nothing")
	st := status(t, h, second)
	require.Equal(t, map[string]any{"clientId": "17", "bindingId": bindingID}, st["bindingInfo"])
	require.EqualValues(t, 2, st["orderStatus"])

	// Another customer's order cannot use it.
	stranger := reg("b-3", "clientId", "18")
	require.Equal(t, map[string]any{"errorCode": float64(5), "errorMessage": "Invalid bindingId: the binding belongs to another clientId",
		"error": "Invalid bindingId: the binding belongs to another clientId"},
		payBinding(credsA("mdOrder", stranger, "bindingId", bindingID, "cvc", cardCVV, "language", "en")))

	// A new expiry (a renewed card): listed, and what the next payment sends.
	require.Equal(t, map[string]any{"errorCode": "5", "errorMessage": "Invalid newExpiry: yyyyMM: a year and month not over yet"},
		h.rbs("extendBinding", credsA("bindingId", bindingID, "newExpiry", "201901", "language", "en")))
	require.Equal(t, "0", h.rbs("extendBinding", credsA("bindingId", bindingID, "newExpiry", "203112"))["errorCode"])
	require.Equal(t, "0", h.rbs("extendBinding", credsA("bindingId", bindingID, "newExpiry", "203112"))["errorCode"], "the same again")
	require.Equal(t, "203112", h.rbs("getBindings", credsA("clientId", "17"))["bindings"].([]any)[0].(map[string]any)["expiryDate"])

	// Disabled: not listed, pays nothing, and the shop hears of it.
	require.Equal(t, map[string]any{"errorCode": "0", "errorMessage": "Успешно"}, h.rbs("unBindCard", credsA("bindingId", bindingID)))
	require.Equal(t, map[string]string{"mdOrder": first, "orderNumber": "b-1", "operation": "bindingActivityChanged", "bindingId": bindingID,
		"clientId": "17", "enabled": "false"}, signed(t, nextCallback(t, got)))
	require.Equal(t, map[string]any{"errorCode": "2", "errorMessage": "Binding is not active (bindingId)"},
		h.rbs("unBindCard", credsA("bindingId", bindingID, "language", "en")))
	require.Equal(t, "2", h.rbs("getBindings", credsA("clientId", "17"))["errorCode"])
	third := reg("b-4", "clientId", "17")
	require.Equal(t, map[string]any{"errorCode": float64(2), "errorMessage": "Связка неактивна (bindingId)", "error": "Связка неактивна (bindingId)"},
		payBinding(credsA("mdOrder", third, "bindingId", bindingID, "cvc", cardCVV)))
	require.Equal(t, map[string]any{"errorCode": "2", "errorMessage": "Сақталған карта белсенді емес (bindingId)"},
		h.rbs("register", credsA("orderNumber", "b-5", "amount", "100", "returnUrl", "https://shop-a.example.kz/ok", "bindingId", bindingID, "language", "kk")))
	require.Len(t, h.Bank.CredentialUses(), n, "nothing went to the bank")

	// Enabled again.
	require.Equal(t, "0", h.rbs("bindCard", credsA("bindingId", bindingID))["errorCode"])
	require.Equal(t, "true", signed(t, nextCallback(t, got))["enabled"])
	require.Equal(t, map[string]any{"errorCode": "2", "errorMessage": "Binding is active already (bindingId)"},
		h.rbs("bindCard", credsA("bindingId", bindingID, "language", "en")))
	require.Equal(t, "0", h.rbs("getBindings", credsA("clientId", "17"))["errorCode"])
	withBinding := reg("b-6", "bindingId", bindingID)
	require.Equal(t, map[string]any{"clientId": "17", "bindingId": bindingID}, status(t, h, withBinding)["bindingInfo"],
		"an order registered with a binding is its customer's")
	require.Equal(t, map[string]any{"errorCode": float64(5), "errorMessage": "Invalid bindingId: the order is to be paid with another binding",
		"error": "Invalid bindingId: the order is to be paid with another binding"},
		payBinding(credsA("mdOrder", withBinding, "bindingId", "00000000-0000-0000-0000-000000000000", "cvc", cardCVV, "language", "en")))

	// Another merchant: its own order, the first merchant's binding.
	notFound := map[string]any{"errorCode": "2", "errorMessage": "Binding not found (bindingId)"}
	orderB := h.rbs("register", credsB("orderNumber", "b-b", "amount", "100", "returnUrl", "https://shop-b.example.kz/ok"))["orderId"].(string)
	for _, id := range []string{bindingID, "00000000-0000-0000-0000-000000000000"} {
		require.Equal(t, notFound, h.rbs("getBindingsByCardOrId", credsB("bindingId", id, "language", "en")))
		require.Equal(t, notFound, h.rbs("unBindCard", credsB("bindingId", id, "language", "en")))
		require.Equal(t, notFound, h.rbs("bindCard", credsB("bindingId", id, "language", "en")))
		require.Equal(t, notFound, h.rbs("extendBinding", credsB("bindingId", id, "newExpiry", "203112", "language", "en")))
		require.Equal(t, notFound, h.rbs("register", credsB("orderNumber", "b-b2", "amount", "100", "returnUrl", "https://shop-b.example.kz/ok",
			"bindingId", id, "language", "en")))
		require.Equal(t, map[string]any{"errorCode": float64(2), "errorMessage": "Binding not found (bindingId)", "error": "Binding not found (bindingId)"},
			h.rbs("paymentOrderBinding", credsB("mdOrder", orderB, "bindingId", id, "cvc", cardCVV, "language", "en")))
	}
	require.Equal(t, "2", h.rbs("getBindings", credsB("clientId", "17"))["errorCode"])
	require.Equal(t, "2", h.rbs("getBindingsByCardOrId", credsB("pan", cardOK))["errorCode"])
	require.Equal(t, "0", h.rbs("getBindings", credsA("clientId", "17"))["errorCode"], "and nothing of it changed")
}

// TestRBSBindingWithoutCVC: a merchant allowed to pay alone pays with a
// binding and no CVC: the bank is told the merchant started it, and no
// CVV2 goes.
func TestRBSBindingWithoutCVC(t *testing.T) {
	h := newHarness(t, func(c *api.Config) { c.Merchants[0].BindingWithoutCVC = true })
	first := h.rbs("register", credsA("orderNumber", "m-1", "amount", "1000", "returnUrl", "https://shop-a.example.kz/ok", "clientId", "c-1"))["orderId"].(string)
	require.EqualValues(t, 0, payOrder(t, h, first, cardOK)["errorCode"])
	bindingID := status(t, h, first)["bindingInfo"].(map[string]any)["bindingId"].(string)
	next := h.rbs("register", credsA("orderNumber", "m-2", "amount", "2000", "returnUrl", "https://shop-a.example.kz/ok", "clientId", "c-1"))["orderId"].(string)
	out := h.rbs("paymentOrderBinding", credsA("mdOrder", next, "bindingId", bindingID))
	require.EqualValues(t, 0, out["errorCode"], out)
	u := h.Bank.CredentialUses()[len(h.Bank.CredentialUses())-1]
	require.Equal(t, specs.StoredMerchant, u.Use)
	require.False(t, u.CVV2)
	require.EqualValues(t, 2, status(t, h, next)["orderStatus"])
}
