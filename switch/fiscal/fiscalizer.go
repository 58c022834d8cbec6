package fiscal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/saf"
)

// Connector is a merchant's account at a fiscal service, as the
// Fiscalizer uses it. Nurkassa is the one implementation; tests and other
// services provide their own.
type Connector interface {
	// Issue asks for the receipt. An error wrapping ErrRefused means the
	// service answered and will not issue it as sent; any other error
	// leaves the outcome unknown (it may have been issued).
	Issue(ctx context.Context, r Receipt) (Issued, error)
	// Find looks a receipt up by its external id; false when the service
	// has none.
	Find(ctx context.Context, externalID string) (Issued, bool, error)
}

// Enqueuer is what the Fiscalizer needs of the store-and-forward queue;
// saf.Queue satisfies it.
type Enqueuer interface {
	EnqueueTx(tx *bolt.Tx, it saf.Item) (uint64, error)
	Notify(key string)
}

// Errors a caller may test for.
var (
	// ErrRefused is wrapped by a Connector when the service refused the
	// receipt in a way a repeat cannot change (a validation error, an
	// unknown cash register, a password it does not take): the job goes
	// to the dead letters at once.
	ErrRefused = errors.New("fiscal: refused by the fiscal service")
)

// bucketQueued records every receipt job ever queued, so that an
// operation is queued once however many commits show it (a completion is
// committed queued, then approved; recording a receipt is itself a
// commit). Key: the receipt's external id. Value: the SAF item id, 8 bytes
// big-endian. It lives in the bbolt file the order store shares.
var bucketQueued = []byte("fiscal.queued")

// payload is a queued receipt job. No credential is in it: the merchant's
// account is read from the config at each attempt.
type payload struct {
	Merchant string  `json:"merchant"`
	OrderID  string  `json:"order"`
	OpID     string  `json:"op"`
	Receipt  Receipt `json:"receipt"`
}

// Deps are the Fiscalizer's collaborators.
type Deps struct {
	// Queue receives the jobs (the daemon's SAF queue). Required.
	Queue Enqueuer
	// Save keeps an issued receipt with its order, as an order change
	// (payments.Service.RecordFiscal). Required.
	Save func(ctx context.Context, orderID string, r order.FiscalReceipt) error
	// Record journals what an attempt sent (sent true) and what the
	// service answered (sent false). Optional.
	Record func(ctx context.Context, orderID string, sent bool, payload []byte) error
	// Connect returns the connector of a merchant's account. Default:
	// NewNurkassa with HTTPClient.
	Connect func(merchant string, m Merchant) Connector
	// HTTPClient is the default connectors' client; nil: one of their own.
	HTTPClient *http.Client
	Log        zerolog.Logger
	Registerer prometheus.Registerer
}

// Fiscalizer turns order changes into fiscal receipts: InTx queues a job
// in the order's own transaction, and Deliver, as the SAF queue's
// deliverer for order.KindFiscal, has the receipt issued once and keeps it
// with the order.
type Fiscalizer struct {
	cfg    Config
	d      Deps
	mu     sync.Mutex
	conns  map[string]Connector
	issued *prometheus.CounterVec
}

// New validates cfg and returns a Fiscalizer.
func New(cfg Config, d Deps) (*Fiscalizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Queue == nil || d.Save == nil {
		return nil, errors.New("fiscal: Queue and Save are required")
	}
	f := &Fiscalizer{cfg: cfg.withDefaults(), d: d, conns: map[string]Connector{},
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tulpar", Name: "fiscal_attempts_total",
			Help: "Fiscal receipt attempts per merchant and outcome (delivered, retry, rejected).",
		}, []string{"merchant", "outcome"})}
	if f.d.Connect == nil {
		f.d.Connect = func(_ string, m Merchant) Connector { return NewNurkassa(m, f.cfg.Timeout, d.HTTPClient) }
	}
	if d.Registerer != nil {
		if err := d.Registerer.Register(f.issued); err != nil {
			return nil, fmt.Errorf("fiscal: metrics: %w", err)
		}
	}
	return f, nil
}

// connector is the merchant's connector, made once: it keeps the
// service's token between attempts.
func (f *Fiscalizer) connector(merchant string, m Merchant) Connector {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conns[merchant]
	if !ok {
		c = f.d.Connect(merchant, m)
		f.conns[merchant] = c
	}
	return c
}

// job is one receipt an order change calls for.
type job struct {
	kind   string
	amount int64
}

