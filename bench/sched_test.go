package bench

import (
	"math"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSchedStats: quantiles of what was recorded between two reads, each
// the upper bound of its bucket; nothing recorded is no stats.
func TestSchedStats(t *testing.T) {
	buckets := []float64{math.Inf(-1), 1e-6, 1e-5, 1e-4, 1e-3, math.Inf(1)}
	before := &metrics.Float64Histogram{Buckets: buckets, Counts: []uint64{0, 500, 10, 0, 1}}
	after := &metrics.Float64Histogram{Buckets: buckets, Counts: []uint64{0, 1480, 19, 0, 3}}
	// Between them: 980 from 1 to 10 µs, 9 from 10 to 100 µs, 2 over 1 ms.
	s := schedStats(before, after)
	require.NotNil(t, s)
	require.Equal(t, 10*time.Microsecond, s.P50)
	require.Equal(t, 100*time.Microsecond, s.P99, "the 982nd of 991")
	require.Equal(t, time.Millisecond, s.P999, "the last bucket has no upper bound: its lower one")
	require.Nil(t, schedStats(after, after), "nothing recorded")
	require.Nil(t, schedStats(nil, after))
	require.NotNil(t, schedLatencies(), "the runtime has the histogram")
}

// TestSlowestSeconds: the report names the seconds whose slowest
// operation was the slowest, slowest first, ties in time order.
func TestSlowestSeconds(t *testing.T) {
	by := make([]time.Duration, 12)
	by[3], by[7], by[9], by[11] = 900*time.Millisecond, 1200*time.Millisecond, 900*time.Millisecond, 5*time.Millisecond
	require.Equal(t, []string{"7s 1200ms", "3s 900ms", "9s 900ms"}, slowestSeconds(by, 3, nil))
	require.Nil(t, slowestSeconds(by[:9], 3, nil), "a run under ten seconds: nothing to say")

	// Each second says how the disk did in it, from the memory sample that
	// closed it; a second without one (the warm-up) says nothing.
	r := &Report{Memory: &MemoryStats{Curve: []MemoryPoint{
		{Seconds: 7.99, Disk: true, DiskWrites: 2400, DiskWriteMs: 1.5},
		{Seconds: 9.01, Disk: true, DiskWrites: 9000, DiskWriteMs: 0.4},
		{Seconds: 10.0, Disk: true},
		{Seconds: 11.0},
	}}}
	require.Equal(t, []string{"7s 1200ms (disk 1.50ms a write)", "3s 900ms", "9s 900ms (disk: no write completed)"}, slowestSeconds(by, 3, r.diskInSecond))
	require.Equal(t, "disk 0.40ms a write", r.diskInSecond(8))
	require.Empty(t, r.diskInSecond(10), "the disk's counters not read")
	require.Empty(t, (&Report{}).diskInSecond(7))
}
