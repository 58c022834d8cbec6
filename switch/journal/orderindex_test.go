package journal

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// TestOrderIndexChunks: an order that keeps getting entries, one round at
// a time and several in a round, fills chunks of bounded size; ByOrder
// reads them in order across an archive cut in the middle of a chunk, and
// the chunk goes when its last entry is archived.
func TestOrderIndexChunks(t *testing.T) {
	ctx := context.Background()
	j, _ := mustOpen(t, Options{})
	busy := func(n int, at time.Time) []uint64 {
		var seqs []uint64
		for i := range n {
			e := testEntry(i, 1)
			e.OrderID, e.Time = "busy", at
			other := testEntry(i, 1)
			other.OrderID, other.Time = "other", at
			batch := []Entry{e, other}
			if i%7 == 0 {
				batch = append(batch, e, e) // three in one round
			}
			s, err := j.Append(ctx, batch...)
			require.NoError(t, err)
			seqs = append(seqs, s[0])
			if i%7 == 0 {
				seqs = append(seqs, s[2], s[3])
			}
		}
		return seqs
	}
	want := busy(200, day1)
	want = append(want, busy(100, day2)...)
	require.Equal(t, want, orderHistory(t, j, "busy"))
	MustVerify(t, j)

	chunks := 0
	require.NoError(t, j.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(orderBucket).Cursor()
		for k, v := c.Seek(orderKey(nil, "busy", 0)); isChunkOf(k, "busy"); k, v = c.Next() {
			chunks++
			require.LessOrEqual(t, len(v), maxChunkDeltas+3*binaryMaxVarint, "a chunk stops growing once full")
		}
		return nil
	}))
	require.Greater(t, chunks, 3, "344 entries, two or three bytes each, in chunks of %d bytes", maxChunkDeltas)

	_, err := j.Archive(cutoff(day1), "2026-12-04")
	require.NoError(t, err)
	require.Equal(t, want, orderHistory(t, j, "busy"), "archived and live entries, once each")
	MustVerify(t, j)
	_, err = j.Archive(cutoff(day2), "2026-12-05")
	require.NoError(t, err)
	require.Equal(t, want, orderHistory(t, j, "busy"))
	require.Zero(t, indexKeys(t, j))
	MustVerify(t, j)
}

// binaryMaxVarint is the most bytes a seq's step takes in a chunk.
const binaryMaxVarint = 10

// FuzzChunkSeqs: a chunk value decodes to strictly increasing seqs or to
// an error, never a panic; what appendDeltas writes reads back.
func FuzzChunkSeqs(f *testing.F) {
	f.Add(uint64(4), []byte{4, 4, 4})
	f.Add(uint64(1), []byte{0})
	f.Add(uint64(math.MaxUint64-1), []byte{2})
	f.Add(uint64(7), []byte{0x80})
	f.Fuzz(func(t *testing.T, first uint64, v []byte) {
		_, seqs, err := chunkSeqs(nil, orderKey(nil, "o", first), v)
		if err != nil {
			return
		}
		for i := 1; i < len(seqs); i++ {
			require.Less(t, seqs[i-1], seqs[i])
		}
		back := appendDeltas(nil, seqs[0], seqs[1:])
		_, again, err := chunkSeqs(nil, orderKey(nil, "o", first), back)
		require.NoError(t, err)
		require.Equal(t, seqs, again)
	})
}
