package payments_test

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// BenchmarkCabinetQueries times what the merchant cabinet asks of the order
// store, over 1,000,000 orders of 20 merchants created over a year (built
// straight into a bbolt file in b.TempDir(), indexes included, in about a
// minute):
//
//   - page: a register page of 50, one merchant, a month's date range and
//     a status, with the count of all matching (what the page shows);
//   - page1000: page 1,000 of 20 of one merchant's paid orders of the year;
//   - report: one merchant's year, month by month (sums, declines);
//   - report-all: every merchant's year, month by month (the operator).
//
// Each reports its p95 in ms alongside the mean. Run with
//
//	go test ./switch/payments -run '^$' -bench CabinetQueries -benchtime 200x
func BenchmarkCabinetQueries(b *testing.B) {
	merchants := make([]string, 20)
	for i := range merchants {
		merchants[i] = fmt.Sprintf("merchant-%02d", i+1)
	}
	const n = 1_000_000
	year := 365 * 24 * time.Hour
	db, st := openStore(b, "bench.db")
	start := time.Now()
	for i := 0; i < n; i += 100_000 {
		orders := sampleOrders(uint64(i), 100_000, merchants, year/10)
		shift := time.Duration(i/100_000) * (year / 10)
		for _, o := range orders {
			o.CreatedAt = o.CreatedAt.Add(shift)
			o.ID = fmt.Sprintf("%016x-%07d", o.CreatedAt.UnixNano(), i)
			o.Number = fmt.Sprintf("%s-%d", o.Number, i)
		}
		writeOrders(b, db, orders)
		runtime.GC()
	}
	b.Logf("built %d orders of %d merchants in %s", n, len(merchants), time.Since(start).Round(time.Second))
	loc, _ := time.LoadLocation("Asia/Almaty")
	month := 30 * 24 * time.Hour

	timed := func(b *testing.B, op func(i int)) {
		b.ReportAllocs()
		lat := make([]time.Duration, 0, b.N)
		for i := 0; b.Loop(); i++ {
			t := time.Now()
			op(i)
			lat = append(lat, time.Since(t))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
	}
	b.Run("page", func(b *testing.B) {
		timed(b, func(i int) {
			from := sampleStart.Add(time.Duration(i%11) * month)
			q := payments.Query{Merchants: []string{merchants[i%20]}, From: from, To: from.Add(month),
				Statuses: []order.Status{order.StatusDeposited}}
			p, err := st.Find(q, payments.SortCreated, false, 0, 50)
			require.NoError(b, err)
			require.Len(b, p.Orders, 50)
		})
	})
	b.Run("page1000", func(b *testing.B) {
		timed(b, func(i int) {
			q := payments.Query{Merchants: []string{merchants[i%20]}, From: sampleStart, To: sampleStart.Add(year),
				Statuses: []order.Status{order.StatusDeposited}}
			p, err := st.Find(q, payments.SortCreated, false, 999*20, 20)
			require.NoError(b, err)
			require.Len(b, p.Orders, 20)
		})
	})
	b.Run("report", func(b *testing.B) {
		timed(b, func(i int) {
			q := payments.Query{Merchants: []string{merchants[i%20]}, From: sampleStart, To: sampleStart.Add(year)}
			r, err := st.Report(q, payments.PeriodMonth, loc, "")
			require.NoError(b, err)
			require.GreaterOrEqual(b, len(r.Lines), 12)
		})
	})
	b.Run("report-all", func(b *testing.B) {
		timed(b, func(int) {
			q := payments.Query{From: sampleStart, To: sampleStart.Add(year)}
			r, err := st.Report(q, payments.PeriodMonth, loc, "")
			require.NoError(b, err)
			require.Equal(b, n, r.Total.Success.Count+r.Total.Failed.Count+r.Total.Open.Count)
		})
	})
}
