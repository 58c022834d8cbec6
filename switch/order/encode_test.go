package order

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestEncodeIsMarshal: Encode writes what json.Marshal writes, over every
// field an order can hold (filled by reflection, so a field added later
// is covered too), with values and empty, and over what JSON escapes.
func TestEncodeIsMarshal(t *testing.T) {
	orders := map[string]*Order{"zero": {}, "paid": paidOrder()}
	for name, empty := range map[string]bool{"values": false, "empty slices and maps": true} {
		var o Order
		n := 0
		fill(reflect.ValueOf(&o).Elem(), empty, &n)
		orders[name] = &o
	}
	nils := paidOrder()
	nils.Ops, nils.Card.Ciphertext = nil, nil
	orders["nil ops and ciphertext"] = nils
	empties := paidOrder()
	empties.Card.Ciphertext = []byte{}
	empties.Cart, empties.Params, empties.Fiscal = []CartItem{}, map[string]string{}, []FiscalReceipt{}
	empties.Shop = &MerchantData{Info: []Info{}}
	orders["empty ciphertext, cart, params, fiscal, info"] = empties
	escaped := paidOrder()
	escaped.Description = "Магазин \"Ақ жол\" <b>&</b> \\ \x00\x01\x1f\x7f\b\f\n\r\t \u2028\u2029 \xff\xfe caf\xe9 😀"
	escaped.Params = map[string]string{"b<": "\x00", "a": "é", "": "", "\xff": "x", "A": "\u2028"}
	escaped.Ops[0].IdemKey = "key&<>"
	orders["escaped strings"] = escaped
	zones := paidOrder()
	zones.CreatedAt = zones.CreatedAt.In(time.FixedZone("Asia/Almaty", 5*3600))
	zones.UpdatedAt = time.Now() // a monotonic reading, the local zone
	zones.Ops[0].Time = time.Date(2026, 1, 2, 3, 4, 5, 60, time.FixedZone("", -(3*3600+30*60)))
	orders["times in zones"] = zones
	neg := paidOrder()
	neg.Amount, neg.Ops[0].Requested, neg.Status, neg.Version = -5, -1, -2, 1<<63+7
	orders["negative and large numbers"] = neg
	for name, o := range orders {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(o)
			require.NoError(t, err)
			got, err := Encode(o)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
		})
	}
	bad := paidOrder()
	bad.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := json.Marshal(bad)
	require.Error(t, err)
	_, err = Encode(bad)
	require.Error(t, err, "an order json.Marshal refuses")
}

// FuzzEncode: strings of any bytes, wherever an order holds them, are
// written as json.Marshal writes them.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>", "\"\\", "\x00\x1f\x7f", "\u2028", "\xff", "ж", "😀", "\xed\xa0\x80"} {
		f.Add(s, s+"x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		o := paidOrder()
		o.Description, o.Email, o.Card.Holder, o.Ops[0].RRN = a, b, a, b
		o.Params = map[string]string{a: b, b: a}
		o.Cart = []CartItem{{Name: a, Extra: b}}
		want, err := json.Marshal(o)
		require.NoError(t, err)
		got, err := Encode(o)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	})
}

func BenchmarkOrderEncodeFields(b *testing.B) {
	o := paidOrder()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(o); err != nil {
			b.Fatal(err)
		}
	}
}
