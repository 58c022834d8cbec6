package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// diskOf returns a reader of the counters of the block device holding
// path (/sys/dev/block/MAJOR:MINOR/stat, documented in the kernel's
// Documentation/block/stat.rst), or nil where there is none to read: a
// file system without a block device of its own (tmpfs, overlay), or a
// kernel without flush counters (before 5.5).
func diskOf(path string) func() (DiskCounters, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil
	}
	file := fmt.Sprintf("/sys/dev/block/%d:%d/stat", unix.Major(st.Dev), unix.Minor(st.Dev))
	read := func() (DiskCounters, bool) {
		b, err := os.ReadFile(file)
		if err != nil {
			return DiskCounters{}, false
		}
		f := strings.Fields(string(b))
		if len(f) < 17 {
			return DiskCounters{}, false
		}
		n := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
		ms := func(i int) time.Duration { return time.Duration(n(i)) * time.Millisecond }
		// Fields from 0: 4 writes completed, 7 ms writing; 11-14 are
		// discards; 15 flushes completed, 16 ms flushing.
		return DiskCounters{Writes: n(4), WriteTime: ms(7), Flushes: n(15), FlushTime: ms(16)}, true
	}
	if _, ok := read(); !ok {
		return nil
	}
	return read
}
