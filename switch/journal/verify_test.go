package journal

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// TestVerifyDetectsTampering writes a journal, edits the closed file as an
// attacker with bbolt in hand would, and checks Verify names the entry.
func TestVerifyDetectsTampering(t *testing.T) {
	const n = 20
	get := func(tx *bolt.Tx, seq uint64) []byte {
		return append([]byte(nil), tx.Bucket(entriesBucket).Get(seqKey(seq))...)
	}
	put := func(tx *bolt.Tx, seq uint64, v []byte) error {
		return tx.Bucket(entriesBucket).Put(seqKey(seq), v)
	}
	// stored reads entry seq as a tamperer who knows the format would:
	// a current value holds neither its seq nor the previous hash, which
	// is the end of the value before.
	stored := func(tx *bolt.Tx, seq uint64) (Entry, error) {
		var prev [HashSize]byte
		if seq > 1 {
			v := get(tx, seq-1)
			copy(prev[:], v[len(v)-HashSize:])
		}
		return DecodeStored(seq, prev, get(tx, seq))
	}
	// reencode rewrites entry seq with a valid hash of its own, linked to
	// the entry before it.
	reencode := func(tx *bolt.Tx, seq uint64, edit func(*Entry)) error {
		e, err := stored(tx, seq)
		if err != nil && !errors.Is(err, ErrHashMismatch) {
			return err
		}
		edit(&e)
		v, _ := EncodeEntry(e)
		return put(tx, seq, v)
	}

	tests := []struct {
		name   string
		tamper func(tx *bolt.Tx) error
		seq    uint64
		reason Reason
	}{
		{"flip a payload byte", func(tx *bolt.Tx) error {
			v := get(tx, 7)
			v[len(v)-HashSize-1] ^= 0x20 // last payload byte (kept raw: under 32 bytes)
			return put(tx, 7, v)
		}, 7, ReasonHash},
		{"flip a hash byte", func(tx *bolt.Tx) error {
			v := get(tx, 3)
			v[len(v)-1] ^= 1
			return put(tx, 3, v)
		}, 3, ReasonHash},
		{"truncate a value", func(tx *bolt.Tx) error { return put(tx, 12, get(tx, 12)[:10]) }, 12, ReasonDecode},
		{"delete an entry", func(tx *bolt.Tx) error {
			return tx.Bucket(entriesBucket).Delete(seqKey(9))
		}, 9, ReasonSeqGap},
		{"delete the first entry", func(tx *bolt.Tx) error {
			return tx.Bucket(entriesBucket).Delete(seqKey(1))
		}, 1, ReasonSeqGap},
		{"swap two entries", func(tx *bolt.Tx) error {
			a, b := get(tx, 5), get(tx, 11)
			if err := put(tx, 5, b); err != nil {
				return err
			}
			return put(tx, 11, a)
		}, 5, ReasonHash}, // a value does not say its seq: under 5 the entry of 11 hashes to something else
		{"swap two entries and renumber them", func(tx *bolt.Tx) error {
			a, b := get(tx, 5), get(tx, 6)
			if err := put(tx, 5, b); err != nil {
				return err
			}
			if err := put(tx, 6, a); err != nil {
				return err
			}
			if err := reencode(tx, 5, func(e *Entry) { e.Seq = 5 }); err != nil {
				return err
			}
			return reencode(tx, 6, func(e *Entry) { e.Seq = 6 })
		}, 5, ReasonIndex}, // re-hashed in their new places (7 would no longer follow); the order index still has them where they were
		{"rewrite an entry with a fresh hash", func(tx *bolt.Tx) error {
			return reencode(tx, 14, func(e *Entry) { e.Payload = []byte(`{"amount":1}`) })
		}, 15, ReasonHash},
		{"cut the tail", func(tx *bolt.Tx) error {
			return tx.Bucket(entriesBucket).Delete(seqKey(n))
		}, n, ReasonSeqGap},
		{"append behind the head", func(tx *bolt.Tx) error {
			e, err := stored(tx, n)
			if err != nil {
				return err
			}
			next := testEntry(99, 1)
			next.Seq, next.PrevHash = n+1, e.Hash
			v, _ := EncodeEntry(next)
			return put(tx, n+1, v)
		}, n + 1, ReasonHead},
		{"drop an index key", func(tx *bolt.Tx) error {
			e, err := stored(tx, 4)
			if err != nil {
				return err
			}
			return tx.Bucket(orderBucket).Delete(orderKey(nil, e.OrderID, 4))
		}, 4, ReasonIndex},
		{"plant an index key", func(tx *bolt.Tx) error {
			return tx.Bucket(orderBucket).Put(orderKey(nil, "order-x", 6), nil)
		}, 6, ReasonIndex},
		// order-3's entries are 4, 8, 12, 16 and 20, in one chunk.
		{"drop an entry from a chunk", func(tx *bolt.Tx) error {
			return tx.Bucket(orderBucket).Put(orderKey(nil, "order-3", 4), appendDeltas(nil, 4, []uint64{12, 16, 20}))
		}, 8, ReasonIndex},
		{"plant an entry in a chunk", func(tx *bolt.Tx) error {
			return tx.Bucket(orderBucket).Put(orderKey(nil, "order-3", 4), appendDeltas(nil, 4, []uint64{8, 12, 13, 16, 20}))
		}, 13, ReasonIndex},
		{"a zero step in a chunk", func(tx *bolt.Tx) error {
			return tx.Bucket(orderBucket).Put(orderKey(nil, "order-3", 4), []byte{4, 0, 4})
		}, 8, ReasonIndex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, path := mustOpen(t, Options{})
			for i := range n {
				_, err := j.Append(context.Background(), testEntry(i, 4))
				require.NoError(t, err)
			}
			MustVerify(t, j)
			require.NoError(t, j.Close())

			editFile(t, path, tt.tamper)

			ro, err := OpenReadOnly(path, Options{})
			require.NoError(t, err)
			defer ro.Close()
			err = ro.Verify(context.Background())
			var ce *ChainError
			require.ErrorAs(t, err, &ce, "tampering went unnoticed")
			require.ErrorIs(t, err, ErrChainBroken)
			require.Equal(t, tt.seq, ce.Seq, "%v", err)
			require.Equal(t, tt.reason, ce.Reason, "%v", err)
			t.Log(err)
		})
	}
}

