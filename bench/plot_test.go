package bench

import (
	"bytes"
	"image/png"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWritePlot: two minutes of samples make a PNG of the curve, and the
// growth after the first minute is measured from the first sample past it.
func TestWritePlot(t *testing.T) {
	s := &MemorySampler{stop: make(chan struct{})}
	for i := range 120 {
		s.at = append(s.at, time.Duration(i+1)*time.Second)
		s.rss = append(s.rss, uint64(100+i/2)<<20) // +0.5 MB a second
		s.heap = append(s.heap, 20<<20)
	}
	m := s.Stop()
	require.InDelta(t, 100*float64(159-129)/129, m.RSSGrowthAfterMinute, 0.01) // 129 MB at 60 s, 159 MB at the end
	var buf bytes.Buffer
	require.NoError(t, WritePlot(&buf, m))
	img, err := png.Decode(&buf)
	require.NoError(t, err)
	require.Equal(t, 1024, img.Bounds().Dx())
	require.Error(t, WritePlot(&buf, &MemoryStats{}), "no samples, no plot")
}
