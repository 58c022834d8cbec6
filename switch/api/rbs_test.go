package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// manyParams is a jsonParams object of n parameters.
func manyParams(n int) string {
	p := map[string]string{}
	for i := range n {
		p[fmt.Sprintf("p%02d", i)] = "v"
	}
	b, _ := json.Marshal(p)
	return string(b)
}

func register(t *testing.T, h *harness, method, number string, amount string) string {
	t.Helper()
	out := h.rbs(method, credsA("orderNumber", number, "amount", amount, "returnUrl", "https://shop-a.example.kz/ok",
		"failUrl", "https://shop-a.example.kz/fail", "language", "kk", "description", "Кітаптар",
		"jsonParams", `{"CMS":"Opencart 2.1.x","Module-Version":"2.2.0"}`))
	require.NotEmpty(t, out["orderId"], out)
	require.Equal(t, "https://pay.tulpar.test/pay/"+out["orderId"].(string), out["formUrl"])
	return out["orderId"].(string)
}

func payOrder(t *testing.T, h *harness, id, pan string) map[string]any {
	t.Helper()
	return h.rbs("paymentorder", credsA("MDORDER", id, "$PAN", pan, "$CVC", cardCVV, "YYYY", "2030", "MM", "12",
		"TEXT", "TEST CARDHOLDER", "language", "ru", "ip", "10.1.2.3"))
}

func status(t *testing.T, h *harness, id string) map[string]any {
	t.Helper()
	out := h.rbs("getOrderStatusExtended", credsA("orderId", id))
	require.Equal(t, "0", out["errorCode"], out)
	return out
}

