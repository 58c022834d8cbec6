package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Reason says how a chain is broken.
type Reason int

const (
	// ReasonDecode: the stored bytes are not a well-formed entry (or the key
	// is not a sequence number).
	ReasonDecode Reason = iota + 1
	// ReasonHash: the entry's hash is not the SHA-256 of its body: the entry
	// was edited.
	ReasonHash
	// ReasonSeqGap: entry Seq is missing: deleted, or never written.
	ReasonSeqGap
	// ReasonSeqMismatch: the entry stored under key Seq carries another
	// sequence number: entries were moved or swapped.
	ReasonSeqMismatch
	// ReasonPrevHash: entry Seq does not carry the hash of entry Seq-1:
	// an entry before it was replaced by another valid-looking one.
	ReasonPrevHash
	// ReasonHead: the head record (last seq and hash, written with every
	// commit) disagrees with the entries: the tail was cut or extended.
	ReasonHead
	// ReasonIndex: the order index disagrees with the entries.
	ReasonIndex
)

var reasonNames = map[Reason]string{
	ReasonDecode:      "decode error",
	ReasonHash:        "hash mismatch",
	ReasonSeqGap:      "sequence gap",
	ReasonSeqMismatch: "sequence mismatch",
	ReasonPrevHash:    "prev-hash mismatch",
	ReasonHead:        "head mismatch",
	ReasonIndex:       "order index mismatch",
}

func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// ErrChainBroken matches every *ChainError with errors.Is.
var ErrChainBroken = errors.New("journal: chain broken")

// ChainError names the first entry at which the journal stops being the
// chain it claims to be.
type ChainError struct {
	Seq    uint64 // the entry that is broken or missing
	Reason Reason
	Detail string // what was found, for people; never payload bytes
	Err    error  // underlying decode error, if any
}

func (e *ChainError) Error() string {
	msg := fmt.Sprintf("journal: entry %d: %s", e.Seq, e.Reason)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ChainError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrChainBroken) true for any *ChainError.
func (e *ChainError) Is(target error) bool { return target == ErrChainBroken }

// verifyChunk is how many entries Verify checks per read transaction.
const verifyChunk = 4096

// Verify walks the whole journal, the archives and the live file, and
// returns nil if it is intact, or a *ChainError naming the first broken or
// missing entry. It checks, in sequence order: each key is the seq inside
// its value; each value decodes and hashes to its stored hash; seqs run
// without a gap from the first entry kept (1, or where Prune let the
// history begin) through the archives into the live file; each entry
// carries its predecessor's hash, across files too; each file's head
// record names its last entry and its hash; and each file's order index
// holds exactly one key per entry with an order id.
//
// Verify streams in short read transactions (memory does not grow with the
// journal) and may run while the switch appends: it checks the journal up
// to the head it reads first. Run it on a journal from OpenReadOnly over a
// copy made by CopyTo to audit without touching the live file.
//
// What Verify cannot see: a tail cut together with a rewritten head record.
// Catching that needs the head hash kept outside the file (published or
// signed); Last().Hash is the value to anchor.
func (j *Journal) Verify(ctx context.Context) error { return j.VerifyProgress(ctx, nil) }

