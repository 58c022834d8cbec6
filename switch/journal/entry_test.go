package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/compact"
)

func TestEntryRoundTrip(t *testing.T) {
	full := testEntry(7, 3)
	full.Seq = 42
	full.PrevHash[0], full.PrevHash[31] = 0xAB, 0xCD
	tests := []struct {
		name string
		e    Entry
	}{
		{"full", full},
		{"minimal", Entry{Seq: 1, Time: time.Unix(0, 1).UTC(), Direction: Internal, Channel: "state"}},
		{"before 1970", Entry{Seq: 2, Time: time.Unix(-86400, 5).UTC(), Direction: In, Channel: "bank-a"}},
		{"long fields", Entry{Seq: 1 << 40, Time: time.Unix(1, 0).UTC(), Direction: Out, Channel: strings.Repeat("c", MaxChannelLen),
			OrderID: strings.Repeat("o", MaxFieldLen), Payload: bytes.Repeat([]byte{0xFF}, 100_000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.e.validate(1<<20))
			b, h := EncodeEntry(tt.e)
			got, err := DecodeEntry(b)
			require.NoError(t, err)
			want := tt.e
			want.Hash = h
			require.Equal(t, want, got)
			again, _ := EncodeEntry(got)
			require.Equal(t, b, again, "encoding must be canonical")
		})
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	good, _ := EncodeEntry(testEntry(1, 1))
	rehash := func(body []byte) []byte { // a well-hashed value around body
		h := sha256Sum(body)
		return append(append([]byte(nil), body...), h[:]...)
	}
	body := good[:len(good)-HashSize]
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"truncated", good[:20], ErrMalformed},
		{"payload byte flipped", flip(good, len(good)-HashSize-HashSize-3), ErrHashMismatch},
		{"hash byte flipped", flip(good, len(good)-1), ErrHashMismatch},
		{"unknown version", rehash(append([]byte{3}, body[1:]...)), ErrMalformed},
		{"non-minimal seq varint", rehash(append([]byte{1, 0x81, 0x00}, body[2:]...)), ErrMalformed},
		{"trailing byte", rehash(append(append([]byte(nil), body...), 0)), ErrMalformed},
		{"bad direction", rehash(withDirection(body, 9)), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeEntry(tt.b)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestEntryValidate(t *testing.T) {
	mod := func(f func(*Entry)) Entry { e := testEntry(1, 1); f(&e); return e }
	tests := []struct {
		name string
		e    Entry
	}{
		{"no direction", mod(func(e *Entry) { e.Direction = 0 })},
		{"empty channel", mod(func(e *Entry) { e.Channel = "" })},
		{"long channel", mod(func(e *Entry) { e.Channel = strings.Repeat("x", MaxChannelLen+1) })},
		{"long order id", mod(func(e *Entry) { e.OrderID = strings.Repeat("x", MaxFieldLen+1) })},
		{"long RRN", mod(func(e *Entry) { e.RRN = strings.Repeat("x", MaxFieldLen+1) })},
		{"big payload", mod(func(e *Entry) { e.Payload = make([]byte, 1025) })},
		{"time beyond 2262", mod(func(e *Entry) { e.Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Error(t, tt.e.validate(1024))
		})
	}
}

func FuzzDecodeEntry(f *testing.F) {
	for i := range 4 {
		e := testEntry(i, 2)
		b, _ := EncodeEntry(e)
		f.Add(b)
		e.packed = compact.Append(nil, e.Payload)
		b, _ = appendStored(nil, &e, true)
		f.Add(b)
		e.OrderID = orderUUID
		b, _ = appendStored(nil, &e, true)
		f.Add(b)
		b, _ = appendStored(nil, &e, false)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{2})
	f.Add([]byte{3})
	f.Add([]byte{4})
	f.Add([]byte{5})
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Entry
		var prev [HashSize]byte // the seeds' entries follow the zero hash, as seq 0
		err := decodeEntry(b, 0, &prev, &e, true)
		if err != nil && !errors.Is(err, ErrHashMismatch) && !errors.Is(err, ErrUnconfirmed) {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		again, h := EncodeEntry(e)
		if err == nil || errors.Is(err, ErrUnconfirmed) {
			// Checked against the stored hash, or computed for a value
			// stored without one: the canonical encoding's either way.
			require.Equal(t, e.Hash, h)
		}
		if b[0] != formatVersion {
			// A stored value is not canonical (its payload is compressed
			// however its writer chose); what it says is: the canonical
			// encoding of what it decodes to has its hash.
			var c Entry
			require.NoError(t, decodeEntry(again, 0, nil, &c, true))
			require.Equal(t, string(e.Payload), string(c.Payload))
			return
		}
		// Whatever decodes must re-encode to the same body: one entry, one
		// encoding, or the hash would not pin the entry down.
		require.Equal(t, b[:len(b)-HashSize], again[:len(again)-HashSize])
	})
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

// withDirection returns body with its direction byte replaced.
func withDirection(body []byte, d byte) []byte {
	c := bytes.Clone(body)
	_, n1 := binary.Uvarint(c[1:])
	_, n2 := binary.Varint(c[1+n1:])
	c[1+n1+n2] = d
	return c
}
