package saf

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// TestBatchRetryHoldsTheRest: a batch is delivered in queue order; when an
// item must be retried, the items claimed behind it are not tried and get
// their attempt back: after the retried item goes through, each of them
// goes out as a first attempt (an advice, not its repeat).
func TestBatchRetryHoldsTheRest(t *testing.T) {
	db, _ := mustOpenDB(t)
	d := newChanDeliverer()
	q := mustNew(t, db, fastConfig(), d)
	var want []uint64
	for i := range 5 {
		want = append(want, mustEnqueue(t, q, "halyk", fmt.Sprintf("order-%d", i)))
	}
	mustStart(t, q)

	type seen struct {
		id       uint64
		attempts int
		repeat   bool
	}
	var got []seen
	answer := func(o Outcome) {
		c := d.next(t)
		got = append(got, seen{c.it.ID, c.it.Attempts, c.repeat})
		var err error
		if o == Retry {
			err = errNoReply
		}
		c.answer(o, err)
	}
	answer(Delivered)
	answer(Delivered)
	answer(Retry) // the third: the fourth and fifth wait behind it
	answer(Delivered)
	answer(Delivered)
	answer(Delivered)
	assert.Equal(t, []seen{
		{want[0], 1, false}, {want[1], 1, false}, {want[2], 1, false},
		{want[2], 2, true}, {want[3], 1, false}, {want[4], 1, false},
	}, got)
	waitFor(t, "queue drained", func() bool { return len(mustPending(t, q, "halyk")) == 0 })
}

// TestBatchOneCommit: a queue of items delivered at once costs a commit
// per batch, not per item.
func TestBatchOneCommit(t *testing.T) {
	db, _ := mustOpenDB(t)
	rec := newRecorder(200)
	cfg := fastConfig()
	cfg.Batch = 50
	q := mustNew(t, db, cfg, rec)
	for i := range 200 {
		mustEnqueue(t, q, "halyk", fmt.Sprintf("order-%d", i))
	}
	mustStart(t, q)
	rec.waitDelivered(t, 200)
	waitFor(t, "queue drained", func() bool { return len(mustPending(t, q, "halyk")) == 0 })
	// 200 items in batches of 50: 4 claims, and the last outcomes recorded
	// with the claim that finds the queue empty (counted just after its
	// commit, which the drained queue may show first); a wake may add an
	// empty look.
	var m dto.Metric
	require.NoError(t, q.m.steps.WithLabelValues("halyk").Write(&m))
	commits := m.GetCounter().GetValue()
	require.GreaterOrEqual(t, commits, 4.0)
	require.LessOrEqual(t, commits, 8.0, "a commit per batch, not per item")
}

// TestBatchPerOrder: with PerOrder, an order's items in a batch are
// delivered in queue order; when one must be retried, that order's items
// claimed behind it are not tried and get their attempt back (each then
// goes out as a first attempt, not a repeat), while another order's item
// in the same batch goes meanwhile.
func TestBatchPerOrder(t *testing.T) {
	db, _ := mustOpenDB(t)
	type seen struct {
		id       uint64
		attempts int
		repeat   bool
	}
	var mu sync.Mutex
	got := map[string][]seen{}
	var failOnce, lastB atomic.Uint64
	bDone := make(chan struct{})
	var overtaken atomic.Bool
	cfg := fastConfig()
	cfg.PerOrder = true
	q := mustNew(t, db, cfg, DelivererFunc(func(_ context.Context, it Item, repeat bool) (Outcome, error) {
		mu.Lock()
		got[it.OrderID] = append(got[it.OrderID], seen{it.ID, it.Attempts, repeat})
		mu.Unlock()
		if it.ID == lastB.Load() {
			close(bDone)
		}
		if failOnce.CompareAndSwap(it.ID, 0) {
			// A's item is held until B's last item is through: only if
			// the orders go at once does that happen before it fails.
			select {
			case <-bDone:
				overtaken.Store(true)
			case <-time.After(waitLimit / 2):
			}
			return Retry, errNoReply
		}
		return Delivered, nil
	}))
	a1 := mustEnqueue(t, q, "halyk", "A")
	a2 := mustEnqueue(t, q, "halyk", "A")
	b1 := mustEnqueue(t, q, "halyk", "B")
	a3 := mustEnqueue(t, q, "halyk", "A")
	b2 := mustEnqueue(t, q, "halyk", "B")
	a4 := mustEnqueue(t, q, "halyk", "A")
	failOnce.Store(a3) // the third of A's: the fourth waits behind it
	lastB.Store(b2)
	mustStart(t, q)
	waitFor(t, "queue drained", func() bool { return len(mustPending(t, q, "halyk")) == 0 })

	mu.Lock()
	defer mu.Unlock()
	assert.True(t, overtaken.Load(), "B's items went while A's was in flight")
	assert.Equal(t, []seen{{a1, 1, false}, {a2, 1, false}, {a3, 1, false}, {a3, 2, true}, {a4, 1, false}}, got["A"])
	assert.Equal(t, []seen{{b1, 1, false}, {b2, 1, false}}, got["B"], "another order's items are not held by A's retry")
}

