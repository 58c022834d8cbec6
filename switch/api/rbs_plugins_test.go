package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// What real shop plugins send, and what the gateway documents they get.

// openCartBundle is a cart as the bank's OpenCart module builds it:
// positionId a number, PHP's float arithmetic in the amounts, tax and
// itemAttributes on each line, delivery as a line of its own.
const openCartBundle = `{"orderCreationDate":"2026-12-01T10:00:00+05:00",` +
	`"customerDetails":{"email":"buyer@example.kz","phone":"87011234567"},` +
	`"cartItems":{"items":[` +
	`{"positionId":41,"name":"Кітап \"Абай жолы\"","quantity":{"value":2,"measure":"шт"},"itemAmount":100000,` +
	`"itemCode":"17_41","tax":{"taxType":0,"taxSum":0},"itemPrice":50000,` +
	`"itemAttributes":{"attributes":[{"name":"paymentMethod","value":1},{"name":"paymentObject","value":1}]}},` +
	`{"positionId":42,"name":"Алма","quantity":{"value":1.5,"measure":"кг"},"itemAmount":30000.0,` +
	`"itemCode":"9_42","itemPrice":20000},` +
	`{"positionId":43,"name":"Қалам","quantity":{"value":2,"measure":"шт"},"itemAmount":3997.9999999999995,` +
	`"itemCode":"5_43","itemPrice":1998.9999999999998},` +
	`{"positionId":"delivery","name":"Жеткізу","quantity":{"value":1,"measure":"шт"},"itemAmount":30000,` +
	`"itemCode":"flat.flat","tax":{"taxType":0,"taxSum":0},"itemPrice":30000}]}}`

// TestRBSOpenCartRegistration: the OpenCart module 2.7.2's register.do,
// nested jsonParams, a phone as the buyer typed it, Kazakh as kz, the
// gateway's full description length and its cart, is taken as sent and
// shown back by getOrderStatusExtended.do as the gateway documents it.
func TestRBSOpenCartRegistration(t *testing.T) {
	h := newHarness(t)
	description := strings.Repeat("Тапсырыс ", 65) + "1234567890123" // the gateway's 598 characters
	require.Equal(t, 598, len([]rune(description)))
	out := h.rbs("registerPreAuth", credsA("orderNumber", "1001_1764583200", "amount", "163998",
		"returnUrl", "https://shop-a.example.kz/index.php?route=extension/payment/rbs/callback",
		"failUrl", "https://shop-a.example.kz/index.php?route=checkout/failure",
		"language", "kz", "description", description, "phone", "+7 (701) 123-45-67", "clientId", "17",
		"jsonParams", `{"CMS":"Opencart 2.3.0.2","Module-Version":"2.7.2","customer":{"id":17,"group":"retail"},"items":3,"gift":false}`,
		"orderBundle", openCartBundle))
	id, _ := out["orderId"].(string)
	require.NotEmpty(t, id, out)

	o, err := h.svc.Get(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, "kk", o.Language)
	require.Equal(t, "+77011234567", o.Phone)
	require.Equal(t, description, o.Description)
	require.Equal(t, "buyer@example.kz", o.Email, "from the cart's customerDetails")
	require.Equal(t, map[string]string{"CMS": "Opencart 2.3.0.2", "Module-Version": "2.7.2",
		"customer": `{"id":17,"group":"retail"}`, "items": "3", "gift": "false"}, o.Params)
	require.Len(t, o.Cart, 4)
	require.Equal(t, order.CartItem{Name: "Алма", QuantityDecimal: "1.5", Measure: "кг", Price: 20000, Amount: 30000,
		PositionID: "42", Code: "9_42"}, o.Cart[1])
	require.Equal(t, order.CartItem{Name: "Қалам", Quantity: 2, Measure: "шт", Price: 1999, Amount: 3998,
		PositionID: "43", Code: "5_43"}, o.Cart[2], "PHP's 19.99 * 100 is 1999 tiyn")
	require.Equal(t, int64(2), o.Cart[0].Quantity)
	require.JSONEq(t, `{"itemAttributes":{"attributes":[{"name":"paymentMethod","value":1},{"name":"paymentObject","value":1}]}}`, o.Cart[0].Extra)

	require.EqualValues(t, 0, payOrder(t, h, id, cardOK)["errorCode"])
	st := h.rbs("getOrderStatusExtended", credsA("orderNumber", "1001_1764583200"))
	require.Equal(t, "0", st["errorCode"], st)
	require.Equal(t, "Успешно", st["errorMessage"], "no language: the gateway's Russian")
	require.Equal(t, "Сұраныс сәтті өңделді", st["actionCodeDescription"], "the order's language")
	require.Equal(t, "CARD", st["paymentWay"])
	binding := st["bindingInfo"].(map[string]any)
	require.Equal(t, "17", binding["clientId"])
	require.Len(t, binding["bindingId"], 36, "card data sent with a clientId's order keeps the card unless bindingNotNeeded")
	require.Contains(t, st["merchantOrderParams"], map[string]any{"name": "customer", "value": `{"id":17,"group":"retail"}`})
	card := st["cardAuthInfo"].(map[string]any)
	require.Equal(t, card["maskedPan"], card["pan"])
	require.Equal(t, false, card["chargeback"])
	require.Len(t, st["authRefNum"], 12)
	require.Equal(t, "TLPT0001", st["terminalId"])
	bundle := st["orderBundle"].(map[string]any)
	require.Equal(t, map[string]any{"email": "buyer@example.kz", "phone": "+77011234567"}, bundle["customerDetails"])
	items := bundle["cartItems"].(map[string]any)["items"].([]any)
	require.Len(t, items, 4)
	require.Equal(t, map[string]any{"positionId": "41", "name": `Кітап "Абай жолы"`, "quantity": map[string]any{"value": 2.0, "measure": "шт"},
		"itemAmount": 100000.0, "itemPrice": 50000.0, "itemCode": "17_41", "tax": map[string]any{"taxType": 0.0, "taxSum": 0.0},
		"itemAttributes": map[string]any{"attributes": []any{map[string]any{"name": "paymentMethod", "value": 1.0},
			map[string]any{"name": "paymentObject", "value": 1.0}}}}, items[0])
	require.Equal(t, map[string]any{"value": 1.5, "measure": "кг"}, items[1].(map[string]any)["quantity"])
}

