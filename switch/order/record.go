package order

import (
	"encoding/json"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/compact"
)

// The recorded format: what the journal and the store-and-forward queue
// keep of orders and their messages. The payments core writes it, the
// auditors' tools read it; both use these names and types, so a change here
// is a change of the on-disk format.

// Journal channels. An entry's channel says what its payload is.
const (
	// ChannelState entries hold an order, whole, as JSON (Order): every
	// committed change writes one, so the journal alone rebuilds the store.
	ChannelState = "state"
	// ChannelAPI entries hold a merchant request or answer as the API
	// journals it (no card data, no credentials).
	ChannelAPI = "api"
	// Channel3DS entries hold one 3-D Secure step (ThreeDSStep).
	Channel3DS = "3ds"
	// ChannelCallback entries hold a merchant callback sent, or the
	// merchant's answer to it.
	ChannelCallback = "callback"
	// ChannelMail entries record a message the switch e-mailed (a daily
	// report: recipients, subject, attachments' names), then its outcome.
	ChannelMail = "mail"
	// ChannelSettings entries hold a merchant's settings as the merchant
	// changed them in the cabinet (callback URL, allowed return hosts),
	// with who changed them.
	ChannelSettings = "settings"
	// ChannelFiscal entries hold a fiscal receipt request sent to the
	// fiscal service, or its answer (no credentials, no card data).
	ChannelFiscal = "fiscal"
	// ChannelPaymentLink entries hold a payment link or invoice, whole, as
	// JSON (switch/paylinks) each time it is created or changed.
	ChannelPaymentLink = "payment_link"
)

// An ISO 8583 message's entry is on the channel named after its bank's link
// (an ISORecord). A message the link could not hand to an exchange is on
// ChannelLate or ChannelUnmatched of that link.

// ChannelLate is the channel of an answer that came after its exchange gave
// up waiting.
func ChannelLate(link string) string { return link + ":late" }

// ChannelUnmatched is the channel of a message no exchange was waiting for.
func ChannelUnmatched(link string) string { return link + ":unmatched" }

// ISORecord is the journal payload of one ISO 8583 message: the message as
// packed in the bank's dialect with DE2, CVV2 and CAVV taken out, and the
// PAN encrypted through hsm beside it. Auditors unpack Wire with the
// dialect to see every other field as it crossed the wire.
type ISORecord struct {
	Bank    string `json:"bank"`
	Dialect string `json:"dialect"`
	PAN     []byte `json:"pan,omitempty"` // hsm ciphertext
	Wire    []byte `json:"wire,omitempty"`
	// Error is set when the message could not be packed for the journal.
	Error string `json:"error,omitempty"`
}

// NewISORecord is the record of m, exchanged with bank in codec's dialect
// (nil when unknown); pan is the PAN's ciphertext, kept when m carries one.
func NewISORecord(bank string, codec *iso.Codec, m *iso.Message, pan []byte) ISORecord {
	rec := ISORecord{Bank: bank}
	if m.PAN != "" {
		rec.PAN = pan
	}
	if codec != nil {
		rec.Dialect = codec.Dialect().Name
		if wire, err := codec.Pack(Sanitize(m)); err == nil {
			rec.Wire = wire
		} else {
			rec.Error = err.Error()
		}
	}
	return rec
}

// Payload is the record as a journal entry's payload.
func (r ISORecord) Payload() []byte {
	b, _ := json.Marshal(r)
	return b
}

// Sanitize returns a copy of m without card data that must not be stored.
func Sanitize(m *iso.Message) *iso.Message {
	c := *m
	c.PAN, c.CVV2 = "", ""
	if m.ThreeDS != nil {
		t := *m.ThreeDS
		t.CAVV = ""
		c.ThreeDS = &t
	}
	if c.ThreeDS != nil && *c.ThreeDS == (iso.ThreeDS{}) {
		c.ThreeDS = nil
	}
	c.KeyUnderZMK = ""
	return &c
}

