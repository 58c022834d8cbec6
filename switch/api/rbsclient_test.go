package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rbsClient is written from the RBS gateway's public REST documentation
// (as Kazakh banks publish it), not from our server: the method names, the
// parameters and the answer fields are the documented ones, and it treats
// errorCode as the documentation does ("0" or absent is success). If our
// facade drifted from the documentation, this client would break.
type rbsClient struct {
	base     string // https://<gateway>/payment/rest/
	userName string
	password string
}

type rbsErrorFields struct {
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

func (e rbsErrorFields) err() error {
	if e.ErrorCode == "" || e.ErrorCode == "0" {
		return nil
	}
	return fmt.Errorf("rbs error %s: %s", e.ErrorCode, e.ErrorMessage)
}

func (c *rbsClient) call(method string, params url.Values, out any) error {
	params.Set("userName", c.userName)
	params.Set("password", c.password)
	resp, err := http.PostForm(c.base+method, params)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

type registerResponse struct {
	rbsErrorFields
	OrderID string `json:"orderId"`
	FormURL string `json:"formUrl"`
}

func (c *rbsClient) registerPreAuth(orderNumber string, amount int64, returnURL string) (registerResponse, error) {
	var r registerResponse
	err := c.call("registerPreAuth.do", url.Values{
		"orderNumber": {orderNumber}, "amount": {strconv.FormatInt(amount, 10)}, "currency": {"398"},
		"returnUrl": {returnURL}, "language": {"ru"}, "description": {"Заказ " + orderNumber},
	}, &r)
	if err == nil {
		err = r.err()
	}
	return r, err
}

type paymentOrderResponse struct {
	ErrorCode int    `json:"errorCode"`
	Redirect  string `json:"redirect"`
	Info      string `json:"info"`
	AcsURL    string `json:"acsUrl"`
}

func (c *rbsClient) paymentOrder(mdOrder, pan, cvc, yyyy, mm, holder string) (paymentOrderResponse, error) {
	var r paymentOrderResponse
	err := c.call("paymentorder.do", url.Values{
		"MDORDER": {mdOrder}, "$PAN": {pan}, "$CVC": {cvc}, "YYYY": {yyyy}, "MM": {mm}, "TEXT": {holder}, "language": {"ru"},
	}, &r)
	if err == nil && r.ErrorCode != 0 {
		err = fmt.Errorf("paymentorder errorCode %d", r.ErrorCode)
	}
	return r, err
}

type orderStatusExtended struct {
	rbsErrorFields
	OrderNumber           string `json:"orderNumber"`
	OrderStatus           int    `json:"orderStatus"`
	ActionCode            int    `json:"actionCode"`
	ActionCodeDescription string `json:"actionCodeDescription"`
	Amount                int64  `json:"amount"`
	Currency              string `json:"currency"`
	Date                  int64  `json:"date"`
	CardAuthInfo          struct {
		MaskedPan      string `json:"maskedPan"`
		Expiration     string `json:"expiration"`
		CardholderName string `json:"cardholderName"`
		ApprovalCode   string `json:"approvalCode"`
		PaymentSystem  string `json:"paymentSystem"`
		SecureAuthInfo struct {
			Eci int `json:"eci"`
		} `json:"secureAuthInfo"`
	} `json:"cardAuthInfo"`
	AuthRefNum        string `json:"authRefNum"`
	TerminalID        string `json:"terminalId"`
	PaymentAmountInfo struct {
		PaymentState    string `json:"paymentState"`
		ApprovedAmount  int64  `json:"approvedAmount"`
		DepositedAmount int64  `json:"depositedAmount"`
		RefundedAmount  int64  `json:"refundedAmount"`
	} `json:"paymentAmountInfo"`
	Refunds []struct {
		Amount          int64  `json:"amount"`
		ReferenceNumber string `json:"referenceNumber"`
	} `json:"refunds"`
}

func (c *rbsClient) status(orderID string) (orderStatusExtended, error) {
	var r orderStatusExtended
	err := c.call("getOrderStatusExtended.do", url.Values{"orderId": {orderID}}, &r)
	if err == nil {
		err = r.err()
	}
	return r, err
}

func (c *rbsClient) simple(method string, params url.Values) error {
	var r rbsErrorFields
	if err := c.call(method, params, &r); err != nil {
		return err
	}
	return r.err()
}

func (c *rbsClient) deposit(orderID string, amount int64) error {
	return c.simple("deposit.do", url.Values{"orderId": {orderID}, "amount": {strconv.FormatInt(amount, 10)}})
}

func (c *rbsClient) refund(orderID string, amount int64) error {
	return c.simple("refund.do", url.Values{"orderId": {orderID}, "amount": {strconv.FormatInt(amount, 10)}})
}

func (c *rbsClient) reverse(orderID string) error {
	return c.simple("reverse.do", url.Values{"orderId": {orderID}})
}

// TestDocumentedRBSClientFlow runs a documentation-built client's whole
// flow unchanged: register (pre-auth), pay server-to-server, check,
// deposit part, refund, check; and a second order reversed.
func TestDocumentedRBSClientFlow(t *testing.T) {
	h := newHarness(t)
	c := &rbsClient{base: h.URL() + "/payment/rest/", userName: userA, password: passA}

	reg, err := c.registerPreAuth("doc-1001", 250000, "https://shop-a.example.kz/return")
	require.NoError(t, err)
	require.NotEmpty(t, reg.FormURL)

	po, err := c.paymentOrder(reg.OrderID, cardOK, cardCVV, "2030", "12", "IVAN IVANOV")
	require.NoError(t, err)
	require.Equal(t, "https://shop-a.example.kz/return?orderId="+reg.OrderID, po.Redirect)

	st, err := c.status(reg.OrderID)
	require.NoError(t, err)
	require.Equal(t, 1, st.OrderStatus)
	require.Equal(t, "doc-1001", st.OrderNumber)
	require.Equal(t, "APPROVED", st.PaymentAmountInfo.PaymentState)
	require.Equal(t, "411111**1111", st.CardAuthInfo.MaskedPan)
	require.Equal(t, "VISA", st.CardAuthInfo.PaymentSystem)

	require.NoError(t, c.deposit(reg.OrderID, 200000))
	require.NoError(t, c.refund(reg.OrderID, 50000))
	st, err = c.status(reg.OrderID)
	require.NoError(t, err)
	require.Equal(t, 2, st.OrderStatus)
	require.Equal(t, int64(200000), st.PaymentAmountInfo.DepositedAmount)
	require.Equal(t, int64(50000), st.PaymentAmountInfo.RefundedAmount)
	require.Len(t, st.Refunds, 1)

	require.EqualError(t, c.refund(reg.OrderID, 150001), "rbs error 7: Сумма возврата превышает списанную сумму")

	reg2, err := c.registerPreAuth("doc-1002", 1000, "https://shop-a.example.kz/return")
	require.NoError(t, err)
	_, err = c.paymentOrder(reg2.OrderID, cardOK, cardCVV, "2030", "12", "IVAN IVANOV")
	require.NoError(t, err)
	require.NoError(t, c.reverse(reg2.OrderID))
	st, err = c.status(reg2.OrderID)
	require.NoError(t, err)
	require.Equal(t, 3, st.OrderStatus)
	require.Equal(t, "REVERSED", st.PaymentAmountInfo.PaymentState)
}

// The documentation's getLastOrdersForMerchants.do answer.
type lastOrdersResponse struct {
	rbsErrorFields
	OrderStatuses []orderStatusExtended `json:"orderStatuses"`
	TotalCount    int                   `json:"totalCount"`
	Page          int                   `json:"page"`
	PageSize      int                   `json:"pageSize"`
}

func (c *rbsClient) lastOrders(from, to time.Time, states string, page, size int) (lastOrdersResponse, error) {
	var r lastOrdersResponse
	const layout = "20060102150405"
	err := c.call("getLastOrdersForMerchants.do", url.Values{
		"from": {from.Format(layout)}, "to": {to.Format(layout)}, "transactionStates": {states},
		"merchants": {""}, "page": {strconv.Itoa(page)}, "size": {strconv.Itoa(size)}, "searchByCreatedDate": {"true"},
	}, &r)
	if err == nil {
		err = r.err()
	}
	return r, err
}

// TestDocumentedRBSClientOtherMethods: the same documentation-built
// client's register with a cart and the buyer's contacts, addParams.do,
// status, refund and decline by the shop's own order number, and the
// order list.
func TestDocumentedRBSClientOtherMethods(t *testing.T) {
	h := newHarness(t)
	c := &rbsClient{base: h.URL() + "/payment/rest/", userName: userA, password: passA}
	var reg registerResponse
	require.NoError(t, c.call("register.do", url.Values{
		"orderNumber": {"doc-2001"}, "amount": {"15000"}, "returnUrl": {"https://shop-a.example.kz/return"},
		"email": {"buyer@example.kz"}, "phone": {"+7 701 123 45 67"}, "language": {"kz"},
		"orderBundle": {`{"cartItems":{"items":[{"positionId":"1","name":"Шай","quantity":{"value":3,"measure":"шт"},"itemPrice":5000,"itemCode":"T-1"}]}}`},
	}, &reg))
	require.NoError(t, reg.err())
	require.NoError(t, c.simple("addParams.do", url.Values{"orderId": {reg.OrderID}, "params": {`{"deliveryId":"D-77"}`}}))
	_, err := c.paymentOrder(reg.OrderID, cardOK, cardCVV, "2030", "12", "IVAN IVANOV")
	require.NoError(t, err)

	var st orderStatusExtended
	require.NoError(t, c.call("getOrderStatusExtended.do", url.Values{"orderNumber": {"doc-2001"}, "merchantLogin": {userA}}, &st))
	require.NoError(t, st.err())
	require.Equal(t, 2, st.OrderStatus)
	require.NoError(t, c.simple("refund.do", url.Values{"orderNumber": {"doc-2001"}, "amount": {"0"}}))

	var reg2 registerResponse
	require.NoError(t, c.call("register.do", url.Values{"orderNumber": {"doc-2002"}, "amount": {"100"},
		"returnUrl": {"https://shop-a.example.kz/return"}}, &reg2))
	require.NoError(t, c.simple("decline.do", url.Values{"orderNumber": {"doc-2002"}, "merchantLogin": {userA}}))

	now := time.Now().In(time.FixedZone("UTC+5", 5*3600))
	list, err := c.lastOrders(now.Add(-time.Hour), now.Add(time.Hour), "REFUNDED,DECLINED", 0, 10)
	require.NoError(t, err)
	require.Equal(t, 2, list.TotalCount)
	require.Equal(t, 10, list.PageSize)
	require.Len(t, list.OrderStatuses, 2)
	require.Equal(t, "doc-2002", list.OrderStatuses[0].OrderNumber)
	refunded := list.OrderStatuses[1]
	require.Equal(t, "REFUNDED", refunded.PaymentAmountInfo.PaymentState)
	require.Equal(t, int64(15000), refunded.PaymentAmountInfo.RefundedAmount)
	require.Equal(t, "411111**1111", refunded.CardAuthInfo.MaskedPan)

	var unknown rbsErrorFields
	require.NoError(t, c.call("getBindings.do", url.Values{"clientId": {"17"}}, &unknown))
	require.Equal(t, "5", unknown.ErrorCode)
}