// TestRBSOrderBundleRefusals: money in a cart is checked as money, and
// every refusal names the field.
func TestRBSOrderBundleRefusals(t *testing.T) {
	h := newHarness(t)
	reg := func(amount, bundle string) map[string]any {
		return h.rbs("register", credsA("orderNumber", "bundle-bad", "amount", amount, "language", "en",
			"returnUrl", "https://shop-a.example.kz/ok", "orderBundle", bundle))
	}
	item := func(fields string) string { return `{"cartItems":{"items":[{` + fields + `}]}}` }
	for _, c := range []struct{ name, amount, bundle, msg string }{
		{"not JSON", "100", "{", "Invalid orderBundle: must be a JSON object"},
		{"no items", "100", `{"cartItems":{"items":[]}}`, "Invalid orderBundle.cartItems.items: 1 to 100 items in cartItems.items"},
		{"total", "100", item(`"name":"a","quantity":{"value":1},"itemPrice":99`),
			"Invalid orderBundle: the items' itemAmount add up to 99, the order's amount is 100"},
		{"line", "300", item(`"name":"a","quantity":{"value":3},"itemPrice":100,"itemAmount":301`),
			"Invalid orderBundle.cartItems.items[0].itemAmount: is 301, itemPrice × quantity is 300"},
		{"fraction of a tiyn", "100", item(`"name":"a","quantity":{"value":1},"itemPrice":99.5`),
			"Invalid orderBundle.cartItems.items[0].itemPrice: a whole number of minor units, 0 to 10^12"},
		{"no name", "100", item(`"quantity":{"value":1},"itemPrice":100`), "Invalid orderBundle.cartItems.items[0].name: is required"},
		{"long name", "100", item(`"name":"` + strings.Repeat("я", 101) + `","quantity":{"value":1},"itemPrice":100`),
			"Invalid orderBundle.cartItems.items[0].name: at most 100 printable characters"},
		{"no quantity", "100", item(`"name":"a","itemPrice":100`), "Invalid orderBundle.cartItems.items[0].quantity.value: a positive number"},
		{"no price", "100", item(`"name":"a","quantity":{"value":1}`), "Invalid orderBundle.cartItems.items[0]: needs itemPrice or itemAmount"},
		{"huge exponent", "100", item(`"name":"a","quantity":{"value":1e999999999},"itemPrice":100`),
			"Invalid orderBundle.cartItems.items[0].quantity.value: a positive number"},
		{"bad customer phone", "100", `{"customerDetails":{"phone":"дома"},"cartItems":{"items":[{"name":"a","quantity":{"value":1},"itemPrice":100}]}}`,
			"Invalid orderBundle.customerDetails.phone: not a phone number (+7 701 123 45 67, 8 701 123-45-67...)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, map[string]any{"errorCode": "5", "errorMessage": c.msg}, reg(c.amount, c.bundle))
		})
	}
	// A discounted line's amount is below price × quantity.
	out := reg("250", item(`"name":"a","quantity":{"value":3},"itemPrice":100,"itemAmount":250,"discount":{"discountType":"summa","discountValue":50}`))
	require.NotEmpty(t, out["orderId"], out)
}

