package saf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func TestFIFOPerBank(t *testing.T) {
	db, _ := mustOpenDB(t)
	rec := newRecorder(16)
	q := mustNew(t, db, fastConfig(), rec)
	var want []uint64
	for i := range 8 {
		want = append(want, mustEnqueue(t, q, "halyk", fmt.Sprintf("order-%d", i)))
	}
	assert.Equal(t, want, ids(mustPending(t, q, "halyk")), "pending lists the queue head first")

	mustStart(t, q)
	got := rec.waitDelivered(t, len(want))
	assert.Equal(t, want, ids(got))
	for _, it := range got {
		assert.Equal(t, 1, it.Attempts)
	}
	waitFor(t, "queue drained", func() bool { return len(mustPending(t, q, "halyk")) == 0 })
}

func TestBanksIndependent(t *testing.T) {
	db, _ := mustOpenDB(t)
	d := newChanDeliverer()
	q := mustNew(t, db, fastConfig(), d)
	mustStart(t, q)

	mustEnqueue(t, q, "stuck", "s-1")
	stuck := d.next(t) // held unanswered for the whole test
	require.Equal(t, "stuck", stuck.it.Queue)

	var want []uint64
	for i := range 3 {
		want = append(want, mustEnqueue(t, q, "fine", fmt.Sprintf("f-%d", i)))
	}
	var got []uint64
	for range want {
		c := d.next(t)
		require.Equal(t, "fine", c.it.Queue, "only the stuck bank's head is in flight")
		got = append(got, c.it.ID)
		c.answer(Delivered, nil)
	}
	assert.Equal(t, want, got)
	waitFor(t, "fine drained", func() bool { return len(mustPending(t, q, "fine")) == 0 })
	assert.Len(t, mustPending(t, q, "stuck"), 1)
	stuck.answer(Delivered, nil)
}

func TestRetryBackoffThenDelivered(t *testing.T) {
	db, _ := mustOpenDB(t)
	cfg := fastConfig()
	cfg.RetryMin, cfg.RetryMax = 5*time.Millisecond, 40*time.Millisecond
	d := newChanDeliverer()
	q := mustNew(t, db, cfg, d)
	mustStart(t, q)
	id := mustEnqueue(t, q, "halyk", "o-1")

	var repeats []bool
	var at []time.Time
	for i, o := range []Outcome{Retry, Retry, Delivered} {
		c := d.next(t)
		at = append(at, time.Now())
		require.Equal(t, id, c.it.ID)
		assert.Equal(t, i+1, c.it.Attempts)
		if i > 0 {
			assert.Equal(t, errNoReply.Error(), c.it.LastError, "the previous attempt's error is kept")
		}
		repeats = append(repeats, c.repeat)
		var err error
		if o == Retry {
			err = errNoReply
		}
		c.answer(o, err)
	}
	assert.Equal(t, []bool{false, true, true}, repeats, "0420 first, 0421 after")
	// Jitter is the identity here, so each wait is at least the nominal
	// backoff: 5ms after the first failure, 10ms after the second.
	assert.GreaterOrEqual(t, at[1].Sub(at[0]), 5*time.Millisecond)
	assert.GreaterOrEqual(t, at[2].Sub(at[1]), 10*time.Millisecond)
	waitFor(t, "head removed", func() bool { return len(mustPending(t, q, "halyk")) == 0 })
	assert.Empty(t, mustDead(t, q))
}

func TestBackoffSchedule(t *testing.T) {
	q := &Queue{cfg: Config{RetryMin: time.Second, RetryMax: 10 * time.Second, Jitter: func(d time.Duration) time.Duration { return d }}}
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i, w := range want {
		assert.Equal(t, w*time.Second, q.backoff(i+1), "after failure %d", i+1)
	}
	assert.Equal(t, 10*time.Second, q.backoff(1000), "no overflow on long outages")

	for range 1000 {
		d := equalJitter(8 * time.Second)
		require.True(t, d >= 4*time.Second && d <= 8*time.Second, "jitter %v out of [d/2, d]", d)
	}
}

