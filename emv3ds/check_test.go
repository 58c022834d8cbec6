package emv3ds

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const testCAVV = "AAABBEg0VhI0VniQEjRWAAAAAAA=" // 20 bytes

func TestElementChecks(t *testing.T) {
	tests := []struct {
		name  string
		check func(string) bool
		in    string
		want  bool
	}{
		{"trans id: order id", ValidTransID, "order-1", true},
		{"trans id: every allowed character", ValidTransID, "aZ09._-", true},
		{"trans id: 64 characters", ValidTransID, strings.Repeat("a", 64), true},
		{"trans id: empty", ValidTransID, "", false},
		{"trans id: 65 characters", ValidTransID, strings.Repeat("a", 65), false},
		{"trans id: slash would climb a URL path", ValidTransID, "../x", false},
		{"trans id: space", ValidTransID, "a b", false},
		{"trans id: non-ASCII", ValidTransID, "заказ", false},

		{"ds trans id: UUID", ValidDSTransID, "f25084f0-5b16-4c0a-ae5d-b24808a95e4b", true},
		{"ds trans id: 1.0.2 XID", ValidDSTransID, "AAECAwQFBgcICQoLDA0ODxAREhM=", true},
		{"ds trans id: empty", ValidDSTransID, "", false},
		{"ds trans id: newline would forge a log line", ValidDSTransID, "a\nb", false},
		{"ds trans id: space", ValidDSTransID, "a b", false},
		{"ds trans id: DEL", ValidDSTransID, "a\x7f", false},
		{"ds trans id: 65 characters", ValidDSTransID, strings.Repeat("a", 65), false},
		{"acs trans id: UUID", ValidACSTransID, "0f1e2d3c-5b16-4c0a-ae5d-b24808a95e4b", true},
		{"acs trans id: empty", ValidACSTransID, "", false},
		{"acs trans id: tab", ValidACSTransID, "a\tb", false},

		{"version 2.2.0", ValidVersion, "2.2.0", true},
		{"version 1.0.2", ValidVersion, "1.0.2", true},
		{"version two-digit parts", ValidVersion, "10.11.12", true},
		{"version two parts", ValidVersion, "2.2", false},
		{"version four parts", ValidVersion, "2.2.0.1", false},
		{"version empty part", ValidVersion, "2..0", false},
		{"version three-digit part", ValidVersion, "2.200.0", false},
		{"version letters", ValidVersion, "2.x.0", false},
		{"version sign", ValidVersion, "+2.2.0", false},

		{"eci 05", ValidECI, "05", true},
		{"eci 00", ValidECI, "00", true},
		{"eci one digit", ValidECI, "5", false},
		{"eci three digits", ValidECI, "005", false},
		{"eci letters", ValidECI, "0x", false},

		{"cavv base64", ValidCAVV, testCAVV, true},
		{"cavv hex", ValidCAVV, strings.Repeat("ab", 20), true},
		{"cavv hex upper case", ValidCAVV, strings.Repeat("AB", 20), true},
		{"cavv short", ValidCAVV, "AAAA", false},
		{"cavv 21 bytes", ValidCAVV, strings.Repeat("ab", 21), false},
		{"cavv base64url", ValidCAVV, "AAABBEg0VhI0VniQEjRWAAAAAA-_", false},
		{"cavv unpadded", ValidCAVV, strings.TrimSuffix(testCAVV, "="), false},
		{"cavv empty", ValidCAVV, "", false},

		{"url https", ValidURL, "https://acs.example/c?a=1&b=2", true},
		{"url http with port", ValidURL, "http://127.0.0.1:8443/acs/challenge", true},
		{"url javascript", ValidURL, "javascript:alert(1)", false},
		{"url data", ValidURL, "data:text/html,<script>", false},
		{"url relative", ValidURL, "/acs/challenge", false},
		{"url no host", ValidURL, "https:///x", false},
		{"url space", ValidURL, "https://acs.example/a b", false},
		{"url non-ASCII", ValidURL, "https://acs.example/é", false},
		{"url 2048 bytes", ValidURL, "https://a.example/" + strings.Repeat("x", 2048-18), true},
		{"url 2049 bytes", ValidURL, "https://a.example/" + strings.Repeat("x", 2049-18), false},
		{"url empty", ValidURL, "", false},

		{"acct number 16", ValidAcctNumber, "4111111111111111", true},
		{"acct number 12", ValidAcctNumber, "411111111111", true},
		{"acct number 19", ValidAcctNumber, "4111111111111111111", true},
		{"acct number fails Luhn is still well formed", ValidAcctNumber, "4111111111111112", true},
		{"acct number 11", ValidAcctNumber, "41111111111", false},
		{"acct number 20", ValidAcctNumber, "41111111111111111111", false},
		{"acct number spaced", ValidAcctNumber, "4111 1111 1111 1111", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.check(tc.in), "%q", tc.in)
		})
	}
}