// InTx is (one of) payments.Deps.InTx: inside the bbolt transaction of
// every committed order change, it decides whether the change is a fiscal
// operation of a merchant with fiscalization configured and, if so, queues
// its receipt in that same transaction: the job exists if and only if the
// change commits. The queue is woken after the commit (tx.OnCommit).
//
// op is the order's latest operation, which payments hands over; the
// operation's index in o.Ops makes the receipt's external id. It only
// touches tx and never blocks: it runs in the journal's writer.
func (f *Fiscalizer) InTx(tx *bolt.Tx, o *order.Order, op *order.Operation) error {
	if o == nil || op == nil || len(o.Ops) == 0 {
		return nil
	}
	m, ok := f.cfg.Merchants[o.Merchant]
	// Receipts are in tenge: an order in another currency is not
	// fiscalized here; nor is a card registration's verification hold.
	if !ok || o.Currency != iso.CurrencyKZT || o.Registration != nil {
		return nil
	}
	idx := len(o.Ops) - 1
	extID := ExternalID(o.ID, idx)
	queued := tx.Bucket(bucketQueued)
	if queued != nil && queued.Get([]byte(extID)) != nil {
		return nil // queued by an earlier commit of the same operation
	}
	j, ok := classify(o, op, m.FiscalizePreauth, func(opID string) bool {
		i := opIndex(o, opID)
		return queued != nil && i >= 0 && queued.Get([]byte(ExternalID(o.ID, i))) != nil
	})
	if !ok {
		return nil
	}
	queued, err := tx.CreateBucketIfNotExists(bucketQueued)
	if err != nil {
		return fmt.Errorf("fiscal: order %s: %w", o.ID, err)
	}
	p := payload{Merchant: o.Merchant, OrderID: o.ID, OpID: op.ID, Receipt: receiptFor(o, j.kind, extID, j.amount, m.Email)}
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("fiscal: order %s: %w", o.ID, err)
	}
	key := QueueKey(o.Merchant)
	id, err := f.d.Queue.EnqueueTx(tx, saf.Item{Queue: key, OrderID: o.ID, Kind: order.KindFiscal, Payload: data})
	if err != nil {
		return fmt.Errorf("fiscal: order %s: queue receipt %s: %w", o.ID, extID, err)
	}
	if err := queued.Put([]byte(extID), binary.BigEndian.AppendUint64(nil, id)); err != nil {
		return fmt.Errorf("fiscal: order %s: %w", o.ID, err)
	}
	tx.OnCommit(func() { f.d.Queue.Notify(key) })
	return nil
}

func opIndex(o *order.Order, id string) int {
	for i := range o.Ops {
		if o.Ops[i].ID == id {
			return i
		}
	}
	return -1
}

// classify decides whether op, the latest operation of o, calls for a
// receipt. sold reports whether an operation's receipt was queued: whether
// a hold was sold decides what its completion and reversal are.
func classify(o *order.Order, op *order.Operation, preauth bool, sold func(opID string) bool) (job, bool) {
	if o.Status == order.StatusDeclined {
		return job{}, false // an approval for another amount, reversed at once
	}
	standing := op.Status == order.OpApproved || op.Status == order.OpQueued
	switch op.Type {
	case order.OpPurchase:
		if op.Status == order.OpApproved {
			return job{order.FiscalSale, op.Amount}, true
		}
	case order.OpAuthorization:
		if op.Status == order.OpApproved && preauth {
			return job{order.FiscalSale, op.Amount}, true
		}
	case order.OpCompletion:
		if !standing {
			break
		}
		if !sold(op.Of) {
			return job{order.FiscalSale, op.Amount}, true
		}
		// The hold was sold: what the completion leaves uncaptured is
		// released, and goes back on a return.
		if rest := o.Approved - op.Amount; rest > 0 {
			return job{order.FiscalReturn, rest}, true
		}
	case order.OpReversal:
		if standing && sold(op.Of) {
			return job{order.FiscalReturn, op.Amount}, true
		}
	case order.OpRefund:
		if op.Status == order.OpApproved {
			return job{order.FiscalReturn, op.Amount}, true
		}
	}
	return job{}, false
}

// Deliver is the saf.Deliverer for items of order.KindFiscal: it has the
// receipt issued and keeps it with the order. After an attempt whose
// outcome is unknown it looks the receipt up first, so a retry never makes
// a second receipt. The job is Delivered once the receipt is with the
// order; Retry when the service or the switch's store failed; Rejected
// (to the dead letters) when the service refused it, the merchant is no
// longer configured, or Config.MaxAttempts attempts have failed.
func (f *Fiscalizer) Deliver(ctx context.Context, it saf.Item, repeat bool) (saf.Outcome, error) {
	var p payload
	if it.Kind != order.KindFiscal {
		return saf.Rejected, fmt.Errorf("fiscal: item %d: kind %q is not %q", it.ID, it.Kind, order.KindFiscal)
	}
	if err := json.Unmarshal(it.Payload, &p); err != nil || p.Merchant == "" || p.Receipt.ExternalID == "" {
		return saf.Rejected, fmt.Errorf("fiscal: item %d: undecodable payload", it.ID)
	}
	log := f.d.Log.With().Str("merchant", p.Merchant).Str("order", p.OrderID).Str("external_id", p.Receipt.ExternalID).
		Str("kind", p.Receipt.Kind).Int64("amount", p.Receipt.Total).Int("attempt", it.Attempts).Logger()
	start := time.Now()
	outcome, how, err := f.attempt(ctx, it, p, repeat)
	if outcome == saf.Retry && it.Attempts >= f.cfg.MaxAttempts {
		outcome, err = saf.Rejected, fmt.Errorf("%w (gave up after %d attempts)", err, it.Attempts)
	}
	f.issued.WithLabelValues(p.Merchant, outcome.String()).Inc()
	ev := log.Info()
	switch outcome {
	case saf.Retry:
		ev = log.Warn().Err(err)
	case saf.Rejected:
		ev = log.Warn().Err(err).Str("dead_letter", "fiscal receipt not issued; an operator must look")
	}
	ev.Str("how", how).Dur("took", time.Since(start)).Str("outcome", outcome.String()).Msg("fiscal receipt")
	return outcome, err
}

