package cabinet_test

import (
	"io"
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

// TestPaymentLinkWithGoodsAndQuestions: the form's lines of goods make
// the link's cart (empty lines skipped, no amount: the goods' total) and
// its questions the buyer's custom fields (no key: keyed by the line); a
// refused line is named by its number, with what was typed kept.
func TestPaymentLinkWithGoodsAndQuestions(t *testing.T) {
	s := newStack(t)
	c, tok := s.signedIn(merchantLogin)
	form := func(kv ...string) url.Values {
		v := url.Values{"csrf": {tok}, "one_time": {"on"}, "description": {"Invoice 17"},
			"cart_name_1": {"Chair"}, "cart_qty_1": {"4"}, "cart_price_1": {"12 500"},
			"cart_name_3": {"Delivery"}, "cart_price_3": {"3000,50"},
			"field_key_1": {"contract"}, "field_label_1": {"Contract number"}, "field_required_1": {"on"},
			"field_label_2": {"Floor"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	bad := c.post("/links?lang=en", form("cart_qty_3", "two"))
	require.Equal(t, http.StatusBadRequest, bad.status)
	require.Contains(t, bad.body, "Check the field: Goods, line 3: quantity")
	require.Contains(t, bad.body, `value="two"`, "what was typed is kept")
	require.Contains(t, bad.body, `id="l-field-required-1" name="field_required_1" aria-label="Question 1: required" checked`)
	bad = c.post("/links?lang=en", form("cart_qty_3", "0"))
	require.Contains(t, bad.body, "Check the field: Goods, line 3: quantity", "refused by the link's own rules, named by the form's line")
	bad = c.post("/links?lang=en", url.Values{"csrf": {tok}, "cart_name_2": {"Chair"}, "cart_qty_2": {"0"}, "cart_price_2": {"100"}})
	require.Contains(t, bad.body, "Check the field: Goods, line 2: quantity", "the line, not the total it would make")
	bad = c.post("/links?lang=en", url.Values{"csrf": {tok}, "cart_name_1": {"Yacht"}, "cart_qty_1": {"1000000"}, "cart_price_1": {"999999999"}})
	require.Contains(t, bad.body, "Check the field: Goods (for the receipt)", "a total too large is the goods', the amount was not typed")
	bad = c.post("/links?lang=en", form("amount", "100"))
	require.Contains(t, bad.body, "Check the field: Goods (for the receipt)", "an amount that is not the goods' total")
	bad = c.post("/links?lang=en", form("field_key_1", "Contract No"))
	require.Contains(t, bad.body, "Check the field: Question 1: key")
	bad = c.post("/links?lang=ru", form("cart_price_1", "abc"))
	require.Contains(t, bad.body, "Проверьте поле: Товары, строка 1: цена")

	made := c.post("/links?lang=en", form())
	require.Equal(t, http.StatusSeeOther, made.status, made.body)
	code := strings.TrimPrefix(made.header.Get("Location"), "/links?created=")
	l, err := s.D.PaymentLinks().Get(switchtest.Merchant, code)
	require.NoError(t, err)
	require.EqualValues(t, 4*1_250_000+300_050, l.Amount, "the goods' total")
	require.Len(t, l.Cart, 2)
	require.Equal(t, "Chair", l.Cart[0].Name)
	require.EqualValues(t, 4, l.Cart[0].Quantity)
	require.EqualValues(t, 1_250_000, l.Cart[0].Price)
	require.Equal(t, "Delivery", l.Cart[1].Name)
	require.EqualValues(t, 1, l.Cart[1].Quantity, "no quantity: one")
	require.Equal(t, []paylinks.Field{{Name: "contract", Label: "Contract number", Required: true}, {Name: "question_2", Label: "Floor"}}, l.Fields)

	resp, err := http.Get(s.URL() + "/l/" + code + "?lang=en")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(body), "Contract number", "the buyer is asked")
	require.Contains(t, string(body), "Chair")
}