// TestRBSTwoStagePartialDepositTwoRefunds runs a two-stage payment with a
// partial deposit and two refunds, one of them retried.
func TestRBSTwoStagePartialDepositTwoRefunds(t *testing.T) {
	h := newHarness(t)
	id := register(t, h, "registerPreAuth", "rbs-2stage-1", "100000")

	st := status(t, h, id)
	require.EqualValues(t, 0, st["orderStatus"])
	require.Equal(t, "CREATED", st["paymentAmountInfo"].(map[string]any)["paymentState"])

	paid := payOrder(t, h, id, cardOK)
	require.EqualValues(t, 0, paid["errorCode"], paid)
	require.Equal(t, "https://shop-a.example.kz/ok?orderId="+id, paid["redirect"])

	st = status(t, h, id)
	require.EqualValues(t, 1, st["orderStatus"])
	require.EqualValues(t, 0, st["actionCode"])
	require.Equal(t, "Сұраныс сәтті өңделді", st["actionCodeDescription"], "text in the order's language")
	card := st["cardAuthInfo"].(map[string]any)
	require.Equal(t, "411111**1111", card["maskedPan"])
	require.Equal(t, "203012", card["expiration"])
	require.Equal(t, "TEST CARDHOLDER", card["cardholderName"])
	require.Equal(t, "VISA", card["paymentSystem"])
	require.NotEmpty(t, card["approvalCode"])
	require.EqualValues(t, 7, card["secureAuthInfo"].(map[string]any)["eci"])
	require.Len(t, st["authRefNum"], 12)
	require.Equal(t, "TLPT0001", st["terminalId"])
	require.Equal(t, "10.1.2.3", st["ip"])
	require.Contains(t, st["merchantOrderParams"], map[string]any{"name": "CMS", "value": "Opencart 2.1.x"})
	require.Equal(t, []any{map[string]any{"name": "mdOrder", "value": id}}, st["attributes"])

	// No language parameter: the gateway's Russian.
	require.Equal(t, map[string]any{"errorCode": "5", "errorMessage": "Сумма списания превышает одобренную сумму"},
		h.rbs("deposit", credsA("orderId", id, "amount", "100001")))
	require.Equal(t, map[string]any{"errorCode": "0", "errorMessage": "Успешно"}, h.rbs("deposit", credsA("orderId", id, "amount", "80000")))
	// A retried deposit is answered, not refused, and captures nothing more.
	require.Equal(t, "0", h.rbs("deposit", credsA("orderId", id, "amount", "80000"))["errorCode"])

	refund := func(amount, ext, expected string) map[string]any {
		f := credsA("orderId", id, "amount", amount)
		if ext != "" {
			f.Set("externalRefundId", ext)
		}
		if expected != "" {
			f.Set("expectedDepositedAmount", expected)
		}
		return h.rbs("refund", f)
	}
	require.Equal(t, "0", refund("30000", "r-1", "80000")["errorCode"])
	require.Equal(t, "0", refund("30000", "r-1", "80000")["errorCode"], "same externalRefundId: the first answer")
	require.Equal(t, map[string]any{"errorCode": "7", "errorMessage": "Списанная сумма не совпадает с expectedDepositedAmount"},
		refund("10000", "r-2", "80000"), "a parallel refund already took 30000")
	require.Equal(t, map[string]any{"errorCode": "7", "errorMessage": "Сумма возврата превышает списанную сумму"}, refund("50001", "", ""))
	require.Equal(t, "0", refund("20000", "r-2", "50000")["errorCode"])

	st = status(t, h, id)
	require.EqualValues(t, 2, st["orderStatus"])
	pai := st["paymentAmountInfo"].(map[string]any)
	require.Equal(t, map[string]any{"paymentState": "DEPOSITED", "approvedAmount": 100000.0, "depositedAmount": 80000.0, "refundedAmount": 50000.0, "feeAmount": 0.0}, pai)
	refunds := st["refunds"].([]any)
	require.Len(t, refunds, 2)
	require.Equal(t, "r-1", refunds[0].(map[string]any)["externalRefundId"])
	require.EqualValues(t, 30000, refunds[0].(map[string]any)["amount"])
	require.Len(t, refunds[1].(map[string]any)["referenceNumber"], 12)

	o, err := h.svc.Get(context.Background(), id)
	require.NoError(t, err)
	var completions, refundOps int
	for _, op := range o.Ops {
		switch op.Type {
		case order.OpCompletion:
			completions++
		case order.OpRefund:
			refundOps++
		}
	}
	require.Equal(t, 1, completions)
	require.Equal(t, 2, refundOps)

	// The older status call, with its capitalised names.
	old := h.rbs("getOrderStatus", credsA("orderId", id))
	require.Equal(t, "0", old["ErrorCode"])
	require.EqualValues(t, 2, old["OrderStatus"])
	require.Equal(t, "411111**1111", old["Pan"])
	require.EqualValues(t, 80000, old["depositAmount"])
	require.EqualValues(t, 2, old["authCode"])
}

