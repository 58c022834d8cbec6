package acs

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"unicode/utf8"
)

// Protocol versions the simulator answers with.
const (
	Version2 = "2.2.0"
	Version1 = "1.0.2"
)

// AReq is the authentication request the switch's 3-D Secure server sends
// to POST /ds/authenticate: EMV 3DS 2.2 field names, browser channel only.
type AReq struct {
	MessageType          string `json:"messageType"` // "AReq"; may be empty
	MessageVersion       string `json:"messageVersion,omitempty"`
	ThreeDSServerTransID string `json:"threeDSServerTransID"`
	AcctNumber           string `json:"acctNumber"`
	CardExpiryDate       string `json:"cardExpiryDate"` // YYMM
	PurchaseAmount       string `json:"purchaseAmount"` // minor units
	PurchaseCurrency     string `json:"purchaseCurrency"`
	PurchaseExponent     string `json:"purchaseExponent,omitempty"`
	MerchantName         string `json:"merchantName"`
	AcquirerBIN          string `json:"acquirerBIN,omitempty"`
	AcquirerMerchantID   string `json:"acquirerMerchantID,omitempty"`
	NotificationURL      string `json:"notificationURL"`
	DeviceChannel        string `json:"deviceChannel,omitempty"` // "02" browser
	BrowserAcceptHeader  string `json:"browserAcceptHeader,omitempty"`
	BrowserUserAgent     string `json:"browserUserAgent,omitempty"`
	BrowserLanguage      string `json:"browserLanguage,omitempty"`
	BrowserIP            string `json:"browserIP,omitempty"`
}

// Result is both the ARes of POST /ds/authenticate and the final result of
// GET /ds/result/{id}. AuthenticationValue is the CAVV (Visa and others) or
// AAV (Mastercard), base64 of 20 bytes, present for Y and A only.
type Result struct {
	MessageType          string `json:"messageType"` // "ARes" or "RRes"
	MessageVersion       string `json:"messageVersion"`
	ThreeDSServerTransID string `json:"threeDSServerTransID"`
	DSTransID            string `json:"dsTransID"`
	ACSTransID           string `json:"acsTransID,omitempty"`
	TransStatus          string `json:"transStatus"`
	TransStatusReason    string `json:"transStatusReason,omitempty"`
	ECI                  string `json:"eci,omitempty"`
	AuthenticationValue  string `json:"authenticationValue,omitempty"`
	ACSURL               string `json:"acsURL,omitempty"` // transStatus C only
}

// Erro is the error message every endpoint answers with on failure.
type Erro struct {
	MessageType          string `json:"messageType"` // "Erro"
	ErrorCode            string `json:"errorCode"`
	ErrorComponent       string `json:"errorComponent"` // "D" directory server, "A" ACS
	ErrorDescription     string `json:"errorDescription"`
	ErrorDetail          string `json:"errorDetail,omitempty"` // the element at fault
	ThreeDSServerTransID string `json:"threeDSServerTransID,omitempty"`
}

// ChallengeRequest is the content of a 2.x creq (base64url JSON, as EMV
// 3DS defines it) and of a 1.0.2 PaReq (base64 JSON in the simulator; XML
// in real 3-D Secure 1).
type ChallengeRequest struct {
	ThreeDSServerTransID string `json:"threeDSServerTransID"`
	ACSTransID           string `json:"acsTransID"`
	MessageType          string `json:"messageType"` // "CReq" or "PaReq"
	MessageVersion       string `json:"messageVersion"`
	ChallengeWindowSize  string `json:"challengeWindowSize,omitempty"`
}

// ChallengeResponse is the content of the cres (2.x) or PaRes (1.0.2) the
// browser carries back to the notification URL. It is not signed: the
// switch must not act on it but ask GET /ds/result.
type ChallengeResponse struct {
	ThreeDSServerTransID   string `json:"threeDSServerTransID"`
	ACSTransID             string `json:"acsTransID"`
	MessageType            string `json:"messageType"` // "CRes" or "PaRes"
	MessageVersion         string `json:"messageVersion"`
	TransStatus            string `json:"transStatus"`
	ChallengeCompletionInd string `json:"challengeCompletionInd"`
}

