package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// Reply is what a merchant-facing caller (the API) gives a flow so that its
// request and answer are journaled with the change they report, rather
// than in commits of their own: a merchant hears only what is on disk, and
// a payment through the API waits for two fsyncs fewer.
type Reply struct {
	// Request is the merchant's request as the journal keeps it (no card
	// data, no credentials). The flow's first commit carries it.
	Request []byte
	// Answer, when set, builds the caller's answer from the order as the
	// flow's final change leaves it (and the 3-D Secure challenge the buyer
	// must pass, when that is how a payment ended); the final commit carries
	// it. Only flows that report their outcome in the order take one
	// (Register, Pay, Complete). It runs inside the flow and must not call
	// the Service.
	Answer func(o *order.Order, challenge *threeds.Outcome) []byte
	// Receipt, when set with Answer, keeps the answer as the idempotency
	// receipt of (Receipt.Merchant, Receipt.Key) in the same commit: a
	// merchant who heard the answer can always have it again.
	Receipt *ReceiptKey
}

// Result is how a flow ended for its caller.
type Result struct {
	Order *order.Order
	// Op is the operation the request made or, on a replay, made before.
	Op *order.Operation
	// Challenge is the 3-D Secure challenge the buyer must pass, when a
	// payment ended there.
	Challenge *threeds.Outcome
	// Replay is set when the request repeats one already decided: Order
	// and Op are as recorded, and nothing was sent or changed.
	Replay bool
	// RequestJournaled is set when a commit of the flow carried
	// Reply.Request; Answered when the final one carried the answer too.
	// Otherwise the caller journals what is missing (RecordAPI).
	RequestJournaled, Answered bool
}

// reply is a flow's Reply on its way through the flow's commits.
type reply struct {
	Reply
	challenge *threeds.Outcome
	answer    []byte
	requested bool
	answered  bool
}

func newReply(r Reply) *reply { return &reply{Reply: r} }

// requestEntry is the caller's request, for the flow's first commit.
func (r *reply) requestEntry(o *order.Order) []journal.Entry {
	if r == nil || r.requested || r.Request == nil {
		return nil
	}
	return []journal.Entry{{Direction: journal.In, Channel: order.ChannelAPI, OrderID: o.ID, Payload: r.Request}}
}

// answerEntry is the caller's answer built from o, for the flow's final
// commit.
func (r *reply) answerEntry(o *order.Order) []journal.Entry {
	if r == nil || r.Answer == nil {
		return nil
	}
	r.answer = r.Answer(o, r.challenge)
	return []journal.Entry{{Direction: journal.Out, Channel: order.ChannelAPI, OrderID: o.ID, Payload: r.answer}}
}

// store writes the receipt of a final commit's answer in its transaction.
func (r *reply) store(tx *bolt.Tx, o *order.Order, now time.Time) error {
	if r == nil || r.Receipt == nil || r.answer == nil {
		return nil
	}
	return putReceipt(tx, r.Receipt, Receipt{RequestHash: r.Receipt.RequestHash, Answer: r.answer, OrderID: o.ID, Created: now.UTC()})
}

// committed records that a commit carrying entries(o, final) succeeded.
func (r *reply) committed(final bool) {
	if r == nil {
		return
	}
	r.requested = r.requested || r.Request != nil
	if final && r.Answer != nil {
		r.answered = true
	}
}

// result is the Result of a flow that ends with o and op.
func (r *reply) result(o *order.Order, op *order.Operation) *Result {
	res := &Result{Order: o, Op: op}
	if r != nil {
		res.Challenge = r.challenge
		res.RequestJournaled, res.Answered = r.requested, r.answered
	}
	return res
}

// replay is the Result of a request that repeats a decided one.
func (r *reply) replay(o *order.Order, op *order.Operation) *Result {
	res := r.result(o, op)
	res.Replay = true
	return res
}

