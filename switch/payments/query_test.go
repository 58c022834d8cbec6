package payments_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// sampleStart is the first creation time of generated orders.
var sampleStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

var sampleCards = []string{"411111******1111", "555555******5599", "444455******3333", "400000******0044"}

// sampleOrders makes n orders of the given merchants, created over span
// from sampleStart in creation order, in every status, with cards, RRNs
// and approval codes from small sets so that exact filters match many.
func sampleOrders(seed uint64, n int, merchants []string, span time.Duration) []*order.Order {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]*order.Order, 0, n)
	step := span / time.Duration(n)
	statuses := []order.Status{order.StatusRegistered, order.StatusApproved, order.StatusDeposited, order.StatusReversed,
		order.StatusRefunded, order.Status3DS, order.StatusDeclined}
	for i := range n {
		created := sampleStart.Add(time.Duration(i)*step + time.Duration(rng.Int64N(int64(step))))
		m := merchants[rng.IntN(len(merchants))]
		st := statuses[rng.IntN(len(statuses))]
		if rng.IntN(3) > 0 {
			st = order.StatusDeposited // most orders are paid, as in a shop's life
		}
		amount := int64(100+rng.IntN(5_000_000)) * 1
		o := &order.Order{
			ID: fmt.Sprintf("%016x-%06d", created.UnixNano(), i), Merchant: m, Number: fmt.Sprintf("n-%d", i),
			Description: "Sample order", Amount: amount, Currency: "398", CreatedAt: created, UpdatedAt: created,
			ExpiresAt: created.Add(20 * time.Minute), Status: st, TwoStage: rng.IntN(2) == 0, Language: "ru",
			Ops: []order.Operation{}, Version: 1,
		}
		if st != order.StatusRegistered {
			o.Card = &order.Card{Masked: sampleCards[rng.IntN(len(sampleCards))], Expiry: "3012", Brand: "visa"}
		}
		rrn := fmt.Sprintf("5%03d%08d", created.YearDay(), i)
		appr := fmt.Sprintf("%06d", rng.IntN(50))
		switch st {
		case order.StatusDeclined:
			o.ActionCode = []int{order.ActionFunds, order.ActionLostStolen, order.ActionExpired}[rng.IntN(3)]
			o.Ops = append(o.Ops, order.Operation{ID: o.ID + "-p", Type: order.OpPurchase, Status: order.OpDeclined, Amount: amount, Time: created, RRN: rrn, ResponseCode: "51", ActionCode: o.ActionCode})
		case order.StatusApproved, order.StatusDeposited, order.StatusReversed, order.StatusRefunded:
			o.Approved = amount
			o.Ops = append(o.Ops, order.Operation{ID: o.ID + "-p", Type: order.OpPurchase, Status: order.OpApproved, Amount: amount, Time: created, RRN: rrn, ApprovalCode: appr, ResponseCode: "00"})
			if st == order.StatusDeposited || st == order.StatusRefunded {
				o.Deposited = amount
			}
			if st == order.StatusRefunded {
				o.Refunded = amount
				o.Ops = append(o.Ops, order.Operation{ID: o.ID + "-r", Type: order.OpRefund, Status: order.OpApproved, Amount: amount, Time: created.Add(time.Hour),
					RRN: fmt.Sprintf("6%03d%08d", created.YearDay(), i), ApprovalCode: fmt.Sprintf("%06d", 100+rng.IntN(50))})
			}
		}
		out = append(out, o)
	}
	return out
}

// openStore is an empty order store in a bbolt file of t's.
func openStore(tb testing.TB, name string) (*bolt.DB, *payments.Store) {
	tb.Helper()
	db, err := bolt.Open(filepath.Join(tb.TempDir(), name), 0o600, &bolt.Options{NoSync: true, FreelistType: bolt.FreelistMapType})
	require.NoError(tb, err)
	tb.Cleanup(func() { db.Close() })
	st, err := payments.NewStore(db)
	require.NoError(tb, err)
	return db, st
}

