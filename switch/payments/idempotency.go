package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tulpar-switch/tulpar/switch/order"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// This file holds what the merchant web service needs of the core beyond
// the payment flows: journaling its answers, declining an unpaid order, and
// durable idempotency records for the JSON API's Idempotency-Key.

// JournalAPI journals one merchant API message that no order change carries
// (an answer, or a request that changed nothing). The API calls it before
// it writes the HTTP answer, so a merchant hears only what is on disk.
// payload must already be free of card data and credentials.
func (s *Service) JournalAPI(ctx context.Context, orderID string, dir journal.Direction, payload []byte) error {
	return s.JournalAPIEntries(ctx, journal.Entry{Direction: dir, Channel: order.ChannelAPI, OrderID: orderID, Payload: payload})
}

// JournalAPIEntries journals several API entries in one commit (a status
// query's request and answer share one fsync).
func (s *Service) JournalAPIEntries(ctx context.Context, entries ...journal.Entry) error {
	if _, err := s.d.Journal.Append(ctx, entries...); err != nil {
		return fmt.Errorf("payments: journal API entry: %w", err)
	}
	return nil
}

// Decline closes an unpaid order at the merchant's request: it can no
// longer be paid. A lapsed order is expired first (and then refused, as
// already declined), so the record says which of the two ended it.
func (s *Service) Decline(ctx context.Context, orderID string, entries []journal.Entry) (*order.Order, error) {
	ctx = detach(ctx)
	unlock := s.locks.lock(orderID)
	// unlock is reassigned below: defer the variable, not its first value.
	defer func() { unlock() }()
	o, err := s.store.Get(orderID)
	if err != nil {
		return nil, err
	}
	now := s.d.Now()
	if order.Expired(o, now) {
		unlock()
		o, err = s.expire(ctx, orderID)
		unlock = s.locks.lock(orderID)
		if err != nil {
			return nil, err
		}
	}
	if err := order.CheckDecline(o); err != nil {
		return o, err
	}
	n := o.Clone()
	n.Status, n.DeclineReason, n.ActionCode = order.StatusDeclined, "merchant_declined", order.ActionMerchantDeclined
	if op := n.LastOp(order.OpThreeDS); op != nil && op.Status == order.OpPending {
		op.Status = order.OpDeclined
	}
	n.Ops = append(n.Ops, order.Operation{ID: newOpID(), Type: order.OpDecline, Status: order.OpApproved, Amount: n.Amount, Time: now.UTC(), ActionCode: order.ActionMerchantDeclined})
	s.forgetCVV(orderID)
	if err := s.commit(ctx, n, o.Version, entries, nil); err != nil {
		return nil, err
	}
	return n, nil
}

// Idempotency records: (merchant, key) → the request's hash and the answer
// given. They share the order store's file so that an answer's record and
// its journal entry commit together.
var bucketIdem = []byte("api_idempotency")

// IdemRecord is the answer stored for an idempotency key.
type IdemRecord struct {
	RequestHash []byte    `json:"request_hash"`
	Status      int       `json:"status"`
	Body        []byte    `json:"body"`
	OrderID     string    `json:"order_id,omitempty"`
	Created     time.Time `json:"created"`
}

func idemKey(merchant, key string) []byte { return []byte(merchant + "\x00" + key) }

// IdempotencyLookup returns the answer stored for (merchant, key), or nil.
// Keeping two requests with one key from running at once is the caller's
// job (an in-memory set suffices: bbolt's file lock lets one process in).
func (s *Service) IdempotencyLookup(merchant, key string) (*IdemRecord, error) {
	var rec *IdemRecord
	err := s.store.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIdem)
		if b == nil {
			return nil
		}
		v := b.Get(idemKey(merchant, key))
		if v == nil {
			return nil
		}
		rec = &IdemRecord{}
		return json.Unmarshal(v, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("payments: idempotency record: %w", err)
	}
	return rec, nil
}

// IdempotencyFinish stores the answer given for (merchant, key) together
// with the answer's journal entries, in one commit: a merchant who heard
// the answer can always have it again.
func (s *Service) IdempotencyFinish(ctx context.Context, merchant, key string, rec IdemRecord, entries ...journal.Entry) error {
	if rec.Created.IsZero() {
		rec.Created = s.d.Now().UTC()
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("payments: idempotency record: %w", err)
	}
	k := idemKey(merchant, key)
	_, err = s.d.Journal.AppendTx(ctx, entries, func(tx *bolt.Tx, _ []uint64) error {
		b, err := tx.CreateBucketIfNotExists(bucketIdem)
		if err != nil {
			return err
		}
		return b.Put(k, v)
	})
	if err != nil {
		return fmt.Errorf("payments: idempotency record: %w", err)
	}
	return nil
}

// WithIdempotentAnswer is WithAnswer that also stores the answer as the
// idempotency record of (merchant, key), in the same commit as the change
// it reports: a merchant whose request created an order can always have
// the same answer again, even if the process died right after the commit.
func (s *Service) WithIdempotentAnswer(ctx context.Context, merchant, key string,
	build func(o *order.Order, challenge *threeds.Outcome) (IdemRecord, []journal.Entry)) (context.Context, func() (answered bool)) {
	var slot *answerSlot
	ctx, answered := WithAnswer(ctx, func(o *order.Order, ch *threeds.Outcome) []journal.Entry {
		rec, entries := build(o, ch)
		if rec.Created.IsZero() {
			rec.Created = s.d.Now().UTC()
		}
		v, err := json.Marshal(rec)
		k := idemKey(merchant, key)
		slot.store = func(tx *bolt.Tx) error {
			if err != nil {
				return fmt.Errorf("payments: idempotency record: %w", err)
			}
			b, err := tx.CreateBucketIfNotExists(bucketIdem)
			if err != nil {
				return err
			}
			return b.Put(k, v)
		}
		return entries
	})
	slot = pendingAnswer(ctx)
	return ctx, answered
}
