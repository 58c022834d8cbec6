package order

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tulpar-switch/tulpar/switch/compact"
)

// The order store's query indexes: what the merchant cabinet filters and
// reports on without decoding orders. They are part of the recorded format
// (the payments core writes them in each order change's transaction, the
// auditors' replay checks them), so their layout is defined here, once.
//
//	orders_by_time    merchant 0x00 created id                  → the order's Row
//	orders_by_status  merchant 0x00 status created id           → nil
//	orders_by_field   merchant 0x00 field value 0x00 created id → nil
//
// created is CreatedAt in Unix nanoseconds, 8 bytes big-endian, so that
// within one merchant (and one status, or one field value) keys run in
// creation order. status is one byte (Status). field is one byte
// (FieldRRN, FieldLast4, FieldApproval) and value its text, which never
// holds a 0x00. id is the order id's tail (AppendIDTail): 0x01 and the 16
// bytes of a UUID when the id is one in the switch's own text form (its
// ids are UUIDv7: 20 bytes less in each of an order's ~5 keys than the
// text), else 0x00 and the id's text. Each id has exactly one tail, so a
// key is found again from the order alone. Orders created in the same
// nanosecond run by their tails' bytes: ids kept as text before UUIDs,
// UUIDs among themselves in their text's order (lower-case hex packs in
// the same order), texts in byte order. (Layout 1 ran them by the id's
// text, which always followed a 0x00.) Orders are found by their number
// through orders_by_number (merchant 0x00 number → id, as text).
var (
	BucketByTime   = []byte("orders_by_time")
	BucketByStatus = []byte("orders_by_status")
	BucketByField  = []byte("orders_by_field")
)

// IndexVersion names the layout above. A store whose indexes were built
// with another version (or none: files from before the cabinet) rebuilds
// them from its orders when it opens. It is kept under IndexVersionKey in
// BucketStoreMeta, 4 bytes big-endian. Version 1 ended every key with 0x00
// and the id's text; 2 packs UUIDs (AppendIDTail).
const IndexVersion = 2

// BucketStoreMeta is the order store's bucket of small records (RRN
// reservations, the indexes' version); IndexVersionKey names the latter.
var (
	BucketStoreMeta = []byte("payments_meta")
	IndexVersionKey = []byte("index_version")
)

// Fields an order is found by exactly.
const (
	FieldRRN      byte = 'r' // the RRN of any of its operations
	FieldLast4    byte = 'c' // the last four digits of its card
	FieldApproval byte = 'a' // the approval code of any of its operations
)

// Row is what the indexes keep of an order: enough to filter, sort and
// report on it without reading the order itself.
type Row struct {
	Status     Status
	TwoStage   bool
	Amount     int64
	Approved   int64
	Deposited  int64
	Refunded   int64
	ActionCode int
	Currency   string // ISO 4217 numeric, 3 digits
	// Fields are the order's exact-match values, each once, in the order
	// RowOf finds them: the card's last four, then each operation's RRN
	// and approval code.
	Fields []FieldValue
}

// FieldValue is one exact-match value of an order.
type FieldValue struct {
	Field byte
	Value string
}

// Has reports whether the row carries field with value.
func (r *Row) Has(field byte, value string) bool {
	for _, f := range r.Fields {
		if f.Field == field && f.Value == value {
			return true
		}
	}
	return false
}

// RowOf is o's index row.
func RowOf(o *Order) Row {
	r := Row{Status: o.Status, TwoStage: o.TwoStage, Amount: o.Amount, Approved: o.Approved, Deposited: o.Deposited,
		Refunded: o.Refunded, ActionCode: o.ActionCode, Currency: o.Currency}
	add := func(f byte, v string) {
		if v == "" || len(v) > 64 || bytes.IndexByte([]byte(v), 0) >= 0 || r.Has(f, v) {
			return
		}
		r.Fields = append(r.Fields, FieldValue{f, v})
	}
	if o.Card != nil && len(o.Card.Masked) >= 4 {
		add(FieldLast4, o.Card.Masked[len(o.Card.Masked)-4:])
	}
	for _, op := range o.Ops {
		add(FieldRRN, op.RRN)
		add(FieldApproval, op.ApprovalCode)
	}
	return r
}

const rowVersion = 1

const kzt = "398"

