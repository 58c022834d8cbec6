package threeds

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/emv3ds"
)

const testCAVV = "AAABBEg0VhI0VniQEjRWAAAAAAA="

func resultJSON(t testing.TB, change func(map[string]any)) []byte {
	t.Helper()
	m := map[string]any{
		"messageType": "ARes", "messageVersion": "2.2.0", "threeDSServerTransID": "order-1",
		"dsTransID": "f25084f0-5b16-4c0a-ae5d-b24808a95e4b", "acsTransID": "0f1e2d3c-5b16-4c0a-ae5d-b24808a95e4b",
		"transStatus": "Y", "eci": "05", "authenticationValue": testCAVV,
	}
	if change != nil {
		change(m)
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestDecodeResult(t *testing.T) {
	tests := []struct {
		name   string
		change func(map[string]any)
		status Status
		err    string // "" for no error
	}{
		{"authenticated", nil, Authenticated, ""},
		{"hex CAVV", func(m map[string]any) { m["authenticationValue"] = strings.Repeat("ab", 20) }, Authenticated, ""},
		{"Y without CAVV", func(m map[string]any) { delete(m, "authenticationValue") }, "", "authenticationValue"},
		{"Y with short CAVV", func(m map[string]any) { m["authenticationValue"] = "AAAA" }, "", "authenticationValue"},
		{"Y without ECI", func(m map[string]any) { delete(m, "eci") }, "", "eci: required"},
		{"A with CAVV", func(m map[string]any) { m["transStatus"] = "A"; m["eci"] = "06" }, Attempted, ""},
		{"U claiming authentication", func(m map[string]any) { m["transStatus"] = "U"; m["eci"] = "05" }, "", "claims authentication"},
		{"N drops a CAVV", func(m map[string]any) { m["transStatus"] = "N"; m["eci"] = "07" }, Failed, ""},
		{"challenge", func(m map[string]any) { m["transStatus"] = "C"; m["acsURL"] = "https://acs.example/c" }, ChallengeRequired, ""},
		{"challenge to javascript", func(m map[string]any) { m["transStatus"] = "C"; m["acsURL"] = "javascript:alert(1)" }, "", "acsURL"},
		{"challenge without acsTransID", func(m map[string]any) {
			m["transStatus"] = "C"
			m["acsURL"] = "https://acs.example/c"
			delete(m, "acsTransID")
		}, "", "acsTransID"},
		{"unknown status", func(m map[string]any) { m["transStatus"] = "Q" }, "", "transStatus: want"},
		{"wrong message type", func(m map[string]any) { m["messageType"] = "RRes" }, "", "messageType"},
		{"bad version", func(m map[string]any) { m["messageVersion"] = "2.2" }, "", "messageVersion"},
		{"bad ECI", func(m map[string]any) { m["eci"] = "5" }, "", "eci"},
		{"control characters in dsTransID", func(m map[string]any) { m["dsTransID"] = "a\nb" }, "", "dsTransID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, o, err := decodeResult(resultJSON(t, tc.change), "ARes")
			if tc.err != "" {
				require.ErrorIs(t, err, ErrBadResponse)
				require.ErrorContains(t, err, tc.err)
				require.NotContains(t, err.Error(), testCAVV)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.status, o.Status)
			require.Equal(t, o.Status == Authenticated || o.Status == Attempted, o.CAVV != "")
		})
	}
}

func TestOutcomeNeverShowsCAVV(t *testing.T) {
	o := Outcome{Status: Authenticated, TransID: "order-1", ECI: "05", CAVV: testCAVV, DSTransID: "ds-1", Version: "2.2.0"}
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	log.Info().Object("3ds", o).Msg("authenticated")
	log.Info().Stringer("3ds", o).Msg("authenticated")
	for _, s := range []string{buf.String(), fmt.Sprint(o), fmt.Sprintf("%v %+v %#v %s", o, o, o, o), o.String()} {
		require.NotContains(t, s, testCAVV)
		require.Contains(t, s, "05")
	}
	require.Contains(t, buf.String(), `"cavv":true`)
}

func TestRedactDigits(t *testing.T) {
	tests := map[string]string{
		"card 4111111111111111 unknown": "card **************** unknown",
		"amount 12345678901":            "amount 12345678901",
		"4111111111111111":              "****************",
		"":                              "",
		"x5555555555555599":             "x****************",
	}
	for in, want := range tests {
		require.Equal(t, want, redactDigits(in), in)
	}
	e := decodeErro([]byte(`{"messageType":"Erro","errorCode":"203","errorDescription":"acctNumber 4111111111111111 bad\n"}`), 400)
	require.NotContains(t, e.Error(), "4111111111111111")
	require.NotContains(t, e.Error(), "\n")
	require.False(t, errors.Is(e, ErrUnknownTransaction))
	require.True(t, errors.Is(&DSError{Code: "301"}, ErrUnknownTransaction))
}

func TestChallengePageRefuses(t *testing.T) {
	tests := []struct {
		name string
		o    Outcome
	}{
		{"not a challenge", Outcome{Status: Authenticated, ChallengeURL: "https://acs.example/c"}},
		{"javascript URL", Outcome{Status: ChallengeRequired, ChallengeURL: "javascript:alert(1)"}},
		{"relative URL", Outcome{Status: ChallengeRequired, ChallengeURL: "/acs/challenge"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			require.Error(t, ChallengePage(rec, tc.o, "/pay/autosubmit.js"))
			require.Zero(t, rec.Body.Len())
		})
	}
	rec := httptest.NewRecorder()
	require.NoError(t, ChallengePage(rec, Outcome{Status: ChallengeRequired, ChallengeURL: "https://acs.example/c?a=1&b=2",
		ChallengeForm: map[string]string{"creq": `"><script>`, "threeDSSessionData": "x"}}, "/pay/autosubmit.js?v=1"))
	body := rec.Body.String()
	// No inline script: the page loads the submitting script from its
	// own origin, and its policy allows nothing else.
	require.Equal(t, "default-src 'none'; script-src 'self'; base-uri 'none'", rec.Header().Get("Content-Security-Policy"))
	require.Contains(t, body, `<script src="/pay/autosubmit.js?v=1"></script>`)
	require.Equal(t, 1, strings.Count(body, "<script"))
	require.Contains(t, body, `action="https://acs.example/c?a=1&amp;b=2"`)
	require.NotContains(t, body, `"><script>`)
	require.Less(t, strings.Index(body, `name="creq"`), strings.Index(body, `name="threeDSSessionData"`))
}

func TestParseNotification(t *testing.T) {
	cres := func(id, status string) string {
		b, _ := json.Marshal(map[string]string{"threeDSServerTransID": id, "transStatus": status, "messageType": "CRes"})
		return base64URL(b)
	}
	tests := []struct {
		name   string
		form   url.Values
		id     string
		status Status
		err    bool
	}{
		{"2.x", url.Values{"threeDSServerTransID": {"order-1"}, "transStatus": {"Y"}, "cres": {cres("order-1", "Y")}}, "order-1", Authenticated, false},
		{"cres only", url.Values{"cres": {cres("order-2", "N")}}, "order-2", Failed, false},
		{"1.0.2", url.Values{"threeDSServerTransID": {"order-3"}, "transStatus": {"Y"}, "PaRes": {"e30="}, "MD": {"order-3"}}, "order-3", Authenticated, false},
		{"MD only", url.Values{"MD": {"order-4"}}, "order-4", Errored, false},
		{"ids disagree", url.Values{"threeDSServerTransID": {"order-1"}, "cres": {cres("order-9", "Y")}}, "", "", true},
		{"nothing", url.Values{"transStatus": {"Y"}}, "", "", true},
		{"bad cres", url.Values{"cres": {"!!!"}}, "", "", true},
		{"bad id", url.Values{"threeDSServerTransID": {"../x"}}, "", "", true},
		{"unknown claimed status", url.Values{"threeDSServerTransID": {"order-5"}, "transStatus": {"Z"}}, "order-5", Errored, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/3ds/notify", strings.NewReader(tc.form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			n, err := ParseNotification(r)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.id, n.TransID)
			require.Equal(t, tc.status, n.ClaimedStatus)
		})
	}
}

