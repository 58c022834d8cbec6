package bench

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A stat line whose every field differs: each counter comes from its own
// column (writes 5th, their milliseconds 8th, flushes 16th and theirs
// 17th), not from a neighbour such as the sectors written or the discards.
func TestParseDiskStat(t *testing.T) {
	c, err := parseDiskStat("  100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116\n")
	require.NoError(t, err)
	require.Equal(t, DiskCounters{Writes: 104, WriteTime: 107 * time.Millisecond, Flushes: 115, FlushTime: 116 * time.Millisecond}, c)

	_, err = parseDiskStat("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15")
	require.ErrorContains(t, err, "15 fields, want 17")
	_, err = parseDiskStat("1 2 3 4 x 6 7 8 9 10 11 12 13 14 15 16 17")
	require.ErrorContains(t, err, "field 4")
}

// The kernel's milliseconds are 32 bits: across their wrap an interval
// still has its few milliseconds, not a negative or enormous time.
func TestDiskCountersSubWraps(t *testing.T) {
	before := DiskCounters{Writes: 10, WriteTime: (math.MaxUint32 - 1) * time.Millisecond, Flushes: 3, FlushTime: math.MaxUint32 * time.Millisecond}
	after := DiskCounters{Writes: 14, WriteTime: 2 * time.Millisecond, Flushes: 5, FlushTime: 1 * time.Millisecond}
	d := after.sub(before)
	require.Equal(t, DiskCounters{Writes: 4, WriteTime: 4 * time.Millisecond, Flushes: 2, FlushTime: 2 * time.Millisecond}, d)
	require.Equal(t, time.Millisecond, d.meanWrite())
	require.Zero(t, DiskCounters{}.meanWrite())
}
