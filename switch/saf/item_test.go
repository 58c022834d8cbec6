package saf

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleItems() map[string]Item {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123, time.UTC)
	return map[string]Item{
		"minimal": {ID: 1, Queue: "b", Kind: "k"},
		"reversal": {
			ID: 42, Queue: "halyk", OrderID: "9f1c0c2e-order", Kind: testKind,
			Payload: []byte{0x04, 0x20, 0x00, 0xff}, Attempts: 3, EnqueuedAt: t0,
			NextAttemptAt: t0.Add(8 * time.Second), LastError: "link halyk: no reply",
		},
		"before epoch": {ID: 1 << 63, Queue: "b", Kind: "k", EnqueuedAt: time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)},
		"limits": {
			ID: ^uint64(0), Queue: strings.Repeat("b", MaxQueueLen), OrderID: strings.Repeat("o", MaxOrderIDLen),
			Kind: strings.Repeat("k", MaxKindLen), Payload: make([]byte, MaxPayloadLen),
			Attempts: 1<<31 - 1, LastError: strings.Repeat("e", MaxLastErrorLen),
		},
	}
}

func TestItemRoundTrip(t *testing.T) {
	for name, it := range sampleItems() {
		t.Run(name, func(t *testing.T) {
			got, err := decodeItem(encodeItem(nil, &it))
			require.NoError(t, err)
			assertSameItem(t, it, got)
		})
	}
}

func TestDecodeItemRejects(t *testing.T) {
	good := sampleItems()["reversal"]
	enc := encodeItem(nil, &good)
	for name, b := range map[string][]byte{
		"empty":         nil,
		"version 2":     append([]byte{2}, enc[1:]...),
		"truncated":     enc[:len(enc)-1],
		"trailing byte": append(append([]byte(nil), enc...), 0),
		"empty bank":    encodeItem(nil, &Item{ID: 1, Kind: "k"}),
		"huge payload":  {1, 1, 1, 'b', 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad varint":    {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := decodeItem(b)
			assert.ErrorIs(t, err, errCorrupt)
		})
	}
}

func TestTruncateError(t *testing.T) {
	assert.Equal(t, "short", truncateError("short"))
	s := strings.Repeat("a", MaxLastErrorLen-1) + "ж" // 2-byte rune across the limit
	got := truncateError(s)
	assert.Equal(t, MaxLastErrorLen-1, len(got), "a rune is not split")
}

// FuzzDecodeItem feeds the decoder bytes as a damaged or hostile file would
// hold them: it must never panic, and whatever it accepts must survive a
// round trip unchanged.
func FuzzDecodeItem(f *testing.F) {
	for _, it := range sampleItems() {
		if len(it.Payload) < 1024 {
			f.Add(encodeItem(nil, &it))
		}
	}
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := decodeItem(b)
		if err != nil {
			return
		}
		// What Stats reads of it without decoding it is what it holds.
		queue, enqueued, err := itemStamp(b)
		if err != nil {
			t.Fatalf("decoded item, stamp refused: %v", err)
		}
		assert.Equal(t, it.Queue, string(queue))
		assert.True(t, it.EnqueuedAt.Equal(fromUnixNano(enqueued)))
		again, err := decodeItem(encodeItem(nil, &it))
		if err != nil {
			t.Fatalf("re-encoded item does not decode: %v", err)
		}
		assertSameItem(t, it, again)
	})
}

func assertSameItem(t *testing.T, want, got Item) {
	t.Helper()
	assert.True(t, want.EnqueuedAt.Equal(got.EnqueuedAt), "EnqueuedAt %v != %v", want.EnqueuedAt, got.EnqueuedAt)
	assert.True(t, want.NextAttemptAt.Equal(got.NextAttemptAt), "NextAttemptAt %v != %v", want.NextAttemptAt, got.NextAttemptAt)
	want.EnqueuedAt, got.EnqueuedAt = time.Time{}, time.Time{}
	want.NextAttemptAt, got.NextAttemptAt = time.Time{}, time.Time{}
	if len(want.Payload) == 0 {
		want.Payload = nil
	}
	assert.Equal(t, want, got)
}
