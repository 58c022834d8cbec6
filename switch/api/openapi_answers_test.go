package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAnswersMatchOpenAPI sends every operation of both APIs real requests,
// successful and refused, through a transport that validates each answer
// against the OpenAPI document (status documented, body of the schema's
// types, no field the schema does not have), and checks that every
// operation answered.
func TestAnswersMatchOpenAPI(t *testing.T) {
	h := newHarness(t)
	check := newSpecCheck(t, h.URL())
	h.client = &http.Client{Transport: check}

	// JSON API v1.
	get := func(path, key string) v1Resp { return h.v1("GET", path, key, "", nil) }
	o := createOrder(t, h, "spec-v1-1", 100000, "manual")
	id := o["id"].(string)
	h.v1("POST", "/v1/orders", keyA, "", map[string]any{"amount": 0, "order_number": "x", "return_url": "https://a.kz/"})
	h.v1("POST", "/v1/orders", "", "", map[string]any{})
	h.v1("POST", "/v1/orders", keyA, "", map[string]any{"amount": 5, "order_number": "spec-v1-1", "return_url": "https://a.kz/"})
	h.v1("POST", "/v1/orders", keyA, "k-1", map[string]any{"amount": 5, "order_number": "spec-v1-2", "return_url": "https://a.kz/"})
	h.v1("POST", "/v1/orders", keyA, "k-1", map[string]any{"amount": 6, "order_number": "spec-v1-2", "return_url": "https://a.kz/"})
	h.v1("POST", "/v1/orders", keyA, "", strings.Repeat(" ", 70<<10))
	get("/v1/orders/"+id, keyA)
	get("/v1/orders/00000000-0000-0000-0000-000000000000", keyA)
	get("/v1/orders/"+id, "")
	h.v1("POST", "/v1/orders/"+id+"/capture", keyA, "", map[string]any{"amount": 1})
	h.pay(id, cardOK)
	get("/v1/orders/"+id, keyA)
	h.v1("POST", "/v1/orders/"+id+"/capture", keyA, "", map[string]any{"amount": 100001})
	h.v1("POST", "/v1/orders/"+id+"/capture", keyA, "", map[string]any{"amount": -1})
	h.v1("POST", "/v1/orders/"+id+"/capture", keyA, "", map[string]any{"amount": 60000})
	h.v1("POST", "/v1/orders/"+id+"/refunds", keyA, "", map[string]any{"amount": 10000, "expected_refundable_amount": 1})
	h.v1("POST", "/v1/orders/"+id+"/refunds", keyA, "", map[string]any{"amount": 70000})
	h.v1("POST", "/v1/orders/"+id+"/refunds", keyA, "", map[string]any{"amount": 10000})
	h.v1("POST", "/v1/orders/00000000-0000-0000-0000-000000000000/refunds", keyA, "", map[string]any{"amount": 1})
	h.v1("POST", "/v1/orders/"+id+"/cancel", keyA, "", nil)
	held := createOrder(t, h, "spec-v1-3", 5000, "manual")["id"].(string)
	h.pay(held, cardOK)
	h.v1("POST", "/v1/orders/"+held+"/cancel", keyA, "", map[string]any{"amount": 2000})
	h.v1("POST", "/v1/orders/"+createOrder(t, h, "spec-v1-4", 5000, "automatic")["id"].(string)+"/cancel", keyA, "", nil)
	resp, err := h.client.Get(h.URL() + "/v1/openapi.yaml")
	require.NoError(t, err)
	resp.Body.Close()

	// The RBS facade.
	bundle := `{"customerDetails":{"email":"buyer@example.kz","phone":"8 701 123 45 67"},"cartItems":{"items":[` +
		`{"positionId":1,"name":"Кітап","quantity":{"value":2,"measure":"шт"},"itemPrice":50000,"itemAmount":100000,"itemCode":"B-17","tax":{"taxType":0,"taxSum":0}},` +
		`{"positionId":"2","name":"Алма","quantity":{"value":"1.5","measure":"кг"},"itemPrice":20000,"itemCode":"F-3","itemAttributes":{"attributes":[{"name":"paymentMethod","value":"1"}]}}]}}`
	reg := h.rbs("register", credsA("orderNumber", "spec-rbs-1", "amount", "130000", "returnUrl", "https://shop-a.example.kz/ok",
		"orderBundle", bundle, "jsonParams", `{"CMS":"Opencart 2.3","customer":{"id":17}}`, "clientId", "17"))
	rid := reg["orderId"].(string)
	h.rbs("register", credsA("orderNumber", "spec-rbs-1", "amount", "1", "returnUrl", "https://shop-a.example.kz/ok"))
	pre := h.rbs("registerPreAuth", credsA("orderNumber", "spec-rbs-2", "amount", "5000", "returnUrl", "https://shop-a.example.kz/ok"))["orderId"].(string)
	h.rbs("getOrderStatusExtended", credsA("orderId", rid))
	h.rbs("getOrderStatusExtended", credsA("orderId", "nope"))
	h.rbs("getOrderStatus", credsA("orderNumber", "spec-rbs-1"))
	h.rbs("getOrderStatus", credsA("orderId", "nope"))
	h.rbs("paymentorder", url.Values{"userName": {userA}})
	h.rbs("paymentorder", credsA("MDORDER", rid, "$PAN", "4111111111111112", "$CVC", cardCVV, "YYYY", "2030", "MM", "12"))
	h.rbs("paymentorder", credsA("MDORDER", rid, "$PAN", cardOK, "$CVC", cardCVV, "YYYY", "2030", "MM", "12", "TEXT", "IVAN IVANOV"))
	h.rbs("paymentorder", credsA("MDORDER", pre, "$PAN", cardOK, "$CVC", cardCVV, "YYYY", "2030", "MM", "12"))
	h.rbs("refund", credsA("orderNumber", "spec-rbs-1", "amount", "30000", "externalRefundId", "r-1"))
	h.rbs("refund", credsA("orderId", rid, "amount", "999999"))
	h.rbs("getOrderStatusExtended", credsA("orderId", rid, "language", "kz"))
	h.rbs("getOrderStatus", credsA("orderId", rid))
	h.rbs("addParams", credsA("orderId", rid, "params", `{"track":"T-1","delivery":{"days":2}}`))
	h.rbs("addParams", credsA("orderId", rid))
	h.rbs("deposit", credsA("orderId", pre, "amount", "9999999"))
	h.rbs("reverse", credsA("orderId", pre, "amount", "1000"))
	h.rbs("deposit", credsA("orderId", pre, "amount", "0"))
	h.rbs("decline", credsA("orderId", pre))
	h.rbs("decline", credsA("orderId", h.rbs("register", credsA("orderNumber", "spec-rbs-3", "amount", "100",
		"returnUrl", "https://shop-a.example.kz/ok"))["orderId"].(string)))
	now := time.Now().In(time.FixedZone("UTC+5", 5*3600))
	period := []string{"from", now.Add(-time.Hour).Format("20060102150405"), "to", now.Add(time.Hour).Format("20060102150405")}
	h.rbs("getLastOrdersForMerchants", credsA(append(period, "size", "2", "searchByCreatedDate", "true")...))
	h.rbs("getLastOrdersForMerchants", credsA(append(period, "transactionStates", "DEPOSITED,REFUNDED")...))
	h.rbs("getLastOrdersForMerchants", credsA("from", "yesterday", "to", "20300101000000"))
	q := credsA("orderId", rid)
	resp, err = h.client.Get(h.URL() + "/payment/rest/getOrderStatusExtended.do?" + q.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	resp, err = h.client.Get(h.URL() + "/payment/rest/register.do?" + url.Values{"language": {"en"}}.Encode())
	require.NoError(t, err)
	resp.Body.Close()

	answered := check.answered()
	for _, want := range []string{
		"createOrder 201", "createOrder 400", "createOrder 401", "createOrder 409", "createOrder 413", "createOrder 422",
		"getOrder 200", "getOrder 401", "getOrder 404",
		"captureOrder 200", "captureOrder 400", "captureOrder 409", "captureOrder 422",
		"cancelOrder 200", "cancelOrder 409",
		"refundOrder 201", "refundOrder 404", "refundOrder 409", "refundOrder 422",
		"getOpenAPI 200",
		"rbsRegister 200", "rbsRegisterGet 200", "rbsRegisterPreAuth 200", "rbsPaymentOrder 200", "rbsDeposit 200", "rbsReverse 200",
		"rbsRefund 200", "rbsDecline 200", "rbsAddParams 200", "rbsGetOrderStatus 200", "rbsGetOrderStatusExtended 200",
		"rbsGetOrderStatusExtendedGet 200", "rbsGetLastOrdersForMerchants 200",
	} {
		require.Contains(t, answered, want)
	}
}
