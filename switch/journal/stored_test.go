package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/compact"
)

// orderJSON is a state entry's payload as the switch journals it.
const orderJSON = `{"id":"0193a1c2-7f00-7abc-9def-0123456789ab","merchant":"demo-shop","number":"A-1","language":"ru","return_url":"https://shop.example.kz/ok","two_stage":false,"amount":100,"currency":"398","created_at":"2026-12-07T01:31:26.691416763Z","updated_at":"2026-12-07T01:31:26.727878748Z","expires_at":"2026-12-07T01:51:26.691416763Z","status":2,"action_code":0,"approved":100,"deposited":100,"refunded":0,"ops":[],"version":3}`

// TestStoredEntry: the journal stores an entry with its payload
// compressed, and the entry reads back as the canonical one, with the
// canonical hash: compression is how it is kept, not what the chain says.
func TestStoredEntry(t *testing.T) {
	for i, payload := range []string{orderJSON, "", "x", orderJSON, orderJSON, orderJSON} {
		e := testEntry(5, 2)
		e.Seq, e.PrevHash[0] = 9, 0x42
		e.Payload = []byte(payload)
		switch i {
		case 3:
			e.OrderID = orderUUID // packed into 16 bytes
		case 4:
			e.OrderID = strings.ToUpper(orderUUID) // kept as written: it would read back lower-case
		case 5:
			e.OrderID = ""
		}
		canonical, h := EncodeEntry(e)
		e.packed = compact.Append(nil, e.Payload)
		stored, sh := appendStored(nil, &e, true)
		require.Equal(t, h, sh, "the hash is the canonical encoding's")
		require.Equal(t, byte(storedVersion), stored[0])
		// Inside a round, the same value without the hash: it reads as
		// the same entry, its hash computed, to be confirmed later.
		unhashed, uh := appendStored(nil, &e, false)
		require.Equal(t, h, uh)
		require.Equal(t, byte(unhashedVersion), unhashed[0])
		require.Equal(t, stored[1:len(stored)-HashSize], unhashed[1:])
		if len(payload) > 100 {
			require.Less(t, len(stored), len(canonical)-len(payload)/3, "payload compressed")
		}
		if i == 3 {
			require.Less(t, len(stored), len(canonical)-len(payload)/3-20, "the order id in 16 bytes")
		}
		// The versions before, which carried the seq and the previous
		// hash (and version 2 the order id as text), still read the same.
		v2, v3 := appendOld(compressedVersion, &e), appendOld(packedIDVersion, &e)
		require.Less(t, len(stored), len(v3)-HashSize, "no seq, no previous hash")
		for _, own := range []bool{true, false} {
			var want Entry
			require.NoError(t, decodeEntry(canonical, 0, nil, &want, own))
			for _, b := range [][]byte{stored, v2, v3, unhashed} {
				var got Entry
				if err := decodeEntry(b, 9, &e.PrevHash, &got, own); b[0] == unhashedVersion {
					require.ErrorIs(t, err, ErrUnconfirmed)
				} else {
					require.NoError(t, err, "version %d", b[0])
				}
				require.Equal(t, string(want.Payload), string(got.Payload))
				got.Payload = want.Payload
				require.Equal(t, want, got, "version %d", b[0])
			}
		}
		// Without its seq and previous hash a current value gives its
		// fields and says it could not be checked.
		got, err := DecodeEntry(stored)
		require.ErrorIs(t, err, ErrUnchained)
		require.Equal(t, string(e.Payload), string(got.Payload))
		require.Equal(t, e.OrderID, got.OrderID)
	}
}

