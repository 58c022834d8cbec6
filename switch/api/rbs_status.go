package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// rbsPAN is the gateway's masked PAN: first six, "**", last four.
func rbsPAN(c *order.Card) string {
	if c == nil || len(c.Masked) < 10 {
		return ""
	}
	return c.Masked[:6] + "**" + c.Masked[len(c.Masked)-4:]
}

// rbsExpiry turns YYMM into the gateway's YYYYMM.
func rbsExpiry(c *order.Card) string {
	if c == nil || len(c.Expiry) != 4 {
		return ""
	}
	return "20" + c.Expiry
}

var paymentStates = map[order.Status]string{
	order.StatusRegistered: "CREATED", order.StatusApproved: "APPROVED", order.StatusDeposited: "DEPOSITED",
	order.StatusReversed: "REVERSED", order.StatusRefunded: "REFUNDED", order.Status3DS: "STARTED",
	order.StatusDeclined: "DECLINED",
}

// authOp is the approved authorization or purchase, if any.
func authOp(o *order.Order) *order.Operation {
	for i := range o.Ops {
		op := &o.Ops[i]
		if (op.Type == order.OpAuthorization || op.Type == order.OpPurchase) && op.Status == order.OpApproved {
			return op
		}
	}
	return nil
}

// paymentOp is the last authorization or purchase, approved or not.
func paymentOp(o *order.Order) *order.Operation {
	for i := len(o.Ops) - 1; i >= 0; i-- {
		if t := o.Ops[i].Type; t == order.OpAuthorization || t == order.OpPurchase {
			return &o.Ops[i]
		}
	}
	return nil
}

const rbsTimeLayout = "2006-01-02T15:04:05"

func (c *call) statusOrder(form url.Values) (*order.Order, *rbsError) {
	ctx := c.r.Context()
	if id := form.Get("orderId"); id != "" {
		return c.rbsOrder(ctx, id)
	}
	if n := form.Get("orderNumber"); n != "" {
		return c.own(c.s.svc.ByNumber(ctx, c.merchant.Merchant, n))
	}
	return nil, rbsErr(rbsMissing, "Order ID can not be empty")
}

func (c *call) rbsStatusExtended() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	lang := form.Get("language")
	if !validLanguage(lang) {
		c.rbsAnswer(rbsErr(rbsWrong, "Invalid language: ru, kk or en"))
		return
	}
	o, e := c.statusOrder(form)
	if e != nil {
		c.rbsAnswer(e)
		return
	}
	if lang == "" {
		lang = o.Language
	}
	type nv struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	params := []nv{}
	for k, v := range o.Params {
		params = append(params, nv{k, v})
	}
	sortNV := func(a []nv) {
		for i := 1; i < len(a); i++ {
			for j := i; j > 0 && a[j].Name < a[j-1].Name; j-- {
				a[j], a[j-1] = a[j-1], a[j]
			}
		}
	}
	sortNV(params)
	ans := map[string]any{
		"errorCode": rbsOK, "errorMessage": msgSuccess,
		"orderNumber": o.Number, "orderStatus": int(o.Status),
		"actionCode": o.ActionCode, "actionCodeDescription": order.ActionText(o.ActionCode, lang),
		"amount": o.Amount, "currency": o.Currency, "date": o.CreatedAt.UnixMilli(),
		"orderDescription": o.Description, "ip": o.IP,
		"merchantOrderParams": params,
		"attributes":          []nv{{"mdOrder", o.ID}},
		"paymentAmountInfo": map[string]any{
			"paymentState": paymentStates[o.Status], "approvedAmount": o.Approved,
			"depositedAmount": o.Deposited, "refundedAmount": o.Refunded,
		},
	}
	if o.Status == order.StatusRegistered && !o.AttemptDeclined() {
		ans["actionCodeDescription"] = ""
	}
	if o.Card != nil {
		card := map[string]any{
			"maskedPan": rbsPAN(o.Card), "expiration": rbsExpiry(o.Card), "cardholderName": o.Card.Holder,
			"paymentSystem": strings.ToUpper(o.Card.Brand),
		}
		eci := 7 // non-authenticated e-commerce, as the authorization said
		if o.ThreeDS != nil && o.ThreeDS.ECI != "" {
			if n, err := strconv.Atoi(o.ThreeDS.ECI); err == nil {
				eci = n
			}
		}
		card["secureAuthInfo"] = map[string]any{"eci": eci}
		if op := paymentOp(o); op != nil {
			card["approvalCode"] = op.ApprovalCode
			ans["authDateTime"] = op.Time.UnixMilli()
			ans["terminalId"] = op.TerminalID
			ans["authRefNum"] = op.RRN
		}
		ans["cardAuthInfo"] = card
	}
	type refund struct {
		Date             string `json:"date"`
		ExternalRefundID string `json:"externalRefundId,omitempty"`
		ApprovalCode     string `json:"approvalCode"`
		ActionCode       int    `json:"actionCode"`
		ReferenceNumber  string `json:"referenceNumber"`
		Amount           int64  `json:"amount"`
	}
	refunds := []refund{}
	for _, op := range o.Ops {
		if op.Type != order.OpRefund || op.Status != order.OpApproved {
			continue
		}
		refunds = append(refunds, refund{
			Date: op.Time.In(almaty).Format(rbsTimeLayout), ExternalRefundID: strings.TrimPrefix(op.IdemKey, "rbs-refund:"),
			ApprovalCode: op.ApprovalCode, ActionCode: op.ActionCode, ReferenceNumber: op.RRN, Amount: op.Amount,
		})
	}
	ans["refunds"] = refunds
	c.rbsAnswer(ans)
}

