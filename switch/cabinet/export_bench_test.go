package cabinet

import (
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// syntheticOrders is a source of n orders like a shop's, made on the fly:
// the export's memory is then the export's alone.
func syntheticOrders(n int) orderSource {
	created := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	return func(fn func(*order.Order) error) error {
		o := &order.Order{Merchant: "shop", Currency: "398", Description: "Электрочайник Bosch, доставка", Status: order.StatusDeposited,
			Card: &order.Card{Masked: "411111******1111", Brand: "visa", Expiry: "3012", Holder: "DEMO BUYER"},
			Ops:  []order.Operation{{Type: order.OpPurchase, Status: order.OpApproved, RRN: "", ApprovalCode: "A1B2C3"}}}
		for i := range n {
			o.ID = fmt.Sprintf("0190a1b2-c3d4-7e5f-8a9b-%012d", i)
			o.Number = fmt.Sprintf("N-%07d", i)
			o.Amount, o.Approved, o.Deposited = int64(1000+i%500000), int64(1000+i%500000), int64(1000+i%500000)
			o.CreatedAt = created.Add(time.Duration(i) * time.Minute)
			o.Ops[0].RRN = fmt.Sprintf("6%011d", i)
			if err := fn(o); err != nil {
				return err
			}
		}
		return nil
	}
}

// peakHeap wraps src to sample the live heap every 5,000 orders.
func peakHeap(src orderSource, peak *uint64, collect bool) orderSource {
	return func(fn func(*order.Order) error) error {
		n := 0
		// The live heap as the last GC marked it: what the export holds on
		// to, without the garbage between collections that HeapInuse
		// counts (which made the test depend on the GC's timing). With
		// collect, a GC right there marks it: exact, whenever the runtime
		// would have collected (the test; the benchmark keeps its timing).
		live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		return src(func(o *order.Order) error {
			if n++; n%5000 == 0 {
				if collect {
					runtime.GC()
				}
				metrics.Read(live)
				*peak = max(*peak, live[0].Value.Uint64())
			}
			return fn(o)
		})
	}
}

// BenchmarkExportXLSX writes the register's ten default columns as an XLSX
// workbook through excelize's StreamWriter, for 10,000, 50,000 and 100,000
// orders, and reports the peak live heap seen while writing: it must not
// grow with the row count (rows past the writer's buffer go to a
// temporary file). Run with
//
//	go test ./switch/cabinet -run '^$' -bench ExportXLSX -benchtime 1x
func BenchmarkExportXLSX(b *testing.B) {
	sh := sheet{cols: chosenColumns(nil), x: &cellCtx{lang: "ru", loc: time.UTC}}
	for _, c := range sh.cols {
		sh.header = append(sh.header, pick("ru", c.title))
	}
	for _, n := range []int{10_000, 50_000, 100_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var peak uint64
			for b.Loop() {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				base := ms.HeapInuse
				peak = 0
				cw := &countingWriter{}
				if err := sh.writeXLSX(cw, "Транзакции", peakHeap(syntheticOrders(n), &peak, false)); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(cw.n)/(1<<20), "file-MB")
				b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "peak-heap-MB")
			}
			b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "rows/s")
		})
	}
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)

// TestExportXLSXMemoryFlat is the benchmark's promise as a test: past the
// StreamWriter's 16 MB buffer (about 25,000 rows), the live heap while
// writing 90,000 rows is that of 30,000 give or take a quarter, where a
// workbook held in memory would take three times as much.
func TestExportXLSXMemoryFlat(t *testing.T) {
	sh := sheet{cols: chosenColumns(nil), x: &cellCtx{lang: "ru", loc: time.UTC}}
	for _, c := range sh.cols {
		sh.header = append(sh.header, pick("ru", c.title))
	}
	measure := func(n int) uint64 {
		runtime.GC()
		base := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(base)
		var peak uint64
		if err := sh.writeXLSX(io.Discard, "T", peakHeap(syntheticOrders(n), &peak, true)); err != nil {
			t.Fatal(err)
		}
		return peak - min(peak, base[0].Value.Uint64())
	}
	small, large := measure(30_000), measure(90_000)
	t.Logf("peak live heap: %.1f MB at 30,000 rows, %.1f MB at 90,000", float64(small)/(1<<20), float64(large)/(1<<20))
	// excelize keeps up to StreamChunkSize (16 MB) of rows in memory
	// before it moves them to its temporary file, so the peak depends on
	// where in that cycle the samples fall: the bound is one chunk over
	// the smaller export, and a fixed ceiling far below what 90,000 rows
	// held in memory would take.
	if large > small+excelize.StreamChunkSize || large > 48<<20 {
		t.Fatalf("the export's memory grows with its rows: %d bytes at 30,000, %d at 90,000", small, large)
	}
}
