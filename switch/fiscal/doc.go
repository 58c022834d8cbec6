// Package fiscal issues the fiscal receipts Kazakh law requires for every
// sale and return: each approved one-stage payment, completion and refund
// of a merchant that has fiscalization configured (and each
// pre-authorization, when the merchant asks for that) becomes exactly one
// receipt at the merchant's fiscal service, whose fiscal sign, link and QR
// text are then kept with the order.
//
// It owns the decision of which order changes are fiscal operations, the
// receipt's content (goods from the order's cart or description, amounts in
// tenge with decimals), the fiscal queues' items (SAF items of Kind
// order.KindFiscal, one FIFO per merchant, keyed QueueKey(merchant)), the
// fiscal.queued bucket that keeps an operation from being queued twice, and
// the client of the fiscal service (Nurkassa). It must never put card data
// in a receipt (a fiscal receipt names no card) nor a credential in the
// queue, the journal or a log, and never queue a receipt for a change that
// did not commit.
//
// # What is fiscalized
//
//	operation                       receipt  amount
//	purchase approved               sale     the purchase's
//	completion queued or approved   sale     the completion's
//	refund approved                 return   the refund's (each partial refund)
//
// and, for a merchant with fiscalize_preauth, the sale moves to the hold:
//
//	authorization approved          sale     the hold's
//	completion for less than held   return   what is not captured
//	reversal queued or approved     return   what is released
//
// Whether the hold of an order was sold is read from fiscal.queued, not
// from the merchant's current setting, so switching fiscalize_preauth on
// or off never sells an order twice or not at all. Card registrations
// (verification holds, always released) and orders in a currency other
// than tenge (398) are never fiscalized.
//
// # Delivery: exactly one receipt per operation
//
// InTx queues the receipt in the bbolt transaction that commits the order
// change (payments.Deps.InTx), so a committed operation always has its
// receipt job and a rolled-back one never does. The SAF queue then calls
// Deliver, at least once, across restarts. What makes "at least once"
// into "exactly one receipt" is the external id: ExternalID(order,
// operation index) names the receipt at the fiscal service, every attempt
// sends the same one, and an attempt after one whose outcome is unknown (a
// timeout, a 500, a crash) first looks the receipt up by it and sends only
// when the service has none. The service, too, refuses a second receipt
// with an external id it knows and answers with the first.
//
// A receipt issued is recorded with the order (Deps.Save, the payments
// service's RecordFiscal: an order change, journaled), and only then is
// the job done. A job that fails Config.MaxAttempts times, or that the
// service refuses outright (a 4xx other than 401), goes to the SAF dead
// letters with a warning; operators list them (the daemon's /admin/saf and
// /admin/fiscal/dead) and retry them once the cause is fixed.
//
// # The fiscal service
//
// Nurkassa is a client of the Nurkassa cash-register API as far as its
// public PHP SDK (zmbakh/nurkassa-php-sdk) shows it: token login with the
// cash register owner's login (phone number) and password at
// POST api/v1/login ({"data":{"api_token":...}}), then every call with
// "Authorization: Bearer <token>" and the cash register in the "Pos-Id"
// header; a sale or return is POST api/v2/sale with its status, goods and
// payment. The SDK shows neither the JSON fields inside goods and payment,
// nor an external id, nor a lookup by it: those are this package's design
// (documented at Nurkassa), which the simulator (fiscalsim) answers. Check
// them against the service's current documentation before going live.
package fiscal
