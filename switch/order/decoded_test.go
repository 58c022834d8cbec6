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
			requireRoundTrip(t, &o)
		})
	}
	t.Run("zero", func(t *testing.T) { requireRoundTrip(t, &Order{}) })
	t.Run("paid", func(t *testing.T) { requireRoundTrip(t, paidOrder()) })
	t.Run("monotonic clock", func(t *testing.T) {
		o := paidOrder()
		o.UpdatedAt = time.Now().UTC().Add(time.Second) // Add keeps a monotonic reading, UTC too
		o.Ops[0].Time = time.Now()
		o.Ops[0].Time = o.Ops[0].Time.In(time.UTC)
		requireRoundTrip(t, o)
	})
	t.Run("registered", func(t *testing.T) {
		o := paidOrder()
		o.Ops, o.Card, o.ThreeDS, o.Params = []Operation{}, nil, nil, map[string]string{}
		o.Registration = &Registration{}
		requireRoundTrip(t, o)
	})
}

func requireRoundTrip(t *testing.T, o *Order) {
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
// not, CopyDecoded refuses, in every string and every time an order can
// hold (reached by reflection, so a field added later is covered too).
func TestCopyDecodedRefuses(t *testing.T) {
	var o Order
	n := 0
	fill(reflect.ValueOf(&o).Elem(), false, &n)
	_, ok := o.CopyDecoded()
	require.True(t, ok)
	almaty := time.FixedZone("Asia/Almaty", 5*3600)
	leaves := 0
	eachLeaf(reflect.ValueOf(&o).Elem(), "order", func(path string, set func(bad bool)) {
		leaves++
		set(true)
		_, ok := o.CopyDecoded()
		require.False(t, ok, path)
		set(false)
	}, almaty)
	_, ok = o.CopyDecoded()
	require.True(t, ok)
	require.Greater(t, leaves, 60)

	for name, tm := range map[string]time.Time{
		"local":      time.Date(2026, 1, 1, 0, 0, 0, 0, time.Local),
		"year 10000": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		p := paidOrder()
		p.ExpiresAt = tm
		_, ok := p.CopyDecoded()
		require.False(t, ok, name)
	}
}

// eachLeaf calls fn for every string and time reachable from v, with set
// making it one the round trip would change (bad) or restoring it.
func eachLeaf(v reflect.Value, path string, fn func(path string, set func(bad bool)), zone *time.Location) {
	switch v.Kind() {
	case reflect.String:
		was := v.String()
		fn(path, func(bad bool) {
			if bad {
				v.SetString(was + "\xff")
			} else {
				v.SetString(was)
			}
		})
	case reflect.Pointer:
		eachLeaf(v.Elem(), path, fn, zone)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := range v.Len() {
			eachLeaf(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn, zone)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			val := v.MapIndex(k)
			fn(path+"[key]", func(bad bool) {
				v.SetMapIndex(k, reflect.Value{})
				if bad {
					v.SetMapIndex(reflect.ValueOf(k.String()+"\xff").Convert(k.Type()), val)
				} else {
					v.SetMapIndex(reflect.ValueOf(k.String()+"\xff").Convert(k.Type()), reflect.Value{})
					v.SetMapIndex(k, val)
				}
			})
			fn(path+"[value]", func(bad bool) {
				if bad {
					v.SetMapIndex(k, reflect.ValueOf(val.String()+"\xff").Convert(val.Type()))
				} else {
					v.SetMapIndex(k, val)
				}
			})
		}
	case reflect.Struct:
		if v.Type() == timeType {
			was := v.Interface().(time.Time)
			fn(path, func(bad bool) {
				if bad {
					v.Set(reflect.ValueOf(was.In(zone)))
				} else {
					v.Set(reflect.ValueOf(was))
				}
			})
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				eachLeaf(v.Field(i), path+"."+v.Type().Field(i).Name, fn, zone)
			}
		}
	}
}

// TestCopyDecodedIsDeep: the copy shares nothing with the order; changing
// every field of the copy leaves the order as it was.
func TestCopyDecodedIsDeep(t *testing.T) {
	var o Order
	n := 0
	fill(reflect.ValueOf(&o).Elem(), false, &n)
	before, err := json.Marshal(&o)
	require.NoError(t, err)
	c, ok := o.CopyDecoded()
	require.True(t, ok)
	mutate(reflect.ValueOf(c).Elem())
	after, err := json.Marshal(&o)
	require.NoError(t, err)
	require.Equal(t, string(before), string(after))
	changed, err := json.Marshal(c)
	require.NoError(t, err)
	require.NotEqual(t, string(before), string(changed))
}

// mutate changes every value reachable from v in place: through the
// pointers, slices and maps v holds, not by replacing them.
func mutate(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "!")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Pointer:
		if !v.IsNil() {
			mutate(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			mutate(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			v.SetMapIndex(k, reflect.ValueOf(v.MapIndex(k).String()+"!").Convert(v.Type().Elem()))
		}
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Hour)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				mutate(v.Field(i))
			}
		}
	}
}

var timeType = reflect.TypeFor[time.Time]()

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