// Encode is the row as orders_by_time stores it: a version byte, the status,
// flags, the amounts and the action code as varints, the currency, then the
// fields (count; each its byte, length and text).
func (r Row) Encode() []byte {
	b := make([]byte, 0, 48+8*len(r.Fields))
	b = append(b, rowVersion, byte(r.Status))
	var flags byte
	if r.TwoStage {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, r.Amount)
	b = binary.AppendVarint(b, r.Approved)
	b = binary.AppendVarint(b, r.Deposited)
	b = binary.AppendVarint(b, r.Refunded)
	b = binary.AppendVarint(b, int64(r.ActionCode))
	b = binary.AppendUvarint(b, uint64(len(r.Currency)))
	b = append(b, r.Currency...)
	b = binary.AppendUvarint(b, uint64(len(r.Fields)))
	for _, f := range r.Fields {
		b = append(b, f.Field)
		b = binary.AppendUvarint(b, uint64(len(f.Value)))
		b = append(b, f.Value...)
	}
	return b
}

// ErrRow is wrapped when a stored row does not decode.
var ErrRow = errors.New("order: bad index row")

// DecodeRow reads a row Encode wrote.
func DecodeRow(b []byte) (Row, error) { return decodeRow(b, true) }

// DecodeRowSums reads a row without its fields: what reports need, with
// no allocation for a row in KZT.
func DecodeRowSums(b []byte) (Row, error) { return decodeRow(b, false) }

func decodeRow(b []byte, fields bool) (Row, error) {
	var r Row
	if len(b) < 3 || b[0] != rowVersion {
		return r, fmt.Errorf("%w: version", ErrRow)
	}
	r.Status, r.TwoStage = Status(b[1]), b[2]&1 != 0
	p := b[3:]
	bad := false
	varint := func() int64 {
		v, n := binary.Varint(p)
		if n <= 0 {
			bad = true
			return 0
		}
		p = p[n:]
		return v
	}
	text := func() string {
		n, k := binary.Uvarint(p)
		if k <= 0 || uint64(len(p)-k) < n {
			bad = true
			return ""
		}
		v := p[k : k+int(n)]
		p = p[k+int(n):]
		if string(v) == kzt { // no allocation: the usual currency
			return kzt
		}
		return string(v)
	}
	r.Amount, r.Approved, r.Deposited, r.Refunded = varint(), varint(), varint(), varint()
	r.ActionCode = int(varint())
	r.Currency = text()
	n, k := binary.Uvarint(p)
	if bad || k <= 0 || n > uint64(len(p)) {
		return r, fmt.Errorf("%w: truncated", ErrRow)
	}
	p = p[k:]
	if !fields {
		return r, nil
	}
	if n > 0 {
		r.Fields = make([]FieldValue, 0, n)
	}
	for i := uint64(0); i < n && !bad; i++ {
		if len(p) == 0 {
			bad = true
			break
		}
		f := p[0]
		p = p[1:]
		r.Fields = append(r.Fields, FieldValue{f, text()})
	}
	if bad || len(p) != 0 {
		return r, fmt.Errorf("%w: truncated", ErrRow)
	}
	return r, nil
}

// RowStatus is the status of an encoded row without decoding the rest.
func RowStatus(b []byte) (Status, bool) {
	if len(b) < 2 || b[0] != rowVersion {
		return 0, false
	}
	return Status(b[1]), true
}

// createdBytes is t as index keys hold it.
func createdBytes(dst []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(t.UnixNano()))
}

// Tags of an id's tail, the byte after a key's creation time. Text sorts
// first, so a key ending at the text tag with no id (TimeKey with "") is
// the first of its nanosecond.
const (
	tailText byte = 0x00 // the id's text follows
	tailUUID byte = 0x01 // the 16 bytes of a UUID follow
)

// uuidTextLen is a UUID's length in text, packedTailLen its tail's packed.
const (
	uuidTextLen   = 36
	packedTailLen = 1 + 16
)

// AppendIDTail appends id as index keys end with it: 0x01 and the 16 bytes
// of a UUID when id is one in canonical lower-case text (hyphens at 8, 13,
// 18 and 23, lower-case hex elsewhere: unpacking gives back the very same
// string), else 0x00 and the text. An upper-case UUID stays text: packed,
// it would come back as another string, and the orders bucket knows the
// order by the text.
func AppendIDTail(dst []byte, id string) []byte {
	if u, ok := compact.PackUUID(id); ok {
		return append(append(dst, tailUUID), u[:]...)
	}
	return append(append(dst, tailText), id...)
}