func TestMaxAttemptsDeadLetterThenRestFlows(t *testing.T) {
	db, _ := mustOpenDB(t)
	cfg := fastConfig()
	cfg.MaxAttempts = 3
	d := newChanDeliverer()
	q := mustNew(t, db, cfg, d)
	poison := mustEnqueue(t, q, "halyk", "poison")
	next := mustEnqueue(t, q, "halyk", "next")
	mustStart(t, q)

	for i := range 3 {
		c := d.next(t)
		require.Equal(t, poison, c.it.ID, "attempt %d", i+1)
		c.answer(Retry, errNoReply)
	}
	c := d.next(t)
	require.Equal(t, next, c.it.ID, "the item behind the dead head goes next")
	assert.False(t, c.repeat)
	c.answer(Delivered, nil)

	waitFor(t, "queue drained", func() bool { return len(mustPending(t, q, "halyk")) == 0 })
	dead := mustDead(t, q)
	require.Len(t, dead, 1)
	assert.Equal(t, poison, dead[0].ID)
	assert.Equal(t, 3, dead[0].Attempts)
	assert.Equal(t, errNoReply.Error(), dead[0].LastError)
	assert.Equal(t, []byte(testItem("halyk", "poison").Payload), dead[0].Payload)

	stats, err := q.Stats()
	require.NoError(t, err)
	require.Len(t, stats, 1)
	assert.Equal(t, QueueStats{Queue: "halyk", DeadLetters: 1}, stats[0])
}

func TestRejectedGoesToDeadLetterAtOnce(t *testing.T) {
	db, _ := mustOpenDB(t)
	d := newChanDeliverer()
	q := mustNew(t, db, fastConfig(), d) // MaxAttempts 20 by default
	bad := mustEnqueue(t, q, "halyk", "bad")
	good := mustEnqueue(t, q, "halyk", "good")
	mustStart(t, q)

	c := d.next(t)
	require.Equal(t, bad, c.it.ID)
	c.answer(Rejected, errors.New("bank: 0430 action code 904 format error"))
	c = d.next(t)
	require.Equal(t, good, c.it.ID)
	c.answer(Delivered, nil)

	waitFor(t, "queue drained", func() bool { return len(mustPending(t, q, "halyk")) == 0 })
	dead := mustDead(t, q)
	require.Len(t, dead, 1)
	assert.Equal(t, bad, dead[0].ID)
	assert.Equal(t, 1, dead[0].Attempts)
	assert.Contains(t, dead[0].LastError, "format error")
}

func TestRetryDeadLetterGoesToTail(t *testing.T) {
	db, _ := mustOpenDB(t)
	d := newChanDeliverer()
	q := mustNew(t, db, fastConfig(), d)
	mustStart(t, q)
	bad := mustEnqueue(t, q, "halyk", "bad")
	c := d.next(t)
	c.answer(Rejected, errors.New("format error"))
	waitFor(t, "dead letter", func() bool { return len(mustDead(t, q)) == 1 })

	// Hold the queue with an item in flight, so Retry's effect on the order
	// is visible before anything moves.
	first := mustEnqueue(t, q, "halyk", "first")
	inflight := d.next(t)
	require.Equal(t, first, inflight.it.ID)
	second := mustEnqueue(t, q, "halyk", "second")

	require.NoError(t, q.Retry(context.Background(), bad))
	assert.Empty(t, mustDead(t, q))
	pending := mustPending(t, q, "halyk")
	assert.Equal(t, []uint64{first, second, bad}, ids(pending), "a retried dead letter joins the tail with its ID")
	assert.Equal(t, 0, pending[2].Attempts)
	assert.Equal(t, "format error", pending[2].LastError)

	inflight.answer(Delivered, nil)
	c = d.next(t)
	require.Equal(t, second, c.it.ID)
	c.answer(Delivered, nil)
	c = d.next(t)
	require.Equal(t, bad, c.it.ID)
	assert.False(t, c.repeat, "attempts were reset")
	c.answer(Delivered, nil)
	waitFor(t, "queue drained", func() bool { return len(mustPending(t, q, "halyk")) == 0 })

	assert.ErrorIs(t, q.Retry(context.Background(), bad), ErrNotDeadLetter)
	assert.ErrorIs(t, q.Retry(context.Background(), 999), ErrNotDeadLetter)
}

