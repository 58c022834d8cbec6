// Package saf is Tulpar's store-and-forward queue: the messages the switch
// owes a bank and must deliver even if the bank is down for hours and the
// switch restarts meanwhile. The payments core queues 0420 reversals (a bank
// that never answered an authorization must hear that it is cancelled) and
// 0220 completion advices here.
//
// It owns the saf.* buckets of a bbolt file the caller opens, one FIFO per
// bank, the workers that drain them through a caller's Deliverer, the
// backoff, and the dead letters. It imports nothing of Tulpar's and never
// interprets an item's payload: the caller builds the ISO message from it
// (and chooses the repeat MTI when told to). Payloads must already be
// protected: an item can sit on disk for days, so it never holds clear card
// data.
//
// # Delivery
//
// Each bank with items has one worker. It takes the bank's head and the
// due items behind it (up to Config.Batch), counts their attempts on disk,
// calls Deliver for each in turn, and records the outcomes in the same write
// transaction that takes the next batch: one commit for a batch, not one for
// every item, which is what lets the queue keep up with a busy switch. That
// transaction is Config.Update's: the switch runs it in the journal writer's
// next round, beside the payments' entries, so the queue adds no commit of
// its own. An
// item to be retried ends its batch; the items claimed behind it are not
// tried and get their attempt back when the outcomes are recorded.
// Outcomes:
//
//   - Delivered: the head is removed; the next item goes.
//   - Retry: the head stays; it is tried again after a backoff that doubles
//     from Config.RetryMin to Config.RetryMax, with jitter. Kick(bank) cuts
//     the wait short when the bank's link comes back.
//   - Rejected, or Config.MaxAttempts attempts without success: the head
//     moves to the dead letters, so one poisoned item blocks its bank for a
//     bounded time and never for ever. Operators list dead letters and Retry
//     them, which puts them at the tail of their bank's queue.
//   - Unavailable: nothing was sent, the destination takes nothing now (the
//     bank's link is down). No attempt is counted and the item keeps its
//     place; the whole queue waits, a backoff of its own or until Kick, so
//     an outage neither spends the items' attempts nor sends every item to
//     find the door closed.
//
// Order holds within a bank: an item is attempted only when every item queued
// before it for the same bank was delivered or became a dead letter; with
// Config.PerOrder (the switch's setting), within an order: a completion
// before its reversal, while different orders' items go at once, and an
// item waiting out its backoff holds only its own order's items behind it,
// so one order the bank keeps refusing does not hold the others for the
// hour its attempts take. When two orders have failed and nothing has gone
// through since, the trouble is taken for the destination's: the queue
// waits at its first item not due, as without PerOrder, so an outage the
// Deliverer cannot tell (Unavailable) spends the attempts of one item at a
// time, not of every order's. Banks never wait for each other.
//
// # At least once
//
// An item leaves the queue only in the transaction that records the bank's
// valid reply. If the process dies after the bank answered and before that
// commit, the item is sent again after restart. Because the attempt was
// counted before it was sent, that send is marked repeat=true (so is the
// first send of an item claimed with an interrupted batch but never tried:
// a repeat of an advice the bank never saw is answered as the advice), so the
// caller sends 0421/0221, and the bank answers a repeat it has already seen
// with its original answer; the payments core must treat a second reply to
// the same advice as harmless. Nothing is ever delivered zero times unless an
// operator leaves it in the dead letters.
//
// # Queuing atomically with the order
//
// EnqueueTx writes in the caller's bbolt transaction, so "order declined" and
// "reversal queued" commit together or not at all; the worker is woken by
// tx.OnCommit. Enqueue does the same in a transaction of its own.
//
// # Shutdown
//
// Close stops new attempts, waits for the ones in flight and records their
// outcomes; the caller then closes the bbolt file. Items still queued go out
// when a Queue on the same file is started again: Start resumes every bank
// with pending items.
//
// # On-disk format (version 1)
//
//	"saf.meta"     "version": 1 byte, 0x01; the bucket's sequence numbers
//	               both item IDs and queue positions
//	"saf.pending"  one sub-bucket per queue, named by the bank;
//	               key: position, 8 bytes big-endian (FIFO order)
//	               value: the item
//	"saf.dead"     key: item ID, 8 bytes big-endian; value: the item
//	"saf.corrupt"  pending values that failed to decode, moved aside so
//	               their bank's queue goes on; key: bank, 0x00, position
//
// The item encoding is described at encodeItem.
package saf
