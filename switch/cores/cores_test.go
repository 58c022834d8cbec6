package cores_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/cores"
)

// TestTune: SchedulersPerCore schedulers per core Go counted, N unchanged;
// a GOMAXPROCS in the environment is left alone, unless Go ignores it.
// (go test -cpu sets GOMAXPROCS after the package counted: the test
// compares with N, not with what the test started at.)
func TestTune(t *testing.T) {
	start, n := runtime.GOMAXPROCS(0), cores.N()
	t.Cleanup(func() { runtime.GOMAXPROCS(start) })

	for _, env := range []string{"", "abc", "0", "-3"} {
		runtime.GOMAXPROCS(start)
		t.Setenv("GOMAXPROCS", env)
		require.True(t, cores.Tune(), "%q", env)
		require.Equal(t, cores.SchedulersPerCore*n, runtime.GOMAXPROCS(0), "%q", env)
		require.Equal(t, n, cores.N(), "the cores are what Go counted, not the schedulers")
	}

	runtime.GOMAXPROCS(start)
	t.Setenv("GOMAXPROCS", "3")
	require.False(t, cores.Tune())
	require.Equal(t, start, runtime.GOMAXPROCS(0), "the environment's choice stands")
}
