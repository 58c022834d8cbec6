package hpp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestBrowserPaysWithChallenge is a buyer in real headless Chromium on a
// 360-pixel-wide screen: open the hosted page, type a card, pass the ACS's
// one-time-code challenge, land on the merchant's return URL; then a
// frictionless card in the same browser. The bank is issuersim over a real
// ISO 8583 link, so "paid" means the simulated issuer approved.
func TestBrowserPaysWithChallenge(t *testing.T) {
	s := newStack(t)
	shop := newShop(t)
	ctx := newChrome(t)

	t.Run("challenge card, two-stage", func(t *testing.T) {
		o := s.register(orderSpec{lang: "ru", twoStage: true, returnURL: shop.URL + "/return?cart=7", failURL: shop.URL + "/fail"})
		openForm(t, ctx, s, o)

		// Luhn as typed: a wrong last digit is flagged before submitting.
		require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("pan"), "4111111111111112")))
		require.Equal(t, "Проверьте номер карты.", run(t, ctx, chromedp.Text(chromedp.ID("pan-err"))))
		require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("pan"), "")))

		typeCard(t, ctx, challenge, "Mastercard", "MASTERCARD TEST")
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("pay"))))

		// The ACS shows the one-time code (it is a simulator); type it.
		switchtest.WaitShown(t, ctx, "#otp")
		code := run(t, ctx, chromedp.Text(chromedp.ID("otp")))
		require.Regexp(t, `^\d{6}$`, code)
		require.NoError(t, chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`input[name="code"]`), code),
			chromedp.Click(chromedp.CSS(`button[type="submit"]:not([name])`)),
		))

		got := shop.wait(t, s, o.ID, "/return")
		require.Equal(t, o.ID, got.Get("orderId"))
		require.Equal(t, "7", got.Get("cart"), "the merchant's own parameters are kept")
		require.Equal(t, shop.URL+"/return?cart=7&orderId="+o.ID, run(t, ctx, chromedp.Location()))

		paid := s.get(o.ID)
		require.Equal(t, order.StatusApproved, paid.Status, "action code %d", paid.ActionCode)
		require.Equal(t, "02", paid.ThreeDS.ECI)
		require.Equal(t, "555555******5599", paid.Card.Masked)
		require.Equal(t, "MASTERCARD TEST", paid.Card.Holder)
	})

	t.Run("frictionless card, one-stage", func(t *testing.T) {
		o := s.register(orderSpec{lang: "en", returnURL: shop.URL + "/return", failURL: shop.URL + "/fail"})
		openForm(t, ctx, s, o)
		typeCard(t, ctx, frictionless, "VISA", "VISA TEST")
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("pay"))))

		got := shop.wait(t, s, o.ID, "/return")
		require.Equal(t, o.ID, got.Get("orderId"))
		paid := s.get(o.ID)
		require.Equal(t, order.StatusDeposited, paid.Status, "action code %d", paid.ActionCode)
		require.Equal(t, "05", paid.ThreeDS.ECI)
	})

	// Both buyers saw the result page on their way back.
	require.GreaterOrEqual(t, s.counter("tulpar_hpp_page_views_total", "page", "result"), 2.0)
}

// TestBrowserBrandBadges types a card of every brand routing knows into the
// page in real Chromium: the script names each as routing.BrandOf does, from
// the table the server put in the form, and refuses, as the server does, a
// card number no brand claims.
func TestBrowserBrandBadges(t *testing.T) {
	s := newStack(t)
	ctx := newChrome(t)
	openForm(t, ctx, s, s.register(orderSpec{lang: "en"}))

	for _, b := range routing.Brands() {
		require.True(t, slices.ContainsFunc(brandCards, func(c brandCard) bool { return c.brand == b }),
			"routing knows %s: give the page a badge for it and this test a card", b)
	}
	for _, c := range brandCards {
		t.Run(c.brand, func(t *testing.T) {
			require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("pan"), ""), chromedp.SendKeys(chromedp.ID("pan"), c.pan)))
			require.Equal(t, c.badge, run(t, ctx, chromedp.Text(chromedp.ID("brand"))))
			require.Equal(t, "brand "+c.brand, run(t, ctx, chromedp.Evaluate[string](`document.getElementById('brand').className`)))
			require.Empty(t, run(t, ctx, chromedp.Text(chromedp.ID("pan-err"))))
		})
	}
	t.Run("no brand", func(t *testing.T) {
		require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("pan"), ""), chromedp.SendKeys(chromedp.ID("pan"), "9000000000000001")))
		require.Empty(t, run(t, ctx, chromedp.Text(chromedp.ID("brand"))))
		require.Equal(t, "Cards of this payment system are not accepted.", run(t, ctx, chromedp.Text(chromedp.ID("pan-err"))))
	})
}

