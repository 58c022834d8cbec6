package iso

import (
	"strconv"
	"strings"

	"github.com/rs/zerolog"
)

// Describe returns a one-line, log-safe description of m: the PAN masked;
// CVV2, CAVV, keys and the MAC left out (only their presence is shown).
// This and MarshalZerologObject are the only ways a message reaches a log.
func Describe(m *Message) string {
	var b strings.Builder
	b.WriteString(m.MTI)
	m.each(func(k, v string) {
		b.WriteByte(' ')
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	})
	return b.String()
}

// MarshalZerologObject logs m with the same masking as Describe.
func (m *Message) MarshalZerologObject(e *zerolog.Event) {
	e.Str("mti", m.MTI)
	m.each(func(k, v string) { e.Str(k, v) })
}

// each calls fn with the log-safe name and value of each present field.
func (m *Message) each(fn func(k, v string)) {
	str := func(k, v string) {
		if v != "" {
			fn(k, v)
		}
	}
	str("pan", MaskPAN(m.PAN))
	str("proc", m.ProcessingCode)
	if m.HasAmount {
		fn("amount", strconv.FormatInt(m.Amount, 10))
	}
	str("de7", m.TransmissionTime)
	str("stan", m.STAN)
	if m.Expiry != "" {
		fn("expiry", "****")
	}
	str("mcc", m.MCC)
	str("de22", m.POSEntryMode)
	str("de25", m.POSCondition)
	str("acquirer", m.AcquirerID)
	str("rrn", m.RRN)
	str("approval", m.ApprovalCode)
	str("rc", m.ResponseCode)
	str("tid", m.TerminalID)
	str("mid", m.MerchantID)
	str("currency", m.Currency)
	str("de70", m.NetworkCode)
	if m.Original != nil {
		fn("original", m.Original.MTI+"/"+m.Original.STAN)
	}
	if m.ActualAmount != nil {
		fn("actual_amount", strconv.FormatInt(*m.ActualAmount, 10))
	}
	if m.ThreeDS != nil {
		str("eci", m.ThreeDS.ECI)
		str("3ds_version", m.ThreeDS.Version)
		if m.ThreeDS.CAVV != "" {
			fn("cavv", "present")
		}
	}
	if m.CVV2 != "" {
		fn("cvv2", "present")
	}
	str("stored_credential", m.StoredCredential)
	if m.KeyUnderZMK != "" {
		fn("key", "present")
		str("kcv", m.KeyCheckValue)
	}
	if m.MAC != nil {
		fn("mac", "present")
	}
}
