package cnp_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/callbacks"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestReturnURLCalledBySwitch: as soon as the bank has answered, the
// switch itself requests the transaction's returnURL (the guide's
// "automatic call"), signed, so the shop learns the outcome even when the
// buyer closes the browser: for an approval and for a decline, not for
// the shop's own capture.
func TestReturnURLCalledBySwitch(t *testing.T) {
	const secret = "shop-callback-secret"
	calls := make(chan url.Values, 10)
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls <- r.URL.Query()
		http.Redirect(w, r, "/checkout/success", http.StatusFound) // as OpenCart's success() does
	}))
	t.Cleanup(shop.Close)
	w := newWorld(t, func(c *daemon.Config) { c.CNP.Merchants[0].CallbackSecret = secret })
	next := func() url.Values {
		t.Helper()
		select {
		case q := <-calls:
			return q
		case <-time.After(20 * time.Second):
			t.Fatal("the switch did not call the returnURL")
			return nil
		}
	}

	ref, id, redirect := w.start(basic(3000, shop.URL+"/index.php?route=payment/processingkz/success&orderID=77&sessionID="))
	newBuyer(t).pay(redirect, switchtest.Visa)
	q := next()
	require.Equal(t, ref, q.Get("sessionID"), "the reference appended to the shop's URL")
	require.Equal(t, "77", q.Get("orderID"))
	require.Equal(t, "approved", q.Get("operation"))
	require.Equal(t, id, q.Get("mdOrder"))
	require.Equal(t, ref, q.Get("orderNumber"))
	p := map[string]string{}
	for k := range q {
		if k != "route" && k != "orderID" && k != "sessionID" {
			p[k] = q.Get(k)
		}
	}
	require.True(t, callbacks.Verify(p, secret), "signed with the merchant's callback secret")

	require.True(t, w.complete(ref, true, ""))
	declined, _, redirect := w.start(basic(3000, shop.URL+"/result?ref="))
	newBuyer(t).pay(redirect, "4000000000000044")
	q = next()
	require.Equal(t, declined, q.Get("ref"), "the next call is the decline: the capture was not called back")
	require.Equal(t, "declined", q.Get("operation"))
	w.SAFDrained()
	require.Empty(t, calls)
	require.False(t, strings.Contains(w.Order(id).ReturnURL, "checksum"))
}