func base64URL(b []byte) string {
	// The ACS sends cres unpadded, as EMV 3DS specifies.
	return base64.RawURLEncoding.EncodeToString(b)
}

// FuzzDecodeResult feeds the client's ARes/RRes decoder arbitrary bytes: it
// must not panic, and what it accepts must be safe to act on.
func FuzzDecodeResult(f *testing.F) {
	f.Add(resultJSON(f, nil), "ARes")
	f.Add(resultJSON(f, func(m map[string]any) { m["transStatus"] = "C"; m["acsURL"] = "https://acs.example/c" }), "ARes")
	f.Add(resultJSON(f, func(m map[string]any) { m["messageType"] = "RRes"; m["transStatus"] = "N"; m["eci"] = "07" }), "RRes")
	f.Add(resultJSON(f, func(m map[string]any) { m["messageVersion"] = "1.0.2"; m["transStatus"] = "U" }), "ARes")
	f.Add([]byte(`{"messageType":"Erro","errorCode":"301"}`), "RRes")
	f.Add([]byte(`null`), "ARes")
	f.Fuzz(func(t *testing.T, body []byte, want string) {
		r, o, err := decodeResult(body, want)
		_ = decodeErro(body, 400).Error()
		if err != nil {
			require.Equal(t, Errored, o.Status)
			return
		}
		require.Equal(t, want, r.MessageType)
		require.True(t, emv3ds.ValidTransID(o.TransID))
		require.True(t, emv3ds.ValidVersion(o.Version))
		require.True(t, emv3ds.ValidDSTransID(o.DSTransID))
		switch o.Status {
		case Authenticated, Attempted:
			require.True(t, emv3ds.ValidCAVV(o.CAVV))
			require.True(t, emv3ds.ValidECI(o.ECI))
			require.True(t, o.Proceed())
		case ChallengeRequired:
			require.True(t, emv3ds.ValidURL(o.ChallengeURL))
			require.Empty(t, o.CAVV)
			require.False(t, o.Proceed())
			// What the browser carries to the ACS, the ACS can read.
			form := challengeForm(r)
			value := form["creq"] + form["PaReq"]
			require.NotEmpty(t, value)
			cr, err := emv3ds.ParseCReq(value)
			require.NoError(t, err)
			require.Equal(t, o.TransID, cr.ThreeDSServerTransID)
		case Failed, NotEnrolled, Rejected:
			require.Empty(t, o.CAVV)
		default:
			t.Fatalf("accepted status %q", o.Status)
		}
	})
}

// FuzzParseNotification: what a browser posts back is outside input.
func FuzzParseNotification(f *testing.F) {
	f.Add("order-1", base64URL([]byte(`{"threeDSServerTransID":"order-1","transStatus":"Y"}`)), "", "Y")
	f.Add("", "", "order-2", "N")
	f.Add("a", "%%%", "b", "")
	f.Fuzz(func(t *testing.T, field, cres, md, status string) {
		n, err := parseNotificationForm(field, cres, md, status)
		if err == nil {
			require.True(t, emv3ds.ValidTransID(n.TransID))
		}
	})
}