func validAReq() AReq {
	return AReq{
		MessageType: MessageTypeAReq, MessageVersion: Version220, ThreeDSServerTransID: "order-1",
		AcctNumber: "4111111111111111", CardExpiryDate: "2812", PurchaseAmount: "100", PurchaseCurrency: "398",
		MerchantName: "Shop", NotificationURL: "https://shop.example/notify", DeviceChannel: "02",
	}
}

func TestAReqCheck(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*AReq)
		code    string // "" for no error
		element string
	}{
		{"valid", nil, "", ""},
		{"no messageType", func(r *AReq) { r.MessageType = "" }, "", ""},
		{"exponent 0", func(r *AReq) { r.PurchaseExponent = "0" }, "", ""},
		{"Cyrillic merchant", func(r *AReq) { r.MerchantName = strings.Repeat("д", 100) }, "", ""},
		{"no merchant name", func(r *AReq) { r.MerchantName = "" }, "", ""},
		{"wrong messageType", func(r *AReq) { r.MessageType = "RReq" }, ErrorCodeInvalid, "messageType"},
		{"no trans id", func(r *AReq) { r.ThreeDSServerTransID = "" }, ErrorCodeMissing, "threeDSServerTransID"},
		{"no PAN", func(r *AReq) { r.AcctNumber = "" }, ErrorCodeMissing, "acctNumber"},
		{"no expiry", func(r *AReq) { r.CardExpiryDate = "" }, ErrorCodeMissing, "cardExpiryDate"},
		{"no amount", func(r *AReq) { r.PurchaseAmount = "" }, ErrorCodeMissing, "purchaseAmount"},
		{"no currency", func(r *AReq) { r.PurchaseCurrency = "" }, ErrorCodeMissing, "purchaseCurrency"},
		{"no notification URL", func(r *AReq) { r.NotificationURL = "" }, ErrorCodeMissing, "notificationURL"},
		{"trans id with a slash", func(r *AReq) { r.ThreeDSServerTransID = "a/b" }, ErrorCodeInvalid, "threeDSServerTransID"},
		{"letters in PAN", func(r *AReq) { r.AcctNumber += "a" }, ErrorCodeInvalid, "acctNumber"},
		{"short PAN", func(r *AReq) { r.AcctNumber = "41111111" }, ErrorCodeInvalid, "acctNumber"},
		{"month 13", func(r *AReq) { r.CardExpiryDate = "2813" }, ErrorCodeInvalid, "cardExpiryDate"},
		{"month 00", func(r *AReq) { r.CardExpiryDate = "2800" }, ErrorCodeInvalid, "cardExpiryDate"},
		{"expiry MM/YY", func(r *AReq) { r.CardExpiryDate = "12/28" }, ErrorCodeInvalid, "cardExpiryDate"},
		{"negative amount", func(r *AReq) { r.PurchaseAmount = "-1" }, ErrorCodeInvalid, "purchaseAmount"},
		{"13-digit amount does not fit DE4", func(r *AReq) { r.PurchaseAmount = "1000000000000" }, ErrorCodeInvalid, "purchaseAmount"},
		{"alpha currency", func(r *AReq) { r.PurchaseCurrency = "KZT" }, ErrorCodeInvalid, "purchaseCurrency"},
		{"two-digit exponent", func(r *AReq) { r.PurchaseExponent = "10" }, ErrorCodeInvalid, "purchaseExponent"},
		{"long merchant name", func(r *AReq) { r.MerchantName = strings.Repeat("a", 101) }, ErrorCodeInvalid, "merchantName"},
		{"merchant name not UTF-8", func(r *AReq) { r.MerchantName = "\xff" }, ErrorCodeInvalid, "merchantName"},
		{"javascript notification URL", func(r *AReq) { r.NotificationURL = "javascript:alert(1)" }, ErrorCodeInvalid, "notificationURL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validAReq()
			if tc.change != nil {
				tc.change(&r)
			}
			requireFieldError(t, r.Check(), tc.code, tc.element, r.AcctNumber)
		})
	}
}

func validResult() Result {
	return Result{
		MessageType: MessageTypeARes, MessageVersion: Version220, ThreeDSServerTransID: "order-1",
		DSTransID: "f25084f0-5b16-4c0a-ae5d-b24808a95e4b", ACSTransID: "0f1e2d3c-5b16-4c0a-ae5d-b24808a95e4b",
		TransStatus: TransStatusAuthenticated, ECI: "05", AuthenticationValue: testCAVV,
	}
}

