package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The disk's counters move with what the process writes and syncs: each
// fdatasync of fresh pages is at least one write the device completes.
// Where the temporary directory has no block device (tmpfs), there is
// nothing to read and diskOf says so with nil.
func TestDiskOfCountsWrites(t *testing.T) {
	dir := t.TempDir()
	read := diskOf(dir)
	var st unix.Stat_t
	require.NoError(t, unix.Stat(dir, &st))
	if unix.Major(st.Dev) == 0 {
		require.Nil(t, read, "%s has no block device", dir)
		return
	}
	require.NotNil(t, read, "%s is on block device %d:%d", dir, unix.Major(st.Dev), unix.Minor(st.Dev))

	f, err := os.Create(filepath.Join(dir, "pages"))
	require.NoError(t, err)
	defer f.Close()
	before, ok := read()
	require.True(t, ok)
	page := make([]byte, 4096)
	const syncs = 10
	for i := range syncs {
		page[0] = byte(i)
		_, err := f.WriteAt(page, int64(i)*int64(len(page)))
		require.NoError(t, err)
		require.NoError(t, fdatasync(f))
	}
	after, ok := read()
	require.True(t, ok)
	d := after.sub(before)
	require.GreaterOrEqual(t, d.Writes, uint64(syncs), "each fdatasync wrote its page")
	// A device with a volatile write cache is sent a flush by each
	// fdatasync; one without is sent none (a partition's queue settings are
	// its disk's, not under its own number).
	cache, err := os.ReadFile(fmt.Sprintf("/sys/dev/block/%d:%d/queue/write_cache", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if err == nil && strings.TrimSpace(string(cache)) == "write back" {
		require.GreaterOrEqual(t, d.Flushes, uint64(syncs), "each fdatasync flushed the device's cache")
	}
}
