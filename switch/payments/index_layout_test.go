package payments_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// mixedOrders are sampleOrders with ids of every kind the indexes keep:
// UUIDs in the switch's lower-case text (packed), the same upper-case and
// plain text (both kept as text, some sorting after the UUIDs' text), and
// groups of seven created in the same nanosecond, so that ties between the
// kinds are broken by the keys' tails and cut by the chunks of Each.
func mixedOrders(seed uint64, n int, merchants []string) []*order.Order {
	orders := sampleOrders(seed, n, merchants, time.Duration(n)*time.Millisecond)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i, o := range orders {
		var u uuid.UUID
		for j := range u {
			u[j] = byte(rng.Uint32())
		}
		switch i % 5 {
		case 0, 1:
			o.ID = u.String()
		case 2:
			o.ID = strings.ToUpper(u.String())
		case 3:
			o.ID = fmt.Sprintf("x-%06d", i) // after any UUID's text: 'x' > 'f'
		case 4:
			o.ID = fmt.Sprintf("%06d", i)
		}
		o.CreatedAt = sampleStart.Add(time.Duration(i/7) * time.Millisecond)
		o.UpdatedAt = o.CreatedAt
		o.Amount = int64(100 * (1 + rng.IntN(4))) // ties for the amount sort too
	}
	return orders
}

// tailOrder sorts orders as the indexes hold them: by sort value, then
// newest first (oldest first for an ascending sort by creation), ties in
// one nanosecond by the ids' tails (order.AppendIDTail).
func tailOrder(orders []*order.Order, by payments.SortKey, asc bool) {
	val := func(o *order.Order) int64 {
		switch by {
		case payments.SortAmount:
			return o.Amount
		case payments.SortStatus:
			return int64(o.Status)
		}
		return 0
	}
	up := asc && by == payments.SortCreated
	slices.SortStableFunc(orders, func(a, b *order.Order) int {
		if va, vb := val(a), val(b); va != vb {
			if (va < vb) == asc {
				return -1
			}
			return 1
		}
		c := a.CreatedAt.Compare(b.CreatedAt)
		if c == 0 {
			c = bytes.Compare(order.AppendIDTail(nil, a.ID), order.AppendIDTail(nil, b.ID))
		}
		if !up {
			c = -c
		}
		return c
	})
}

// TestQueriesOverMixedIDs: pages, chunked walks, number look-ups and List
// give the orders of packed and text ids alike, each once, in the keys'
// order, across page and chunk boundaries inside a nanosecond's group.
func TestQueriesOverMixedIDs(t *testing.T) {
	merchants := []string{"alpha", "beta"}
	db, st := openStore(t, "mixed.db")
	orders := mixedOrders(11, 9001, merchants)
	writeOrders(t, db, orders)
	diffs, err := st.IndexDiffs(byID(orders))
	require.NoError(t, err)
	require.Empty(t, diffs)

	selected := func(q payments.Query) []*order.Order {
		var out []*order.Order
		for _, o := range orders {
			if matches(q, o) {
				out = append(out, o)
			}
		}
		return out
	}
	// Every merchant's orders_by_time ranges merged (more than a chunk);
	// one range; status ranges merged; bounds at groups; the field index.
	queries := []payments.Query{
		{},
		{Merchants: []string{"alpha"}},
		{Statuses: []order.Status{order.StatusDeposited, order.StatusDeclined}},
		{Merchants: []string{"beta"}, From: sampleStart.Add(100 * time.Millisecond), To: sampleStart.Add(900 * time.Millisecond)},
		{Last4: sampleCards[0][12:]},
	}
	for i, q := range queries {
		for _, asc := range []bool{false, true} {
			want := selected(q)
			require.NotEmpty(t, want, "query %d", i)
			tailOrder(want, payments.SortCreated, asc)

			var got []string
			require.NoError(t, st.Each(q, asc, func(o *order.Order) error { got = append(got, o.ID); return nil }))
			require.Equal(t, ids(want), got, "Each: query %d asc %t", i, asc)
			got = got[:0]
			require.NoError(t, st.EachRow(q, asc, func(r payments.RowRef) error { got = append(got, r.ID); return nil }))
			require.Equal(t, ids(want), got, "EachRow: query %d asc %t", i, asc)

			// Pages of 13 cut the groups of seven anywhere.
			got = got[:0]
			for off := 0; off < len(want) && off < 600; off += 13 {
				page, err := st.Find(q, payments.SortCreated, asc, off, 13)
				require.NoError(t, err)
				require.Equal(t, len(want), page.Total)
				got = append(got, ids(page.Orders)...)
			}
			require.Equal(t, ids(want[:min(len(want), 611)]), got, "Find: query %d asc %t", i, asc)

			byAmount := selected(q)
			tailOrder(byAmount, payments.SortAmount, asc)
			page, err := st.Find(q, payments.SortAmount, asc, 40, 50)
			require.NoError(t, err)
			require.Equal(t, ids(byAmount[40:min(90, len(byAmount))]), ids(page.Orders), "Find by amount: query %d asc %t", i, asc)
		}
	}

	for _, o := range orders[:10] {
		page, err := st.Find(payments.Query{Number: o.Number}, payments.SortCreated, false, 0, 10)
		require.NoError(t, err)
		require.Equal(t, []string{o.ID}, ids(page.Orders))
		got, err := st.ByNumber(o.Merchant, o.Number)
		require.NoError(t, err)
		require.Equal(t, o.ID, got.ID)
	}

	// List: one merchant's, newest first, from inclusive, to exclusive.
	from, to := sampleStart.Add(200*time.Millisecond), sampleStart.Add(300*time.Millisecond)
	q := payments.Query{Merchants: []string{"alpha"}, From: from, To: to}
	want := selected(q)
	tailOrder(want, payments.SortCreated, false)
	var got []string
	require.NoError(t, st.List("alpha", from, to, func(o *order.Order) bool { got = append(got, o.ID); return true }))
	require.Equal(t, ids(want), got)
	got = got[:0]
	require.NoError(t, st.List("alpha", sampleStart, time.Time{}, func(o *order.Order) bool { got = append(got, o.ID); return true }))
	all := selected(payments.Query{Merchants: []string{"alpha"}})
	tailOrder(all, payments.SortCreated, false)
	require.Equal(t, ids(all), got)
}

