// Package order is the vocabulary every part of the switch speaks about a
// merchant's order: the order and its operations, the state machine that
// says which operation is allowed when (checks) and what it does to the
// order (applies), the action codes and texts merchants see, the errors a
// caller decides on, and the recorded format: journal channels, the ISO
// 8583 record, store-and-forward kinds and payloads.
//
// The payments core runs the flows and is the only writer; the merchant
// APIs, the hosted page, callbacks and the auditors' tools read orders
// through these types, so an order field changes in one place.
//
// It is pure: no I/O, no clock of its own, no HTTP, no storage. It imports
// only iso.
package order
