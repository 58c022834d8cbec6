package journal

import (
	"bytes"
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

// iterateChunk is how many entries Iterate reads per read transaction. Short
// transactions matter on a live switch: a long bbolt read transaction blocks
// the writer whenever the file must be re-mapped to grow.
const iterateChunk = 512

// Iterate calls fn for every entry with Seq >= from, in sequence order, until
// the end of the journal as it stands when Iterate reaches it. fn gets its own
// copy of each entry. If fn returns an error, Iterate stops and returns it.
// An entry that fails to decode or whose hash is wrong stops Iterate with a
// *ChainError; Iterate does not check the links between entries (Verify does).
//
// Entries are read in chunks, each in its own short read transaction, and fn
// runs outside any transaction, so fn may call Append. Because entries are
// never changed once written, the chunks together still see a consistent
// prefix of the journal.
func (j *Journal) Iterate(from uint64, fn func(Entry) error) error {
	if from == 0 {
		from = 1
	}
	chunk := make([]Entry, 0, iterateChunk)
	for {
		chunk = chunk[:0]
		err := j.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(entriesBucket).Cursor()
			for k, v := c.Seek(seqKey(from)); k != nil && len(chunk) < iterateChunk; k, v = c.Next() {
				var e Entry
				if err := checkStored(k, v, &e, true); err != nil {
					return err
				}
				chunk = append(chunk, e)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range chunk {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(chunk) < iterateChunk {
			return nil
		}
		from = chunk[len(chunk)-1].Seq + 1
	}
}

// ByOrder returns every entry carrying orderID, in sequence order, read in one
// transaction through the order index.
func (j *Journal) ByOrder(orderID string) ([]Entry, error) {
	if orderID == "" || len(orderID) > MaxFieldLen {
		return nil, nil
	}
	var out []Entry
	err := j.db.View(func(tx *bolt.Tx) error {
		eb := tx.Bucket(entriesBucket)
		prefix := orderPrefix(nil, orderID)
		c := tx.Bucket(orderBucket).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			_, seq, ok := parseOrderKey(k)
			if !ok {
				return &ChainError{Reason: ReasonIndex, Detail: fmt.Sprintf("malformed index key %x", k)}
			}
			key := seqKey(seq)
			v := eb.Get(key)
			if v == nil {
				return &ChainError{Seq: seq, Reason: ReasonIndex, Detail: "order index names a missing entry"}
			}
			var e Entry
			if err := checkStored(key, v, &e, true); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Get returns the entry with sequence number seq, or ErrNotFound.
func (j *Journal) Get(seq uint64) (Entry, error) {
	var e Entry
	err := j.db.View(func(tx *bolt.Tx) error {
		key := seqKey(seq)
		v := tx.Bucket(entriesBucket).Get(key)
		if v == nil {
			return ErrNotFound
		}
		if err := checkStored(key, v, &e, true); err != nil {
			return err
		}
		return nil
	})
	return e, err
}

// Last returns the most recent entry, or ErrNotFound on an empty journal.
func (j *Journal) Last() (Entry, error) {
	var e Entry
	err := j.db.View(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(entriesBucket).Cursor().Last()
		if k == nil {
			return ErrNotFound
		}
		if err := checkStored(k, v, &e, true); err != nil {
			return err
		}
		return nil
	})
	return e, err
}

// Count returns the number of committed entries, which is also the last
// sequence number since sequence numbers start at 1 and have no gaps.
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
// appends continue. It returns the bytes written.
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
