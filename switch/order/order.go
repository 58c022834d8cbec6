package order

import (
	"encoding/json"
	"strings"
	"time"
)

// Status is an order's state, numbered as the RBS gateway numbers
// orderStatus, which merchants' plugins already understand.
type Status int

// Order statuses.
const (
	StatusRegistered Status = 0 // created, not paid
	StatusApproved   Status = 1 // funds held (two-stage), awaiting completion
	StatusDeposited  Status = 2 // captured (completed or one-stage), maybe partly refunded
	StatusReversed   Status = 3 // hold cancelled before completion
	StatusRefunded   Status = 4 // refunded in full
	Status3DS        Status = 5 // 3-D Secure in progress
	StatusDeclined   Status = 6 // declined, failed 3-D Secure, expired or timed out
)

var statusNames = map[Status]string{
	StatusRegistered: "registered", StatusApproved: "approved", StatusDeposited: "deposited",
	StatusReversed: "reversed", StatusRefunded: "refunded", Status3DS: "3ds_in_progress", StatusDeclined: "declined",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "unknown"
}

// OpType is the kind of an operation on an order.
type OpType string

// Operation types.
const (
	OpAuthorization OpType = "authorization" // 0100: hold (two-stage)
	OpPurchase      OpType = "purchase"      // 0200: one-stage payment
	OpCompletion    OpType = "completion"    // 0220 advice (or 0200) capturing a hold
	OpReversal      OpType = "reversal"      // 0400: cancel a hold
	OpRefund        OpType = "refund"        // 0200 processing code 20
	OpAutoReversal  OpType = "auto_reversal" // 0420 through SAF after an unknown outcome
	OpThreeDS       OpType = "3ds"           // 3-D Secure authentication
	OpExpire        OpType = "expire"        // the order's lifetime ended unpaid
	// The merchant's changes to the card the order stored (Order.Stored):
	// no bank sees them, the order's history keeps them.
	OpUnbind OpType = "unbind" // the stored card disabled (RBS unBindCard)
	OpBind   OpType = "bind"   // the stored card enabled again (RBS bindCard)
	OpExtend OpType = "extend" // the stored card's expiry changed (RBS extendBinding)
)

// OpStatus is how an operation ended, or that it has not yet.
type OpStatus string

// Operation statuses.
const (
	OpPending  OpStatus = "pending"  // sent or about to be; outcome not known yet
	OpApproved OpStatus = "approved" // the bank approved
	OpDeclined OpStatus = "declined" // the bank declined, or the switch did
	OpQueued   OpStatus = "queued"   // accepted and queued for store-and-forward delivery
	OpTimeout  OpStatus = "timeout"  // sent, no reply: declined and reversed
)

// Operation is one exchange on an order, with everything the cabinet's
// operation history and the auditors need.
type Operation struct {
	ID     string   `json:"id"`
	Type   OpType   `json:"type"`
	Status OpStatus `json:"status"`
	Amount int64    `json:"amount"`
	// Requested is the amount asked when the bank approved another one
	// (Amount is then what it approved); zero otherwise.
	Requested    int64     `json:"requested,omitempty"`
	Time         time.Time `json:"time"`
	Bank         string    `json:"bank,omitempty"`
	MTI          string    `json:"mti,omitempty"`
	STAN         string    `json:"stan,omitempty"`
	RRN          string    `json:"rrn,omitempty"`
	DE7          string    `json:"de7,omitempty"`
	ApprovalCode string    `json:"approval_code,omitempty"`
	ResponseCode string    `json:"response_code,omitempty"`
	ActionCode   int       `json:"action_code"`
	TerminalID   string    `json:"terminal_id,omitempty"`
	MerchantID   string    `json:"merchant_id,omitempty"`
	// IdemKey makes the operation idempotent: the same key on the same
	// order and type answers this operation again.
	IdemKey string `json:"idem_key,omitempty"`
	// Of names the operation this one follows up (completion of an
	// authorization, reversal of a purchase...).
	Of string `json:"of,omitempty"`
}