// VerifyProgress is Verify that reports, after each chunk of entries, how
// many it has checked of how many the head names, for a progress bar on a
// long journal. progress may be nil.
func (j *Journal) VerifyProgress(ctx context.Context, progress func(done, total uint64)) error {
	// An Archive moving entries meanwhile would show as a gap between the
	// archives and the live file: it waits (it is tried again every minute).
	j.archMu.Lock()
	defer j.archMu.Unlock()
	var headSeq uint64
	var retained, base mark
	if err := j.db.View(func(tx *bolt.Tx) error {
		var err error
		if headSeq, _, _, err = readHead(tx); err != nil {
			return err
		}
		if retained, err = readMark(tx.Bucket(metaBucket), retainedKey); err != nil {
			return err
		}
		base, err = readMark(tx.Bucket(metaBucket), baseKey)
		return err
	}); err != nil {
		return err
	}
	report := func(done uint64) {
		if progress != nil {
			progress(done, headSeq)
		}
	}
	want := retained // where the next file must begin
	segs := j.arch.acquire()
	defer release(segs)
	for _, s := range segs {
		if s.base.seq >= base.seq {
			break // a move Archive is making: the live file holds these too
		}
		if err := continues(want, s.base, s.path); err != nil {
			return err
		}
		last, hash, err := verifyFile(ctx, s.db, s.base, report)
		if ce := (*ChainError)(nil); errors.As(err, &ce) {
			ce.Detail = strings.TrimSuffix("in archive "+s.path+"; "+ce.Detail, "; ")
			return ce
		}
		if err != nil {
			return fmt.Errorf("journal: archive %s: %w", s.path, err)
		}
		want = mark{seq: last + 1, prev: hash}
	}
	if err := continues(want, base, "the live file"); err != nil {
		return err
	}
	_, _, err := verifyFile(ctx, j.db, base, report)
	return err
}

// continues checks that a file whose stretch of the chain begins at got
// follows the files before it, which end before want.
func continues(want, got mark, file string) error {
	switch {
	case got.seq > want.seq:
		return &ChainError{Seq: want.seq, Reason: ReasonSeqGap, Detail: fmt.Sprintf("entries %d..%d are in no file; %s begins at %d", want.seq, got.seq-1, file, got.seq)}
	case got.seq < want.seq:
		return &ChainError{Seq: got.seq, Reason: ReasonSeqMismatch, Detail: fmt.Sprintf("%s begins at %d, inside the files before it", file, got.seq)}
	case got.prev != want.prev:
		return &ChainError{Seq: got.seq, Reason: ReasonPrevHash, Detail: fmt.Sprintf("%s begins after hash %x, entry %d hashes to %x", file, got.prev[:6], want.seq-1, want.prev[:6])}
	}
	return nil
}

// verifyFile checks one journal file's stretch of the chain, from its base
// to its head record, and its order index; it returns the head.
func verifyFile(ctx context.Context, db Transactor, base mark, progress func(done uint64)) (uint64, [HashSize]byte, error) {
	var headSeq uint64
	var headHash [HashSize]byte
	if err := db.View(func(tx *bolt.Tx) error {
		var err error
		headSeq, headHash, _, err = readHead(tx)
		return err
	}); err != nil {
		return 0, headHash, err
	}

	prev := base.prev
	next := base.seq  // the seq the chain needs next
	open := uint64(0) // the first entry since the last stored hash, across chunks
	withOrder := 0
	for next <= headSeq {
		if err := ctx.Err(); err != nil {
			return 0, headHash, err
		}
		err := db.View(func(tx *bolt.Tx) error {
			oc := tx.Bucket(orderBucket).Cursor()
			c := tx.Bucket(entriesBucket).Cursor()
			var e Entry
			var buf []uint64
			// The chain so far, for the current values that do not
			// carry the previous hash.
			// The last entry's hash is checked against the head record
			// at the end, so a stretch without stored hashes that runs
			// to the end is confirmed there.
			p := &chainReader{tx: tx, seq: next - 1, hash: prev, open: open}
			defer func() { open = p.open }()
			n := 0
			k, v := c.Seek(seqKey(next))
			for ; k != nil && n < verifyChunk && next <= headSeq; k, v = c.Next() {
				if len(k) != 8 {
					return &ChainError{Seq: next, Reason: ReasonDecode, Detail: fmt.Sprintf("key %x is not a sequence number", k)}
				}
				if seq := binary.BigEndian.Uint64(k); seq != next {
					return &ChainError{Seq: next, Reason: ReasonSeqGap, Detail: fmt.Sprintf("missing; the next entry is %d", seq)}
				}
				if err := checkStored(k, v, p, &e, false); err != nil {
					return err
				}
				if e.PrevHash != prev {
					return &ChainError{Seq: next, Reason: ReasonPrevHash, Detail: fmt.Sprintf("prev hash %x, entry %d hashes to %x", e.PrevHash[:6], next-1, prev[:6])}
				}
				if e.OrderID != "" {
					var has bool
					var err error
					if has, buf, err = indexHas(oc, e.OrderID, next, buf); err != nil {
						return err
					} else if !has {
						return &ChainError{Seq: next, Reason: ReasonIndex, Detail: "entry missing from the order index"}
					}
					withOrder++
				}
				prev = e.Hash
				next++
				n++
			}
			if k == nil && next <= headSeq {
				return &ChainError{Seq: next, Reason: ReasonSeqGap, Detail: fmt.Sprintf("missing; the head names entry %d", headSeq)}
			}
			return nil
		})
		if err != nil {
			return 0, headHash, err
		}
		progress(next - 1)
	}
	if prev != headHash && open != 0 {
		return 0, headHash, &ChainError{Seq: headSeq, Reason: ReasonHead, Detail: fmt.Sprintf(
			"entries %d..%d carry no hash of their own and do not hash to the one the head record holds", open, headSeq)}
	}
	if prev != headHash {
		return 0, headHash, &ChainError{Seq: headSeq, Reason: ReasonHead, Detail: "last entry's hash differs from the head record"}
	}

	// Entries after the head are either appended since Verify began (the
	// head moved with them) or planted behind a head that did not.
	if err := db.View(func(tx *bolt.Tx) error {
		head2, _, _, err := readHead(tx)
		if err != nil {
			return err
		}
		if head2 < headSeq {
			return &ChainError{Seq: head2, Reason: ReasonHead, Detail: fmt.Sprintf("head moved back from %d", headSeq)}
		}
		if k, _ := tx.Bucket(entriesBucket).Cursor().Last(); len(k) == 8 {
			if last := binary.BigEndian.Uint64(k); last > head2 {
				return &ChainError{Seq: head2 + 1, Reason: ReasonHead, Detail: fmt.Sprintf("entries up to %d lie beyond the head", last)}
			}
		}
		return nil
	}); err != nil {
		return 0, headHash, err
	}
	return headSeq, headHash, verifyIndex(ctx, db, base.seq, headSeq, withOrder)
}

