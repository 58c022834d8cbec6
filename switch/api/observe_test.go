package api_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLogsAndMetrics: one log line per call, no secrets in it, and the
// per-endpoint counters and latency histogram.
func TestLogsAndMetrics(t *testing.T) {
	h := newHarness(t)
	id := register(t, h, "register", "obs-1", "1000")
	payOrder(t, h, id, cardOK)
	h.rbs("deposit", credsA("orderId", id, "amount", "0"))
	h.v1("GET", "/v1/orders/"+id, keyA, "", nil)
	h.v1("GET", "/v1/orders/"+id, "sk_wrong", "", nil)

	var lines []map[string]any
	for _, l := range h.logs.Lines() {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		if m["message"] == "api call" {
			lines = append(lines, m)
		}
	}
	require.Len(t, lines, 5)
	require.Equal(t, "register", lines[0]["endpoint"])
	require.Equal(t, "shop-a", lines[0]["merchant"])
	require.Equal(t, id, lines[0]["order"])
	require.Equal(t, "paymentorder", lines[1]["endpoint"])
	require.Equal(t, "7", lines[2]["code"], "deposit of a one-stage order")
	require.EqualValues(t, 401, lines[4]["status"])
	for _, s := range []string{passA, keyA, "sk_wrong", cardOK, `"123"`} {
		require.NotContains(t, h.logs.String(), s)
	}

	require.Equal(t, 1.0, (h.srvMetric("register", "200", "")))
	require.Equal(t, 1.0, (h.srvMetric("deposit", "200", "7")))
	require.Equal(t, 1.0, (h.srvMetric("v1_get_order", "401", "invalid_api_key")))
	mfs, err := h.D.Registry().Gather()
	require.NoError(t, err)
	var hist int
	for _, mf := range mfs {
		if mf.GetName() == "tulpar_api_request_duration_seconds" {
			hist = len(mf.GetMetric())
		}
	}
	require.Equal(t, 4, hist, "a histogram per endpoint called")
}
