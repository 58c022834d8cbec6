package bench

import (
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MemoryStats summarise the process's memory over a run: the live heap
// after each GC (what leaks show in) and the resident set (what operators
// see). Slope is a least-squares fit of the live heap over time: a flat
// run has a slope near zero once warmed up.
type MemoryStats struct {
	Samples       int     `json:"samples"`
	HeapLiveFirst uint64  `json:"heap_live_first_bytes"`
	HeapLiveLast  uint64  `json:"heap_live_last_bytes"`
	HeapLiveMax   uint64  `json:"heap_live_max_bytes"`
	RSSFirst      uint64  `json:"rss_first_bytes"`
	RSSLast       uint64  `json:"rss_last_bytes"`
	RSSMax        uint64  `json:"rss_max_bytes"`
	SlopeMBPerMin float64 `json:"heap_live_slope_mb_per_min"`
	RSSSlope      float64 `json:"rss_slope_mb_per_min"`
	// RSSGrowthAfterMinute is how much the resident set grew after the
	// first minute of the run, in percent: from RSSSecondMinute, the
	// median of the samples in the run's second minute, to RSSLastMinute,
	// the median of those in its last (the two overlap in a run shorter
	// than two minutes; 0 for one shorter than a minute). Flat memory is a
	// small number. Medians, not single samples: the resident set swings
	// by tens of MB from one second to the next (a GC cycle, the mapped
	// file's pages released each second), so two single samples said more
	// about when they fell than about growth.
	RSSGrowthAfterMinute float64 `json:"rss_growth_after_first_minute_percent"`
	RSSSecondMinute      uint64  `json:"rss_second_minute_median_bytes,omitempty"`
	RSSLastMinute        uint64  `json:"rss_last_minute_median_bytes,omitempty"`
	// The same for the resident set's anonymous part: what the process
	// allocated (heap, stacks), without the pages of the files it maps,
	// which the daemon drops each second and which swing by tens of MB
	// within it.
	RSSAnonGrowthAfterMinute float64 `json:"rss_anon_growth_after_first_minute_percent"`
	RSSAnonSecondMinute      uint64  `json:"rss_anon_second_minute_median_bytes,omitempty"`
	RSSAnonLastMinute        uint64  `json:"rss_anon_last_minute_median_bytes,omitempty"`
	// DataFileFirst and DataFileLast are the switch's data file's size at
	// the first and last sample (--self; 0 otherwise), DataFileSlope its
	// growth fitted over the run.
	DataFileFirst int64   `json:"data_file_first_bytes,omitempty"`
	DataFileLast  int64   `json:"data_file_last_bytes,omitempty"`
	DataFileSlope float64 `json:"data_file_slope_mb_per_min,omitempty"`
	// Runtime is where the Go runtime's memory was at the end of the run:
	// what the resident set holds beyond the live heap.
	Runtime *RuntimeMemory `json:"runtime,omitempty"`
	// Curve is every sample, for the plot (--plot) and for scripts.
	Curve []MemoryPoint `json:"curve,omitempty"`
}

// RuntimeMemory is runtime/metrics' /memory/classes at one moment, in
// bytes: Total is what the runtime has mapped and not released; the heap's
// objects (live and not yet swept), its free spans kept for reuse, the
// goroutine stacks and the rest (metadata, profiling, other).
type RuntimeMemory struct {
	Total       uint64 `json:"total"`
	HeapObjects uint64 `json:"heap_objects"`
	HeapFree    uint64 `json:"heap_free"`
	HeapUnused  uint64 `json:"heap_unused"`
	Stacks      uint64 `json:"stacks"`
}

// runtimeMemory reads /memory/classes now.
func runtimeMemory() *RuntimeMemory {
	names := []string{"/memory/classes/total:bytes", "/memory/classes/heap/released:bytes", "/memory/classes/heap/objects:bytes",
		"/memory/classes/heap/free:bytes", "/memory/classes/heap/unused:bytes", "/memory/classes/heap/stacks:bytes"}
	samples := make([]metrics.Sample, len(names))
	for i, n := range names {
		samples[i].Name = n
	}
	metrics.Read(samples)
	v := func(i int) uint64 {
		if samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return samples[i].Value.Uint64()
	}
	return &RuntimeMemory{Total: v(0) - v(1), HeapObjects: v(2), HeapFree: v(3), HeapUnused: v(4), Stacks: v(5)}
}

// MemoryPoint is one sample: seconds into the run, resident set, live
// heap and (--self) the data file, in bytes.
type MemoryPoint struct {
	Seconds float64 `json:"s"`
	// RSS and RSSAnon are the resident set and its anonymous part (heap,
	// stacks: what the process allocated, not the files it maps), each the
	// median of rssReadings readings through the interval ending here.
	RSS      uint64 `json:"rss"`
	RSSAnon  uint64 `json:"rss_anon,omitempty"`
	HeapLive uint64 `json:"heap_live"`
	DataFile int64  `json:"data_file,omitempty"`
	// Disk says the data's disk was read for the interval that ended at
	// this sample: DiskWrites is the writes it completed in it (none in a
	// second it stalled through) and DiskWriteMs their mean time in
	// milliseconds (the whole device).
	Disk        bool    `json:"disk,omitempty"`
	DiskWrites  uint64  `json:"disk_writes,omitempty"`
	DiskWriteMs float64 `json:"disk_write_ms,omitempty"`
}

// MemorySampler samples memory once per interval until Stop.
type MemorySampler struct {
	stop chan struct{}
	done sync.WaitGroup
	mu   sync.Mutex
	at   []time.Duration
	heap []uint64
	rss  []uint64
	anon []uint64 // the resident set's anonymous part, beside rss
	data []int64
	disk []diskInterval
	from time.Time
}

// diskInterval is the data's disk in the interval ending at a sample;
// read is false when its counters could not be read at both ends.
type diskInterval struct {
	DiskCounters
	read bool
}

// rssReadings is how many times an interval the resident set is read.
// The daemon drops the mapped data file's pages once a second, and the
// resident set climbs by tens of MB between two drops: one reading a
// second, a second apart, saw the bottom or the top of that saw as the two
// tickers' phases drifted, and the run's growth with them. The median of
// ten readings through the interval is its middle wherever the phase is.
const rssReadings = 10

// rssWindow gathers an interval's readings of the resident set.
type rssWindow struct{ total, anon []uint64 }

func (w *rssWindow) add(total, anon uint64) {
	w.total, w.anon = append(w.total, total), append(w.anon, anon)
}

// take returns the medians of the readings since the last take (0 with
// none) and starts over.
func (w *rssWindow) take() (total, anon uint64) {
	if len(w.total) > 0 {
		total, anon = median(w.total), median(w.anon)
	}
	w.total, w.anon = w.total[:0], w.anon[:0]
	return total, anon
}

// SampleMemory starts sampling every interval; samples taken before skip
// (the warm-up) are dropped. dataFile, when not nil, reads the data
// file's size at each sample, and disk the counters of the disk under it.
func SampleMemory(interval, skip time.Duration, dataFile func() int64, disk func() (DiskCounters, bool)) *MemorySampler {
	s := &MemorySampler{stop: make(chan struct{}), from: time.Now()}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(max(interval/rssReadings, time.Millisecond))
		defer t.Stop()
		readings := 0
		var window rssWindow
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var prev DiskCounters
		hasPrev := false
		if disk != nil {
			prev, hasPrev = disk()
		}
		for {
			select {
			case <-s.stop:
				return
			case now := <-t.C:
				window.add(rssParts())
				if readings++; readings%rssReadings != 0 {
					continue
				}
				total, anon := window.take()
				at := now.Sub(s.from)
				var inInterval diskInterval
				if disk != nil {
					c, ok := disk()
					if ok && hasPrev {
						inInterval = diskInterval{c.sub(prev), true}
					}
					prev, hasPrev = c, ok
				}
				if at < skip {
					continue
				}
				metrics.Read(sample)
				s.mu.Lock()
				s.at = append(s.at, at)
				s.heap = append(s.heap, sample[0].Value.Uint64())
				s.rss, s.anon = append(s.rss, total), append(s.anon, anon)
				var size int64
				if dataFile != nil {
					size = dataFile()
				}
				s.data = append(s.data, size)
				s.disk = append(s.disk, inInterval)
				s.mu.Unlock()
			}
		}
	}()
	return s
}