func TestKickSkipsBackoff(t *testing.T) {
	db, _ := mustOpenDB(t)
	cfg := fastConfig()
	cfg.RetryMin, cfg.RetryMax = time.Hour, time.Hour
	d := newChanDeliverer()
	q := mustNew(t, db, cfg, d)
	mustStart(t, q)
	id := mustEnqueue(t, q, "halyk", "o-1")
	d.next(t).answer(Retry, errNoReply)
	waitFor(t, "backoff recorded", func() bool {
		p := mustPending(t, q, "halyk")
		return len(p) == 1 && !p[0].NextAttemptAt.IsZero()
	})
	q.Notify("halyk") // a new arrival does not cut the backoff short...
	mustEnqueue(t, q, "halyk", "o-2")
	q.Kick("halyk") // ...the link coming back does
	c := d.next(t)
	assert.Equal(t, id, c.it.ID)
	assert.True(t, c.repeat)
	c.answer(Delivered, nil)
	d.next(t).answer(Delivered, nil)
}

// TestCrashAfterReplyRepeats covers at-least-once: the bank answered but the
// process died before the removal committed. The item goes again after
// restart, as a repeat.
func TestEnqueueTxFollowsCallerTransaction(t *testing.T) {
	db, _ := mustOpenDB(t)
	rec := newRecorder(4)
	q := mustNew(t, db, fastConfig(), rec)
	mustStart(t, q)
	orders := []byte("orders")

	errDeclined := errors.New("caller aborts")
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(orders)
		require.NoError(t, err)
		require.NoError(t, b.Put([]byte("o-1"), []byte("declined")))
		_, err = q.EnqueueTx(tx, testItem("halyk", "o-1"))
		require.NoError(t, err)
		return errDeclined
	})
	require.ErrorIs(t, err, errDeclined)
	assert.Empty(t, mustPending(t, q, "halyk"), "rolled back with the caller")

	var id uint64
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(orders)
		if err != nil {
			return err
		}
		if err := b.Put([]byte("o-1"), []byte("declined")); err != nil {
			return err
		}
		id, err = q.EnqueueTx(tx, testItem("halyk", "o-1"))
		return err
	}))
	got := rec.waitDelivered(t, 1) // woken by the commit, no Notify
	assert.Equal(t, id, got[0].ID)

	err = db.View(func(tx *bolt.Tx) error {
		_, err := q.EnqueueTx(tx, testItem("halyk", "o-2"))
		return err
	})
	assert.ErrorIs(t, err, ErrReadOnlyTx)
}

func TestEnqueueValidates(t *testing.T) {
	db, _ := mustOpenDB(t)
	q := mustNew(t, db, fastConfig(), newRecorder(0))
	long := func(n int) string { return string(make([]byte, n)) }
	for name, it := range map[string]Item{
		"no bank":       {Kind: "k"},
		"long bank":     {Queue: long(MaxQueueLen + 1), Kind: "k"},
		"no kind":       {Queue: "b"},
		"long kind":     {Queue: "b", Kind: long(MaxKindLen + 1)},
		"long order":    {Queue: "b", Kind: "k", OrderID: long(MaxOrderIDLen + 1)},
		"large payload": {Queue: "b", Kind: "k", Payload: make([]byte, MaxPayloadLen+1)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := q.Enqueue(context.Background(), it)
			assert.Error(t, err)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := q.Enqueue(ctx, testItem("b", "o"))
	assert.ErrorIs(t, err, context.Canceled)
}

func TestConcurrentEnqueue(t *testing.T) {
	db, _ := mustOpenDB(t)
	const goroutines, each = 8, 20
	rec := newRecorder(goroutines * each)
	q := mustNew(t, db, fastConfig(), rec)
	mustStart(t, q)
	banks := []string{"halyk", "kaspi", "forte"}

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				bank := banks[(g+i)%len(banks)]
				if _, err := q.Enqueue(context.Background(), testItem(bank, fmt.Sprintf("g%d-%d", g, i))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := rec.waitDelivered(t, goroutines*each)

	seen := map[uint64]bool{}
	last := map[string]uint64{} // per queue, IDs are delivered in increasing order
	for _, it := range got {
		require.False(t, seen[it.ID], "id %d delivered twice", it.ID)
		seen[it.ID] = true
		require.Greater(t, it.ID, last[it.Queue], "bank %s out of order", it.Queue)
		last[it.Queue] = it.ID
	}
	for _, b := range banks {
		waitFor(t, b+" drained", func() bool { return len(mustPending(t, q, b)) == 0 })
	}
}

func TestUnknownOutcomeIsRetry(t *testing.T) {
	db, _ := mustOpenDB(t)
	d := newChanDeliverer()
	q := mustNew(t, db, fastConfig(), d)
	mustStart(t, q)
	id := mustEnqueue(t, q, "halyk", "o-1")
	d.next(t).answer(Outcome(42), nil)
	c := d.next(t)
	require.Equal(t, id, c.it.ID, "an outcome the queue does not know never removes an item")
	assert.Contains(t, c.it.LastError, "unknown")
	c.answer(Delivered, nil)
}

func TestCorruptHeadIsMovedAside(t *testing.T) {
	db, _ := mustOpenDB(t)
	rec := newRecorder(1)
	q := mustNew(t, db, fastConfig(), rec)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketPending).CreateBucketIfNotExists([]byte("halyk"))
		if err != nil {
			return err
		}
		return b.Put(u64(0), []byte{0x01, 0xff}) // sorts before any real position
	}))
	id := mustEnqueue(t, q, "halyk", "o-1")
	_, err := q.Pending("halyk")
	assert.ErrorIs(t, err, errCorrupt)

	mustStart(t, q)
	got := rec.waitDelivered(t, 1)
	assert.Equal(t, id, got[0].ID)
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.Equal(t, []byte{0x01, 0xff}, tx.Bucket(bucketCorrupt).Get(append([]byte("halyk\x00"), u64(0)...)))
		return nil
	}))
}

