package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DiskCounters are the write counters of the block device that holds the
// switch's data: what this VM's disk charges for is the number of writes
// and flushes, not their bytes, and a run that stalled because the disk
// did shows as a second whose writes took longer.
//
// They count the whole device: anything else writing to it during a run
// counts too.
type DiskCounters struct {
	Writes    uint64        // writes completed
	WriteTime time.Duration // time spent on them (the kernel sums their durations)
	Flushes   uint64        // cache flushes completed (each fdatasync sends one)
	FlushTime time.Duration
}

// parseDiskStat reads the counters from a block device's stat file, whose
// fields (Documentation/block/stat.rst) are, from 0: 4 writes completed,
// 7 milliseconds writing, 11-14 discards, 15 flushes completed, 16
// milliseconds flushing. A kernel before 5.5 has no flush fields.
func parseDiskStat(line string) (DiskCounters, error) {
	f := strings.Fields(line)
	if len(f) < 17 {
		return DiskCounters{}, fmt.Errorf("%d fields, want 17 (a kernel before 5.5 counts no flushes)", len(f))
	}
	var v [17]uint64
	for _, i := range []int{4, 7, 15, 16} {
		n, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return DiskCounters{}, fmt.Errorf("field %d: %w", i, err)
		}
		v[i] = n
	}
	return DiskCounters{Writes: v[4], WriteTime: time.Duration(v[7]) * time.Millisecond,
		Flushes: v[15], FlushTime: time.Duration(v[16]) * time.Millisecond}, nil
}

// sub is c - before. The kernel keeps the milliseconds in 32 bits, which a
// busy device fills in weeks: they are subtracted modulo 2^32.
func (c DiskCounters) sub(before DiskCounters) DiskCounters {
	ms := func(after, before time.Duration) time.Duration {
		return time.Duration(uint32(after.Milliseconds())-uint32(before.Milliseconds())) * time.Millisecond
	}
	return DiskCounters{Writes: c.Writes - before.Writes, WriteTime: ms(c.WriteTime, before.WriteTime),
		Flushes: c.Flushes - before.Flushes, FlushTime: ms(c.FlushTime, before.FlushTime)}
}

// meanWrite is the mean time of a write, 0 without writes.
func (c DiskCounters) meanWrite() time.Duration {
	if c.Writes == 0 {
		return 0
	}
	return c.WriteTime / time.Duration(c.Writes)
}
