package cnp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// statusMembers is StoredTransactionStatus in WSDL order: an answer's
// members must be a subsequence of it, nothing else.
var statusMembers = []string{"additionalInformation", "amountAuthorised", "amountRefunded", "amountRequested", "amountSettled",
	"authCode", "goods", "merchantLocalDateTime", "merchantOnlineAddress", "orderId", "purchaserEmail", "purchaserName",
	"purchaserPhone", "transactionCurrencyCode", "transactionStatus"}

// inWSDLOrder requires names to be members of want, in want's order
// (lists repeat).
func inWSDLOrder(t *testing.T, names, want []string) {
	t.Helper()
	i := 0
	for _, n := range names {
		for i < len(want) && want[i] != n {
			i++
		}
		require.Less(t, i, len(want), "%s is not a member, or out of the WSDL's order, in %v", n, names)
	}
}

// TestPurchaseLifecycle walks a transaction through every status the guide
// gives a paid one, over real HTTP: start (PENDING_CUSTOMER_INPUT), the
// buyer pays on the hosted page (AUTHORISED), a capture of less than the
// hold (PAID), two partial refunds (REFUNDED) and one too many; at the
// bank, the capture and refunds arrive as ISO 8583 messages and move the
// card's account by exactly those amounts.
func TestPurchaseLifecycle(t *testing.T) {
	w := newWorld(t)
	before := w.Account(switchtest.Visa)
	d := basic(150000, w.shop+"/result?sessionID=")
	d["merchantAdditionalInformationList"] = `<ns2:merchantAdditionalInformationList>` + bean("key", "channel") + bean("value", "web") +
		`</ns2:merchantAdditionalInformationList>`
	d["goodsList"] = goods("Чай казахстанский", "TEA-1", "100000", "398") + goods("Доставка", "", "50000", "398")
	ref, id, redirect := w.start(d)
	require.Regexp(t, `^TS[0-9A-Z]{10}$`, ref, "generated: the shop's prefix and ten letters or digits")
	require.Equal(t, w.URL()+"/pay/"+id, redirect)

	// Before the card: the status alone.
	r := w.status(mid, ref)
	require.Equal(t, []string{"transactionStatus"}, r.ret().names())
	require.Equal(t, "PENDING_CUSTOMER_INPUT", r.value(t, "transactionStatus"))
	o := w.Order(id)
	require.Equal(t, w.shop+"/result?sessionID="+ref, o.ReturnURL, "the reference appended to a returnURL ending with =")
	require.True(t, o.TwoStage)
	require.Equal(t, ref, o.Number)
	require.Equal(t, "42", o.Shop.OrderID)

	// The hosted page shows the goods, in the order's language.
	b := newBuyer(t)
	page := b.page(redirect)
	require.Contains(t, page, "Чай казахстанский")
	require.Contains(t, page, "Доставка")
	require.Contains(t, page, `lang="ru"`)
	loc := b.pay(redirect, switchtest.Visa)
	require.Contains(t, loc, "/pay/"+id+"/result")

	r = w.status(mid, ref)
	inWSDLOrder(t, r.ret().names(), statusMembers)
	require.Equal(t, "AUTHORISED", r.value(t, "transactionStatus"))
	require.Equal(t, "150000", r.value(t, "amountRequested"))
	require.Equal(t, "150000", r.value(t, "amountAuthorised"))
	require.Equal(t, "0", r.value(t, "amountSettled"))
	require.Equal(t, "0", r.value(t, "amountRefunded"))
	require.Len(t, r.value(t, "authCode"), 6)
	require.Equal(t, "398", r.value(t, "transactionCurrencyCode"))
	require.Equal(t, "42", r.value(t, "orderId"))
	require.Equal(t, "TEST BUYER", r.value(t, "purchaserName"), "the name typed on the page")
	require.Equal(t, "+7 701 000 0000", r.value(t, "purchaserPhone"))
	require.Equal(t, d["merchantLocalDateTime"], r.value(t, "merchantLocalDateTime"))
	require.Equal(t, "https://shop.example.kz/", r.value(t, "merchantOnlineAddress"))
	g := r.ret().all("goods")
	require.Len(t, g, 2)
	require.Equal(t, []string{"amount", "currencyCode", "merchantsGoodsID", "nameOfGoods"}, g[0].names())
	require.Equal(t, "Чай казахстанский", g[0].find("nameOfGoods").Text)
	require.Equal(t, "100000", g[0].find("amount").Text)
	require.Equal(t, []string{"amount", "currencyCode", "nameOfGoods"}, g[1].names())
	info := r.ret().all("additionalInformation")
	require.Len(t, info, 1)
	require.Equal(t, "channel", info[0].find("key").Text)
	require.Equal(t, "web", info[0].find("value").Text)
	require.Equal(t, int64(150000), w.Account(switchtest.Visa).Held-before.Held, "the bank holds the amount")

	ext := w.call("getExtendedTransactionStatus", el("merchantId", mid)+el("referenceNr", ref))
	require.Equal(t, []string{"cardIssuerCountry", "maskedCardNumber", "purchaserIpAddress", "verified3D"}, ext.ret().names())
	require.Equal(t, "411111******1111", ext.value(t, "maskedCardNumber"))
	require.Equal(t, "127.0.0.1", ext.value(t, "purchaserIpAddress"))
	require.Equal(t, "NO", ext.value(t, "verified3D"), "no 3-D Secure in this world")
	require.Equal(t, "UNKNOWN", ext.value(t, "cardIssuerCountry"))

	// Capture less than the hold: the bank captures that and releases
	// the rest.
	require.False(t, w.complete(ref, true, "150001"), "more than authorised")
	require.True(t, w.complete(ref, true, "120000"))
	require.True(t, w.complete(ref, true, "120000"), "the same capture again is a replay")
	require.False(t, w.complete(ref, true, "110000"), "only one settlement")
	r = w.status(mid, ref)
	require.Equal(t, "PAID", r.value(t, "transactionStatus"))
	require.Equal(t, "120000", r.value(t, "amountSettled"))
	require.Equal(t, "150000", r.value(t, "amountAuthorised"))
	w.SAFDrained()
	after := w.Account(switchtest.Visa)
	require.Equal(t, int64(120000), after.Captured-before.Captured, "the 0220 captured the override amount")
	require.Equal(t, before.Held, after.Held, "the rest of the hold released")

	// Two partial refunds, then one more than what is left.
	require.True(t, w.refund(ref, "20000"))
	require.Equal(t, "REFUNDED", w.statusOf(ref), "partially refunded is REFUNDED (guide 2.2.2.1)")
	require.True(t, w.refund(ref, "30000"))
	require.False(t, w.refund(ref, "70001"))
	r = w.status(mid, ref)
	require.Equal(t, "REFUNDED", r.value(t, "transactionStatus"))
	require.Equal(t, "50000", r.value(t, "amountRefunded"))
	require.Equal(t, "120000", r.value(t, "amountSettled"))
	require.Equal(t, int64(50000), w.Account(switchtest.Visa).Refunded-before.Refunded, "the bank refunded both")
	require.GreaterOrEqual(t, w.Bank.Received("0220"), 1)
	w.Books(switchtest.Visa, before)

	// The bank saw the capture and the refunds as ISO 8583, named by the
	// journal's ISO records.
	entries, err := w.D.Journal().ByOrder(id)
	require.NoError(t, err)
	var mtis []string
	for _, e := range entries {
		if e.Channel == switchtest.BankName && e.Direction == journal.Out {
			mtis = append(mtis, e.MTI)
		}
	}
	require.Equal(t, []string{iso.MTIAuthorization, iso.MTICompletionAdvice, iso.MTIFinancial, iso.MTIFinancial}, mtis[:4])
}

