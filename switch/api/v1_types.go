package api

import (
	"time"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/receipt"
)

// orderObject is the JSON API's order. Field names are the API's contract
// (see openapi.yaml); the payments Order is not exposed as is.
type orderObject struct {
	Object         string            `json:"object"`
	ID             string            `json:"id"`
	OrderNumber    string            `json:"order_number"`
	Status         string            `json:"status"`
	StatusCode     int               `json:"status_code"`
	Capture        string            `json:"capture"`
	Amount         int64             `json:"amount"`
	ApprovedAmount int64             `json:"approved_amount"`
	CapturedAmount int64             `json:"captured_amount"`
	RefundedAmount int64             `json:"refunded_amount"`
	Currency       string            `json:"currency"`
	Description    string            `json:"description,omitempty"`
	PaymentURL     string            `json:"payment_url"`
	ReturnURL      string            `json:"return_url"`
	FailURL        string            `json:"fail_url,omitempty"`
	Email          string            `json:"email,omitempty"`
	Language       string            `json:"language"`
	Metadata       map[string]string `json:"metadata"`
	Card           *cardObject       `json:"card"`
	ThreeDSecure   *threeDSObject    `json:"three_d_secure"`
	ActionCode     int               `json:"action_code"`
	ActionText     string            `json:"action_text"`
	DeclineCode    string            `json:"decline_code,omitempty"`
	Operations     []operationObject `json:"operations"`
	FiscalReceipts []fiscalObject    `json:"fiscal_receipts,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	ExpiresAt      time.Time         `json:"expires_at"`
}

// fiscalObject is a fiscal receipt issued for one of the order's
// operations.
type fiscalObject struct {
	ExternalID  string    `json:"external_id"`
	OperationID string    `json:"operation_id"`
	Type        string    `json:"type"`
	Amount      int64     `json:"amount"`
	FiscalSign  string    `json:"fiscal_sign"`
	TicketURL   string    `json:"ticket_url,omitempty"`
	QR          string    `json:"qr,omitempty"`
	IssuedAt    time.Time `json:"issued_at"`
}

type cardObject struct {
	Masked string `json:"masked"`
	Brand  string `json:"brand"`
	Expiry string `json:"expiry"` // YYMM
	Holder string `json:"holder,omitempty"`
}

type threeDSObject struct {
	Status  string `json:"status"`
	ECI     string `json:"eci,omitempty"`
	Version string `json:"version,omitempty"`
}

type operationObject struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`
	Status       string    `json:"status"`
	Amount       int64     `json:"amount"`
	CreatedAt    time.Time `json:"created_at"`
	RRN          string    `json:"rrn,omitempty"`
	ApprovalCode string    `json:"approval_code,omitempty"`
	ActionCode   int       `json:"action_code"`
	DeclineCode  string    `json:"decline_code,omitempty"`
	TerminalID   string    `json:"terminal_id,omitempty"`
	MerchantID   string    `json:"merchant_id,omitempty"`
	ReceiptURL   string    `json:"receipt_url,omitempty"`
}

func (s *Server) orderJSON(o *order.Order) orderObject {
	v := orderObject{
		Object: "order", ID: o.ID, OrderNumber: o.Number, Status: o.Status.String(), StatusCode: int(o.Status),
		Capture: "automatic", Amount: o.Amount, ApprovedAmount: o.Approved, CapturedAmount: o.Deposited,
		RefundedAmount: o.Refunded, Currency: o.Currency, Description: o.Description, PaymentURL: s.formURL(o.ID),
		ReturnURL: o.ReturnURL, FailURL: o.FailURL, Email: o.Email, Language: o.Language, Metadata: o.Params,
		ActionCode: o.ActionCode, ActionText: order.ActionText(o.ActionCode, "en"),
		Operations: []operationObject{}, CreatedAt: o.CreatedAt, ExpiresAt: o.ExpiresAt,
	}
	if v.Metadata == nil {
		v.Metadata = map[string]string{}
	}
	if o.TwoStage {
		v.Capture = "manual"
	}
	if o.Status == order.StatusRegistered {
		v.ActionText = ""
	}
	if o.Card != nil {
		v.Card = &cardObject{Masked: o.Card.Masked, Brand: o.Card.Brand, Expiry: o.Card.Expiry, Holder: o.Card.Holder}
	}
	if o.ThreeDS != nil {
		v.ThreeDSecure = &threeDSObject{Status: o.ThreeDS.Status, ECI: o.ThreeDS.ECI, Version: o.ThreeDS.Version}
	}
	if o.Status == order.StatusDeclined {
		v.DeclineCode = o.DeclineReason
		if op := paymentOp(o); op != nil && op.ResponseCode != "" {
			v.DeclineCode = iso.LookupResponseCode(op.ResponseCode).Reason
		}
	}
	for i := range o.Ops {
		op := operationJSON(&o.Ops[i])
		if s.cfg.ReceiptURL != nil && receipt.Receipted(&o.Ops[i]) {
			op.ReceiptURL = s.cfg.ReceiptURL(o.ID, o.Ops[i].ID)
		}
		v.Operations = append(v.Operations, op)
	}
	for _, f := range o.Fiscal {
		v.FiscalReceipts = append(v.FiscalReceipts, fiscalObject{ExternalID: f.ExternalID, OperationID: f.OpID, Type: f.Kind,
			Amount: f.Amount, FiscalSign: f.FiscalSign, TicketURL: f.Link, QR: f.QR, IssuedAt: f.Time})
	}
	return v
}

func operationJSON(op *order.Operation) operationObject {
	v := operationObject{
		ID: op.ID, Type: string(op.Type), Status: string(op.Status), Amount: op.Amount, CreatedAt: op.Time,
		RRN: op.RRN, ApprovalCode: op.ApprovalCode, ActionCode: op.ActionCode, TerminalID: op.TerminalID, MerchantID: op.MerchantID,
	}
	if op.ResponseCode != "" && !iso.LookupResponseCode(op.ResponseCode).Approved {
		v.DeclineCode = iso.LookupResponseCode(op.ResponseCode).Reason
	}
	return v
}

type refundObject struct {
	Object string `json:"object"`
	operationObject
	OrderID string      `json:"order_id"`
	Order   orderObject `json:"order"`
}

func (s *Server) refundJSON(o *order.Order, op *order.Operation) refundObject {
	return refundObject{Object: "refund", operationObject: operationJSON(op), OrderID: o.ID, Order: s.orderJSON(o)}
}