// TestIndexKeysPacked: the keys of an order with a UUID id end with the
// tag 0x01 and its 16 bytes, 20 bytes shorter than its text; an id that is
// not a UUID in the switch's form keeps its text.
func TestIndexKeysPacked(t *testing.T) {
	db, _ := openStore(t, "packed.db")
	const v7 = "0190c2a4-7b1e-7c3d-8e4f-a0b1c2d3e4f5"
	orders := sampleOrders(2, 3, []string{"shop"}, time.Hour)
	orders[0].ID, orders[1].ID, orders[2].ID = v7, strings.ToUpper(v7), "shop-1003"
	for _, o := range orders {
		o.Status = order.StatusDeposited
		o.Card = &order.Card{Masked: "411111******1111"}
		o.Ops = []order.Operation{{ID: "op", Type: order.OpPurchase, Status: order.OpApproved, RRN: "612300000001", ApprovalCode: "A1B2C3"}}
	}
	writeOrders(t, db, orders)
	packed := []byte{0x01, 0x01, 0x90, 0xc2, 0xa4, 0x7b, 0x1e, 0x7c, 0x3d, 0x8e, 0x4f, 0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5}
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		for _, o := range orders {
			created := binary.BigEndian.AppendUint64(nil, uint64(o.CreatedAt.UnixNano()))
			wantTail := append([]byte{0x00}, o.ID...)
			if o.ID == v7 {
				wantTail = packed
			}
			n := 0
			for _, b := range [][]byte{order.BucketByTime, order.BucketByStatus, order.BucketByField} {
				c := tx.Bucket(b).Cursor()
				for k, _ := c.First(); k != nil; k, _ = c.Next() {
					if !bytes.HasSuffix(k, append(created, wantTail...)) {
						continue
					}
					n++
					require.NotContains(t, string(k), strings.ToLower(v7), "%s %x", b, k)
				}
			}
			// One time key, one status key, three fields (card, RRN,
			// approval code).
			require.Equal(t, 5, n, o.ID)
		}
		tk := order.TimeKey("shop", orders[0].CreatedAt, v7)
		require.Len(t, tk, len("shop")+1+8+17, "orders_by_time key of a UUID order of shop: 50 bytes in layout 1, 30 now")
		require.NotNil(t, tx.Bucket(order.BucketByTime).Get(tk))
		return nil
	}))
}

