package cnp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestStartRefusals: a startTransaction the guide's rules refuse answers
// success=false with an English errorDescription naming the field, and
// creates nothing.
func TestStartRefusals(t *testing.T) {
	w := newWorld(t)
	ret := w.shop + "/result"
	set := func(k, v string) tx { d := basic(1000, ret); d[k] = v; return d }
	drop := func(k string) tx { d := basic(1000, ret); delete(d, k); return d }
	for _, tc := range []struct {
		name string
		d    tx
		want string
	}{
		{"no merchantId", drop("merchantId"), "merchantId: required"},
		{"no amount", drop("totalAmount"), "totalAmount: required"},
		{"decimal amount", set("totalAmount", "1000.00"), "totalAmount: a whole number of minor units"},
		{"negative amount", set("totalAmount", "-5"), "totalAmount: a whole number"},
		{"zero amount", set("totalAmount", "0"), "totalAmount: must be more than 0"},
		{"leading zero", set("totalAmount", "0100"), "totalAmount: must not start with 0"},
		{"huge amount", set("totalAmount", "10000000000001"), "totalAmount: at most"},
		{"no currency", drop("currencyCode"), "currencyCode: required"},
		{"currency not enabled", set("currencyCode", "840"), "currencyCode: 840 is not enabled for this merchant, enabled: 398"},
		{"no language", drop("languageCode"), "languageCode: required, supported: ru, kz, en"},
		{"unsupported language", set("languageCode", "de"), "languageCode: not supported, supported: ru, kz, en"},
		{"no local time", drop("merchantLocalDateTime"), "merchantLocalDateTime: required"},
		{"ISO local time", set("merchantLocalDateTime", "2012-02-01T18:34:58"), "merchantLocalDateTime: not dd.mm.yyyy hh24:mi:ss"},
		{"no order id", drop("orderId"), "orderId: required"},
		{"long order id", set("orderId", strings.Repeat("1", 65)), "orderId: 1 to 64"},
		{"no return URL", drop("returnURL"), "returnURL: required"},
		{"relative return URL", set("returnURL", "/result"), "returnURL: must be an absolute http or https URL"},
		{"javascript return URL", set("returnURL", "javascript:alert(1)"), "returnURL: must be an absolute"},
		{"return URL elsewhere", set("returnURL", "https://evil.example.com/r"), "returnURL: the host is not one of the return hosts of this merchant"},
		{"bad reference", set("customerReference", "AB-12"), "customerReference: 1 to 12 latin letters, digits or spaces"},
		{"long reference", set("customerReference", "ABCDEFGHIJKLM"), "customerReference: 1 to 12 latin letters, digits or spaces"},
		{"unknown terminal", set("terminalID", "NOPE"), "terminalID: not a terminal of this merchant"},
		{"no goods", set("goodsList", ""), "goodsList: at least one item is required"},
		{"nil goods", set("goodsList", `<ns2:goodsList xsi:nil="true"/>`), "goodsList: at least one item is required"},
		{"goods without a name", set("goodsList", goods("", "X", "100", "398")), "goodsList.1.nameOfGoods: required"},
		{"goods name too long", set("goodsList", goods(strings.Repeat("я", 256), "X", "100", "398")), "goodsList.1.nameOfGoods: at most 255 characters"},
		{"goods id too long", set("goodsList", goods("a", strings.Repeat("x", 257), "100", "398")), "goodsList.1.merchantsGoodsID: at most 256"},
		{"goods amount", set("goodsList", goods("a", "", "1.5", "398")+goods("b", "", "x", "398")), "goodsList.1.amount: a whole number"},
		{"goods currency", set("goodsList", "<ns2:goodsList>"+bean("amount", "1")+bean("nameOfGoods", "a")+"</ns2:goodsList>"), "goodsList.1.currencyCode: required"},
		{"info key too long", set("merchantAdditionalInformationList", `<ns2:merchantAdditionalInformationList>`+bean("key", strings.Repeat("k", 41))+`</ns2:merchantAdditionalInformationList>`), "merchantAdditionalInformationList.1.key: at most 40"},
		{"info value too long", set("merchantAdditionalInformationList", `<ns2:merchantAdditionalInformationList>`+bean("value", strings.Repeat("v", 4001))+`</ns2:merchantAdditionalInformationList>`), "merchantAdditionalInformationList.1.value: at most 4000"},
		{"purchaser name too long", set("purchaserName", strings.Repeat("N", 256)), "purchaserName: at most 255"},
		{"purchaser phone too long", set("purchaserPhone", strings.Repeat("1", 256)), "purchaserPhone: at most 255"},
		{"purchaser e-mail", set("purchaserEmail", "not an address"), "purchaserEmail: not an e-mail address"},
		{"unknown card", set("cardId", "nope"), "cardId: no card is registered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := countOrders(t, w)
			require.Contains(t, w.startFails(tc.d), tc.want)
			require.Equal(t, before, countOrders(t, w), "nothing created")
		})
	}
	t.Run("no transaction at all", func(t *testing.T) {
		r := w.call("startTransaction", `<ns1:transaction xsi:nil="true"/>`)
		require.Equal(t, "false", r.value(t, "success"))
		require.Equal(t, "transaction: required", r.value(t, "errorDescription"))
	})
}

