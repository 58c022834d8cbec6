package daemon_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// Behind a proxy every connection comes from the proxy. With the proxy
// trusted, the lockout tells the shop from a guesser by the address the
// proxy names: the guesser is locked, the shop's own address is spared.
// Without it (the build before trusted_proxies) the guesser shared the
// shop's known address and was never locked. A client that is not a proxy
// cannot claim the shop's address by writing the header itself.
func TestLockoutBehindATrustedProxy(t *testing.T) {
	s := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.HTTP.TrustedProxies = []string{"127.0.0.1"}
	}})
	// from is a client at local (the proxy when 127.0.0.1) that names
	// forwarded in X-Forwarded-For.
	from := func(local, forwarded string) func(user, password string) string {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
		hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
		return func(user, password string) string {
			form := url.Values{"userName": {user}, "password": {password}, "orderId": {"x"}}
			req, err := http.NewRequest(http.MethodPost, s.URL()+"/payment/rest/getOrderStatusExtended.do", strings.NewReader(form.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", forwarded)
			resp, err := hc.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var out map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			code, _ := out["errorCode"].(string)
			return code
		}
	}
	const signedIn, refused = "6", "5" // 6: signed in, the order is unknown
	user, pw := s.Secrets.UserName, s.Secrets.Password
	shop := from("127.0.0.1", "203.0.113.10")
	guesser := from("127.0.0.1", "1.2.3.4, 198.51.100.20") // its own forged hop is passed over
	require.Equal(t, signedIn, shop(user, pw), "the shop's address becomes known")
	for range 5 {
		require.Equal(t, refused, guesser(user, "guess"))
	}
	require.Equal(t, refused, guesser(user, pw), "locked for the guesser behind the same proxy")
	require.Equal(t, refused, from("127.0.0.1", "198.51.100.21")(user, pw), "and for any address the proxy names anew")
	require.Equal(t, signedIn, shop(user, pw), "the shop behind the proxy goes on")
	require.Equal(t, refused, from("127.0.0.2", "203.0.113.10")(user, pw),
		"a client that is not a trusted proxy does not get the shop's address by writing the header")
}

// The buyers' default limits count by the client's address, so they hold
// only where the switch sees it: behind a proxy named in trusted_proxies
// they apply to each client the proxy names; behind one it does not name
// (plain_http alone) they are off, since every buyer would share the
// proxy's address and one limit.
func TestBuyerLimitsFollowTheProxy(t *testing.T) {
	orders := func(s *switchtest.Switch, forwarded string, n int) []int {
		body := strings.NewReader(`{"amount": 5000, "description": "Coffee"}`)
		req, err := http.NewRequest(http.MethodPost, s.URL()+"/v1/payment_links", body)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+s.Secrets.APIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var link struct{ URL string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&link))
		resp.Body.Close()
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		var codes []int
		for range n {
			req, err := http.NewRequest(http.MethodPost, link.URL, strings.NewReader("lang=en"))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", forwarded)
			resp, err := noRedirect.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			codes = append(codes, resp.StatusCode)
		}
		return codes
	}
	see, tooMany := http.StatusSeeOther, http.StatusTooManyRequests

	shared := switchtest.Run(t, switchtest.Options{})
	require.Equal(t, []int{see, see, see, see, see, see, see}, orders(shared, "203.0.113.10", 7),
		"every buyer has the proxy's address: no default limit")

	proxied := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.HTTP.TrustedProxies = []string{"127.0.0.1"}
	}})
	require.Equal(t, []int{see, see, see, see, see, tooMany}, orders(proxied, "203.0.113.10", 6), "five at once for one buyer")
	require.Equal(t, []int{see}, orders(proxied, "203.0.113.11", 1), "another buyer behind the same proxy")
}