// TestIndexesRebuiltFromLayout1 opens a store whose indexes were written in
// layout 1 (every key ended with 0x00 and the id's text) and its version
// recorded as 1: NewStore makes them again in this layout, with no key of
// the old one left in any index.
func TestIndexesRebuiltFromLayout1(t *testing.T) {
	db, _ := openStore(t, "v1.db")
	orders := mixedOrders(5, 7000, []string{"alpha", "beta"})
	writeOrders(t, db, orders)

	v1 := func(merchantAndMore []byte, created time.Time, id string) []byte {
		k := binary.BigEndian.AppendUint64(merchantAndMore, uint64(created.UnixNano()))
		return append(append(k, 0), id...)
	}
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{order.BucketByTime, order.BucketByStatus, order.BucketByField} {
			require.NoError(t, tx.DeleteBucket(name))
			_, err := tx.CreateBucket(name)
			require.NoError(t, err)
		}
		byTime, byStatus, byField := tx.Bucket(order.BucketByTime), tx.Bucket(order.BucketByStatus), tx.Bucket(order.BucketByField)
		for _, o := range orders {
			r := order.RowOf(o)
			m := []byte(o.Merchant + "\x00")
			require.NoError(t, byTime.Put(v1(m, o.CreatedAt, o.ID), r.Encode()))
			require.NoError(t, byStatus.Put(v1(append(m, byte(r.Status)), o.CreatedAt, o.ID), nil))
			for _, f := range r.Fields {
				require.NoError(t, byField.Put(v1(append(append(m, f.Field), f.Value+"\x00"...), o.CreatedAt, o.ID), nil))
			}
		}
		return tx.Bucket(order.BucketStoreMeta).Put(order.IndexVersionKey, binary.BigEndian.AppendUint32(nil, 1))
	}))

	st, err := payments.NewStore(db)
	require.NoError(t, err)
	diffs, err := st.IndexDiffs(byID(orders))
	require.NoError(t, err)
	require.Empty(t, diffs, "every key the orders make, and no other (a layout-1 key left over is one more)")

	// Every key stored is one the orders make now: a set, compared whole.
	want := map[string]bool{}
	for _, o := range orders {
		tk, sk, fks := order.IndexKeys(o, order.RowOf(o))
		want["t"+string(tk)], want["s"+string(sk)] = true, true
		for _, fk := range fks {
			want["f"+string(fk)] = true
		}
	}
	got := map[string]bool{}
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		for i, name := range [][]byte{order.BucketByTime, order.BucketByStatus, order.BucketByField} {
			err := tx.Bucket(name).ForEach(func(k, _ []byte) error {
				got["tsf"[i:i+1]+string(k)] = true
				return nil
			})
			require.NoError(t, err)
		}
		require.Equal(t, binary.BigEndian.AppendUint32(nil, order.IndexVersion), tx.Bucket(order.BucketStoreMeta).Get(order.IndexVersionKey))
		return nil
	}))
	require.Equal(t, len(want), len(got))
	require.Equal(t, want, got)

	all := slices.Clone(orders)
	tailOrder(all, payments.SortCreated, false)
	var walked []string
	require.NoError(t, st.Each(payments.Query{}, false, func(o *order.Order) error { walked = append(walked, o.ID); return nil }))
	require.Equal(t, ids(all), walked)
}

// TestDamagedIndexKeyIsAnError: a key inside a query's range that does not
// end with a creation time and an id (a damaged index) fails the query, as
// it fails List, instead of ending the range there and answering fewer
// orders as if that were all.
func TestDamagedIndexKeyIsAnError(t *testing.T) {
	db, st := openStore(t, "damaged.db")
	orders := sampleOrders(3, 20, []string{"shop"}, time.Hour)
	writeOrders(t, db, orders)
	var all []string
	require.NoError(t, st.Each(payments.Query{}, true, func(o *order.Order) error { all = append(all, o.ID); return nil }))
	require.Len(t, all, 20)
	// At the tenth order's creation time: the text tag, then a packable
	// UUID, which AppendIDTail never writes as text.
	tenth := orders[0]
	for _, o := range orders {
		if o.ID == all[9] {
			tenth = o
		}
	}
	bad := binary.BigEndian.AppendUint64([]byte("shop\x00"), uint64(tenth.CreatedAt.UnixNano()))
	bad = append(append(bad, 0x00), "0190c2a4-7b1e-7c3d-8e4f-a0b1c2d3e4f5"...)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return tx.Bucket(order.BucketByTime).Put(bad, []byte{1}) }))

	var got []string
	err := st.Each(payments.Query{}, true, func(o *order.Order) error { got = append(got, o.ID); return nil })
	require.ErrorContains(t, err, "does not end with a creation time and an order id")
	// The damaged key's "0190…" sorts before the tenth order's own text
	// tail in that nanosecond: nine orders come before it.
	require.Equal(t, all[:9], got, "the orders before the damaged key, then the error")
	_, err = st.Find(payments.Query{}, payments.SortCreated, true, 0, 50)
	require.Error(t, err)
}
