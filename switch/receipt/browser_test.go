package receipt_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

var screenshots = flag.String("screenshots", "", "write the receipt's screenshots to this folder (default: the test's temporary folder)")

// TestReceiptInBrowser: the receipt in real Chromium on a 390 px phone,
// a 320 px one and a desktop, in each language: nothing scrolls sideways,
// the QR code on the page decodes to the receipt's link. Each is a
// screenshot for review.
func TestReceiptInBrowser(t *testing.T) {
	w := newWorld(t)
	ctx := switchtest.NewChrome(t, chromedp.WindowSize(1280, 900))
	dir := *screenshots
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	link := w.D.Receipts().URL(w.id, "")
	for _, width := range []int64{320, 390, 1280} {
		for _, lang := range []string{"kk", "ru", "en"} {
			t.Run(fmt.Sprintf("%dpx %s", width, lang), func(t *testing.T) {
				mobile := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
				if width < 500 {
					mobile = append(mobile, chromedp.EmulateMobile, chromedp.EmulateScale(2)) // a phone's density
				}
				require.NoError(t, chromedp.Do(ctx,
					chromedp.EmulateViewport(width, 900, mobile...),
					chromedp.Navigate(link+"&lang="+lang),
					chromedp.WaitVisible(chromedp.ID("amount")),
				))
				wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
				require.NoError(t, err)
				require.False(t, wide, "the receipt scrolls sideways at %d px", width)
				shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				require.NoError(t, err)
				name := filepath.Join(dir, fmt.Sprintf("receipt-%dpx-%s.png", width, lang))
				require.NoError(t, os.WriteFile(name, shot, 0o644))
				t.Logf("screenshot %s", name)
				if width == 390 && lang == "ru" {
					require.Equal(t, link, switchtest.ReadQR(t, shot), "the page's QR code reads")
				}
			})
		}
	}
}