// TestRBSWindows1251: a shop that sends windows-1251, saying so or not,
// has its Russian read as Russian.
func TestRBSWindows1251(t *testing.T) {
	h := newHarness(t)
	enc := func(s string) string {
		b, err := charmap.Windows1251.NewEncoder().String(s)
		require.NoError(t, err)
		return b
	}
	post := func(contentType string, form url.Values) map[string]any {
		resp, err := http.Post(h.URL()+"/payment/rest/register.do", contentType, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, jsonDecode(resp.Body, &out))
		return out
	}
	form := credsA("orderNumber", "cp1251-1", "amount", "1000", "returnUrl", "https://shop-a.example.kz/ok",
		"description", enc("Оплата заказа №1 — книги"))
	out := post("application/x-www-form-urlencoded; charset=windows-1251", form)
	require.NotEmpty(t, out["orderId"], out)
	require.Equal(t, "Оплата заказа №1 — книги", h.Order(out["orderId"].(string)).Description)

	form = credsA("orderNumber", "cp1251-2", "amount", "1000", "returnUrl", "https://shop-a.example.kz/ok",
		"description", enc("Заказ без кодировки"))
	out = post("application/x-www-form-urlencoded", form)
	require.NotEmpty(t, out["orderId"], out)
	require.Equal(t, "Заказ без кодировки", h.Order(out["orderId"].(string)).Description, "not UTF-8: windows-1251")

	resp, err := http.Get(h.URL() + "/payment/rest/getOrderStatusExtended.do?" + credsA("orderNumber", "cp1251-2").Encode())
	require.NoError(t, err)
	var st map[string]any
	require.NoError(t, jsonDecode(resp.Body, &st))
	resp.Body.Close()
	require.Equal(t, "Заказ без кодировки", st["orderDescription"])

	out = post("application/x-www-form-urlencoded; charset=koi8-r", credsA("orderNumber", "koi8"))
	require.Equal(t, map[string]any{"errorCode": "5", "errorMessage": "Кодировка koi8-r в Content-Type не поддерживается: используйте UTF-8 или windows-1251"}, out)
}

// TestRBSFollowUpsByOrderNumber: deposit, reverse, refund, status and
// decline name the order by orderNumber, with merchantLogin the caller's
// own login or merchant id; refund.do with amount 0 returns all that is
// left.
func TestRBSFollowUpsByOrderNumber(t *testing.T) {
	h := newHarness(t)
	id := register(t, h, "registerPreAuth", "num-1", "100000")
	require.EqualValues(t, 0, payOrder(t, h, id, cardOK)["errorCode"])
	ok := map[string]any{"errorCode": "0", "errorMessage": "Success"}
	byNumber := func(kv ...string) url.Values {
		return credsA(append([]string{"orderNumber", "num-1", "language", "en"}, kv...)...)
	}
	require.Equal(t, ok, h.rbs("reverse", byNumber("amount", "10000", "merchantLogin", userA)))
	require.Equal(t, ok, h.rbs("deposit", byNumber("amount", "0", "merchantLogin", "shop-a")))
	require.Equal(t, ok, h.rbs("refund", byNumber("amount", "20000", "externalRefundId", "part")))
	// The JSON API's Idempotency-Key is the switch's, not an
	// externalRefundId: the RBS status shows none for it.
	require.Equal(t, http.StatusCreated, h.v1("POST", "/v1/orders/"+id+"/refunds", keyA, "json-key", map[string]any{"amount": 10000}).Status)
	require.Equal(t, ok, h.rbs("refund", byNumber("amount", "0", "externalRefundId", "rest")))
	require.Equal(t, ok, h.rbs("refund", byNumber("amount", "0", "externalRefundId", "rest")), "the same refund again: its answer")
	st := h.rbs("getOrderStatusExtended", byNumber("merchantLogin", userA))
	require.EqualValues(t, 4, st["orderStatus"], st)
	require.Equal(t, map[string]any{"paymentState": "REFUNDED", "approvedAmount": 90000.0, "depositedAmount": 90000.0,
		"refundedAmount": 90000.0, "feeAmount": 0.0}, st["paymentAmountInfo"])
	refunds := st["refunds"].([]any)
	require.Len(t, refunds, 3)
	require.NotContains(t, refunds[1], "externalRefundId")
	require.EqualValues(t, 60000, refunds[2].(map[string]any)["amount"], "0: the 60000 left")
	require.Equal(t, "rest", refunds[2].(map[string]any)["externalRefundId"])
	require.Equal(t, "0", h.rbs("getOrderStatus", byNumber())["ErrorCode"])

	register(t, h, "register", "num-2", "1000")
	require.Equal(t, ok, h.rbs("decline", credsA("orderNumber", "num-2", "language", "en")))
	require.EqualValues(t, 6, h.rbs("getOrderStatusExtended", credsA("orderNumber", "num-2"))["orderStatus"])
	require.Equal(t, map[string]any{"errorCode": "6", "errorMessage": "Order number is not registered"},
		h.rbs("refund", credsA("orderNumber", "num-1", "amount", "0", "language", "en", "userName", userB, "password", passB)),
		"another merchant's number is not registered")
}