// Stop ends sampling and summarises.
func (s *MemorySampler) Stop() *MemoryStats {
	close(s.stop)
	s.done.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &MemoryStats{Samples: len(s.at), Runtime: runtimeMemory()}
	if len(s.at) == 0 {
		return st
	}
	st.HeapLiveFirst, st.HeapLiveLast = s.heap[0], s.heap[len(s.heap)-1]
	st.RSSFirst, st.RSSLast = s.rss[0], s.rss[len(s.rss)-1]
	for i := range s.at {
		st.HeapLiveMax = max(st.HeapLiveMax, s.heap[i])
		st.RSSMax = max(st.RSSMax, s.rss[i])
	}
	st.SlopeMBPerMin = slope(s.at, s.heap) * 60 / (1 << 20)
	st.RSSSlope = slope(s.at, s.rss) * 60 / (1 << 20)
	data := s.data
	if len(data) != len(s.at) {
		data = make([]int64, len(s.at))
	}
	st.DataFileFirst, st.DataFileLast = data[0], data[len(data)-1]
	if st.DataFileLast > 0 {
		sizes := make([]uint64, len(data))
		for i, d := range data {
			sizes[i] = uint64(max(d, 0))
		}
		st.DataFileSlope = slope(s.at, sizes) * 60 / (1 << 20)
	}
	anon := s.anon
	if len(anon) != len(s.at) {
		anon = make([]uint64, len(s.at))
	}
	for i, at := range s.at {
		var d diskInterval
		if len(s.disk) == len(s.at) {
			d = s.disk[i]
		}
		st.Curve = append(st.Curve, MemoryPoint{Seconds: at.Seconds(), RSS: s.rss[i], RSSAnon: anon[i], HeapLive: s.heap[i], DataFile: data[i],
			Disk: d.read, DiskWrites: d.Writes, DiskWriteMs: float64(d.meanWrite()) / float64(time.Millisecond)})
	}
	st.RSSSecondMinute, st.RSSLastMinute, st.RSSGrowthAfterMinute = growthAfterMinute(s.at, s.rss)
	st.RSSAnonSecondMinute, st.RSSAnonLastMinute, st.RSSAnonGrowthAfterMinute = growthAfterMinute(s.at, anon)
	return st
}