// attempt is one attempt of Deliver; how says what it did, for the log.
func (f *Fiscalizer) attempt(ctx context.Context, it saf.Item, p payload, repeat bool) (saf.Outcome, string, error) {
	m, ok := f.cfg.Merchants[p.Merchant]
	if !ok {
		return saf.Rejected, "", fmt.Errorf("fiscal: item %d: merchant %s has no fiscalization configured", it.ID, p.Merchant)
	}
	c := f.connector(p.Merchant, m)
	if err := f.record(ctx, p.OrderID, true, map[string]any{"merchant": p.Merchant, "op": p.OpID, "receipt": p.Receipt, "repeat": repeat}); err != nil {
		return saf.Retry, "", err
	}
	how := "issued"
	var (
		got   Issued
		found bool
		err   error
	)
	if repeat {
		// An earlier attempt may have been issued without the switch
		// hearing it (or recording it): ask before sending again.
		got, found, err = c.Find(ctx, p.Receipt.ExternalID)
		if err != nil {
			_ = f.record(ctx, p.OrderID, false, map[string]any{"lookup": p.Receipt.ExternalID, "error": err.Error()})
			return saf.Retry, "lookup", fmt.Errorf("fiscal: merchant %s: lookup %s: %w", p.Merchant, p.Receipt.ExternalID, err)
		}
		how = "found"
	}
	if !found {
		how = "issued"
		got, err = c.Issue(ctx, p.Receipt)
		if err != nil {
			_ = f.record(ctx, p.OrderID, false, map[string]any{"external_id": p.Receipt.ExternalID, "error": err.Error()})
			out := saf.Retry
			if errors.Is(err, ErrRefused) {
				out = saf.Rejected
			}
			return out, how, fmt.Errorf("fiscal: merchant %s: receipt %s: %w", p.Merchant, p.Receipt.ExternalID, err)
		}
	}
	if err := f.record(ctx, p.OrderID, false, map[string]any{"external_id": p.Receipt.ExternalID, "receipt_id": got.ReceiptID,
		"fiscal_sign": got.FiscalSign, "link": got.Link, "how": how}); err != nil {
		// Issued, but not on record: the next attempt finds it.
		return saf.Retry, how, err
	}
	r := order.FiscalReceipt{ExternalID: p.Receipt.ExternalID, OpID: p.OpID, Kind: p.Receipt.Kind, Amount: p.Receipt.Total,
		FiscalSign: got.FiscalSign, ReceiptID: got.ReceiptID, Link: got.Link, QR: got.QR, Time: got.Time.UTC()}
	if err := f.d.Save(ctx, p.OrderID, r); err != nil {
		if errors.Is(err, order.ErrNotFound) {
			return saf.Rejected, how, fmt.Errorf("fiscal: receipt %s issued for order %s, which the store does not have: %w", p.Receipt.ExternalID, p.OrderID, err)
		}
		return saf.Retry, how, fmt.Errorf("fiscal: receipt %s issued, not yet kept with order %s: %w", p.Receipt.ExternalID, p.OrderID, err)
	}
	return saf.Delivered, how, nil
}

// record journals v, when a Recorder is set.
func (f *Fiscalizer) record(ctx context.Context, orderID string, sent bool, v any) error {
	if f.d.Record == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := f.d.Record(ctx, orderID, sent, b); err != nil {
		return fmt.Errorf("fiscal: journal: %w", err)
	}
	return nil
}

// DeadLetters are the dead letters of merchant's fiscal queue among
// items (saf.Queue.DeadLetters): the receipts that were never issued and
// wait for an operator.
func DeadLetters(items []saf.Item, merchant string) []saf.Item {
	out := []saf.Item{}
	for _, it := range items {
		if it.Kind == order.KindFiscal && it.Queue == QueueKey(merchant) {
			out = append(out, it)
		}
	}
	return out
}
