package threeds

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// The JSON the Directory Server speaks (EMV 3DS 2.2 names, see issuersim/acs,
// which this package must not import).

type aReq struct {
	MessageType          string `json:"messageType"`
	MessageVersion       string `json:"messageVersion"`
	ThreeDSServerTransID string `json:"threeDSServerTransID"`
	AcctNumber           string `json:"acctNumber"`
	CardExpiryDate       string `json:"cardExpiryDate"`
	PurchaseAmount       string `json:"purchaseAmount"`
	PurchaseCurrency     string `json:"purchaseCurrency"`
	PurchaseExponent     string `json:"purchaseExponent,omitempty"`
	MerchantName         string `json:"merchantName"`
	AcquirerBIN          string `json:"acquirerBIN,omitempty"`
	AcquirerMerchantID   string `json:"acquirerMerchantID,omitempty"`
	NotificationURL      string `json:"notificationURL"`
	DeviceChannel        string `json:"deviceChannel"`
	BrowserAcceptHeader  string `json:"browserAcceptHeader,omitempty"`
	BrowserUserAgent     string `json:"browserUserAgent,omitempty"`
	BrowserLanguage      string `json:"browserLanguage,omitempty"`
	BrowserIP            string `json:"browserIP,omitempty"`
}

// dsResult is an ARes or an RRes.
type dsResult struct {
	MessageType          string `json:"messageType"`
	MessageVersion       string `json:"messageVersion"`
	ThreeDSServerTransID string `json:"threeDSServerTransID"`
	DSTransID            string `json:"dsTransID"`
	ACSTransID           string `json:"acsTransID"`
	TransStatus          string `json:"transStatus"`
	TransStatusReason    string `json:"transStatusReason"`
	ECI                  string `json:"eci"`
	AuthenticationValue  string `json:"authenticationValue"`
	ACSURL               string `json:"acsURL"`
}

type erro struct {
	MessageType      string `json:"messageType"`
	ErrorCode        string `json:"errorCode"`
	ErrorComponent   string `json:"errorComponent"`
	ErrorDescription string `json:"errorDescription"`
	ErrorDetail      string `json:"errorDetail"`
}

// challengeRequest is the creq (2.x) or the simulator's PaReq (1.0.2).
type challengeRequest struct {
	ThreeDSServerTransID string `json:"threeDSServerTransID"`
	ACSTransID           string `json:"acsTransID"`
	MessageType          string `json:"messageType"`
	MessageVersion       string `json:"messageVersion"`
	ChallengeWindowSize  string `json:"challengeWindowSize,omitempty"`
}

// challengeResponse is the cres or PaRes the browser brings back.
type challengeResponse struct {
	ThreeDSServerTransID string `json:"threeDSServerTransID"`
	TransStatus          string `json:"transStatus"`
}