// ThreeDSStep is the journal payload of a 3-D Secure step: never the CAVV,
// only whether one came.
type ThreeDSStep struct {
	Step      string `json:"step"` // begin, result
	Status    string `json:"status"`
	ECI       string `json:"eci"`
	Version   string `json:"version"`
	DSTransID string `json:"ds_trans_id"`
	CAVV      string `json:"cavv,omitempty"` // "present" or empty
	Error     string `json:"error,omitempty"`
}

// Store-and-forward item kinds: what the payload of a queued item is.
const (
	// KindReversalAdvice items are an Advice holding an 0420, repeated as 0421.
	KindReversalAdvice = "reversal_advice"
	// KindCompletionAdvice items are an Advice holding an 0220, repeated as 0221.
	KindCompletionAdvice = "completion_advice"
	// KindCallback items are a merchant callback (switch/callbacks).
	KindCallback = "callback"
	// KindReportMail items are a merchant's daily report to e-mail
	// (switch/reportmail).
	KindReportMail = "report_mail"
	// KindReceiptMail items are a receipt to e-mail to the buyer
	// (switch/receipt).
	KindReceiptMail = "receipt_mail"
	// KindFiscal items are a fiscal receipt to issue (switch/fiscal).
	KindFiscal = "fiscal"
	// KindInvoiceMail items are an invoice to e-mail to its buyer
	// (switch/paylinks).
	KindInvoiceMail = "invoice_mail"
)

// Advice is a queued advice's payload: the message without its PAN, which
// stays encrypted in the order, and the operation it carries out.
//
// Message is iso.Message encoded by encoding/json with its Go field names:
// renaming a field of iso.Message changes this format.
type Advice struct {
	OrderID string       `json:"order"`
	OpID    string       `json:"op"`
	Message *iso.Message `json:"message"`
}

// BucketOrders is the order store's bucket in the data file: order id →
// StoreValue of the order's JSON (Order), the JSON its last ChannelState
// entry holds. Values written before the store compressed them are the
// JSON itself; readers take both (StoredJSON, Decode).
var BucketOrders = []byte("orders")

// BucketPaymentLinks is switch/paylinks' bucket of links: code → the
// link's JSON, byte for byte the payload of its last ChannelPaymentLink
// entry (auditors' replay compares the two).
var BucketPaymentLinks = []byte("payment_links")

// StoreValue returns the order store's value for the order whose JSON is
// data: compressed (switch/compact), a third of the JSON's size, so an
// order's page holds three times the orders and the file grows less.
func StoreValue(data []byte) []byte { return compact.Append(nil, data) }

// maxOrderJSON bounds what a stored order may decompress to: a damaged
// value must not make a reader allocate without end.
const maxOrderJSON = 16 << 20

// StoredJSON returns the order's JSON that a BucketOrders value holds.
func StoredJSON(v []byte) ([]byte, error) {
	if len(v) > 0 && v[0] == '{' {
		return v, nil
	}
	return compact.Decode(nil, v, maxOrderJSON)
}

// Decode reads an order from a ChannelState entry's JSON or a
// BucketOrders value. It decodes into orderJSON itself, as UnmarshalJSON
// does: json.Unmarshal into an Order would scan b three times (validating
// it, skipping it to find its end for UnmarshalJSON, validating it again)
// before decoding it.
func Decode(b []byte) (*Order, error) {
	b, err := StoredJSON(b)
	if err != nil {
		return nil, err
	}
	var v orderJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	o := v.order()
	return &o, nil
}

// orderJSON is the shape an order's JSON is read into: Order's fields,
// with registration as orders written before stored cards had a record of
// their own kept it (a kept registration's card id in
// registration.card_id).
type orderJSON struct {
	plainOrder
	Registration *struct {
		Status   string `json:"status"`
		Deciding string `json:"deciding"`
		CardID   string `json:"card_id"`
	} `json:"registration"`
}

// plainOrder is Order without its UnmarshalJSON.
type plainOrder Order

func (v *orderJSON) order() Order {
	o := Order(v.plainOrder)
	if r := v.Registration; r != nil {
		o.Registration = &Registration{Status: r.Status, Deciding: r.Deciding}
		if r.CardID != "" && o.Stored == nil {
			o.Stored = &StoredCard{ID: r.CardID}
		}
	}
	return o
}
