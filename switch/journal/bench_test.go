package journal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkAppend measures durable entries per second: every Append returns
// after fsync. b.N is the total number of entries, shared among the writers,
// each appending one entry per call as a payment flow does.
//
// heap-B/entry is what the live heap grew by, over the entries: bbolt's
// map of the pages allocated since the file was opened, which the writer's
// reopen empties (reopen=never shows it without).
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct {
		writers int
		reopen  int64
		name    string
	}{{1, 0, ""}, {16, 0, ""}, {256, 0, ""}, {256, -1, "/reopen=never"}} {
		b.Run(fmt.Sprintf("writers=%d%s", c.writers, c.name), func(b *testing.B) {
			writers := c.writers
			path := filepath.Join(b.TempDir(), "journal.db")
			j, err := Open(path, Options{ReopenAfter: c.reopen})
			require.NoError(b, err)
			defer j.Close()
			e := testEntry(1, 1)
			e.Payload = make([]byte, 256) // a typical protected ISO message
			ctx := context.Background()
			var left atomic.Int64
			left.Store(int64(b.N))
			heap0 := liveHeap()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						if _, err := j.Append(ctx, e); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
			b.ReportMetric(float64(int64(liveHeap())-int64(heap0))/float64(b.N), "heap-B/entry")
			if b.N > 1 {
				b.ReportMetric(float64(b.N)/float64(j.m.batchesValue()), "entries/batch")
			}
			// What the journal costs on disk: the file's size over the
			// entries it holds (a page a tree split leaves half empty shows).
			if fi, err := os.Stat(path); err == nil && b.N >= 1000 {
				b.ReportMetric(float64(fi.Size())/float64(b.N), "file-B/entry")
			}
		})
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkVerify measures a full Verify over a 100k-entry journal.
func BenchmarkVerify(b *testing.B) {
	const entries = 100_000
	j, err := Open(filepath.Join(b.TempDir(), "journal.db"), Options{})
	require.NoError(b, err)
	defer j.Close()
	ctx := context.Background()
	batch := make([]Entry, 0, 1000)
	for i := range entries {
		e := testEntry(i, entries/4)
		e.Payload = make([]byte, 256)
		batch = append(batch, e)
		if len(batch) == cap(batch) {
			_, err := j.Append(ctx, batch...)
			require.NoError(b, err)
			batch = batch[:0]
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := j.Verify(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
