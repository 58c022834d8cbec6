package switchtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// EnsureDebian returns the path of command, installing Debian's package
// pkg with apt-get when it is missing and the test runs as root (as CI
// does). A machine where that is impossible fails the test: what the tool
// checks is tested with it or not at all, never skipped. Test binaries of
// several packages may ask at once: apt-get runs under a lock they share.
func EnsureDebian(t testing.TB, command, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(command); err == nil {
		return p
	}
	require.Zero(t, os.Geteuid(), "%s is not installed and the test is not root: run `apt-get install -y %s` and test again", command, pkg)
	lock, err := os.OpenFile(os.TempDir()+"/tulpar-test-apt.lock", os.O_CREATE|os.O_RDWR, 0o644)
	require.NoError(t, err)
	defer lock.Close()
	require.NoError(t, syscall.Flock(int(lock.Fd()), syscall.LOCK_EX))
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if p, err := exec.LookPath(command); err == nil {
		return p // installed while this test waited
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	for _, args := range [][]string{{"apt-get", "update"}, {"apt-get", "install", "-y", "--no-install-recommends", pkg}} {
		// Printed as it happens: a test that installs software says so.
		fmt.Fprintf(os.Stderr, "%s not found; running: %s\n", command, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		require.NoError(t, cmd.Run(), "installing %s", pkg)
	}
	p, err := exec.LookPath(command)
	require.NoError(t, err, "apt-get installed %s but %s is not on PATH", pkg, command)
	return p
}
