package saf

// Start, Close and restarts: what survives the process and what waits for what.

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRestartResumesDelivery(t *testing.T) {
	db, path := mustOpenDB(t)
	down := newRecorder(0) // the banks never answer
	down.outOf = func(Item, bool) (Outcome, error) { return Retry, errNoReply }
	q1, err := New(db, fastConfig(), down, zerolog.Nop(), nil)
	require.NoError(t, err)
	mustStart(t, q1)
	a := mustEnqueue(t, q1, "halyk", "a")
	b := mustEnqueue(t, q1, "halyk", "b")
	other := mustEnqueue(t, q1, "kaspi", "c")
	waitFor(t, "both attempts recorded", func() bool {
		h, k := mustPending(t, q1, "halyk"), mustPending(t, q1, "kaspi")
		return len(h) == 2 && h[0].LastError != "" && len(k) == 1 && k[0].LastError != ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	require.NoError(t, q1.Close(ctx))
	require.NoError(t, db.Close())

	// The new process: same file, new Queue, no Enqueue or Notify.
	db2 := mustReopenDB(t, path)
	rec := newRecorder(8)
	q2 := mustNew(t, db2, fastConfig(), rec)
	mustStart(t, q2)
	got := rec.waitDelivered(t, 3)
	byBank := map[string][]uint64{}
	repeat := map[uint64]bool{}
	rec.mu.Lock()
	for _, c := range rec.seen {
		repeat[c.it.ID] = c.repeat
	}
	rec.mu.Unlock()
	for _, it := range got {
		byBank[it.Queue] = append(byBank[it.Queue], it.ID)
	}
	assert.Equal(t, []uint64{a, b}, byBank["halyk"])
	assert.Equal(t, []uint64{other}, byBank["kaspi"])
	assert.Equal(t, map[uint64]bool{a: true, b: false, other: true}, repeat)
}

func TestCrashAfterReplyRepeats(t *testing.T) {
	db, path := mustOpenDB(t)
	d1 := newChanDeliverer()
	q1, err := New(db, fastConfig(), d1, zerolog.Nop(), nil)
	require.NoError(t, err)
	mustStart(t, q1)
	id := mustEnqueue(t, q1, "halyk", "o-1")
	c := d1.next(t)
	assert.False(t, c.repeat)

	// The "crash": the store goes away while the attempt is in flight, so
	// the bank's answer cannot be recorded.
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, q1.Close(expired), context.Canceled)
	require.NoError(t, db.Close())
	c.answer(Delivered, nil)
	q1.wg.Wait() // the worker gives up recording and exits

	db2 := mustReopenDB(t, path)
	rec := newRecorder(1)
	q2 := mustNew(t, db2, fastConfig(), rec)
	mustStart(t, q2)
	got := rec.waitDelivered(t, 1)
	assert.Equal(t, id, got[0].ID)
	assert.Equal(t, 2, got[0].Attempts)
	rec.mu.Lock()
	assert.True(t, rec.seen[0].repeat, "sent again as 0421")
	rec.mu.Unlock()
}

func TestCloseWaitsForInFlightDelivery(t *testing.T) {
	db, _ := mustOpenDB(t)
	d := newChanDeliverer()
	q, err := New(db, fastConfig(), d, zerolog.Nop(), nil)
	require.NoError(t, err)
	mustStart(t, q)
	mustEnqueue(t, q, "halyk", "o-1")
	mustEnqueue(t, q, "halyk", "o-2")
	c := d.next(t)

	closed := make(chan error, 1)
	go func() { closed <- q.Close(context.Background()) }()
	waitFor(t, "close begun", func() bool {
		select {
		case <-q.stop:
			return true
		default:
			return false
		}
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a delivery was in flight", err)
	default:
	}
	require.NoError(t, c.ctx.Err(), "the in-flight attempt is not cancelled by a patient Close")
	c.answer(Delivered, nil)
	require.NoError(t, <-closed)

	pending := mustPending(t, q, "halyk")
	require.Len(t, pending, 1, "the finished attempt was recorded and no new one started")
	assert.Equal(t, "o-2", pending[0].OrderID)
	assert.Equal(t, 0, pending[0].Attempts)

	// After Close: queuing still works (it is on disk for the next start),
	// Notify is harmless, Start refuses, Close is idempotent.
	mustEnqueue(t, q, "halyk", "o-3")
	q.Notify("halyk")
	assert.ErrorIs(t, q.Start(context.Background()), ErrClosed)
	require.NoError(t, q.Close(context.Background()))
}

func TestCloseDeadlineCancelsDelivery(t *testing.T) {
	db, _ := mustOpenDB(t)
	d := newChanDeliverer()
	q, err := New(db, fastConfig(), d, zerolog.Nop(), nil)
	require.NoError(t, err)
	mustStart(t, q)
	mustEnqueue(t, q, "halyk", "o-1")
	c := d.next(t)

	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	require.ErrorIs(t, q.Close(ctx), context.DeadlineExceeded)
	select {
	case <-c.ctx.Done():
	case <-time.After(waitLimit):
		t.Fatal("the in-flight attempt's context was not cancelled")
	}
	q.wg.Wait()
	p := mustPending(t, q, "halyk")
	require.Len(t, p, 1, "a cancelled attempt is a Retry, recorded on the way out")
	assert.Equal(t, 1, p[0].Attempts)
	assert.Contains(t, p[0].LastError, "context canceled")
}

func TestStartContextEndsWorkers(t *testing.T) {
	db, _ := mustOpenDB(t)
	d := newChanDeliverer()
	q := mustNew(t, db, fastConfig(), d)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, q.Start(ctx))
	assert.ErrorIs(t, q.Start(ctx), ErrStarted)
	mustEnqueue(t, q, "halyk", "o-1")
	c := d.next(t)
	cancel()
	<-c.ctx.Done()
	q.wg.Wait()
	mustEnqueue(t, q, "halyk", "o-2") // no worker to wake; stays on disk
	assert.Len(t, mustPending(t, q, "halyk"), 2)
}
