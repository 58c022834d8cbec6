package saf

import (
	"fmt"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	// 200 items in batches of 50: 4 claims, the last recording with the
	// claim that finds the queue empty; a wake may add an empty look.
	var m dto.Metric
	require.NoError(t, q.m.steps.WithLabelValues("halyk").Write(&m))
	commits := m.GetCounter().GetValue()
	require.GreaterOrEqual(t, commits, 5.0)
	require.LessOrEqual(t, commits, 8.0, "a commit per batch, not per item")
}
