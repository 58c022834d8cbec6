package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// getLastOrdersForMerchants.do lists the caller's orders of a period, a
// page at a time, each as getOrderStatusExtended.do shows it.
const (
	defaultPageSize = 100
	maxPageSize     = 200
	rbsListLayout   = "20060102150405"
	// paidWithin bounds how long before a period an order paid in it can
	// have been registered: register.do's lifetimes end within 30 days.
	paidWithin = (maxLifetimeSecs + 24*3600) * time.Second
)

var listStates = map[string]bool{"CREATED": true, "APPROVED": true, "DEPOSITED": true, "DECLINED": true,
	"REVERSED": true, "REFUNDED": true, "STARTED": true}

// listQuery is a getLastOrdersForMerchants.do request.
type listQuery struct {
	from, to   time.Time
	page, size int
	states     map[string]bool
	byCreation bool
}

func (c *call) parseListQuery(form url.Values) (listQuery, *rbsError) {
	q := listQuery{size: defaultPageSize, states: map[string]bool{}}
	for _, p := range []string{"from", "to"} {
		if form.Get(p) == "" {
			return q, empty(rbsMissing, p)
		}
	}
	var err error
	if q.from, err = time.ParseInLocation(rbsListLayout, form.Get("from"), almaty); err != nil {
		return q, invalid("from", l(rDate))
	}
	if q.to, err = time.ParseInLocation(rbsListLayout, form.Get("to"), almaty); err != nil {
		return q, invalid("to", l(rDate))
	}
	if !q.to.After(q.from) {
		return q, invalid("to", l(rFromTo))
	}
	if v := form.Get("size"); v != "" {
		if q.size, err = strconv.Atoi(v); err != nil || q.size < 1 || q.size > maxPageSize {
			return q, invalid("size", l(rSize, maxPageSize))
		}
	}
	if v := form.Get("page"); v != "" {
		if q.page, err = strconv.Atoi(v); err != nil || q.page < 0 || q.page > 1_000_000 {
			return q, invalid("page", l(rPage))
		}
	}
	states := form.Get("transactionStates")
	if strings.TrimSpace(states) == "" {
		states = "CREATED,APPROVED,DEPOSITED,DECLINED,REVERSED,REFUNDED"
	}
	for _, s := range strings.Split(states, ",") {
		s = strings.ToUpper(strings.TrimSpace(s))
		if !listStates[s] {
			return q, invalid("transactionStates", l(rStates))
		}
		q.states[s] = true
	}
	if q.states["CREATED"] {
		q.states["STARTED"] = true // paying through 3-D Secure is still unpaid
	}
	for _, m := range strings.Split(form.Get("merchants"), ",") {
		if m = strings.TrimSpace(m); m != "" && m != c.merchant.UserName && m != c.merchant.Merchant {
			return q, invalid("merchants", l(rOwnLogin))
		}
	}
	switch strings.ToLower(form.Get("searchByCreatedDate")) {
	case "", "false":
	case "true":
		q.byCreation = true
	default:
		return q, invalid("searchByCreatedDate", l(rBool))
	}
	return q, nil
}

// match says whether o belongs in the list: its state is asked for, and
// its creation (byCreation) or its payment falls in the period. Orders
// nobody paid have no payment date, so only a search by creation finds
// them, as the gateway documents.
func (q listQuery) match(o *order.Order) bool {
	if !q.states[paymentStates[o.Status]] {
		return false
	}
	t := o.CreatedAt
	if !q.byCreation {
		op := authOp(o)
		if op == nil {
			return false
		}
		t = op.Time
	}
	return !t.Before(q.from) && t.Before(q.to)
}

func (c *call) rbsLastOrders() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	lang, langOK := normLanguage(form.Get("language"))
	q, e := c.parseListQuery(form)
	if e == nil && !langOK {
		e = invalid("language", l(rLanguage))
	}
	if e != nil {
		c.rbsAnswer(e)
		return
	}
	ctx := c.r.Context()
	scanFrom := q.from
	if !q.byCreation {
		scanFrom = q.from.Add(-paidWithin)
	}
	now := time.Now()
	success := rbsSuccess.message(c.lang)
	statuses := []map[string]any{}
	total, first := 0, q.page*q.size
	err := c.s.svc.Store().List(c.merchant.Merchant, scanFrom, q.to, func(o *order.Order) bool {
		if order.Expired(o, now) {
			// The store's copy waits for the periodic sweep; the list
			// shows what a status request would.
			if n, err := c.s.svc.Get(ctx, o.ID); err == nil {
				o = n
			}
		}
		if !q.match(o) {
			return true
		}
		if total >= first && total < first+q.size {
			olang := lang
			if olang == "" {
				olang = o.Language
			}
			statuses = append(statuses, statusExtended(o, olang, success))
		}
		total++
		return ctx.Err() == nil
	})
	if err != nil || ctx.Err() != nil {
		c.s.log.Error().Err(err).Str("endpoint", c.endpoint).Msg("list orders")
		c.rbsAnswer(rbsErr(rbsSystemError, tSystem))
		return
	}
	c.rbsAnswer(map[string]any{"errorCode": rbsOK, "errorMessage": success, "orderStatuses": statuses,
		"totalCount": total, "page": q.page, "pageSize": q.size})
}

// addParams.do adds the merchant's own parameters to an order: params, a
// JSON object as jsonParams in register.do, or PHP's params[name]=value
// form fields.
func (c *call) rbsAddParams() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	params := map[string]string{}
	for k, v := range form {
		if name, ok := strings.CutPrefix(k, "params["); ok && strings.HasSuffix(name, "]") {
			params[strings.TrimSuffix(name, "]")] = v[0]
		}
	}
	if raw := form.Get("params"); raw != "" {
		p, e := parseJSONParams("params", []byte(raw))
		if e != nil {
			c.rbsAnswer(e)
			return
		}
		for k, v := range p {
			params[k] = v
		}
	} else if len(params) == 0 {
		c.rbsAnswer(empty(rbsMissing, "params"))
		return
	} else if len(params) > maxParams {
		c.rbsAnswer(invalid("params", l(rParamsCount, maxParams)))
		return
	}
	for k, v := range params {
		if k == "" || !validText(k, maxParamKey) {
			c.rbsAnswer(invalid("params", l(rParamName, k, maxParamKey)))
			return
		}
		if !validText(v, maxRBSParamValue) {
			c.rbsAnswer(invalid("params", l(rParamValue, k, maxRBSParamValue)))
			return
		}
	}
	id, e := c.orderRef(form)
	if e != nil {
		c.rbsAnswer(e)
		return
	}
	c.orderID = id
	success := c.successBody()
	res, err := c.s.svc.AddParams(context.WithoutCancel(c.r.Context()), payments.ParamsRequest{
		OrderID: id, Merchant: c.merchant.Merchant, Params: params, Max: maxParams,
		Reply: c.reply(func(*order.Order, *threeds.Outcome) (int, []byte) { return http.StatusOK, success }),
	})
	if c.took(res) {
		return
	}
	var in *order.InputError
	switch {
	case errors.As(err, &in) && in.Field == "params":
		c.rbsAnswer(invalid("params", l(rParamsCount, maxParams)))
	case err != nil:
		c.rbsAnswer(c.rbsFail(err, rbsErr(rbsWrong, tAmountBad)))
	default:
		c.rbsAnswer(rbsSuccess)
	}
}