// Card is what an order keeps of the card: never the PAN in clear, never
// the CVV2.
type Card struct {
	Masked     string `json:"masked"`
	Token      string `json:"token"`
	Ciphertext []byte `json:"ciphertext"`
	Expiry     string `json:"expiry"` // YYMM
	Holder     string `json:"holder,omitempty"`
	Brand      string `json:"brand,omitempty"`
}

// ThreeDSInfo is what an order keeps of 3-D Secure: never the CAVV.
type ThreeDSInfo struct {
	// TransID is the 3-D Secure server transaction id of the latest
	// attempt: the order id, then order id + "-a2", "-a3"... for a later
	// attempt, or when the buyer submits the card again while a challenge
	// is open.
	TransID   string `json:"trans_id,omitempty"`
	Status    string `json:"status"`
	ECI       string `json:"eci,omitempty"`
	Version   string `json:"version,omitempty"`
	DSTransID string `json:"ds_trans_id,omitempty"`
}

// CartItem is one line of the merchant's cart. The switch shows it to the
// buyer and keeps it for receipts; it never checks it against the order's
// amount.
type CartItem struct {
	Name     string `json:"name"`
	Quantity int64  `json:"quantity"`
	Price    int64  `json:"price"` // minor units per item

	// The fields below come with a cart in RBS's orderBundle (receipts and
	// fiscal documents need them); zero when the merchant did not say.

	// QuantityDecimal is the quantity as the merchant wrote it when it is
	// not a whole number ("0.75" kilograms); Quantity is then 0, so that
	// nothing multiplies a rounded quantity by the price.
	QuantityDecimal string `json:"quantity_decimal,omitempty"`
	Measure         string `json:"measure,omitempty"`     // unit of the quantity: "шт", "кг"
	Amount          int64  `json:"amount,omitempty"`      // the line's total in minor units, after any discount
	PositionID      string `json:"position_id,omitempty"` // the line's number in the merchant's cart
	Code            string `json:"code,omitempty"`        // the merchant's article code (RBS itemCode, Processing.kz merchantsGoodsID)
	// TaxType is the line's tax rate as RBS numbers them (0 no VAT, 1 VAT
	// 0%...), nil when not given; TaxSum the tax in minor units.
	TaxType *int  `json:"tax_type,omitempty"`
	TaxSum  int64 `json:"tax_sum,omitempty"`
	// Currency of Price (ISO 4217 numeric) when it is not the order's
	// (Processing.kz lets each line say its own).
	Currency string `json:"currency,omitempty"`
	// Extra holds, as a JSON object, the line's other fields as the
	// merchant sent them (itemAttributes, discount, itemDetails...): kept
	// so that nothing the merchant said is lost.
	Extra string `json:"extra,omitempty"`
}

// Info is one piece of the merchant's additional information about an
// order: kept, shown back, never acted on.
type Info struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// MerchantData is what a merchant sent with an order for its own records
// that has no field of the switch's own: kept with the order, shown back by
// the merchant's API, and never used to decide anything. The Processing.kz
// dialect fills it (startTransaction's orderId, merchantLocalDateTime,
// terminalID, purchaser fields and merchantAdditionalInformationList).
type MerchantData struct {
	// OrderID is the shop's own order id, when the order's Number is a
	// payment reference rather than it (Processing.kz: Number is the
	// customerReference, unique; the shop's orderId need not be).
	OrderID string `json:"order_id,omitempty"`
	// LocalTime is the shop's clock when it asked, as it wrote it.
	LocalTime string `json:"local_time,omitempty"`
	// Terminal is the terminal id the shop named, if any.
	Terminal string `json:"terminal,omitempty"`
	// BuyerName and BuyerPhone are the buyer's as the shop gave them.
	BuyerName  string `json:"buyer_name,omitempty"`
	BuyerPhone string `json:"buyer_phone,omitempty"`
	// Info is the shop's additional information, in the order sent.
	Info []Info `json:"info,omitempty"`
}

