//go:build !linux

package bench

// diskOf has nothing to read where there is no /sys/dev/block.
func diskOf(string) func() (DiskCounters, bool) { return nil }
