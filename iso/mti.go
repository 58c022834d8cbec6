package iso

// Message type indicators Tulpar sends and receives (ISO 8583:1987).
const (
	MTIAuthorization             = "0100"
	MTIAuthorizationResponse     = "0110"
	MTIFinancial                 = "0200"
	MTIFinancialResponse         = "0210"
	MTICompletionAdvice          = "0220"
	MTICompletionAdviceRepeat    = "0221"
	MTICompletionAdviceResponse  = "0230"
	MTIReversal                  = "0400"
	MTIReversalResponse          = "0410"
	MTIReversalAdvice            = "0420"
	MTIReversalAdviceRepeat      = "0421"
	MTIReversalAdviceResponse    = "0430"
	MTINetworkManagement         = "0800"
	MTINetworkManagementResponse = "0810"
)

// Positions of the MTI digits: version, class, function, origin.
const (
	mtiLen           = 4
	mtiClassDigit    = 1
	mtiFunctionDigit = 2
	mtiRepeatDigit   = 3
)

// KnownMTIs lists every MTI the typed layer handles.
var KnownMTIs = []string{
	MTIAuthorization, MTIAuthorizationResponse,
	MTIFinancial, MTIFinancialResponse,
	MTICompletionAdvice, MTICompletionAdviceRepeat, MTICompletionAdviceResponse,
	MTIReversal, MTIReversalResponse,
	MTIReversalAdvice, MTIReversalAdviceRepeat, MTIReversalAdviceResponse,
	MTINetworkManagement, MTINetworkManagementResponse,
}

// validMTI reports whether s is four digits.
func validMTI(s string) bool {
	return len(s) == mtiLen && isDigits(s)
}

// IsResponse reports whether the MTI is a response (function digit odd:
// 0110, 0210, 0230, 0410, 0430, 0810).
func IsResponse(mti string) bool {
	return validMTI(mti) && (mti[mtiFunctionDigit]-'0')%2 == 1
}

// IsRepeat reports whether the MTI is a repeat (origin digit 1: 0221, 0421).
// A repeat carries the same STAN as the message it repeats.
func IsRepeat(mti string) bool {
	return validMTI(mti) && mti[mtiRepeatDigit] == '1'
}

// ResponseMTI returns the response MTI of a request or advice (0100 → 0110,
// 0221 → 0230), or "" when mti is not a request.
func ResponseMTI(mti string) string {
	if !validMTI(mti) || IsResponse(mti) {
		return ""
	}
	b := []byte(mti)
	b[mtiFunctionDigit]++
	b[mtiRepeatDigit] = '0'
	return string(b)
}

// RepeatMTI returns the repeat form of an advice (0220 → 0221, 0420 → 0421);
// other MTIs are returned unchanged.
func RepeatMTI(mti string) string {
	switch mti {
	case MTICompletionAdvice:
		return MTICompletionAdviceRepeat
	case MTIReversalAdvice:
		return MTIReversalAdviceRepeat
	}
	return mti
}

// matchClass is the part of the MTI a request shares with its response:
// the message class and the request/response pair within it. 0100 and 0110
// share "10"; 0400 and 0410 share "40"; 0420, 0421 and 0430 share "41".
// So a 0410 never matches a 0430 or a 0110 with the same STAN.
func matchClass(mti string) string {
	if !validMTI(mti) {
		return mti
	}
	pair := (mti[mtiFunctionDigit] - '0') / 2
	return string([]byte{mti[mtiClassDigit], '0' + pair})
}
