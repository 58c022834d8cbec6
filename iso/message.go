package iso

import (
	"fmt"
	"strconv"
	"time"
)

// Message is one ISO 8583 message in Tulpar's terms: every data element the
// switch uses, typed, independent of any dialect's encoding. Zero values mean
// "absent".
type Message struct {
	MTI               string
	PAN               string // DE2
	ProcessingCode    string // DE3
	Amount            int64  // DE4, minor units; absent when HasAmount is false
	HasAmount         bool
	TransmissionTime  string // DE7 MMDDhhmmss (UTC)
	STAN              string // DE11
	LocalTime         string // DE12 hhmmss
	LocalDate         string // DE13 MMDD
	Expiry            string // DE14 YYMM
	MCC               string // DE18
	POSEntryMode      string // DE22
	POSCondition      string // DE25
	AcquirerID        string // DE32
	RRN               string // DE37
	ApprovalCode      string // DE38
	ResponseCode      string // DE39
	TerminalID        string // DE41
	MerchantID        string // DE42
	MerchantName      string // DE43
	Currency          string // DE49, ISO 4217 numeric
	AdditionalAmounts string // DE54
	NetworkCode       string // DE70
	Original          *OriginalData
	// ActualAmount is DE95's actual transaction amount: the amount that
	// stays with the cardholder's bank after a partial reversal.
	ActualAmount *int64
	ThreeDS      *ThreeDS
	CVV2         string // private data; never stored, never logged
	// StoredCredential says how the payment uses a stored card: "" none,
	// or specs.StoredInitial, StoredCardholder, StoredMerchant, which the
	// codec writes as the dialect's indicator in the private field.
	StoredCredential string
	// KeyUnderZMK and KeyCheckValue carry a key exchange (DE70 161).
	KeyUnderZMK   string
	KeyCheckValue string
	MAC           []byte // DE64, or DE128 when the message has a secondary bitmap
}

// ThreeDS is the 3-D Secure result carried to the bank in the dialect's
// private field.
type ThreeDS struct {
	ECI           string // e.g. 05 (Visa full auth), 02 (Mastercard)
	CAVV          string // CAVV/AAV, base64 or hex as the DS gave it
	TransactionID string // 3DS1 XID or 3DS2 DS transaction id
	Version       string // protocol version, e.g. 2.2.0
}

// OriginalData is DE90: how a reversal or advice names the message it refers to.
type OriginalData struct {
	MTI              string // 4
	STAN             string // 6
	TransmissionTime string // 10, MMDDhhmmss
	AcquirerID       string // 11, zero-padded on the left
	ForwarderID      string // 11, zero-padded on the left
}

const de90Len = 42

// String formats DE90 as its 42 digits.
func (o OriginalData) String() string {
	return fmt.Sprintf("%-4s%06s%010s%011s%011s", o.MTI, o.STAN, o.TransmissionTime, o.AcquirerID, o.ForwarderID)
}

// ParseOriginalData parses the 42 digits of DE90.
func ParseOriginalData(s string) (*OriginalData, error) {
	if len(s) != de90Len || !isDigits(s) {
		return nil, &FieldError{Field: 90, Reason: "original data elements must be 42 digits"}
	}
	return &OriginalData{
		MTI:              s[0:4],
		STAN:             s[4:10],
		TransmissionTime: s[10:20],
		AcquirerID:       trimZeros(s[20:31]),
		ForwarderID:      trimZeros(s[31:42]),
	}, nil
}

// de95 formats DE95: actual transaction and settlement amounts (12 digits
// each), then the two 9-character fee amounts, which Tulpar does not use.
func de95(actual int64) string {
	return fmt.Sprintf("%012d%012d%09d%09d", actual, actual, 0, 0)
}

func parseDE95(s string) (int64, error) {
	if len(s) != 42 || !isDigits(s[:12]) {
		return 0, &FieldError{Field: 95, Reason: "replacement amounts must start with 12 digits of actual amount in 42 characters"}
	}
	v, _ := strconv.ParseInt(s[:12], 10, 64)
	return v, nil
}

// Stamp sets DE7 (UTC) and DE12/DE13 (local time of the acceptor) from now.
func (m *Message) Stamp(now time.Time, local *time.Location) {
	m.TransmissionTime = now.UTC().Format("0102150405")
	if local == nil {
		local = time.UTC
	}
	lt := now.In(local)
	m.LocalTime = lt.Format("150405")
	m.LocalDate = lt.Format("0102")
}

// SetAmount sets DE4.
func (m *Message) SetAmount(minor int64) {
	m.Amount, m.HasAmount = minor, true
}

// OriginalOf returns the DE90 a reversal or advice uses to name m.
func OriginalOf(m *Message) *OriginalData {
	return &OriginalData{MTI: m.MTI, STAN: m.STAN, TransmissionTime: m.TransmissionTime, AcquirerID: m.AcquirerID}
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	if s == "0" {
		return ""
	}
	return s
}
