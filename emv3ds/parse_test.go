package emv3ds

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseAReq(t *testing.T) {
	body, err := json.Marshal(validAReq())
	require.NoError(t, err)
	r, err := ParseAReq(body)
	require.NoError(t, err)
	require.Equal(t, validAReq(), r)

	for _, bad := range []string{"{", "[]", `{"acctNumber":4111111111111111}`} {
		_, err := ParseAReq([]byte(bad))
		requireFieldError(t, err, ErrorCodeInvalid, "", "")
		require.Equal(t, "not a JSON AReq", err.Error())
	}
	_, err = ParseAReq([]byte(`{"messageType":"AReq"}`))
	requireFieldError(t, err, ErrorCodeMissing, "threeDSServerTransID", "")
}

func TestParseResult(t *testing.T) {
	body, err := json.Marshal(validResult())
	require.NoError(t, err)
	r, err := ParseResult(body, MessageTypeARes)
	require.NoError(t, err)
	require.Equal(t, validResult(), r)

	r, err = ParseResult(body, MessageTypeRRes)
	requireFieldError(t, err, ErrorCodeInvalid, "messageType", testCAVV)
	require.Zero(t, r, "nothing of a bad answer comes back")

	_, err = ParseResult([]byte("<html>"), MessageTypeARes)
	requireFieldError(t, err, ErrorCodeInvalid, "", "")
}

func TestParseErro(t *testing.T) {
	e, err := ParseErro([]byte(`{"messageType":"Erro","errorCode":"301","errorComponent":"D","errorDescription":"unknown"}`))
	require.NoError(t, err)
	require.Equal(t, Erro{MessageType: MessageTypeErro, ErrorCode: ErrorCodeUnknownTransaction, ErrorComponent: ErrorComponentDS, ErrorDescription: "unknown"}, e)
	for _, bad := range []string{`{"messageType":"ARes"}`, `{}`, `nope`, ``} {
		_, err := ParseErro([]byte(bad))
		require.Error(t, err, bad)
	}
}

func TestFormValue(t *testing.T) {
	creq := CReq{ThreeDSServerTransID: "order-1", ACSTransID: "acs-1", MessageType: MessageTypeCReq, MessageVersion: Version220, ChallengeWindowSize: "05"}
	v := creq.FormValue()
	// EMV 3DS: base64url without padding, safe in a form without escaping.
	require.NotContains(t, v, "=")
	raw, err := base64.RawURLEncoding.DecodeString(v)
	require.NoError(t, err)
	require.JSONEq(t, `{"threeDSServerTransID":"order-1","acsTransID":"acs-1","messageType":"CReq","messageVersion":"2.2.0","challengeWindowSize":"05"}`, string(raw))
	got, err := ParseCReq(v)
	require.NoError(t, err)
	require.Equal(t, creq, got)

	pareq := CReq{ThreeDSServerTransID: "order-1", ACSTransID: "acs-1", MessageType: MessageTypePaReq, MessageVersion: Version102}
	_, err = base64.StdEncoding.DecodeString(pareq.FormValue())
	require.NoError(t, err, "a 1.0.2 PaReq is standard base64")
	got, err = ParseCReq(pareq.FormValue())
	require.NoError(t, err)
	require.Equal(t, pareq, got)

	for _, cres := range []CRes{
		{ThreeDSServerTransID: "order-1", ACSTransID: "acs-1", MessageType: MessageTypeCRes, MessageVersion: Version220, TransStatus: "Y", ChallengeCompletionInd: "Y"},
		{ThreeDSServerTransID: "order-1", ACSTransID: "acs-1", MessageType: MessageTypePaRes, MessageVersion: Version102, TransStatus: "N", ChallengeCompletionInd: "Y"},
	} {
		got, err := ParseCRes(cres.FormValue())
		require.NoError(t, err)
		require.Equal(t, cres, got)
	}
}

func TestParseFormValue(t *testing.T) {
	js := []byte(`{"threeDSServerTransID":"order-1","acsTransID":"acs-1","transStatus":"Z"}`)
	tests := []struct {
		name    string
		in      string
		element string // "" with reason "" for no error
		reason  string
	}{
		{"base64url unpadded", base64.RawURLEncoding.EncodeToString(js), "", ""},
		{"base64url padded", base64.URLEncoding.EncodeToString(js), "", ""},
		{"standard padded", base64.StdEncoding.EncodeToString(js), "", ""},
		{"standard unpadded", base64.RawStdEncoding.EncodeToString(js), "", ""},
		{"not base64", "%%%", "", "not base64"},
		{"empty", "", "", "not JSON"},
		{"not JSON", base64.RawURLEncoding.EncodeToString([]byte("nope")), "", "not JSON"},
		{"too long", strings.Repeat("A", maxFormValue+1), "", "longer than 8192 bytes"},
		{"bad id", base64.RawURLEncoding.EncodeToString([]byte(`{"threeDSServerTransID":"../x","acsTransID":"a"}`)), "threeDSServerTransID", "want 1 to 64 letters, digits, '-', '_' or '.'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, parse := range []func(string) error{
				func(s string) error { _, err := ParseCReq(s); return err },
				func(s string) error { _, err := ParseCRes(s); return err },
			} {
				err := parse(tc.in)
				if tc.reason == "" {
					require.NoError(t, err)
					continue
				}
				var fe *FieldError
				require.True(t, errors.As(err, &fe), "%v", err)
				require.Equal(t, tc.element, fe.Element)
				require.Equal(t, tc.reason, fe.Reason)
			}
		})
	}
	// A CRes's transStatus is the browser's claim: not checked. A CReq needs
	// its acsTransID; a CRes is read for its threeDSServerTransID only.
	c, err := ParseCRes(base64.RawURLEncoding.EncodeToString([]byte(`{"threeDSServerTransID":"order-1","transStatus":"Z"}`)))
	require.NoError(t, err)
	require.Equal(t, "Z", c.TransStatus)
	_, err = ParseCReq(base64.RawURLEncoding.EncodeToString([]byte(`{"threeDSServerTransID":"order-1"}`)))
	requireFieldError(t, err, ErrorCodeInvalid, "acsTransID", "")
}

