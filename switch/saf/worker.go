package saf

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
)

// bucketCorrupt keeps pending values that no longer decode, keyed by bank
// and position, so that one damaged value cannot block its bank's queue.
var bucketCorrupt = []byte("saf.corrupt")

// worker delivers one bank's queue, head first, one attempt at a time, a
// batch of claimed items after another.
type worker struct {
	q      *Queue
	bank   string
	wakeC  chan struct{} // capacity 1: wakes coalesce
	forced atomic.Bool   // Kick: ignore the head's backoff once
}

func (w *worker) wake(force bool) {
	if force {
		w.forced.Store(true)
	}
	select {
	case w.wakeC <- struct{}{}:
	default:
	}
}

// attempt is a claimed item and, once tried, the outcome not yet on disk.
type attempt struct {
	pos     []byte
	item    Item // as stored when claimed: Attempts counts this attempt
	outcome Outcome
	err     error
	// skipped: claimed with a batch but never tried (an item before it is
	// to be retried, or the worker stops); recording it gives the attempt
	// back.
	skipped bool
}

func (w *worker) run(ctx context.Context) {
	defer w.q.wg.Done()
	log := w.q.log.With().Str("queue", w.bank).Logger()
	var done []*attempt // recorded by the next step, in the same tx as the next claim
	storeFailures := 0
	for {
		if w.stopping(ctx) {
			if done != nil {
				// The attempts finished: record them so that a Delivered item
				// is not sent again after restart. Best effort; failing that,
				// at-least-once covers it.
				if _, _, err := w.q.step(w.bank, done, 0, false); err != nil {
					log.Warn().Err(err).Uint64("id", done[0].item.ID).Int("items", len(done)).Msg("saf outcomes not recorded at shutdown; the items will be repeated after restart")
				}
			}
			return
		}
		claimed, wait, err := w.q.step(w.bank, done, w.q.cfg.Batch, w.forced.Swap(false))
		if err != nil {
			storeFailures++
			d := w.q.backoff(storeFailures)
			log.Error().Err(err).Dur("retry_in", d).Msg("saf store")
			w.wait(ctx, d) // on stop, the loop's top records done, if any
			continue
		}
		done, storeFailures = nil, 0
		if len(claimed) == 0 {
			w.wait(ctx, wait) // wait 0: idle until woken
			continue
		}
		w.deliverBatch(ctx, claimed)
		done = claimed
	}
}

// deliverBatch tries the claimed items in queue order until one is not
// settled (to be retried: the items behind it wait for it, as behind any
// head) or the worker stops; the rest are given back untried. With
// Config.PerOrder the same holds for each order's items, and different
// orders' items go at once.
func (w *worker) deliverBatch(ctx context.Context, claimed []*attempt) {
	if !w.q.cfg.PerOrder {
		w.deliverInTurn(ctx, claimed)
		return
	}
	var groups [][]*attempt
	at := map[string]int{}
	for _, a := range claimed {
		// Items without an order keep their queue order among themselves.
		i, ok := at[a.item.OrderID]
		if !ok {
			i = len(groups)
			at[a.item.OrderID] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], a)
	}
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() { w.deliverInTurn(ctx, g) })
	}
	wg.Wait()
}

// deliverInTurn tries as one after another until one is not settled or
// the worker stops, and gives the rest back untried.
func (w *worker) deliverInTurn(ctx context.Context, as []*attempt) {
	for i, a := range as {
		if i > 0 && w.stopping(ctx) {
			skip(as[i:])
			return
		}
		a.outcome, a.err = w.deliver(ctx, a.item)
		if a.outcome != Delivered && a.outcome != Rejected {
			skip(as[i+1:])
			return
		}
	}
}

func skip(as []*attempt) {
	for _, a := range as {
		a.skipped = true
	}
}