// Registration is what an order that registers a card keeps (the
// Processing.kz startRegistration): the buyer passes a verification hold of
// the order's amount on the hosted page; the merchant then keeps the card
// or not (completeRegistration), and the hold is released either way. A
// kept card is the order's stored card (Order.Stored).
type Registration struct {
	// Status is "" until the merchant decides, then RegistrationKept or
	// RegistrationDropped.
	Status string `json:"status,omitempty"`
	// Deciding is the decision whose reversal of the hold is at the bank:
	// written ahead with the reversal, so that a crash before its outcome
	// is recorded does not lose what the merchant asked for. It becomes
	// Status when the reversal stands, and is cleared when the bank
	// declines it.
	Deciding string `json:"deciding,omitempty"`
}

// StoredCard is the switch's one record of a card kept for a merchant's
// later payments, whichever way it was kept: a Processing.kz registration
// the merchant decided to keep, or a payment whose buyer agreed to keep
// the card for the merchant's customer (an RBS binding, clientId). The
// order that stored it holds it: the card itself is that order's Card (an
// hsm token and the PAN encrypted through hsm, never a clear PAN, never
// the CVV2), and every change to it is a change of that order, journaled
// as any other. A later order paid with it names it (Order.StoredCard).
type StoredCard struct {
	// ID names the card to its merchant (RBS bindingId, Processing.kz
	// cardId): random, and the merchant's own (another merchant's card id
	// names nothing).
	ID string `json:"id"`
	// ClientID is the merchant's customer the card belongs to (RBS
	// clientId); "" for a Processing.kz registration, which has no
	// customer.
	ClientID string `json:"client_id,omitempty"`
	// Unbound is set while the merchant has disabled the card (RBS
	// unBindCard); it pays nothing until enabled again (bindCard).
	Unbound bool `json:"unbound,omitempty"`
	// Expiry is the card's expiry (YYMM) once the merchant changed it
	// (RBS extendBinding: the issuer sent the buyer a renewed card); ""
	// while it is the Card's own.
	Expiry string `json:"expiry,omitempty"`
	// Op is the operation with whose commit the card was stored (the
	// approved payment, or the registration's reversal); "" for cards
	// stored before stored cards had a record of their own.
	Op string `json:"op,omitempty"`
}

// StoredExpiry is the expiry (YYMM) of the card o stored: its own, or the
// one the merchant set since.
func (o *Order) StoredExpiry() string {
	if o.Stored != nil && o.Stored.Expiry != "" {
		return o.Stored.Expiry
	}
	if o.Card == nil {
		return ""
	}
	return o.Card.Expiry
}

// Registration decisions.
const (
	RegistrationKept    = "kept"
	RegistrationDropped = "dropped"
)

// Order is one merchant order and its operations.
type Order struct {
	ID          string            `json:"id"`
	Merchant    string            `json:"merchant"`
	Number      string            `json:"number"`
	Description string            `json:"description,omitempty"`
	Cart        []CartItem        `json:"cart,omitempty"`
	Email       string            `json:"email,omitempty"`
	Customer    string            `json:"customer,omitempty"`
	Language    string            `json:"language,omitempty"`
	ReturnURL   string            `json:"return_url,omitempty"`
	FailURL     string            `json:"fail_url,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	// Shop is what the merchant sent for its own records (nil when
	// nothing).
	Shop      *MerchantData `json:"shop,omitempty"`
	TwoStage  bool          `json:"two_stage"`
	Amount    int64         `json:"amount"`
	Currency  string        `json:"currency"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	ExpiresAt time.Time     `json:"expires_at"`

	Status        Status       `json:"status"`
	DeclineReason string       `json:"decline_reason,omitempty"`
	ActionCode    int          `json:"action_code"`
	Bank          string       `json:"bank,omitempty"`
	Rule          string       `json:"rule,omitempty"`
	Card          *Card        `json:"card,omitempty"`
	ThreeDS       *ThreeDSInfo `json:"threeds,omitempty"`
	IP            string       `json:"ip,omitempty"`
	// Registration is set on an order that registers a card.
	Registration *Registration `json:"registration,omitempty"`
	// Stored is the card this order stored for later payments, if any.
	Stored *StoredCard `json:"stored,omitempty"`
	// StoredCard is the id of the stored card this order is paid with:
	// named when the order was registered (Card is that card from the
	// start), or when it was paid (RBS paymentOrderBinding), or the card
	// the customer had stored already when the buyer asked to keep it
	// again.
	StoredCard string `json:"stored_card,omitempty"`
	// KeepCard is set when the card this order is paid with is to be
	// stored for its customer (Customer) once the payment is approved:
	// the buyer ticked "remember this card" on the hosted page, or the
	// merchant paying with card data did not say bindingNotNeeded.
	KeepCard bool `json:"keep_card,omitempty"`
	// MerchantInitiated is set when the order is paid with a stored card
	// by the merchant alone: no CVV2, no cardholder to authenticate.
	MerchantInitiated bool `json:"merchant_initiated,omitempty"`

	// Attempts counts the buyer's payment attempts (card submissions that
	// started from a registered order).
	Attempts int `json:"attempts,omitempty"`

	Approved  int64 `json:"approved"`  // held or captured by the authorization
	Deposited int64 `json:"deposited"` // captured
	Refunded  int64 `json:"refunded"`  // refunded so far

	Ops []Operation `json:"ops"`
	// Version increases with every stored change; the store refuses a
	// write based on a stale version.
	Version uint64 `json:"version"`

	// Phone is the buyer's, as + and digits (E.164), when the merchant
	// gave it.
	Phone string `json:"phone,omitempty"`
	// CallbackURL, when set, is where this order's callbacks go instead of
	// the merchant's configured URL (RBS dynamicCallbackUrl); the API
	// accepts only hosts the merchant's config allows.
	CallbackURL string `json:"callback_url,omitempty"`
	// Fiscal holds the fiscal receipts the fiscal service issued for the
	// order's operations (switch/fiscal), in the order they were issued.
	// Each is recorded by an order change of its own, so the journal's
	// state entries carry it and a replay rebuilds it.
	Fiscal []FiscalReceipt `json:"fiscal,omitempty"`
}