// TestRBSLastOrdersForMerchants: the documented request (a period in
// yyyyMMddHHmmss, states, a page) answers the caller's orders, each as
// getOrderStatusExtended.do shows it, newest first.
func TestRBSLastOrdersForMerchants(t *testing.T) {
	h := newHarness(t)
	paid := register(t, h, "register", "list-1", "1000")
	require.EqualValues(t, 0, payOrder(t, h, paid, cardOK)["errorCode"])
	open := register(t, h, "register", "list-2", "2000")
	declined := register(t, h, "register", "list-3", "3000")
	require.Equal(t, "0", h.rbs("decline", credsA("orderId", declined))["errorCode"])
	h.rbs("register", url.Values{"userName": {userB}, "password": {passB}, "orderNumber": {"list-b"}, "amount": {"1"},
		"returnUrl": {"https://shop-b.example.kz/"}})

	period := func(kv ...string) url.Values {
		now := h.Order(paid).CreatedAt.In(fixedUTC5)
		return credsA(append([]string{"from", now.Add(-time.Hour).Format("20060102150405"),
			"to", now.Add(time.Hour).Format("20060102150405"), "language", "en"}, kv...)...)
	}
	numbers := func(ans map[string]any) []string {
		var out []string
		for _, s := range ans["orderStatuses"].([]any) {
			out = append(out, s.(map[string]any)["orderNumber"].(string))
		}
		return out
	}
	all := h.rbs("getLastOrdersForMerchants", period("searchByCreatedDate", "true"))
	require.Equal(t, "0", all["errorCode"], all)
	require.Equal(t, []string{"list-3", "list-2", "list-1"}, numbers(all), "newest first, shop-b's not among them")
	require.EqualValues(t, 3, all["totalCount"])
	require.EqualValues(t, 100, all["pageSize"])
	first := all["orderStatuses"].([]any)[2].(map[string]any)
	require.Equal(t, "Request processed successfully", first["actionCodeDescription"])
	require.Equal(t, []any{map[string]any{"name": "mdOrder", "value": paid}}, first["attributes"])

	page := h.rbs("getLastOrdersForMerchants", period("searchByCreatedDate", "true", "size", "2", "page", "1"))
	require.Equal(t, []string{"list-1"}, numbers(page))
	require.EqualValues(t, 3, page["totalCount"])
	require.EqualValues(t, 1, page["page"])
	require.Equal(t, []string{"list-2"}, numbers(h.rbs("getLastOrdersForMerchants",
		period("searchByCreatedDate", "true", "transactionStates", "created", "merchants", userA))))
	require.Equal(t, []string{"list-1"}, numbers(h.rbs("getLastOrdersForMerchants", period())), "by payment date: only paid orders")
	_ = open

	for _, c := range []struct {
		form      url.Values
		code, msg string
	}{
		{credsA("to", "20300101000000", "language", "en"), "4", "from can not be empty"},
		{period("size", "201"), "5", "Invalid size: a whole number, 1 to 200"},
		{period("transactionStates", "PAID"), "5", "Invalid transactionStates: comma-separated CREATED, APPROVED, DEPOSITED, DECLINED, REVERSED, REFUNDED"},
		{period("merchants", userB), "5", "Invalid merchants: only your own login"},
		{credsA("from", "20300101000000", "to", "20200101000000", "language", "en"), "5", "Invalid to: must be after from"},
		{period("searchByCreatedDate", "yes"), "5", "Invalid searchByCreatedDate: true or false"},
	} {
		require.Equal(t, map[string]any{"errorCode": c.code, "errorMessage": c.msg}, h.rbs("getLastOrdersForMerchants", c.form))
	}
}

