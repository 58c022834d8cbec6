package switchtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var (
	chromiumOnce sync.Once
	chromiumPath string
	chromiumErr  error
)

// EnsureChromium returns the browser the browser tests drive (chromedp),
// installing Debian's chromium with apt-get when none is on PATH and the
// test runs as root (as CI does). A machine where that is impossible fails
// the test: what a page promises is tested in a browser or not at all,
// never skipped.
func EnsureChromium(t testing.TB) string {
	t.Helper()
	chromiumOnce.Do(func() { chromiumPath, chromiumErr = findOrInstallChromium() })
	if chromiumErr != nil {
		t.Fatalf("browser test: %v", chromiumErr)
	}
	return chromiumPath
}

var browserNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"}

func findBrowser() string {
	for _, n := range browserNames {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

func findOrInstallChromium() (string, error) {
	if p := findBrowser(); p != "" {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("no Chromium on PATH (looked for %s) and not root, so it cannot be installed here: "+
			"run `apt-get install -y chromium` as root and test again", strings.Join(browserNames, ", "))
	}
	if err := AptGet("browser test: Chromium not found", true, func() bool { return findBrowser() != "" }, "chromium"); err != nil {
		return "", fmt.Errorf("installing Chromium: %w", err)
	}
	if p := findBrowser(); p != "" {
		fmt.Fprintf(os.Stderr, "browser test: using %s\n", p)
		return p, nil
	}
	return "", errors.New("apt-get installed chromium but no Chromium binary is on PATH")
}

// NewChrome starts headless Chromium (EnsureChromium's) with a fresh
// profile for the test, with extra options (a certificate to trust, a
// window size); it is closed when the test ends.
func NewChrome(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(EnsureChromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(opts, extra...)...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// WaitShown waits until the page shows an element matching css, whatever
// documents the browser goes through first (a form post, a redirect, the
// 3-D Secure pages posting themselves on). chromedp's WaitVisible resolves
// its node in the document it finds and fails with "Could not find node
// with given id" when a navigation replaces that document under it; this
// asks the current document each time and takes an error from a document
// going away as "not yet".
func WaitShown(t testing.TB, ctx context.Context, css string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	script := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length) })()`, css)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](script))
		if err == nil && shown {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the page never showed %s (last error: %v)", css, last)
		case <-tick.C:
		}
	}
}