// TestStepsThroughTheCallersWriter: with Config.Update the queue writes
// only through it (the switch's journal writer), and a commit that runs
// each step twice (a group commit retried without another caller's failed
// function) delivers every item once and leaves the queue drained.
func TestStepsThroughTheCallersWriter(t *testing.T) {
	db, _ := mustOpenDB(t)
	var calls atomic.Int64
	cfg := fastConfig()
	cfg.Update = func(fn func(*bolt.Tx) error) error {
		calls.Add(1)
		retried := errors.New("another caller's function failed: the round runs again")
		if err := db.Update(func(tx *bolt.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			return retried
		}); !errors.Is(err, retried) {
			return err
		}
		return db.Update(fn)
	}
	rec := newRecorder(16)
	q := mustNew(t, db, cfg, rec)
	var want []uint64
	for i := range 6 {
		want = append(want, mustEnqueue(t, q, "halyk", fmt.Sprintf("order-%d", i)))
	}
	require.EqualValues(t, 6, calls.Load(), "each Enqueue")
	mustStart(t, q)
	got := rec.waitDelivered(t, len(want))
	assert.ElementsMatch(t, want, ids(got), "each item once")
	for _, it := range got {
		assert.Equal(t, 1, it.Attempts, "a first attempt, not a repeat")
	}
	waitFor(t, "queue drained", func() bool { return len(mustPending(t, q, "halyk")) == 0 })
	require.Greater(t, calls.Load(), int64(6), "the worker's steps")
}

// slowPerOrder is a PerOrder queue whose backoffs do not run out within a
// test: only Kick ends them.
func slowPerOrder() Config {
	cfg := fastConfig()
	cfg.PerOrder = true
	cfg.RetryMin, cfg.RetryMax = time.Hour, time.Hour
	return cfg
}

// TestPerOrderHeldOnlyByItsOrder: with PerOrder, an item waiting out its
// backoff holds its own order's later items and nothing else: another
// order's item queued behind it goes at once, and once the held item is
// through its order's items follow, in order.
func TestPerOrderHeldOnlyByItsOrder(t *testing.T) {
	db, _ := mustOpenDB(t)
	cfg := slowPerOrder()
	d := newChanDeliverer()
	q := mustNew(t, db, cfg, d)
	mustStart(t, q)
	a1 := mustEnqueue(t, q, "halyk", "A")
	c := d.next(t)
	require.Equal(t, a1, c.it.ID)
	c.answer(Retry, errNoReply)
	waitFor(t, "A's backoff recorded", func() bool {
		p := mustPending(t, q, "halyk")
		return len(p) == 1 && !p[0].NextAttemptAt.IsZero()
	})

	a2 := mustEnqueue(t, q, "halyk", "A")
	b1 := mustEnqueue(t, q, "halyk", "B")
	c = d.next(t)
	assert.Equal(t, b1, c.it.ID, "B's item does not wait an hour behind A's")
	assert.False(t, c.repeat)
	c.answer(Delivered, nil)
	waitFor(t, "B's item delivered", func() bool { return len(mustPending(t, q, "halyk")) == 2 })
	p := mustPending(t, q, "halyk")
	assert.Equal(t, []uint64{a1, a2}, []uint64{p[0].ID, p[1].ID})
	assert.Equal(t, 0, p[1].Attempts, "A's second item is held behind its first, not tried")

	q.Kick("halyk")
	c = d.next(t)
	assert.Equal(t, a1, c.it.ID)
	assert.True(t, c.repeat)
	c.answer(Delivered, nil)
	c = d.next(t)
	assert.Equal(t, a2, c.it.ID)
	c.answer(Delivered, nil)
	waitFor(t, "queue drained", func() bool { return len(mustPending(t, q, "halyk")) == 0 })
}

