package callbacks

import (
	"strconv"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// Event is the RBS operation name a callback carries in its operation
// parameter.
type Event string

// Events, as the RBS gateway names them.
const (
	EventApproved          Event = "approved"          // a two-stage hold was approved
	EventDeposited         Event = "deposited"         // money captured: one-stage purchase or completion
	EventReversed          Event = "reversed"          // a hold was cancelled
	EventRefunded          Event = "refunded"          // money returned (each partial refund too)
	EventDeclined          Event = "declined"          // the payment failed: bank, 3-D Secure, timeout
	EventDeclinedByTimeout Event = "declinedByTimeout" // the order's lifetime ended unpaid
)

// Callback parameters (RBS names).
const (
	ParamMdOrder     = "mdOrder"     // the switch's order id
	ParamOrderNumber = "orderNumber" // the merchant's order number
	ParamOperation   = "operation"   // an Event
	ParamStatus      = "status"      // "1" the operation succeeded, "0" it failed
	ParamAmount      = "amount"      // minor units; for approved, deposited, reversed, refunded
)

// event is what one committed order change means to the merchant.
type event struct {
	name    Event
	success bool
	amount  int64 // sent when hasAmount
	// hasAmount: the operation moved (or held, or released) money, so the
	// merchant is told how much; a declined payment moved none.
	hasAmount bool
	// subject names what the event is about, so that it is sent once
	// however many commits show it: the operation for a money event (a
	// completion is committed queued, then again approved when the bank
	// acknowledges the advice), "" for a decline, which ends the order.
	subject string
	// outcome: the event decides the payment (its authorization or
	// purchase, 3-D Secure, its timeout or the order's expiry), as
	// opposed to a follow-up the merchant asked for.
	outcome bool
}

// classify decides whether the change that left o with op as its latest
// operation is a callback event. payments.Deps.InTx hands over the order's
// last operation, which is not always the one that changed (an advice's
// acknowledgement updates an earlier one), so classify only says what the
// operation means; Notifier.InTx keeps it from being sent twice.
func classify(o *order.Order, op *order.Operation) (event, bool) {
	payment := op.Type == order.OpAuthorization || op.Type == order.OpPurchase
	money := func(name Event) (event, bool) {
		return event{name: name, success: true, amount: op.Amount, hasAmount: true, subject: op.ID, outcome: payment}, true
	}
	declined := o.Status == order.StatusDeclined
	switch op.Type {
	case order.OpAuthorization:
		switch {
		case op.Status == order.OpApproved:
			return money(EventApproved)
		case declined && (op.Status == order.OpDeclined || op.Status == order.OpTimeout):
			return event{name: EventDeclined, outcome: true}, true
		}
	case order.OpPurchase:
		switch {
		case op.Status == order.OpApproved:
			return money(EventDeposited)
		case declined && (op.Status == order.OpDeclined || op.Status == order.OpTimeout):
			return event{name: EventDeclined, outcome: true}, true
		}
	case order.OpCompletion:
		// The capture stands once it is queued for the bank (the advice
		// cannot be refused), so the merchant hears of it then, not when
		// the bank gets round to acknowledging.
		if op.Status == order.OpQueued || op.Status == order.OpApproved {
			return money(EventDeposited)
		}
	case order.OpReversal:
		// Queued: the bank was unreachable, the cancel stands and its
		// advice goes through store-and-forward.
		if op.Status == order.OpQueued || op.Status == order.OpApproved {
			return money(EventReversed)
		}
	case order.OpRefund:
		if op.Status == order.OpApproved {
			return money(EventRefunded)
		}
	case order.OpAutoReversal:
		// "Sent, no reply" on a payment: the flows append the reversal
		// after the timed-out operation, so this is how a timeout shows.
		// A timed-out refund leaves the order deposited and says nothing.
		if of := o.Op(op.Of); declined && of != nil && (of.Type == order.OpAuthorization || of.Type == order.OpPurchase) {
			return event{name: EventDeclined, outcome: true}, true
		}
	case order.OpThreeDS:
		if declined && op.Status == order.OpDeclined {
			return event{name: EventDeclined, outcome: true}, true
		}
	case order.OpExpire:
		return event{name: EventDeclinedByTimeout, outcome: true}, true
	}
	return event{}, false
}

// params are the callback's parameters without the checksum, which is
// computed when the callback is sent, with the secret configured then.
// Nothing of the card is ever among them.
func (e event) params(o *order.Order) map[string]string {
	p := map[string]string{
		ParamMdOrder:     o.ID,
		ParamOrderNumber: o.Number,
		ParamOperation:   string(e.name),
		ParamStatus:      "0",
	}
	if e.success {
		p[ParamStatus] = "1"
	}
	if e.hasAmount {
		p[ParamAmount] = strconv.FormatInt(e.amount, 10)
	}
	return p
}
