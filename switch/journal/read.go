package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	bolt "go.etcd.io/bbolt"
)

// iterateChunk is how many entries Iterate reads per read transaction. Short
// transactions matter on a live switch: a long bbolt read transaction blocks
// the writer whenever the file must be re-mapped to grow.
const iterateChunk = 512

// Iterate calls fn for every entry with Seq >= from, in sequence order, until
// the end of the journal as it stands when Iterate reaches it, reading the
// archives and then the live file as one history (entries before the
// oldest archive kept are skipped). fn gets its own copy of each entry. If
// fn returns an error, Iterate stops and returns it. An entry that fails to
// decode or whose hash is wrong, or a stretch of the chain in no file,
// stops Iterate with a *ChainError; Iterate does not check the links
// between entries (Verify does).
//
// Entries are read in chunks, each in its own short read transaction, and fn
// runs outside any transaction, so fn may call Append. Because entries are
// never changed once written, the chunks together still see a consistent
// prefix of the journal.
func (j *Journal) Iterate(from uint64, fn func(Entry) error) error {
	next := max(from, j.firstSeq())
	chunk := make([]Entry, 0, iterateChunk)
	for {
		var err error
		chunk, err = j.readFrom(next, iterateChunk, chunk[:0])
		if err != nil {
			return err
		}
		for _, e := range chunk {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(chunk) == 0 {
			return nil
		}
		next = chunk[len(chunk)-1].Seq + 1
	}
}

// firstSeq is where the kept history begins: entry 1, or the first entry
// after the archives Prune removed.
func (j *Journal) firstSeq() uint64 {
	first := uint64(1)
	_ = j.db.View(func(tx *bolt.Tx) error {
		retained, err := readMark(tx.Bucket(metaBucket), retainedKey)
		first = retained.seq
		return err
	})
	return first
}

// readFrom appends to out up to n entries from seq next on, all from the
// one file that holds next. It returns none past the end of the journal.
func (j *Journal) readFrom(next uint64, n int, out []Entry) ([]Entry, error) {
	// Archive lists an archive before its entries leave the live file, so
	// an entry below the live file's base that no archive listed a moment
	// ago is in the one listed since: look again once.
	for attempt := 0; attempt < 2; attempt++ {
		segs := j.arch.acquire()
		for _, s := range segs {
			if s.holds(next) {
				err := s.db.View(func(tx *bolt.Tx) error {
					var err error
					out, err = readEntries(tx, next, s.last, n, out)
					return err
				})
				release(segs)
				return out, err
			}
		}
		release(segs)
		var base mark
		err := j.db.View(func(tx *bolt.Tx) error {
			var err error
			if base, err = readMark(tx.Bucket(metaBucket), baseKey); err != nil || next < base.seq {
				return err
			}
			out, err = readEntries(tx, next, math.MaxUint64, n, out)
			return err
		})
		if err != nil || next >= base.seq {
			return out, err
		}
	}
	return out, j.gapError(next)
}

// readEntries appends entries next..last (at most limit of them) from one
// file's entries bucket.
func readEntries(tx *bolt.Tx, next, last uint64, limit int, out []Entry) (_ []Entry, err error) {
	c := tx.Bucket(entriesBucket).Cursor()
	p := newChainReader(tx)
	defer p.done(&err)
	n := 0
	for k, v := c.Seek(seqKey(next)); k != nil && n < limit; k, v = c.Next() {
		var e Entry
		if err := checkStored(k, v, p, &e, true); err != nil {
			return out, err
		}
		if e.Seq > last {
			break
		}
		out = append(out, e)
		n++
	}
	return out, nil
}

// ByOrder returns every entry carrying orderID, in sequence order, from the
// archives and the live file, each file read in one transaction through its
// order index.
func (j *Journal) ByOrder(orderID string) ([]Entry, error) {
	if orderID == "" || len(orderID) > MaxFieldLen {
		return nil, nil
	}
	for attempt := 0; ; attempt++ {
		var out []Entry
		segs := j.arch.acquire()
		archived := uint64(0) // the last entry the listed archives hold
		for _, s := range segs {
			if err := s.db.View(func(tx *bolt.Tx) error {
				var err error
				out, err = byOrder(tx, orderID, 0, out)
				return err
			}); err != nil {
				release(segs)
				return nil, err
			}
			archived = s.last
		}
		release(segs)
		var base mark
		err := j.db.View(func(tx *bolt.Tx) error {
			var err error
			if base, err = readMark(tx.Bucket(metaBucket), baseKey); err != nil {
				return err
			}
			out, err = byOrder(tx, orderID, max(base.seq, archived+1), out)
			return err
		})
		if err != nil {
			return nil, err
		}
		// Entries between the archives and the live file: an archive listed
		// since the archives were read took them out of the live file (read
		// again), or they were pruned with every archive.
		if base.seq <= archived+1 || attempt == 1 {
			return out, nil
		}
	}
}

// byOrder appends orderID's entries with seq >= from in one file.
func byOrder(tx *bolt.Tx, orderID string, from uint64, out []Entry) (_ []Entry, err error) {
	eb := tx.Bucket(entriesBucket)
	c := tx.Bucket(orderBucket).Cursor()
	p := newChainReader(tx)
	defer p.done(&err)
	var seqs []uint64
	for k, v := c.Seek(orderKey(nil, orderID, 0)); isChunkOf(k, orderID); k, v = c.Next() {
		var err error
		if _, seqs, err = chunkSeqs(seqs[:0], k, v); err != nil {
			return out, err
		}
		for _, seq := range seqs {
			if seq < from {
				continue
			}
			key := seqKey(seq)
			v := eb.Get(key)
			if v == nil {
				return out, &ChainError{Seq: seq, Reason: ReasonIndex, Detail: "order index names a missing entry"}
			}
			var e Entry
			if err := checkStored(key, v, p, &e, true); err != nil {
				return out, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// Get returns the entry with sequence number seq, from whichever file holds
// it, or ErrNotFound.
func (j *Journal) Get(seq uint64) (Entry, error) {
	if seq == 0 {
		return Entry{}, ErrNotFound
	}
	es, err := j.readFrom(seq, 1, nil)
	if err != nil {
		var ce *ChainError
		if errors.As(err, &ce) && ce.Reason == ReasonSeqGap && ce.Seq == seq {
			return Entry{}, ErrNotFound
		}
		return Entry{}, err
	}
	if len(es) == 0 || es[0].Seq != seq {
		return Entry{}, ErrNotFound
	}
	return es[0], nil
}

// First returns the oldest entry the journal still holds (entry 1 unless
// Prune let older archives go), or ErrNotFound on an empty journal.
func (j *Journal) First() (Entry, error) {
	return j.Get(j.firstSeq())
}

// Last returns the most recent entry, or ErrNotFound on an empty journal.
func (j *Journal) Last() (Entry, error) {
	var e Entry
	err := j.db.View(func(tx *bolt.Tx) error {
		base, err := readMark(tx.Bucket(metaBucket), baseKey)
		if err != nil {
			return err
		}
		k, v := tx.Bucket(entriesBucket).Cursor().Last()
		if k == nil || len(k) == 8 && binary.BigEndian.Uint64(k) < base.seq {
			return ErrNotFound
		}
		p := newChainReader(tx)
		if err := checkStored(k, v, p, &e, true); err != nil {
			return err
		}
		return p.settle()
	})
	if !errors.Is(err, ErrNotFound) {
		return e, err
	}
	// Every entry archived: the last one is the newest archive's.
	segs := j.arch.acquire()
	defer release(segs)
	if len(segs) == 0 {
		return e, ErrNotFound
	}
	return j.Get(segs[len(segs)-1].last)
}

// Count returns the last sequence number: the number of entries ever
// committed, since sequence numbers start at 1 and have no gaps (archives
// pruned by Prune included).
func (j *Journal) Count() (uint64, error) {
	var n uint64
	err := j.db.View(func(tx *bolt.Tx) error {
		seq, _, _, err := readHead(tx)
		n = seq
		return err
	})
	return n, err
}

// Snapshot writes a consistent copy of the whole bbolt file (the journal and
// any buckets sharing the file) to w, from one read transaction, while
// appends continue. It returns the bytes written. The archives are not in
// it: they are files that never change once written, copied as they are.
func (j *Journal) Snapshot(w io.Writer) (int64, error) {
	var n int64
	err := j.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("journal: snapshot: %w", err)
	}
	return n, nil
}

// CopyTo writes a consistent copy of the file to a new file at path and
// fsyncs it. It refuses to overwrite an existing file. This is how auditors
// get a file they can OpenReadOnly and Verify while the switch keeps the
// original locked.
func (j *Journal) CopyTo(path string) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("journal: copy: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(path)
		}
	}()
	if _, err = j.Snapshot(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("journal: copy %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("journal: copy %s: %w", path, err)
	}
	return nil
}
