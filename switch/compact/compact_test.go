package compact

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/stretchr/testify/require"
)

// TestDictionariesUnchanged pins the shipped dictionaries: records written
// with one are read back with it for as long as they are kept, so an edit
// would make every one of them unreadable. A new dictionary gets a new
// codec byte.
func TestDictionariesUnchanged(t *testing.T) {
	sum := sha256.Sum256(dict1Data)
	require.Equal(t, "da19a25e56a561c6639b0c91565d1507f763a9a9141e0e2f4cf11ef239a58e5b", hex.EncodeToString(sum[:]),
		"dict1.txt changed: records stored with codec 1 would no longer decode")
	require.NotNil(t, dict1)
}

// records are the kinds the journal and the order store keep, with values
// that are not in the dictionary.
var records = []string{
	`{"id":"0193a1c2-7f00-7abc-9def-0123456789ab","merchant":"kaspi-books","number":"INV-2026-000187","language":"kk","return_url":"https://books.example.kz/return","two_stage":true,"amount":1250000,"currency":"398","created_at":"2026-12-01T09:15:03.123456789Z","updated_at":"2026-12-01T09:15:04.987654321Z","expires_at":"2026-12-01T09:35:03.123456789Z","status":1,"action_code":0,"approved":1250000,"deposited":0,"refunded":0,"ops":[{"id":"0193a1c2-8000-7abc-9def-0123456789ac","type":"preauth","status":"approved","amount":1250000,"time":"2026-12-01T09:15:04.9Z","bank":"halyk","mti":"0100","stan":"000187","rrn":"633509000187","de7":"1201091504","approval_code":"A1B2C3","response_code":"00","action_code":0,"terminal_id":"TRM00042","merchant_id":"000000000000777"}],"version":4}`,
	`{"endpoint":"register","params":{"amount":"1250000","orderNumber":"INV-2026-000187","returnUrl":"https://books.example.kz/return","userName":"kaspi-books-api"}}`,
	`{"bank":"halyk","dialect":"ascii","wire":"MDEwMPI8RoEI4IAAAAAAAAAEAAAAEjQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OQ=="}`,
}

func TestRoundTrip(t *testing.T) {
	noise := make([]byte, 600)
	_, _ = rand.Read(noise)
	tests := []struct {
		name  string
		in    []byte
		codec byte
	}{
		{"empty", nil, Raw},
		{"short", []byte(`{"a":1}`), Raw},
		{"random bytes", noise, Raw},
		{"order", []byte(records[0]), S2Dict1}, // to about a third: TestOrderShrinks
		{"request", []byte(records[1]), S2Dict1},
		{"iso record", []byte(records[2]), S2Dict1},
		{"large", []byte(strings.Repeat(records[0], 200)), S2Dict1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("kept")
			stored := Append(bytes.Clone(prefix), tt.in)
			require.Equal(t, prefix, stored[:len(prefix)], "Append appends")
			stored = stored[len(prefix):]
			require.Equal(t, tt.codec, stored[0])
			if tt.codec == Raw {
				require.Len(t, stored, 1+len(tt.in))
			} else {
				require.Less(t, len(stored), len(tt.in), "a record like the dictionary's shrinks")
			}
			got, err := Decode(nil, stored, len(tt.in))
			require.NoError(t, err)
			require.Equal(t, string(tt.in), string(got))
		})
	}
}

// TestOrderShrinks: an order's JSON, most of what the journal and the
// store keep, is stored in under half its size.
func TestOrderShrinks(t *testing.T) {
	stored := Append(nil, []byte(records[0]))
	require.Less(t, len(stored), len(records[0])/2, "%d of %d bytes", len(stored), len(records[0]))
}

func TestDecodeRefuses(t *testing.T) {
	order := []byte(records[0])
	packed := Append(nil, order)
	require.Equal(t, S2Dict1, packed[0])
	corrupt := bytes.Clone(packed)
	corrupt[len(corrupt)/2] ^= 0xFF
	corrupt[len(corrupt)/2+1] ^= 0xFF
	// A block that claims a huge length: refused before it is allocated.
	bomb := append([]byte{S2Dict1}, s2.Encode(nil, make([]byte, 1<<20))...)
	tests := []struct {
		name   string
		stored []byte
		limit  int
		want   string
	}{
		{"nothing", nil, 100, "no codec byte"},
		{"unknown codec", []byte{7, 'x'}, 100, "unknown codec 7"},
		{"raw over the limit", append([]byte{Raw}, order...), 10, "limit 10"},
		{"compressed over the limit", packed, len(order) - 1, "limit"},
		{"a bomb", bomb, 1 << 16, "decodes to 1048576 bytes, limit 65536"},
		{"truncated", packed[:len(packed)-5], 1 << 20, "corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(nil, tt.stored, tt.limit)
			require.ErrorIs(t, err, ErrCorrupt)
			require.ErrorContains(t, err, tt.want)
		})
	}
	// A flipped byte inside a block either fails to decode or decodes to
	// other bytes: the journal's hash over the decoded payload is what
	// catches the second.
	if got, err := Decode(nil, corrupt, 1<<20); err == nil {
		require.NotEqual(t, order, got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, r := range records {
		f.Add(Append(nil, []byte(r)))
	}
	f.Add([]byte{})
	f.Add([]byte{Raw})
	f.Add([]byte{S2Dict1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F})
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 1 << 16
		got, err := Decode(nil, b, limit)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		require.LessOrEqual(t, len(got), limit)
		// What decodes is stored again as something that decodes to it.
		again, err := Decode(nil, Append(nil, got), limit)
		require.NoError(t, err)
		require.Equal(t, string(got), string(again))
	})
}

func BenchmarkAppend(b *testing.B) {
	in := []byte(records[0])
	var dst []byte
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		dst = Append(dst[:0], in)
	}
	b.ReportMetric(float64(len(dst)), "stored-bytes")
}

func BenchmarkDecode(b *testing.B) {
	in := Append(nil, []byte(records[0]))
	var dst []byte
	b.SetBytes(int64(len(records[0])))
	for b.Loop() {
		dst, _ = Decode(dst[:0], in, 1<<20)
	}
}
