package audit

import (
	"encoding/json"
	"time"
)

// Journal channels and order-store bucket written by switch/payments. They
// are part of the recorded format.
const (
	ChannelState = "state"
	ChannelAPI   = "api"
	Channel3DS   = "3ds"
)

var bucketOrders = []byte("orders")

// order is the read-side view of payments.Order: the fields reports and
// reconciliation need. Replay compares the whole JSON, not this view.
type order struct {
	ID        string      `json:"id"`
	Merchant  string      `json:"merchant"`
	Number    string      `json:"number"`
	Amount    int64       `json:"amount"`
	Currency  string      `json:"currency"`
	Status    int         `json:"status"`
	Bank      string      `json:"bank"`
	Approved  int64       `json:"approved"`
	Deposited int64       `json:"deposited"`
	Refunded  int64       `json:"refunded"`
	Ops       []operation `json:"ops"`
	Version   uint64      `json:"version"`
}

// operation is the read-side view of payments.Operation.
type operation struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`
	Status       string    `json:"status"`
	Amount       int64     `json:"amount"`
	Time         time.Time `json:"time"`
	Bank         string    `json:"bank"`
	MTI          string    `json:"mti"`
	STAN         string    `json:"stan"`
	RRN          string    `json:"rrn"`
	ApprovalCode string    `json:"approval_code"`
	ResponseCode string    `json:"response_code"`
	ActionCode   int       `json:"action_code"`
	TerminalID   string    `json:"terminal_id"`
	MerchantID   string    `json:"merchant_id"`
	Of           string    `json:"of"`
}

// Operation types and statuses of payments.Operation.
const (
	opAuthorization = "authorization"
	opPurchase      = "purchase"
	opCompletion    = "completion"
	opReversal      = "reversal"
	opRefund        = "refund"
	opAutoReversal  = "auto_reversal"

	opPending  = "pending"
	opApproved = "approved"
	opDeclined = "declined"
	opQueued   = "queued"
	opTimeout  = "timeout"
)

// isoRecord is the journal payload of one ISO 8583 message
// (payments.ISORecord).
type isoRecord struct {
	Bank    string `json:"bank"`
	Dialect string `json:"dialect"`
	PAN     []byte `json:"pan,omitempty"`
	Wire    []byte `json:"wire,omitempty"`
	Error   string `json:"error,omitempty"`
}

func decodeOrder(b []byte) (*order, error) {
	var o order
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, err
	}
	return &o, nil
}
