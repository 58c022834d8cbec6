package journal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// The order index ("journal.order") lists each order's entries in chunks.
// A chunk's key is orderKey(order id, its first seq); its value holds the
// chunk's later seqs, each as the uvarint of its distance from the one
// before (never zero). A key without a value is a chunk of one entry:
// what every key of a version-2 file is, so those files read unchanged.
//
// One key an entry (version 2) made the index the journal's second
// biggest bucket: 62 bytes of key and bbolt's element header for every
// entry, in pages half full since keys arrive in the middle of the
// recent orders' range, 1.2 KB an operation of the data file's 6.2 (a
// 30-second bench run). A chunk holds an order's entries in a few bytes
// each, and a round touches each order's last chunk once.

// maxChunkDeltas is how long a chunk's value grows before the order's next
// entries start a new one: an order that keeps getting entries (a shop
// retrying a refused request) rewrites a bounded value, not one that grows
// with it. An order's usual dozen entries fit in one.
const maxChunkDeltas = 96

// orderSeqs is one order's entries in a round, in seq order.
type orderSeqs struct {
	id   string
	seqs []uint64
}

// indexRound files the round's entries under their orders: each order's
// seqs extend its last chunk, or start one when it is full or the order
// has none. Values are new slices: bbolt keeps them until the commit.
func indexRound(ob *bolt.Bucket, orders []orderSeqs) error {
	c := ob.Cursor()
	for _, o := range orders {
		k, v := lastChunk(c, o.id)
		if k != nil && len(v) < maxChunkDeltas {
			first, prev, err := chunkEnds(k, v)
			if err != nil {
				return err
			}
			if o.seqs[0] <= prev {
				return fmt.Errorf("journal: order index: %q chunk %d ends at %d, after the new entry %d", o.id, first, prev, o.seqs[0])
			}
			val := appendDeltas(bytes.Clone(v), prev, o.seqs)
			if err := ob.Put(bytes.Clone(k), val); err != nil {
				return err
			}
			continue
		}
		if err := ob.Put(orderKey(nil, o.id, o.seqs[0]), appendDeltas(nil, o.seqs[0], o.seqs[1:])); err != nil {
			return err
		}
	}
	return nil
}

// lastChunk returns the key and value of orderID's last chunk, or nils.
func lastChunk(c *bolt.Cursor, orderID string) (k, v []byte) {
	k, _ = c.Seek(orderKey(nil, orderID, math.MaxUint64))
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	if !isChunkOf(k, orderID) {
		return nil, nil
	}
	return k, v
}

// isChunkOf says whether k is a chunk key of orderID.
func isChunkOf(k []byte, orderID string) bool {
	return len(k) == 2+len(orderID)+8 && int(binary.BigEndian.Uint16(k)) == len(orderID) && string(k[2:2+len(orderID)]) == orderID
}

// appendDeltas appends seqs, each as its distance from the one before
// (prev for the first), to dst.
func appendDeltas(dst []byte, prev uint64, seqs []uint64) []byte {
	for _, s := range seqs {
		dst = binary.AppendUvarint(dst, s-prev)
		prev = s
	}
	return dst
}

// chunkSeqs appends the seqs of the chunk k, v to dst: its first, then
// the later ones. A malformed chunk is a *ChainError: the index is not
// hashed, but a reader must not follow it to wrong entries.
func chunkSeqs(dst []uint64, k, v []byte) (string, []uint64, error) {
	id, seq, ok := parseOrderKey(k)
	if !ok {
		return "", dst, &ChainError{Reason: ReasonIndex, Detail: fmt.Sprintf("malformed index key %x", k)}
	}
	dst = append(dst, seq)
	for len(v) > 0 {
		d, n := binary.Uvarint(v)
		if n <= 0 || d == 0 || d > math.MaxUint64-seq {
			return id, dst, &ChainError{Seq: seq, Reason: ReasonIndex, Detail: fmt.Sprintf("malformed index chunk of order %q at %x", id, v)}
		}
		seq += d
		dst = append(dst, seq)
		v = v[n:]
	}
	return id, dst, nil
}

// chunkEnds returns a chunk's first and last seq.
func chunkEnds(k, v []byte) (first, last uint64, err error) {
	var buf [32]uint64
	_, seqs, err := chunkSeqs(buf[:0], k, v)
	if err != nil {
		return 0, 0, err
	}
	return seqs[0], seqs[len(seqs)-1], nil
}

// indexHas says whether the index lists seq under orderID.
func indexHas(c *bolt.Cursor, orderID string, seq uint64, buf []uint64) (bool, []uint64, error) {
	k, seqs, err := chunkOf(c, orderID, seq, buf)
	return k != nil, seqs, err
}

// chunkOf returns the chunk of orderID that lists seq, with its seqs
// appended to buf: the chunk that starts at seq, or the one before it.
// k is nil when no chunk lists seq.
func chunkOf(c *bolt.Cursor, orderID string, seq uint64, buf []uint64) (k []byte, seqs []uint64, err error) {
	key := orderKey(nil, orderID, seq)
	k, v := c.Seek(key)
	if !bytes.Equal(k, key) {
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		if !isChunkOf(k, orderID) {
			return nil, buf, nil
		}
	}
	if _, seqs, err = chunkSeqs(buf[:0], k, v); err != nil {
		return nil, seqs, err
	}
	if _, found := slices.BinarySearch(seqs, seq); !found {
		return nil, seqs, nil
	}
	return k, seqs, nil
}

// dropIndexed removes the chunk holding orderID's entry seq when its
// every entry is at or before last; dropThrough calls it for each entry
// it deletes. A chunk that also holds later entries stays as it is, its
// first seqs below the file's base (readers and Verify skip those), and
// goes when its last entry does.
func dropIndexed(ob *bolt.Bucket, orderID string, seq, last uint64) error {
	k, seqs, err := chunkOf(ob.Cursor(), orderID, seq, nil)
	if err != nil || k == nil || seqs[len(seqs)-1] > last {
		return err
	}
	return ob.Delete(bytes.Clone(k))
}

// orderGroups collects a round's or a batch's entries by order, in the
// order each order first appears.
type orderGroups struct {
	list []orderSeqs
	at   map[string]int
}

func (g *orderGroups) add(orderID string, seq uint64) {
	if orderID == "" {
		return
	}
	if g.at == nil {
		g.at = make(map[string]int)
	}
	n, ok := g.at[orderID]
	if !ok {
		n = len(g.list)
		g.at[orderID] = n
		g.list = append(g.list, orderSeqs{id: orderID})
	}
	g.list[n].seqs = append(g.list[n].seqs, seq)
}
