package saf

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// waitLimit bounds every wait in these tests; reaching it is a failure, never
// the way a test goes on.
const waitLimit = 10 * time.Second

// mustOpenDB opens a bbolt file in a fresh temp dir. At cleanup it checks the
// file's consistency, as bbolt's own tests do, and closes it.
func mustOpenDB(tb testing.TB) (*bolt.DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "tulpar.db")
	return mustReopenDB(tb, path), path
}

func mustReopenDB(tb testing.TB, path string) *bolt.DB {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	require.NoError(tb, err)
	tb.Cleanup(func() {
		// Update, not View: Check reads the freelist, which a concurrent
		// writer (a worker recording a late outcome) may be changing.
		if err := db.Update(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		}); err != nil && !errors.Is(err, berrors.ErrDatabaseNotOpen) {
			tb.Errorf("bbolt check: %v", err)
		}
		require.NoError(tb, db.Close())
	})
	return db
}

// fastConfig backs off in milliseconds without jitter.
func fastConfig() Config {
	return Config{
		RetryMin:       time.Millisecond,
		RetryMax:       4 * time.Millisecond,
		AttemptTimeout: waitLimit,
		Jitter:         func(d time.Duration) time.Duration { return d },
	}
}

// mustNew builds a Queue on db; cleanup closes it (before db, as cleanups
// run last-in first-out).
func mustNew(tb testing.TB, db *bolt.DB, cfg Config, d Deliverer) *Queue {
	tb.Helper()
	q, err := New(db, cfg, d, testLogger(tb), prometheus.NewRegistry())
	require.NoError(tb, err)
	tb.Cleanup(func() {
		if cd, ok := d.(*chanDeliverer); ok {
			cd.stop() // an attempt the test left unanswered must not hold Close
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		require.NoError(tb, q.Close(ctx))
	})
	return q
}

func mustStart(tb testing.TB, q *Queue) {
	tb.Helper()
	require.NoError(tb, q.Start(context.Background()))
}

func mustEnqueue(tb testing.TB, q *Queue, bank, order string) uint64 {
	tb.Helper()
	id, err := q.Enqueue(context.Background(), testItem(bank, order))
	require.NoError(tb, err)
	return id
}

func testItem(bank, order string) Item {
	return Item{
		Queue:   bank,
		OrderID: order,
		Kind:    testKind,
		Payload: []byte(`{"mti":"0420","pan":"enc:AAAA","order":"` + order + `"}`),
	}
}

// call is one Deliver call seen by a chanDeliverer; the test answers it.
type call struct {
	it     Item
	repeat bool
	ctx    context.Context
	reply  chan reply
}

type reply struct {
	o   Outcome
	err error
}

func (c call) answer(o Outcome, err error) { c.reply <- reply{o, err} }

// chanDeliverer hands every Deliver call to the test on calls and returns
// what the test answers, or Retry when the attempt's ctx ends first.
type chanDeliverer struct {
	calls    chan call
	done     chan struct{}
	stopOnce sync.Once
}

func newChanDeliverer() *chanDeliverer {
	return &chanDeliverer{calls: make(chan call), done: make(chan struct{})}
}

// stop makes every waiting and future Deliver return Retry.
func (d *chanDeliverer) stop() { d.stopOnce.Do(func() { close(d.done) }) }

func (d *chanDeliverer) Deliver(ctx context.Context, it Item, repeat bool) (Outcome, error) {
	c := call{it: it, repeat: repeat, ctx: ctx, reply: make(chan reply, 1)}
	select {
	case d.calls <- c:
	case <-ctx.Done():
		return Retry, ctx.Err()
	case <-d.done:
		return Retry, errors.New("test over")
	}
	select {
	case r := <-c.reply:
		return r.o, r.err
	case <-ctx.Done():
		return Retry, ctx.Err()
	case <-d.done:
		return Retry, errors.New("test over")
	}
}

// next returns the next Deliver call or fails the test.
func (d *chanDeliverer) next(tb testing.TB) call {
	tb.Helper()
	select {
	case c := <-d.calls:
		return c
	case <-time.After(waitLimit):
		tb.Fatal("timed out waiting for a delivery attempt")
		return call{}
	}
}

// recorder delivers everything at once and records what it saw.
type recorder struct {
	mu        sync.Mutex
	seen      []call
	outOf     func(it Item, repeat bool) (Outcome, error) // nil: Delivered
	delivered chan Item
}

func newRecorder(buf int) *recorder { return &recorder{delivered: make(chan Item, buf)} }

func (r *recorder) Deliver(_ context.Context, it Item, repeat bool) (Outcome, error) {
	o, err := Delivered, error(nil)
	if r.outOf != nil {
		o, err = r.outOf(it, repeat)
	}
	r.mu.Lock()
	r.seen = append(r.seen, call{it: it, repeat: repeat})
	r.mu.Unlock()
	if o == Delivered {
		r.delivered <- it
	}
	return o, err
}

// waitDelivered collects n delivered items in delivery order.
func (r *recorder) waitDelivered(tb testing.TB, n int) []Item {
	tb.Helper()
	out := make([]Item, 0, n)
	timeout := time.After(waitLimit)
	for len(out) < n {
		select {
		case it := <-r.delivered:
			out = append(out, it)
		case <-timeout:
			tb.Fatalf("timed out: %d of %d items delivered", len(out), n)
		}
	}
	return out
}

// waitFor polls cond until it holds or waitLimit passes: a condition, not a
// sleep, decides when the test goes on.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	require.Eventually(tb, cond, waitLimit, time.Millisecond, "timed out waiting for %s", what)
}

func ids(items []Item) []uint64 {
	out := make([]uint64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func mustPending(tb testing.TB, q *Queue, bank string) []Item {
	tb.Helper()
	items, err := q.Pending(bank)
	require.NoError(tb, err)
	return items
}

func mustDead(tb testing.TB, q *Queue) []Item {
	tb.Helper()
	items, err := q.DeadLetters()
	require.NoError(tb, err)
	return items
}

var errNoReply = fmt.Errorf("bank: no reply within 30s")

func testLogger(testing.TB) zerolog.Logger {
	if testing.Verbose() {
		return zerolog.New(zerolog.NewConsoleWriter()).Level(zerolog.DebugLevel)
	}
	return zerolog.Nop()
}

// The queue does not interpret kinds; tests use two of their own.
const (
	testKind  = "test_advice"
	testKind2 = "test_other"
)