// brandCard is a card of each brand and the badge the page shows for it.
type brandCard struct{ brand, pan, badge string }

var brandCards = []brandCard{
	{routing.BrandVisa, "4111111111111111", "VISA"},
	{routing.BrandMastercard, "2221000000000009", "Mastercard"},
	{routing.BrandMir, "2200000000000004", "МИР"},
	{routing.BrandAmex, "378282246310005", "AMEX"},
	{routing.BrandUnionPay, "6200000000000000000", "UnionPay"},
	{routing.BrandJCB, "3530111333300000", "JCB"},
	{routing.BrandDiscover, "6440000000000005", "Discover"},
	{routing.BrandDiners, "36000000000008", "Diners Club"},
}

// openForm opens the order's page on a phone-sized screen and checks what
// the buyer sees before typing.
func openForm(t *testing.T, ctx context.Context, s *stack, o *order.Order) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(360, 740, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(s.URL()+"/pay/"+o.ID),
		chromedp.WaitVisible(chromedp.ID("pan")),
	))
	require.Equal(t, amountKZT, run(t, ctx, chromedp.Text(chromedp.ID("amount"))))
	require.Equal(t, merchantName, run(t, ctx, chromedp.Text(chromedp.ID("merchant"))))
	require.Equal(t, description, run(t, ctx, chromedp.Text(chromedp.ID("description"))))
	// Works on a phone: nothing wider than the screen, and the stylesheet
	// was allowed by the page's CSP (the pay button has its colour).
	require.True(t, run(t, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)),
		"the page scrolls sideways at 360 px")
	require.Equal(t, "rgb(30, 125, 50)", run(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById('pay')).backgroundColor`)))
}

// typeCard types a card key by key, checking that the page's script
// formats it and recognises the brand as it goes.
func typeCard(t *testing.T, ctx context.Context, pan, brand, holder string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("pan"), pan),
		chromedp.SendKeys(chromedp.ID("expiry"), "1230"), // the simulated bank's cards expire 12/30
		chromedp.SendKeys(chromedp.ID("cvv2"), testCVV),
		chromedp.SendKeys(chromedp.ID("holder"), holder),
		chromedp.SendKeys(chromedp.ID("email"), "buyer@example.kz"),
	))
	require.Equal(t, spaced(pan), run(t, ctx, chromedp.Value(chromedp.ID("pan"))))
	require.Equal(t, brand, run(t, ctx, chromedp.Text(chromedp.ID("brand"))))
	require.Equal(t, "12/30", run(t, ctx, chromedp.Value(chromedp.ID("expiry"))))
	require.Empty(t, run(t, ctx, chromedp.Text(chromedp.ID("pan-err"))))
}

func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err)
	return v
}

// newChrome starts the harness's headless Chromium on a phone-sized
// window; it is closed when the test ends.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	ctx := switchtest.NewChrome(t, chromedp.WindowSize(360, 740))
	require.NoError(t, chromedp.Do(ctx), "starting Chromium")
	return ctx
}

// shop is the merchant's site: it records where buyers come back to.
type shop struct {
	*httptest.Server
	visits chan *url.URL
}

func newShop(t *testing.T) *shop {
	s := &shop{visits: make(chan *url.URL, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		s.visits <- r.URL
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><title>Shop</title><h1 id="thanks">Thank you</h1>`)
	}))
	t.Cleanup(s.Close)
	return s
}

// wait returns the query of the next visit, which must be to path; when
// it is not, the order's operations say why.
func (s *shop) wait(t *testing.T, st *stack, orderID, path string) url.Values {
	t.Helper()
	select {
	case u := <-s.visits:
		if u.Path != path {
			o := st.get(orderID)
			t.Fatalf("the buyer came back to %s, not %s: order status %d, action code %d, reason %q, operations %+v",
				u.Path, path, o.Status, o.ActionCode, o.DeclineReason, o.Ops)
		}
		return u.Query()
	case <-time.After(30 * time.Second):
		t.Fatalf("the browser never came back to the shop's %s", path)
		return nil
	}
}
