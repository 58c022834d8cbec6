package order

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// paidOrder is an order as the e2e payment leaves it: registered through
// RBS, paid with a card after frictionless 3-D Secure, approved.
func paidOrder() *Order {
	created := time.Date(2026, 12, 6, 9, 14, 3, 123456789, time.UTC)
	return &Order{
		ID: "01938a4e-7c1d-7b3a-9f3e-4c2d1e0f9a8b", Merchant: "shop-1", Number: "b1ms2k-12-3456",
		Language: "ru", ReturnURL: "https://shop.example.kz/ok", Amount: 100, Currency: "398",
		CreatedAt: created, UpdatedAt: created.Add(40 * time.Millisecond), ExpiresAt: created.Add(20 * time.Minute),
		Status: StatusDeposited, ActionCode: 0, Bank: "bank-a", Rule: "default",
		Card: &Card{Masked: "400000******0002", Token: "tok_7f3a9c2e1b4d", Ciphertext: []byte("0123456789abcdef0123456789abcdef0123456789ab"),
			Expiry: "3012", Holder: "LOAD TEST", Brand: "visa"},
		ThreeDS:  &ThreeDSInfo{TransID: "01938a4e-7c1d-7b3a-9f3e-4c2d1e0f9a8b", Status: "Y", ECI: "05", Version: "2.2.0", DSTransID: "6f1c2b3a-9d8e-4f7a-b6c5-d4e3f2a1b0c9"},
		IP:       "127.0.0.1",
		Attempts: 1, Approved: 100, Deposited: 100,
		Ops: []Operation{{
			ID: "01938a4e-7c2f-7d11-a2b3-c4d5e6f7a8b9", Type: OpPurchase, Status: OpApproved, Amount: 100,
			Time: created.Add(20 * time.Millisecond), Bank: "bank-a", MTI: "0200", STAN: "123456", RRN: "634009123456",
			DE7: "1206091403", ApprovalCode: "A1B2C3", ResponseCode: "00", TerminalID: "TERM0001", MerchantID: "MERCHANT0000001",
		}},
		Version: 3,
	}
}

// TestDecode: Decode reads what json.Unmarshal into an Order reads,
// an order written before stored cards had a record of their own too.
func TestDecode(t *testing.T) {
	paid, err := json.Marshal(paidOrder())
	require.NoError(t, err)
	for name, b := range map[string][]byte{
		"paid":           paid,
		"kept card":      []byte(`{"id":"o1","registration":{"status":"kept","card_id":"c1"},"ops":[]}`),
		"no registation": []byte(`{"id":"o1","ops":null}`),
	} {
		t.Run(name, func(t *testing.T) {
			var want Order
			require.NoError(t, json.Unmarshal(b, &want))
			got, err := Decode(b)
			require.NoError(t, err)
			require.Equal(t, &want, got)
		})
	}
	_, err = Decode([]byte(`{"id":1}`))
	require.Error(t, err)
}

// go test -run '^$' -bench 'Order' -benchmem ./switch/order
func BenchmarkOrderDecode(b *testing.B) {
	data, err := json.Marshal(paidOrder())
	require.NoError(b, err)
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var o Order
			if err := json.Unmarshal(data, &o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkOrderEncode(b *testing.B) {
	o := paidOrder()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(o); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStoreValue: the store keeps an order's JSON compressed; both that
// and the JSON older data files hold decode to the same order.
func TestStoreValue(t *testing.T) {
	o := paidOrder()
	data, err := Encode(o)
	require.NoError(t, err)
	stored := StoreValue(data)
	require.Less(t, len(stored), len(data)*2/3)
	for _, v := range [][]byte{stored, data} {
		js, err := StoredJSON(v)
		require.NoError(t, err)
		require.Equal(t, string(data), string(js))
		got, err := Decode(v)
		require.NoError(t, err)
		require.Equal(t, o.Ops, got.Ops)
		require.Equal(t, o.Deposited, got.Deposited)
	}
	_, err = Decode(append([]byte{9}, data...))
	require.ErrorContains(t, err, "unknown codec 9")
}
