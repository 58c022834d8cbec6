package order

import (
	"errors"
	"fmt"
	"time"
)

// ErrTransition is wrapped by every refusal of the state machine.
var ErrTransition = errors.New("operation not allowed")

// TransitionError says which operation the order's state forbids and why.
type TransitionError struct {
	Op     OpType
	From   Status
	Reason string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("%s of an order in status %d (%s): %s", e.Op, int(e.From), e.From, e.Reason)
}

func (e *TransitionError) Unwrap() error { return ErrTransition }

// ErrAmount is wrapped when an amount is out of what the order allows.
var ErrAmount = errors.New("amount not allowed")

// AmountError names the amount limit that was broken.
type AmountError struct {
	Op        OpType
	Amount    int64
	Available int64
}

func (e *AmountError) Error() string {
	if e.Amount <= 0 {
		return fmt.Sprintf("%s amount %d: must be positive", e.Op, e.Amount)
	}
	return fmt.Sprintf("%s amount %d exceeds the %d available", e.Op, e.Amount, e.Available)
}

func (e *AmountError) Unwrap() error { return ErrAmount }

// The checks below are the whole state machine: pure functions of the order,
// so every allowed and forbidden transition is a table test.

// CheckPay says whether the buyer may pay the order now (card entry, or
// the authorization that follows 3-D Secure).
func CheckPay(o *Order, now time.Time) error {
	op := OpPurchase
	if o.TwoStage {
		op = OpAuthorization
	}
	switch o.Status {
	case StatusRegistered, Status3DS:
	default:
		return &TransitionError{op, o.Status, "the order is not awaiting payment"}
	}
	if !o.ExpiresAt.IsZero() && !now.Before(o.ExpiresAt) {
		return &TransitionError{op, o.Status, "the order has expired"}
	}
	return nil
}

// CheckComplete says whether a hold can be completed for amount.
func CheckComplete(o *Order, amount int64) error {
	if o.Registration != nil {
		return &TransitionError{OpCompletion, o.Status, "a card registration's verification hold is released, never captured"}
	}
	if o.Status != StatusApproved {
		return &TransitionError{OpCompletion, o.Status, "only an approved (held) order can be completed"}
	}
	if amount <= 0 || amount > o.Approved {
		return &AmountError{OpCompletion, amount, o.Approved}
	}
	return nil
}

// CheckCancel says whether amount of a hold can be cancelled (reversed);
// 0 means all of it.
func CheckCancel(o *Order, amount int64) error {
	if o.Status != StatusApproved {
		return &TransitionError{OpReversal, o.Status, "only an approved (held) order can be reversed; refund a deposited one"}
	}
	if amount < 0 || amount > o.Approved {
		return &AmountError{OpReversal, amount, o.Approved}
	}
	return nil
}

// CheckRefund says whether amount can be refunded.
func CheckRefund(o *Order, amount int64) error {
	if o.Status != StatusDeposited {
		return &TransitionError{OpRefund, o.Status, "only a deposited order can be refunded"}
	}
	if avail := o.Deposited - o.Refunded; amount <= 0 || amount > avail {
		return &AmountError{OpRefund, amount, avail}
	}
	return nil
}

// Expired says whether an unpaid order's lifetime has ended.
func Expired(o *Order, now time.Time) bool {
	return (o.Status == StatusRegistered || o.Status == Status3DS) &&
		!o.ExpiresAt.IsZero() && !now.Before(o.ExpiresAt)
}

// ApplyPayment records the outcome of the authorization or purchase.
func ApplyPayment(o *Order, approved bool, amount int64, reason string) {
	if !approved {
		o.Status, o.DeclineReason = StatusDeclined, reason
		return
	}
	o.Approved, o.DeclineReason = amount, ""
	if o.TwoStage {
		o.Status = StatusApproved
		return
	}
	o.Deposited = amount
	o.Status = StatusDeposited
}

// ApplyDecline records a declined payment attempt. With retry the order
// waits for another attempt (registered again, the decline's reason and
// action code kept for the status and the page); without, it is declined
// for good.
func ApplyDecline(o *Order, reason string, retry bool) {
	if !retry {
		ApplyPayment(o, false, 0, reason)
		return
	}
	o.Status, o.DeclineReason = StatusRegistered, reason
}

// ApplyCompletion records the capture of amount of a hold.
func ApplyCompletion(o *Order, amount int64) {
	o.Deposited = amount
	o.Status = StatusDeposited
}

// ApplyCancel releases amount of the hold: part of it leaves the rest
// approved (and completable), all of it reverses the order.
func ApplyCancel(o *Order, amount int64) {
	if amount < o.Approved {
		o.Approved -= amount
		return
	}
	o.Status = StatusReversed
}

// ApplyRefund records amount refunded; all of the capture refunded ends
// the order as refunded.
func ApplyRefund(o *Order, amount int64) {
	o.Refunded += amount
	if o.Refunded == o.Deposited {
		o.Status = StatusRefunded
	}
}

// ApplyExpire declines an order whose lifetime ended unpaid.
func ApplyExpire(o *Order) {
	o.Status, o.DeclineReason, o.ActionCode = StatusDeclined, "expired", ActionExpired
}

// ErrNotFound is returned for an order that does not exist (or, to a
// merchant, one that is another merchant's).
var ErrNotFound = errors.New("order not found")

// ErrDuplicateNumber is returned when a merchant registers an order number
// twice.
var ErrDuplicateNumber = errors.New("order number already registered")

// InputError is a request the merchant got wrong; Field names the field.
type InputError struct {
	Field  string
	Reason string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Reason }

// OpDecline is the merchant's decline of an order nobody has paid yet (RBS
// decline.do, the JSON API's cancel of a registered order).
const OpDecline OpType = "decline"

// CheckDecline says whether the merchant may decline the order: only while
// no money is held, that is before payment or during 3-D Secure.
func CheckDecline(o *Order) error {
	switch o.Status {
	case StatusRegistered, Status3DS:
		return nil
	}
	return &TransitionError{OpDecline, o.Status, "only an order awaiting payment can be declined; reverse or refund a paid one"}
}