// FuzzParseAReq: an AReq is outside input to the DS. What passes must be
// what Check promises.
func FuzzParseAReq(f *testing.F) {
	b, _ := json.Marshal(validAReq())
	f.Add(b)
	f.Add([]byte(`{"messageType":"AReq"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseAReq(body)
		if err != nil {
			var fe *FieldError
			require.True(t, errors.As(err, &fe))
			return
		}
		require.True(t, ValidTransID(r.ThreeDSServerTransID))
		require.True(t, ValidAcctNumber(r.AcctNumber))
		require.True(t, validExpiry(r.CardExpiryDate))
		require.True(t, digits(r.PurchaseAmount, 1, 12))
		require.True(t, ValidURL(r.NotificationURL))
	})
}

// FuzzParseResult: an ARes or RRes is outside input to the requestor, and
// what it accepts goes to a bank and a browser.
func FuzzParseResult(f *testing.F) {
	add := func(change func(*Result), want string) {
		r := validResult()
		if change != nil {
			change(&r)
		}
		b, _ := json.Marshal(r)
		f.Add(b, want)
	}
	add(nil, MessageTypeARes)
	add(func(r *Result) { r.TransStatus, r.ECI, r.ACSURL = TransStatusChallenge, "", "https://acs.example/c" }, MessageTypeARes)
	add(func(r *Result) { r.MessageType, r.TransStatus, r.ECI = MessageTypeRRes, TransStatusFailed, "07" }, MessageTypeRRes)
	add(func(r *Result) { r.MessageVersion, r.TransStatus = Version102, TransStatusUnavailable }, MessageTypeARes)
	f.Add([]byte(`{"messageType":"Erro","errorCode":"301"}`), MessageTypeRRes)
	f.Add([]byte(`null`), MessageTypeARes)
	f.Fuzz(func(t *testing.T, body []byte, want string) {
		r, err := ParseResult(body, want)
		if err != nil {
			require.Zero(t, r)
			return
		}
		require.Equal(t, want, r.MessageType)
		require.True(t, ValidTransID(r.ThreeDSServerTransID))
		require.True(t, ValidVersion(r.MessageVersion))
		require.True(t, ValidDSTransID(r.DSTransID))
		switch r.TransStatus {
		case TransStatusAuthenticated, TransStatusAttempted:
			require.True(t, ValidECI(r.ECI))
			require.True(t, ValidCAVV(r.AuthenticationValue))
		case TransStatusChallenge:
			require.True(t, ValidURL(r.ACSURL))
			require.True(t, ValidACSTransID(r.ACSTransID))
		case TransStatusFailed, TransStatusUnavailable, TransStatusRejected:
			require.Contains(t, []string{"", "07", "00"}, r.ECI)
		default:
			t.Fatalf("accepted transStatus %q", r.TransStatus)
		}
	})
}

// FuzzParseCReq: a creq reaches the ACS from any browser. What passes has
// ids the ACS can look up, and encodes back to what was read.
func FuzzParseCReq(f *testing.F) {
	f.Add(CReq{ThreeDSServerTransID: "o", ACSTransID: "a", MessageType: MessageTypeCReq, MessageVersion: Version220}.FormValue())
	f.Add(CReq{ThreeDSServerTransID: "o", ACSTransID: "a", MessageType: MessageTypePaReq, MessageVersion: Version102}.FormValue())
	f.Add("e30")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCReq(s)
		if err != nil {
			return
		}
		require.NoError(t, c.Check())
		if v := c.FormValue(); len(v) <= maxFormValue { // JSON escaping may grow it
			again, err := ParseCReq(v)
			require.NoError(t, err)
			require.Equal(t, c, again)
		}
	})
}

// FuzzParseCRes: a cres reaches the requestor from any browser.
func FuzzParseCRes(f *testing.F) {
	f.Add(CRes{ThreeDSServerTransID: "order-1", TransStatus: "Y", MessageVersion: Version220}.FormValue())
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCRes(s)
		if err == nil {
			require.True(t, ValidTransID(c.ThreeDSServerTransID))
		}
	})
}