func writeOrders(tb testing.TB, db *bolt.DB, orders []*order.Order) {
	tb.Helper()
	for i := 0; i < len(orders); i += 10000 {
		require.NoError(tb, db.Update(func(tx *bolt.Tx) error { return payments.WriteOrders(tx, orders[i:min(i+10000, len(orders))]) }))
	}
}

func byID(orders []*order.Order) map[string]*order.Order {
	m := make(map[string]*order.Order, len(orders))
	for _, o := range orders {
		m[o.ID] = o
	}
	return m
}

// matches is the query's meaning, order by order: what the indexes must
// answer.
func matches(q payments.Query, o *order.Order) bool {
	r := order.RowOf(o)
	switch {
	case len(q.Merchants) > 0 && !slices.Contains(q.Merchants, o.Merchant),
		!q.From.IsZero() && o.CreatedAt.Before(q.From), !q.To.IsZero() && !o.CreatedAt.Before(q.To),
		len(q.Statuses) > 0 && !slices.Contains(q.Statuses, o.Status),
		q.MinAmount > 0 && o.Amount < q.MinAmount, q.MaxAmount > 0 && o.Amount > q.MaxAmount,
		q.Number != "" && o.Number != q.Number,
		q.RRN != "" && !r.Has(order.FieldRRN, q.RRN), q.Last4 != "" && !r.Has(order.FieldLast4, q.Last4),
		q.Approval != "" && !r.Has(order.FieldApproval, q.Approval):
		return false
	}
	return true
}

func sortOrders(orders []*order.Order, by payments.SortKey, asc bool) {
	val := func(o *order.Order) int64 {
		switch by {
		case payments.SortAmount:
			return o.Amount
		case payments.SortRefunded:
			return o.Refunded
		case payments.SortStatus:
			return int64(o.Status)
		}
		return 0
	}
	sort.Slice(orders, func(i, j int) bool {
		a, b := orders[i], orders[j]
		if va, vb := val(a), val(b); va != vb {
			return (va < vb) == asc
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.After(b.CreatedAt) != (asc && by == payments.SortCreated)
		}
		return (a.ID > b.ID) != (asc && by == payments.SortCreated)
	})
}

func ids(orders []*order.Order) []string {
	out := make([]string, len(orders), len(orders)+1)
	for i, o := range orders {
		out[i] = o.ID
	}
	return out
}

