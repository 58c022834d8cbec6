package emv3ds

import (
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"unicode/utf8"
)

// FieldError is a message, or one of its elements, that is missing,
// malformed or inconsistent. Every error of this package is one. It names
// the element and what was wanted, never the value that came: the value may
// be a PAN or a CAVV. The DS answers it with an Erro (Code as errorCode,
// Element as errorDetail).
type FieldError struct {
	Code    string // ErrorCodeMissing or ErrorCodeInvalid
	Element string // the element's JSON name; "" when the message as a whole is bad
	Reason  string // what was wanted, e.g. "want 12 to 19 digits"
}

func (e *FieldError) Error() string {
	if e.Element == "" {
		return e.Reason
	}
	return e.Element + ": " + e.Reason
}

func missing(element string) error {
	return &FieldError{ErrorCodeMissing, element, "required element missing"}
}

func invalid(element, reason string) error {
	return &FieldError{ErrorCodeInvalid, element, reason}
}

// maxURL bounds acsURL and notificationURL, as EMV 3DS does (2048 characters).
const maxURL = 2048

// ValidTransID checks a threeDSServerTransID: 1 to 64 of [A-Za-z0-9._-].
// EMV 3DS wants a UUID; Tulpar's requestor uses the order id, and its DS
// accepts any id of these characters. The id travels in a URL path
// (GET /ds/result/{id}), in form fields (threeDSSessionData, MD) and in
// logs, and with these characters it needs escaping in none of them.
func ValidTransID(s string) bool {
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

// ValidDSTransID checks a dsTransID: 1 to 64 printable ASCII characters
// without spaces (a UUID, or for 1.0.2 the 28-character base64 XID). It
// goes to the bank in the authorization's 3-D Secure field and into logs,
// where a control character could forge a line.
func ValidDSTransID(s string) bool { return printable(s, 1, 64) }

// ValidACSTransID checks an acsTransID: 1 to 64 printable ASCII characters
// without spaces (a UUID). The requestor copies it into the CReq the
// browser carries, and the ACS compares it to open the challenge page.
func ValidACSTransID(s string) bool { return printable(s, 1, 64) }

// ValidVersion checks a messageVersion: three dot-separated numbers of one
// or two digits ("1.0.2", "2.2.0", "2.3.1"). The version goes into the
// authorization's 3-D Secure field and decides whether a challenge form
// carries a CReq or a 1.0.2 PaReq.
func ValidVersion(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if !digits(p, 1, 2) {
			return false
		}
	}
	return true
}

// ValidECI checks an eci: two digits. The Electronic Commerce Indicator
// goes to the bank in the authorization as two digits and decides who
// bears fraud liability (05/06/07, Mastercard 02/01/00).
func ValidECI(s string) bool { return digits(s, 2, 2) }

// ValidCAVV checks an authenticationValue: 20 bytes, in standard base64 (as
// EMV 3DS sends it) or in hex (as some DSs do). The CAVV/AAV is the
// issuer's proof of the authentication; a value of any other size would be
// rejected by the issuer, or worse, cut to fit the authorization's field.
func ValidCAVV(s string) bool {
	if b, err := base64.StdEncoding.Strict().DecodeString(s); err == nil && len(b) == 20 {
		return true
	}
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 20
}

// ValidURL checks an acsURL or a notificationURL: an absolute http or https
// URL with a host, of at most 2048 printable ASCII characters. Both are
// where a buyer's browser is sent by an auto-submitted form, so a
// javascript: or data: URL must never pass; printable ASCII keeps them
// safe in an HTML attribute and a log line.
func ValidURL(s string) bool {
	if !printable(s, 1, maxURL) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// ValidAcctNumber checks an acctNumber: 12 to 19 digits, the PAN lengths of
// ISO/IEC 7812. The Luhn check digit is not checked: the DS answers a card
// number that fails it with transStatus N (reason 06, invalid card number),
// an outcome, not an Erro.
func ValidAcctNumber(s string) bool { return digits(s, 12, 19) }

// validExpiry checks a cardExpiryDate: YYMM with a month of 01 to 12.
func validExpiry(s string) bool {
	return digits(s, 4, 4) && s[2:] >= "01" && s[2:] <= "12"
}

// validMerchantName: at most 100 characters of UTF-8. The ACS shows it to
// the buyer on the challenge page.
func validMerchantName(s string) bool {
	return utf8.ValidString(s) && utf8.RuneCountInString(s) <= 100
}

// Check reports the first element of an AReq that is missing or malformed,
// as a *FieldError, or nil. The DS checks every AReq with it, and the
// requestor checks the one it is about to send, so the two sides cannot
// disagree about what is acceptable:
//   - messageType is "AReq" or empty;
//   - threeDSServerTransID, acctNumber, cardExpiryDate, purchaseAmount,
//     purchaseCurrency and notificationURL are required (ErrorCodeMissing);
//   - threeDSServerTransID passes ValidTransID and acctNumber
//     ValidAcctNumber;
//   - cardExpiryDate is YYMM with a month of 01 to 12, as DE14;
//   - purchaseAmount is 1 to 12 digits, which fits DE4 of the
//     authorization it precedes, and purchaseCurrency the 3 digits of
//     ISO 4217 numeric, as DE49; purchaseExponent, if any, is 1 digit;
//   - merchantName is at most 100 characters of valid UTF-8;
//   - notificationURL passes ValidURL: the ACS sends the browser there.
func (r AReq) Check() error {
	if r.MessageType != "" && r.MessageType != MessageTypeAReq {
		return invalid("messageType", "want AReq")
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
			return missing(f.name)
		}
	}
	switch {
	case !ValidTransID(r.ThreeDSServerTransID):
		return invalid("threeDSServerTransID", "want 1 to 64 letters, digits, '-', '_' or '.'")
	case !ValidAcctNumber(r.AcctNumber):
		return invalid("acctNumber", "want 12 to 19 digits")
	case !validExpiry(r.CardExpiryDate):
		return invalid("cardExpiryDate", "want YYMM")
	case !digits(r.PurchaseAmount, 1, 12):
		return invalid("purchaseAmount", "want 1 to 12 digits (minor units)")
	case !digits(r.PurchaseCurrency, 3, 3):
		return invalid("purchaseCurrency", "want ISO 4217 numeric, 3 digits")
	case r.PurchaseExponent != "" && !digits(r.PurchaseExponent, 1, 1):
		return invalid("purchaseExponent", "want 1 digit")
	case !validMerchantName(r.MerchantName):
		return invalid("merchantName", "want at most 100 characters of UTF-8")
	case !ValidURL(r.NotificationURL):
		return invalid("notificationURL", "want an absolute http or https URL of at most 2048 printable ASCII characters")
	}
	return nil
}