func (w *worker) stopping(ctx context.Context) bool {
	select {
	case <-w.q.stop:
		return true
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// wait blocks until d passes (forever when d is 0), a wake, or stop. It
// reports whether the worker should go on.
func (w *worker) wait(ctx context.Context, d time.Duration) bool {
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-timer:
	case <-w.wakeC:
	case <-w.q.stop:
		return false
	case <-ctx.Done():
		return false
	}
	return true
}

func (w *worker) deliver(ctx context.Context, it Item) (Outcome, error) {
	actx, cancel := context.WithTimeout(ctx, w.q.cfg.AttemptTimeout)
	defer cancel()
	return w.q.deliver.Deliver(actx, it, it.Attempts > 1)
}

// step runs one write transaction for bank's worker: it records the done
// attempts' outcomes and claims up to claim items from the head on, each
// due (force: the head even if not), counting their attempts on disk
// before the caller delivers them. Doing both in one transaction, for a
// batch of items, spares the fsyncs on a busy queue.
//
// It returns the claimed attempts, or none and how long until the head is
// due (0 when the queue is empty).
func (q *Queue) step(bank string, done []*attempt, claim int, force bool) ([]*attempt, time.Duration, error) {
	var (
		claimed []*attempt
		wait    time.Duration
		events  []func()
	)
	err := q.cfg.Update(func(tx *bolt.Tx) error {
		events = events[:0] // a group-committing Update may run fn again: start over
		claimed, wait = nil, 0
		b, err := tx.Bucket(bucketPending).CreateBucketIfNotExists([]byte(bank))
		if err != nil {
			return err
		}
		now := q.cfg.Now()
		for _, a := range done {
			ev, err := q.record(tx, b, a, now)
			if err != nil {
				return err
			}
			events = append(events, ev)
		}
		// bbolt wants a cursor repositioned after its bucket changes.
		c := b.Cursor()
		k, v := c.First()
		for k != nil && len(claimed) < claim {
			pos := append([]byte(nil), k...)
			it, err := decodeItem(v)
			if err != nil {
				if err := quarantine(tx, bank, k, v); err != nil {
					return err
				}
				events = append(events, func() {
					q.log.Error().Err(err).Str("queue", bank).Hex("position", pos).Msg("saf corrupt item moved aside to saf.corrupt")
				})
				k, v = c.Seek(pos) // the item after the one moved aside
				continue
			}
			if (!force || len(claimed) > 0) && it.NextAttemptAt.After(now) {
				if len(claimed) == 0 {
					wait = it.NextAttemptAt.Sub(now)
				}
				return nil
			}
			it.Attempts++
			if err := b.Put(pos, encodeItem(nil, &it)); err != nil {
				return err
			}
			claimed = append(claimed, &attempt{pos: pos, item: it})
			c.Seek(pos)
			k, v = c.Next()
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("bank %q: %w", bank, err)
	}
	q.m.steps.WithLabelValues(bank).Inc()
	for _, ev := range events {
		ev()
	}
	return claimed, wait, nil
}

// record applies a finished attempt to the store and returns what to log
// and count once the transaction has committed.
func (q *Queue) record(tx *bolt.Tx, b *bolt.Bucket, a *attempt, now time.Time) (func(), error) {
	it := a.item
	bank := it.Queue
	if b.Get(a.pos) == nil {
		// Nothing else removes a pending item; should it happen, the outcome
		// has nothing left to apply to.
		return func() {
			q.log.Error().Str("queue", bank).Uint64("id", it.ID).Msg("saf head vanished before its outcome was recorded")
		}, nil
	}
	if a.skipped {
		// Claimed but never tried: the attempt it counted is given back.
		it.Attempts--
		return func() {}, b.Put(a.pos, encodeItem(nil, &it))
	}
	if a.err != nil {
		it.LastError = truncateError(a.err.Error())
	}
	outcome := a.outcome
	if outcome != Delivered && outcome != Rejected && outcome != Retry {
		it.LastError = truncateError(fmt.Sprintf("deliverer returned unknown %v; treated as retry: %s", outcome, it.LastError))
		outcome = Retry
	}
	exhausted := outcome == Retry && q.cfg.MaxAttempts > 0 && it.Attempts >= q.cfg.MaxAttempts
	var delay time.Duration
	switch {
	case outcome == Delivered:
		if err := b.Delete(a.pos); err != nil {
			return nil, err
		}
	case outcome == Rejected || exhausted:
		it.NextAttemptAt = time.Time{}
		if err := tx.Bucket(bucketDead).Put(u64(it.ID), encodeItem(nil, &it)); err != nil {
			return nil, err
		}
		if err := b.Delete(a.pos); err != nil {
			return nil, err
		}
	default:
		delay = q.backoff(it.Attempts)
		it.NextAttemptAt = now.Add(delay)
		if err := b.Put(a.pos, encodeItem(nil, &it)); err != nil {
			return nil, err
		}
	}
	return func() {
		q.m.attempts.WithLabelValues(bank, outcome.String()).Inc()
		var ev *zerolog.Event
		switch {
		case outcome == Delivered:
			q.m.delivered.WithLabelValues(bank).Inc()
			ev = q.log.Info()
		case outcome == Rejected:
			ev = q.log.Error().Str("dead_letter", "rejected by bank")
		case exhausted:
			ev = q.log.Error().Str("dead_letter", "attempts exhausted")
		default:
			ev = q.log.Warn().Dur("retry_in", delay)
		}
		if a.err != nil {
			ev = ev.Str("error", it.LastError)
		}
		ev.Str("queue", bank).Uint64("id", it.ID).Str("order_id", it.OrderID).Str("kind", it.Kind).
			Int("attempts", it.Attempts).Str("outcome", outcome.String()).Msg("saf attempt")
	}, nil
}

func quarantine(tx *bolt.Tx, bank string, k, v []byte) error {
	c, err := tx.CreateBucketIfNotExists(bucketCorrupt)
	if err != nil {
		return err
	}
	key := append([]byte(bank+"\x00"), k...)
	if err := c.Put(key, append([]byte(nil), v...)); err != nil {
		return err
	}
	return tx.Bucket(bucketPending).Bucket([]byte(bank)).Delete(k)
}

// backoff is the delay after the n-th consecutive failure (n >= 1):
// RetryMin doubled n-1 times, capped at RetryMax, then jittered.
func (q *Queue) backoff(n int) time.Duration {
	d := q.cfg.RetryMin
	for i := 1; i < n && d < q.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, q.cfg.RetryMax)
	return max(q.cfg.Jitter(d), 0)
}
