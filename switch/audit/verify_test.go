package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/journal"
)

func TestVerifyIntact(t *testing.T) {
	f := newFixture(t)
	f.day()
	d := f.open()
	r, err := Verify(context.Background(), d, true, nil)
	require.NoError(t, err)
	require.EqualValues(t, r.Entries, r.ByDirection["in"]+r.ByDirection["out"]+r.ByDirection["internal"])
	require.Equal(t, 6, r.Orders)
	var out bytes.Buffer
	WriteVerify(&out, r, nil)
	require.Contains(t, out.String(), "OK: ")
	require.Contains(t, out.String(), "hash chain intact")
}

// TestVerifyFindsTampering edits the file as someone with write access to
// the disk would, and expects Verify to name the entry.
func TestVerifyFindsTampering(t *testing.T) {
	key := func(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }
	cases := []struct {
		name   string
		tamper func(b *bolt.Bucket) error
		seq    uint64
		reason journal.Reason
	}{
		{"one byte edited", func(b *bolt.Bucket) error {
			v := append([]byte(nil), b.Get(key(7))...)
			v[len(v)/2] ^= 0x01
			return b.Put(key(7), v)
		}, 7, journal.ReasonHash},
		{"entry deleted", func(b *bolt.Bucket) error { return b.Delete(key(7)) }, 7, journal.ReasonSeqGap},
		{"two entries swapped", func(b *bolt.Bucket) error {
			v7 := append([]byte(nil), b.Get(key(7))...)
			v8 := append([]byte(nil), b.Get(key(8))...)
			if err := b.Put(key(7), v8); err != nil {
				return err
			}
			return b.Put(key(8), v7)
		}, 7, journal.ReasonHash}, // a value does not say its seq: under 7 the entry of 8 hashes to something else
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.day()
			f.close()
			db, err := bolt.Open(f.path, 0o600, &bolt.Options{Timeout: time.Second})
			require.NoError(t, err)
			require.NoError(t, db.Update(func(tx *bolt.Tx) error { return tc.tamper(tx.Bucket([]byte("journal"))) }))
			require.NoError(t, db.Close())

			d := f.open()
			_, err = Verify(context.Background(), d, false, nil)
			var ce *journal.ChainError
			require.True(t, errors.As(err, &ce), "want a chain error, got %v", err)
			require.Equal(t, tc.reason, ce.Reason)
			var out bytes.Buffer
			WriteVerify(&out, nil, err)
			// An entry that stores no hash of its own is named by the
			// stretch the next stored hash covers.
			var from, to uint64
			if _, scan := fmt.Sscanf(ce.Detail, "entries %d..%d", &from, &to); scan == nil {
				require.True(t, from <= tc.seq && tc.seq <= to && to == ce.Seq, "%s names entry %d", ce.Detail, tc.seq)
				require.Contains(t, out.String(), fmt.Sprintf("BROKEN at entry %d: %s", ce.Seq, tc.reason))
				return
			}
			require.Equal(t, tc.seq, ce.Seq)
			require.Contains(t, out.String(), "BROKEN at entry 7: "+tc.reason.String())
		})
	}
}

func TestOpenRefusesALiveFile(t *testing.T) {
	f := newFixture(t) // holds the file with a writer's exclusive lock
	_, err := Open(f.path, "", 50*time.Millisecond)
	require.ErrorIs(t, err, ErrLocked)
	require.Contains(t, err.Error(), "--copy")
}

// A truncated copy is refused with the journal's one line, never read past
// its end (a SIGBUS in the tool operators are sent to).
func TestOpenRefusesTruncatedCopy(t *testing.T) {
	f := newFixture(t)
	for i := range 200 {
		f.commit(f.newOrder("m", fmt.Sprintf("n%d", i), 100, false))
	}
	f.close()
	fi, err := os.Stat(f.path)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(f.path, fi.Size()/2))
	_, err = Open(f.path, "", 0)
	require.ErrorIs(t, err, journal.ErrDamaged)
	require.Contains(t, err.Error(), f.path)
	_, err = journal.OpenReadOnly(f.path, journal.Options{})
	require.ErrorIs(t, err, journal.ErrDamaged)
}
