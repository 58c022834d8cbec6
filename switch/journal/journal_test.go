package journal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

func TestAppendIterateByOrder(t *testing.T) {
	j, _ := mustOpen(t, Options{})
	ctx := context.Background()

	var want []Entry
	for i := range 10 {
		e := testEntry(i, 3)
		seqs, err := j.Append(ctx, e)
		require.NoError(t, err)
		require.Equal(t, []uint64{uint64(i + 1)}, seqs)
		want = append(want, e)
	}
	seqs, err := j.Append(ctx, testEntry(10, 3), testEntry(11, 3))
	require.NoError(t, err)
	require.Equal(t, []uint64{11, 12}, seqs)
	want = append(want, testEntry(10, 3), testEntry(11, 3))

	var got []Entry
	require.NoError(t, j.Iterate(0, func(e Entry) error { got = append(got, e); return nil }))
	require.Len(t, got, len(want))
	var prev [HashSize]byte
	for i, e := range got {
		require.Equal(t, uint64(i+1), e.Seq)
		require.Equal(t, prev, e.PrevHash, "entry %d", e.Seq)
		require.Equal(t, want[i].Payload, e.Payload)
		require.Equal(t, want[i].OrderID, e.OrderID)
		require.True(t, want[i].Time.Equal(e.Time))
		prev = e.Hash
	}

	t.Run("iterate from the middle", func(t *testing.T) {
		var seqs []uint64
		require.NoError(t, j.Iterate(11, func(e Entry) error { seqs = append(seqs, e.Seq); return nil }))
		require.Equal(t, []uint64{11, 12}, seqs)
	})
	t.Run("iterate stops on fn error", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := j.Iterate(1, func(Entry) error { n++; return stop })
		require.ErrorIs(t, err, stop)
		require.Equal(t, 1, n)
	})
	t.Run("by order", func(t *testing.T) {
		require.Equal(t, []uint64{2, 5, 8, 11}, orderHistory(t, j, "order-1"))
		none, err := j.ByOrder("order-9")
		require.NoError(t, err)
		require.Empty(t, none)
	})
	t.Run("get last count", func(t *testing.T) {
		e, err := j.Get(5)
		require.NoError(t, err)
		require.Equal(t, got[4], e)
		_, err = j.Get(99)
		require.ErrorIs(t, err, ErrNotFound)
		last, err := j.Last()
		require.NoError(t, err)
		require.Equal(t, got[len(got)-1], last)
		n, err := j.Count()
		require.NoError(t, err)
		require.EqualValues(t, 12, n)
	})
}

func TestEmptyJournal(t *testing.T) {
	j, _ := mustOpen(t, Options{})
	_, err := j.Last()
	require.ErrorIs(t, err, ErrNotFound)
	n, err := j.Count()
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, j.Iterate(1, func(Entry) error { t.Fatal("no entries expected"); return nil }))
	seqs, err := j.Append(context.Background())
	require.NoError(t, err)
	require.Empty(t, seqs)
}

func TestAppendRejectsInvalidEntry(t *testing.T) {
	j, _ := mustOpen(t, Options{MaxPayloadSize: 100})
	bad := testEntry(1, 1)
	bad.Payload = make([]byte, 101)
	_, err := j.Append(context.Background(), testEntry(0, 1), bad)
	require.ErrorContains(t, err, "entry 2 of 2")
	n, _ := j.Count()
	require.Zero(t, n, "nothing of a rejected call is written")
}

func TestTimeDefaultsToNow(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 123, time.UTC)
	j, _ := mustOpen(t, Options{Now: func() time.Time { return now }})
	e := testEntry(1, 1)
	e.Time = time.Time{}
	_, err := j.Append(context.Background(), e)
	require.NoError(t, err)
	last, err := j.Last()
	require.NoError(t, err)
	require.Equal(t, now, last.Time)
}

func TestRestartContinuesChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	ctx := context.Background()
	var lastHash [HashSize]byte
	for round := range 3 {
		j, err := Open(path, Options{})
		require.NoError(t, err)
		for i := range 5 {
			seqs, err := j.Append(ctx, testEntry(round*5+i, 2))
			require.NoError(t, err)
			require.Equal(t, uint64(round*5+i+1), seqs[0])
		}
		first, err := j.Get(uint64(round*5 + 1))
		require.NoError(t, err)
		require.Equal(t, lastHash, first.PrevHash, "round %d links to the previous run", round)
		last, err := j.Last()
		require.NoError(t, err)
		lastHash = last.Hash
		MustVerify(t, j)
		require.NoError(t, j.Close())
	}
}