// TestUnavailableCountsNoAttempt: an attempt that finds the destination
// closed (Unavailable) is not counted and the queue waits for it as a
// whole, however long its backoff; Kick (the link is back) resumes it,
// and each item then goes as a first attempt, not a repeat.
func TestUnavailableCountsNoAttempt(t *testing.T) {
	db, _ := mustOpenDB(t)
	cfg := slowPerOrder()
	cfg.MaxAttempts = 1 // a counted attempt would be a dead letter at once
	d := newChanDeliverer()
	q := mustNew(t, db, cfg, d)
	mustStart(t, q)
	a1 := mustEnqueue(t, q, "halyk", "A")
	c := d.next(t)
	require.Equal(t, a1, c.it.ID)
	c.answer(Unavailable, errors.New("halyk: not connected"))
	waitFor(t, "the attempt given back", func() bool {
		p := mustPending(t, q, "halyk")
		return len(p) == 1 && p[0].Attempts == 0 && p[0].LastError != ""
	})
	assert.True(t, mustPending(t, q, "halyk")[0].NextAttemptAt.IsZero(), "the item has no backoff of its own")
	b1 := mustEnqueue(t, q, "halyk", "B")

	q.Kick("halyk")
	got := map[uint64]call{}
	for range 2 {
		c := d.next(t)
		got[c.it.ID] = c
		c.answer(Delivered, nil)
	}
	require.Contains(t, got, a1)
	require.Contains(t, got, b1)
	assert.False(t, got[a1].repeat, "nothing was sent before: not a repeat")
	assert.Equal(t, 1, got[a1].it.Attempts)
	waitFor(t, "queue drained", func() bool { return len(mustPending(t, q, "halyk")) == 0 })
	st, err := q.Stats()
	require.NoError(t, err)
	assert.Empty(t, st, "no dead letters")
}

// TestPerOrderWaitsWhenEveryOrderFails: when the items of two or more
// orders fail one after another and none goes through, the trouble looks
// like the destination's: the queue waits for its first item again rather
// than spend the attempts of every order behind it, and passes held
// orders by again once an attempt goes through.
func TestPerOrderWaitsWhenEveryOrderFails(t *testing.T) {
	db, _ := mustOpenDB(t)
	cfg := slowPerOrder()
	var down atomic.Bool
	var aFailed atomic.Int32
	down.Store(true)
	q := mustNew(t, db, cfg, DelivererFunc(func(_ context.Context, it Item, _ bool) (Outcome, error) {
		if down.Load() {
			if it.OrderID == "A" {
				aFailed.Add(1)
			}
			return Retry, errNoReply
		}
		return Delivered, nil
	}))
	a1 := mustEnqueue(t, q, "halyk", "A")
	mustEnqueue(t, q, "halyk", "B")
	mustStart(t, q)
	backedOff := func(n int) func() bool {
		return func() bool {
			p := mustPending(t, q, "halyk")
			for _, it := range p[:min(n, len(p))] {
				if it.NextAttemptAt.IsZero() {
					return false
				}
			}
			return len(p) >= n
		}
	}
	waitFor(t, "A and B failed", backedOff(2))

	c1 := mustEnqueue(t, q, "halyk", "C")
	q.Kick("halyk") // the head, A's, once more: it fails again
	waitFor(t, "A tried again", func() bool { return aFailed.Load() == 2 })
	p := mustPending(t, q, "halyk")
	require.Len(t, p, 3)
	assert.Equal(t, a1, p[0].ID)
	assert.Equal(t, c1, p[2].ID)
	assert.Zero(t, p[2].Attempts, "C's item waits: two orders failed and nothing went through")

	down.Store(false)
	q.Kick("halyk") // A's goes through: B's, in its backoff, is passed by
	waitFor(t, "A's and C's delivered", func() bool {
		p := mustPending(t, q, "halyk")
		return len(p) == 1 && p[0].OrderID == "B"
	})
	q.Kick("halyk")
	waitFor(t, "queue drained", func() bool { return len(mustPending(t, q, "halyk")) == 0 })
}

// TestPerOrderFailuresBesideASuccess: failures in a batch in which another
// order's item went through are those items' own, not the destination's:
// the queue goes on passing their orders by.
func TestPerOrderFailuresBesideASuccess(t *testing.T) {
	db, _ := mustOpenDB(t)
	q := mustNew(t, db, slowPerOrder(), DelivererFunc(func(_ context.Context, it Item, _ bool) (Outcome, error) {
		if it.OrderID == "A" || it.OrderID == "C" {
			return Retry, errNoReply
		}
		return Delivered, nil
	}))
	mustEnqueue(t, q, "halyk", "A")
	mustEnqueue(t, q, "halyk", "B")
	mustEnqueue(t, q, "halyk", "C")
	mustStart(t, q) // one batch: A's and C's fail, B's goes through
	waitFor(t, "B's delivered, A's and C's in backoff", func() bool {
		p := mustPending(t, q, "halyk")
		return len(p) == 2 && !p[0].NextAttemptAt.IsZero() && !p[1].NextAttemptAt.IsZero()
	})
	mustEnqueue(t, q, "halyk", "D")
	waitFor(t, "D's delivered past A's and C's", func() bool { return len(mustPending(t, q, "halyk")) == 2 })
	for _, it := range mustPending(t, q, "halyk") {
		assert.NotEqual(t, "D", it.OrderID)
	}
}
