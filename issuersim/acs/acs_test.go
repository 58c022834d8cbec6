package acs

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/emv3ds"
	"github.com/tulpar-switch/tulpar/iso"
)

// syncBuffer is a log sink the handlers may write to concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustServer(t *testing.T, cfg Config) (*Server, *httptest.Server, *syncBuffer) {
	t.Helper()
	var log syncBuffer
	s := New(cfg, zerolog.New(&log))
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv, &log
}

func areqJSON(id, pan string) map[string]string {
	return map[string]string{
		"messageType": "AReq", "threeDSServerTransID": id, "acctNumber": pan, "cardExpiryDate": "2812",
		"purchaseAmount": "100", "purchaseCurrency": "398", "merchantName": "Shop",
		"notificationURL": "https://shop.example/notify",
	}
}

func post(t *testing.T, url string, v any) (int, []byte) {
	t.Helper()
	var body []byte
	switch v := v.(type) {
	case string:
		body = []byte(v)
	default:
		var err error
		body, err = json.Marshal(v)
		require.NoError(t, err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"zero", Config{}, ""},
		{"defaults", DefaultConfig(), ""},
		{"bad PAN", Config{Cards: map[string]Behaviour{"4111-1111": Frictionless}}, "cards[*********]"},
		{"bad behaviour", Config{Cards: map[string]Behaviour{"4111111111111111": "maybe"}}, "cards[411111******1111]: unknown behaviour"},
		{"short key", Config{Key: []byte("short")}, "key"},
		{"negative ttl", Config{TTL: -time.Second}, "ttl"},
		{"negative max", Config{MaxTransactions: -1}, "max_transactions"},
		{"negative attempts", Config{MaxAttempts: -1}, "max_attempts"},
		{"relative public URL", Config{PublicURL: "/acs"}, "public_url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
			require.NotContains(t, err.Error(), "4111111111111111")
		})
	}
	require.Panics(t, func() { New(Config{TTL: -1}, zerolog.Nop()) })
}

func TestDefaultCards(t *testing.T) {
	for pan := range DefaultCards() {
		require.True(t, iso.Luhn(pan), iso.MaskPAN(pan))
	}
	require.Len(t, DefaultCards(), 6)
}

func TestECI(t *testing.T) {
	tests := []struct {
		pan        string
		y, a, none string
	}{
		{"4111111111111111", "05", "06", "07"},
		{"5555555555555599", "02", "01", "00"},
		{"2221000000000009", "02", "01", "00"},
		{"2720990000000007", "02", "01", "00"},
		{"2200000000000004", "05", "06", "07"}, // Mir: Visa-style
		{"5000000000000009", "05", "06", "07"}, // 50: not Mastercard
		{"3700000000000002", "05", "06", "07"},
	}
	for _, tc := range tests {
		mc := mastercard(tc.pan)
		require.Equal(t, tc.y, eciFor(mc, "Y"), tc.pan)
		require.Equal(t, tc.a, eciFor(mc, "A"), tc.pan)
		for _, s := range []string{"N", "U", "R"} {
			require.Equal(t, tc.none, eciFor(mc, s), tc.pan)
		}
	}
}

func TestFormatAmount(t *testing.T) {
	for _, tc := range []struct {
		minor int64
		exp   int
		want  string
	}{{123456, 2, "1234.56"}, {5, 2, "0.05"}, {0, 2, "0.00"}, {100, 0, "100"}, {1, 3, "0.001"}} {
		require.Equal(t, tc.want, formatAmount(tc.minor, tc.exp))
	}
}

func TestAReqErrors(t *testing.T) {
	_, srv, log := mustServer(t, Config{})
	const pan = "4111111111111111"
	tests := []struct {
		name   string
		change func(map[string]string)
		raw    string
		status int
		code   string
		detail string
	}{
		{"not JSON", nil, "{", 400, "203", ""},
		{"wrong message type", func(m map[string]string) { m["messageType"] = "RReq" }, "", 400, "203", "messageType"},
		{"no PAN", func(m map[string]string) { delete(m, "acctNumber") }, "", 400, "201", "acctNumber"},
		{"letters in PAN", func(m map[string]string) { m["acctNumber"] = pan + "a" }, "", 400, "203", "acctNumber"},
		{"month 13", func(m map[string]string) { m["cardExpiryDate"] = "2813" }, "", 400, "203", "cardExpiryDate"},
		{"negative amount", func(m map[string]string) { m["purchaseAmount"] = "-1" }, "", 400, "203", "purchaseAmount"},
		{"alpha currency", func(m map[string]string) { m["purchaseCurrency"] = "KZT" }, "", 400, "203", "purchaseCurrency"},
		{"javascript notification", func(m map[string]string) { m["notificationURL"] = "javascript:alert(1)" }, "", 400, "203", "notificationURL"},
		{"id with a slash", func(m map[string]string) { m["threeDSServerTransID"] = "a/b" }, "", 400, "203", "threeDSServerTransID"},
		{"too large", nil, `{"acctNumber":"` + strings.Repeat("1", maxJSONBody) + `"}`, 413, "203", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v any = tc.raw
			if tc.change != nil {
				m := areqJSON("order-err", pan)
				tc.change(m)
				v = m
			}
			status, body := post(t, srv.URL+"/ds/authenticate", v)
			require.Equal(t, tc.status, status, string(body))
			var e emv3ds.Erro
			require.NoError(t, json.Unmarshal(body, &e))
			require.Equal(t, "Erro", e.MessageType)
			require.Equal(t, tc.code, e.ErrorCode)
			require.Equal(t, tc.detail, e.ErrorDetail)
			require.NotContains(t, string(body), pan)
		})
	}
	require.NotContains(t, log.String(), pan)
}

