package bench

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// diskOf returns a reader of the counters of the block device holding
// path, or nil where there is none to read: a file system without a block
// device of its own (tmpfs, overlay), or a kernel without flush counters.
// For a partition it reads its disk, where the kernel counts the flushes.
func diskOf(path string) func() (DiskCounters, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil
	}
	dev := uint64(st.Dev) // uint32 on some architectures
	dir, err := filepath.EvalSymlinks(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(dev), unix.Minor(dev)))
	if err != nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
		dir = filepath.Dir(dir)
	}
	file := filepath.Join(dir, "stat")
	read := func() (DiskCounters, bool) {
		b, err := os.ReadFile(file)
		if err != nil {
			return DiskCounters{}, false
		}
		c, err := parseDiskStat(string(b))
		return c, err == nil
	}
	if _, ok := read(); !ok {
		return nil
	}
	return read
}
