package api_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/api"
)

// callbackServer is a shop's callback endpoint: it hands over each
// callback's query.
func callbackServer(t *testing.T) (*httptest.Server, chan url.Values) {
	got := make(chan url.Values, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query()
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func nextCallback(t *testing.T, got chan url.Values) url.Values {
	t.Helper()
	select {
	case v := <-got:
		return v
	case <-time.After(20 * time.Second):
		t.Fatal("no callback")
		return nil
	}
}

// TestRBSDynamicCallbackURL: register.do's dynamicCallbackUrl on a host the
// merchant allows receives that order's callbacks, signed as the
// merchant's; the merchant's own URL goes on receiving the others; a URL
// on any other host, or from a merchant without callbacks, is refused and
// names the parameter.
func TestRBSDynamicCallbackURL(t *testing.T) {
	configured, toConfigured := callbackServer(t)
	dynamic, toDynamic := callbackServer(t)
	h := newHarness(t, func(c *api.Config) {
		c.Merchants[0].CallbackURL, c.Merchants[0].CallbackSecret = configured.URL+"/cb", "shop-a-callback-secret"
		c.Merchants[0].CallbackHosts = []string{"localhost"}
	})
	// The same server under another name: allowed only by callback_hosts.
	dynURL := strings.Replace(dynamic.URL, "127.0.0.1", "localhost", 1) + "/orders/notify?shop=a"
	out := h.rbs("register", credsA("orderNumber", "dyn-1", "amount", "1000", "returnUrl", "https://shop-a.example.kz/ok",
		"dynamicCallbackUrl", dynURL))
	id, _ := out["orderId"].(string)
	require.NotEmpty(t, id, out)
	require.Equal(t, dynURL, h.Order(id).CallbackURL)
	require.EqualValues(t, 0, payOrder(t, h, id, cardOK)["errorCode"])
	cb := nextCallback(t, toDynamic)
	require.Equal(t, id, cb.Get("mdOrder"))
	require.Equal(t, "deposited", cb.Get("operation"))
	require.Equal(t, "a", cb.Get("shop"), "the URL's own query kept")
	require.Len(t, cb.Get("checksum"), 64)

	other := register(t, h, "register", "dyn-2", "1000")
	require.EqualValues(t, 0, payOrder(t, h, other, cardOK)["errorCode"])
	require.Equal(t, other, nextCallback(t, toConfigured).Get("mdOrder"), "without its own URL: the merchant's")
	select {
	case v := <-toDynamic:
		t.Fatalf("a callback of another order went to the order's own URL: %v", v)
	default:
	}

	reg := func(user, pass, u string) map[string]any {
		return h.rbs("register", url.Values{"userName": {user}, "password": {pass}, "language": {"en"}, "orderNumber": {"dyn-bad"},
			"amount": {"1000"}, "returnUrl": {"https://shop.example.kz/ok"}, "dynamicCallbackUrl": {u}})
	}
	require.Equal(t, map[string]any{"errorCode": "5", "errorMessage": "Invalid dynamicCallbackUrl: the host is neither the merchant's callback host nor in its callback_hosts"},
		reg(userA, passA, "https://evil.example.com/steal"))
	require.Equal(t, map[string]any{"errorCode": "5", "errorMessage": "Invalid dynamicCallbackUrl: must be an absolute http(s) URL of at most 512 characters"},
		reg(userA, passA, "ftp://localhost/x"))
	require.Equal(t, map[string]any{"errorCode": "5", "errorMessage": "Invalid dynamicCallbackUrl: callbacks are not configured for this merchant"},
		reg(userB, passB, "https://shop-b.example.kz/cb"))
}
