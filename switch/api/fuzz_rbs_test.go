package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzRBSForms sends arbitrary form bodies, with valid credentials, to the
// RBS endpoints: every answer is HTTP 200 with a JSON errorCode, as plugins
// expect (an error code, or register's orderId), and no request takes the
// server down or ends in a system error.
func FuzzRBSForms(f *testing.F) {
	h := newHarness(f)
	base := credsA().Encode()
	for _, seed := range []string{
		"orderNumber=1&amount=100&returnUrl=https://x.kz/",
		"orderNumber=&amount=-1&returnUrl=ftp://x",
		"orderId=does-not-exist&amount=0",
		"amount=99999999999999999999&currency=999&language=zz&jsonParams={",
		"MDORDER=x&$PAN=4111111111111111&$CVC=1&YYYY=20&MM=13",
		"%zz=1",
		"from=20260101000000&to=20260102000000&size=0&transactionStates=X",
		"orderNumber=1&params[a]=%ff&language=kz",
		`orderBundle={"cartItems":{"items":[{"name":"a","quantity":{"value":1e5},"itemPrice":1}]}}&amount=100000&orderNumber=b&returnUrl=https://x.kz/`,
	} {
		f.Add(uint8(0), seed)
	}
	endpoints := []string{"register", "registerPreAuth", "deposit", "reverse", "refund", "decline",
		"getOrderStatus", "getOrderStatusExtended", "paymentorder", "getLastOrdersForMerchants", "addParams"}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		ep := endpoints[int(which)%len(endpoints)]
		resp, err := http.Post(h.URL()+"/payment/rest/"+ep+".do", "application/x-www-form-urlencoded",
			strings.NewReader(base+"&"+body))
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		if resp.StatusCode == http.StatusRequestEntityTooLarge {
			return
		}
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s %q: %s", ep, body, raw)
		var ans map[string]any
		require.NoError(t, json.Unmarshal(raw, &ans), "%s: %s", ep, raw)
		_, code := ans["errorCode"]
		_, status := ans["ErrorCode"]
		_, order := ans["orderId"]
		require.True(t, code || status || order, "%s: neither an error code nor an order: %s", ep, raw)
		for _, system := range []string{"System error", "Системная ошибка", "Жүйелік қате"} {
			require.NotContains(t, string(raw), system, "%s %q: a system error", ep, url.QueryEscape(body))
		}
	})
}
