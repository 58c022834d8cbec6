package emv3ds

// messageVersion values Tulpar speaks.
const (
	// Version220 is EMV 3-D Secure 2.2.0, what the requestor asks for and
	// what the simulated DS answers with for every 2.x card.
	Version220 = "2.2.0"
	// Version102 is 3-D Secure 1.0.2, the password page of the old
	// protocol, which the simulator still plays for one card: the
	// challenge form then carries a PaReq and MD, and comes back with a
	// PaRes and MD (see FormValue).
	Version102 = "1.0.2"
)

// messageType values. The 1.0.2 names are those of 3-D Secure 1, where the
// messages were XML; the simulator sends them as JSON in a CReq or CRes.
const (
	MessageTypeAReq  = "AReq"  // authentication request, requestor → DS
	MessageTypeARes  = "ARes"  // authentication response, DS → requestor
	MessageTypeRRes  = "RRes"  // the final result, asked for by the requestor (see Result)
	MessageTypeCReq  = "CReq"  // challenge request, browser → ACS
	MessageTypeCRes  = "CRes"  // challenge response, ACS → browser → requestor
	MessageTypePaReq = "PaReq" // 3-D Secure 1 payer authentication request
	MessageTypePaRes = "PaRes" // 3-D Secure 1 payer authentication response
	MessageTypeErro  = "Erro"  // error message, from any component
)

// transStatus values: what the authentication came to.
const (
	TransStatusAuthenticated = "Y" // the cardholder was authenticated
	TransStatusAttempted     = "A" // attempt: the issuer's stand-in proves the requestor tried
	TransStatusFailed        = "N" // not authenticated, or the transaction denied
	TransStatusUnavailable   = "U" // authentication could not be performed (e.g. not enrolled)
	TransStatusChallenge     = "C" // a challenge is needed: send the browser to acsURL
	TransStatusRejected      = "R" // the issuer rejects the transaction: do not authorize
)

// errorCode values of an Erro that Tulpar's DS sends and its requestor
// decides on.
const (
	ErrorCodeMissing            = "201" // a required element is missing
	ErrorCodeInvalid            = "203" // an element's format or value is invalid
	ErrorCodeUnknownTransaction = "301" // transaction ID not recognised, or expired
	ErrorCodeTransient          = "403" // transient system failure: try again later
)

// ErrorComponentDS is the errorComponent of an Erro the Directory Server
// sends ("A" would be the ACS, "S" the 3DS Server, "C" the 3DS SDK).
const ErrorComponentDS = "D"

// AReq is the Authentication Request: the switch's requestor sends it to the
// Directory Server (POST /ds/authenticate) to start authenticating a buyer.
// Browser channel only (deviceChannel "02"). It carries the PAN: it must
// never be logged, and the requestor sends it nowhere but the DS.
//
// messageVersion and deviceChannel are sent even when empty, as the
// requestor always has; the optional elements are left out when empty.
type AReq struct {
	MessageType          string `json:"messageType"` // "AReq"; the DS also accepts it empty
	MessageVersion       string `json:"messageVersion"`
	ThreeDSServerTransID string `json:"threeDSServerTransID"`
	AcctNumber           string `json:"acctNumber"`
	CardExpiryDate       string `json:"cardExpiryDate"` // YYMM, as ISO 8583 DE14
	PurchaseAmount       string `json:"purchaseAmount"` // minor units
	PurchaseCurrency     string `json:"purchaseCurrency"`
	PurchaseExponent     string `json:"purchaseExponent,omitempty"` // minor unit digits; empty means 2
	MerchantName         string `json:"merchantName"`
	AcquirerBIN          string `json:"acquirerBIN,omitempty"`
	AcquirerMerchantID   string `json:"acquirerMerchantID,omitempty"`
	NotificationURL      string `json:"notificationURL"` // where the ACS sends the browser back
	DeviceChannel        string `json:"deviceChannel"`   // "02" browser
	BrowserAcceptHeader  string `json:"browserAcceptHeader,omitempty"`
	BrowserUserAgent     string `json:"browserUserAgent,omitempty"`
	BrowserLanguage      string `json:"browserLanguage,omitempty"`
	BrowserIP            string `json:"browserIP,omitempty"`
}

// Result is the DS's answer about an authentication: the ARes to an AReq
// (messageType "ARes"), and the final result the requestor fetches after a
// challenge (GET /ds/result/{id}, messageType "RRes").
//
// In EMV 3-D Secure the DS pushes the final result to the 3DS Server in an
// RReq, which answers with an RRes. Tulpar's requestor pulls it instead, so
// it needs no endpoint the DS can reach; the answer carries the RReq's
// elements under the name RRes.
//
// AuthenticationValue is the CAVV (Visa and most brands) or AAV
// (Mastercard), 20 bytes, present with Y and A only. It is a one-time
// cryptogram for one authorization: never log or store it.
type Result struct {
	MessageType          string `json:"messageType"` // "ARes" or "RRes"
	MessageVersion       string `json:"messageVersion"`
	ThreeDSServerTransID string `json:"threeDSServerTransID"`
	DSTransID            string `json:"dsTransID"` // a UUID; for 1.0.2 the XID
	ACSTransID           string `json:"acsTransID,omitempty"`
	TransStatus          string `json:"transStatus"`
	TransStatusReason    string `json:"transStatusReason,omitempty"` // with N, U and R: "01" failed, "13" not enrolled, ...
	ECI                  string `json:"eci,omitempty"`
	AuthenticationValue  string `json:"authenticationValue,omitempty"`
	ACSURL               string `json:"acsURL,omitempty"` // transStatus C only
}

// Erro is the Error Message: what the DS answers instead of an ARes or an
// RRes when it cannot (HTTP status 4xx or 5xx). errorDetail names the
// element at fault, never its value.
type Erro struct {
	MessageType          string `json:"messageType"` // "Erro"
	ErrorCode            string `json:"errorCode"`
	ErrorComponent       string `json:"errorComponent"` // ErrorComponentDS
	ErrorDescription     string `json:"errorDescription"`
	ErrorDetail          string `json:"errorDetail,omitempty"`
	ThreeDSServerTransID string `json:"threeDSServerTransID,omitempty"`
}

// CReq is the Challenge Request the browser carries to the ACS (the form
// field creq, see FormValue), or in the simulator's 3-D Secure 1.0.2 the
// PaReq (field PaReq; XML in real 3-D Secure 1). acsTransID is random and
// travels only here: it is what makes the challenge page the buyer's, not
// anyone's who knows the order id.
type CReq struct {
	ThreeDSServerTransID string `json:"threeDSServerTransID"`
	ACSTransID           string `json:"acsTransID"`
	MessageType          string `json:"messageType"` // "CReq" or "PaReq"
	MessageVersion       string `json:"messageVersion"`
	ChallengeWindowSize  string `json:"challengeWindowSize,omitempty"` // "05": full screen
}

// CRes is the Challenge Response the ACS sends back through the browser to
// the notification URL (form field cres, or PaRes for 1.0.2). It is not
// signed and the browser could have forged it: the requestor takes from it
// only which transaction to ask the DS about, never the outcome.
type CRes struct {
	ThreeDSServerTransID   string `json:"threeDSServerTransID"`
	ACSTransID             string `json:"acsTransID"`
	MessageType            string `json:"messageType"` // "CRes" or "PaRes"
	MessageVersion         string `json:"messageVersion"`
	TransStatus            string `json:"transStatus"`
	ChallengeCompletionInd string `json:"challengeCompletionInd"` // "Y": the challenge ended
}