// Fiscal receipt kinds: what a fiscal receipt records.
const (
	FiscalSale   = "sale"   // money taken: a purchase, a completion, a fiscalized pre-authorization
	FiscalReturn = "return" // money given back: a refund, or a reversal of a fiscalized hold
)

// FiscalReceipt is a receipt the fiscal service (the cash register the
// merchant registered with the tax authority) issued for one operation of
// the order. Kazakh law requires one with its fiscal sign for every sale
// and return; the buyer checks it at the tax authority by Link or QR.
type FiscalReceipt struct {
	// ExternalID is the switch's id of the receipt at the fiscal service,
	// derived from the order id and the operation's index, so that every
	// retry names the same receipt.
	ExternalID string `json:"external_id"`
	// OpID is the operation the receipt records.
	OpID string `json:"op_id"`
	// Kind is FiscalSale or FiscalReturn.
	Kind string `json:"kind"`
	// Amount in minor units.
	Amount int64 `json:"amount"`
	// FiscalSign is the fiscal sign (fiscal number) the tax authority's
	// operator gave the receipt.
	FiscalSign string `json:"fiscal_sign"`
	// ReceiptID is the fiscal service's own id of the receipt.
	ReceiptID string `json:"receipt_id,omitempty"`
	// Link is the receipt's page at the fiscal data operator (ticket URL).
	Link string `json:"link,omitempty"`
	// QR is the text of the receipt's QR code.
	QR string `json:"qr,omitempty"`
	// Time is when the fiscal service issued the receipt.
	Time time.Time `json:"time"`
}

// FiscalFor returns the fiscal receipt issued with externalID, or nil.
func (o *Order) FiscalFor(externalID string) *FiscalReceipt {
	for i := range o.Fiscal {
		if o.Fiscal[i].ExternalID == externalID {
			return &o.Fiscal[i]
		}
	}
	return nil
}

// Op returns the operation with the given id.
func (o *Order) Op(id string) *Operation {
	for i := range o.Ops {
		if o.Ops[i].ID == id {
			return &o.Ops[i]
		}
	}
	return nil
}

// refundIDPrefix marks, among the idempotency keys of an order's
// operations, the refunds a shop gave an id of its own: externalRefundId
// of the RBS refund.do and of Processing.kz refundTransaction's
// additionalInformation. One prefix for both, so the same id is the same
// refund through either API; other keys (the JSON API's Idempotency-Key,
// the cabinet's) are the switch's and are never shown as the shop's id.
const refundIDPrefix = "rbs-refund:"

