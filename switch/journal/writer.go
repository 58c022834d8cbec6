package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/compact"
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
		// Compressed here, on the caller's goroutine: the writer, which
		// every caller waits for, only copies it.
		e.packed = compact.Append(nil, e.Payload)
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

// Update runs fn in the writer's next commit round, with no entries of
// its own, and returns once that round is durable: bolt.DB.Update for
// writes that need no entry (the store-and-forward queue's steps), sharing
// the round's fsyncs with everyone else's instead of taking the file's one
// write lock between rounds. fn follows TxFunc's rules; its own error is
// returned as it is.
func (j *Journal) Update(fn func(*bolt.Tx) error) error {
	var fnErr error
	_, err := j.AppendTx(context.Background(), nil, func(tx *bolt.Tx, _ []uint64) error {
		fnErr = fn(tx)
		return fnErr
	})
	if err != nil && fnErr != nil {
		return fnErr
	}
	return err
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
			j.reopen()
			j.commit(batch)
		}
		clear(batch) // drop references for the GC
	}
}

// maxKeptArena bounds the encoding buffer the writer keeps between batches;
// a batch of large payloads gets a fresh one that the GC can take back.
const maxKeptArena = 4 << 20

// round is one commit round: the entries of every request the writer took,
// numbered and chained on from the committed tail and encoded, and the
// requests' transaction functions. The writer builds it; a roundLog makes
// it durable.
type round struct {
	records []record
	orders  []orderSeqs // the entries that name an order, by order
	funcs   []roundFunc
	last    uint64         // the last entry's seq
	hash    [HashSize]byte // and its hash: the new head
}

// record is one encoded entry: its key and its stored value.
type record struct {
	key, value []byte
}

// roundFunc is a request's TxFunc with the seqs its entries received.
type roundFunc struct {
	fn   TxFunc
	seqs []uint64
}

// roundLog is where commit rounds go: the one place that knows how they
// are stored. The journal's chain (numbering, hashing, the group commit,
// the answers to callers) is the writer's and does not change with it;
// today it is the bbolt file, and a replicated log (one message per
// round) can stand in front of it when the switch runs on several
// machines.
type roundLog interface {
	// commit makes the round durable, every record and every func, or
	// nothing. A func that fails fails the round with a *funcError.
	commit(r *round) error
	// tail returns the last committed seq and its hash, checked.
	tail() (uint64, [HashSize]byte, error)
}

// funcError is a round's failure caused by one request's TxFunc: the
// writer answers that request with it and commits the others without it.
type funcError struct {
	index int // in round.funcs
	err   error
}

func (e *funcError) Error() string { return e.err.Error() }

// buildRound numbers, chains and encodes the batch's entries after the
// committed tail into j.arena (bbolt keeps references to keys and values
// until commit, so they are carved from an arena that lives at least that
// long).
func (j *Journal) buildRound(batch []*request) *round {
	r := &round{funcs: make([]roundFunc, len(batch))}
	seq, prev := j.lastSeq, j.lastHash
	arena := j.arena[:0]
	var orders orderGroups
	left := 0 // entries of the round not yet encoded
	for _, req := range batch {
		left += len(req.entries)
	}
	for i, req := range batch {
		seqs := make([]uint64, len(req.entries))
		for k := range req.entries {
			e := &req.entries[k]
			seq++
			e.Seq, e.PrevHash = seq, prev
			var rec record
			off := len(arena)
			arena = binary.BigEndian.AppendUint64(arena, seq)
			rec.key = arena[off:len(arena):len(arena)]
			off = len(arena)
			// The round's last entry keeps its hash, so a round never
			// leaves the ones before it to be confirmed by the next.
			left--
			arena, prev = appendStored(arena, e, left == 0 || seq%hashEvery == 0)
			rec.value = arena[off:len(arena):len(arena)]
			orders.add(e.OrderID, seq)
			r.records = append(r.records, rec)
			seqs[k] = seq
		}
		r.funcs[i] = roundFunc{fn: req.fn, seqs: seqs}
	}
	if cap(arena) <= maxKeptArena {
		j.arena = arena
	}
	r.last, r.hash, r.orders = seq, prev, orders.list
	return r
}

// commit writes a batch in one round and answers every request in it.
func (j *Journal) commit(batch []*request) {
	for len(batch) > 0 {
		start := time.Now()
		r := j.buildRound(batch)
		err := j.store.commit(r)
		var fe *funcError
		if errors.As(err, &fe) {
			// Numbered again without the failed request: the same seqs
			// go to the entries that are committed.
			j.m.failed.Inc()
			batch[fe.index].done <- result{err: fmt.Errorf("journal: append tx func: %w", fe.err)}
			batch = append(batch[:fe.index], batch[fe.index+1:]...)
			continue
		}
		if err != nil {
			j.m.failed.Add(float64(len(batch)))
			j.log.Error().Err(err).Int("requests", len(batch)).Int("entries", len(r.records)).Msg("journal commit failed")
			err = fmt.Errorf("%w: %w", ErrCommit, err)
			j.setHealth(err)
			for _, req := range batch {
				req.done <- result{err: err}
			}
			return
		}
		j.lastSeq, j.lastHash = r.last, r.hash
		j.setHealth(nil)
		j.m.observe(len(r.records), time.Since(start))
		for i, req := range batch {
			req.done <- result{seqs: r.funcs[i].seqs}
		}
		return
	}
}

// boltLog keeps the rounds in the journal's buckets of the bbolt file, in
// the transaction that also runs the callers' TxFuncs on their buckets.
type boltLog struct{ db *DB }

func (l boltLog) commit(r *round) error {
	return l.db.Update(func(tx *bolt.Tx) error {
		eb, ob, mb := tx.Bucket(entriesBucket), tx.Bucket(orderBucket), tx.Bucket(metaBucket)
		if eb == nil || ob == nil || mb == nil {
			return ErrNoJournal
		}
		// Entries are only ever appended at the end of their bucket: at
		// bbolt's default fill a split leaves every page half empty, which
		// doubled the pages the journal writes and the file's growth.
		eb.FillPercent = 1
		n := 0
		for i, f := range r.funcs {
			for range f.seqs {
				rec := r.records[n]
				n++
				if err := eb.Put(rec.key, rec.value); err != nil {
					return err
				}
			}
			if f.fn != nil {
				if err := callTxFunc(f.fn, tx, f.seqs); err != nil {
					return &funcError{index: i, err: err}
				}
			}
		}
		if err := indexRound(ob, r.orders); err != nil {
			return err
		}
		return mb.Put(headKey, mark{seq: r.last, prev: r.hash}.encode())
	})
}

func (l boltLog) tail() (seq uint64, hash [HashSize]byte, err error) {
	err = l.db.View(func(tx *bolt.Tx) error {
		seq, hash, err = loadTail(tx)
		return err
	})
	return seq, hash, err
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
