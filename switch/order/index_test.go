package order

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRowRoundTrip(t *testing.T) {
	o := &Order{ID: "0190-a", Merchant: "shop", Status: StatusDeposited, TwoStage: true, Amount: 150000, Approved: 150000,
		Deposited: 120000, Refunded: 20000, ActionCode: -2101, Currency: "398", CreatedAt: t0,
		Card: &Card{Masked: "411111******1111"},
		Ops: []Operation{
			{Type: OpAuthorization, RRN: "612300000001", ApprovalCode: "A1B2C3"},
			{Type: OpCompletion, RRN: "612300000001", ApprovalCode: "A1B2C3"},
			{Type: OpRefund, RRN: "612300000002", ApprovalCode: "777777"},
			{Type: OpThreeDS},
		}}
	r := RowOf(o)
	require.Equal(t, []FieldValue{{FieldLast4, "1111"}, {FieldRRN, "612300000001"}, {FieldApproval, "A1B2C3"},
		{FieldRRN, "612300000002"}, {FieldApproval, "777777"}}, r.Fields, "each value once")
	got, err := DecodeRow(r.Encode())
	require.NoError(t, err)
	require.Equal(t, r, got)
	st, ok := RowStatus(r.Encode())
	require.True(t, ok)
	require.Equal(t, StatusDeposited, st)

	empty := RowOf(&Order{Status: StatusRegistered, Currency: "398"})
	got, err = DecodeRow(empty.Encode())
	require.NoError(t, err)
	require.Equal(t, empty, got)

	for i := range len(r.Encode()) {
		_, err := DecodeRow(r.Encode()[:i])
		require.ErrorIs(t, err, ErrRow, "truncated at %d", i)
	}
	_, err = DecodeRow(append(r.Encode(), 0))
	require.ErrorIs(t, err, ErrRow, "trailing bytes")
}

func TestIndexKeysOrder(t *testing.T) {
	a := TimeKey("shop", t0, "b")
	b := TimeKey("shop", t0.Add(time.Nanosecond), "a")
	require.Negative(t, bytes.Compare(a, b), "creation time first, then id")
	require.Negative(t, bytes.Compare(TimeKey("shop", t0.Add(time.Hour), "z"), TimeKey("shop2", t0, "a")), "merchant first")

	created, id, ok := KeyTail(a, len("shop")+1)
	require.True(t, ok)
	require.Equal(t, t0.UnixNano(), created)
	require.Equal(t, "b", id)

	sk := StatusKey("shop", StatusDeclined, t0, "id-1")
	created, id, ok = KeyTail(sk, len("shop")+2)
	require.True(t, ok)
	require.Equal(t, t0.UnixNano(), created)
	require.Equal(t, "id-1", id)

	fk := FieldKey("shop", FieldValue{FieldRRN, "612300000001"}, t0, "id-1")
	created, id, ok = KeyTail(fk, len("shop")+2+len("612300000001")+1)
	require.True(t, ok)
	require.Equal(t, t0.UnixNano(), created)
	require.Equal(t, "id-1", id)
}

func TestRowSkipsUnindexableValues(t *testing.T) {
	o := &Order{Ops: []Operation{{RRN: "a\x00b"}, {ApprovalCode: string(make([]byte, 65))}}, Card: &Card{Masked: "12"}}
	require.Empty(t, RowOf(o).Fields)
}

