package daemon_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// Every web listener's endpoints are counted by route and status: the
// hosted page, payment links, receipts and health on the merchants' port,
// the cabinet and the admin endpoint, not only the merchant APIs.
func TestEveryEndpointCounted(t *testing.T) {
	s := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.CabinetListen, c.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	}})
	id := s.Register("metrics-1", 1500, false)
	get := func(u string) int {
		resp, err := http.Get(u)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, get(s.URL()+"/pay/"+id))
	require.Equal(t, http.StatusNotFound, get(s.URL()+"/l/nosuchlink"))
	require.Equal(t, http.StatusOK, get(s.URL()+"/healthz"))
	require.Equal(t, http.StatusNotFound, get(s.URL()+"/nowhere"))
	require.Equal(t, http.StatusOK, get(s.D.CabinetURL()+"/login"))
	require.Equal(t, http.StatusOK, get(s.D.AdminURL()+"/admin/links"))

	count := func(server, route, code string) float64 {
		return switchtest.Counter(t, s.D.Registry(), "tulpar_http_requests_total", "server", server, "route", route, "code", code)
	}
	require.Equal(t, 1.0, count("merchant", "GET /pay/{orderId}", "200"), "the hosted page, by the card page's own route")
	require.Equal(t, 1.0, count("merchant", "GET /l/{code}", "404"), "a payment link's page")
	require.Equal(t, 1.0, count("merchant", "GET /healthz", "200"))
	require.Equal(t, 1.0, count("merchant", "none", "404"))
	require.Equal(t, 1.0, count("merchant", "POST /payment/rest/register.do", "200"), "the merchant API as well")
	require.Equal(t, 1.0, count("cabinet", "GET /login", "200"))
	require.Equal(t, 1.0, count("admin", "GET /admin/links", "200"))
}