func TestConcurrentAppenders(t *testing.T) {
	const writers, each = 64, 200
	reg := prometheus.NewRegistry()
	j, _ := mustOpen(t, Options{Registerer: reg})
	ctx := context.Background()

	var mu sync.Mutex
	seen := make(map[uint64]bool, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var mine []uint64
			for i := range each {
				seqs, err := j.Append(ctx, testEntry(w*each+i, 50))
				if err != nil {
					t.Error(err)
					return
				}
				mine = append(mine, seqs...)
			}
			for i := 1; i < len(mine); i++ {
				if mine[i] <= mine[i-1] {
					t.Errorf("writer %d: seq %d after %d", w, mine[i], mine[i-1])
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, s := range mine {
				if seen[s] {
					t.Errorf("seq %d given twice", s)
				}
				seen[s] = true
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, writers*each)
	for s := uint64(1); s <= writers*each; s++ {
		require.True(t, seen[s], "seq %d missing", s)
	}
	MustVerify(t, j)

	entries, batches := gatherCounter(t, reg, "tulpar_journal_entries_appended_total"), gatherCounter(t, reg, "tulpar_journal_batches_total")
	require.EqualValues(t, writers*each, entries)
	require.Less(t, batches, float64(writers*each), "concurrent appends should share commits")
	t.Logf("%d entries in %v batches", writers*each, batches)
}

func gatherCounter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// blockWriter makes the writer busy inside a TxFunc until the returned
// release is called, so a test can line up requests in the queue.
func blockWriter(t *testing.T, j *Journal) (release func(), done <-chan error) {
	t.Helper()
	entered, gate := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		_, err := j.AppendTx(context.Background(), []Entry{testEntry(0, 1)}, func(*bolt.Tx, []uint64) error {
			select {
			case <-entered:
			default:
				close(entered)
			}
			<-gate
			return nil
		})
		errc <- err
	}()
	<-entered
	return func() { close(gate) }, errc
}

func TestAppendTxSharesTransaction(t *testing.T) {
	j, path := mustOpen(t, Options{})
	ctx := context.Background()
	orders := []byte("orders")

	// A caller's bucket changes with its entries, and seqs are the ones
	// the entries get.
	seqs, err := j.AppendTx(ctx, []Entry{testEntry(1, 1), testEntry(2, 1)}, func(tx *bolt.Tx, seqs []uint64) error {
		b, err := tx.CreateBucketIfNotExists(orders)
		if err != nil {
			return err
		}
		return b.Put([]byte("order-0"), fmt.Appendf(nil, "approved@%d", seqs[1]))
	})
	require.NoError(t, err)
	require.Equal(t, []uint64{1, 2}, seqs)

	// A failing TxFunc leaves neither its entries nor its writes.
	boom := errors.New("boom")
	_, err = j.AppendTx(ctx, []Entry{testEntry(3, 1)}, func(tx *bolt.Tx, _ []uint64) error {
		require.NoError(t, tx.Bucket(orders).Put([]byte("order-0"), []byte("garbage")))
		return boom
	})
	require.ErrorIs(t, err, boom)
	// So does a panicking one, and the writer survives it.
	_, err = j.AppendTx(ctx, []Entry{testEntry(4, 1)}, func(*bolt.Tx, []uint64) error { panic("bug") })
	require.ErrorContains(t, err, "panic: bug")

	n, err := j.Count()
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	require.NoError(t, j.DB().View(func(tx *bolt.Tx) error {
		require.Equal(t, "approved@2", string(tx.Bucket(orders).Get([]byte("order-0"))))
		return nil
	}))

	t.Run("failure in a shared batch spares the others", func(t *testing.T) {
		release, first := blockWriter(t, j)
		type outcome struct {
			name string
			seqs []uint64
			err  error
		}
		out := make(chan outcome, 3)
		var calls sync.Map
		// Queued in this order, they commit as one batch: a, bad, b.
		for i, name := range []string{"a", "bad", "b"} {
			go func() {
				seqs, err := j.AppendTx(ctx, []Entry{testEntry(5, 1)}, func(tx *bolt.Tx, _ []uint64) error {
					c, _ := calls.LoadOrStore(name, new(int))
					*c.(*int)++
					if name == "bad" {
						return boom
					}
					return tx.Bucket(orders).Put([]byte(name), []byte("ok"))
				})
				out <- outcome{name, seqs, err}
			}()
			waitFor(t, "append "+name+" queued", func() bool { return len(j.reqs) == i+1 })
		}
		release()
		require.NoError(t, <-first)
		var got []uint64
		for range 3 {
			o := <-out
			if o.name == "bad" {
				require.ErrorIs(t, o.err, boom)
				continue
			}
			require.NoError(t, o.err)
			got = append(got, o.seqs...)
		}
		require.ElementsMatch(t, []uint64{4, 5}, got, "survivors get contiguous seqs after the blocker's 3")
		require.NoError(t, j.DB().View(func(tx *bolt.Tx) error {
			require.NotNil(t, tx.Bucket(orders).Get([]byte("a")))
			require.NotNil(t, tx.Bucket(orders).Get([]byte("b")))
			return nil
		}))
		// The batch was one transaction: a's func ran, then bad's failed,
		// and the retry without bad ran a's again and b's once.
		count := func(name string) int { c, _ := calls.Load(name); return *c.(*int) }
		require.Equal(t, 2, count("a"))
		require.Equal(t, 1, count("bad"))
		require.Equal(t, 1, count("b"))
	})

	// Both buckets survive a reopen together.
	require.NoError(t, j.Close())
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	require.NoError(t, err)
	j2, err := New(db, Options{})
	require.NoError(t, err)
	MustVerify(t, j2)
	require.NoError(t, j2.Close())
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		require.NotNil(t, tx.Bucket(orders), "New must not close or drop the caller's buckets")
		return nil
	}))
	require.NoError(t, db.Close())
}