func TestStatsAndMetrics(t *testing.T) {
	db, _ := mustOpenDB(t)
	var mu sync.Mutex
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cfg := fastConfig()
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	d := newChanDeliverer()
	reg := prometheus.NewRegistry()
	q, err := New(db, cfg, d, zerolog.Nop(), reg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close(context.Background())) })

	rejected := mustEnqueue(t, q, "halyk", "o-1")
	advance(90 * time.Second)
	mustEnqueue(t, q, "halyk", "o-2")
	mustEnqueue(t, q, "kaspi", "o-3")
	mustStart(t, q)
	for range 3 {
		c := d.next(t)
		switch c.it.OrderID {
		case "o-1":
			c.answer(Rejected, errors.New("format error"))
		case "o-2":
			// The clock is frozen, so o-2's backoff never runs out: it
			// stays the halyk head until Kick.
			c.answer(Retry, errNoReply)
		case "o-3":
			c.answer(Delivered, nil)
		}
	}
	waitFor(t, "outcomes recorded", func() bool {
		s, err := q.Stats()
		return err == nil && len(s) == 1 && s[0].DeadLetters == 1 && s[0].HeadLastError != ""
	})
	stats, err := q.Stats()
	require.NoError(t, err)
	assert.Equal(t, []QueueStats{{
		Queue: "halyk", Depth: 1, DeadLetters: 1, OldestAge: 0,
		HeadAttempts: 1, HeadNextAttemptAt: now.Add(time.Millisecond), HeadLastError: errNoReply.Error(),
	}}, stats)

	require.NoError(t, q.Retry(context.Background(), rejected))
	advance(30 * time.Second)
	stats, err = q.Stats()
	require.NoError(t, err)
	require.Len(t, stats, 1)
	assert.Equal(t, 2, stats[0].Depth)
	assert.Equal(t, 0, stats[0].DeadLetters)
	assert.Equal(t, 120*time.Second, stats[0].OldestAge, "o-1, back from the dead letters, was queued 120s ago")

	values := gather(t, reg)
	assert.Equal(t, 2.0, values[`tulpar_saf_depth{queue="halyk"}`])
	assert.Equal(t, 0.0, values[`tulpar_saf_depth{queue="kaspi"}`], "a drained bank reports zero")
	assert.Equal(t, 0.0, values[`tulpar_saf_dead_letters{queue="halyk"}`])
	assert.Equal(t, 120.0, values[`tulpar_saf_oldest_age_seconds{queue="halyk"}`])
	assert.Equal(t, 1.0, values[`tulpar_saf_delivered_total{queue="kaspi"}`])
	assert.Equal(t, 1.0, values[`tulpar_saf_attempts_total{outcome="retry",queue="halyk"}`])
	assert.Equal(t, 1.0, values[`tulpar_saf_attempts_total{outcome="rejected",queue="halyk"}`])
	assert.Equal(t, 1.0, values[`tulpar_saf_attempts_total{outcome="delivered",queue="kaspi"}`])

	q.Kick("halyk")
	for _, want := range []string{"o-2", "o-1"} {
		c := d.next(t)
		require.Equal(t, want, c.it.OrderID)
		c.answer(Delivered, nil)
	}
	waitFor(t, "halyk drained", func() bool { return len(mustPending(t, q, "halyk")) == 0 })

	_, err = New(db, cfg, d, zerolog.Nop(), reg)
	assert.Error(t, err, "a second queue cannot register the same metrics")
}