// verifyIndex checks every seq the index lists up to headSeq is an entry
// with that order id. With the forward check in Verify (every such entry
// is listed) and equal counts, index and entries match one to one.
func verifyIndex(ctx context.Context, db Transactor, first, headSeq uint64, withOrder int) error {
	var after []byte // last index key checked
	keys := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		done := false
		err := db.View(func(tx *bolt.Tx) error {
			eb := tx.Bucket(entriesBucket)
			c := tx.Bucket(orderBucket).Cursor()
			var k, v []byte
			if after == nil {
				k, v = c.First()
			} else if k, v = c.Seek(after); bytes.Equal(k, after) {
				k, v = c.Next()
			}
			var e Entry
			var sk []byte
			var seqs []uint64
			for n := 0; n < verifyChunk; k, v = c.Next() {
				if k == nil {
					done = true
					return nil
				}
				var id string
				var err error
				if id, seqs, err = chunkSeqs(seqs[:0], k, v); err != nil {
					return err
				}
				after = append(after[:0], k...)
				for _, seq := range seqs {
					if seq > headSeq {
						continue // appended after Verify read the head
					}
					if seq < first {
						continue // archived; the archive's own index has it (an Archive in progress deletes it)
					}
					n++
					keys++
					sk = binary.BigEndian.AppendUint64(sk[:0], seq)
					v := eb.Get(sk)
					if v == nil {
						return &ChainError{Seq: seq, Reason: ReasonIndex, Detail: "order index names a missing entry"}
					}
					// The forward pass checked its hash.
					if err := decodeFields(sk, v, &e); err != nil {
						return err
					}
					if e.OrderID != id {
						return &ChainError{Seq: seq, Reason: ReasonIndex, Detail: "order index files the entry under another order id"}
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if done {
			break
		}
	}
	if keys != withOrder {
		return &ChainError{Seq: headSeq, Reason: ReasonIndex, Detail: fmt.Sprintf("%d entries in the order index for %d entries with an order id", keys, withOrder)}
	}
	return nil
}
