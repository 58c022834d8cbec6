package payments

import (
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// Query selects orders for the merchant cabinet: its register, exports and
// reports. Zero fields select everything; the fields given must all hold.
type Query struct {
	// Merchants the orders belong to; empty: every merchant's.
	Merchants []string
	// From and To bound CreatedAt: From ≤ CreatedAt < To. Zero: no bound.
	From, To time.Time
	// Statuses the order may be in; empty: any.
	Statuses []order.Status
	// MinAmount and MaxAmount bound the registered amount, inclusive;
	// 0 is no bound.
	MinAmount, MaxAmount int64
	// Number is the merchant's order number, exactly.
	Number string
	// RRN, Last4 and Approval match an operation's RRN, the card's last
	// four digits and an operation's approval code, exactly.
	RRN, Last4, Approval string
}

// SortKey is what a page is sorted by.
type SortKey string

// Sort keys. Creation time follows the indexes; the others read every
// matching order's row and keep the page's worth in a heap.
const (
	SortCreated  SortKey = "created"
	SortAmount   SortKey = "amount"
	SortRefunded SortKey = "refunded"
	SortStatus   SortKey = "status"
)

// ErrQuery is wrapped by a query that cannot run as asked.
var ErrQuery = errors.New("payments: bad query")

// Page is one page of a query's orders.
type Page struct {
	Orders []*order.Order
	// Total is how many orders the query selects in all.
	Total int
}

// MaxPageSize bounds Find's limit.
const MaxPageSize = 500

// Find returns the orders of q from offset, at most limit of them, sorted
// by by (descending unless asc; ties by creation time, then id as the
// index keys order them: order's index.go), with the count of all q
// selects. It reads in one short transaction: the indexes give the orders
// in creation order, so a deep page costs a walk over keys, not over
// orders.
func (s *Store) Find(q Query, by SortKey, asc bool, offset, limit int) (*Page, error) {
	if limit <= 0 || limit > MaxPageSize || offset < 0 {
		return nil, fmt.Errorf("%w: page of %d from %d", ErrQuery, limit, offset)
	}
	if by == "" {
		by = SortCreated
	}
	keyOf, ok := sortKeys[by]
	if !ok {
		return nil, fmt.Errorf("%w: sort by %q", ErrQuery, by)
	}
	p := &Page{}
	err := s.db.View(func(tx *bolt.Tx) error {
		sc, err := newScan(tx, q, !asc, nil)
		if err != nil || sc == nil {
			return err
		}
		// Ids are made of the keys' tails only for the page's orders.
		var ids []string
		if keyOf == nil {
			_, err = sc.each(0, func(h *hit, _ rowFunc) error {
				p.Total++
				if p.Total > offset && len(ids) < limit {
					id, err := idOf(h.tail)
					if err != nil {
						return err
					}
					ids = append(ids, id)
				}
				return nil
			})
		} else {
			top := &topN{n: offset + limit, asc: asc}
			_, err = sc.each(0, func(h *hit, row rowFunc) error {
				p.Total++
				r, err := row(false)
				if err != nil {
					return err
				}
				top.push(sorted{val: keyOf(r), created: h.created, tail: h.tail})
				return nil
			})
			if err != nil {
				return err
			}
			for _, h := range top.sorted()[min(offset, top.h.Len()):] {
				id, err := idOf(h.tail)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
		}
		if err != nil {
			return err
		}
		for _, id := range ids {
			o, err := getOrder(tx, s.cache, id)
			if err != nil {
				return err
			}
			p.Orders = append(p.Orders, o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("payments: find: %w", err)
	}
	return p, nil
}

var sortKeys = map[SortKey]func(order.Row) int64{
	SortCreated:  nil,
	SortAmount:   func(r order.Row) int64 { return r.Amount },
	SortRefunded: func(r order.Row) int64 { return r.Refunded },
	SortStatus:   func(r order.Row) int64 { return int64(r.Status) },
}

// chunk bounds how many index keys one read transaction of Each or EachRow
// walks: a long read transaction would hold bbolt's remapping of a growing
// file, and with it every writer of the switch.
const chunk = 4000

// Each calls fn with every order q selects, newest first (oldest first when
// asc), in read transactions of a bounded number of keys each, so that a
// caller may write to a slow client between them. fn must not call the
// store. The orders given are those committed when their chunk was read.
func (s *Store) Each(q Query, asc bool, fn func(*order.Order) error) error {
	return s.chunked(q, asc, func(tx *bolt.Tx, h *hit, _ rowFunc) error {
		id, err := idOf(h.tail)
		if err != nil {
			return err
		}
		o, err := getOrder(tx, s.cache, id)
		if err != nil {
			return err
		}
		return fn(o)
	})
}

// RowRef is one order of a query as its index row describes it.
type RowRef struct {
	Merchant string
	ID       string
	Created  time.Time
	Row      order.Row
}

// EachRow is Each without reading the orders: fn gets each order's index
// row, at a fraction of the cost.
func (s *Store) EachRow(q Query, asc bool, fn func(RowRef) error) error {
	return s.chunked(q, asc, func(_ *bolt.Tx, h *hit, row rowFunc) error {
		r, err := row(true)
		if err != nil {
			return err
		}
		id, err := idOf(h.tail)
		if err != nil {
			return err
		}
		return fn(RowRef{Merchant: h.merchant, ID: id, Created: time.Unix(0, h.created).UTC(), Row: r})
	})
}

// eachSums is EachRow for reports: rows without their fields, and no
// strings made per order.
func (s *Store) eachSums(q Query, fn func(created int64, r *order.Row) error) error {
	return s.chunked(q, true, func(_ *bolt.Tx, h *hit, row rowFunc) error {
		r, err := row(false)
		if err != nil {
			return err
		}
		return fn(h.created, &r)
	})
}

func (s *Store) chunked(q Query, asc bool, fn func(*bolt.Tx, *hit, rowFunc) error) error {
	var after *position
	for {
		err := s.db.View(func(tx *bolt.Tx) error {
			sc, err := newScan(tx, q, !asc, after)
			if err != nil || sc == nil {
				after = nil
				return err
			}
			after, err = sc.each(chunk, func(h *hit, row rowFunc) error { return fn(tx, h, row) })
			return err
		})
		if err != nil {
			return fmt.Errorf("payments: query: %w", err)
		}
		if after == nil {
			return nil
		}
	}
}

// hit is one order a scan found. tail is the order id's tail as the index
// keys end with it (order.AppendIDTail): hits compare by it as stored, and
// the id is made of it (idOf) only for an order loaded or returned. It
// points into the transaction's pages: copy it to keep it.
type hit struct {
	merchant string
	created  int64
	tail     []byte
}

// idOf is the order id of an index key's tail.
func idOf(tail []byte) (string, error) {
	id, ok := order.IDFromTail(tail)
	if !ok {
		return "", fmt.Errorf("index key ends with %x: not an order id", tail)
	}
	return id, nil
}

// rowFunc reads the order's index row (with its fields or without), once.
type rowFunc func(fields bool) (order.Row, error)

// position is where a walk stopped, for the next to go on after it: the
// last key's creation time and id's tail, in the layout of the indexes it
// was read from. It lives only between the read transactions of one
// chunked walk, never in a page link or a token (the cabinet and the API
// page by offset), so a new index layout has no older positions to read.
type position struct {
	created int64
	tail    []byte
}

// source walks one range of one index in creation order: a merchant's
// orders in time, or in one status, or with one field value.
type source struct {
	c        *bolt.Cursor
	merchant string
	prefix   []byte // the key up to the creation time
	lo, hi   []byte // lo ≤ key < hi
	desc     bool
	// rowInValue: the key's value is the row (orders_by_time).
	rowInValue bool

	k, v    []byte
	created int64
	tail    []byte
	// err: a key in the range that is not an index key (a damaged
	// index); the walk stops with it rather than end the range quietly.
	err error
}

func (src *source) first() {
	if src.desc {
		if k, _ := src.c.Seek(src.hi); k == nil {
			src.set(src.c.Last())
		} else {
			src.set(src.c.Prev())
		}
		return
	}
	src.set(src.c.Seek(src.lo))
}

func (src *source) next() {
	if src.desc {
		src.set(src.c.Prev())
		return
	}
	src.set(src.c.Next())
}

func (src *source) set(k, v []byte) {
	src.k, src.v = nil, nil
	if k == nil || !bytes.HasPrefix(k, src.prefix) || bytes.Compare(k, src.lo) < 0 || bytes.Compare(k, src.hi) >= 0 {
		return
	}
	created, tail, ok := order.SplitKeyTail(k, len(src.prefix))
	if !ok {
		src.err = fmt.Errorf("payments: index key %x does not end with a creation time and an order id", k)
		return
	}
	src.k, src.v = k, v
	src.created, src.tail = created, tail
}

// before orders the walk: newest first when descending. Orders created in
// the same nanosecond go by their ids' tails as the keys hold them, so
// that the walk, merged from several ranges, runs in key order.
func before(desc bool, ac int64, atail []byte, bc int64, btail []byte) bool {
	if ac != bc {
		return (ac > bc) == desc
	}
	return (bytes.Compare(atail, btail) > 0) == desc
}

type merge []*source

func (m merge) Len() int { return len(m) }
func (m merge) Less(i, j int) bool {
	return before(m[i].desc, m[i].created, m[i].tail, m[j].created, m[j].tail)
}
func (m merge) Swap(i, j int) { m[i], m[j] = m[j], m[i] }
func (m *merge) Push(x any)   { *m = append(*m, x.(*source)) }
func (m *merge) Pop() any {
	old := *m
	x := old[len(old)-1]
	*m = old[:len(old)-1]
	return x
}

// scan is a query's plan over one transaction: the sources of the index
// that narrows it most, merged in creation order, and the checks the
// other criteria make on each order's row.
type scan struct {
	tx     *bolt.Tx
	byTime *bolt.Bucket
	q      Query
	srcs   merge
	// checkStatus: the statuses are not what the walk follows.
	checkStatus bool
	number      []numbered // a Number query's orders, already found
	desc        bool
}

type numbered struct {
	hit
	row order.Row
}

// newScan plans q; after, when set, starts the walk just past that order.
// A nil scan selects nothing.
func newScan(tx *bolt.Tx, q Query, desc bool, after *position) (*scan, error) {
	sc := &scan{tx: tx, byTime: tx.Bucket(bucketByTime), q: q, desc: desc, checkStatus: len(q.Statuses) > 0}
	if sc.byTime == nil {
		return nil, nil
	}
	merchants := dedup(q.Merchants)
	if len(merchants) == 0 {
		merchants = allMerchants(sc.byTime)
	}
	if q.Number != "" {
		return sc, sc.findNumber(merchants, after)
	}
	bound := func(prefix []byte) (lo, hi []byte) {
		lo = append(append([]byte(nil), prefix...), created8(q.From)...)
		if q.To.IsZero() {
			hi = append(append([]byte(nil), prefix...), 0xff)
		} else {
			hi = append(append([]byte(nil), prefix...), created8(q.To)...)
		}
		if after != nil {
			k := append(append(append([]byte(nil), prefix...), be64(after.created)...), after.tail...)
			if desc {
				if bytes.Compare(k, hi) < 0 {
					hi = k
				}
			} else if k = append(k, 0); bytes.Compare(k, lo) > 0 {
				lo = k // the smallest key after the position's
			}
		}
		return lo, hi
	}
	var bad error
	add := func(b *bolt.Bucket, merchant string, prefix []byte, rowInValue bool) {
		lo, hi := bound(prefix)
		src := &source{c: b.Cursor(), merchant: merchant, prefix: prefix, lo: lo, hi: hi, desc: desc, rowInValue: rowInValue}
		if src.first(); src.k != nil {
			sc.srcs = append(sc.srcs, src)
		}
		if bad == nil {
			bad = src.err
		}
	}
	switch f, v := q.driver(); {
	case f != 0:
		b := tx.Bucket(bucketByField)
		for _, m := range merchants {
			add(b, m, append(append(append([]byte(m), 0, f), v...), 0), false)
		}
	case len(q.Statuses) > 0:
		sc.checkStatus = false
		b := tx.Bucket(bucketByStatus)
		for _, m := range merchants {
			for _, st := range dedup(q.Statuses) {
				add(b, m, append([]byte(m), 0, byte(st)), false)
			}
		}
	default:
		for _, m := range merchants {
			add(sc.byTime, m, append([]byte(m), 0), true)
		}
	}
	if bad != nil {
		return nil, bad
	}
	heap.Init(&sc.srcs)
	return sc, nil
}

// driver is the field whose index drives a query: the most selective of
// those given.
func (q Query) driver() (byte, string) {
	switch {
	case q.RRN != "":
		return order.FieldRRN, q.RRN
	case q.Approval != "":
		return order.FieldApproval, q.Approval
	case q.Last4 != "":
		return order.FieldLast4, q.Last4
	}
	return 0, ""
}

func (sc *scan) findNumber(merchants []string, after *position) error {
	byNumber := sc.tx.Bucket(bucketByNumber)
	for _, m := range merchants {
		id := byNumber.Get(numberKey(m, sc.q.Number))
		if id == nil {
			continue
		}
		o, err := getOrder(sc.tx, nil, string(id))
		if err != nil {
			return err
		}
		// The tail the order's index keys end with: a Number query's
		// orders compare as any walk's.
		h := hit{merchant: m, created: o.CreatedAt.UnixNano(), tail: order.AppendIDTail(nil, o.ID)}
		if !sc.q.From.IsZero() && h.created < sc.q.From.UnixNano() || !sc.q.To.IsZero() && h.created >= sc.q.To.UnixNano() {
			continue
		}
		if after != nil && !before(sc.desc, after.created, after.tail, h.created, h.tail) {
			continue
		}
		sc.number = append(sc.number, numbered{h, order.RowOf(o)})
	}
	sort.Slice(sc.number, func(i, j int) bool {
		a, b := sc.number[i], sc.number[j]
		return before(sc.desc, a.created, a.tail, b.created, b.tail)
	})
	return nil
}

// each calls fn with the orders that pass every check, in order. With a
// budget it stops after walking that many keys and returns the position
// reached (nil when the walk ended): a later scan goes on after it.
func (sc *scan) each(budget int, fn func(h *hit, row rowFunc) error) (*position, error) {
	if sc.q.Number != "" {
		for i := range sc.number {
			n := &sc.number[i]
			if !sc.check(&n.row, true) {
				continue
			}
			if err := fn(&n.hit, func(bool) (order.Row, error) { return n.row, nil }); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	needsRow, needsFields := sc.needsRow()
	var h hit
	var raw []byte
	var row order.Row
	var rowErr error
	loaded := 0 // 1: sums, 2: with fields
	load := func(fields bool) (order.Row, error) {
		want := 1
		if fields {
			want = 2
		}
		if loaded < want {
			if raw == nil {
				raw = sc.byTime.Get(order.TimeKeyOfTail(h.merchant, h.created, h.tail))
				if raw == nil {
					id, _ := order.IDFromTail(h.tail)
					return order.Row{}, fmt.Errorf("order %s: no index row", id)
				}
			}
			if fields {
				row, rowErr = order.DecodeRow(raw)
			} else {
				row, rowErr = order.DecodeRowSums(raw)
			}
			loaded = want
		}
		return row, rowErr
	}
	for walked := 1; len(sc.srcs) > 0; walked++ {
		src := sc.srcs[0]
		h = hit{merchant: src.merchant, created: src.created, tail: src.tail}
		raw, loaded = nil, 0
		if src.rowInValue {
			raw = src.v
		}
		pass := true
		if needsRow {
			r, err := load(needsFields)
			if err != nil {
				return nil, err
			}
			pass = sc.check(&r, false)
		}
		if pass {
			if err := fn(&h, load); err != nil {
				return nil, err
			}
		}
		src.next()
		if src.err != nil {
			return nil, src.err
		}
		if src.k == nil {
			heap.Pop(&sc.srcs)
		} else {
			heap.Fix(&sc.srcs, 0)
		}
		if budget > 0 && walked >= budget && len(sc.srcs) > 0 {
			return &position{created: h.created, tail: append([]byte(nil), h.tail...)}, nil
		}
	}
	return nil, nil
}

// needsRow says whether the checks read the row, and its fields.
func (sc *scan) needsRow() (row, fields bool) {
	q := sc.q
	fields = q.RRN != "" || q.Approval != "" || q.Last4 != ""
	return fields || sc.checkStatus || q.MinAmount > 0 || q.MaxAmount > 0, fields
}

// check applies the criteria the driving index does not answer (all of
// them with all).
func (sc *scan) check(r *order.Row, all bool) bool {
	q := sc.q
	if (sc.checkStatus || all) && len(q.Statuses) > 0 {
		found := false
		for _, st := range q.Statuses {
			if r.Status == st {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if q.MinAmount > 0 && r.Amount < q.MinAmount || q.MaxAmount > 0 && r.Amount > q.MaxAmount {
		return false
	}
	return (q.RRN == "" || r.Has(order.FieldRRN, q.RRN)) && (q.Approval == "" || r.Has(order.FieldApproval, q.Approval)) &&
		(q.Last4 == "" || r.Has(order.FieldLast4, q.Last4))
}

// allMerchants lists the merchants that have orders, one seek each.
func allMerchants(byTime *bolt.Bucket) []string {
	var out []string
	c := byTime.Cursor()
	for k, _ := c.First(); k != nil; {
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			k, _ = c.Next()
			continue
		}
		out = append(out, string(k[:i]))
		k, _ = c.Seek(append(append([]byte(nil), k[:i]...), 1))
	}
	return out
}

// dedup keeps the first of each value: a value listed twice must not
// walk its range twice.
func dedup[T comparable](in []T) []T {
	seen := map[T]bool{}
	var out []T
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func created8(t time.Time) []byte {
	if t.IsZero() {
		return be64(0)
	}
	return be64(t.UnixNano())
}

func be64(v int64) []byte {
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}

// sorted is a hit with its sort value, for pages not in creation order.
type sorted struct {
	val     int64
	created int64
	tail    []byte
}

// topN keeps the n first by sort value.
type topN struct {
	n   int
	asc bool
	h   sortHeap
}

func (t *topN) push(x sorted) {
	t.h.asc = t.asc
	if len(t.h.xs) < t.n {
		x.tail = append([]byte(nil), x.tail...)
		heap.Push(&t.h, x)
		return
	}
	// The heap's root is the worst kept: replace it when x is better.
	if t.h.better(x, t.h.xs[0]) {
		x.tail = append(t.h.xs[0].tail[:0], x.tail...)
		t.h.xs[0] = x
		heap.Fix(&t.h, 0)
	}
}

func (t *topN) sorted() []sorted {
	out := append([]sorted(nil), t.h.xs...)
	sort.Slice(out, func(i, j int) bool { return t.h.better(out[i], out[j]) })
	return out
}

// sortHeap is a heap with the worst kept at its root.
type sortHeap struct {
	xs  []sorted
	asc bool
}

// better: by sort value, then newest first.
func (h *sortHeap) better(a, b sorted) bool {
	if a.val != b.val {
		return (a.val < b.val) == h.asc
	}
	return before(true, a.created, a.tail, b.created, b.tail)
}

func (h *sortHeap) Len() int           { return len(h.xs) }
func (h *sortHeap) Less(i, j int) bool { return h.better(h.xs[j], h.xs[i]) }
func (h *sortHeap) Swap(i, j int)      { h.xs[i], h.xs[j] = h.xs[j], h.xs[i] }
func (h *sortHeap) Push(x any)         { h.xs = append(h.xs, x.(sorted)) }
func (h *sortHeap) Pop() any {
	x := h.xs[len(h.xs)-1]
	h.xs = h.xs[:len(h.xs)-1]
	return x
}
