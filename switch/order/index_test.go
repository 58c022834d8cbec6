package order

import (
	"bytes"
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
