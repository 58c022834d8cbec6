package cnp_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/callbacks"
	"github.com/tulpar-switch/tulpar/switch/cnp"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestJournaled: every request and answer of a transaction is in the
// journal with it (the order's entries), credentials never: not
// refundTransaction's password, not HTTP Basic's.
func TestJournaled(t *testing.T) {
	const user, password, refundPassword = "journal-shop", "9f8e7d6c5b4a39281706f5e4d3c2b1a0", "refund-password-123"
	w := newWorld(t, func(c *daemon.Config) {
		c.CNP.Merchants[0].BasicAuth = cnp.BasicAuth{UserName: user, PasswordSHA256: sha256Hex(password)}
	})
	auth := func(r *http.Request) { r.SetBasicAuth(user, password) }
	r := w.call("startTransaction", "<ns1:transaction>"+details(basic(4000, w.shop+"/r"))+"</ns1:transaction>", auth)
	ref, redirect := r.value(t, "customerReference"), r.value(t, "redirectURL")
	id := redirect[strings.LastIndex(redirect, "/")+1:]
	newBuyer(t).pay(redirect, switchtest.Visa)
	w.call("completeTransaction", el("merchantId", mid)+el("referenceNr", ref)+el("transactionSuccess", "true"), auth)
	r = w.call("refundTransaction", el("merchantId", mid)+el("password", refundPassword)+el("referenceNr", ref)+
		el("refundAmount", "1000")+el("description", "broken"), auth)
	require.Equal(t, "true", r.ret().Text, r.body)
	w.call("getTransactionStatus", el("merchantId", mid)+el("referenceNr", ref), auth)

	entries, err := w.D.Journal().ByOrder(id)
	require.NoError(t, err)
	requests, answers := 0, 0
	for _, e := range entries {
		require.NotContains(t, string(e.Payload), refundPassword)
		require.NotContains(t, string(e.Payload), password)
		require.NotContains(t, string(e.Payload), "4111111111111111")
		if e.Channel == order.ChannelAPI && strings.Contains(string(e.Payload), `"dialect":"cnp"`) {
			requests++
		}
		if e.Channel == order.ChannelAPI && strings.Contains(string(e.Payload), `"endpoint":"cnp/`) {
			answers++
		}
	}
	require.Equal(t, 4, requests, "start, complete, refund and status requests, each with the order")
	require.Equal(t, 4, answers, "and their answers")
}

// TestUnavailable: while the switch cannot make work durable, each
// operation answers "temporarily unavailable" in its own words: a start's
// success=false, a follow-up's false, a query's Server fault (503); the
// WSDL is still served.
func TestUnavailable(t *testing.T) {
	w := newWorld(t)
	cfg := cnp.Config{PublicURL: w.URL(), PaymentPageURL: w.URL() + "/pay", Merchants: []cnp.MerchantConfig{shopConfig()}}
	s, err := cnp.New(w.D.Payments(), cfg, zerolog.Nop(), nil)
	require.NoError(t, err)
	do := func(op, inner string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, service, strings.NewReader(envelope11(op, inner)))
		req.Header.Set("Content-Type", "text/xml")
		rec := httptest.NewRecorder()
		s.Unavailable(rec, req)
		return rec
	}
	rec := do("startTransaction", "<ns1:transaction>"+details(basic(1000, w.shop+"/r"))+"</ns1:transaction>")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "<ax23:errorDescription>Service temporarily unavailable, try again later</ax23:errorDescription>")
	require.Contains(t, rec.Body.String(), "<ax23:success>false</ax23:success>")
	rec = do("completeTransaction", el("merchantId", mid))
	require.Contains(t, rec.Body.String(), "<ns:return>false</ns:return>")
	rec = do("getTransactionStatus", el("merchantId", mid))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "5", rec.Header().Get("Retry-After"))
	require.Contains(t, rec.Body.String(), "<faultcode>soapenv:Server</faultcode>")
	rec = httptest.NewRecorder()
	s.Unavailable(rec, httptest.NewRequest(http.MethodGet, service+"?wsdl", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "wsdl:definitions")
}

// TestAbandoned: a transaction nobody pays is DECLINED once the order's
// lifetime ends (there is no EXPIRED in the guide), and its returnURL is
// called then too.
func TestAbandoned(t *testing.T) {
	calls := make(chan string, 4)
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls <- r.URL.Query().Get("operation")
	}))
	t.Cleanup(shop.Close)
	w := newWorld(t, func(c *daemon.Config) {
		c.Payments.OrderLifetime = 300 * time.Millisecond
		c.ExpiryInterval = 50 * time.Millisecond
	})
	ref, _, _ := w.start(basic(1000, shop.URL+"/r?ref="))
	require.Equal(t, "PENDING_CUSTOMER_INPUT", w.statusOf(ref))
	w.Eventually(func() bool { return w.statusOf(ref) == "DECLINED" }, "the abandoned transaction declined")
	select {
	case op := <-calls:
		require.Equal(t, string(callbacks.EventDeclinedByTimeout), op)
	case <-time.After(20 * time.Second):
		t.Fatal("no returnURL call for the abandoned transaction")
	}
}