// TestOpenRefusesBrokenTail: the writer must not extend a chain whose last
// link does not check out, or new valid links would bury the damage.
func TestOpenRefusesBrokenTail(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(tx *bolt.Tx) error
	}{
		{"last entry edited", func(tx *bolt.Tx) error {
			b := tx.Bucket(entriesBucket)
			v := append([]byte(nil), b.Get(seqKey(3))...)
			v[len(v)-1] ^= 1
			return b.Put(seqKey(3), v)
		}},
		{"last entry deleted", func(tx *bolt.Tx) error { return tx.Bucket(entriesBucket).Delete(seqKey(3)) }},
		{"head deleted", func(tx *bolt.Tx) error { return tx.Bucket(metaBucket).Delete(headKey) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, path := mustOpen(t, Options{})
			_, err := j.Append(context.Background(), testEntry(1, 1), testEntry(2, 1), testEntry(3, 1))
			require.NoError(t, err)
			require.NoError(t, j.Close())
			editFile(t, path, tt.tamper)
			_, err = Open(path, Options{})
			var ce *ChainError
			require.True(t, errors.As(err, &ce), "Open must refuse: %v", err)
		})
	}
}

func TestVerifyHonoursContext(t *testing.T) {
	j, _ := mustOpen(t, Options{})
	_, err := j.Append(context.Background(), testEntry(1, 1))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, j.Verify(ctx), context.Canceled)
}
