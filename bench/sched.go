package bench

import (
	"math"
	"runtime/metrics"
	"time"
)

// SchedStats is how long the process's goroutines waited, ready to run,
// in Go's run queue (runtime/metrics /sched/latencies) over the run,
// warm-up included: on a machine of few cores this is where a journal
// writer back from fdatasync waits behind HTTP handlers, and what
// GOMAXPROCS above the core count shortens (switch/cores). With more
// schedulers than cores part of the wait is the kernel's, not counted.
type SchedStats struct {
	P50  time.Duration `json:"p50_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
}

const schedMetric = "/sched/latencies:seconds"

// schedLatencies reads the histogram now; nil when the runtime has none.
func schedLatencies() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: schedMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s[0].Value.Float64Histogram()
}

// schedStats is the latencies recorded between before and after (two
// reads of the same histogram), or nil with none recorded. A quantile is
// the upper bound of the bucket it falls in (the runtime's buckets are
// a few per power of two).
func schedStats(before, after *metrics.Float64Histogram) *SchedStats {
	if before == nil || after == nil || len(before.Counts) != len(after.Counts) {
		return nil
	}
	counts := make([]uint64, len(after.Counts))
	var total uint64
	for i := range counts {
		counts[i] = after.Counts[i] - before.Counts[i]
		total += counts[i]
	}
	if total == 0 {
		return nil
	}
	q := func(p float64) time.Duration {
		want := uint64(math.Ceil(p * float64(total)))
		var seen uint64
		for i, n := range counts {
			if seen += n; seen >= want {
				hi := after.Buckets[i+1]
				if math.IsInf(hi, 1) {
					hi = after.Buckets[i]
				}
				return time.Duration(hi * float64(time.Second))
			}
		}
		return 0
	}
	return &SchedStats{P50: q(0.50), P99: q(0.99), P999: q(0.999)}
}
