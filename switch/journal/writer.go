package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TxFunc writes a caller's own buckets in the transaction that commits its
// entries; seqs are the sequence numbers those entries receive.
//
// It runs on the journal's writer goroutine inside a bbolt Update shared with
// other callers' entries. If another caller's TxFunc in the same batch fails,
// the transaction is rolled back and retried without that caller, so a TxFunc
// may run more than once for one commit: it must only touch tx, and must not
// call tx.Commit or tx.Rollback, block, or call Append (the writer would wait
// on itself). A panic in it is returned to its caller as an error.
type TxFunc func(tx *bolt.Tx, seqs []uint64) error

// request states: the writer and a cancelled caller race to move a request
// out of pending; whoever wins decides whether it is written.
const (
	pending int32 = iota
	taken
	withdrawn
)

type request struct {
	entries []Entry
	fn      TxFunc
	state   atomic.Int32
	done    chan result // buffered 1
}

type result struct {
	seqs []uint64
	err  error
}

// Append writes entries to the journal and returns their sequence numbers
// once the transaction holding them has committed and been fsynced. Entries
// from one call get consecutive sequence numbers in the order given.
//
// If ctx ends before the writer takes the entries, Append returns ctx.Err()
// and nothing is written. If it ends after, Append returns an error matching
// both ErrOutcomeUnknown and ctx.Err(): the entries are probably committed.
func (j *Journal) Append(ctx context.Context, entries ...Entry) ([]uint64, error) {
	return j.AppendTx(ctx, entries, nil)
}

