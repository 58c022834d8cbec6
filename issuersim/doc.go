// Package issuersim is a partner-bank host simulator that speaks ISO 8583
// over TCP: the bank on the other end of the wire for the switch's tests,
// its demo and every load benchmark. It keeps balances and holds, declines
// for real reasons, answers slowly or not at all when told to, and writes
// the settlement file a bank sends for reconciliation.
//
// A [Bank] is one simulated host. Several can run in one process (the demo
// runs two). Each listens for the switch or dials it, in one dialect from
// package specs, over moov-io/iso8583-connection; each connection carries
// many requests in flight, answered in their own goroutines.
//
// # What it must never do
//
//   - import anything under switch/: it stands in for a bank, and must not
//     share the switch's assumptions;
//   - log a message other than through iso.Describe or the iso.Message
//     zerolog marshaller (PAN masked, CVV2 and CAVV dropped), or put a PAN
//     in an error;
//   - keep a CVV2: the card book holds a keyed hash ([CVVChecker]).
//
// # How a message finds its original
//
// Completions (0220/0221, or an 0200 whose DE90 names an 0100), reversals
// (0400/0420/0421) and refunds (0200 with processing code 20xxxx) name the
// message they refer to in DE90: original MTI, original DE11 and original
// DE7, and they carry the same DE41 as the original. DE90's acquirer and
// forwarder ids are not compared. A repeat is the message it repeats
// (DE90 naming 0220 finds an original that arrived as 0221).
//
// Without DE90, the bank looks for the original by DE37 + DE41: the
// message carries the original's RRN (as iso.ReversalOf and
// iso.CompletionOf do) and the latest record of the right kind with that
// RRN on that terminal is taken. DE90 is the reference the switch should
// send; the RRN fallback is for hosts' habits, not a contract.
//
// When DE2 is present it must be the original's PAN, or the original is
// "not found".
//
// # Decisions, in order
//
//	format: DE2, DE3 (6 digits), DE4, DE11, DE41 required; bad DE14/DE49 → 30
//	DE32 other than Config.AcquirerID                             → 03
//	signed off (or RequireSignOn and not signed on)               → 91
//	duplicate: same MTI class, DE11, DE41, DE32 and DE37 → the stored answer,
//	  re-sent, never re-applied; same key, other PAN/DE3/DE4/DE90 → 94
//	knob rule with response_code (a decline)                      → that code, nothing applied
//	  and nothing remembered: a retransmission is decided afresh
//	card unknown                                                  → 14
//	for 0100 and 0200 purchases only:
//	  stored credential marked inconsistently (credentials.go): a stored
//	    card's later use without the dialect's credential-on-file DE22,
//	    that DE22 without the indicator, an initial storage with it, a
//	    merchant-initiated use with a CVV2                        → 30
//	  card state lost 41, stolen 43, expired 54, not_permitted 57,
//	    restricted 62, do_not_honour 05
//	  card past its expiry month, or DE14 ≠ card expiry           → 54
//	  CVV2 present and wrong                          → N7 (Visa), 82 (others)
//	  DE49 ≠ card currency                                        → 57
//	  DE4 > available (0200: DE4 = 0 → 13; 0100 with 0 verifies)  → 51
//	  knob rule with approve_amount N (checked against available instead of DE4):
//	    response_code 10 and N < DE4 → 10, N held or captured, DE4 = N,
//	      DE54 = the amount asked for; N ≥ DE4 → answered as without it
//	    response_code 00 and N ≠ DE4 → 00, N held or captured, DE4 = N
//	completion: unknown auth 25; auth reversed or completed 12;
//	  DE4 = 0 or > open hold 13
//	refund: unknown capture 25; DE4 = 0 → 13; more than captured minus
//	  refunded → 78 (nothing applied; a refund is never capped silently)
//	reversal: unknown original → 25 for 0400, 00 with nothing applied for
//	  0420/0421 (an advice cannot be refused, and the books already are as
//	  it asks, so the acquirer's SAF queue drains); DE95 > the original's
//	  amount as approved 13; a completed auth (reverse the completion
//	  instead) or a refunded capture (reverse the refunds first) 12
//
// Reversal is a target state: DE95's actual amount (0 without DE95) is what
// stays with the cardholder's bank, so a second reversal of the same
// original changes nothing and is answered 00 again.
//
// An original approved for another amount than asked (approve_amount) is,
// for what follows, the amount approved: a completion above it is 13, a
// reversal releases or credits it, refunds add up to at most it.
//
// Approval codes are six upper-case alphanumerics. Answers echo what
// iso.Respond echoes; completions and reversals echo the request's DE38.
//
// # Knobs
//
// [Knobs] add latency (fixed plus uniform jitter, so answers come back out
// of order) and rules matched on PAN, amount suffix and MTI, first match
// wins: respond (optionally with a forced decline code, or with an
// approval of another amount: approve_amount with response_code 10 for a
// partial approval, 00 for a bank that approves another amount than asked
// and says nothing of it), no_reply (applied, answer withheld: the switch
// must time out and reverse), late (applied, answered after a delay),
// close (connection closed, nothing applied). Omit drops data elements
// from every answer, as a host that does not echo them ([32]: no DE32).
//
// A partial approval's DE54 is one ISO 8583:1987 additional amount, 20
// characters: account type "00", amount type "57" (original amount),
// currency (3 digits), sign "D", the amount asked for (12 digits):
// "0057398D000001000000" for 10 000.00 KZT.
package issuersim
