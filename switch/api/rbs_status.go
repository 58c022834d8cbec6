package api

import (
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/order"
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

// statusOrder is the order a status request names (orderId, or
// orderNumber with merchantLogin) and the language its texts are in (the
// request's, else the order's).
func (c *call) statusOrder(form url.Values) (*order.Order, string, *rbsError) {
	lang, ok := normLanguage(form.Get("language"))
	if !ok {
		return nil, "", invalid("language", l(rLanguage))
	}
	id, e := c.orderRef(form)
	if e != nil {
		return nil, "", e
	}
	o, e := c.rbsOrder(c.r.Context(), id)
	if e != nil {
		return nil, "", e
	}
	if lang == "" {
		lang = o.Language
	}
	return o, lang, nil
}

func (c *call) rbsStatusExtended() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	o, lang, e := c.statusOrder(form)
	if e != nil {
		c.rbsAnswer(e)
		return
	}
	c.rbsAnswer(statusExtended(o, lang, rbsSuccess.message(c.lang)))
}

type nameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// statusExtended is getOrderStatusExtended.do's answer for o, its texts
// in lang: every field the gateway documents that the switch has a value
// for. bankInfo is left out (no issuer directory here); bindingInfo names
// the shop's clientId and the binding the order created or was paid with.
func statusExtended(o *order.Order, lang, success string) map[string]any {
	params := make([]nameValue, 0, len(o.Params))
	for k, v := range o.Params {
		params = append(params, nameValue{k, v})
	}
	sort.Slice(params, func(i, j int) bool { return params[i].Name < params[j].Name })
	binding := map[string]string{}
	if o.Customer != "" {
		binding["clientId"] = o.Customer
	}
	switch {
	case o.Stored != nil:
		binding["bindingId"] = o.Stored.ID
	case o.StoredCard != "":
		binding["bindingId"] = o.StoredCard
	}
	ans := map[string]any{
		"errorCode": rbsOK, "errorMessage": success,
		"orderNumber": o.Number, "orderStatus": int(o.Status),
		"actionCode": o.ActionCode, "actionCodeDescription": order.ActionText(o.ActionCode, lang),
		"amount": o.Amount, "currency": o.Currency, "date": o.CreatedAt.UnixMilli(),
		"orderDescription": o.Description, "ip": o.IP,
		"merchantOrderParams": params,
		"attributes":          []nameValue{{"mdOrder", o.ID}},
		"paymentAmountInfo": map[string]any{
			"paymentState": paymentStates[o.Status], "approvedAmount": o.Approved,
			"depositedAmount": o.Deposited, "refundedAmount": o.Refunded, "feeAmount": 0,
		},
		"bindingInfo": binding,
	}
	if o.Status == order.StatusRegistered && !o.AttemptDeclined() {
		ans["actionCodeDescription"] = ""
	}
	if o.Card != nil {
		ans["paymentWay"] = "CARD"
		card := map[string]any{
			"maskedPan": rbsPAN(o.Card), "pan": rbsPAN(o.Card), "expiration": rbsExpiry(o.Card),
			"cardholderName": o.Card.Holder, "paymentSystem": strings.ToUpper(o.Card.Brand), "chargeback": false,
			"approvalCode": "",
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
			Date: op.Time.In(almaty).Format(rbsTimeLayout), ExternalRefundID: op.RefundID(),
			ApprovalCode: op.ApprovalCode, ActionCode: op.ActionCode, ReferenceNumber: op.RRN, Amount: op.Amount,
		})
	}
	ans["refunds"] = refunds
	if len(o.Cart) > 0 {
		ans["orderBundle"] = bundleJSON(o)
	}
	if len(o.Fiscal) > 0 {
		// Not the gateway's: the fiscal sign and link a Kazakh shop must
		// show its buyer, where its plugin already reads the order.
		type receipt struct {
			ExternalID string `json:"externalId"`
			Type       string `json:"type"`
			Amount     int64  `json:"amount"`
			FiscalSign string `json:"fiscalSign"`
			TicketURL  string `json:"ticketUrl,omitempty"`
			QR         string `json:"qr,omitempty"`
			Date       string `json:"date"`
		}
		fiscal := make([]receipt, 0, len(o.Fiscal))
		for _, f := range o.Fiscal {
			fiscal = append(fiscal, receipt{ExternalID: f.ExternalID, Type: f.Kind, Amount: f.Amount, FiscalSign: f.FiscalSign,
				TicketURL: f.Link, QR: f.QR, Date: f.Time.In(almaty).Format(rbsTimeLayout)})
		}
		ans["fiscalReceipts"] = fiscal
	}
	return ans
}

// rbsStatus is the older getOrderStatus.do, with its capitalised names.
func (c *call) rbsStatus() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	o, _, e := c.statusOrder(form)
	if e != nil {
		c.code = e.ErrorCode
		c.rbsAnswer(map[string]string{"ErrorCode": e.ErrorCode, "ErrorMessage": e.message(c.lang)})
		return
	}
	ans := map[string]any{
		"ErrorCode": rbsOK, "ErrorMessage": rbsSuccess.message(c.lang), "OrderStatus": int(o.Status), "OrderNumber": o.Number,
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