// AppendTx is Append with fn run inside the same bbolt transaction, so a
// caller's own buckets (the order store sharing this file) change atomically
// with the entries that explain the change: after a crash either both are on
// disk or neither is, which is what lets "replay the journal" and "read the
// order store" agree. fn may be nil. See TxFunc for its rules.
func (j *Journal) AppendTx(ctx context.Context, entries []Entry, fn TxFunc) ([]uint64, error) {
	if len(entries) == 0 && fn == nil {
		return nil, nil
	}
	if j.readOnly {
		return nil, ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Time{}
	own := make([]Entry, len(entries))
	for i, e := range entries {
		if e.Time.IsZero() {
			if now.IsZero() {
				now = j.opts.Now()
			}
			e.Time = now
		}
		if err := e.validate(j.opts.MaxPayloadSize); err != nil {
			return nil, fmt.Errorf("entry %d of %d: %w", i+1, len(entries), err)
		}
		own[i] = e
	}
	r := &request{entries: own, fn: fn, done: make(chan result, 1)}

	j.mu.RLock()
	if j.closed {
		j.mu.RUnlock()
		return nil, ErrClosed
	}
	select {
	case j.reqs <- r:
		j.mu.RUnlock()
	case <-ctx.Done():
		j.mu.RUnlock()
		return nil, ctx.Err()
	}

	select {
	case res := <-r.done:
		return res.seqs, res.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(pending, withdrawn) {
			return nil, ctx.Err()
		}
		// The writer has it. A commit is bounded by the disk, but a caller
		// with a deadline is told the truth rather than made to wait.
		select {
		case res := <-r.done:
			return res.seqs, res.err
		default:
			return nil, fmt.Errorf("%w: %w", ErrOutcomeUnknown, ctx.Err())
		}
	}
}

// writer is the only goroutine that writes entries. Each round it takes
// every request waiting in the queue (up to MaxBatchEntries) and commits them
// in one transaction; while it fsyncs, the next callers queue up, so the batch
// size grows with concurrency without any timer.
func (j *Journal) writer() {
	defer close(j.done)
	batch := make([]*request, 0, 64)
	for {
		r, ok := <-j.reqs
		if !ok {
			return
		}
		batch = batch[:0]
		n := 0
		if r.state.CompareAndSwap(pending, taken) {
			batch = append(batch, r)
			n += len(r.entries)
		}
	drain:
		for n < j.opts.MaxBatchEntries {
			select {
			case r, ok := <-j.reqs:
				if !ok {
					break drain // commit what we hold; the outer receive sees the close
				}
				if r.state.CompareAndSwap(pending, taken) {
					batch = append(batch, r)
					n += len(r.entries)
				}
			default:
				break drain
			}
		}
		if len(batch) > 0 {
			j.commit(batch)
		}
		clear(batch) // drop references for the GC
	}
}

// errTxFuncFailed aborts an attempt whose TxFunc failed; commit retries the
// batch without the failed request.
// maxKeptArena bounds the encoding buffer the writer keeps between batches;
// a batch of large payloads gets a fresh one that the GC can take back.
const maxKeptArena = 4 << 20

var errTxFuncFailed = errors.New("journal: tx func failed")

// commit writes a batch in one transaction and answers every request in it.
func (j *Journal) commit(batch []*request) {
	for len(batch) > 0 {
		start := time.Now()
		failed, failedErr := -1, error(nil)
		seqs := make([][]uint64, len(batch))
		seq, prev := j.lastSeq, j.lastHash
		entries := 0

		err := j.db.Update(func(tx *bolt.Tx) error {
			// Seq and prev restart from the committed tail on every attempt,
			// so a retried attempt assigns the same numbers.
			seq, prev, entries = j.lastSeq, j.lastHash, 0
			eb, ob, mb := tx.Bucket(entriesBucket), tx.Bucket(orderBucket), tx.Bucket(metaBucket)
			if eb == nil || ob == nil || mb == nil {
				return ErrNoJournal
			}
			// bbolt keeps references to keys and values until commit, so
			// they are carved from an arena that lives at least that long.
			arena := j.arena[:0]
			for i, r := range batch {
				s := make([]uint64, len(r.entries))
				for k := range r.entries {
					e := &r.entries[k]
					seq++
					e.Seq, e.PrevHash = seq, prev
					off := len(arena)
					arena = binary.BigEndian.AppendUint64(arena, seq)
					key := arena[off:len(arena):len(arena)]
					off = len(arena)
					arena, prev = appendEntry(arena, e)
					if err := eb.Put(key, arena[off:len(arena):len(arena)]); err != nil {
						return err
					}
					if e.OrderID != "" {
						off = len(arena)
						arena = orderKey(arena, e.OrderID, seq)
						if err := ob.Put(arena[off:len(arena):len(arena)], nil); err != nil {
							return err
						}
					}
					s[k] = seq
				}
				entries += len(r.entries)
				seqs[i] = s
				if r.fn != nil {
					if err := callTxFunc(r.fn, tx, s); err != nil {
						failed, failedErr = i, err
						return errTxFuncFailed
					}
				}
			}
			if cap(arena) <= maxKeptArena {
				j.arena = arena
			}
			head := binary.BigEndian.AppendUint64(make([]byte, 0, 8+HashSize), seq)
			return mb.Put(headKey, append(head, prev[:]...))
		})

		if failed >= 0 {
			j.m.failed.Inc()
			batch[failed].done <- result{err: fmt.Errorf("journal: append tx func: %w", failedErr)}
			batch = append(batch[:failed], batch[failed+1:]...)
			continue
		}
		if err != nil {
			j.m.failed.Add(float64(len(batch)))
			j.log.Error().Err(err).Int("requests", len(batch)).Int("entries", entries).Msg("journal commit failed")
			err = fmt.Errorf("%w: %w", ErrCommit, err)
			j.setHealth(err)
			for _, r := range batch {
				r.done <- result{err: err}
			}
			return
		}
		j.lastSeq, j.lastHash = seq, prev
		j.setHealth(nil)
		j.m.observe(entries, time.Since(start))
		for i, r := range batch {
			r.done <- result{seqs: seqs[i]}
		}
		return
	}
}

// callTxFunc turns a panic in a caller's TxFunc into that caller's error
// instead of killing the writer every other caller depends on.
func callTxFunc(fn TxFunc, tx *bolt.Tx, seqs []uint64) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(tx, seqs)
}
