package journal

import (
	"fmt"
	"syscall"
)

// dropMapped drops the resident pages of the mapping of size bytes at
// addr, a bbolt file's read-only shared mapping.
func dropMapped(addr uintptr, size int64) (int64, error) {
	if addr == 0 || size <= 0 {
		return 0, nil
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(size), syscall.MADV_DONTNEED); errno != 0 {
		return 0, fmt.Errorf("journal: release mapped pages: madvise: %w", errno)
	}
	return size, nil
}
