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
	storeFailures, unavailable := 0, 0
	var fails failing
	for {
		if w.stopping(ctx) {
			if done != nil {
				// The attempts finished: record them so that a Delivered item
				// is not sent again after restart. Best effort; failing that,
				// at-least-once covers it.
				if _, _, err := w.q.step(w.bank, done, 0, false, false); err != nil {
					log.Warn().Err(err).Uint64("id", done[0].item.ID).Int("items", len(done)).Msg("saf outcomes not recorded at shutdown; the items will be repeated after restart")
				}
			}
			return
		}
		pass := w.q.cfg.PerOrder && !fails.destination()
		claimed, wait, err := w.q.step(w.bank, done, w.q.cfg.Batch, w.forced.Swap(false), pass)
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
		fails.note(claimed)
		if !anyUnavailable(claimed) {
			unavailable = 0
			continue
		}
		// The destination takes nothing now: record the batch (its
		// unavailable items counted no attempt) and wait as a whole queue
		// instead of trying the other orders' items against it.
		if _, _, err := w.q.step(w.bank, done, 0, false, false); err != nil {
			continue // the next step records done, or backs off the store
		}
		done = nil
		unavailable++
		d := w.q.backoff(unavailable)
		log.Warn().Dur("retry_in", d).Msg("saf queue waits: its destination takes nothing now")
		w.pause(ctx, d)
	}
}

// failing tells an item's trouble from its destination's, for
// Config.PerOrder: it keeps the orders whose attempts were to be retried
// in the batches since one in which an attempt went through (delivered,
// or refused for good). One such order is that order's own trouble, and
// the claim passes its held items by; two or more look like the
// destination's, and the claim waits at the first item not due, as
// without PerOrder, rather than spend every order's attempts against a
// destination that takes nothing.
type failing struct {
	orders [2]string
	n      int
}

func (f *failing) note(as []*attempt) {
	for _, a := range as {
		if !a.skipped && (a.outcome == Delivered || a.outcome == Rejected) {
			// The destination takes things: the batch's failures, tried
			// beside this one, are their items' own.
			f.n = 0
			return
		}
	}
	for _, a := range as {
		if a.skipped || a.outcome == Delivered || a.outcome == Rejected || a.outcome == Unavailable {
			continue
		}
		if f.n < len(f.orders) && (f.n == 0 || f.orders[0] != a.item.OrderID) {
			f.orders[f.n] = a.item.OrderID
			f.n++
		}
	}
}

// destination reports whether the failures look like the destination's.
func (f *failing) destination() bool { return f.n >= 2 }

// maxPassed bounds the items one claim passes by (held, or not due) before
// it stops looking further down the queue.
const maxPassed = 1024

func anyUnavailable(as []*attempt) bool {
	for _, a := range as {
		if !a.skipped && a.outcome == Unavailable {
			return true
		}
	}
	return false
}

// pause blocks until d passes, Kick, or stop. Unlike wait, a new arrival
// (Notify) does not end it: the destination takes nothing, new items
// included.
func (w *worker) pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return
		case <-w.wakeC:
			if w.forced.Load() {
				return
			}
		case <-w.q.stop:
			return
		case <-ctx.Done():
			return
		}
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
// batch of items, spares the fsyncs on a busy queue. The claim stops at
// the first item not due, or with pass (Config.PerOrder) passes it and the
// rest of its order by.
//
// It returns the claimed attempts, or none and how long until the first
// item that held the claim is due (0 when the queue is empty).
func (q *Queue) step(bank string, done []*attempt, claim int, force, pass bool) ([]*attempt, time.Duration, error) {
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
		// PerOrder: the orders whose earlier item is not due yet; their
		// later items wait behind it, the other orders' go. passed counts
		// the items passed by, so that a queue of many held items is not
		// read through in every step (inside the journal's commit round).
		var held map[string]bool
		passed := 0
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
			if pass && held[it.OrderID] {
				if passed++; passed > maxPassed {
					return nil // the rest waits for these to clear
				}
				k, v = c.Next()
				continue
			}
			// force takes the first item even if not due: the head, as
			// nothing is claimed or held before it.
			if !(force && len(claimed) == 0 && held == nil) && it.NextAttemptAt.After(now) {
				if d := it.NextAttemptAt.Sub(now); len(claimed) == 0 && (wait == 0 || d < wait) {
					wait = d
				}
				if !pass {
					return nil
				}
				if held == nil {
					held = map[string]bool{}
				}
				held[it.OrderID] = true
				if passed++; passed > maxPassed {
					return nil
				}
				k, v = c.Next()
				continue
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
	if outcome == Unavailable {
		// Nothing was sent: no attempt to count, and the item keeps its
		// place and its due time; the worker pauses the queue.
		it.Attempts--
		return func() { q.m.attempts.WithLabelValues(bank, outcome.String()).Inc() }, b.Put(a.pos, encodeItem(nil, &it))
	}
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