// fieldError is a malformed or missing AReq element; the handler turns it
// into an Erro naming the element (never its value: it may be a PAN).
type fieldError struct {
	code, field, why string
}

func (e *fieldError) Error() string { return e.field + ": " + e.why }

func missing(field string) error { return &fieldError{"201", field, "required element missing"} }
func invalid(field, why string) error {
	return &fieldError{"203", field, why}
}

// areq is a checked AReq.
type areq struct {
	AReq
	amount int64
}

// parseAReq decodes and checks an AReq. Errors never quote a value.
func parseAReq(body []byte) (areq, error) {
	var r areq
	if err := json.Unmarshal(body, &r.AReq); err != nil {
		return r, &fieldError{"203", "", "not a JSON AReq"}
	}
	if r.MessageType != "" && r.MessageType != "AReq" {
		return r, invalid("messageType", "want AReq")
	}
	required := []struct{ name, v string }{
		{"threeDSServerTransID", r.ThreeDSServerTransID},
		{"acctNumber", r.AcctNumber},
		{"cardExpiryDate", r.CardExpiryDate},
		{"purchaseAmount", r.PurchaseAmount},
		{"purchaseCurrency", r.PurchaseCurrency},
		{"notificationURL", r.NotificationURL},
	}
	for _, f := range required {
		if f.v == "" {
			return r, missing(f.name)
		}
	}
	if !transIDOK(r.ThreeDSServerTransID) {
		return r, invalid("threeDSServerTransID", "want 1 to 64 letters, digits, '-', '_' or '.'")
	}
	if !digits(r.AcctNumber, 12, 19) {
		return r, invalid("acctNumber", "want 12 to 19 digits")
	}
	if !digits(r.CardExpiryDate, 4, 4) || r.CardExpiryDate[2:] < "01" || r.CardExpiryDate[2:] > "12" {
		return r, invalid("cardExpiryDate", "want YYMM")
	}
	if !digits(r.PurchaseAmount, 1, 12) {
		return r, invalid("purchaseAmount", "want 1 to 12 digits")
	}
	r.amount, _ = strconv.ParseInt(r.PurchaseAmount, 10, 64)
	if !digits(r.PurchaseCurrency, 3, 3) {
		return r, invalid("purchaseCurrency", "want 3 digits")
	}
	if r.PurchaseExponent != "" && !digits(r.PurchaseExponent, 1, 1) {
		return r, invalid("purchaseExponent", "want 1 digit")
	}
	if !utf8.ValidString(r.MerchantName) || utf8.RuneCountInString(r.MerchantName) > 100 {
		return r, invalid("merchantName", "want at most 100 characters of UTF-8")
	}
	if err := checkURL(r.NotificationURL); err != nil {
		return r, invalid("notificationURL", err.Error())
	}
	return r, nil
}

func transIDOK(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// checkURL accepts only absolute http and https URLs: the ACS sends the
// buyer's browser there, so a javascript: or data: URL must never pass.
func checkURL(s string) error {
	if len(s) > 2048 {
		return errors.New("longer than 2048 bytes")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an absolute http or https URL")
	}
	return nil
}

// decodeChallengeRequest reads a creq (base64url, padded or not) or a PaReq
// (standard base64) into a ChallengeRequest.
func decodeChallengeRequest(s string) (ChallengeRequest, error) {
	var cr ChallengeRequest
	if len(s) > 4096 {
		return cr, errors.New("challenge request too long")
	}
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return cr, fmt.Errorf("challenge request: not base64")
	}
	if err := json.Unmarshal(raw, &cr); err != nil {
		return cr, fmt.Errorf("challenge request: not JSON")
	}
	if !transIDOK(cr.ThreeDSServerTransID) || cr.ACSTransID == "" {
		return cr, errors.New("challenge request: missing transaction ids")
	}
	return cr, nil
}

func encodeJSON64(enc *base64.Encoding, v any) string {
	b, _ := json.Marshal(v)
	return enc.EncodeToString(b)
}