// gather flattens reg's metrics to name{labels} -> value.
func gather(tb testing.TB, reg *prometheus.Registry) map[string]float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	require.NoError(tb, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName() + "{"
			for i, l := range m.GetLabel() {
				if i > 0 {
					key += ","
				}
				key += fmt.Sprintf("%s=%q", l.GetName(), l.GetValue())
			}
			key += "}"
			switch {
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func TestConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg     Config
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		"zero value takes defaults": {check: func(t *testing.T, c Config) {
			assert.Equal(t, DefaultRetryMin, c.RetryMin)
			assert.Equal(t, DefaultRetryMax, c.RetryMax)
			assert.Equal(t, DefaultMaxAttempts, c.MaxAttempts)
			assert.Equal(t, DefaultAttemptTimeout, c.AttemptTimeout)
			assert.NotNil(t, c.Now)
			assert.NotNil(t, c.Jitter)
		}},
		"RetryMin above default RetryMax lifts it": {cfg: Config{RetryMin: time.Hour}, check: func(t *testing.T, c Config) {
			assert.Equal(t, time.Hour, c.RetryMax)
		}},
		"negative MaxAttempts means unlimited": {cfg: Config{MaxAttempts: -1}, check: func(t *testing.T, c Config) {
			assert.Equal(t, -1, c.MaxAttempts)
		}},
		"RetryMax below RetryMin": {cfg: Config{RetryMin: time.Second, RetryMax: time.Millisecond}, wantErr: "RetryMax"},
		"negative RetryMin":       {cfg: Config{RetryMin: -1}, wantErr: "RetryMin"},
		"negative AttemptTimeout": {cfg: Config{AttemptTimeout: -1}, wantErr: "AttemptTimeout"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := tc.cfg.withDefaults()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestUnlimitedAttemptsNeverDeadLetters(t *testing.T) {
	db, _ := mustOpenDB(t)
	cfg := fastConfig()
	cfg.MaxAttempts = -1
	d := newChanDeliverer()
	q := mustNew(t, db, cfg, d)
	mustStart(t, q)
	id := mustEnqueue(t, q, "halyk", "o-1")
	for range DefaultMaxAttempts + 5 {
		c := d.next(t)
		require.Equal(t, id, c.it.ID)
		c.answer(Retry, errNoReply)
	}
	d.next(t).answer(Delivered, nil)
	waitFor(t, "drained", func() bool { return len(mustPending(t, q, "halyk")) == 0 })
	assert.Empty(t, mustDead(t, q))
}

func TestNewRejectsOtherStoreVersion(t *testing.T) {
	db, _ := mustOpenDB(t)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keyVersion, []byte{2})
	}))
	_, err := New(db, Config{}, newRecorder(0), zerolog.Nop(), nil)
	assert.ErrorContains(t, err, "version")
	_, err = New(nil, Config{}, newRecorder(0), zerolog.Nop(), nil)
	assert.Error(t, err)
}

// BenchmarkStats: the metrics scrape over a bank's backlog of 20,000
// items.
func BenchmarkStats(b *testing.B) {
	db, _ := mustOpenDB(b)
	q, err := New(db, fastConfig(), newChanDeliverer(), zerolog.Nop(), nil)
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, q.Close(context.Background())) })
	payload := bytes.Repeat([]byte("x"), 600) // an advice's size
	require.NoError(b, db.Update(func(tx *bolt.Tx) error {
		for i := range 20000 {
			it := testItem("halyk", fmt.Sprintf("o-%d", i))
			it.Payload = payload
			if _, err := q.EnqueueTx(tx, it); err != nil {
				return err
			}
		}
		return nil
	}))
	for b.Loop() {
		st, err := q.Stats()
		if err != nil || len(st) != 1 || st[0].Depth != 20000 {
			b.Fatal(st, err)
		}
	}
}