func TestRBSOneStageReverseDecline(t *testing.T) {
	h := newHarness(t)
	// Reverse once: the retry answers success, the order stays reversed.
	id := register(t, h, "registerPreAuth", "rbs-rev-1", "5000")
	require.EqualValues(t, 0, payOrder(t, h, id, cardOK)["errorCode"])
	require.Equal(t, "0", h.rbs("reverse", credsA("orderId", id))["errorCode"])
	require.Equal(t, "0", h.rbs("reverse", credsA("orderId", id))["errorCode"])
	require.EqualValues(t, 3, status(t, h, id)["orderStatus"])
	require.Equal(t, map[string]any{"errorCode": "7", "errorMessage": "Платёж должен быть в корректном состоянии"},
		h.rbs("deposit", credsA("orderId", id, "amount", "0")))

	// One-stage: deposited at once; reverse is the wrong state, refund works.
	id2 := register(t, h, "register", "rbs-one-1", "7000")
	require.EqualValues(t, 0, payOrder(t, h, id2, cardOK)["errorCode"])
	require.EqualValues(t, 2, status(t, h, id2)["orderStatus"])
	require.Equal(t, "7", h.rbs("reverse", credsA("orderId", id2))["errorCode"])
	require.Equal(t, "0", h.rbs("refund", credsA("orderId", id2, "amount", "7000"))["errorCode"])
	require.EqualValues(t, 4, status(t, h, id2)["orderStatus"])

	// Decline by order number; then payment is refused.
	id3 := register(t, h, "register", "rbs-decl-1", "1000")
	require.Equal(t, "0", h.rbs("decline", credsA("orderNumber", "rbs-decl-1", "merchantLogin", userA))["errorCode"])
	require.Equal(t, "0", h.rbs("decline", credsA("orderId", id3))["errorCode"], "declining again answers the same")
	require.EqualValues(t, 6, status(t, h, id3)["orderStatus"])
	require.EqualValues(t, 7, payOrder(t, h, id3, cardOK)["errorCode"])
	require.Equal(t, "7", h.rbs("decline", credsA("orderId", id2))["errorCode"], "a paid order cannot be declined")

	// A bank decline: paymentorder.do redirects to failUrl, status says why.
	id4 := register(t, h, "register", "rbs-low-1", "500000")
	out := payOrder(t, h, id4, cardLow)
	require.EqualValues(t, 0, out["errorCode"])
	require.Equal(t, "https://shop-a.example.kz/fail?orderId="+id4, out["redirect"])
	st := status(t, h, id4)
	require.EqualValues(t, 6, st["orderStatus"])
	require.EqualValues(t, order.ActionFunds, st["actionCode"])
	require.Equal(t, "Қаражат жеткіліксіз", st["actionCodeDescription"])
	require.Equal(t, "Insufficient funds", h.rbs("getOrderStatusExtended", credsA("orderId", id4, "language", "en"))["actionCodeDescription"])
}

func TestRBSExpiredOrder(t *testing.T) {
	h := newHarness(t)
	id := register(t, h, "register", "rbs-exp-1", "1000")
	h.Advance(21 * time.Minute)
	st := status(t, h, id)
	require.EqualValues(t, 6, st["orderStatus"])
	require.EqualValues(t, -2007, st["actionCode"])
	require.Equal(t, "Төлем уақыты өтті", st["actionCodeDescription"])
	out := payOrder(t, h, id, cardOK)
	require.EqualValues(t, 7, out["errorCode"])
	require.EqualValues(t, -2007, out["actionCode"])
}

func TestRBSIdempotentRegister(t *testing.T) {
	h := newHarness(t)
	id := register(t, h, "register", "rbs-idem-1", "1000")
	require.Equal(t, id, register(t, h, "register", "rbs-idem-1", "1000"), "a retried registration answers the first order")
	require.Equal(t, map[string]any{"errorCode": "1", "errorMessage": "Заказ с таким номером уже обработан"},
		h.rbs("register", credsA("orderNumber", "rbs-idem-1", "amount", "2000", "returnUrl", "https://shop-a.example.kz/ok")))
	require.EqualValues(t, 0, payOrder(t, h, id, cardOK)["errorCode"])
	require.Equal(t, "1", h.rbs("register", credsA("orderNumber", "rbs-idem-1", "amount", "1000", "returnUrl", "https://shop-a.example.kz/ok",
		"failUrl", "https://shop-a.example.kz/fail"))["errorCode"], "a paid order's number is taken")
	// The token authenticates as well as the password.
	out := h.rbs("getOrderStatusExtended", url.Values{"token": {tokenA}, "orderNumber": {"rbs-idem-1"}})
	require.EqualValues(t, 2, out["orderStatus"])
}

