package httpmetrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/httpmetrics"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

func TestCountsByRouteAndStatus(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := httpmetrics.New(reg)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pay/{orderId}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("orderId") == "gone" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("page"))
	})
	mux.HandleFunc("POST /quiet", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, _ *http.Request) {
		w.(http.Flusher).Flush()
	})
	mux.HandleFunc("POST /boom", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	srv := httptest.NewServer(m.Handler("merchant", mux))
	defer srv.Close()
	for _, c := range []struct{ method, path string }{
		{"GET", "/pay/a1"}, {"GET", "/pay/b2"}, {"GET", "/pay/gone"}, {"POST", "/quiet"}, {"GET", "/stream"},
		{"GET", "/nowhere"}, {"POST", "/boom"},
	} {
		req, err := http.NewRequest(c.method, srv.URL+c.path, nil)
		require.NoError(t, err)
		// To the end of the body: its last chunk leaves after the handler
		// returned, and so after the counting.
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	count := func(route, code string) float64 {
		return switchtest.Counter(t, reg, "tulpar_http_requests_total", "server", "merchant", "route", route, "code", code)
	}
	require.Equal(t, 2.0, count("GET /pay/{orderId}", "200"), "by pattern, not by path")
	require.Equal(t, 1.0, count("GET /pay/{orderId}", "404"))
	require.Equal(t, 1.0, count("POST /quiet", "200"), "nothing written is a 200")
	require.Equal(t, 1.0, count("GET /stream", "200"))
	require.Equal(t, 1.0, count("none", "404"), "no route matched")
	require.Equal(t, 1.0, count("POST /boom", "panic"), "counted once (a GET the client would send again)")
	require.Equal(t, 0.0, switchtest.Counter(t, reg, "tulpar_http_requests_in_flight", "server", "merchant"))
}