// rbsStatus is the older getOrderStatus.do, with its capitalised names.
func (c *call) rbsStatus() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	lang := form.Get("language")
	if !validLanguage(lang) {
		c.rbsAnswer(rbsErr(rbsWrong, "Invalid language: ru, kk or en"))
		return
	}
	o, e := c.statusOrder(form)
	if e != nil {
		c.code = e.ErrorCode
		c.rbsAnswer(map[string]string{"ErrorCode": e.ErrorCode, "ErrorMessage": e.ErrorMessage})
		return
	}
	ans := map[string]any{
		"ErrorCode": rbsOK, "ErrorMessage": msgSuccess, "OrderStatus": int(o.Status), "OrderNumber": o.Number,
		"Amount": o.Amount, "currency": o.Currency, "authCode": 2, "Ip": o.IP, "depositAmount": o.Deposited,
		"Pan": rbsPAN(o.Card), "expiration": rbsExpiry(o.Card), "cardholderName": "", "approvalCode": "",
	}
	if o.Card != nil {
		ans["cardholderName"] = o.Card.Holder
	}
	if op := authOp(o); op != nil {
		ans["approvalCode"] = op.ApprovalCode
	}
	c.rbsAnswer(ans)
}

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

func (c *call) poFail(e *rbsError) {
	n, _ := strconv.Atoi(e.ErrorCode)
	c.poAnswer(n, e.ErrorMessage, nil)
}

func (c *call) rbsPaymentOrder() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	if !c.merchant.AllowCardEntry {
		c.poFail(rbsErr(rbsWrong, msgAccess))
		return
	}
	yyyy, mm := form.Get("YYYY"), form.Get("MM")
	switch {
	case form.Get("MDORDER") == "":
		c.poFail(rbsErr(rbsMissing, "MDORDER can not be empty"))
		return
	case form.Get("$PAN") == "":
		c.poFail(rbsErr(rbsMissing, "$PAN can not be empty"))
		return
	case form.Get("$CVC") == "":
		c.poFail(rbsErr(rbsMissing, "$CVC can not be empty"))
		return
	case yyyy == "" || mm == "":
		c.poFail(rbsErr(rbsMissing, "YYYY and MM can not be empty"))
		return
	case len(yyyy) != 4 || len(mm) != 2 || !strings.HasPrefix(yyyy, "20"):
		c.poFail(rbsErr(rbsWrong, "Invalid YYYY or MM"))
		return
	case !validText(form.Get("TEXT"), 64) || !validLanguage(form.Get("language")):
		c.poFail(rbsErr(rbsWrong, "Invalid TEXT or language"))
		return
	case form.Get("email") != "" && !validEmail(form.Get("email")):
		c.poFail(rbsErr(rbsWrong, "Invalid email"))
		return
	}
	ctx := c.r.Context()
	id := form.Get("MDORDER")
	c.orderID = id
	ip := form.Get("ip")
	if ip == "" {
		ip = clientIP(c.r)
	}
	termURL := c.s.formURL(id) + "/3ds"
	reply := c.reply(func(n *order.Order, ch *threeds.Outcome) (int, []byte) {
		b, _ := json.Marshal(poResult(n, ch, termURL))
		return http.StatusOK, b
	})
	res, err := c.s.svc.Pay(ctx, payments.PayRequest{
		OrderID: id, Merchant: c.merchant.Merchant,
		Card:  payments.CardInput{PAN: form.Get("$PAN"), Expiry: yyyy[2:] + mm, CVV2: form.Get("$CVC"), Holder: form.Get("TEXT")},
		Email: form.Get("email"), IP: ip, NotificationURL: termURL, Reply: reply,
	})
	if c.took(res) {
		return
	}
	switch {
	case errors.Is(err, payments.ErrCard):
		// ValidateCard's reasons never quote card data.
		c.poFail(rbsErr(rbsWrong, "Invalid card data: "+strings.TrimPrefix(err.Error(), payments.ErrCard.Error()+": ")))
	case errors.Is(err, order.ErrTransition):
		if o, gerr := c.s.svc.Get(ctx, id); gerr == nil && o.Status == order.StatusDeclined && o.ActionCode == order.ActionExpired {
			c.poAnswer(7, "Order has expired", map[string]any{"actionCode": order.ActionExpired})
			return
		}
		c.poFail(c.rbsFail(err, rbsErr(rbsWrong, msgAmountBad)))
	case err != nil:
		c.poFail(c.rbsFail(err, rbsErr(rbsWrong, msgAmountBad)))
	default:
		// A replay: the order's payment was decided by an earlier request.
		c.rbsAnswer(poResult(res.Order, res.Challenge, termURL))
	}
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
