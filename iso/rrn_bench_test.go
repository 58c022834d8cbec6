package iso_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
)

// BenchmarkRRNNext hands out RRNs to parallel payments, each waiting 20 µs
// or more (its exchanges) per RRN, while each block reservation costs what a durable
// write costs (2 ms, an fsync). It counts the calls of Next that stalled
// (over 1 ms): a payment waits on a reservation only if Next blocks on it.
//
//	go test ./iso -run '^$' -bench RRNNext -cpu 8
func BenchmarkRRNNext(b *testing.B) {
	var reservations atomic.Int64
	g := iso.NewRRNs(iso.RRNOptions{Format: iso.RRNDecimal, Block: 1000, Reserve: func(string, uint64) error {
		reservations.Add(1)
		time.Sleep(2 * time.Millisecond) // a durable write
		return nil
	}})
	var stalls atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			if _, err := g.Next(); err != nil {
				b.Error(err)
				return
			}
			if time.Since(start) > time.Millisecond {
				stalls.Add(1)
			}
			time.Sleep(20 * time.Microsecond) // the payment's exchange: waiting, not computing
		}
	})
	b.ReportMetric(float64(stalls.Load()), "stalls")
	b.ReportMetric(float64(reservations.Load()), "reservations")
}