func TestContext(t *testing.T) {
	j, _ := mustOpen(t, Options{})

	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := j.Append(ctx, testEntry(1, 1))
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("cancelled while queued withdraws the entries", func(t *testing.T) {
		before, err := j.Count()
		require.NoError(t, err)
		release, first := blockWriter(t, j)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := j.Append(ctx, testEntry(2, 1))
			errc <- err
		}()
		waitFor(t, "the append to queue", func() bool { return len(j.reqs) == 1 })
		cancel()
		err = <-errc
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, ErrOutcomeUnknown)
		release()
		require.NoError(t, <-first)
		// A later append commits after the withdrawn one was skipped.
		seqs, err := j.Append(context.Background(), testEntry(3, 1))
		require.NoError(t, err)
		require.Equal(t, []uint64{before + 2}, seqs, "only the blocker and this one were written")
	})
}

func TestClose(t *testing.T) {
	j, path := mustOpen(t, Options{})
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var written uint64
	for i := range 16 {
		wg.Go(func() {
			if _, err := j.Append(ctx, testEntry(i, 4)); err == nil {
				mu.Lock()
				written++
				mu.Unlock()
			} else {
				require.ErrorIs(t, err, ErrClosed)
			}
		})
	}
	require.NoError(t, j.Close())
	wg.Wait()
	require.NoError(t, j.Close(), "Close twice is fine")
	_, err := j.Append(ctx, testEntry(1, 1))
	require.ErrorIs(t, err, ErrClosed)

	ro, err := OpenReadOnly(path, Options{})
	require.NoError(t, err)
	defer ro.Close()
	n, err := ro.Count()
	require.NoError(t, err)
	require.Equal(t, written, n, "every append that succeeded is on disk, and only those")
	MustVerify(t, ro)
}