// TestRBSMalformed: each malformed request gets the gateway's code and
// message, and nothing changes.
func TestRBSMalformed(t *testing.T) {
	h := newHarness(t)
	paid := register(t, h, "register", "rbs-bad-paid", "1000")
	require.EqualValues(t, 0, payOrder(t, h, paid, cardOK)["errorCode"])
	open := register(t, h, "registerPreAuth", "rbs-bad-open", "1000")
	reg := func(kv ...string) url.Values {
		base := []string{"orderNumber", "rbs-bad-new", "amount", "1000", "returnUrl", "https://shop-a.example.kz/ok"}
		f := credsA(base...)
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "-" {
				f.Del(kv[i])
			} else {
				f.Set(kv[i], kv[i+1])
			}
		}
		return f
	}
	cases := []struct {
		name, method string
		form         url.Values
		code, msg    string
	}{
		{"no orderNumber", "register", reg("orderNumber", "-"), "1", "Order number can not be empty"},
		{"duplicate number", "register", reg("orderNumber", "rbs-bad-paid"), "1", "Order number is duplicated, order with given order number is processed already"},
		{"no amount", "register", reg("amount", "-"), "4", "Amount can not be empty"},
		{"negative amount", "register", reg("amount", "-5"), "5", "Invalid amount"},
		{"zero amount", "register", reg("amount", "0"), "5", "Invalid amount"},
		{"decimal amount", "register", reg("amount", "10.50"), "5", "Invalid amount"},
		{"huge amount", "register", reg("amount", "1000000000001"), "5", "Invalid amount"},
		{"unknown currency", "register", reg("currency", "999"), "3", "Currency is unknown"},
		{"alpha currency", "register", reg("currency", "KZT"), "3", "Currency is unknown"},
		{"no returnUrl", "register", reg("returnUrl", "-"), "4", "Return URL can not be empty"},
		{"relative returnUrl", "register", reg("returnUrl", "/ok"), "5", "Invalid returnUrl: must be an absolute http(s) URL of at most 512 characters"},
		{"javascript returnUrl", "register", reg("returnUrl", "javascript:alert(1)"), "5", "Invalid returnUrl: must be an absolute http(s) URL of at most 512 characters"},
		{"bad failUrl", "register", reg("failUrl", "ftp://x"), "5", "Invalid failUrl: must be an absolute http(s) URL of at most 512 characters"},
		{"long returnUrl", "register", reg("returnUrl", "https://shop-a.example.kz/"+strings.Repeat("a", 490)), "5", "Invalid returnUrl: must be an absolute http(s) URL of at most 512 characters"},
		{"bad language", "register", reg("language", "de"), "5", "Неверное значение параметра language: ru, kk (kz) или en"},
		{"bad jsonParams", "register", reg("jsonParams", "[1]"), "5", "Invalid jsonParams: must be a JSON object"},
		{"too many jsonParams", "register", reg("jsonParams", manyParams(51)), "5", "Invalid jsonParams: at most 50 parameters"},
		{"long jsonParams value", "register", reg("jsonParams", `{"note":"`+strings.Repeat("x", 1025)+`"}`), "5", `Invalid jsonParams: value of "note": at most 1024 printable characters`},
		{"bad session timeout", "register", reg("sessionTimeoutSecs", "-1"), "5", "Invalid sessionTimeoutSecs: a whole number of seconds, 1 to 2592000"},
		{"past expirationDate", "register", reg("expirationDate", "2001-01-01T00:00:00"), "5", "Invalid expirationDate: yyyy-MM-ddTHH:mm:ss (UTC+5), within the next 30 days"},
		{"bad email", "register", reg("email", "not-an-email"), "5", "Invalid email: not an e-mail address"},
		{"bad phone", "register", reg("phone", "call me"), "5", "Invalid phone: not a phone number (+7 701 123 45 67, 8 701 123-45-67...)"},
		{"long description", "register", reg("description", strings.Repeat("д", 599)), "5", "Invalid description: at most 598 printable characters"},
		{"long clientId", "register", reg("clientId", strings.Repeat("c", 256)), "5", "Invalid clientId: at most 255 printable characters"},
		{"no userName", "register", reg("userName", "-"), "4", "User name can not be empty"},
		{"no password", "register", reg("password", "-"), "4", "Password can not be empty"},
		{"wrong password", "register", reg("password", "wrong"), "5", "Access denied"},
		{"unknown user", "register", reg("userName", "nobody"), "5", "Access denied"},
		{"wrong token", "getOrderStatusExtended", url.Values{"token": {"nope"}, "orderId": {paid}}, "5", "Access denied"},
		{"api key is not a token", "getOrderStatusExtended", url.Values{"token": {keyA}, "orderId": {paid}}, "5", "Access denied"},
		{"other merchant's order", "getOrderStatusExtended", url.Values{"userName": {userB}, "password": {passB}, "orderId": {paid}}, "6", "Order ID is not registered"},
		{"unknown order", "getOrderStatusExtended", credsA("orderId", "00000000-0000-0000-0000-000000000000"), "6", "Order ID is not registered"},
		{"no order id", "deposit", credsA("amount", "0"), "4", "Order ID can not be empty"},
		{"deposit unknown order", "deposit", credsA("orderId", "nope", "amount", "0"), "6", "Order ID is not registered"},
		{"deposit bad amount", "deposit", credsA("orderId", open, "amount", "x"), "5", "Invalid amount"},
		{"deposit unpaid order", "deposit", credsA("orderId", open, "amount", "0"), "7", "Payment must be in the correct state"},
		{"deposit one-stage order", "deposit", credsA("orderId", paid, "amount", "0"), "7", "Payment must be in the correct state"},
		{"reverse unpaid order", "reverse", credsA("orderId", open), "7", "Payment must be in the correct state"},
		{"refund unpaid order", "refund", credsA("orderId", open, "amount", "1"), "7", "Payment must be in the correct state"},
		{"refund too much", "refund", credsA("orderId", paid, "amount", "1001"), "7", "Refund amount exceeds the deposited amount"},
		{"refund no amount", "refund", credsA("orderId", paid), "4", "Amount can not be empty"},
		{"decline paid order", "decline", credsA("orderId", paid), "7", "Payment must be in the correct state"},
		{"decline other login", "decline", credsA("orderNumber", "rbs-bad-open", "merchantLogin", userB), "5", "Access denied: merchantLogin must be your own login"},
		{"refund other login", "refund", credsA("orderId", paid, "amount", "1", "merchantLogin", userB), "5", "Access denied: merchantLogin must be your own login"},
		{"unknown order number", "deposit", credsA("orderNumber", "no-such-number", "amount", "0"), "6", "Order number is not registered"},
		{"number and id disagree", "reverse", credsA("orderNumber", "rbs-bad-paid", "orderId", open), "5", "Invalid orderNumber: names another order than orderId"},
		{"repeated parameter", "deposit", func() url.Values { f := credsA("orderId", open, "amount", "0"); f.Add("amount", "1"); return f }(), "5", "Parameter amount is given more than once"},
	}
	before := h.snapshot()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !c.form.Has("language") {
				c.form.Set("language", "en")
			}
			require.Equal(t, map[string]any{"errorCode": c.code, "errorMessage": c.msg}, h.rbs(c.method, c.form))
		})
	}
	require.Equal(t, before, h.snapshot(), "malformed requests changed an order")

	// paymentorder.do: a merchant without card entry is refused.
	out := h.rbs("paymentorder", url.Values{"userName": {userB}, "password": {passB}, "MDORDER": {open}, "$PAN": {cardOK},
		"$CVC": {cardCVV}, "YYYY": {"2030"}, "MM": {"12"}, "language": {"en"}})
	require.EqualValues(t, 5, out["errorCode"])
	require.Equal(t, "Access denied", out["errorMessage"])
	out = payOrder(t, h, open, "4111111111111112")
	require.EqualValues(t, 5, out["errorCode"])
	require.Equal(t, "Неверное значение параметра card data: pan: fails the Luhn check", out["errorMessage"], "paymentorder's language ru")
	require.Equal(t, before, h.snapshot())

	// GET is refused for card entry: card data never in a URL.
	resp, err := http.Get(h.URL() + "/payment/rest/paymentorder.do?MDORDER=" + open)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// TestRBSJournal: every request and answer is journaled, without card
