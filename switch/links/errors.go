package links

import (
	"errors"
	"fmt"
)

// The two outcomes of a failed Send. Every error Send returns is a
// *SendError that matches exactly one of them with errors.Is.
var (
	// ErrNotSent means the message never reached the bank's socket: the
	// link was not ready, no in-flight slot was free before the context
	// ended, the link was closing, or the message could not be packed or
	// MACed. Nothing happened at the bank; the caller may route the same
	// request to another bank.
	ErrNotSent = errors.New("links: not sent")

	// ErrNoReply means the message was handed to the socket but no
	// trustworthy response came back before the deadline: the bank may or
	// may not have acted on it. The outcome is unknown and the caller must
	// reverse (0420 through store-and-forward).
	ErrNoReply = errors.New("links: sent, no reply")
)

// Causes carried in SendError.Err.
var (
	ErrNotReady     = errors.New("link not ready")
	ErrClosed       = errors.New("link closed")
	ErrConnLost     = errors.New("connection lost")
	ErrDuplicateKey = errors.New("a request with the same match key is already in flight")
	ErrNotRequest   = errors.New("not a request MTI")
)

// SendError is the error of a Send that did not return a response. Sent
// tells the two outcomes apart: false wraps ErrNotSent, true wraps
// ErrNoReply. Err is the cause (context.DeadlineExceeded, ErrConnLost,
// iso.ErrBadMAC, ...), also reachable with errors.Is. It never holds card
// data: only the MTI and STAN name the message.
type SendError struct {
	Link string
	MTI  string
	STAN string
	Sent bool
	Err  error
}

func (e *SendError) Error() string {
	what := "not sent"
	if e.Sent {
		what = "sent, no reply"
	}
	return fmt.Sprintf("link %s: %s STAN %s: %s: %v", e.Link, e.MTI, e.STAN, what, e.Err)
}

// Unwrap returns the outcome sentinel and the cause.
func (e *SendError) Unwrap() []error {
	if e.Sent {
		return []error{ErrNoReply, e.Err}
	}
	return []error{ErrNotSent, e.Err}
}
