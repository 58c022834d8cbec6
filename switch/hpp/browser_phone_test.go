package hpp_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
	"github.com/tulpar-switch/tulpar/switch/throttle"
)

// screenshots is where TestBrowserPhoneWidths leaves its screenshots for a
// person to look at: go test ./switch/hpp -run PhoneWidths -screenshots DIR.
// Without it they go to the test's temporary directory, so writing them
// is tested on every run.
var screenshots = flag.String("screenshots", "", "directory for the hosted page's screenshots (default: a temporary one)")

// declinedText is the neutral line a buyer reads after a decline, whatever
// the issuer's reason.
var declinedText = map[string]string{
	"en": "The bank declined the payment. Try another card or contact your bank.",
	"ru": "Банк отклонил платёж. Попробуйте другую карту или обратитесь в свой банк.",
	"kk": "Банк төлемді қабылдамады. Басқа картаны қолданып көріңіз немесе банкіңізге хабарласыңыз.",
}

// panLayout is where the browser laid out the card number and its badge.
type panLayout struct {
	Viewport     float64 `json:"viewport"`
	PageWidth    float64 `json:"pageWidth"`
	InputLeft    float64 `json:"inputLeft"`
	InputRight   float64 `json:"inputRight"`
	InputTop     float64 `json:"inputTop"`
	InputBottom  float64 `json:"inputBottom"`
	TextWidth    float64 `json:"textWidth"` // the typed number's scroll width
	TextBox      float64 `json:"textBox"`   // the room the field gives it
	BadgeLeft    float64 `json:"badgeLeft"`
	BadgeRight   float64 `json:"badgeRight"`
	BadgeTop     float64 `json:"badgeTop"`
	BadgeBottom  float64 `json:"badgeBottom"`
	BadgeClipped bool    `json:"badgeClipped"`
}

const panLayoutJS = `(function () {
  var i = document.getElementById('pan').getBoundingClientRect(), p = document.getElementById('pan'),
      b = document.getElementById('brand'), r = b.getBoundingClientRect();
  return {viewport: window.innerWidth, pageWidth: document.documentElement.scrollWidth,
    inputLeft: i.left, inputRight: i.right, inputTop: i.top, inputBottom: i.bottom,
    textWidth: p.scrollWidth, textBox: p.clientWidth,
    badgeLeft: r.left, badgeRight: r.right, badgeTop: r.top, badgeBottom: r.bottom,
    badgeClipped: b.scrollWidth > b.clientWidth};
}())`