// TestFindAgreesWithTheOrders runs random queries against a store of
// orders changed after they were first written, and compares every page
// and count with the orders filtered one by one.
func TestFindAgreesWithTheOrders(t *testing.T) {
	merchants := []string{"alpha", "beta", "gamma"}
	db, st := openStore(t, "q.db")
	orders := sampleOrders(1, 6000, merchants, 90*24*time.Hour)
	writeOrders(t, db, orders)

	// Change a tenth of them as flows do: a refund (new RRN and approval
	// code, new status), a card paid again, a decline.
	rng := rand.New(rand.NewPCG(7, 7))
	var changed []*order.Order
	for _, o := range orders {
		if rng.IntN(10) != 0 {
			continue
		}
		switch o.Status {
		case order.StatusDeposited:
			o.Refunded = o.Deposited / 2
			o.Ops = append(o.Ops, order.Operation{ID: o.ID + "-x", Type: order.OpRefund, Status: order.OpApproved, RRN: "999" + o.ID[len(o.ID)-6:] + "000", ApprovalCode: "R00001"})
		case order.StatusRegistered, order.Status3DS:
			o.Status = order.StatusDeclined
			o.ActionCode = order.ActionExpired
			o.Card = &order.Card{Masked: "400000******0077"}
		default:
			if o.Card != nil {
				o.Card.Masked = "522222******2222"
			}
		}
		changed = append(changed, o)
	}
	writeOrders(t, db, changed)
	diffs, err := st.IndexDiffs(byID(orders))
	require.NoError(t, err)
	require.Empty(t, diffs)

	allStatuses := []order.Status{order.StatusRegistered, order.StatusApproved, order.StatusDeposited, order.StatusReversed, order.StatusRefunded, order.Status3DS, order.StatusDeclined}
	sorts := []payments.SortKey{payments.SortCreated, payments.SortCreated, payments.SortAmount, payments.SortRefunded, payments.SortStatus}
	for i := range 400 {
		var q payments.Query
		if rng.IntN(3) > 0 {
			q.Merchants = []string{merchants[rng.IntN(3)]}
			if rng.IntN(4) == 0 {
				q.Merchants = append(q.Merchants, merchants[rng.IntN(3)])
			}
		}
		if rng.IntN(2) == 0 {
			q.From = sampleStart.Add(time.Duration(rng.Int64N(int64(60 * 24 * time.Hour))))
			q.To = q.From.Add(time.Duration(rng.Int64N(int64(40 * 24 * time.Hour))))
		} else if rng.IntN(3) == 0 {
			q.To = sampleStart.Add(time.Duration(rng.Int64N(int64(90 * 24 * time.Hour))))
		}
		for range rng.IntN(3) {
			q.Statuses = append(q.Statuses, allStatuses[rng.IntN(len(allStatuses))])
		}
		if rng.IntN(4) == 0 {
			q.MinAmount = rng.Int64N(2_000_000)
			q.MaxAmount = q.MinAmount + rng.Int64N(3_000_000)
		}
		o := orders[rng.IntN(len(orders))]
		r := order.RowOf(o)
		switch rng.IntN(8) {
		case 0:
			q.Number = o.Number
		case 1:
			if len(r.Fields) > 0 {
				f := r.Fields[rng.IntN(len(r.Fields))]
				switch f.Field {
				case order.FieldRRN:
					q.RRN = f.Value
				case order.FieldApproval:
					q.Approval = f.Value
				case order.FieldLast4:
					q.Last4 = f.Value
				}
			}
		case 2:
			q.Last4 = sampleCards[rng.IntN(len(sampleCards))][12:]
			if rng.IntN(2) == 0 {
				q.Approval = fmt.Sprintf("%06d", rng.IntN(50))
			}
		}
		by, asc := sorts[rng.IntN(len(sorts))], rng.IntN(3) == 0
		var want []*order.Order
		for _, o := range orders {
			if matches(q, o) {
				want = append(want, o)
			}
		}
		sortOrders(want, by, asc)
		limit := 1 + rng.IntN(60)
		offset := 0
		if len(want) > 0 && rng.IntN(2) == 0 {
			offset = rng.IntN(len(want) + 5)
		}
		page, err := st.Find(q, by, asc, offset, limit)
		require.NoError(t, err)
		require.Equal(t, len(want), page.Total, "query %d: %+v", i, q)
		wantPage := want[min(offset, len(want)):min(offset+limit, len(want))]
		require.Equal(t, ids(wantPage), ids(page.Orders), "query %d: %+v by %s asc %t from %d", i, q, by, asc, offset)

		// Each and EachRow walk the same orders in chunks.
		if by == payments.SortCreated && i%4 == 0 {
			got := []string{}
			require.NoError(t, st.Each(q, asc, func(o *order.Order) error { got = append(got, o.ID); return nil }))
			require.Equal(t, ids(want), got, "Each %d", i)
			got = got[:0]
			wantByID := byID(want)
			require.NoError(t, st.EachRow(q, asc, func(r payments.RowRef) error {
				require.Equal(t, order.RowOf(wantByID[r.ID]), r.Row)
				got = append(got, r.ID)
				return nil
			}))
			require.Equal(t, ids(want), got, "EachRow %d", i)
		}
	}
}

func TestFindRefusesBadPages(t *testing.T) {
	_, st := openStore(t, "q.db")
	for _, tc := range []struct {
		by            payments.SortKey
		offset, limit int
	}{{payments.SortCreated, 0, 0}, {payments.SortCreated, -1, 10}, {payments.SortCreated, 0, payments.MaxPageSize + 1}, {"colour", 0, 10}} {
		_, err := st.Find(payments.Query{}, tc.by, false, tc.offset, tc.limit)
		require.ErrorIs(t, err, payments.ErrQuery, "%+v", tc)
	}
	page, err := st.Find(payments.Query{}, "", false, 0, 10)
	require.NoError(t, err)
	require.Zero(t, page.Total, "an empty store")
}

