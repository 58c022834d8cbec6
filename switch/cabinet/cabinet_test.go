package cabinet_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
	"github.com/tulpar-switch/tulpar/switch/users"
)

// TestCabinetOverHTTP walks the cabinet as a plain HTTP client would: the
// lock after wrong passwords, what each role may see and do, CSRF, a refund
// asked twice with one form, exports and reports scoped to the merchant.
func TestCabinetOverHTTP(t *testing.T) {
	s := newStack(t)
	mine := s.paid(switchtest.Merchant, 150_000, false)
	held := s.paid(switchtest.Merchant, 70_000, true)
	theirs := s.paid(Rival, 990_000, false)

	t.Run("three wrong passwords lock, the fourth try says for how long", func(t *testing.T) {
		c := s.client()
		for i := 1; i <= 2; i++ {
			p := c.login(viewerLogin, "wrong password")
			require.Equal(t, http.StatusUnauthorized, p.status)
			require.Contains(t, p.body, "Wrong login or password.")
		}
		p := c.login(viewerLogin, "wrong password")
		require.Equal(t, http.StatusForbidden, p.status)
		require.Contains(t, p.body, "The account is locked for 30 min.")
		p = c.login(viewerLogin, password)
		require.Equal(t, http.StatusForbidden, p.status, "locked: even the right password")
		require.Regexp(t, `Try again in (29|30) min`, p.body)

		op, token := s.signedIn(operatorLogin)
		users := op.get("/admin/users")
		require.Contains(t, users.body, `id="unlock-viewer@shop.kz"`)
		require.Equal(t, http.StatusSeeOther, op.post("/admin/users/viewer@shop.kz/unlock", url.Values{"csrf": {token}}).status)
		require.Equal(t, http.StatusSeeOther, c.login(viewerLogin, password).status, "unlocked by the operator")
		audit := op.get("/admin/audit?login=viewer%40shop.kz&lang=en")
		for _, ev := range []string{"Sign-in failed", "Locked", "Sign-in refused: locked", "Unlocked", "Signed in"} {
			require.Contains(t, audit.body, ev)
		}
	})

	t.Run("a guesser elsewhere does not keep the user out", func(t *testing.T) {
		owner, _ := s.signedIn(merchantLogin)
		guesser := s.clientFrom("127.0.0.2")
		for range 2 {
			require.Equal(t, http.StatusUnauthorized, guesser.login(merchantLogin, "wrong password").status)
		}
		p := guesser.login(merchantLogin, "wrong password")
		require.Equal(t, http.StatusForbidden, p.status)
		require.Contains(t, p.body, "The account is locked for 30 min.")
		require.Equal(t, http.StatusForbidden, guesser.login(merchantLogin, password).status, "locked for the guesser's network")

		require.Equal(t, http.StatusOK, owner.get("/orders").status, "the owner's session goes on")
		require.Equal(t, http.StatusSeeOther, s.client().login(merchantLogin, password).status,
			"and the owner's network signs in")
		op, token := s.signedIn(operatorLogin)
		require.Regexp(t, `Locked until [^<]*, except from the user&#39;s own networks`, op.get("/admin/users?lang=en").body)
		require.Equal(t, http.StatusSeeOther, op.post("/admin/users/"+url.PathEscape(merchantLogin)+"/unlock", url.Values{"csrf": {token}}).status)
	})

	t.Run("a merchant's user sees only its orders", func(t *testing.T) {
		c, _ := s.signedIn(merchantLogin)
		list := c.get("/orders?lang=en")
		require.Contains(t, list.body, mine.Number)
		require.NotContains(t, list.body, theirs.Number)
		require.NotContains(t, c.get("/orders?merchant=rival").body, theirs.Number, "the URL cannot widen the scope")
		p := c.get("/orders/" + theirs.ID)
		require.Equal(t, http.StatusNotFound, p.status, "by URL: as if it did not exist")
		require.NotContains(t, p.body, theirs.Number)
		exp := c.get("/orders/export.csv?from=&to=&merchant=rival")
		require.Equal(t, http.StatusOK, exp.status)
		require.Contains(t, exp.body, mine.Number)
		require.NotContains(t, exp.body, theirs.Number, "by export")
		rep := c.get("/reports?merchant=rival&period=month&lang=en")
		require.Contains(t, rep.body, `<strong id="count-total">2</strong>`, "by report: its own two orders only")
		require.Contains(t, c.get("/orders/"+mine.ID+"?tab=history&lang=en").body, "0200")

		r, _ := s.signedIn(rivalLogin)
		require.Equal(t, http.StatusNotFound, r.get("/orders/"+mine.ID).status)
		op, _ := s.signedIn(operatorLogin)
		all := op.get("/orders?lang=en")
		require.Contains(t, all.body, mine.Number, "the operator sees every merchant")
		require.Contains(t, all.body, theirs.Number)
	})

	t.Run("forms need the session's token and the cabinet's origin", func(t *testing.T) {
		c, token := s.signedIn(merchantLogin)
		form := url.Values{"csrf": {"forged"}, "key": {"k1"}, "amount": {"10"}, "confirm": {"1"}}
		require.Equal(t, http.StatusForbidden, c.post("/orders/"+mine.ID+"/refund", form).status)
		req, err := http.NewRequest(http.MethodPost, c.base+"/orders/"+mine.ID+"/refund",
			strings.NewReader(url.Values{"csrf": {token}, "key": {"k1"}, "amount": {"10"}, "confirm": {"1"}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		require.Equal(t, http.StatusForbidden, c.do(req).status, "another site's form")
		require.Zero(t, s.Order(mine.ID).Refunded)
		anon := s.client()
		require.Equal(t, http.StatusSeeOther, anon.get("/orders").status, "no session: to the sign-in")

		v, vtoken := s.signedIn(viewerLogin)
		p := v.post("/orders/"+mine.ID+"/refund", url.Values{"csrf": {vtoken}, "key": {"k2"}, "amount": {"10"}, "confirm": {"1"}})
		require.Equal(t, http.StatusForbidden, p.status, "a viewer does not act")
		require.NotContains(t, v.get("/orders/"+mine.ID).body, `id="form-refund"`)
		require.Zero(t, s.Order(mine.ID).Refunded)
	})

	t.Run("a refund confirmed twice with one form is one refund", func(t *testing.T) {
		before := s.Account(switchtest.Visa)
		c, _ := s.signedIn(merchantLogin)
		detail := c.get("/orders/" + mine.ID + "?lang=en")
		key := regexp.MustCompile(`id="form-refund">\s*<input type="hidden" name="csrf" value="([^"]+)"><input type="hidden" name="key" value="([^"]+)">`).FindStringSubmatch(detail.body)
		require.NotNil(t, key, detail.body)
		ask := c.post("/orders/"+mine.ID+"/refund", url.Values{"csrf": {key[1]}, "key": {key[2]}, "amount": {"400.00"}})
		require.Equal(t, http.StatusOK, ask.status)
		require.Contains(t, ask.body, "Refund of 400.00")
		require.Zero(t, s.Order(mine.ID).Refunded, "asking is not doing")
		confirm := url.Values{"csrf": {key[1]}, "key": {key[2]}, "amount": {"400.00"}, "confirm": {"1"}}
		var wg sync.WaitGroup
		results := make([]page, 3)
		for i := range results {
			wg.Go(func() { results[i] = c.post("/orders/"+mine.ID+"/refund", confirm) })
		}
		wg.Wait()
		for _, r := range results {
			require.Equal(t, http.StatusSeeOther, r.status)
			require.Contains(t, r.header.Get("Location"), "r=ok%3Arefund%3A40000")
		}
		o := s.Order(mine.ID)
		require.Equal(t, int64(40_000), o.Refunded)
		refunds := 0
		for _, op := range o.Ops {
			if op.Type == order.OpRefund {
				refunds++
			}
		}
		require.Equal(t, 1, refunds, "three clicks, one refund")
		require.Equal(t, int64(40_000), s.Account(switchtest.Visa).Refunded-before.Refunded, "the bank refunded once")
		hist := c.get("/orders/" + mine.ID + "?tab=history&r=ok%3Arefund%3A40000&lang=en")
		require.Contains(t, hist.body, "Done: Refund, 400.00")
		require.Contains(t, hist.body, `data-mti="0210"`)

		op, _ := s.signedIn(operatorLogin)
		require.Contains(t, op.get("/admin/audit?kind=refund").body, "(replay of the same form)")
	})

	t.Run("complete part of a hold", func(t *testing.T) {
		c, token := s.signedIn(merchantLogin)
		p := c.post("/orders/"+held.ID+"/complete", url.Values{"csrf": {token}, "key": {"complete-1"}, "amount": {"500"}, "confirm": {"1"}})
		require.Equal(t, http.StatusSeeOther, p.status)
		require.Contains(t, p.header.Get("Location"), "r=ok")
		require.Equal(t, order.StatusDeposited, s.Order(held.ID).Status)
		require.Equal(t, int64(50_000), s.Order(held.ID).Deposited)
		p = c.post("/orders/"+held.ID+"/refund", url.Values{"csrf": {token}, "key": {"refund-big"}, "amount": {"600"}, "confirm": {"1"}})
		require.Contains(t, p.header.Get("Location"), "r=amount%3A50000", "no refund above the capture")
	})

	t.Run("exports of the filtered register", func(t *testing.T) {
		c, _ := s.signedIn(merchantLogin)
		p := c.get("/orders/export.csv?lang=en&status=deposited")
		require.Equal(t, http.StatusOK, p.status)
		require.Equal(t, "text/csv; charset=utf-8", p.header.Get("Content-Type"))
		recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(p.body, "\ufeff"))).ReadAll()
		require.NoError(t, err)
		require.Equal(t, []string{"Order number", "RRN", "Amount", "Commission", "Payment instrument", "Registration date", "Card number",
			"Order description", "Status", "Refund amount"}, recs[0])
		require.Len(t, recs, 3, "header and the two deposited orders")
		x := c.get("/orders/export.xlsx?status=deposited")
		require.Equal(t, http.StatusOK, x.status)
		require.True(t, bytes.HasPrefix([]byte(x.body), []byte("PK")), "a zip: an xlsx workbook")
	})

	t.Run("settings: the callback URL and return hosts are the merchant's", func(t *testing.T) {
		hits := make(chan url.Values, 16)
		shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits <- r.URL.Query() }))
		defer shop.Close()
		c, token := s.signedIn(merchantLogin)
		page := c.get("/settings?lang=en")
		require.Contains(t, page.body, "callbacks to this URL go unsigned", "no secret configured for the test merchant")
		p := c.post("/settings/integration", url.Values{"csrf": {token}, "callback_url": {shop.URL + "/cb"}, "return_hosts": {"shop.example.kz\n*.shop.example.kz"}})
		require.Equal(t, http.StatusSeeOther, p.status, p.body)
		o := s.paid(switchtest.Merchant, 5_000, false)
		select {
		case q := <-hits:
			require.Equal(t, o.ID, q.Get("mdOrder"), "the callback goes where the merchant said")
		case <-time.After(20 * time.Second):
			t.Fatal("no callback at the merchant's URL")
		}
		ans, err := s.RBS("register", url.Values{"orderNumber": {"evil-1"}, "amount": {"100"}, "returnUrl": {"https://evil.example/ok"}}, 0)
		require.NoError(t, err)
		require.NotEqual(t, "0", ans["errorCode"], "a return URL to another host is refused: %v", ans)
		s.Register("fine-1", 100, false)
		v, vt := s.signedIn(viewerLogin)
		require.Equal(t, http.StatusForbidden, v.post("/settings/integration", url.Values{"csrf": {vt}, "callback_url": {""}}).status)
	})

	t.Run("a temporary password must be changed first", func(t *testing.T) {
		op, token := s.signedIn(operatorLogin)
		p := op.post("/admin/users", url.Values{"csrf": {token}, "login": {"new@shop.kz"}, "role": {"merchant"}, "merchant": {switchtest.Merchant}})
		require.Equal(t, http.StatusOK, p.status)
		m := regexp.MustCompile(`Temporary password of new@shop.kz: (\w+)`).FindStringSubmatch(op.get("/admin/users?lang=en").body + p.body)
		require.NotNil(t, m, p.body)
		c := s.client()
		require.Equal(t, "/password", c.login("new@shop.kz", m[1]).header.Get("Location"))
		require.Equal(t, "/password", c.get("/orders").header.Get("Location"), "nothing else before")
		form := c.get("/password?lang=en")
		require.Contains(t, form.body, "Your password is temporary")
		ch := c.post("/password", url.Values{"csrf": {csrf(t, form.body)}, "current": {m[1]}, "new": {"my own good pass"}, "new2": {"my own good pass"}})
		require.Equal(t, http.StatusSeeOther, ch.status, ch.body)
		require.Equal(t, http.StatusOK, c.get("/orders").status)
		u, err := s.D.Users().Get("new@shop.kz")
		require.NoError(t, err)
		require.False(t, u.MustChange)
		require.Equal(t, users.RoleMerchant, u.Role)
	})
}

// One address guessing across many logins is stopped by the guard
// (switch/authguard) before any account's own lock: its failures are
// limited whatever the login, and the page says for how long.
func TestSignInLimitedPerAddress(t *testing.T) {
	s := newStack(t)
	c := s.client()
	refused := 0
	// The limit refills at 20 a minute while the loop runs, so the count
	// it stops at is at least the burst, not exactly it.
	for i := 0; i < 100 && refused == 0; i++ {
		p := c.login(fmt.Sprintf("guess-%d@shop.kz", i), "wrong password")
		switch p.status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			refused = i
			require.Contains(t, p.body, "Too many wrong passwords from your address.")
			require.NotEmpty(t, p.header.Get("Retry-After"))
		default:
			t.Fatalf("attempt %d: status %d", i, p.status)
		}
	}
	require.GreaterOrEqual(t, refused, 20, "the guard's default burst of failures per address")
	p := c.login(merchantLogin, password)
	require.Equal(t, http.StatusTooManyRequests, p.status, "even the right password, from that address, for now")
}