// TestBrowserPhoneWidths is the card form in real Chromium on the narrow
// phones buyers hold (390 and 320 px wide), in each of the page's
// languages: the longest card numbers show whole, with the brand beside
// them and never over a digit; nothing scrolls sideways; a declined
// attempt leaves the form for another one with a neutral line, never the
// issuer's reason; and a buyer who ticks "remember this card" leaves it
// stored for the shop's customer. Each state is a screenshot for review.
func TestBrowserPhoneWidths(t *testing.T) {
	s := newStack(t, func(c *daemon.Config) { c.Payments.Merchants[0].MaxAttempts = 3 })
	shop := newShop(t)
	ctx := newChrome(t)
	dir := *screenshots
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	shot := func(t *testing.T, name string) {
		t.Helper()
		png := run(t, ctx, chromedp.FullScreenshot(100))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
		t.Logf("screenshot %s", filepath.Join(dir, name))
	}

	for _, width := range []int64{390, 320} {
		for _, lang := range []string{"kk", "ru", "en"} {
			t.Run(fmt.Sprintf("%dpx %s", width, lang), func(t *testing.T) {
				o := s.register(orderSpec{lang: lang, customer: "17", returnURL: shop.URL + "/return", failURL: shop.URL + "/fail"})
				require.NoError(t, chromedp.Do(ctx,
					chromedp.EmulateViewport(width, 800, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch),
					chromedp.Navigate(s.URL()+"/pay/"+o.ID),
					chromedp.WaitVisible(chromedp.ID("pan")),
				))
				require.False(t, run(t, ctx, chromedp.Evaluate[bool](`document.getElementById('keep').checked`)),
					"storing a card needs the buyer's tick")

				// Every brand, the longest numbers (19 digits) among them, and
				// a 19-digit Mir.
				for _, c := range append(brandCards, brandCard{routing.BrandMir, "2200000000000000004", "МИР"}) {
					require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("pan"), ""), chromedp.SendKeys(chromedp.ID("pan"), c.pan)))
					require.Equal(t, c.badge, run(t, ctx, chromedp.Text(chromedp.ID("brand"))))
					l := run(t, ctx, chromedp.Evaluate[panLayout](panLayoutJS))
					require.LessOrEqual(t, l.PageWidth, l.Viewport, "the page scrolls sideways: %+v", l)
					require.LessOrEqual(t, l.TextWidth, l.TextBox, "%s is clipped in its field: %+v", c.badge, l)
					require.GreaterOrEqual(t, l.BadgeLeft, l.InputRight, "the %s badge is over the number: %+v", c.badge, l)
					require.LessOrEqual(t, l.BadgeRight, l.Viewport, "the badge is off the screen: %+v", l)
					require.True(t, l.BadgeTop < l.InputBottom && l.BadgeBottom > l.InputTop, "the badge is not beside the number: %+v", l)
					require.False(t, l.BadgeClipped, "the %s badge is cut: %+v", c.badge, l)
					if c.brand == routing.BrandUnionPay {
						shot(t, fmt.Sprintf("hpp-%dpx-%s-19digits.png", width, lang))
					}
				}
				require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("pan"), "")))
				typeCard(t, ctx, notEnrolled, "VISA", "AIGERIM NURLANOVA")
				shot(t, fmt.Sprintf("hpp-%dpx-%s-card.png", width, lang))

				// The bank declines (51, insufficient funds): the buyer may
				// try again and reads only that the bank said no.
				require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("pay"))))
				switchtest.WaitShown(t, ctx, "#declined")
				require.Equal(t, declinedText[lang], run(t, ctx, chromedp.Text(chromedp.ID("declined"))))
				page := run(t, ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
				require.NotContains(t, page, order.ActionText(order.ActionFunds, lang), "the issuer's reason is the shop's, not the buyer's")
				require.Equal(t, order.ActionFunds, s.get(o.ID).ActionCode, "the shop and the cabinet see the exact code")
				require.True(t, run(t, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)))
				shot(t, fmt.Sprintf("hpp-%dpx-%s-declined.png", width, lang))

				if width != 390 || lang != "ru" {
					return
				}
				// Another card, kept for the shop's customer 17. The page
				// kept the e-mail the buyer gave.
				require.Equal(t, "buyer@example.kz", run(t, ctx, chromedp.Value(chromedp.ID("email"))))
				run(t, ctx, chromedp.Evaluate[string](`document.getElementById('email').value = ''`))
				typeCard(t, ctx, frictionless, "VISA", "AIGERIM NURLANOVA")
				require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("keep")), chromedp.Click(chromedp.ID("pay"))))
				require.Equal(t, o.ID, shop.wait(t, s, o.ID, "/return").Get("orderId"))
				paid := s.get(o.ID)
				require.Equal(t, order.StatusDeposited, paid.Status)
				require.Equal(t, 2, paid.Attempts)
				require.NotNil(t, paid.Stored, "the ticked card is stored")
				require.Equal(t, "17", paid.Stored.ClientID)
			})
		}
	}
}

// TestBrowserThrottledPage is the page a buyer meets past the card limit of
// their address, in real Chromium at 320 px in each language: it says how
// long to wait, leads back to the form, and fits the screen.
func TestBrowserThrottledPage(t *testing.T) {
	s := newStack(t, func(c *daemon.Config) {
		c.HPP.CardAttempts = throttle.Config{PerMinute: 1, Burst: 1}
		c.Payments.Merchants[0].MaxAttempts = 3
	})
	ctx := newChrome(t)
	dir := *screenshots
	if dir == "" {
		dir = t.TempDir()
	}
	waits := map[string]string{"en": "Try again in ", "ru": "Повторите через ", "kk": " с кейін қайталаңыз."}
	for i, lang := range []string{"kk", "ru", "en"} {
		o := s.register(orderSpec{lang: lang})
		require.NoError(t, chromedp.Do(ctx,
			chromedp.EmulateViewport(320, 700, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch),
			chromedp.Navigate(s.URL()+"/pay/"+o.ID),
			chromedp.WaitVisible(chromedp.ID("pan")),
		))
		typeCard(t, ctx, notEnrolled, "VISA", "AIGERIM NURLANOVA")
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("pay"))))
		if i == 0 {
			// The address's one card goes to the bank (declined: 51).
			switchtest.WaitShown(t, ctx, "#declined")
			run(t, ctx, chromedp.Evaluate[string](`document.getElementById('email').value = ''`)) // kept from the first try
			typeCard(t, ctx, notEnrolled, "VISA", "AIGERIM NURLANOVA")
			require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("pay"))))
		}
		switchtest.WaitShown(t, ctx, `#result[data-kind="throttled"]`)
		require.Contains(t, run(t, ctx, chromedp.Text(chromedp.ID("result"))), waits[lang])
		require.Equal(t, "/pay/"+o.ID+"?lang="+lang, run(t, ctx, chromedp.Evaluate[string](`document.getElementById('again').getAttribute('href')`)))
		require.True(t, run(t, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)), "the page scrolls sideways at 320 px")
		png := run(t, ctx, chromedp.FullScreenshot(100))
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("hpp-320px-%s-throttled.png", lang)), png, 0o644))
	}
	require.Equal(t, 1, s.Bank.Received("0200"), "one card reached the bank")
}