func TestTableFullAndSweep(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, srv, _ := mustServer(t, Config{MaxTransactions: 2, TTL: time.Minute, Now: clock})
	for _, id := range []string{"o1", "o2"} {
		status, body := post(t, srv.URL+"/ds/authenticate", areqJSON(id, "4111111111111111"))
		require.Equal(t, 200, status, string(body))
	}
	status, body := post(t, srv.URL+"/ds/authenticate", areqJSON("o3", "4111111111111111"))
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Contains(t, string(body), `"errorCode":"403"`)

	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	status, body = post(t, srv.URL+"/ds/authenticate", areqJSON("o3", "4111111111111111"))
	require.Equal(t, 200, status, string(body))
}

func TestChallengePageErrors(t *testing.T) {
	_, srv, _ := mustServer(t, Config{})
	status, body := post(t, srv.URL+"/ds/authenticate", areqJSON("order-c", "5555555555555599"))
	require.Equal(t, 200, status)
	var ares emv3ds.Result
	require.NoError(t, json.Unmarshal(body, &ares))
	require.Equal(t, "C", ares.TransStatus)

	creq := func(id, acs string) string {
		return emv3ds.CReq{ThreeDSServerTransID: id, ACSTransID: acs, MessageType: emv3ds.MessageTypeCReq, MessageVersion: emv3ds.Version220}.FormValue()
	}
	padded, err := json.Marshal(emv3ds.CReq{ThreeDSServerTransID: "order-c", ACSTransID: ares.ACSTransID})
	require.NoError(t, err)
	tests := []struct {
		name   string
		query  url.Values
		status int
	}{
		{"nothing", url.Values{}, 400},
		{"not base64", url.Values{"creq": {"%%%"}}, 400},
		{"not JSON", url.Values{"creq": {base64.RawURLEncoding.EncodeToString([]byte("nope"))}}, 400},
		{"unknown transaction", url.Values{"creq": {creq("order-x", ares.ACSTransID)}}, 404},
		{"wrong acsTransID", url.Values{"creq": {creq("order-c", "guess")}}, 404},
		{"GET with creq", url.Values{"creq": {creq("order-c", ares.ACSTransID)}}, 200},
		{"padded creq", url.Values{"creq": {base64.URLEncoding.EncodeToString(padded)}}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + "/acs/challenge?" + tc.query.Encode())
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
		})
	}
}

func TestLogHoldsNoCodeOrCAVV(t *testing.T) {
	s, srv, log := mustServer(t, Config{})
	status, body := post(t, srv.URL+"/ds/authenticate", areqJSON("order-l", "5555555555555599"))
	require.Equal(t, 200, status)
	var ares emv3ds.Result
	require.NoError(t, json.Unmarshal(body, &ares))

	s.mu.Lock()
	code := s.txns["order-l"].code
	s.mu.Unlock()
	resp, err := http.PostForm(srv.URL+"/acs/challenge", url.Values{"threeDSServerTransID": {"order-l"}, "acsTransID": {ares.ACSTransID}, "code": {code}})
	require.NoError(t, err)
	resp.Body.Close()

	resp, err = http.Get(srv.URL + "/ds/result/order-l")
	require.NoError(t, err)
	var rres emv3ds.Result
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rres))
	resp.Body.Close()
	require.Equal(t, "Y", rres.TransStatus)
	require.NotEmpty(t, rres.AuthenticationValue)

	out := log.String()
	require.Contains(t, out, "555555******5599")
	require.Contains(t, out, "challenge_passed")
	require.NotContains(t, out, "5555555555555599")
	require.NotContains(t, out, rres.AuthenticationValue)
	require.NotContains(t, out, `"`+code+`"`)
}

func TestCAVVStableAndBound(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	in := CAVVInput{PAN: "4111111111111111", Amount: 100, Currency: "398", DSTransID: "ds", Version: emv3ds.Version220, ECI: "05"}
	c := CAVV(key, in)
	require.Equal(t, c, CAVV(key, in))
	raw, err := base64.StdEncoding.DecodeString(c)
	require.NoError(t, err)
	require.Len(t, raw, 20)
	require.True(t, VerifyCAVV(key, in, c))
	for _, change := range []func(*CAVVInput){
		func(i *CAVVInput) { i.PAN = "4111111111111112" },
		func(i *CAVVInput) { i.Amount = 101 },
		func(i *CAVVInput) { i.Currency = "840" },
		func(i *CAVVInput) { i.DSTransID = "ds2" },
		func(i *CAVVInput) { i.ECI = "06" },
	} {
		other := in
		change(&other)
		require.False(t, VerifyCAVV(key, other, c))
	}
	require.False(t, VerifyCAVV(bytes.Repeat([]byte{8}, 32), in, c))
	require.False(t, VerifyCAVV(key, in, "not base64"))
}

func FuzzParseAReq(f *testing.F) {
	b, _ := json.Marshal(areqJSON("order-1", "4111111111111111"))
	f.Add(b)
	f.Add([]byte(`{"messageType":"AReq"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseAReq(body)
		if err != nil {
			var fe *emv3ds.FieldError
			require.ErrorAs(t, err, &fe, "the handler answers it with an Erro")
			return
		}
		require.NoError(t, r.Check())
		require.GreaterOrEqual(t, r.amount, int64(0))
		require.LessOrEqual(t, r.amount, int64(999_999_999_999))
	})
}
