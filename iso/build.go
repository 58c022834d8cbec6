package iso

import "time"

// NetworkRequest builds an 0800 with the given DE70 code.
func NetworkRequest(code, stan string, now time.Time) *Message {
	m := &Message{MTI: MTINetworkManagement, STAN: stan, NetworkCode: code}
	m.TransmissionTime = now.UTC().Format("0102150405")
	return m
}

// Respond builds the response to req with response code rc, echoing the
// fields a host echoes so the acquirer can match and reconcile it. The PAN
// is echoed only in financial responses, as hosts do; private data (CVV2,
// CAVV) and the MAC are never echoed.
func Respond(req *Message, rc string) *Message {
	r := &Message{
		MTI:              ResponseMTI(req.MTI),
		ProcessingCode:   req.ProcessingCode,
		Amount:           req.Amount,
		HasAmount:        req.HasAmount,
		TransmissionTime: req.TransmissionTime,
		STAN:             req.STAN,
		LocalTime:        req.LocalTime,
		LocalDate:        req.LocalDate,
		AcquirerID:       req.AcquirerID,
		RRN:              req.RRN,
		ResponseCode:     rc,
		TerminalID:       req.TerminalID,
		MerchantID:       req.MerchantID,
		Currency:         req.Currency,
		NetworkCode:      req.NetworkCode,
		Original:         req.Original,
		ActualAmount:     req.ActualAmount,
	}
	if req.MTI != MTINetworkManagement {
		r.PAN = req.PAN
	}
	return r
}

// ReversalOf builds a reversal of orig: an 0400 (advice false) or an 0420
// (advice true) with a new STAN, DE90 naming orig, and, for a partial
// reversal, DE95 with the amount that stays (actual).
func ReversalOf(orig *Message, advice bool, stan string, now time.Time, actual *int64) *Message {
	mti := MTIReversal
	if advice {
		mti = MTIReversalAdvice
	}
	m := &Message{
		MTI:            mti,
		PAN:            orig.PAN,
		ProcessingCode: orig.ProcessingCode,
		Amount:         orig.Amount,
		HasAmount:      orig.HasAmount,
		STAN:           stan,
		Expiry:         orig.Expiry,
		MCC:            orig.MCC,
		POSEntryMode:   orig.POSEntryMode,
		POSCondition:   orig.POSCondition,
		AcquirerID:     orig.AcquirerID,
		RRN:            orig.RRN,
		ApprovalCode:   orig.ApprovalCode,
		TerminalID:     orig.TerminalID,
		MerchantID:     orig.MerchantID,
		MerchantName:   orig.MerchantName,
		Currency:       orig.Currency,
		Original:       OriginalOf(orig),
		ActualAmount:   actual,
	}
	m.Stamp(now, nil)
	return m
}

// CompletionOf builds the 0220 completion advice of an approved 0100 for
// amount (at most the authorized amount; the rest of the hold is released).
func CompletionOf(auth *Message, approvalCode string, amount int64, stan string, now time.Time) *Message {
	m := &Message{
		MTI:            MTICompletionAdvice,
		PAN:            auth.PAN,
		ProcessingCode: auth.ProcessingCode,
		STAN:           stan,
		Expiry:         auth.Expiry,
		MCC:            auth.MCC,
		POSEntryMode:   auth.POSEntryMode,
		POSCondition:   auth.POSCondition,
		AcquirerID:     auth.AcquirerID,
		RRN:            auth.RRN,
		ApprovalCode:   approvalCode,
		TerminalID:     auth.TerminalID,
		MerchantID:     auth.MerchantID,
		MerchantName:   auth.MerchantName,
		Currency:       auth.Currency,
		Original:       OriginalOf(auth),
	}
	m.SetAmount(amount)
	m.Stamp(now, nil)
	return m
}

// Repeat returns a copy of an advice as its repeat (0220 → 0221, 0420 →
// 0421), same STAN, so the host can recognise a retransmission.
func Repeat(m *Message) *Message {
	r := *m
	r.MTI = RepeatMTI(m.MTI)
	return &r
}