func TestReadOnlyAudit(t *testing.T) {
	j, path := mustOpen(t, Options{})
	ctx := context.Background()
	for i := range 100 {
		_, err := j.Append(ctx, testEntry(i, 7))
		require.NoError(t, err)
	}

	// The running writer holds bbolt's exclusive flock: a read-only open of
	// the live file cannot get its shared lock.
	_, err := OpenReadOnly(path, Options{LockTimeout: 50 * time.Millisecond})
	require.ErrorIs(t, err, berrors.ErrTimeout)

	// Auditors verify a consistent copy instead, taken while appends go on.
	copyPath := filepath.Join(t.TempDir(), "audit.db")
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 50 {
			if _, err := j.Append(ctx, testEntry(100+i, 7)); err != nil {
				t.Error(err)
			}
		}
	})
	require.NoError(t, j.CopyTo(copyPath))
	wg.Wait()
	require.Error(t, j.CopyTo(copyPath), "CopyTo never overwrites")

	ro, err := OpenReadOnly(copyPath, Options{})
	require.NoError(t, err)
	defer ro.Close()
	MustVerify(t, ro)
	n, err := ro.Count()
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, uint64(100))
	_, err = ro.Append(ctx, testEntry(1, 1))
	require.ErrorIs(t, err, ErrReadOnly)
	es, err := ro.ByOrder("order-3")
	require.NoError(t, err)
	require.NotEmpty(t, es)

	t.Run("file without a journal", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "other.db")
		db, err := bolt.Open(p, 0o600, nil)
		require.NoError(t, err)
		require.NoError(t, db.Close())
		_, err = OpenReadOnly(p, Options{})
		require.ErrorIs(t, err, ErrNoJournal)
	})
}

func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	j, _ := mustOpen(t, Options{Registerer: reg})
	_, err := j.Append(context.Background(), testEntry(1, 1), testEntry(2, 1))
	require.NoError(t, err)
	require.EqualValues(t, 2, gatherCounter(t, reg, "tulpar_journal_entries_appended_total"))
	require.EqualValues(t, 1, gatherCounter(t, reg, "tulpar_journal_batches_total"))

	// A second journal on the same registry collides instead of silently
	// sharing counters.
	_, err = Open(filepath.Join(t.TempDir(), "second.db"), Options{Registerer: reg})
	require.Error(t, err)
}

// TestUpdateSharesARound: Update runs a write with no entries in the
// writer's next round, in the same bbolt transaction as the entries queued
// beside it, and hands back its own error unwrapped.
func TestUpdateSharesARound(t *testing.T) {
	j, _ := mustOpen(t, Options{})
	release, first := blockWriter(t, j)
	var updateTx, appendTx atomic.Int64
	updated, appended := make(chan error, 1), make(chan error, 1)
	go func() {
		updated <- j.Update(func(tx *bolt.Tx) error {
			updateTx.Store(int64(tx.ID()))
			b, err := tx.CreateBucketIfNotExists([]byte("queue"))
			if err != nil {
				return err
			}
			return b.Put([]byte("head"), []byte("claimed"))
		})
	}()
	go func() {
		_, err := j.AppendTx(context.Background(), []Entry{testEntry(1, 1)}, func(tx *bolt.Tx, _ []uint64) error {
			appendTx.Store(int64(tx.ID()))
			return nil
		})
		appended <- err
	}()
	// Both wait behind the blocked round; then one round takes both.
	waitFor(t, "both queued", func() bool { return len(j.reqs) == 2 })
	release()
	require.NoError(t, <-first)
	require.NoError(t, <-updated)
	require.NoError(t, <-appended)
	require.Equal(t, appendTx.Load(), updateTx.Load(), "one transaction")
	require.NoError(t, j.DB().View(func(tx *bolt.Tx) error {
		require.Equal(t, "claimed", string(tx.Bucket([]byte("queue")).Get([]byte("head"))))
		return nil
	}))

	boom := errors.New("boom")
	err := j.Update(func(tx *bolt.Tx) error {
		require.NoError(t, tx.Bucket([]byte("queue")).Put([]byte("head"), []byte("garbage")))
		return boom
	})
	require.Same(t, boom, err, "its own error, as bolt.DB.Update returns it")
	require.NoError(t, j.DB().View(func(tx *bolt.Tx) error {
		require.Equal(t, "claimed", string(tx.Bucket([]byte("queue")).Get([]byte("head"))), "rolled back")
		return nil
	}))
	require.ErrorContains(t, j.Update(func(*bolt.Tx) error { panic("bug") }), "panic: bug")
}
