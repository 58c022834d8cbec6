package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// mustJournalFile writes a journal of n entries to a fresh file, closes it
// and returns its path.
func mustJournalFile(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "tulpar.db")
	j, err := Open(path, Options{})
	require.NoError(tb, err)
	entries := make([]Entry, n)
	for i := range entries {
		entries[i] = testEntry(i, 7)
		entries[i].Payload = bytes.Repeat([]byte{'p'}, 256)
	}
	_, err = j.Append(context.Background(), entries...)
	require.NoError(tb, err)
	MustVerify(tb, j)
	require.NoError(tb, j.Close())
	return path
}

// requireDamaged checks err is Open's refusal of path: ErrDamaged, one line
// naming the file, the problem and the way out.
func requireDamaged(tb testing.TB, err error, path, problem string) {
	tb.Helper()
	require.ErrorIs(tb, err, ErrDamaged)
	msg := err.Error()
	require.NotContains(tb, msg, "\n", "one line")
	require.Contains(tb, msg, path)
	require.Contains(tb, msg, problem)
	require.Contains(tb, msg, "/admin/journal/snapshot")
	require.Contains(tb, msg, "tulpar journal verify")
}

// flipEntry flips the last payload byte of entry seq, leaving its stored
// hash: the edit a bad disk or a careless hand makes.
func flipEntry(seq uint64) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b := tx.Bucket(entriesBucket)
		v := append([]byte(nil), b.Get(seqKey(seq))...)
		v[lastPayloadByte(v)] ^= 0x20
		return b.Put(seqKey(seq), v)
	}
}

// TestOpenRefusesADamagedFile: every damaged data file is refused with
// ErrDamaged before the journal runs on it, nothing panics or faults, and
// the refusal leaves the file exactly as it was.
func TestOpenRefusesADamagedFile(t *testing.T) {
	const n = 200
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string)
		problem string
	}{
		{"empty", func(t *testing.T, path string) {
			require.NoError(t, os.Truncate(path, 0))
		}, "empty"},
		{"only the first page", func(t *testing.T, path string) {
			require.NoError(t, os.Truncate(path, int64(os.Getpagesize())))
		}, "shorter than the two meta pages"},
		{"a few bytes", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte("tulpar"), 0o600))
		}, "shorter than the two meta pages"},
		{"random bytes", func(t *testing.T, path string) {
			b := make([]byte, 64<<10)
			r := rand.NewChaCha8([32]byte{1})
			_, _ = r.Read(b)
			require.NoError(t, os.WriteFile(path, b, 0o600))
		}, "not a bbolt file"},
		{"a config file copied over it", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("listen: 127.0.0.1:8080\n"), 1000), 0o600))
		}, "not a bbolt file"},
		{"both meta pages overwritten", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			require.NoError(t, err)
			defer f.Close()
			ps := int64(os.Getpagesize())
			for _, off := range []int64{metaOffset + 30, ps + metaOffset + 30} { // inside the root bucket field
				_, err = f.WriteAt([]byte{0xAA}, off)
				require.NoError(t, err)
			}
		}, "fail their checksums"},
		{"truncated to half", func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(path, fi.Size()/2))
		}, "truncated"},
		{"a page inside overwritten", func(t *testing.T, path string) {
			// The entries bucket's root page, filled with 0xFF: the meta
			// pages are fine, bbolt panics on the page.
			db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
			require.NoError(t, err)
			var root uint64
			require.NoError(t, db.View(func(tx *bolt.Tx) error {
				root = uint64(tx.Bucket(entriesBucket).Root())
				return nil
			}))
			require.NoError(t, db.Close())
			require.NotZero(t, root, "the entries bucket must not be inline")
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			require.NoError(t, err)
			defer f.Close()
			_, err = f.WriteAt(bytes.Repeat([]byte{0xFF}, os.Getpagesize()), int64(root)*int64(os.Getpagesize()))
			require.NoError(t, err)
		}, "bbolt failed reading it"},
		{"a flipped byte in the last entry", func(t *testing.T, path string) {
			editFile(t, path, flipEntry(n))
		}, "hash mismatch"},
		{"a flipped byte in an entry near the end", func(t *testing.T, path string) {
			editFile(t, path, flipEntry(n-10))
		}, "hash mismatch"},
		{"an entry near the end deleted", func(t *testing.T, path string) {
			editFile(t, path, func(tx *bolt.Tx) error { return tx.Bucket(entriesBucket).Delete(seqKey(n - 3)) })
		}, "sequence gap"},
		{"the head points past the last entry", func(t *testing.T, path string) {
			editFile(t, path, func(tx *bolt.Tx) error {
				meta := tx.Bucket(metaBucket)
				head := append([]byte(nil), meta.Get(headKey)...)
				binary.BigEndian.PutUint64(head, n+5)
				return meta.Put(headKey, head)
			})
		}, "head mismatch"},
		{"the head record deleted", func(t *testing.T, path string) {
			editFile(t, path, func(tx *bolt.Tx) error { return tx.Bucket(metaBucket).Delete(headKey) })
		}, "no head record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := mustJournalFile(t, n)
			tt.damage(t, path)
			before, err := os.ReadFile(path)
			require.NoError(t, err)

			j, err := Open(path, Options{})
			require.Nil(t, j)
			requireDamaged(t, err, path, tt.problem)
			t.Log(err)

			after, err := os.ReadFile(path)
			require.NoError(t, err)
			require.True(t, bytes.Equal(before, after), "a refused file must be left as it was")
		})
	}
}

