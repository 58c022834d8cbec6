package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An interval's readings of a saw (the mapped file's pages, climbing
// until the daemon drops them) give its middle, wherever in the saw the
// interval starts; one reading, as before, gave whichever phase it fell
// on.
func TestRSSWindowTakesTheMedian(t *testing.T) {
	var w rssWindow
	for start := range rssReadings {
		for k := range rssReadings {
			phase := uint64((start + k) % rssReadings)
			w.add(100<<20+phase*(8<<20), 90<<20) // 100..172 MB, 90 MB of it anonymous
		}
		total, anon := w.take()
		require.Equal(t, uint64(100<<20+4*(8<<20)/2+5*(8<<20)/2), total, "start %d", start)
		require.Equal(t, uint64(90<<20), anon)
	}
	total, anon := w.take()
	require.Zero(t, total, "nothing read since the last take")
	require.Zero(t, anon)
}

// The anonymous part's growth is measured like the whole's: here the
// whole grows by its mapped pages while what the process allocated stays.
func TestAnonGrowthAfterMinute(t *testing.T) {
	s := &MemorySampler{stop: make(chan struct{})}
	for i := range 180 {
		s.at = append(s.at, time.Duration(i+1)*time.Second)
		s.heap = append(s.heap, 20<<20)
		s.anon = append(s.anon, 100<<20)
		s.rss = append(s.rss, uint64(130+i/2)<<20) // +0.5 MB a second of mapped pages
	}
	m := s.Stop()
	require.Positive(t, m.RSSGrowthAfterMinute)
	require.Equal(t, uint64(100<<20), m.RSSAnonSecondMinute)
	require.Equal(t, uint64(100<<20), m.RSSAnonLastMinute)
	require.Zero(t, m.RSSAnonGrowthAfterMinute)
	require.Equal(t, uint64(100<<20), m.Curve[0].RSSAnon)

	// A sampler without the anonymous readings (another system) says
	// nothing of them.
	s = &MemorySampler{stop: make(chan struct{}), at: s.at, heap: s.heap, rss: s.rss}
	m = s.Stop()
	require.Positive(t, m.RSSGrowthAfterMinute)
	require.Zero(t, m.RSSAnonSecondMinute)
}