func TestResultCheck(t *testing.T) {
	challenge := func(r *Result) {
		r.TransStatus, r.ECI, r.AuthenticationValue, r.ACSURL = TransStatusChallenge, "", "", "https://acs.example/c"
	}
	tests := []struct {
		name    string
		change  func(*Result)
		code    string // "" for no error
		element string
	}{
		{"authenticated", nil, "", ""},
		{"hex CAVV", func(r *Result) { r.AuthenticationValue = strings.Repeat("ab", 20) }, "", ""},
		{"attempted", func(r *Result) { r.TransStatus, r.ECI = TransStatusAttempted, "06" }, "", ""},
		{"Mastercard authenticated", func(r *Result) { r.ECI = "02" }, "", ""},
		{"failed at 07", func(r *Result) { r.TransStatus, r.ECI, r.TransStatusReason = TransStatusFailed, "07", "01" }, "", ""},
		{"failed with a CAVV passes: the requestor drops it", func(r *Result) { r.TransStatus, r.ECI = TransStatusFailed, "" }, "", ""},
		{"not enrolled at 00", func(r *Result) { r.TransStatus, r.ECI = TransStatusUnavailable, "00" }, "", ""},
		{"rejected", func(r *Result) { r.TransStatus, r.ECI, r.TransStatusReason = TransStatusRejected, "07", "11" }, "", ""},
		{"challenge", challenge, "", ""},
		{"1.0.2 challenge", func(r *Result) { challenge(r); r.MessageVersion = Version102 }, "", ""},
		{"RRes when ARes is wanted", func(r *Result) { r.MessageType = MessageTypeRRes }, ErrorCodeInvalid, "messageType"},
		{"trans id with a slash", func(r *Result) { r.ThreeDSServerTransID = "../x" }, ErrorCodeInvalid, "threeDSServerTransID"},
		{"two-part version", func(r *Result) { r.MessageVersion = "2.2" }, ErrorCodeInvalid, "messageVersion"},
		{"no dsTransID", func(r *Result) { r.DSTransID = "" }, ErrorCodeInvalid, "dsTransID"},
		{"control characters in dsTransID", func(r *Result) { r.DSTransID = "a\nb" }, ErrorCodeInvalid, "dsTransID"},
		{"long transStatusReason", func(r *Result) { r.TransStatusReason = "01234" }, ErrorCodeInvalid, "transStatusReason"},
		{"one-digit ECI", func(r *Result) { r.ECI = "5" }, ErrorCodeInvalid, "eci"},
		{"Y without ECI", func(r *Result) { r.ECI = "" }, ErrorCodeMissing, "eci"},
		{"Y without CAVV", func(r *Result) { r.AuthenticationValue = "" }, ErrorCodeInvalid, "authenticationValue"},
		{"Y with a short CAVV", func(r *Result) { r.AuthenticationValue = "AAAA" }, ErrorCodeInvalid, "authenticationValue"},
		{"A without CAVV", func(r *Result) { r.TransStatus, r.AuthenticationValue = TransStatusAttempted, "" }, ErrorCodeInvalid, "authenticationValue"},
		{"U claiming authentication", func(r *Result) { r.TransStatus = TransStatusUnavailable }, ErrorCodeInvalid, "eci"},
		{"N claiming an attempt", func(r *Result) { r.TransStatus, r.ECI = TransStatusFailed, "01" }, ErrorCodeInvalid, "eci"},
		{"challenge to javascript", func(r *Result) { challenge(r); r.ACSURL = "javascript:alert(1)" }, ErrorCodeInvalid, "acsURL"},
		{"challenge without acsURL", func(r *Result) { challenge(r); r.ACSURL = "" }, ErrorCodeInvalid, "acsURL"},
		{"challenge without acsTransID", func(r *Result) { challenge(r); r.ACSTransID = "" }, ErrorCodeInvalid, "acsTransID"},
		{"unknown status", func(r *Result) { r.TransStatus = "Q" }, ErrorCodeInvalid, "transStatus"},
		{"no status", func(r *Result) { r.TransStatus = "" }, ErrorCodeInvalid, "transStatus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validResult()
			if tc.change != nil {
				tc.change(&r)
			}
			err := r.Check(MessageTypeARes)
			requireFieldError(t, err, tc.code, tc.element, testCAVV)
		})
	}
}

func TestCReqCheck(t *testing.T) {
	tests := []struct {
		name    string
		c       CReq
		element string // "" for no error
	}{
		{"valid", CReq{ThreeDSServerTransID: "order-1", ACSTransID: "acs-1"}, ""},
		{"no trans id", CReq{ACSTransID: "acs-1"}, "threeDSServerTransID"},
		{"bad trans id", CReq{ThreeDSServerTransID: "a b", ACSTransID: "acs-1"}, "threeDSServerTransID"},
		{"no acsTransID", CReq{ThreeDSServerTransID: "order-1"}, "acsTransID"},
		{"acsTransID with a quote and a space", CReq{ThreeDSServerTransID: "order-1", ACSTransID: `" x`}, "acsTransID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := ErrorCodeInvalid
			if tc.element == "" {
				code = ""
			}
			requireFieldError(t, tc.c.Check(), code, tc.element, "")
		})
	}
}

// requireFieldError: err is nil when code is "", else a *FieldError with
// that code and element whose text never quotes secret.
func requireFieldError(t *testing.T, err error, code, element, secret string) {
	t.Helper()
	if code == "" {
		require.NoError(t, err)
		return
	}
	var fe *FieldError
	require.True(t, errors.As(err, &fe), "%v", err)
	require.Equal(t, code, fe.Code)
	require.Equal(t, element, fe.Element)
	if element != "" {
		require.True(t, strings.HasPrefix(err.Error(), element+": "), err.Error())
	}
	if secret != "" {
		require.NotContains(t, err.Error(), secret)
	}
}
