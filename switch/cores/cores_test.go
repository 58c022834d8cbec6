package cores_test

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/cores"
)

// TestTune: SchedulersPerCore schedulers per core Go counted, N unchanged;
// a GOMAXPROCS in the environment is left alone.
func TestTune(t *testing.T) {
	start := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(start) })
	require.Equal(t, start, cores.N(), "nothing raised it before the test")

	t.Setenv("GOMAXPROCS", "")
	require.True(t, cores.Tune())
	require.Equal(t, cores.SchedulersPerCore*start, runtime.GOMAXPROCS(0))
	require.Equal(t, start, cores.N(), "the cores are what Go counted, not the schedulers")

	runtime.GOMAXPROCS(start)
	t.Setenv("GOMAXPROCS", strconv.Itoa(start))
	require.False(t, cores.Tune())
	require.Equal(t, start, runtime.GOMAXPROCS(0), "the environment's choice stands")
}