// TestIDTail: a UUID in the switch's own text packs into 16 bytes and
// comes back as the very same string; any other id, an upper-case UUID
// among them, is kept as text.
func TestIDTail(t *testing.T) {
	const v7 = "0190c2a4-7b1e-7c3d-8e4f-a0b1c2d3e4f5"
	for _, tc := range []struct {
		id     string
		packed bool
	}{
		{v7, true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", true},
		{"0190C2A4-7B1E-7C3D-8E4F-A0B1C2D3E4F5", false}, // unpacked it would be lower-case: another id
		{"0190c2a4-7b1e-7c3d-8e4f-a0b1c2d3e4F5", false},
		{"0190c2a47b1e-7c3d-8e4f-a0b1c2d3e4f5-", false}, // hyphens elsewhere
		{"0190c2a4-7b1e-7c3d-8e4f-a0b1c2d3e4g5", false},
		{"{0190c2a4-7b1e-7c3d-8e4f-a0b1c2d3e4f}", false},
		{"0190c2a47b1e7c3d8e4fa0b1c2d3e4f5", false},
		{"0190c2a4-7b1e-7c3d-8e4f-a0b1c2d3e4f5 ", false},
		{"shop-1-1003", false},
		{"0190-a", false},
		{"", false},
	} {
		tail := AppendIDTail([]byte("prefix"), tc.id)[len("prefix"):]
		if tc.packed {
			require.Equal(t, byte(0x01), tail[0], tc.id)
			require.Len(t, tail, 17, tc.id)
		} else {
			require.Equal(t, append([]byte{0x00}, tc.id...), tail, tc.id)
		}
		got, ok := IDFromTail(tail)
		require.True(t, ok, tc.id)
		require.Equal(t, tc.id, got)
	}
	require.Equal(t, []byte{0x01, 0x01, 0x90, 0xc2, 0xa4, 0x7b, 0x1e, 0x7c, 0x3d, 0x8e, 0x4f, 0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5},
		AppendIDTail(nil, v7))

	for _, bad := range [][]byte{
		nil,
		{0x02, 'a'},
		AppendIDTail(nil, v7)[:16],
		append(AppendIDTail(nil, v7), 0),
		{0x01},
		append([]byte{0x00}, v7...), // layout 1's tail of a UUID: the id has another now
	} {
		_, ok := IDFromTail(bad)
		require.False(t, ok, "%x", bad)
	}
}

// TestKeyTailBothTags: every index key gives back its creation time and id,
// packed or not, and a UUID's keys are 20 bytes shorter than its text's.
func TestKeyTailBothTags(t *testing.T) {
	const v7 = "0190c2a4-7b1e-7c3d-8e4f-a0b1c2d3e4f5"
	f := FieldValue{FieldRRN, "612300000001"}
	for _, id := range []string{v7, "0190C2A4-7B1E-7C3D-8E4F-A0B1C2D3E4F5", "shop-1-1003", ""} {
		for _, k := range []struct {
			key    []byte
			prefix int
			fixed  int // the key's bytes besides the id's tail
		}{
			{TimeKey("shop", t0, id), len("shop") + 1, len("shop") + 1 + 8},
			{StatusKey("shop", StatusDeclined, t0, id), len("shop") + 2, len("shop") + 2 + 8},
			{FieldKey("shop", f, t0, id), len("shop") + 2 + len(f.Value) + 1, len("shop") + 2 + len(f.Value) + 1 + 8},
		} {
			created, got, ok := KeyTail(k.key, k.prefix)
			require.True(t, ok, "%q %x", id, k.key)
			require.Equal(t, t0.UnixNano(), created)
			require.Equal(t, id, got)
			c2, tail, ok := SplitKeyTail(k.key, k.prefix)
			require.True(t, ok)
			require.Equal(t, created, c2)
			require.Equal(t, AppendIDTail(nil, id), tail)
			require.Equal(t, TimeKey("shop", t0, id), TimeKeyOfTail("shop", created, tail))
			if id == v7 {
				require.Len(t, k.key, k.fixed+17, "packed: tag and 16 bytes")
			} else {
				require.Len(t, k.key, k.fixed+1+len(id))
			}
		}
	}
	for _, bad := range [][]byte{
		TimeKey("shop", t0, v7)[:len("shop")+9+16],                                   // a packed id cut short
		append(TimeKey("shop", t0, "")[:len("shop")+9], 0x02, 'x'),                   // an unknown tag
		append(TimeKey("shop", t0, "")[:len("shop")+9], v7...),                       // layout 1's key of a UUID order
		TimeKey("shop", t0, "")[:len("shop")+9],                                      // no tag
		append(TimeKey("shop", t0, "")[:len("shop")+9], append([]byte{0}, v7...)...), // the same, tagged as text
	} {
		_, _, ok := KeyTail(bad, len("shop")+1)
		require.False(t, ok, "%x", bad)
	}
}

// TestIndexKeysOrderMixedIDs: within a merchant keys run by creation time
// whatever the ids, packed or not; in one nanosecond ids kept as text come
// first, then UUIDs in their text's order; TimeKey with no id is the first
// key of its nanosecond.
func TestIndexKeysOrderMixedIDs(t *testing.T) {
	ids := []string{"zzz", "0190c2a4-7b1e-7c3d-8e4f-a0b1c2d3e4f5", "ffffffff-ffff-ffff-ffff-ffffffffffff",
		"00000000-0000-0000-0000-000000000000", "0190C2A4-7B1E-7C3D-8E4F-A0B1C2D3E4F5", "a", ""}
	for _, kind := range []struct {
		key    func(at time.Time, id string) []byte
		prefix int
	}{
		{func(at time.Time, id string) []byte { return TimeKey("shop", at, id) }, len("shop") + 1},
		{func(at time.Time, id string) []byte { return StatusKey("shop", StatusApproved, at, id) }, len("shop") + 2},
	} {
		var keys [][]byte
		for i := range 3 {
			for _, id := range ids {
				keys = append(keys, kind.key(t0.Add(time.Duration(2-i)*time.Nanosecond), id))
			}
		}
		slices.SortFunc(keys, bytes.Compare)
		for i, k := range keys {
			created, _, ok := KeyTail(k, kind.prefix)
			require.True(t, ok)
			require.Equal(t, t0.Add(time.Duration(i/len(ids))*time.Nanosecond).UnixNano(), created, "creation first: key %d", i)
		}
	}

	at := t0.Add(time.Nanosecond)
	want := []string{"", "0190C2A4-7B1E-7C3D-8E4F-A0B1C2D3E4F5", "a", "zzz", "00000000-0000-0000-0000-000000000000",
		"0190c2a4-7b1e-7c3d-8e4f-a0b1c2d3e4f5", "ffffffff-ffff-ffff-ffff-ffffffffffff"}
	var same [][]byte
	for _, id := range ids {
		same = append(same, TimeKey("shop", at, id))
	}
	slices.SortFunc(same, bytes.Compare)
	var got []string
	for _, k := range same {
		_, id, ok := KeyTail(k, len("shop")+1)
		require.True(t, ok)
		got = append(got, id)
	}
	require.Equal(t, want, got, "text tails, then UUIDs by their text")
	require.Negative(t, bytes.Compare(TimeKey("shop", at, "ffffffff-ffff-ffff-ffff-ffffffffffff"), TimeKey("shop", at.Add(time.Nanosecond), "")))
}