// RefundIdemKey is the idempotency key of a refund the shop named id.
func RefundIdemKey(id string) string { return refundIDPrefix + id }

// RefundID is the id the shop gave this refund, "" when it gave none.
func (op *Operation) RefundID() string {
	if id, ok := strings.CutPrefix(op.IdemKey, refundIDPrefix); ok {
		return id
	}
	return ""
}

// FindIdem returns the operation of type t with idempotency key key.
func (o *Order) FindIdem(t OpType, key string) *Operation {
	if key == "" {
		return nil
	}
	for i := range o.Ops {
		if o.Ops[i].Type == t && o.Ops[i].IdemKey == key {
			return &o.Ops[i]
		}
	}
	return nil
}

// AuthOp returns the approved operation that put money on hold or
// captured it: the original every follow-up refers to.
func (o *Order) AuthOp() *Operation {
	for i := range o.Ops {
		op := &o.Ops[i]
		if (op.Type == OpAuthorization || op.Type == OpPurchase) && op.Status == OpApproved {
			return op
		}
	}
	return nil
}

// AttemptDeclined reports whether the order's latest payment attempt was
// declined: declined for good, or registered again and waiting for another
// attempt with the decline's reason kept.
func (o *Order) AttemptDeclined() bool {
	return o.Status == StatusDeclined || (o.Status == StatusRegistered && o.DeclineReason != "")
}

// CaptureOp is the operation a refund refers to: the completion of a
// two-stage order, or the one-stage purchase.
func (o *Order) CaptureOp() *Operation {
	for i := len(o.Ops) - 1; i >= 0; i-- {
		op := &o.Ops[i]
		if op.Type == OpCompletion && (op.Status == OpQueued || op.Status == OpApproved) {
			return op
		}
	}
	return o.AuthOp()
}

// LastOp is the latest operation of type t, or nil.
func (o *Order) LastOp(t OpType) *Operation {
	for i := len(o.Ops) - 1; i >= 0; i-- {
		if o.Ops[i].Type == t {
			return &o.Ops[i]
		}
	}
	return nil
}

// AtBank reports whether an exchange of o with the bank has no recorded
// outcome: written ahead and not yet answered, or answered when the journal
// could not take it. A pending 3-D Secure step is the buyer's, not this.
func (o *Order) AtBank() bool {
	for _, op := range o.Ops {
		if op.Status == OpPending && op.Type != OpThreeDS {
			return true
		}
	}
	return false
}

// Clone returns a deep copy, so flows can prepare a change without
// touching what readers see.
func (o *Order) Clone() *Order {
	c := *o
	c.Ops = append([]Operation(nil), o.Ops...)
	c.Fiscal = append([]FiscalReceipt(nil), o.Fiscal...)
	c.Cart = append([]CartItem(nil), o.Cart...)
	for i := range c.Cart {
		if t := c.Cart[i].TaxType; t != nil {
			v := *t
			c.Cart[i].TaxType = &v
		}
	}
	if o.Card != nil {
		card := *o.Card
		card.Ciphertext = append([]byte(nil), o.Card.Ciphertext...)
		c.Card = &card
	}
	if o.ThreeDS != nil {
		t := *o.ThreeDS
		c.ThreeDS = &t
	}
	if o.Registration != nil {
		r := *o.Registration
		c.Registration = &r
	}
	if o.Stored != nil {
		st := *o.Stored
		c.Stored = &st
	}
	if o.Shop != nil {
		sh := *o.Shop
		sh.Info = append([]Info(nil), o.Shop.Info...)
		c.Shop = &sh
	}
	if o.Params != nil {
		c.Params = make(map[string]string, len(o.Params))
		for k, v := range o.Params {
			c.Params[k] = v
		}
	}
	return &c
}

// UnmarshalJSON reads an order as the store and the journal keep it. An
// order written before stored cards had a record of their own kept a kept
// registration's card id in registration.card_id: it is read as the
// order's stored card, so that every card the switch ever kept is one
// StoredCard.
func (o *Order) UnmarshalJSON(b []byte) error {
	var v orderJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*o = v.order()
	return nil
}
