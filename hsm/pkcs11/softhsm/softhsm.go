// Package softhsm gives tests a real PKCS#11 token: SoftHSM2 (Debian's
// softhsm2 package) with a fresh token in the test's temporary directory.
//
// When SoftHSM2 is missing and the test runs as root, as CI does, it is
// installed with apt-get, the way the browser tests install Chromium;
// .ci/run installs it before the tests so that two tests never run apt-get
// at once. Otherwise the test fails and says how to install it.
package softhsm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tulpar-switch/tulpar/hsm"
)

// Module is where Debian's softhsm2 puts its PKCS#11 library.
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// Label and PIN are those of the tokens Token makes.
const (
	Label = "tulpar-test"
	PIN   = "24680"
)

var (
	installOnce sync.Once
	installErr  error
)

// Ensure makes sure SoftHSM2 is installed, installing it as root when it
// is not.
func Ensure(tb testing.TB) {
	tb.Helper()
	installOnce.Do(func() { installErr = findOrInstall() })
	if installErr != nil {
		tb.Fatalf("softhsm: %v", installErr)
	}
}

func installed() bool {
	_, err := os.Stat(Module)
	_, uerr := exec.LookPath("softhsm2-util")
	return err == nil && uerr == nil
}

func findOrInstall() error {
	if installed() {
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New("SoftHSM2 is not installed (no " + Module + " or softhsm2-util) and this is not root, " +
			"so it cannot be installed here: run `apt-get install -y softhsm2` as root and test again")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// Another test may be installing its own package: wait for dpkg's
	// lock rather than fail on it.
	for _, args := range [][]string{
		{"apt-get", "-o", "DPkg::Lock::Timeout=300", "update"},
		{"apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "softhsm2"},
	} {
		// Printed as it happens: a test that installs software says so.
		fmt.Fprintf(os.Stderr, "softhsm: SoftHSM2 not found; running: %s\n", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("installing SoftHSM2: %s: %w", strings.Join(args, " "), err)
		}
	}
	if !installed() {
		return errors.New("apt-get installed softhsm2 but " + Module + " or softhsm2-util is missing")
	}
	return nil
}

// Token makes a new, empty token in a temporary directory and points
// SOFTHSM2_CONF at it for the rest of the test (t.Setenv: the test cannot be
// parallel, and SoftHSM2 reads the variable when a process first opens it,
// so every module of the test shares this token). It returns the hsm
// section for it, with the PIN in clear, as only a test may have it.
func Token(tb testing.TB) hsm.PKCS11Config {
	tb.Helper()
	return TokenIn(tb, tb.TempDir())
}

// TokenIn is Token with the token kept in dir: the first call for a
// directory makes the token, later ones (a restarted switch, another
// process on the same data) point SOFTHSM2_CONF at it again.
func TokenIn(tb testing.TB, dir string) hsm.PKCS11Config {
	tb.Helper()
	Ensure(tb)
	tokens := filepath.Join(dir, "tokens")
	conf := filepath.Join(dir, "softhsm2.conf")
	_, err := os.Stat(conf)
	fresh := errors.Is(err, os.ErrNotExist)
	if fresh {
		if err := os.MkdirAll(tokens, 0o700); err != nil {
			tb.Fatal(err)
		}
		body := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Setenv("SOFTHSM2_CONF", conf)
	if fresh {
		out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", Label, "--pin", PIN, "--so-pin", "13579").CombinedOutput()
		if err != nil {
			tb.Fatalf("softhsm: softhsm2-util --init-token: %v: %s", err, out)
		}
	}
	return hsm.PKCS11Config{Module: Module, TokenLabel: Label, PIN: PIN}
}

// Config is hsm.DefaultConfig on a new token (Token): kind pkcs11, the
// default role ids.
func Config(tb testing.TB) hsm.Config {
	tb.Helper()
	cfg := hsm.DefaultConfig()
	cfg.Kind = hsm.KindPKCS11
	cfg.PKCS11 = Token(tb)
	return cfg
}
