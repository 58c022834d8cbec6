package bench

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CostStats are what one operation cost the process, so that the next
// regression shows as a number rather than a feeling. With --self the
// process holds the switch, the simulators and the load generator: the CPU
// is theirs together, the bytes and the data file the switch's.
type CostStats struct {
	Operations int64 `json:"operations"` // warm-up included, as the counters run through it
	// CPUMicrosPerOp is the process's user and system CPU time per
	// operation.
	CPUMicrosPerOp float64 `json:"cpu_us_per_operation"`
	// BytesWrittenPerOp is what the process handed to storage
	// (/proc/self/io write_bytes; 0 where the kernel does not say).
	BytesWrittenPerOp float64 `json:"bytes_written_per_operation"`
	// DataFileGrowthPerOp is the data file's growth per operation (--self).
	DataFileGrowthPerOp float64 `json:"data_file_growth_per_operation"`
	DataFileBytes       int64   `json:"data_file_bytes"`
	// Disk is what the disk holding the data did per operation, the whole
	// device counted (nil where it cannot be read).
	Disk *DiskCost `json:"disk,omitempty"`
}

// DiskCost is the data's disk per operation: its writes and cache flushes,
// and their mean times. On a disk that charges for each write, as this
// VM's does, WritesPerOp is the cost the bytes hide.
type DiskCost struct {
	WritesPerOp  float64       `json:"writes_per_operation"`
	FlushesPerOp float64       `json:"flushes_per_operation"`
	MeanWrite    time.Duration `json:"mean_write_ns"`
	MeanFlush    time.Duration `json:"mean_flush_ns"`
}

// DrainStats are the store-and-forward queues after the measured run: the
// completion advices, reversals and callbacks the run left to send. A run
// is only as fast as the moment they are all acknowledged.
type DrainStats struct {
	DepthAtEnd int           `json:"saf_depth_at_end"`
	DepthAfter int           `json:"saf_depth_after_drain"`
	Waited     time.Duration `json:"drain_ns"`
	// Sustained is the authorizations per second counting the drain: the
	// measured ones over the measured time plus the drain.
	Sustained float64 `json:"sustained_authorizations_per_second"`
	// TimedOut is set when the queues were still not empty after
	// Config.DrainTimeout.
	TimedOut bool `json:"timed_out,omitempty"`
}

// DefaultDrainTimeout is Config.DrainTimeout's default.
const DefaultDrainTimeout = 2 * time.Minute

// processSample is the process's CPU time and bytes written so far, and
// the counters of the data's disk when disk is not nil.
type processSample struct {
	cpu     time.Duration
	written int64
	disk    DiskCounters
	hasDisk bool
}

func sampleProcess(disk func() (DiskCounters, bool)) processSample {
	var s processSample
	if disk != nil {
		s.disk, s.hasDisk = disk()
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.written = procWriteBytes()
	return s
}

// procWriteBytes is the process's write_bytes from /proc/self/io: bytes
// that reached the storage layer, page cache write-back included. 0 when
// unreadable (not Linux, or a kernel without task I/O accounting).
func procWriteBytes() int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "write_bytes:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

func costStats(before, after processSample, ops int64, dataBefore, dataAfter int64) *CostStats {
	c := &CostStats{Operations: ops, DataFileBytes: dataAfter}
	if ops > 0 {
		n := float64(ops)
		c.CPUMicrosPerOp = float64((after.cpu - before.cpu).Microseconds()) / n
		c.BytesWrittenPerOp = float64(after.written-before.written) / n
		c.DataFileGrowthPerOp = float64(dataAfter-dataBefore) / n
		if before.hasDisk && after.hasDisk {
			d := after.disk.sub(before.disk)
			c.Disk = &DiskCost{WritesPerOp: float64(d.Writes) / n, FlushesPerOp: float64(d.Flushes) / n, MeanWrite: d.meanWrite()}
			if d.Flushes > 0 {
				c.Disk.MeanFlush = d.FlushTime / time.Duration(d.Flushes)
			}
		}
	}
	return c
}

// drain waits, up to timeout, until the system's store-and-forward queues
// are empty, polling the journal sample (a tool's wait, not a test's).
// end is the sample taken as the measured run ended.
func drain(ctx context.Context, end JournalSample, sample func() (JournalSample, error), timeout time.Duration, authorizations float64, measured time.Duration) *DrainStats {
	d := &DrainStats{DepthAtEnd: end.SAFDepth, DepthAfter: end.SAFDepth}
	start := time.Now()
	deadline := start.Add(timeout)
	// The queues say nothing when they empty: a tool looks again every
	// 50 ms, and gives up at the deadline or when the run is cancelled.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.NewTimer(time.Until(deadline))
	defer giveUp.Stop()
	for d.DepthAfter > 0 {
		select {
		case <-ctx.Done():
			d.TimedOut = true
		case <-giveUp.C:
			d.TimedOut = true
		case <-tick.C:
		}
		if d.TimedOut {
			break
		}
		s, err := sample()
		if err != nil {
			return nil
		}
		d.DepthAfter = s.SAFDepth
	}
	d.Waited = time.Since(start)
	if total := measured + d.Waited; total > 0 {
		d.Sustained = authorizations * measured.Seconds() / total.Seconds()
	}
	return d
}
