package saf

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
)

// Outcome is what a Deliverer reports for one attempt.
type Outcome int

const (
	// Retry: no valid reply (timed out, refused for now). The item stays
	// and is tried again after a backoff of its own. It is the zero value,
	// so a Deliverer that returns early with only an error never loses an
	// item.
	Retry Outcome = iota
	// Delivered: the bank answered validly (0430, 0230, including its answer
	// to a repeat). The head is removed.
	Delivered
	// Rejected: the bank answered but refused in a way a repeat cannot fix
	// (format error, unknown message). The head goes to the dead letters now.
	Rejected
	// Unavailable: nothing was sent, because the destination takes nothing
	// now (the bank's link is down). The attempt does not count, and the
	// whole queue waits, until Kick or a backoff of the queue's own, rather
	// than try each of its items against the same closed door.
	Unavailable
)

func (o Outcome) String() string {
	switch o {
	case Retry:
		return "retry"
	case Delivered:
		return "delivered"
	case Rejected:
		return "rejected"
	case Unavailable:
		return "unavailable"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Deliverer sends one item to its bank and waits for the reply. repeat is
// true for every attempt after the first (and for the first attempt after a
// restart that interrupted one): the caller then sends the repeat MTI (0421,
// 0221). The error is informational: it is logged and kept as LastError, and
// must not contain card data.
//
// Deliver must return when ctx ends; ctx carries Config.AttemptTimeout and is
// cancelled when Close gives up waiting.
type Deliverer interface {
	Deliver(ctx context.Context, it Item, repeat bool) (Outcome, error)
}

// DelivererFunc adapts a function to Deliverer.
type DelivererFunc func(ctx context.Context, it Item, repeat bool) (Outcome, error)

// Deliver calls f.
func (f DelivererFunc) Deliver(ctx context.Context, it Item, repeat bool) (Outcome, error) {
	return f(ctx, it, repeat)
}

// Config tunes a Queue. The zero value is usable: every zero field takes the
// default documented on it.
type Config struct {
	// RetryMin is the backoff after the first failed attempt; it doubles
	// with each further failure up to RetryMax. Default 1s.
	RetryMin time.Duration
	// RetryMax caps the backoff. Default 5m.
	RetryMax time.Duration
	// MaxAttempts is how many attempts a head gets before it moves to the
	// dead letters so that the items behind it can flow. Default 20 when
	// zero; negative means never give up (the bank's queue then waits on its
	// head for as long as it takes).
	MaxAttempts int
	// AttemptTimeout bounds one Deliver call. Default 30s.
	AttemptTimeout time.Duration
	// Now is the clock for timestamps and due times. Default time.Now.
	Now func() time.Time
	// Batch is how many of a bank's due items one transaction claims;
	// they are delivered one after another, in order, and their outcomes
	// recorded together with the next claim, so a busy queue pays one
	// commit per batch rather than per item. An item that must be retried
	// ends the batch: the items behind it wait, as behind any head.
	// Default 64.
	Batch int
	// PerOrder relaxes the order of delivery from the whole bank's queue to
	// each order's items (Item.OrderID; items without one keep the queue's
	// order among themselves): the items of different orders in a batch
	// are delivered at once, which is what a bank's link carries anyway,
	// instead of each waiting for the answer to the one before. An item to
	// be retried ends only its order's part of the batch, and while it
	// waits out its backoff it holds only its order's later items: a batch
	// is claimed from the other orders' items behind it. Once two orders
	// have failed with nothing going through between, the trouble looks
	// like the destination's, and the queue waits at its first item not
	// due, as without PerOrder, until an attempt goes through.
	PerOrder bool
	// Update runs fn in a write transaction on the queue's file and
	// commits it; default: the file's own (bolt.DB.Update). A caller whose
	// file has a group-committing writer gives its own, so that the
	// queue's steps share that writer's commits and their fsyncs instead
	// of taking bbolt's one write lock between them (the switch: the
	// journal's writer, where each step had been a commit of its own, a
	// quarter of all commits at 600 payments a second). fn is written to
	// be run again if a commit is retried, and blocks on nothing.
	Update func(fn func(*bolt.Tx) error) error
	// Jitter turns a nominal backoff into the delay actually waited, so that
	// banks coming back do not see every switch retry in step. Default:
	// uniform in [d/2, d]. Tests pass the identity for determinism.
	Jitter func(d time.Duration) time.Duration
}

// Defaults of Config.
const (
	DefaultRetryMin       = time.Second
	DefaultRetryMax       = 5 * time.Minute
	DefaultMaxAttempts    = 20
	DefaultAttemptTimeout = 30 * time.Second
	DefaultBatch          = 64
)

// withDefaults fills zero fields and validates the result.
func (c Config) withDefaults() (Config, error) {
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = max(DefaultRetryMax, c.RetryMin)
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Jitter == nil {
		c.Jitter = equalJitter
	}
	switch {
	case c.RetryMin < 0:
		return c, fmt.Errorf("saf: config: RetryMin %v is negative", c.RetryMin)
	case c.RetryMax < c.RetryMin:
		return c, fmt.Errorf("saf: config: RetryMax %v is less than RetryMin %v", c.RetryMax, c.RetryMin)
	case c.AttemptTimeout < 0:
		return c, fmt.Errorf("saf: config: AttemptTimeout %v is negative", c.AttemptTimeout)
	}
	return c, nil
}

func equalJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// Errors a caller may test for.
var (
	ErrNotDeadLetter = errors.New("saf: no dead letter with that id")
	ErrStarted       = errors.New("saf: queue already started")
	ErrClosed        = errors.New("saf: queue closed")
	ErrReadOnlyTx    = errors.New("saf: EnqueueTx needs a writable transaction")
)

// Bucket names in the caller's bbolt file.
var (
	bucketPending = []byte("saf.pending") // one sub-bucket per queue: position -> item
	bucketDead    = []byte("saf.dead")    // id -> item
	bucketMeta    = []byte("saf.meta")    // "version"; its sequence numbers ids and positions
	keyVersion    = []byte("version")
)

const storeVersion = 1

// Queue is a persistent store-and-forward queue with one FIFO per queue.
//
// Items live in buckets of a bbolt file the caller owns, so an item can be
// queued in the same transaction as the order change that calls for it
// (EnqueueTx). After Start, one worker per queue delivers its bank's head
// through the Deliverer and removes it only on Delivered; Retry backs off
// and tries the same head again; Rejected, or MaxAttempts spent, moves the
// head to the dead letters and the next item becomes the head.
//
// Delivery is at least once. Each attempt is counted on disk before Deliver
// is called and the outcome is recorded in one transaction with the removal,
// so a crash between the bank's reply and that commit makes the item go again
// after restart, marked as a repeat. For advices that is what the standard
// expects: the bank answers a duplicate 0421/0221 with its original answer.
//
// All methods are safe for concurrent use.
type Queue struct {
	db      DB
	cfg     Config
	deliver Deliverer
	log     zerolog.Logger
	m       *metrics

	mu      sync.Mutex
	workers map[string]*worker
	started bool
	closed  bool
	stop    chan struct{}      // closed by Close: no new attempts
	runCtx  context.Context    // parent of every Deliver ctx
	abort   context.CancelFunc // cancels runCtx
	wg      sync.WaitGroup
}

// DB is the bbolt file the queue keeps its buckets in: bbolt's read and
// write transactions, as *bolt.DB gives them (and the switch's data file,
// which its journal may close and open again under them).
type DB interface {
	View(fn func(*bolt.Tx) error) error
	Update(fn func(*bolt.Tx) error) error
}

// New prepares the queue's buckets in db and registers its metrics on reg
// when reg is not nil. It starts nothing: items can be queued at once, and
// Start begins delivery.
func New(db DB, cfg Config, deliver Deliverer, log zerolog.Logger, reg prometheus.Registerer) (*Queue, error) {
	if db == nil {
		return nil, errors.New("saf: nil bbolt DB")
	}
	if deliver == nil {
		return nil, errors.New("saf: nil Deliverer")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketPending, bucketDead, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keyVersion); {
		case v == nil:
			return meta.Put(keyVersion, []byte{storeVersion})
		case len(v) != 1 || v[0] != storeVersion:
			return fmt.Errorf("store format version %x, want %d", v, storeVersion)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("saf: open buckets: %w", err)
	}
	if cfg.Update == nil {
		cfg.Update = db.Update
	}
	q := &Queue{
		db:      db,
		cfg:     cfg,
		deliver: deliver,
		log:     log,
		workers: make(map[string]*worker),
		stop:    make(chan struct{}),
	}
	if q.m, err = newMetrics(q, reg); err != nil {
		return nil, fmt.Errorf("saf: metrics: %w", err)
	}
	return q, nil
}

// EnqueueTx queues it at the tail of its bank's FIFO inside the caller's
// write transaction and returns the assigned ID. If the transaction rolls
// back, nothing is queued. The bank's worker is woken when the transaction
// commits (through tx.OnCommit), so the caller need not call Notify.
//
// Queuing works before Start and after Close: the item is on disk and goes
// out when a Queue on this file is next started.
func (q *Queue) EnqueueTx(tx *bolt.Tx, it Item) (uint64, error) {
	if !tx.Writable() {
		return 0, ErrReadOnlyTx
	}
	if err := it.validate(); err != nil {
		return 0, err
	}
	pending, err := tx.CreateBucketIfNotExists(bucketPending)
	if err != nil {
		return 0, fmt.Errorf("saf: enqueue: %w", err)
	}
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return 0, fmt.Errorf("saf: enqueue: %w", err)
	}
	bank, err := pending.CreateBucketIfNotExists([]byte(it.Queue))
	if err != nil {
		return 0, fmt.Errorf("saf: enqueue bank %q: %w", it.Queue, err)
	}
	// One sequence numbers both the ID and the position: positions only
	// grow, so the bank bucket's key order is arrival order.
	seq, err := meta.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("saf: enqueue: %w", err)
	}
	it.ID = seq
	it.Attempts = 0
	it.NextAttemptAt = time.Time{}
	it.LastError = ""
	if it.EnqueuedAt.IsZero() {
		it.EnqueuedAt = q.cfg.Now()
	}
	if err := bank.Put(u64(seq), encodeItem(nil, &it)); err != nil {
		return 0, fmt.Errorf("saf: enqueue bank %q: %w", it.Queue, err)
	}
	name := it.Queue
	tx.OnCommit(func() { q.Notify(name) })
	return seq, nil
}