// TestSameOrderInEveryDialect: the order the Processing.kz dialect started
// is one order; RBS getOrderStatusExtended.do and the JSON API see the
// state getTransactionStatus reports.
func TestSameOrderInEveryDialect(t *testing.T) {
	w := newWorld(t)
	ref, id, redirect := w.start(basic(77700, w.shop+"/result"))
	newBuyer(t).pay(redirect, switchtest.Visa)
	require.True(t, w.complete(ref, true, "70000"))
	require.True(t, w.refund(ref, "700"))

	require.Equal(t, "REFUNDED", w.statusOf(ref))
	rbs, err := w.RBS("getOrderStatusExtended", url.Values{"orderId": {id}}, 0)
	require.NoError(t, err)
	require.Equal(t, "0", rbs["errorCode"])
	require.Equal(t, float64(order.StatusDeposited), rbs["orderStatus"], "RBS: deposited, part refunded")
	require.Equal(t, ref, rbs["orderNumber"])
	amounts := rbs["paymentAmountInfo"].(map[string]any)
	require.Equal(t, float64(70000), amounts["depositedAmount"])
	require.Equal(t, float64(700), amounts["refundedAmount"])
	require.Equal(t, float64(77700), amounts["approvedAmount"])

	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, w.URL()+"/v1/orders/"+id, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+w.Secrets.APIKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var v1 map[string]any
	require.NoError(t, json.Unmarshal(body, &v1), string(body))
	require.Equal(t, "deposited", v1["status"])
	require.Equal(t, ref, v1["order_number"])
	require.Equal(t, float64(70000), v1["captured_amount"])
	require.Equal(t, float64(700), v1["refunded_amount"])
	require.Equal(t, "manual", v1["capture"])
}

