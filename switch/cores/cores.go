// Package cores is the one owner of how many cores the switch has and of
// how many Go schedulers (GOMAXPROCS) run on them. The count is Go's own
// at start, taken before Tune raises it: the CPUs, or a container's CPU
// limit, or GOMAXPROCS from the environment. What sizes itself by the
// machine (the password hashes run at once) asks N, not GOMAXPROCS,
// which Tune sets above it.
package cores

import (
	"os"
	"runtime"
	"strconv"
)

// n is read when the package is initialized, before any main runs Tune.
var n = runtime.GOMAXPROCS(0)

// N is the number of cores Go counted at start.
func N() int { return n }

// SchedulersPerCore is how many Go schedulers Tune runs per core. The
// journal writer and the payments waiting on it spend most of a commit in
// fdatasync; with one scheduler per core, each coming back from the
// syscall finds the schedulers busy with HTTP handlers and waits in Go's
// run queue, first come first served, while its commit round holds every
// payment in it. With more schedulers than cores the kernel decides
// instead, and it runs a thread that slept on the disk ahead of ones that
// have been computing. Measured on 2 vCPUs (tulpar bench --self
// --separate, 2026-12-07; the README has the table): at the peak 1,309-
// 1,356 authorizations/s with 2 against 1,560-1,610 with 8, and at 600/s a
// p99 of 27.6-38.9 ms with 2, 18.7-24.4 with 8, 30.4-40.4 with 16, while
// commits took 1.0-1.5 ms.
const SchedulersPerCore = 4

// Tune sets GOMAXPROCS to SchedulersPerCore × N unless the environment
// sets it (a positive number: Go ignores anything else, and so does
// Tune), and reports whether it did. Setting it stops Go from following
// a container's CPU limit as it changes; a restart picks up a new limit.
func Tune() bool {
	if v, err := strconv.Atoi(os.Getenv("GOMAXPROCS")); err == nil && v > 0 {
		return false
	}
	runtime.GOMAXPROCS(SchedulersPerCore * n)
	return true
}
