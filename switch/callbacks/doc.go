// Package callbacks tells merchants' servers what happened to their orders:
// the RBS gateway's callback notifications, which merchants' shop plugins
// already understand, sent through the store-and-forward queue until the
// merchant answers HTTP 200.
//
// It owns the decision of which order changes are callback events, the
// callback's parameters and checksum, the callback queues' items (SAF items
// of Kind "callback", one FIFO per merchant, keyed QueueKey(merchant)), and
// the callbacks.sent bucket that keeps an event from being queued twice. It
// must never put card data in a callback (RBS callbacks carry none, and the
// queue keeps items on disk for days) and never send a callback for a change
// that did not commit.
//
// # Events
//
//	operation          status  amount  sent when the order's latest operation is
//	approved           1       yes     authorization approved (two-stage hold)
//	deposited          1       yes     purchase approved, or completion queued or approved
//	reversed           1       yes     reversal approved, or queued for store-and-forward
//	refunded           1       yes     refund approved (each partial refund)
//	declined           0       no      authorization or purchase declined or timed out
//	                                   (shown by the auto_reversal that follows), 3-D
//	                                   Secure declined; only when the order is declined
//	declinedByTimeout  0       no      expire: the order's lifetime ended unpaid
//
// Each event goes once per operation (a completion is committed queued and
// again approved: one deposited) and a decline once per order. Failed
// follow-ups (a reversal or refund the bank declined) change nothing for the
// merchant beyond the API's answer and send nothing.
//
// # Parameters and checksum
//
// A callback is a GET to the merchant's URL with the parameters in the
// query, or a POST with them as a form, as the merchant's config says. An
// order registered with its own callback address (order.Order.CallbackURL,
// RBS dynamicCallbackUrl) has its callbacks sent there instead, with the
// merchant's method and secret; a merchant with no callback configured
// gets none, whatever its orders say. The parameters:
//
//	mdOrder      the switch's order id
//	orderNumber  the merchant's order number
//	operation    one of the events above
//	status       1 success, 0 failure
//	amount       minor units of this operation (approved, deposited, reversed, refunded)
//	checksum     upper-case hex HMAC-SHA256, see below
//
// The checksum is HMAC-SHA256, keyed with the secret the merchant shares
// with the switch, over every other parameter sorted by name, each written
// as "name;value;". For the secret "tulpar-test-secret" and
//
//	mdOrder=0190f3a2-7b1c-7d2e-9f00-4a5b6c7d8e9f orderNumber=A-1001
//	operation=deposited status=1 amount=150000
//
// the signed text is
//
//	amount;150000;mdOrder;0190f3a2-7b1c-7d2e-9f00-4a5b6c7d8e9f;operation;deposited;orderNumber;A-1001;status;1;
//
// and the checksum
//
//	599CF51DF8953CCAB28A7B618CE9CDC45EF74ACBB5ED6AE48EB242D374127611
//
// which a merchant can reproduce with
//
//	printf '%s' 'amount;150000;...;status;1;' | openssl dgst -sha256 -hmac 'tulpar-test-secret'
//
// (and upper-case the hex). Verify is that check in Go. A merchant should
// take any parameter it does not know into the sorted text too: the
// gateway may add parameters, and the checksum covers them all.
//
// # Delivery
//
// At least once, never in doubt: InTx queues the callback in the bbolt
// transaction that commits the order change (payments.Deps.InTx), so a
// committed change always has its callback and a rolled-back one never
// does. The SAF queue then calls Deliver, which answers Delivered only on
// a 200; anything else is retried with the queue's backoff, across
// restarts, until the queue's MaxAttempts moves it to the dead letters.
// Each merchant has its own queue, so a slow or dead merchant delays only
// its own callbacks. Within a merchant, callbacks go in commit order.
//
// # The Processing.kz return URL call
//
// A Processing.kz merchant (switch/cnp) is owed the gateway's "automatic
// call": as soon as the bank has answered a payment, the switch requests
// the transaction's returnURL itself, as if the buyer had pressed "return
// to the shop" (guide 1.18, 2.1.1). Config.ReturnCalls, filled by the
// daemon from the cnp section, turns it on per merchant. It rides the same
// queue as the merchant's callbacks (a merchant may have both; each is
// queued once per event), with the same parameters and checksum, added
// after the return URL's own query, which is left byte for byte as the
// shop wrote it. Only the payment's outcome is called (approved, deposited
// by a purchase, declined, declinedByTimeout), never a follow-up the shop
// asked for; any 2xx or 3xx is delivered (a return page redirects the
// browser on); redirects are not followed; with PublicOnly the call never
// dials a loopback, private, link-local or otherwise non-public address,
// checked on the address actually dialled.
//
// # Wiring (switch/daemon)
//
//	n, err := callbacks.New(cfg.Callbacks, log, reg, httpClient)
//	q, err := saf.New(db, cfg.SAF, router, log, reg) // router: Kind "callback" to n.Deliver,
//	                                                  // the advice kinds to payments' Deliver
//	n.Bind(q)
//	svc, err := payments.New(cfg.Payments, payments.Deps{..., SAF: q, InTx: n.InTx})
//	q.Start(ctx)
//
// Nothing else: InTx wakes the merchant's queue itself through tx.OnCommit,
// which runs after the commit, so Deps.OnChange stays free for others.
package callbacks