// appendOld is the value the journal stored for e in an earlier version:
// compressedVersion (the canonical layout with the compact payload) or
// packedIDVersion (and an order id that is a UUID in 16 bytes).
func appendOld(version byte, e *Entry) []byte {
	dst := []byte{version}
	id, isUUID := compact.PackUUID(e.OrderID)
	if version == compressedVersion || !isUUID {
		dst = appendHeader(dst, e)
	} else {
		dst = binary.AppendUvarint(dst, e.Seq)
		dst = binary.AppendVarint(dst, e.Time.UnixNano())
		dst = append(dst, byte(e.Direction)|uuidFlag)
		dst = appendBytes(dst, e.Channel)
		dst = append(dst, id[:]...)
		dst = appendBytes(dst, e.MTI)
		dst = appendBytes(dst, e.STAN)
		dst = appendBytes(dst, e.RRN)
	}
	dst = appendBytes(dst, e.packed)
	dst = append(dst, e.PrevHash[:]...)
	h := canonicalHash(appendHeader(nil, e), e.Payload, e.PrevHash[:])
	return append(dst, h[:]...)
}

// orderUUID is an order id as the switch makes them.
const orderUUID = "0193a1c2-7f00-7abc-9def-0123456789ab"

func TestStoredEntryTampered(t *testing.T) {
	for _, id := range []string{"order-1", orderUUID} {
		e := testEntry(5, 2)
		e.OrderID = id
		e.Payload = []byte(orderJSON)
		e.packed = compact.Append(nil, e.Payload)
		e.Seq, e.PrevHash[3] = 7, 0x42
		stored, h := appendStored(nil, &e, true)
		_, err := DecodeStored(7, e.PrevHash, stored)
		require.NoError(t, err)
		// Every byte of the stored value matters: a flipped one either
		// fails to decode or decodes to an entry whose hash is not the
		// stored one.
		for i := range stored {
			_, err := DecodeStored(7, e.PrevHash, flip(stored, i))
			require.Error(t, err, "%s: byte %d flipped", id, i)
			if !errorIsAny(err, ErrMalformed, ErrHashMismatch) {
				t.Fatalf("%s: byte %d flipped: %v", id, i, err)
			}
		}
		// Nor can it be read under another seq or after another entry.
		_, err = DecodeStored(8, e.PrevHash, stored)
		require.ErrorIs(t, err, ErrHashMismatch)
		_, err = DecodeStored(7, [HashSize]byte{}, stored)
		require.ErrorIs(t, err, ErrHashMismatch)

		// Stored without its hash, every byte still matters: a flipped
		// one fails to decode or hashes to another hash than the entry's,
		// which the next stored hash then does not follow from.
		unhashed, _ := appendStored(nil, &e, false)
		got, err := DecodeStored(7, e.PrevHash, unhashed)
		require.ErrorIs(t, err, ErrUnconfirmed)
		require.Equal(t, h, got.Hash)
		for i := range unhashed {
			got, err := DecodeStored(7, e.PrevHash, flip(unhashed, i))
			if errors.Is(err, ErrUnconfirmed) {
				require.NotEqual(t, h, got.Hash, "%s: byte %d flipped", id, i)
				continue
			}
			require.ErrorIs(t, err, ErrMalformed, "%s: byte %d flipped", id, i)
		}
		got, _ = DecodeStored(8, e.PrevHash, unhashed)
		require.NotEqual(t, h, got.Hash, "read under another seq")
	}
	e := testEntry(5, 2)
	e.Payload = []byte(orderJSON)
	// An attacker who recompresses the payload differently (raw here)
	// changes no content: the entry still checks out with the same hash.
	e.packed = compact.Append(nil, nil)[:1]
	e.packed = append(e.packed, e.Payload...)
	again, h := appendStored(nil, &e, true)
	got, err := DecodeStored(e.Seq, e.PrevHash, again)
	require.NoError(t, err)
	require.Equal(t, h, got.Hash)
	require.Equal(t, orderJSON, string(got.Payload))
}

func errorIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// TestOpenVersion1File: a journal written before payloads were compressed
// (file version 1, canonical values) opens, reads and verifies as before,
// takes compressed entries after its own with the chain carried on and
// its order index (one key an entry) extended in chunks, and is raised to
// the current version so an older build refuses it rather than meet entries it
// cannot read.
func TestOpenVersion1File(t *testing.T) {
	ctx := context.Background()
	j, path := mustOpenFile(t)
	for i := range 10 {
		e := testEntry(i, 3)
		e.Payload = []byte(orderJSON)
		_, err := j.Append(ctx, e)
		require.NoError(t, err)
	}
	require.NoError(t, j.Close())
	// Make it the file an older build wrote: every value canonical.
	editFile(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(entriesBucket)
		c := b.Cursor()
		var olds [][2][]byte
		for k, v := c.First(); k != nil; k, v = c.Next() {
			require.Equal(t, byte(storedVersion), v[0])
			var prev [HashSize]byte
			if seq := binary.BigEndian.Uint64(k); seq > 1 {
				p := b.Get(seqKey(seq - 1))
				copy(prev[:], p[len(p)-HashSize:])
			}
			e, err := DecodeStored(binary.BigEndian.Uint64(k), prev, v)
			require.NoError(t, err)
			canonical, _ := EncodeEntry(e)
			olds = append(olds, [2][]byte{append([]byte(nil), k...), canonical})
		}
		for _, kv := range olds {
			if err := b.Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		if err := oneKeyPerEntry(tx); err != nil {
			return err
		}
		return tx.Bucket(metaBucket).Put(versionKey, []byte{formatVersion})
	})
	var before []Entry
	j, err := Open(path, Options{})
	require.NoError(t, err)
	require.NoError(t, j.Iterate(1, func(e Entry) error { before = append(before, e); return nil }))
	require.Len(t, before, 10)
	_, err = j.Append(ctx, Entry{Direction: Internal, Channel: "state", OrderID: "order-1", Payload: []byte(orderJSON)})
	require.NoError(t, err)
	MustVerify(t, j)
	history, err := j.ByOrder("order-1")
	require.NoError(t, err)
	require.Len(t, history, 4, "three old entries (1, 4, 7) and the new one")
	require.Equal(t, before[9].Hash, history[3].PrevHash, "the chain runs on from the old entries")
	require.Equal(t, before[4].Payload, history[1].Payload)
	require.NoError(t, j.Close())

	editFile(t, path, func(tx *bolt.Tx) error {
		require.Equal(t, []byte{fileVersion}, tx.Bucket(metaBucket).Get(versionKey))
		v := tx.Bucket(entriesBucket).Get(seqKey(11))
		require.Equal(t, byte(storedVersion), v[0])
		require.Equal(t, byte(formatVersion), tx.Bucket(entriesBucket).Get(seqKey(1))[0], "old entries are left as they are")
		require.Equal(t, 10, tx.Bucket(orderBucket).Stats().KeyN, "the last old key of order-1 took entry 11")
		require.Equal(t, appendDeltas(nil, 8, []uint64{11}), tx.Bucket(orderBucket).Get(orderKey(nil, "order-1", 8)))
		return nil
	})
}

// oneKeyPerEntry rewrites the order index as builds before chunks wrote
// it: a key without a value for each entry.
func oneKeyPerEntry(tx *bolt.Tx) error {
	ob := tx.Bucket(orderBucket)
	var keys [][]byte
	err := ob.ForEach(func(k, v []byte) error {
		id, seqs, err := chunkSeqs(nil, k, v)
		for _, s := range seqs {
			keys = append(keys, orderKey(nil, id, s))
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := tx.DeleteBucket(orderBucket); err != nil {
		return err
	}
	if ob, err = tx.CreateBucket(orderBucket); err != nil {
		return err
	}
	for _, k := range keys {
		if err := ob.Put(k, nil); err != nil {
			return err
		}
	}
	return nil
}

// mustOpenFile is mustOpen for a test that closes and reopens the file
// itself.
func mustOpenFile(tb testing.TB) (*Journal, string) {
	tb.Helper()
	path := tb.TempDir() + "/journal.db"
	j, err := Open(path, Options{})
	require.NoError(tb, err)
	return j, path
}
