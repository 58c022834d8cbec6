package receipt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/saf"
)

// BuyerMail e-mails each receipt to the buyer, for merchants whose
// config asks for it (email_buyer) and orders with the buyer's e-mail:
// queued in the order change's own transaction (so a receipt is mailed
// if and only if its operation committed), once per operation, and sent
// by store-and-forward with its retries; every send is journaled.
type BuyerMail struct {
	h      *Handler
	queue  *saf.Queue
	mail   *mailer.Mailer
	record Recorder
	log    zerolog.Logger
}

// Recorder journals a send (sent true) or its outcome.
type Recorder func(ctx context.Context, orderID string, sent bool, payload []byte) error

// MailQueueKey is the store-and-forward queue of merchant's buyer mail.
func MailQueueKey(merchant string) string { return "receipt:" + merchant }

// bucketMailed records the receipts queued for mail (order id, operation
// id), so that a later change of the same order does not queue one again.
var bucketMailed = []byte("receipts.mailed")

// NewBuyerMail builds the mailer of h's receipts.
func NewBuyerMail(h *Handler, q *saf.Queue, m *mailer.Mailer, record Recorder, log zerolog.Logger) *BuyerMail {
	return &BuyerMail{h: h, queue: q, mail: m, record: record, log: log}
}

type mailJob struct {
	OrderID string `json:"order_id"`
	OpID    string `json:"op_id"`
}

// InTx is a payments.Deps.InTx hook: it queues the receipt of op when op
// is one, approved, and the buyer is to get it. It only touches tx.
func (b *BuyerMail) InTx(tx *bolt.Tx, o *order.Order, op *order.Operation) error {
	if o == nil || op == nil || o.Email == "" || !Receipted(op) || !b.h.cfg.Merchants[o.Merchant].EmailBuyer {
		return nil
	}
	mailed, err := tx.CreateBucketIfNotExists(bucketMailed)
	if err != nil {
		return fmt.Errorf("receipts: order %s: %w", o.ID, err)
	}
	key := []byte(o.ID + "\x00" + op.ID)
	if mailed.Get(key) != nil {
		return nil
	}
	payload, _ := json.Marshal(mailJob{OrderID: o.ID, OpID: op.ID})
	if _, err := b.queue.EnqueueTx(tx, saf.Item{Queue: MailQueueKey(o.Merchant), OrderID: o.ID, Kind: order.KindReceiptMail, Payload: payload}); err != nil {
		return fmt.Errorf("receipts: order %s: queue: %w", o.ID, err)
	}
	return mailed.Put(key, []byte{1})
}

// Deliver sends one queued receipt: the page's link, the summary in the
// order's language, the PDF attached.
func (b *BuyerMail) Deliver(ctx context.Context, it saf.Item, repeat bool) (saf.Outcome, error) {
	var j mailJob
	if err := json.Unmarshal(it.Payload, &j); err != nil || j.OrderID == "" {
		return saf.Rejected, fmt.Errorf("receipts: item %d: undecodable payload", it.ID)
	}
	o, err := b.h.orders.Get(j.OrderID)
	if err != nil {
		return saf.Retry, fmt.Errorf("receipts: order %s: %w", j.OrderID, err)
	}
	op := o.Op(j.OpID)
	if op == nil || !Receipted(op) {
		return saf.Rejected, fmt.Errorf("receipts: order %s: operation %s has no receipt", o.ID, j.OpID)
	}
	v := b.h.view(o, op, j.OpID, o.Language)
	var pdf bytes.Buffer
	if err := WritePDF(&pdf, v); err != nil {
		return saf.Retry, err
	}
	subject := fmt.Sprintf("%s · %s · %s", title(v), v.Shop.Name, v.Number)
	var body strings.Builder
	fmt.Fprintf(&body, "%s\n\n%s: %s\n%s: %s\n%s: %s\n%s: %s\n\n%s\n%s\n\n%s\n", title(v),
		v.T.Merchant, v.Shop.Name, v.T.Order, v.Number, v.T.OpType, v.OpType, v.T.Amount, v.Amount,
		v.T.QR+":", v.URL, v.T.Footer)
	msg := mailer.Message{To: []string{o.Email}, Subject: subject, Text: body.String(),
		Attachments: []mailer.Attachment{{Name: "receipt-" + safeName(o.Number) + ".pdf", ContentType: "application/pdf", Data: pdf.Bytes()}}}
	out, _ := json.Marshal(map[string]any{"kind": "receipt", "op_id": op.ID, "to": msg.To, "subject": subject, "repeat": repeat})
	if err := b.record(ctx, o.ID, true, out); err != nil {
		return saf.Retry, fmt.Errorf("receipts: journal: %w", err)
	}
	sendErr := b.mail.Send(ctx, msg)
	result := map[string]any{"kind": "receipt", "op_id": op.ID, "outcome": "sent"}
	outcome := saf.Delivered
	if sendErr != nil {
		outcome, result["outcome"], result["error"] = saf.Retry, "failed", sendErr.Error()
	}
	in, _ := json.Marshal(result)
	if err := b.record(ctx, o.ID, false, in); err != nil && outcome == saf.Delivered {
		outcome, sendErr = saf.Retry, fmt.Errorf("receipts: journal: %w", err) // mail is at least once
	}
	log := b.log.With().Str("order", o.ID).Str("op", op.ID).Int("attempt", it.Attempts).Logger()
	if sendErr != nil {
		log.Warn().Err(sendErr).Msg("receipt not mailed; the queue retries")
		return outcome, sendErr
	}
	log.Info().Msg("receipt mailed to the buyer")
	return outcome, nil
}