// Check reports, as a *FieldError, the first element of a Result that is
// malformed or inconsistent for an answer of messageType ("ARes" or
// "RRes"), or nil. The requestor checks every answer with it before a value
// reaches an ISO 8583 message or a browser:
//   - messageType is the one asked for, so an ARes cannot pass for an RRes;
//   - threeDSServerTransID, messageVersion and dsTransID pass their Valid
//     checks; transStatusReason, if any, is 1 to 4 printable characters;
//     eci, if any, passes ValidECI;
//   - Y and A carry an eci and a CAVV that passes ValidCAVV: without them
//     the issuer has nothing to verify and liability does not shift;
//   - N, U and R carry no eci, or 07 or 00: an ECI that claims an
//     authentication (05, 06, 02, 01) would tell the bank a lie. A CAVV
//     with them means nothing (the requestor drops it);
//   - C carries an acsTransID for the CReq and an acsURL that passes
//     ValidURL, since the browser is sent there;
//   - any other transStatus is refused.
func (r Result) Check(messageType string) error {
	switch {
	case r.MessageType != messageType:
		return invalid("messageType", "want "+messageType)
	case !ValidTransID(r.ThreeDSServerTransID):
		return invalid("threeDSServerTransID", "want 1 to 64 letters, digits, '-', '_' or '.'")
	case !ValidVersion(r.MessageVersion):
		return invalid("messageVersion", "want three numbers, as 2.2.0")
	case !ValidDSTransID(r.DSTransID):
		return invalid("dsTransID", "want 1 to 64 printable ASCII characters")
	case r.TransStatusReason != "" && !printable(r.TransStatusReason, 1, 4):
		return invalid("transStatusReason", "want 1 to 4 printable ASCII characters")
	case r.ECI != "" && !ValidECI(r.ECI):
		return invalid("eci", "want 2 digits")
	}
	switch r.TransStatus {
	case TransStatusAuthenticated, TransStatusAttempted:
		if r.ECI == "" {
			return &FieldError{ErrorCodeMissing, "eci", "required with transStatus " + r.TransStatus}
		}
		if !ValidCAVV(r.AuthenticationValue) {
			return invalid("authenticationValue", "transStatus "+r.TransStatus+" wants 20 bytes, base64 or hex")
		}
	case TransStatusFailed, TransStatusUnavailable, TransStatusRejected:
		if r.ECI != "" && r.ECI != "07" && r.ECI != "00" {
			return invalid("eci", "transStatus "+r.TransStatus+" with an ECI that claims authentication")
		}
	case TransStatusChallenge:
		if !ValidACSTransID(r.ACSTransID) {
			return invalid("acsTransID", "transStatus C wants 1 to 64 printable ASCII characters")
		}
		if !ValidURL(r.ACSURL) {
			return invalid("acsURL", "transStatus C wants an absolute http or https URL")
		}
	default:
		return invalid("transStatus", "want Y, A, N, U, R or C")
	}
	return nil
}

// Check reports, as a *FieldError, a CReq whose transaction ids the ACS
// could not look up: threeDSServerTransID must pass ValidTransID and
// acsTransID ValidACSTransID.
func (c CReq) Check() error {
	if !ValidTransID(c.ThreeDSServerTransID) {
		return invalid("threeDSServerTransID", "want 1 to 64 letters, digits, '-', '_' or '.'")
	}
	if !ValidACSTransID(c.ACSTransID) {
		return invalid("acsTransID", "want 1 to 64 printable ASCII characters")
	}
	return nil
}

// printable reports whether s is min to max bytes of printable ASCII
// without spaces (0x21 to 0x7e).
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

// digits reports whether s is min to max ASCII digits.
func digits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