// TestPrivateReturnURLs: without return_hosts, a returnURL must name a
// public host (the switch calls it itself).
func TestPrivateReturnURLs(t *testing.T) {
	w := newWorld(t, func(c *daemon.Config) { c.CNP.Merchants[0].ReturnHosts = nil })
	for _, u := range []string{"http://127.0.0.1:8080/r", "http://localhost/r", "http://10.1.2.3/r", "http://[::1]/r", "http://169.254.169.254/latest"} {
		require.Contains(t, w.startFails(basic(1000, u)), "returnURL: must name a public host", u)
	}
	w.start(basic(1000, "https://shop.example.kz/result"))
}

// TestReferences: a reference the shop chooses is kept (spaces and all), a
// repeat of the same request answers the same (a retry after a lost
// answer), another request with it is refused; the reference is appended
// to a returnURL ending with "=" whether the shop chose it or not; the
// shop's orderId need not be unique.
func TestReferences(t *testing.T) {
	w := newWorld(t)
	d := basic(2500, w.shop+"/index.php?route=payment/success&orderID=42&sessionID=")
	d["customerReference"] = "AB 123"
	ref, id, redirect := w.start(d)
	require.Equal(t, "AB 123", ref)
	require.Equal(t, w.shop+"/index.php?route=payment/success&orderID=42&sessionID=AB+123", w.Order(id).ReturnURL)
	ref2, id2, redirect2 := w.start(d)
	require.Equal(t, []string{ref, id, redirect}, []string{ref2, id2, redirect2}, "the same request again: the same answer")
	d["totalAmount"] = "2600"
	require.Contains(t, w.startFails(d), "customerReference: already used by another transaction")

	again := basic(2500, w.shop+"/result") // orderId 42 again
	ref3, id3, _ := w.start(again)
	require.NotEqual(t, ref, ref3)
	require.NotEqual(t, id, id3)
	require.Equal(t, "PENDING_CUSTOMER_INPUT", w.statusOf("AB 123"))
}

// TestKazakhAndCyrillic: languageCode kz shows the hosted page in Kazakh;
// Cyrillic goods, names and additional information come back as sent.
func TestKazakhAndCyrillic(t *testing.T) {
	w := newWorld(t)
	d := basic(990000, w.shop+"/result")
	d["languageCode"] = "kz"
	d["description"] = "Тапсырыс №7: шәй"
	d["purchaserName"] = "Әлия Сәрсенбаева"
	d["goodsList"] = goods("Қымыз, 1 л", "QMZ", "990000", "398")
	ref, id, redirect := w.start(d)
	require.Equal(t, "kk", w.Order(id).Language)
	page := newBuyer(t).page(redirect)
	require.Contains(t, page, `<html lang="kk">`)
	require.Contains(t, page, "Карта нөмірі")
	require.Contains(t, page, "Қымыз, 1 л")
	require.Contains(t, page, "Тапсырыс №7: шәй")
	newBuyer(t).pay(redirect, switchtest.Visa)
	r := w.status(mid, ref)
	require.Equal(t, "Қымыз, 1 л", r.ret().find("goods", "nameOfGoods").Text)
}