// IDFromTail is the order id of a tail AppendIDTail made. It refuses any
// other bytes, a text tail holding an id that packs included: one id has
// one tail, so keys compare as the ids they name.
func IDFromTail(tail []byte) (string, bool) {
	if !validTail(tail) {
		return "", false
	}
	if tail[0] == tailUUID {
		var text [uuidTextLen]byte
		return string(compact.AppendUUIDText(text[:0], tail[1:])), true
	}
	return string(tail[1:]), true
}

// validTail reports whether tail is one AppendIDTail makes.
func validTail(tail []byte) bool {
	if len(tail) == 0 {
		return false
	}
	switch tail[0] {
	case tailUUID:
		return len(tail) == packedTailLen
	case tailText:
		_, packs := compact.PackUUID(tail[1:])
		return !packs
	}
	return false
}

// TimeKey is o's key in orders_by_time. With id "" it is the first key
// that any order created at created could have (List's bounds).
func TimeKey(merchant string, created time.Time, id string) []byte {
	return TimeKeyOfTail(merchant, created.UnixNano(), AppendIDTail(nil, id))
}

// TimeKeyOfTail is the orders_by_time key of the order whose creation time
// and id's tail another of its keys ends with (SplitKeyTail): the way from
// a status or field key to the order's row.
func TimeKeyOfTail(merchant string, created int64, tail []byte) []byte {
	k := make([]byte, 0, len(merchant)+9+len(tail))
	k = append(append(k, merchant...), 0)
	return append(binary.BigEndian.AppendUint64(k, uint64(created)), tail...)
}

// StatusKey is an order's key in orders_by_status.
func StatusKey(merchant string, s Status, created time.Time, id string) []byte {
	return statusKey(merchant, s, created, AppendIDTail(nil, id))
}

func statusKey(merchant string, s Status, created time.Time, tail []byte) []byte {
	k := make([]byte, 0, len(merchant)+10+len(tail))
	k = append(append(k, merchant...), 0, byte(s))
	return append(createdBytes(k, created), tail...)
}

// FieldKey is an order's key in orders_by_field for one of its values.
func FieldKey(merchant string, f FieldValue, created time.Time, id string) []byte {
	return fieldKey(merchant, f, created, AppendIDTail(nil, id))
}

func fieldKey(merchant string, f FieldValue, created time.Time, tail []byte) []byte {
	k := make([]byte, 0, len(merchant)+len(f.Value)+11+len(tail))
	k = append(append(k, merchant...), 0, f.Field)
	k = append(append(k, f.Value...), 0)
	return append(createdBytes(k, created), tail...)
}

// SplitKeyTail reads the creation time (Unix nanoseconds) and the id's
// tail that end every index key, given the length of the key's prefix
// before them. tail is k's own bytes: copy it to keep it past the
// transaction.
func SplitKeyTail(k []byte, prefix int) (created int64, tail []byte, ok bool) {
	if len(k) < prefix+9 || !validTail(k[prefix+8:]) {
		return 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(k[prefix:])), k[prefix+8:], true
}

// KeyTail reads the creation time (Unix nanoseconds) and order id that end
// every index key, given the length of the key's prefix before them.
func KeyTail(k []byte, prefix int) (created int64, id string, ok bool) {
	created, tail, ok := SplitKeyTail(k, prefix)
	if !ok {
		return 0, "", false
	}
	id, _ = IDFromTail(tail)
	return created, id, true
}

// IndexKeys are every key o has in the three indexes, by bucket: one in
// orders_by_time (whose value is the row), one in orders_by_status and one
// in orders_by_field per field value of the row.
func IndexKeys(o *Order, r Row) (byTime, byStatus []byte, byField [][]byte) {
	tail := AppendIDTail(nil, o.ID)
	byTime = TimeKeyOfTail(o.Merchant, o.CreatedAt.UnixNano(), tail)
	byStatus = statusKey(o.Merchant, r.Status, o.CreatedAt, tail)
	for _, f := range r.Fields {
		byField = append(byField, fieldKey(o.Merchant, f, o.CreatedAt, tail))
	}
	return byTime, byStatus, byField
}
