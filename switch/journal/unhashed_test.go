package journal

import (
	"context"
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// storedHashes lists the seqs whose values store their hash.
func storedHashes(t *testing.T, path string) (hashed []uint64, n int) {
	t.Helper()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(entriesBucket).ForEach(func(k, v []byte) error {
			n++
			if v[0] != unhashedVersion {
				hashed = append(hashed, binary.BigEndian.Uint64(k))
			}
			return nil
		})
	}))
	return hashed, n
}

// oneRound appends n entries for orders order-0..order-2 in one Append,
// so one commit round: entries store their hash at multiples of hashEvery
// and at n.
func oneRound(t *testing.T, j *Journal, n int) {
	t.Helper()
	var batch []Entry
	for i := range n {
		batch = append(batch, testEntry(i, 3))
	}
	_, err := j.Append(context.Background(), batch...)
	require.NoError(t, err)
}

// roundAcrossDays writes entries 1..50 in one round, 1..40 on day1 and
// 41..50 on day2, and archives day1: the cut falls inside a stretch of
// entries without their hash.
func roundAcrossDays(t *testing.T, j *Journal) *ArchiveInfo {
	t.Helper()
	var batch []Entry
	for i := range 50 {
		e := testEntry(i, 10)
		e.Time = day1.Add(time.Duration(i) * time.Millisecond)
		if i >= 40 {
			e.Time = day2.Add(time.Duration(i) * time.Millisecond)
		}
		batch = append(batch, e)
	}
	_, err := j.Append(context.Background(), batch...)
	require.NoError(t, err)
	info, err := j.Archive(cutoff(day1), "2026-12-04")
	require.NoError(t, err)
	require.Equal(t, uint64(40), info.Last)
	return info
}

// TestRoundStoresFewHashes: a round stores the hash of its last entry and
// of every hashEvery-th seq, and no other: the chain is the same, the
// file 32 bytes an entry smaller.
func TestRoundStoresFewHashes(t *testing.T) {
	j, path := mustOpenFile(t)
	ctx := context.Background()
	oneRound(t, j, 40)                        // 1..40
	_, err := j.Append(ctx, testEntry(40, 3)) // 41, a round of one
	require.NoError(t, err)
	MustVerify(t, j)
	all := make([]Entry, 0, 41)
	require.NoError(t, j.Iterate(1, func(e Entry) error { all = append(all, e); return nil }))
	require.Len(t, all, 41)
	for i := 1; i < len(all); i++ {
		require.Equal(t, all[i-1].Hash, all[i].PrevHash, "entry %d", all[i].Seq)
	}
	require.NoError(t, j.Close())

	hashed, n := storedHashes(t, path)
	require.Equal(t, 41, n)
	require.Equal(t, []uint64{16, 32, 40, 41}, hashed)
}

// TestUnhashedEntryRead: one entry read alone (Get, ByOrder, Last) is
// hashed from the stored hash before it and confirmed by the one after;
// an edit to an entry without a hash fails every read that relies on it
// and hands none of its stretch on, while other stretches read on.
func TestUnhashedEntryRead(t *testing.T) {
	j, path := mustOpenFile(t)
	ctx := context.Background()
	oneRound(t, j, 40)
	var want []Entry
	require.NoError(t, j.Iterate(1, func(e Entry) error { want = append(want, e); return nil }))
	for _, seq := range []uint64{1, 15, 16, 17, 20, 33, 40} {
		e, err := j.Get(seq)
		require.NoError(t, err, "entry %d", seq)
		require.Equal(t, want[seq-1], e)
	}
	history, err := j.ByOrder("order-1")
	require.NoError(t, err)
	require.Len(t, history, 13)
	for _, e := range history {
		require.Equal(t, want[e.Seq-1], e)
	}
	require.NoError(t, j.Close())

	// Entry 20 (no hash of its own: TestRoundStoresFewHashes) edited by
	// hand, its stretch 17..32 broken.
	editFile(t, path, flipEntry(20))
	ro, err := OpenReadOnly(path, Options{})
	require.NoError(t, err)
	defer ro.Close()
	for _, seq := range []uint64{17, 20, 31, 32} {
		_, err := ro.Get(seq)
		var ce *ChainError
		require.ErrorAs(t, err, &ce, "entry %d", seq)
		require.Equal(t, ReasonHash, ce.Reason, "entry %d", seq)
		require.Equal(t, uint64(32), ce.Seq, "entry %d: named where the stored hash is", seq)
	}
	for _, seq := range []uint64{16, 33, 40} {
		_, err := ro.Get(seq)
		require.NoError(t, err, "entry %d is outside the broken stretch", seq)
	}
	_, err = ro.ByOrder("order-2") // 3, 6, ..., 18, 21, ...
	require.ErrorIs(t, err, ErrChainBroken)
	var seen []uint64
	err = ro.Iterate(1, func(e Entry) error { seen = append(seen, e.Seq); return nil })
	require.ErrorIs(t, err, ErrChainBroken)
	require.NotContains(t, seen, uint64(20), "the edited entry is never handed on")
	var ce *ChainError
	require.ErrorAs(t, ro.Verify(ctx), &ce)
	require.Equal(t, uint64(32), ce.Seq)
	require.Contains(t, ce.Detail, "entries 17..32")
}