// TestIndexesRebuiltWhenMissing opens a store whose indexes were lost (or
// written by an older build): NewStore makes them again from the orders.
func TestIndexesRebuiltWhenMissing(t *testing.T) {
	db, _ := openStore(t, "old.db")
	orders := sampleOrders(3, 12_000, []string{"alpha", "beta"}, 30*24*time.Hour)
	writeOrders(t, db, orders)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		// A file from before the cabinet: orders_by_time without rows, no
		// other index, no version.
		tb := tx.Bucket(order.BucketByTime)
		c := tb.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if err := tb.Put(k, nil); err != nil {
				return err
			}
		}
		for _, b := range [][]byte{order.BucketByStatus, order.BucketByField} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("payments_meta")).Delete([]byte("index_version"))
	}))
	st, err := payments.NewStore(db)
	require.NoError(t, err)
	diffs, err := st.IndexDiffs(byID(orders))
	require.NoError(t, err)
	require.Empty(t, diffs)
	page, err := st.Find(payments.Query{Statuses: []order.Status{order.StatusDeclined}}, payments.SortCreated, false, 0, 10)
	require.NoError(t, err)
	require.NotZero(t, page.Total)
}

// TestReportSumsByPeriod checks a monthly and a weekly report against the
// orders summed one by one, in Almaty time.
func TestReportSumsByPeriod(t *testing.T) {
	db, st := openStore(t, "r.db")
	orders := sampleOrders(5, 3000, []string{"alpha", "beta"}, 120*24*time.Hour)
	writeOrders(t, db, orders)
	loc, err := time.LoadLocation("Asia/Almaty")
	require.NoError(t, err)
	q := payments.Query{Merchants: []string{"alpha"}, From: sampleStart.Add(10 * 24 * time.Hour), To: sampleStart.Add(100 * 24 * time.Hour)}
	for _, p := range []payments.Period{payments.PeriodMonth, payments.PeriodWeek, payments.PeriodDay, payments.PeriodYear} {
		rep, err := st.Report(q, p, loc, "")
		require.NoError(t, err)
		want := map[time.Time]*payments.ReportLine{}
		declines := map[int]int{}
		var total payments.ReportLine
		for _, o := range orders {
			if !matches(q, o) {
				continue
			}
			start, ok := payments.PeriodStart(p, o.CreatedAt.In(loc))
			require.True(t, ok)
			l := want[start]
			if l == nil {
				l = &payments.ReportLine{Start: start}
				want[start] = l
			}
			for _, x := range []*payments.ReportLine{l, &total} {
				switch o.Status {
				case order.StatusDeclined:
					x.Failed.Count++
					x.Failed.Amount += o.Amount
				case order.StatusRegistered, order.Status3DS:
					x.Open.Count++
					x.Open.Amount += o.Amount
				default:
					x.Success.Count++
					x.Success.Amount += o.Approved
					x.Refunded += o.Refunded
				}
			}
			if o.Status == order.StatusDeclined {
				declines[o.ActionCode]++
			}
		}
		require.Len(t, rep.Lines, len(want), p)
		for i, l := range rep.Lines {
			w := want[l.Start]
			require.NotNil(t, w, "%s line %d starts %s", p, i, l.Start)
			require.Equal(t, *w, l, "%s line %d", p, i)
			if i > 0 {
				require.True(t, rep.Lines[i-1].Start.Before(l.Start))
			}
		}
		total.Start = time.Time{}
		require.Equal(t, total, rep.Total, p)
		require.Len(t, rep.Declines, len(declines))
		for i, d := range rep.Declines {
			require.Equal(t, declines[d.ActionCode], d.Count)
			if i > 0 {
				require.GreaterOrEqual(t, rep.Declines[i-1].Count, d.Count)
			}
		}
		require.Greater(t, rep.Total.Conversion(), 0.5)
	}
	_, err = st.Report(q, "fortnight", loc, "")
	require.ErrorIs(t, err, payments.ErrQuery)
}
