package order

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// CopyDecoded returns the order that decoding o's JSON gives (Decode of
// json.Marshal(o)) without the JSON, or false when o holds something the
// round trip changes in a way a copy does not mirror: a string that is not
// UTF-8, a time that is not in UTC, a type with JSON methods of its own.
// The order store fills its cache of decoded orders with it at each commit
// (payments), so a read after a change need not decode the change again;
// what it returns must be, field for field, what a read from the store
// would return, or readers would see an order the store does not hold.
func (o *Order) CopyDecoded() (*Order, bool) {
	c := new(Order)
	if !copyDecoded(reflect.ValueOf(c).Elem(), reflect.ValueOf(o).Elem(), false) {
		return nil, false
	}
	return c, true
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	orderType       = reflect.TypeFor[Order]()
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// copyDecoded sets dst (a zero value) to what encoding/json's decoding of
// src's encoding gives; omitEmpty is the ",omitempty" of the field src is.
func copyDecoded(dst, src reflect.Value, omitEmpty bool) bool {
	switch src.Kind() {
	case reflect.String:
		s := src.String()
		if !utf8.ValidString(s) {
			return false // encoding replaces the invalid bytes
		}
		dst.SetString(s)
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		dst.Set(src)
	case reflect.Pointer:
		if src.IsNil() {
			return true
		}
		p := reflect.New(src.Type().Elem())
		if !copyDecoded(p.Elem(), src.Elem(), false) {
			return false
		}
		dst.Set(p)
	case reflect.Slice:
		switch {
		case src.IsNil():
		case src.Len() == 0 && omitEmpty:
			// Omitted, so absent when decoded: nil.
		case src.Type().Elem().Kind() == reflect.Uint8:
			// Base64 in JSON; decoding makes a slice even of nothing.
			if !plainType(src.Type().Elem()) {
				return false
			}
			dst.SetBytes(append(make([]byte, 0, src.Len()), src.Bytes()...))
		default:
			n := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
			for i := range src.Len() {
				if !copyDecoded(n.Index(i), src.Index(i), false) {
					return false
				}
			}
			dst.Set(n)
		}
	case reflect.Map:
		if src.IsNil() || (src.Len() == 0 && omitEmpty) {
			return true
		}
		t := src.Type()
		if t.Key().Kind() != reflect.String || !plainType(t.Key()) {
			return false
		}
		n := reflect.MakeMapWithSize(t, src.Len())
		for it := src.MapRange(); it.Next(); {
			k, v := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
			if !copyDecoded(k, it.Key(), false) || !copyDecoded(v, it.Value(), false) {
				return false
			}
			n.SetMapIndex(k, v)
		}
		dst.Set(n)
	case reflect.Struct:
		if src.Type() == timeType {
			t := src.Interface().(time.Time)
			if t.Location() != time.UTC || t.Year() < 0 || t.Year() > 9999 {
				return false // decoded in another zone, or not encoded at all
			}
			dst.Set(reflect.ValueOf(t.Round(0))) // no monotonic reading survives
			return true
		}
		fields, ok := structFields(src.Type())
		if !ok {
			return false
		}
		for _, f := range fields {
			if !copyDecoded(dst.Field(f.index), src.Field(f.index), f.omitEmpty) {
				return false
			}
		}
	default:
		// Floats, interfaces, arrays, channels...: not in an order.
		return false
	}
	return true
}

// plainType reports whether t has no JSON or text methods of its own,
// which would encode or decode it as they please.
func plainType(t reflect.Type) bool {
	return !hasMethods(t, jsonMarshaler, jsonUnmarshaler, textMarshaler, textUnmarshaler)
}

func hasMethods(t reflect.Type, ifaces ...reflect.Type) bool {
	p := reflect.PointerTo(t)
	for _, i := range ifaces {
		if t.Implements(i) || p.Implements(i) {
			return true
		}
	}
	return false
}

type decodedField struct {
	index     int
	omitEmpty bool
}

// decodedFields caches structFields by type.
var decodedFields sync.Map // reflect.Type → []decodedField, or nil for a type copyDecoded refuses

// structFields lists the fields of t that JSON carries, or false when t
// is a struct copyDecoded cannot mirror.
func structFields(t reflect.Type) ([]decodedField, bool) {
	if v, ok := decodedFields.Load(t); ok {
		fs := v.([]decodedField)
		return fs, fs != nil
	}
	fs := buildFields(t)
	decodedFields.Store(t, fs)
	return fs, fs != nil
}

func buildFields(t reflect.Type) []decodedField {
	// Order's UnmarshalJSON reads what its plain encoding writes as the
	// plain decoding does (orderJSON): registration.card_id is never
	// written.
	switch {
	case t == orderType && hasMethods(t, jsonMarshaler, textMarshaler, textUnmarshaler):
		return nil
	case t != orderType && !plainType(t):
		return nil
	}
	fs := []decodedField{}
	names := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil
		}
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue // not encoded: zero when decoded, as dst already is
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		if names[strings.ToLower(name)] {
			return nil // names the decoder may mix up
		}
		names[strings.ToLower(name)] = true
		omit := false
		for o := range strings.SplitSeq(opts, ",") {
			switch o {
			case "omitempty":
				omit = true
			case "":
			default:
				return nil // ",string", ",omitzero"...: not mirrored
			}
		}
		fs = append(fs, decodedField{index: i, omitEmpty: omit})
	}
	return fs
}