// TestPHPMultiReference: PHP's SoapClient writes the same object put twice
// into goodsList as id/href multi-references; they are resolved.
func TestPHPMultiReference(t *testing.T) {
	w := newWorld(t)
	d := basic(2000, w.shop+"/result")
	d["goodsList"] = `<ns2:goodsList id="ref1">` + bean("amount", "1000") + bean("currencyCode", "398") + bean("nameOfGoods", "Pen") +
		`</ns2:goodsList><ns2:goodsList href="#ref1"/>`
	ref, id, redirect := w.start(d)
	require.Len(t, w.Order(id).Cart, 2)
	require.Equal(t, "Pen", w.Order(id).Cart[1].Name)
	newBuyer(t).pay(redirect, switchtest.Visa)
	require.Len(t, w.status(mid, ref).ret().all("goods"), 2)
}

// TestAutoSettlement: an Auto Settlement merchant's transaction is PAID at
// authorization; settling it again is done already, a smaller amount or a
// reversal is not what a settled payment takes.
func TestAutoSettlement(t *testing.T) {
	w := newWorld(t, func(c *daemon.Config) { c.CNP.Merchants[0].AutoSettlement = true })
	before := w.Account(switchtest.Visa)
	ref, id, redirect := w.start(basic(4200, w.shop+"/result"))
	require.False(t, w.Order(id).TwoStage)
	newBuyer(t).pay(redirect, switchtest.Visa)
	r := w.status(mid, ref)
	require.Equal(t, "PAID", r.value(t, "transactionStatus"))
	require.Equal(t, "4200", r.value(t, "amountSettled"))
	require.True(t, w.complete(ref, true, ""))
	require.True(t, w.complete(ref, true, "4200"))
	require.False(t, w.complete(ref, true, "4000"))
	require.False(t, w.complete(ref, false, ""))
	require.True(t, w.refund(ref, "4200"))
	require.Equal(t, "REFUNDED", w.statusOf(ref))
	w.Books(switchtest.Visa, before)
}

// TestCompleteTransactionEx: the goods the shop ships replace the goods it
// sold; transactionSuccess is required; refunds can be switched off.
func TestCompleteTransactionEx(t *testing.T) {
	w := newWorld(t, func(c *daemon.Config) { c.CNP.Merchants[0].Refunds = false })
	d := basic(3000, w.shop+"/result")
	d["goodsList"] = goods("Pen", "P", "1000", "398") + goods("Ink", "I", "2000", "398")
	ref, id, redirect := w.start(d)
	newBuyer(t).pay(redirect, switchtest.Visa)
	exBody := func(success string) string {
		return el("merchantId", mid) + el("referenceNr", ref) + success + el("overrideAmount", "1000") +
			`<ns1:goods>` + bean("amount", "1000") + bean("currencyCode", "398") + bean("merchantsGoodsID", "P") + bean("nameOfGoods", "Pen") + `</ns1:goods>`
	}
	r := w.call("completeTransactionEx", exBody(""))
	require.Equal(t, "false", r.ret().Text, "transactionSuccess is required")
	r = w.call("completeTransactionEx", exBody(el("transactionSuccess", "true")))
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, "true", r.ret().Text, r.body)
	st := w.status(mid, ref)
	require.Equal(t, "PAID", st.value(t, "transactionStatus"))
	require.Len(t, st.ret().all("goods"), 1)
	require.Equal(t, "Pen", w.Order(id).Cart[0].Name)
	require.False(t, w.refund(ref, "100"), "refunds are off for this merchant")
}
