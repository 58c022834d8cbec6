// Package routing decides which partner bank carries a payment.
//
// It owns one decision and nothing else: given the routing rules from the
// daemon's config file, a payment's routing attributes (merchant, card BIN,
// brand, currency, amount) and a view of which bank links are ready, it names
// the bank to use, the rule that chose it and why, or says clearly that there
// is no route.
//
// # Rules
//
// Rules are tried in the order they appear in the config. A rule matches when
// every criterion it sets holds; within one criterion any listed value will
// do; a rule that sets no criterion matches every payment. The criteria are
// merchant ids, card BIN ranges, card brands, currencies and an amount range.
// A rule names an ordered list of banks. Without weights the first ready bank
// wins and the rest are failover, in order. With weights, traffic is split
// among the ready weighted banks in proportion to their weights and the
// banks without a weight are failover, in order, once every weighted bank is
// down.
//
// When the first matching rule has no ready bank, Route returns ErrNoRoute
// naming that rule and the banks that are down; it does not fall through to
// the next matching rule. Routing rules usually carry commercial agreements
// (this merchant's Visa volume goes to this bank) and silently sending the
// payment elsewhere would break them. A rule that may fall through says so
// with "fallthrough: true".
//
// # BIN ranges
//
// A range such as "40000000-49999999", "400000-499999" or a single prefix
// "4111" compares the first N digits of the card number, N being the length
// of the bound, so 6-digit and 8-digit ranges mix freely. Internally every
// bound is widened to 8 digits ("400000-499999" becomes 40000000-49999999).
// A caller may pass a whole PAN or only its BIN: only the first 8 digits are
// read. When fewer than 8 digits are known, a rule's BIN criterion holds
// only if every card number that starts with them falls in one of the rule's
// ranges, so a 6-digit BIN never matches a rule whose 8-digit ranges cover
// only part of it.
//
// # Card brands
//
// BrandOf is the module's only table from issuer identification numbers to
// card brands (Visa, Mastercard, Mir, Amex, UnionPay, JCB, Discover, Diners).
// Rules match on it, and the hosted payment page uses it to decide which
// cards it accepts; nothing else keeps a copy.
//
// # Follow-ups
//
// Completions, reversals and refunds go to the bank that authorized the
// original, whatever the rules say now: FollowUp never names another bank.
// When that bank is not ready it still names it, with ErrBankDown, so that the
// caller queues the message for store-and-forward instead of dropping it.
//
// # What it must never do
//
// The package is pure logic. It does no I/O, opens no socket or file, keeps no
// clock, logs nothing and imports nothing of ours (a test enforces its
// imports). It never puts card numbers or BINs into errors or reasons. A
// Router is immutable after New and safe for concurrent use; a decision does
// not allocate while every bank of the matching rule is ready.
package routing
