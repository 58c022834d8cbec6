package threeds

import (
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/tulpar-switch/tulpar/emv3ds"
)

// Request is one authentication.
type Request struct {
	// TransID is the switch's id for the authentication
	// (threeDSServerTransID): the order id. 1 to 64 of [A-Za-z0-9._-].
	TransID string
	PAN     string // 12 to 19 digits
	Expiry  string // YYMM, as ISO 8583 DE14
	Amount  int64  // minor units
	// Currency is ISO 4217 numeric ("398" for tenge).
	Currency     string
	MerchantName string
	// NotificationURL is where the ACS sends the browser when the
	// challenge ends: absolute http or https.
	NotificationURL string

	// Optional.
	AcquirerBIN        string
	AcquirerMerchantID string
	Browser            Browser
}

// Browser is the minimal browser data an AReq carries for risk scoring.
type Browser struct {
	AcceptHeader, UserAgent, Language, IP string
}

// Status is the outcome of an authentication: EMV 3-D Secure's transStatus
// letter, or "" (Errored) when there is none.
type Status string

// The statuses.
const (
	Authenticated     Status = emv3ds.TransStatusAuthenticated // the cardholder was authenticated
	Attempted         Status = emv3ds.TransStatusAttempted     // attempt: the issuer's stand-in, no cardholder check
	Failed            Status = emv3ds.TransStatusFailed        // not authenticated: wrong code, cancelled, issuer refused
	NotEnrolled       Status = emv3ds.TransStatusUnavailable   // could not be performed: here, the card is not enrolled
	ChallengeRequired Status = emv3ds.TransStatusChallenge     // the browser must go to the ACS
	Rejected          Status = emv3ds.TransStatusRejected      // the issuer rejects the transaction: do not authorize
	Errored           Status = ""                              // no answer from 3-D Secure (see the error)
)

// String names the status for people.
func (s Status) String() string {
	switch s {
	case Authenticated:
		return "authenticated"
	case Attempted:
		return "attempted"
	case Failed:
		return "failed"
	case NotEnrolled:
		return "not-enrolled"
	case ChallengeRequired:
		return "challenge-required"
	case Rejected:
		return "rejected"
	case Errored:
		return "error"
	}
	return fmt.Sprintf("unknown(%q)", string(s))
}

// Outcome is what 3-D Secure said. ECI, CAVV, DSTransID and Version go into
// the authorization's 3-D Secure private field. The CAVV is a one-time
// cryptogram for this authorization only: it must never be stored or
// logged, and Outcome's String and MarshalZerologObject leave it out.
type Outcome struct {
	Status Status
	// Reason is EMV's transStatusReason for N, U and R ("01" authentication
	// failed, "13" not enrolled, ...), for the journal and support.
	Reason string
	// TransID echoes Request.TransID.
	TransID string
	// ECI is the Electronic Commerce Indicator: 05/06/07 (Visa and most
	// brands) or 02/01/00 (Mastercard) for authenticated, attempted, none.
	ECI string
	// CAVV is the CAVV (Visa) or AAV (Mastercard), base64 of 20 bytes;
	// only with Authenticated and Attempted.
	CAVV string
	// DSTransID is the Directory Server's transaction id (a UUID), or the
	// 3-D Secure 1 XID, which the bank gets as the 3-D Secure transaction id.
	DSTransID string
	// Version is the protocol version: "2.2.0", or "1.0.2" for a 3-D Secure 1
	// password page.
	Version string
	// ChallengeURL and ChallengeForm, with ChallengeRequired only: the
	// browser must POST ChallengeForm to ChallengeURL (see ChallengePage).
	ChallengeURL  string
	ChallengeForm map[string]string
}

// Proceed reports whether the authorization may go to the bank.
//
// Liability shift: with Authenticated (ECI 05/02 and a CAVV) the issuer, not
// the merchant, bears fraud chargebacks ("liability shifts to the issuer").
// Attempted (ECI 06/01 with a CAVV/AAV) shifts it too under the schemes'
// attempts rules: the merchant tried, the issuer did not take part.
// NotEnrolled proceeds without a CAVV at ECI 07 (00 for Mastercard), as
// issue 7 asks: the payment is allowed but the merchant keeps the fraud
// risk. A merchant who accepts only shifted liability should check
// LiabilityShift instead. Failed, Rejected, a pending challenge and an error
// never proceed; whether to fall back to ECI 07 when the Directory Server is
// down is a policy decision for the payments core, not made here.
func (o Outcome) Proceed() bool {
	switch o.Status {
	case Authenticated, Attempted, NotEnrolled:
		return true
	}
	return false
}

// LiabilityShift reports whether fraud liability moves to the issuer:
// Authenticated or Attempted with a CAVV.
func (o Outcome) LiabilityShift() bool {
	return (o.Status == Authenticated || o.Status == Attempted) && o.CAVV != ""
}

// String describes o without its CAVV (only whether there is one), so that
// %v and %+v are safe in logs and errors.
func (o Outcome) String() string {
	return fmt.Sprintf("3ds{trans_id=%s status=%s reason=%s eci=%s cavv=%t ds_trans_id=%s version=%s}",
		o.TransID, o.Status, o.Reason, o.ECI, o.CAVV != "", o.DSTransID, o.Version)
}

// GoString keeps %#v from printing the CAVV too.
func (o Outcome) GoString() string { return o.String() }

// MarshalZerologObject logs o without its CAVV.
func (o Outcome) MarshalZerologObject(e *zerolog.Event) {
	e.Str("trans_id", o.TransID).Str("status", o.Status.String())
	if o.Reason != "" {
		e.Str("reason", o.Reason)
	}
	e.Str("eci", o.ECI).Bool("cavv", o.CAVV != "").Str("ds_trans_id", o.DSTransID).Str("version", o.Version)
}

// Errors a caller decides on. Both are wrapped with the step and the
// transaction id; test with errors.Is.
var (
	// ErrUnknownTransaction: the Directory Server does not know the
	// transaction id, or it expired.
	ErrUnknownTransaction = errors.New("unknown or expired 3-D Secure transaction")
	// ErrChallengePending: Result was asked before the challenge ended
	// (the browser has not finished, or a forged notification came).
	ErrChallengePending = errors.New("3-D Secure challenge not completed")
	// ErrInvalidRequest: the Request is malformed; nothing was sent.
	ErrInvalidRequest = errors.New("invalid 3-D Secure request")
	// ErrBadResponse: the Directory Server's answer is malformed or
	// inconsistent (a Y without CAVV, another transaction's id).
	ErrBadResponse = errors.New("bad 3-D Secure response")
)

// DSError is an error message (Erro) from the Directory Server.
type DSError struct {
	HTTPStatus  int
	Code        string // EMV errorCode: 201 missing, 203 malformed, 301 unknown transaction, 403 transient
	Component   string
	Description string // with any run of 12 or more digits replaced by stars
	Detail      string // the element at fault
}

func (e *DSError) Error() string {
	s := fmt.Sprintf("directory server error %s (HTTP %d): %s", e.Code, e.HTTPStatus, e.Description)
	if e.Detail != "" {
		s += " [" + e.Detail + "]"
	}
	return s
}

// Is makes errors.Is(err, ErrUnknownTransaction) true for errorCode 301.
// A bare HTTP 404 is not enough: a wrong DS URL gives one too.
func (e *DSError) Is(target error) bool {
	return target == ErrUnknownTransaction && e.Code == emv3ds.ErrorCodeUnknownTransaction
}