// data or credentials.
func TestRBSJournal(t *testing.T) {
	h := newHarness(t)
	id := register(t, h, "register", "rbs-journal-1", "1000")
	require.EqualValues(t, 0, payOrder(t, h, id, cardOK)["errorCode"])
	h.rbs("getOrderStatusExtended", credsA("orderId", id))
	h.rbs("deposit", credsA("orderId", "nope", "amount", "0"))

	var in, out int
	require.NoError(t, h.D.Journal().Iterate(1, func(e journal.Entry) error {
		p := string(e.Payload)
		require.NotContains(t, p, cardOK)
		require.NotContains(t, p, passA)
		require.NotContains(t, p, `"$CVC"`)
		if e.Channel == order.ChannelAPI {
			if e.Direction == journal.In {
				in++
			} else {
				out++
			}
			if strings.Contains(p, "paymentorder") && e.Direction == journal.In {
				require.Contains(t, p, "411111******1111")
				require.Equal(t, id, e.OrderID)
			}
		}
		return nil
	}))
	require.Equal(t, 4, in)
	require.Equal(t, 4, out)
}

// Guessing over HTTP: after five wrong passwords the user name is locked
// and the answer says for how long (RBS form, Retry-After); guessing API
// keys from one address runs out of tries the same way (429).
//
// A refused sign-in writes nothing to the journal: a flood of guesses
// must not become a flood of journal writes for merchants to queue behind.
func TestGuessingIsLockedOut(t *testing.T) {
	h := newHarness(t)
	before, err := h.D.Journal().Count()
	require.NoError(t, err)
	for range 5 {
		ans := h.rbs("getOrderStatusExtended", url.Values{"userName": {userA}, "password": {"guess"}, "orderId": {"x"}})
		require.Equal(t, "5", ans["errorCode"])
	}
	ans := h.rbs("getOrderStatusExtended", credsA("orderId", "x"))
	require.Equal(t, "5", ans["errorCode"], "locked: the right password is refused too")
	require.Contains(t, ans["errorMessage"], "слишком много неудачных попыток входа; повторите через")
	ans = h.rbs("getOrderStatusExtended", credsA("orderId", "x", "language", "en"))
	require.Contains(t, ans["errorMessage"], "too many failed sign-ins; retry in")

	var last v1Resp
	for range 30 {
		last = h.v1(http.MethodGet, "/v1/orders/x", "sk_guess", "", nil)
		if last.Status == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusUnauthorized, last.Status)
	}
	require.Equal(t, http.StatusTooManyRequests, last.Status, "the address ran out of tries")
	require.NotEmpty(t, last.Header.Get("Retry-After"))
	require.Equal(t, "too_many_attempts", errObj(last)["code"])
	after, err := h.D.Journal().Count()
	require.NoError(t, err)
	require.Equal(t, before, after, "refused sign-ins are not journaled")
}

