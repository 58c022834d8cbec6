package order

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCopyDecodedIsDecode fills every field an order can hold (reached by
// reflection, so a field added later is covered too), with values and
// with empty slices and maps, and checks that CopyDecoded gives what the
// JSON round trip gives.
func TestCopyDecodedIsDecode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		empty bool
	}{{"values", false}, {"empty slices and maps", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var o Order
			n := 0
			fill(reflect.ValueOf(&o).Elem(), tc.empty, &n)
			roundTrip(t, &o)
		})
	}
	t.Run("zero", func(t *testing.T) { roundTrip(t, &Order{}) })
	t.Run("paid", func(t *testing.T) { roundTrip(t, paidOrder()) })
	t.Run("monotonic clock", func(t *testing.T) {
		o := paidOrder()
		o.UpdatedAt = time.Now().UTC().Add(time.Second) // Add keeps a monotonic reading, UTC too
		o.Ops[0].Time = time.Now()
		o.Ops[0].Time = o.Ops[0].Time.In(time.UTC)
		roundTrip(t, o)
	})
	t.Run("registered", func(t *testing.T) {
		o := paidOrder()
		o.Ops, o.Card, o.ThreeDS, o.Params = []Operation{}, nil, nil, map[string]string{}
		o.Registration = &Registration{}
		roundTrip(t, o)
	})
}

func roundTrip(t *testing.T, o *Order) {
	t.Helper()
	b, err := json.Marshal(o)
	require.NoError(t, err)
	want, err := Decode(b)
	require.NoError(t, err)
	got, ok := o.CopyDecoded()
	require.True(t, ok)
	require.Equal(t, want, got) // ObjectsAreEqual: reflect.DeepEqual, nil and empty apart
	require.True(t, reflect.DeepEqual(want, got))
	again, err := json.Marshal(got)
	require.NoError(t, err)
	require.Equal(t, string(b), string(again))
}

// TestCopyDecodedRefuses: what the round trip changes and a copy would
// not, CopyDecoded refuses.
func TestCopyDecodedRefuses(t *testing.T) {
	almaty := time.FixedZone("Asia/Almaty", 5*3600)
	for name, change := range map[string]func(o *Order){
		"invalid UTF-8":         func(o *Order) { o.Description = "caf\xe9" },
		"invalid UTF-8 in a op": func(o *Order) { o.Ops[0].RRN = "\xff" },
		"invalid UTF-8 map key": func(o *Order) { o.Params = map[string]string{"\xff": "v"} },
		"time in another zone":  func(o *Order) { o.Ops[0].Time = o.Ops[0].Time.In(almaty) },
		"local time":            func(o *Order) { o.CreatedAt = o.CreatedAt.Local() },
		"fiscal time elsewhere": func(o *Order) { o.Fiscal = []FiscalReceipt{{Time: time.Now().In(almaty)}} },
		"year 10000":            func(o *Order) { o.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		t.Run(name, func(t *testing.T) {
			o := paidOrder()
			change(o)
			_, ok := o.CopyDecoded()
			require.False(t, ok)
		})
	}
}

// TestCopyDecodedIsDeep: the copy shares nothing with the order.
func TestCopyDecodedIsDeep(t *testing.T) {
	o := paidOrder()
	o.Params = map[string]string{"a": "1"}
	o.Cart = []CartItem{{Name: "x", TaxType: new(int)}}
	c, ok := o.CopyDecoded()
	require.True(t, ok)
	c.Ops[0].Status = OpDeclined
	c.Card.Ciphertext[0] = 'X'
	c.Params["a"] = "2"
	*c.Cart[0].TaxType = 3
	c.ThreeDS.ECI = "07"
	require.Equal(t, OpApproved, o.Ops[0].Status)
	require.Equal(t, byte('0'), o.Card.Ciphertext[0])
	require.Equal(t, "1", o.Params["a"])
	require.Equal(t, 0, *o.Cart[0].TaxType)
	require.Equal(t, "05", o.ThreeDS.ECI)
}

// fill sets every field reachable from v: strings, numbers and times to
// values of their own, pointers to filled values, slices to two filled
// elements and maps to two entries, or slices and maps to empty ones.
func fill(v reflect.Value, empty bool, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s<%d>&\u2028é", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), empty, n)
	case reflect.Slice:
		if empty {
			v.Set(reflect.MakeSlice(v.Type(), 0, 4))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), empty, n)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		if empty {
			return
		}
		for range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, empty, n)
			fill(e, empty, n)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(*n) * 1234567891)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), empty, n)
			}
		}
	default:
		panic("fill: no value for " + v.Type().String())
	}
}

func BenchmarkOrderCopy(b *testing.B) {
	o := paidOrder()
	b.Run("CopyDecoded", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := o.CopyDecoded(); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("Clone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			o.Clone()
		}
	})
}