// decodeResult reads an ARes or RRes (messageType want) and checks it is
// consistent, so that nothing malformed reaches an ISO message or a
// browser: every value is short printable ASCII, a Y or A carries an ECI
// and a 20-byte CAVV, a C carries an http(s) acsURL and an acsTransID. It
// never returns a CAVV with any other status. The errors quote no values.
func decodeResult(body []byte, want string) (dsResult, Outcome, error) {
	var r dsResult
	if err := json.Unmarshal(body, &r); err != nil {
		return r, Outcome{}, fmt.Errorf("%w: %s: not JSON", ErrBadResponse, want)
	}
	bad := func(why string) (dsResult, Outcome, error) {
		return r, Outcome{}, fmt.Errorf("%w: %s: %s", ErrBadResponse, want, why)
	}
	if r.MessageType != want {
		return bad("messageType is not " + want)
	}
	if !idOK(r.ThreeDSServerTransID) {
		return bad("threeDSServerTransID malformed")
	}
	if !versionOK(r.MessageVersion) {
		return bad("messageVersion malformed")
	}
	if !printable(r.DSTransID, 1, 64) {
		return bad("dsTransID malformed")
	}
	if r.TransStatusReason != "" && !printable(r.TransStatusReason, 1, 4) {
		return bad("transStatusReason malformed")
	}
	if r.ECI != "" && !allDigits(r.ECI, 2) {
		return bad("eci malformed")
	}
	o := Outcome{
		Status:    Status(r.TransStatus),
		Reason:    r.TransStatusReason,
		TransID:   r.ThreeDSServerTransID,
		ECI:       r.ECI,
		DSTransID: r.DSTransID,
		Version:   r.MessageVersion,
	}
	switch o.Status {
	case Authenticated, Attempted:
		if r.ECI == "" {
			return bad("transStatus " + r.TransStatus + " without eci")
		}
		if !cavvOK(r.AuthenticationValue) {
			return bad("transStatus " + r.TransStatus + " without a 20-byte authenticationValue")
		}
		o.CAVV = r.AuthenticationValue
	case Failed, NotEnrolled, Rejected:
		// A CAVV with a failure means nothing and is dropped. An ECI that
		// claims authentication (05, 06, 02, 01) would tell the bank a lie.
		if r.ECI != "" && r.ECI != "07" && r.ECI != "00" {
			return bad("transStatus " + r.TransStatus + " with an authenticated eci")
		}
	case ChallengeRequired:
		o.ECI = ""
		if !printable(r.ACSTransID, 1, 64) {
			return bad("transStatus C without acsTransID")
		}
		if !httpURL(r.ACSURL) {
			return bad("transStatus C without an http(s) acsURL")
		}
		o.ChallengeURL = r.ACSURL
	default:
		return bad("transStatus unknown")
	}
	return r, o, nil
}

func decodeErro(body []byte, status int) *DSError {
	var e erro
	if json.Unmarshal(body, &e) != nil || e.MessageType != "Erro" {
		return &DSError{HTTPStatus: status, Description: "no Erro message"}
	}
	return &DSError{
		HTTPStatus:  status,
		Code:        clip(e.ErrorCode, 8),
		Component:   clip(e.ErrorComponent, 4),
		Description: redactDigits(clip(e.ErrorDescription, 200)),
		Detail:      redactDigits(clip(e.ErrorDetail, 64)),
	}
}

// redactDigits replaces every run of 12 or more digits with stars: an error
// text from outside could quote a PAN, and errors end up in logs.
func redactDigits(s string) string {
	var b strings.Builder
	run := 0
	flush := func(end int) {
		if run >= 12 {
			b.WriteString(strings.Repeat("*", run))
		} else {
			b.WriteString(s[end-run : end])
		}
		run = 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			continue
		}
		flush(i)
		b.WriteByte(s[i])
	}
	flush(len(s))
	return b.String()
}

// clip keeps at most n bytes of printable ASCII, so nothing from outside
// can put control characters into a log line.
func clip(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func printable(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// idOK is the threeDSServerTransID the switch uses: 1 to 64 of
// [A-Za-z0-9._-], safe in a URL path, a form and a log.
func idOK(s string) bool {
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

// versionOK accepts d.d.d with one or two digits each: 1.0.2, 2.2.0, 2.3.1.
func versionOK(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if len(p) == 0 || len(p) > 2 || !allDigits(p, len(p)) {
			return false
		}
	}
	return true
}

func allDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// cavvOK accepts a CAVV/AAV as DSs give it: 20 bytes in base64 or in hex.
func cavvOK(s string) bool {
	if b, err := base64.StdEncoding.Strict().DecodeString(s); err == nil && len(b) == 20 {
		return true
	}
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 20
}

func httpURL(s string) bool {
	if len(s) > 2048 || !printable(s, 1, 2048) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// decodeJSON64 reads base64 (URL or standard alphabet, padded or not) JSON.
func decodeJSON64(s string, v any) error {
	if len(s) > 8192 {
		return errors.New("too long")
	}
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return errors.New("not base64")
	}
	if json.Unmarshal(raw, v) != nil {
		return errors.New("not JSON")
	}
	return nil
}
