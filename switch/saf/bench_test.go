package saf

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
)

// BenchmarkEnqueueDeliver measures the queue's own cost per item, end to end:
// Enqueue (one commit each, callers in parallel) through delivery and removal
// (one commit per item, outcome and next claim together), with a Deliverer
// that answers at once.
func BenchmarkEnqueueDeliver(b *testing.B) {
	for _, banks := range []int{1, 4} {
		for _, noSync := range []bool{false, true} {
			b.Run(fmt.Sprintf("banks=%d/nosync=%v", banks, noSync), func(b *testing.B) {
				db, _ := mustOpenDB(b)
				db.NoSync = noSync
				var delivered atomic.Int64
				all := make(chan struct{})
				n := int64(b.N)
				d := DelivererFunc(func(context.Context, Item, bool) (Outcome, error) {
					if delivered.Add(1) == n {
						close(all)
					}
					return Delivered, nil
				})
				q, err := New(db, fastConfig(), d, zerolog.Nop(), nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := q.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = q.Close(context.Background()) })
				var seq atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := seq.Add(1)
						it := testItem(fmt.Sprintf("bank-%d", i%int64(banks)), fmt.Sprintf("o-%d", i))
						if _, err := q.Enqueue(context.Background(), it); err != nil {
							b.Error(err)
							return
						}
					}
				})
				<-all
				b.StopTimer()
			})
		}
	}
}
