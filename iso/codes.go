package iso

// Processing codes (DE3): transaction type, from-account, to-account.
const (
	ProcPurchase = "000000" // goods and services
	ProcRefund   = "200000" // returns
)

// IsRefund reports whether a processing code is a refund (type 20).
func IsRefund(proc string) bool { return len(proc) >= 2 && proc[:2] == "20" }

// Network management information codes (DE70).
const (
	NetSignOn    = "001"
	NetSignOff   = "002"
	NetKeyChange = "161"
	NetEcho      = "301"
)

// E-commerce defaults for card-not-present messages.
const (
	POSEntryEcommerce = "812" // PAN entered by e-commerce, no PIN capability
	POSConditionECom  = "59"  // e-commerce / card not present
	CurrencyKZT       = "398"
)

// ResponseCode describes one DE39 value: what the bank meant, whether it is
// an approval, and what Tulpar tells the merchant.
type ResponseCode struct {
	Code     string
	Meaning  string
	Approved bool
	// Reason is the merchant-facing decline reason (snake_case, stable:
	// merchants branch on it); empty for approvals.
	Reason string
	// Retry is true when the same card may succeed later (issuer down,
	// system error), false when the buyer must use another card.
	Retry bool
}

var responseCodes = map[string]ResponseCode{}

func init() {
	for _, rc := range []ResponseCode{
		{"00", "Approved or completed successfully", true, "", false},
		{"01", "Refer to card issuer", false, "call_issuer", false},
		{"03", "Invalid merchant", false, "invalid_merchant", false},
		{"04", "Pick up card", false, "pick_up_card", false},
		{"05", "Do not honour", false, "do_not_honor", false},
		{"06", "Error", false, "processing_error", true},
		{"08", "Honour with identification", true, "", false},
		{"10", "Approved for partial amount", true, "", false},
		{"12", "Invalid transaction", false, "invalid_transaction", false},
		{"13", "Invalid amount", false, "invalid_amount", false},
		{"14", "Invalid card number", false, "invalid_card_number", false},
		{"15", "No such issuer", false, "invalid_card_number", false},
		{"19", "Re-enter transaction", false, "try_again", true},
		{"25", "Unable to locate record (original not found)", false, "original_not_found", false},
		{"30", "Format error", false, "processing_error", false},
		{"41", "Lost card, pick up", false, "lost_card", false},
		{"43", "Stolen card, pick up", false, "stolen_card", false},
		{"51", "Not sufficient funds", false, "insufficient_funds", true},
		{"54", "Expired card", false, "expired_card", false},
		{"55", "Incorrect PIN", false, "incorrect_pin", false},
		{"57", "Transaction not permitted to cardholder", false, "transaction_not_allowed", false},
		{"58", "Transaction not permitted to terminal", false, "transaction_not_allowed", false},
		{"61", "Exceeds withdrawal amount limit", false, "exceeds_limit", true},
		{"62", "Restricted card", false, "restricted_card", false},
		{"63", "Security violation", false, "security_violation", false},
		{"65", "Exceeds withdrawal frequency limit", false, "exceeds_limit", true},
		{"68", "Response received too late", false, "issuer_timeout", true},
		{"75", "Allowable number of PIN tries exceeded", false, "pin_tries_exceeded", false},
		{"76", "Invalid original transaction data", false, "original_not_found", false},
		{"78", "Original already reversed or refunded beyond captured amount", false, "invalid_transaction", false},
		{"82", "CVV2 verification failed", false, "incorrect_cvc", false},
		{"91", "Issuer or switch inoperative", false, "issuer_unavailable", true},
		{"92", "Routing error: no such institution", false, "issuer_unavailable", true},
		{"94", "Duplicate transmission", false, "duplicate_transaction", false},
		{"96", "System malfunction", false, "processing_error", true},
		{"N7", "Decline for CVV2 failure", false, "incorrect_cvc", false},
	} {
		responseCodes[rc.Code] = rc
	}
}

// Common response codes.
const (
	RCApproved          = "00"
	RCDoNotHonour       = "05"
	RCSystemError       = "06"
	RCPartialApproval   = "10"
	RCInvalidTxn        = "12"
	RCInvalidAmount     = "13"
	RCInvalidCard       = "14"
	RCOriginalNotFound  = "25"
	RCFormatError       = "30"
	RCLostCard          = "41"
	RCStolenCard        = "43"
	RCInsufficientFunds = "51"
	RCExpiredCard       = "54"
	RCNotPermitted      = "57"
	RCRestricted        = "62"
	RCSecurityViolation = "63"
	RCLateResponse      = "68"
	RCExceedsCapture    = "78"
	RCBadCVV2           = "82"
	RCIssuerDown        = "91"
	RCDuplicate         = "94"
	RCMalfunction       = "96"
)

// LookupResponseCode returns the table entry for a DE39 value. An unknown
// code is treated as a decline: the switch must never approve on a code it
// does not understand.
func LookupResponseCode(code string) ResponseCode {
	if rc, ok := responseCodes[code]; ok {
		return rc
	}
	return ResponseCode{Code: code, Meaning: "Unknown response code", Reason: "do_not_honor"}
}

// ResponseCodes returns the whole DE39 table (for documentation and the cabinet).
func ResponseCodes() []ResponseCode {
	out := make([]ResponseCode, 0, len(responseCodes))
	for _, rc := range responseCodes {
		out = append(out, rc)
	}
	return out
}
