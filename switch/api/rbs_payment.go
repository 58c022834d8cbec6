package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// paymentorder.do answers with a numeric errorCode, as that gateway's
// server-to-server payment does.
func (c *call) poAnswer(code int, msg string, extra map[string]any) {
	ans := map[string]any{"errorCode": code}
	if msg != "" {
		ans["errorMessage"], ans["error"] = msg, msg
	}
	for k, v := range extra {
		ans[k] = v
	}
	c.rbsAnswer(ans)
	if code != 0 {
		c.code = strconv.Itoa(code)
	}
}

func (c *call) poFail(e *rbsError) { c.rbsAnswer(e) }

func (c *call) rbsPaymentOrder() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	if !c.merchant.AllowCardEntry {
		c.poFail(rbsErr(rbsWrong, tAccess))
		return
	}
	yyyy, mm := form.Get("YYYY"), form.Get("MM")
	_, langOK := normLanguage(form.Get("language"))
	for _, p := range []string{"MDORDER", "$PAN", "$CVC", "YYYY", "MM"} {
		if form.Get(p) == "" {
			c.poFail(empty(rbsMissing, p))
			return
		}
	}
	switch {
	case len(yyyy) != 4 || !strings.HasPrefix(yyyy, "20") || !isDigits(yyyy):
		c.poFail(invalid("YYYY", l(rCardYear)))
		return
	case len(mm) != 2 || !isDigits(mm):
		c.poFail(invalid("MM", l(rCardYear)))
		return
	case !validText(form.Get("TEXT"), 64):
		c.poFail(invalid("TEXT", l(rMaxChars, 64)))
		return
	case !langOK:
		c.poFail(invalid("language", l(rLanguage)))
		return
	case form.Get("email") != "" && !validEmail(form.Get("email")):
		c.poFail(invalid("email", l(rEmail)))
		return
	}
	ctx := c.r.Context()
	id := form.Get("MDORDER")
	c.orderID = id
	ip := form.Get("ip")
	if ip == "" {
		ip = clientip.Host(c.r)
	}
	termURL := c.s.formURL(id) + "/3ds"
	reply := c.reply(func(n *order.Order, ch *threeds.Outcome) (int, []byte) {
		b, _ := json.Marshal(poResult(n, ch, termURL))
		return http.StatusOK, b
	})
	keep, e := boolParam(form, "bindingNotNeeded")
	if e != nil {
		c.poFail(e)
		return
	}
	// A merchant that sends card data with an order of a clientId creates
	// a binding unless it says bindingNotNeeded, as the gateway does: the
	// buyer's consent is the merchant's to collect.
	res, err := c.s.svc.Pay(ctx, payments.PayRequest{
		OrderID: id, Merchant: c.merchant.Merchant,
		Card:  payments.CardInput{PAN: form.Get("$PAN"), Expiry: yyyy[2:] + mm, CVV2: form.Get("$CVC"), Holder: form.Get("TEXT")},
		Email: form.Get("email"), IP: ip, NotificationURL: termURL, Reply: reply, KeepCard: !keep,
	})
	if c.took(res) {
		return
	}
	if err != nil {
		c.payFailed(id, err)
		return
	}
	// A replay: the order's payment was decided by an earlier request.
	c.rbsAnswer(poResult(res.Order, res.Challenge, termURL))
}

// payFailed answers a payment (paymentorder.do, paymentOrderBinding.do)
// that could not be considered: an expired order says so with its action
// code; card data errors (ErrCard) never quote card data.
func (c *call) payFailed(id string, err error) {
	if errors.Is(err, order.ErrTransition) {
		if o, gerr := c.s.svc.Get(c.r.Context(), id); gerr == nil && o.Status == order.StatusDeclined && o.ActionCode == order.ActionExpired {
			c.poAnswer(7, rbsErr(rbsSystemError, tOrderExpired).message(c.lang), map[string]any{"actionCode": order.ActionExpired})
			return
		}
	}
	c.poFail(c.rbsFail(err, rbsErr(rbsWrong, tAmountBad)))
}

// poResult is paymentorder.do's answer to a payment that went through:
// where to send the buyer (the ACS for a challenge, else the merchant's
// return or fail URL).
func poResult(n *order.Order, ch *threeds.Outcome, termURL string) map[string]any {
	const info = "Your order is proceeded, redirecting..."
	ans := map[string]any{"errorCode": 0}
	if ch != nil {
		ans["acsUrl"], ans["termUrl"], ans["info"] = ch.ChallengeURL, termURL, info
		for form, ours := range map[string]string{"PaReq": "paReq", "MD": "md", "creq": "creq", "threeDSSessionData": "threeDSSessionData"} {
			if v, ok := ch.ChallengeForm[form]; ok {
				ans[ours] = v
			}
		}
		return ans
	}
	target := n.ReturnURL
	ans["info"] = info
	if n.AttemptDeclined() {
		if n.FailURL != "" {
			target = n.FailURL
		}
		ans["error"] = order.ActionText(n.ActionCode, n.Language)
	}
	ans["redirect"] = withOrderID(target, n.ID)
	return ans
}

func withOrderID(u, id string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "orderId=" + url.QueryEscape(id)
}
