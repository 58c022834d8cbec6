//go:build !linux

package bench

import "os"

// fdatasync is fsync where the system has no fdatasync, as in bbolt.
func fdatasync(f *os.File) error { return f.Sync() }
