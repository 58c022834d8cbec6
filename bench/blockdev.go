package bench

import "time"

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

// sub is c - before.
func (c DiskCounters) sub(before DiskCounters) DiskCounters {
	return DiskCounters{Writes: c.Writes - before.Writes, WriteTime: c.WriteTime - before.WriteTime,
		Flushes: c.Flushes - before.Flushes, FlushTime: c.FlushTime - before.FlushTime}
}

// meanWrite is the mean time of a write, 0 without writes.
func (c DiskCounters) meanWrite() time.Duration {
	if c.Writes == 0 {
		return 0
	}
	return c.WriteTime / time.Duration(c.Writes)
}