// TestArchiveCutInsideARound: a business day can end inside a round, so an
// archive can end, and the live file begin, with entries that store no
// hash; the archive's head record and the live file's base carry the
// chain across, and an edit on either side of the cut is found.
func TestArchiveCutInsideARound(t *testing.T) {
	j, path := mustOpenFile(t)
	info := roundAcrossDays(t, j)
	MustVerify(t, j)
	for _, seq := range []uint64{39, 40, 41, 42, 50} {
		e, err := j.Get(seq)
		require.NoError(t, err, "entry %d", seq)
		require.Equal(t, seq, e.Seq)
	}
	last, err := j.Last()
	require.NoError(t, err)
	require.Equal(t, uint64(50), last.Seq)
	require.NoError(t, j.Close())

	hashed, _ := storedHashes(t, info.Path)
	require.Equal(t, []uint64{16, 32}, hashed, "the archive ends on entries without a hash")
	hashed, _ = storedHashes(t, path)
	require.Equal(t, []uint64{48, 50}, hashed, "the live file begins with entries without a hash")

	// Entry 38, in the archive's last stretch: only the head record can
	// tell.
	require.NoError(t, os.Chmod(info.Path, 0o600))
	editFile(t, info.Path, flipEntry(38))
	_, err = OpenReadOnly(path, Options{})
	var ce *ChainError
	require.ErrorAs(t, err, &ce, "opening the archive reads its last entry")
	require.Equal(t, ReasonHead, ce.Reason)
	require.Contains(t, ce.Detail, "entries 33..40")
}

// TestLiveFileBeginsInsideARound: the live file's first entries after a
// cut store no hash; an edit to one is found at the next stored hash.
func TestLiveFileBeginsInsideARound(t *testing.T) {
	j, path := mustOpenFile(t)
	roundAcrossDays(t, j)
	require.NoError(t, j.Close())
	editFile(t, path, flipEntry(41))
	ro, err := OpenReadOnly(path, Options{})
	require.NoError(t, err)
	defer ro.Close()
	var ce *ChainError
	require.ErrorAs(t, ro.Verify(context.Background()), &ce)
	require.Equal(t, ReasonHash, ce.Reason)
	require.Equal(t, uint64(48), ce.Seq)
	require.Contains(t, ce.Detail, "entries 41..48")
	_, err = ro.Get(42)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, uint64(48), ce.Seq)
}

// TestUnhashedWalkOverDamage: hashing back over a stretch that runs into a
// hole and a key that is not a seq is a gap named, not a fault.
func TestUnhashedWalkOverDamage(t *testing.T) {
	j, path := mustOpenFile(t)
	oneRound(t, j, 40)
	require.NoError(t, j.Close())
	editFile(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(entriesBucket)
		if err := b.Delete(seqKey(1)); err != nil {
			return err
		}
		return b.Put([]byte{0, 0, 0, 0, 0}, []byte{unhashedVersion})
	})
	ro, err := OpenReadOnly(path, Options{})
	require.NoError(t, err)
	defer ro.Close()
	_, err = ro.Get(10)
	var ce *ChainError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, ReasonSeqGap, ce.Reason)
	require.Equal(t, uint64(1), ce.Seq)
}

// TestStretchesStayShort: a value no writer stores is refused before any
// hashing: one stripped of its hash where every writer keeps it (which
// would make a reader hash back to the file's beginning), and an old
// version after entries without their hash (it checks only itself, so it
// would confirm nothing).
func TestStretchesStayShort(t *testing.T) {
	for _, tt := range []struct {
		name   string
		edit   func(t *testing.T, b *bolt.Bucket) error
		seq    uint64
		detail string
	}{
		{"hash stripped at 16", func(t *testing.T, b *bolt.Bucket) error {
			v := append([]byte(nil), b.Get(seqKey(16))...)
			require.Equal(t, byte(storedVersion), v[0])
			v = v[:len(v)-HashSize]
			v[0] = unhashedVersion
			return b.Put(seqKey(16), v)
		}, 16, "multiple of 16"},
		{"entry 32 in version 1", func(t *testing.T, b *bolt.Bucket) error {
			p := &chainReader{tx: b.Tx()}
			prev, err := p.prev(32)
			require.NoError(t, err)
			e, err := DecodeStored(32, prev, b.Get(seqKey(32)))
			require.NoError(t, err)
			canonical, _ := EncodeEntry(e)
			return b.Put(seqKey(32), canonical)
		}, 32, "version 1 after entries stored without their hash"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j, path := mustOpenFile(t)
			oneRound(t, j, 40)
			require.NoError(t, j.Close())
			editFile(t, path, func(tx *bolt.Tx) error { return tt.edit(t, tx.Bucket(entriesBucket)) })
			ro, err := OpenReadOnly(path, Options{})
			require.NoError(t, err)
			defer ro.Close()
			for _, err := range []error{ro.Verify(context.Background()), getErr(ro, 20)} {
				var ce *ChainError
				require.ErrorAs(t, err, &ce)
				require.Equal(t, ReasonDecode, ce.Reason)
				require.Equal(t, tt.seq, ce.Seq)
				require.Contains(t, ce.Detail, tt.detail)
			}
		})
	}
}

func getErr(j *Journal, seq uint64) error {
	_, err := j.Get(seq)
	return err
}