// TestRBSAddParams: addParams.do's params, as JSON or as PHP's
// params[name]=value fields, join the order's merchantOrderParams.
func TestRBSAddParams(t *testing.T) {
	h := newHarness(t)
	id := register(t, h, "register", "params-1", "1000")
	ok := map[string]any{"errorCode": "0", "errorMessage": "Успешно"}
	require.Equal(t, ok, h.rbs("addParams", credsA("orderId", id, "params", `{"track":"T-1","delivery":{"days":2}}`)))
	require.Equal(t, ok, h.rbs("addParams", credsA("orderNumber", "params-1", "params[CMS]", "Opencart 3.0")))
	require.Equal(t, ok, h.rbs("addParams", credsA("orderNumber", "params-1", "params[CMS]", "Opencart 3.0")), "again: the same")
	st := status(t, h, id)
	require.Equal(t, []any{
		map[string]any{"name": "CMS", "value": "Opencart 3.0"},
		map[string]any{"name": "Module-Version", "value": "2.2.0"},
		map[string]any{"name": "delivery", "value": `{"days":2}`},
		map[string]any{"name": "track", "value": "T-1"},
	}, st["merchantOrderParams"])
	require.Equal(t, map[string]any{"errorCode": "4", "errorMessage": "params can not be empty"},
		h.rbs("addParams", credsA("orderId", id, "language", "en")))
	require.Equal(t, map[string]any{"errorCode": "5", "errorMessage": "Invalid params: at most 50 parameters"},
		h.rbs("addParams", credsA("orderId", id, "language", "en", "params", manyParams(48))), "50 in all")
	require.Equal(t, map[string]any{"errorCode": "6", "errorMessage": "Order ID is not registered"},
		h.rbs("addParams", credsA("orderId", "nope", "language", "en", "params", `{"a":"b"}`)))
}

// TestRBSLanguages: every answer's message in the request's language,
// Russian without one, kz read as Kazakh.
func TestRBSLanguages(t *testing.T) {
	h := newHarness(t)
	for lang, msg := range map[string]string{
		"":   "Заказ с таким orderId не зарегистрирован",
		"ru": "Заказ с таким orderId не зарегистрирован",
		"kk": "Мұндай orderId бар тапсырыс тіркелмеген",
		"kz": "Мұндай orderId бар тапсырыс тіркелмеген",
		"KZ": "Мұндай orderId бар тапсырыс тіркелмеген",
		"en": "Order ID is not registered",
	} {
		form := credsA("orderId", "nope")
		if lang != "" {
			form.Set("language", lang)
		}
		require.Equal(t, map[string]any{"errorCode": "6", "errorMessage": msg}, h.rbs("getOrderStatusExtended", form), lang)
		legacy := h.rbs("getOrderStatus", form)
		require.Equal(t, msg, legacy["ErrorMessage"], lang)
	}
	require.Equal(t, map[string]any{"errorCode": "5", "errorMessage": "Қол жеткізуге тыйым салынған"},
		h.rbs("deposit", url.Values{"userName": {userA}, "password": {"wrong"}, "language": {"kz"}}))
	require.Equal(t, map[string]any{"errorCode": "4", "errorMessage": "Не указан параметр password"},
		h.rbs("deposit", url.Values{"userName": {userA}}))
}

// TestRBSUnknownMethod: a method the facade does not have is an RBS
// answer, not a plain-text 404; a known one called with the wrong HTTP
// method is a 405 with the same kind of body.
func TestRBSUnknownMethod(t *testing.T) {
	h := newHarness(t)
	out := h.rbs("verifyEnrollment", credsA("pan", "4111111111111111"))
	require.Equal(t, map[string]any{"errorCode": "5", "errorMessage": "Неизвестный метод verifyEnrollment.do"}, out)
	resp, err := http.Get(h.URL() + "/payment/rest/verifyEnrollment.do?language=en")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	require.JSONEq(t, `{"errorCode":"5","errorMessage":"Unknown method verifyEnrollment.do"}`, string(body))

	resp, err = http.Get(h.URL() + "/payment/rest/paymentorder.do?language=en")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Equal(t, "POST", resp.Header.Get("Allow"))
	require.JSONEq(t, `{"errorCode":"5","errorMessage":"HTTP method GET is not allowed for paymentorder.do"}`, string(body))
}

var fixedUTC5 = time.FixedZone("UTC+5", 5*3600)

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
