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
	require.NoError(t, AptGet(command+" not found", false, func() bool {
		_, err := exec.LookPath(command)
		return err == nil
	}, pkg), "installing %s", pkg)
	p, err := exec.LookPath(command)
	require.NoError(t, err, "apt-get installed %s but %s is not on PATH", pkg, command)
	return p
}

// AptGet installs Debian's packages pkgs (apt-get update, then install;
// without their recommended packages unless recommends), printing each
// command as it runs with why in front. Test binaries of several packages
// may install at once, and the system may be running apt itself: the tests'
// installs take turns under a lock file they share, skipping the install
// when done (checked under the lock) says another test made it, and each
// apt-get waits up to five minutes for dpkg's own lock rather than failing
// on it.
func AptGet(why string, recommends bool, done func() bool, pkgs ...string) error {
	name := os.TempDir() + "/tulpar-test-apt.lock"
	lock, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("the tests' apt lock file: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("the tests' apt lock file %s: flock: %w", name, err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if done != nil && done() {
		return nil // installed while this test waited
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	apt := []string{"apt-get", "-o", "DPkg::Lock::Timeout=300"}
	install := append(append([]string{}, apt...), "install", "-y")
	if !recommends {
		install = append(install, "--no-install-recommends")
	}
	for _, args := range [][]string{append(append([]string{}, apt...), "update"), append(install, pkgs...)} {
		// Printed as it happens: a test that installs software says so.
		fmt.Fprintf(os.Stderr, "%s; running: %s\n", why, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(args, " "), err)
		}
	}
	return nil
}