// Enqueue queues it in a transaction of its own and returns the assigned ID
// once that has committed.
func (q *Queue) Enqueue(ctx context.Context, it Item) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var id uint64
	err := q.cfg.Update(func(tx *bolt.Tx) error {
		var err error
		id, err = q.EnqueueTx(tx, it)
		return err
	})
	return id, err
}

// Notify tells the queue that bank may have new items: it starts the bank's
// worker if there is none yet and wakes it if it is idle. A head waiting out
// its backoff keeps waiting; use Kick for that. Before Start and after Close,
// Notify does nothing.
func (q *Queue) Notify(bank string) {
	if w := q.worker(bank); w != nil {
		w.wake(false)
	}
}

// Kick is Notify plus: the bank's head is tried now even if its backoff has
// not run out, and a queue waiting because its destination was
// Unavailable goes on. Call it when the bank's link comes back (sign-on
// succeeded), so a reversal does not wait minutes for a bank that is
// answering again.
func (q *Queue) Kick(bank string) {
	if w := q.worker(bank); w != nil {
		w.wake(true)
	}
}

// Start resumes delivery for every bank with pending items (the restart
// case) and returns; banks that get items later get a worker then. Workers
// run until ctx ends or Close is called.
func (q *Queue) Start(ctx context.Context) error {
	var banks []string
	err := q.db.View(func(tx *bolt.Tx) error {
		pending := tx.Bucket(bucketPending)
		return pending.ForEachBucket(func(name []byte) error {
			if first, _ := pending.Bucket(name).Cursor().First(); first != nil {
				banks = append(banks, string(name))
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("saf: start: %w", err)
	}
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return ErrClosed
	case q.started:
		q.mu.Unlock()
		return ErrStarted
	}
	q.started = true
	q.runCtx, q.abort = context.WithCancel(ctx)
	q.mu.Unlock()
	for _, b := range banks {
		q.Notify(b)
	}
	q.log.Info().Int("banks", len(banks)).Msg("saf started")
	return nil
}

// Close stops the workers: no new attempt starts, and Close waits for the
// attempts in progress to finish and their outcomes to be recorded. If ctx
// ends first, Close cancels those attempts' contexts and returns ctx's error
// without waiting further; an outcome that arrives later may then fail to be
// recorded, and that item goes again, as a repeat, after restart.
//
// Close does not close the bbolt DB, which the caller owns; close it after
// Close returns. Close is idempotent.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.stop)
	}
	abort := q.abort
	q.mu.Unlock()
	if abort == nil {
		return nil // never started
	}
	done := make(chan struct{})
	go func() {
		q.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		abort()
		return nil
	case <-ctx.Done():
		abort()
		return fmt.Errorf("saf: close: %w", ctx.Err())
	}
}

// worker returns bank's worker, starting it if needed; nil when the queue
// is not running.
func (q *Queue) worker(bank string) *worker {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.started || q.closed || q.runCtx.Err() != nil {
		return nil
	}
	w := q.workers[bank]
	if w == nil {
		w = &worker{q: q, bank: bank, wakeC: make(chan struct{}, 1)}
		q.workers[bank] = w
		q.wg.Add(1)
		go w.run(q.runCtx)
	}
	return w
}

func bankBucket(tx *bolt.Tx, bank string) *bolt.Bucket {
	return tx.Bucket(bucketPending).Bucket([]byte(bank))
}

func u64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v)
}
