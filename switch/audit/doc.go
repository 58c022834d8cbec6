// Package audit is what auditors and the finance team run against a copy of
// Tulpar's data file to prove what happened to every payment: that the
// journal's hash chain is whole (Verify), that the journal alone rebuilds
// every order the order store holds (Replay), the journal's entries in a
// log-safe form (Export), the merchants' daily operations report (Daily) and
// the reconciliation of Tulpar's books against a bank's settlement file
// (Reconcile).
//
// It only reads. Open opens the file with bbolt's read-only mode, which takes
// a shared flock: while a switch holds the file (exclusive flock) the open
// fails after a short timeout with ErrLocked instead of waiting or, worse,
// touching the live file. Auditors stop the switch or work on a consistent
// copy the switch wrote (journal.CopyTo / journal.Snapshot).
//
// Everything streams through the journal in short read transactions; memory
// grows with the number of orders (a 32-byte hash each for Replay), never
// with the number of entries or their payloads.
//
// It must never print card data: PANs are masked, CVV2 and CAVV never leave
// the switch (the journal does not hold them), and PAN ciphertext is shown
// only as present.
//
// # Record formats it reads
//
// The journal entries the payments core writes (switch/payments):
//
//	channel "state", direction internal: payload = the order's JSON after
//	    the change (payments.Order); the last one per order id is the order.
//	channel = a bank link's name, direction in/out, MTI/STAN/RRN set:
//	    payload = JSON {bank, dialect, pan (hsm ciphertext), wire (the packed
//	    message in that dialect without DE2, CVV2 and CAVV), error}.
//	channel "api", "3ds", "callback": JSON, exported as is after masking.
//
// The order store is the bucket "orders" (order id → order JSON) of the same
// file. Audit decodes these shapes with its own read-side views (orders.go)
// rather than the payments types, so an auditor's build depends only on the
// recorded format.
package audit