// TestReversal: completeTransaction false releases the hold (REVERSED,
// amountAuthorised 0), and says true again when asked again.
func TestReversal(t *testing.T) {
	w := newWorld(t)
	before := w.Account(switchtest.Visa)
	ref, _, redirect := w.start(basic(5000, w.shop+"/result"))
	newBuyer(t).pay(redirect, switchtest.Visa)
	require.Equal(t, int64(5000), w.Account(switchtest.Visa).Held-before.Held)
	require.True(t, w.complete(ref, false, ""))
	r := w.status(mid, ref)
	require.Equal(t, "REVERSED", r.value(t, "transactionStatus"))
	require.Equal(t, "0", r.value(t, "amountAuthorised"), "0 once reversed (guide 2.2.2)")
	require.Equal(t, "5000", r.value(t, "amountRequested"))
	require.True(t, w.complete(ref, false, ""), "a repeated reversal is a replay")
	require.False(t, w.complete(ref, true, ""), "a reversed hold cannot be settled")
	require.False(t, w.refund(ref, "100"), "nor refunded")
	require.Equal(t, before.Held, w.Account(switchtest.Visa).Held, "the bank released the hold")
	w.Books(switchtest.Visa, before)
}

// TestDeclined: a card the bank declines makes the transaction DECLINED;
// nothing can follow it.
func TestDeclined(t *testing.T) {
	w := newWorld(t)
	ref, _, redirect := w.start(basic(5000, w.shop+"/result"))
	newBuyer(t).pay(redirect, "4000000000000044") // lost card: 41
	r := w.status(mid, ref)
	require.Equal(t, "DECLINED", r.value(t, "transactionStatus"))
	require.Equal(t, "0", r.value(t, "amountAuthorised"))
	require.Nil(t, r.ret().find("authCode"))
	require.False(t, w.complete(ref, true, ""))
	require.False(t, w.complete(ref, false, ""))
	ext := w.call("getExtendedTransactionStatus", el("merchantId", mid)+el("referenceNr", ref))
	require.Equal(t, "400000******0044", ext.value(t, "maskedCardNumber"))
}