// growthAfterMinute is how much xs grew after the run's first minute: the
// medians of its second minute and of its last, and the growth from one
// to the other in percent (all 0 for a run shorter than a minute, or
// without readings).
func growthAfterMinute(at []time.Duration, xs []uint64) (second, last uint64, percent float64) {
	end := at[len(at)-1]
	if end < time.Minute {
		return 0, 0, 0
	}
	var inSecond, inLast []uint64
	for i, t := range at {
		if xs[i] == 0 {
			continue
		}
		if t >= time.Minute && t < 2*time.Minute {
			inSecond = append(inSecond, xs[i])
		}
		if t > end-time.Minute {
			inLast = append(inLast, xs[i])
		}
	}
	if len(inSecond) == 0 || len(inLast) == 0 {
		return 0, 0, 0
	}
	second, last = median(inSecond), median(inLast)
	return second, last, 100 * (float64(last) - float64(second)) / float64(second)
}

// median of xs, which it sorts.
func median(xs []uint64) uint64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return xs[n/2-1]/2 + xs[n/2]/2
}

// slope is the least-squares slope of ys over xs, in units per second.
func slope(xs []time.Duration, ys []uint64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		x, y := xs[i].Seconds(), float64(ys[i])
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// rssParts reads the resident set and its anonymous part in bytes
// (/proc/self/status: VmRSS, RssAnon); 0 where the system has no such
// file.
func rssParts() (total, anon uint64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(b)) {
		name, v, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "RssAnon") {
			continue
		}
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if name == "VmRSS" {
			total = kb << 10
		} else {
			anon = kb << 10
		}
	}
	return total, anon
}
