package bench

import (
	"bytes"
	"image/png"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWritePlot: four minutes of samples make a PNG of the curve, and the
// growth after the first minute is measured from the median of the
// second minute to that of the last.
func TestWritePlot(t *testing.T) {
	s := &MemorySampler{stop: make(chan struct{})}
	for i := range 240 {
		s.at = append(s.at, time.Duration(i+1)*time.Second)
		s.rss = append(s.rss, uint64(200+i)<<19) // 100 MB, +0.5 MB a second
		s.heap = append(s.heap, 20<<20)
	}
	m := s.Stop()
	// The second minute is the samples at 60..119 s, median 89.5 s: 144.25
	// MB; the last is 181..240 s, median 210.5 s: 204.75 MB.
	require.Equal(t, uint64(577)<<18, m.RSSSecondMinute)
	require.Equal(t, uint64(819)<<18, m.RSSLastMinute)
	require.InDelta(t, 100*(204.75-144.25)/144.25, m.RSSGrowthAfterMinute, 0.01)
	require.Zero(t, m.DataFileLast, "no data file sampled")
	var buf bytes.Buffer
	require.NoError(t, WritePlot(&buf, m))
	img, err := png.Decode(&buf)
	require.NoError(t, err)
	require.Equal(t, 1024, img.Bounds().Dx())
	require.Error(t, WritePlot(&buf, &MemoryStats{}), "no samples, no plot")
}

// TestRSSGrowthIgnoresSpikes: a resident set that is level for ten
// minutes but for one spike grew by nothing, wherever the spike falls;
// from single samples a spike a minute in read -50%, one at the end +100%.
func TestRSSGrowthIgnoresSpikes(t *testing.T) {
	for _, spike := range []int{60, 600} {
		s := &MemorySampler{stop: make(chan struct{})}
		for i := range 600 {
			s.at = append(s.at, time.Duration(i+1)*time.Second)
			rss := uint64(150) << 20
			if i+1 == spike {
				rss *= 2
			}
			s.rss = append(s.rss, rss)
			s.heap = append(s.heap, 20<<20)
		}
		m := s.Stop()
		require.Zero(t, m.RSSGrowthAfterMinute, "spike at %d s", spike)
		require.Equal(t, uint64(300)<<20, m.RSSMax)
	}
}

// TestRSSGrowthNeedsAMinute: a run shorter than a minute reports no
// growth after it.
func TestRSSGrowthNeedsAMinute(t *testing.T) {
	s := &MemorySampler{stop: make(chan struct{})}
	for i := range 59 {
		s.at = append(s.at, time.Duration(i+1)*time.Second)
		s.rss = append(s.rss, uint64(100+i)<<20)
		s.heap = append(s.heap, 20<<20)
	}
	m := s.Stop()
	require.Zero(t, m.RSSGrowthAfterMinute)
	require.Zero(t, m.RSSSecondMinute)
}

// TestDataFileOverTime: with a data file to size (--self) every sample
// carries it, the report fits its growth, and the plot draws it on its own
// axis.
func TestDataFileOverTime(t *testing.T) {
	s := &MemorySampler{stop: make(chan struct{})}
	for i := range 120 {
		s.at = append(s.at, time.Duration(i+1)*time.Second)
		s.rss = append(s.rss, 100<<20)
		s.heap = append(s.heap, 20<<20)
		s.data = append(s.data, int64(1000+2*i)<<20) // +2 MB a second
	}
	m := s.Stop()
	require.Equal(t, int64(1000)<<20, m.DataFileFirst)
	require.Equal(t, int64(1238)<<20, m.DataFileLast)
	require.InDelta(t, 120, m.DataFileSlope, 0.01, "MB a minute")
	require.Equal(t, int64(1238)<<20, m.Curve[119].DataFile)
	var report bytes.Buffer
	(&Report{Result: &Result{}, Memory: m}).Write(&report)
	require.Contains(t, report.String(), "data file 1000.0MB → 1238.0MB (slope +120.00 MB/min")
	// The runtime's own account, read at Stop: this test process's.
	require.NotNil(t, m.Runtime)
	require.Positive(t, m.Runtime.Total)
	require.Positive(t, m.Runtime.HeapObjects)
	require.LessOrEqual(t, m.Runtime.HeapObjects+m.Runtime.HeapFree+m.Runtime.Stacks, m.Runtime.Total)
	require.Contains(t, report.String(), "Go runtime at the end: ")
	var buf bytes.Buffer
	require.NoError(t, WritePlot(&buf, m))
	_, err := png.Decode(&buf)
	require.NoError(t, err)
}