// RecordAPI journals a merchant request and the answer given when no order
// change carried them: a request refused before it reached a flow, a
// status query, a replay. request is nil when a commit already carried it.
// The API calls it before it writes the answer, so a merchant hears only
// what is on disk. Payloads must already be free of card data and
// credentials.
func (s *Service) RecordAPI(ctx context.Context, orderID string, request, answer []byte) error {
	var es []journal.Entry
	if request != nil {
		es = append(es, journal.Entry{Direction: journal.In, Channel: order.ChannelAPI, OrderID: orderID, Payload: request})
	}
	es = append(es, journal.Entry{Direction: journal.Out, Channel: order.ChannelAPI, OrderID: orderID, Payload: answer})
	if _, err := s.d.Journal.Append(detach(ctx), es...); err != nil {
		return fmt.Errorf("payments: journal API answer: %w", storageErr(err))
	}
	return nil
}

// ReceiptKey names an idempotency receipt: a merchant's key, and the hash
// of the request that used it.
type ReceiptKey struct {
	Merchant, Key string
	RequestHash   []byte
}

// Receipt is what an idempotency key keeps: the request's hash and the
// answer given, as the caller journaled it (its status, if it has one, is
// inside). The core does not read it.
type Receipt struct {
	RequestHash []byte    `json:"request_hash"`
	Answer      []byte    `json:"answer"`
	OrderID     string    `json:"order_id,omitempty"`
	Created     time.Time `json:"created"`
}

// bucketReceipts holds idempotency receipts: merchant \x00 key → Receipt.
// They share the order store's file so that an answer's receipt and its
// journal entry commit together.
var bucketReceipts = []byte("api_idempotency")

func receiptKey(merchant, key string) []byte { return []byte(merchant + "\x00" + key) }

func putReceipt(tx *bolt.Tx, k *ReceiptKey, rec Receipt) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("payments: idempotency receipt: %w", err)
	}
	b, err := tx.CreateBucketIfNotExists(bucketReceipts)
	if err != nil {
		return err
	}
	return b.Put(receiptKey(k.Merchant, k.Key), v)
}

// Receipt returns the receipt kept for (merchant, key), or nil. Keeping two
// requests with one key from running at once is the caller's job (an
// in-memory set suffices: bbolt's file lock lets one process in).
func (s *Service) Receipt(merchant, key string) (*Receipt, error) {
	var rec *Receipt
	err := s.store.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReceipts)
		if b == nil {
			return nil
		}
		v := b.Get(receiptKey(merchant, key))
		if v == nil {
			return nil
		}
		rec = &Receipt{}
		return json.Unmarshal(v, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("payments: idempotency receipt: %w", err)
	}
	return rec, nil
}

// Record is what keeps an answer: its journal entries and a write in the
// same transaction. A service whose change is not the payment core's (a
// payment link's creation) commits it with that change, so that the
// change and its idempotency receipt are on disk together or not at all.
type Record struct {
	Entries []journal.Entry
	Put     func(tx *bolt.Tx) error
}

// ReceiptRecord is the Record of an answer kept as the receipt of k, with
// the request and answer's journal entries (request nil when a commit
// already carried it).
func (s *Service) ReceiptRecord(k ReceiptKey, orderID string, request, answer []byte) Record {
	rec := Receipt{RequestHash: k.RequestHash, Answer: answer, OrderID: orderID, Created: s.d.Now().UTC()}
	var es []journal.Entry
	if request != nil {
		es = append(es, journal.Entry{Direction: journal.In, Channel: order.ChannelAPI, OrderID: orderID, Payload: request})
	}
	es = append(es, journal.Entry{Direction: journal.Out, Channel: order.ChannelAPI, OrderID: orderID, Payload: answer})
	return Record{Entries: es, Put: func(tx *bolt.Tx) error { return putReceipt(tx, &k, rec) }}
}

// RecordReceipt keeps an answer as the receipt of k, with the request and
// answer's journal entries, in one commit (request nil when a commit
// already carried it).
func (s *Service) RecordReceipt(ctx context.Context, k ReceiptKey, orderID string, request, answer []byte) error {
	r := s.ReceiptRecord(k, orderID, request, answer)
	_, err := s.d.Journal.AppendTx(detach(ctx), r.Entries, func(tx *bolt.Tx, _ []uint64) error { return r.Put(tx) })
	if err != nil {
		return fmt.Errorf("payments: idempotency receipt: %w", storageErr(err))
	}
	return nil
}