// TestLockSparesTheShopsAddress: a shop's user name locked by a guesser
// still signs in from an address it signed in from before, also when its
// password was taken from the recent-sign-in cache there, and nowhere
// else.
func TestLockSparesTheShopsAddress(t *testing.T) {
	h := newHarness(t)
	at := func(local string) func(url.Values) map[string]any {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
		hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
		return func(form url.Values) map[string]any {
			resp, err := hc.PostForm(h.URL()+"/payment/rest/getOrderStatusExtended.do", form)
			require.NoError(t, err)
			defer resp.Body.Close()
			var out map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			return out
		}
	}
	first, second, guesser := at("127.0.0.2"), at("127.0.0.3"), at("127.0.0.4")
	unknownOrder := "6"                                                         // signed in: the order is what is wrong
	require.Equal(t, unknownOrder, first(credsA("orderId", "x"))["errorCode"])  // checked, then cached
	require.Equal(t, unknownOrder, second(credsA("orderId", "x"))["errorCode"]) // from the cache
	for range 5 {
		require.Equal(t, "5", guesser(url.Values{"userName": {userA}, "password": {"guess"}, "orderId": {"x"}})["errorCode"])
	}
	require.Equal(t, "5", guesser(credsA("orderId", "x"))["errorCode"], "locked for the guesser")
	require.Equal(t, "5", at("127.0.0.5")(credsA("orderId", "x"))["errorCode"], "and for any new address")
	require.Equal(t, unknownOrder, first(credsA("orderId", "x"))["errorCode"])
	require.Equal(t, unknownOrder, second(credsA("orderId", "x"))["errorCode"])
}
