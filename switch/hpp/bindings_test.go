package hpp_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/specs"
)

// TestBindingAgreedOnThePage is a stored card's life as a shop and its
// buyer live it: the shop registers orders with its customer's clientId;
// the page offers to remember the card, unticked, and keeps nothing
// until the buyer ticks it; the shop then pays with the binding
// (paymentOrderBinding.do, the buyer giving the CVC), the bank told each
// time how the stored card is used; the shop changes its expiry
// (extendBinding.do) and the bank is sent the new one; unBindCard.do
// disables it and bindCard.do enables it again.
func TestBindingAgreedOnThePage(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t)
	rbs := func(method string, kv ...string) map[string]any {
		t.Helper()
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		out, err := s.RBS(method, v, 0)
		require.NoError(t, err)
		return out
	}
	register := func(number string, kv ...string) string {
		t.Helper()
		out := rbs("register", append([]string{"orderNumber", number, "amount", "150000", "returnUrl", shopURL + "/ok"}, kv...)...)
		require.NotEmpty(t, out["orderId"], out)
		return out["orderId"].(string)
	}
	// pay submits the card form as the buyer does, ticking the box or not.
	pay := func(id string, keep bool) {
		t.Helper()
		form := b.get(s.URL() + "/pay/" + id)
		v := card(csrfToken(t, form.body), frictionless)
		if keep {
			v.Set("keep", "1")
		}
		b.get(b.post(s.URL()+"/pay/"+id, v).follow(t))
		require.EqualValues(t, 2, rbs("getOrderStatusExtended", "orderId", id)["orderStatus"])
	}
	// lastUse is how many stored-card payments the bank saw, and how the
	// latest was marked (DE22 as the dialect marks a stored credential).
	cofMode := specs.MustLoad(s.Bank.Dialect()).CredentialOnFile.POSEntryMode
	lastUse := func() (int, string, string, bool) {
		t.Helper()
		uses := s.Bank.CredentialUses()
		if len(uses) == 0 {
			return 0, "", "", false
		}
		u := uses[len(uses)-1]
		if u.Use != specs.StoredInitial {
			require.Equal(t, cofMode, u.POSEntryMode)
		}
		return len(uses), u.Use, u.Expiry, u.CVV2
	}

	// No clientId, nothing to remember the card for: no box.
	anonymous := register("bind-0")
	require.NotContains(t, b.get(s.URL()+"/pay/"+anonymous).body, `name="keep"`)

	// The box is there, unticked; left so, the card is not kept.
	declined := register("bind-1", "clientId", "17")
	page := b.get(s.URL() + "/pay/" + declined).body
	require.Contains(t, page, `<input id="keep" name="keep" type="checkbox" value="1">`)
	pay(declined, false)
	require.Equal(t, "2", rbs("getBindings", "clientId", "17")["errorCode"], "nothing kept without the buyer's tick")
	n, _, _, _ := lastUse()
	require.Zero(t, n, "and the bank heard of no stored card")

	// Ticked: kept for customer 17, the bank told the card is being stored.
	agreed := register("bind-2", "clientId", "17")
	pay(agreed, true)
	n, use, _, _ := lastUse()
	require.Equal(t, 1, n)
	require.Equal(t, specs.StoredInitial, use)
	list := rbs("getBindings", "clientId", "17")
	require.Equal(t, "0", list["errorCode"], list)
	binding := list["bindings"].([]any)[0].(map[string]any)
	id := binding["bindingId"].(string)
	require.Equal(t, map[string]any{"bindingId": id, "maskedPan": "411111**1111", "expiryDate": "203012", "clientId": "17",
		"paymentWay": "CARD", "paymentSystem": "VISA"}, binding)
	require.Equal(t, map[string]any{"clientId": "17", "bindingId": id},
		rbs("getOrderStatusExtended", "orderId", agreed)["bindingInfo"])

	// The shop pays another order of the customer with it.
	payBinding := func(order string) map[string]any {
		t.Helper()
		return rbs("paymentOrderBinding", "mdOrder", order, "bindingId", id, "cvc", testCVV, "ip", "10.1.2.3")
	}
	next := register("bind-3", "clientId", "17")
	out := payBinding(next)
	require.EqualValues(t, 0, out["errorCode"], out)
	require.Equal(t, shopURL+"/ok?orderId="+next, out["redirect"])
	n, use, exp, cvv := lastUse()
	require.Equal(t, 2, n)
	require.Equal(t, specs.StoredCardholder, use, "a stored card the cardholder uses")
	require.Equal(t, "3012", exp)
	require.True(t, cvv)

	// A renewed card: the next payment sends the new expiry (which the
	// simulated bank, knowing the old card, declines).
	require.Equal(t, "0", rbs("extendBinding", "bindingId", id, "newExpiry", "203112")["errorCode"])
	require.Equal(t, "203112", rbs("getBindings", "clientId", "17")["bindings"].([]any)[0].(map[string]any)["expiryDate"])
	renewed := register("bind-4", "clientId", "17")
	payBinding(renewed)
	n, use, exp, _ = lastUse()
	require.Equal(t, 3, n)
	require.Equal(t, specs.StoredCardholder, use)
	require.Equal(t, "3112", exp)
	require.Equal(t, "0", rbs("extendBinding", "bindingId", id, "newExpiry", "203012")["errorCode"])

	// Removed: not listed, pays nothing, nothing reaches the bank.
	require.Equal(t, "0", rbs("unBindCard", "bindingId", id)["errorCode"])
	require.Equal(t, "2", rbs("getBindings", "clientId", "17")["errorCode"])
	later := register("bind-5", "clientId", "17")
	require.EqualValues(t, 2, payBinding(later)["errorCode"])
	n, _, _, _ = lastUse()
	require.Equal(t, 3, n)

	// Enabled again: listed, and pays.
	require.Equal(t, "0", rbs("bindCard", "bindingId", id)["errorCode"])
	require.Equal(t, "0", rbs("getBindings", "clientId", "17")["errorCode"])
	out = payBinding(later)
	require.EqualValues(t, 0, out["errorCode"], out)
	n, use, exp, _ = lastUse()
	require.Equal(t, 4, n)
	require.Equal(t, specs.StoredCardholder, use)
	require.Equal(t, "3012", exp)
	require.EqualValues(t, 2, rbs("getOrderStatusExtended", "orderId", later)["orderStatus"])
}
