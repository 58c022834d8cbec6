package cabinet_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/paylinks"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestPaymentLinksInCabinet: a merchant's user makes a payment link and
// an invoice in the cabinet, sees them listed with their state and
// switches one off (its page then answers 410); a bad amount is refused
// naming the field; a viewer may not, and another merchant's user can
// neither see nor switch off the link. The audit log has both actions.
func TestPaymentLinksInCabinet(t *testing.T) {
	s := newStack(t)
	c, tok := s.signedIn(merchantLogin)
	p := c.get("/links?lang=en")
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, `id="nav-links"`)
	require.Contains(t, p.body, "No links yet.")

	bad := c.post("/links?lang=en", url.Values{"csrf": {tok}, "amount": {"12,3,4"}, "description": {"Chairs"}})
	require.Equal(t, http.StatusBadRequest, bad.status)
	require.Contains(t, bad.body, "Check the field: Amount (empty: the buyer chooses)")
	require.Contains(t, bad.body, `value="Chairs"`, "what was typed is kept")
	bad = c.post("/links?lang=en", url.Values{"csrf": {tok}, "min_amount": {"500"}, "max_amount": {"100"}})
	require.Contains(t, bad.body, "Check the field: Most amount")

	made := c.post("/links?lang=en", url.Values{"csrf": {tok}, "amount": {"1 500,50"}, "description": {"Coffee beans"}, "language": {"kk"}})
	require.Equal(t, http.StatusSeeOther, made.status, made.body)
	code := strings.TrimPrefix(made.header.Get("Location"), "/links?created=")
	require.Len(t, code, paylinks.CodeLength)
	made = c.post("/links?lang=en", url.Values{"csrf": {tok}, "amount": {"20000"}, "one_time": {"on"}, "email": {"buyer@example.kz"},
		"name": {"Aigerim"}, "two_stage": {"on"}, "expires": {"2099-12-31T18:00"}, "language": {"en"}})
	require.Equal(t, http.StatusSeeOther, made.status, made.body)
	invoice := strings.TrimPrefix(made.header.Get("Location"), "/links?created=")

	p = c.get("/links?lang=en&created=" + code)
	require.Contains(t, p.body, "Link created: "+s.URL()+"/l/"+code)
	require.Contains(t, p.body, `id="link-`+code+`"`)
	require.Contains(t, p.body, `id="link-`+invoice+`"`)
	require.Regexp(t, regexp.MustCompile(`id="link-`+invoice+`".*31\.12\.2099 18:00`), p.body, "the deadline in the merchant's time")
	l, err := s.D.PaymentLinks().Get(switchtest.Merchant, code)
	require.NoError(t, err)
	require.EqualValues(t, 150050, l.Amount)
	require.Equal(t, "kk", l.Language)
	inv, err := s.D.PaymentLinks().Get(switchtest.Merchant, invoice)
	require.NoError(t, err)
	require.True(t, inv.OneTime && inv.TwoStage)
	require.Equal(t, "buyer@example.kz", inv.Email)

	// Another merchant's user neither sees nor switches it off; a viewer
	// has no links page.
	r, rtok := s.signedIn(rivalLogin)
	require.NotContains(t, r.get("/links?lang=en").body, code)
	require.Equal(t, http.StatusNotFound, r.post("/links/"+code+"/disable?lang=en", url.Values{"csrf": {rtok}}).status)
	v, _ := s.signedIn(viewerLogin)
	require.Equal(t, http.StatusForbidden, v.get("/links?lang=en").status)

	off := c.post("/links/"+code+"/disable?lang=en", url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, off.status, off.body)
	p = c.get("/links?lang=en&done=disabled")
	require.Contains(t, p.body, "Link switched off.")
	require.NotContains(t, p.body, `id="disable-`+code+`"`)
	resp, err := http.Get(s.URL() + "/l/" + code)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusGone, resp.StatusCode)
	op, _ := s.signedIn(operatorLogin)
	audit := op.get("/admin/audit?lang=en").body
	require.Contains(t, audit, "Payment link created")
	require.Contains(t, audit, "Payment link switched off")
}