// TestOpenCreatesAMissingFile: no file is a fresh install, not damage.
func TestOpenCreatesAMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tulpar.db")
	j, err := Open(path, Options{})
	require.NoError(t, err)
	require.NoError(t, j.Close())
	j, err = Open(path, Options{})
	require.NoError(t, err, "a fresh, empty journal reopens")
	require.NoError(t, j.Close())
}

// TestOpenChecksTheLastEntries: Open re-checks the last tailCheck entries,
// so start-up stays fast on a long journal; damage further back is Verify's
// to find.
func TestOpenChecksTheLastEntries(t *testing.T) {
	const n = tailCheck + 100
	// The file is one round, whose entries store their hash every
	// hashEvery seqs: the oldest entry Open reads is hashed from the
	// stored hash before it, so the entries after that one are checked too.
	stored := uint64(n-tailCheck) - uint64(n-tailCheck)%hashEvery
	require.Less(t, stored, uint64(n-tailCheck), "the test needs entries without a stored hash before the tail")
	for _, tt := range []struct {
		seq     uint64
		refused bool
	}{
		{n - tailCheck + 1, true}, // the oldest entry Open reads
		{stored + 1, true},
		{stored, false},
	} {
		path := mustJournalFile(t, n)
		editFile(t, path, flipEntry(tt.seq))
		j, err := Open(path, Options{})
		if tt.refused {
			requireDamaged(t, err, path, "hash mismatch")
			continue
		}
		require.NoError(t, err, "entry %d lies before the checked tail", tt.seq)
		var ce *ChainError
		require.ErrorAs(t, j.Verify(context.Background()), &ce)
		require.Equal(t, tt.seq, ce.Seq)
		require.NoError(t, j.Close())
	}
}

// TestMetaMatchesBbolt holds parseMeta to the bbolt version in go.mod: the
// page size, high-water mark and transaction id it reads from a real file
// are bbolt's own.
func TestMetaMatchesBbolt(t *testing.T) {
	path := mustJournalFile(t, 300)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	require.NoError(t, err)
	var size int64
	var txid int
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		size, txid = tx.Size(), tx.ID()
		return nil
	}))
	pageSize := db.Info().PageSize
	require.NoError(t, db.Close())

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	m0, m1 := parseMeta(raw[:metaEnd]), parseMeta(raw[pageSize:pageSize+metaEnd])
	require.Empty(t, m0.problem)
	require.Empty(t, m1.problem)
	m := m0
	if m1.txid > m0.txid {
		m = m1
	}
	require.EqualValues(t, pageSize, m.pageSize)
	require.EqualValues(t, txid, m.txid)
	require.EqualValues(t, size, int64(m.pgid)*int64(m.pageSize), "tx.Size is the high-water mark times the page size")
	require.NoError(t, CheckFile(path))
}