// TestNoTransactionToShow: the guide's status values for what is not
// there: an unknown reference, another merchant's, an unknown or missing
// merchantId, a disabled merchant; the extended status is nil for each,
// and before the card is entered; follow-ups answer false.
func TestNoTransactionToShow(t *testing.T) {
	w := newWorld(t, withOtherShops)
	ref, _, _ := w.start(basic(1000, w.shop+"/result"))
	otherRef, _, _ := w.start(withMID(basic(1000, w.shop+"/result"), otherMID))
	for _, tc := range []struct {
		name, mid, ref, status string
	}{
		{"unknown reference", mid, "NOSUCHREF001", "NO_SUCH_TRANSACTION"},
		{"empty reference", mid, "", "NO_SUCH_TRANSACTION"},
		{"another merchant's reference", mid, otherRef, "NO_SUCH_TRANSACTION"},
		{"the other merchant's own", otherMID, otherRef, "PENDING_CUSTOMER_INPUT"},
		{"unknown merchantId", "999999999999999", ref, "INVALID_MID"},
		{"no merchantId", "", ref, "INVALID_MID"},
		{"disabled merchant", disabledMID, "ANY", "MID_DISABLED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := w.status(tc.mid, tc.ref)
			require.Equal(t, []string{"transactionStatus"}, r.ret().names(), r.body)
			require.Equal(t, tc.status, r.value(t, "transactionStatus"))
			ext := w.call("getExtendedTransactionStatus", el("merchantId", tc.mid)+el("referenceNr", tc.ref))
			require.True(t, ext.ret().isNil(), ext.body)
			if tc.status != "PENDING_CUSTOMER_INPUT" {
				c := w.call("completeTransaction", el("merchantId", tc.mid)+el("referenceNr", tc.ref)+el("transactionSuccess", "false"))
				require.Equal(t, "false", c.ret().Text, c.body)
			}
		})
	}
	require.Contains(t, w.startFails(withMID(basic(1000, w.shop+"/r"), disabledMID)), "merchantId: the merchant is disabled")
	require.Contains(t, w.startFails(withMID(basic(1000, w.shop+"/r"), "999999999999999")), "merchantId: unknown merchant")
	require.Equal(t, "PENDING_CUSTOMER_INPUT", w.statusOf(ref), "none of it touched the shop's transaction")
}

// TestPendingAuthResult: while the bank has the authorization, the
// transaction is PENDING_AUTH_RESULT; a bank that never answers makes it
// DECLINED (and the switch reverses what it may have held).
func TestPendingAuthResult(t *testing.T) {
	w := newWorld(t)
	before := w.Account(switchtest.MC)
	w.Knobs(issuersim.Rule{PAN: switchtest.MC, Action: issuersim.ActionNoReply})
	ref, id, redirect := w.start(basic(6000, w.shop+"/result"))
	b := newBuyer(t)
	m := csrfRe.FindStringSubmatch(b.page(redirect))
	require.NotNil(t, m)
	paid := make(chan string, 1)
	go func() { // the buyer waits for the bank; the test looks meanwhile
		resp, err := b.hc.PostForm(redirect, url.Values{"csrf": {m[1]}, "pan": {switchtest.MC}, "expiry": {"12/30"}, "cvv2": {"123"}, "holder": {"TEST BUYER"}})
		if err != nil {
			paid <- err.Error()
			return
		}
		resp.Body.Close()
		paid <- resp.Status
	}()
	w.Eventually(func() bool { return w.Order(id).AtBank() }, "the authorization is at the bank")
	require.Equal(t, "PENDING_AUTH_RESULT", w.statusOf(ref))
	require.Equal(t, "303 See Other", <-paid)
	r := w.status(mid, ref)
	require.Equal(t, "DECLINED", r.value(t, "transactionStatus"), "no answer from the bank: declined")
	w.Knobs()
	w.Books(switchtest.MC, before)
}
