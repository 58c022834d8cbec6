package issuersim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
)

func TestAdminHandler(t *testing.T) {
	b := MustStartBank(t, "ascii", nil)
	srv := httptest.NewServer(b.AdminHandler())
	t.Cleanup(srv.Close)

	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(out)
	}

	code, body := do("GET", "/knobs", "")
	require.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"latency":"0s","jitter":"0s","rules":[]}`, body)

	code, body = do("PUT", "/knobs", `{"latency":"250ms","jitter":"10ms","rules":[
		{"amount_suffix":"51","response_code":"51"},
		{"pan":"4111111111111111","action":"late","delay":"2s"},
		{"mti":"0100","response_code":"10","approve_amount":6000}],"omit":[32]}`)
	require.Equal(t, http.StatusOK, code, body)
	k := b.Knobs()
	assert.Equal(t, 250*time.Millisecond, k.Latency)
	assert.Equal(t, 10*time.Millisecond, k.Jitter)
	require.Len(t, k.Rules, 3)
	assert.Equal(t, Rule{PAN: visa, Action: ActionLate, Delay: 2 * time.Second}, k.Rules[1])
	assert.Equal(t, Rule{MTI: "0100", ResponseCode: "10", ApproveAmount: 6_000}, k.Rules[2])
	assert.Equal(t, []int{32}, k.Omit)
	assert.Contains(t, body, `"approve_amount": 6000`, "GET and PUT answer it back")
	assert.Contains(t, body, `"omit": [`)
	assert.NotContains(t, body, visa, "rule PANs are masked")
	assert.Contains(t, body, iso.MaskPAN(visa))

	for _, tc := range []struct{ body, want string }{
		{`{"latency":"fast"}`, "latency: must be a duration"},
		{`{"rules":[{"action":"explode"}]}`, "knobs.rules[0].action: unknown action"},
		{`{"rules":[{},{"response_code":"00"}]}`, "knobs.rules[1].response_code: only declines"},
		{`{"rules":[{"action":"late"}]}`, "knobs.rules[0].delay: required"},
		{`{"rules":[{"response_code":"10","approve_amount":-5}]}`, "knobs.rules[0].approve_amount: must be positive"},
		{`{"rules":[{"response_code":"51","approve_amount":5}]}`, "knobs.rules[0].approve_amount: only with response_code 10"},
		{`{"rules":[{"response_code":"10"}]}`, "knobs.rules[0].response_code: only declines can be forced (10 and 00 with approve_amount)"},
		{`{"rules":[{"response_code":"10","approve_amount":"5"}]}`, "approve_amount"},
		{`{"omit":[1]}`, "knobs.omit[0]: 1 is not a data element"},
		{`{"omit":["32"]}`, "omit"},
		{`{"latancy":"1s"}`, "unknown field"},
		{`not json`, "knobs:"},
	} {
		code, body := do("PUT", "/knobs", tc.body)
		assert.Equal(t, http.StatusBadRequest, code, tc.body)
		assert.Contains(t, body, tc.want, tc.body)
	}
	assert.Equal(t, 250*time.Millisecond, b.Knobs().Latency, "a bad PUT changes nothing")

	code, body = do("GET", "/accounts", "")
	require.Equal(t, http.StatusOK, code)
	var accounts []AccountView
	require.NoError(t, json.Unmarshal([]byte(body), &accounts))
	require.Len(t, accounts, len(DefaultCards()))
	assert.Equal(t, "411111******1111", accounts[0].PAN)
	assert.EqualValues(t, 100_000_000, accounts[0].Available)
	assert.NotContains(t, body, visa)

	code, body = do("GET", "/settlement?date=2026-11-23", "")
	require.Equal(t, http.StatusOK, code)
	assert.True(t, strings.HasPrefix(body, "business_date,time,type,"))
	code, _ = do("GET", "/settlement?date=23.11.2026", "")
	assert.Equal(t, http.StatusBadRequest, code)
	code, _ = do("DELETE", "/knobs", "")
	assert.Equal(t, http.StatusMethodNotAllowed, code)
}

func TestAdminListens(t *testing.T) {
	b := MustStartBank(t, "binary", func(c *Config) { c.Admin = "127.0.0.1:0" })
	resp, err := http.Get("http://" + b.AdminAddr() + "/knobs")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
