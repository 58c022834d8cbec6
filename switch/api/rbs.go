package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// The RBS facade answers as the BPC/RBS gateway that Kazakh banks run:
// form parameters in, JSON out, always HTTP 200 with errorCode in the body
// (plugins read the body, not the status), errorCode a string except in
// paymentorder.do, which answers a number as that gateway does.

// RBS error codes.
const (
	rbsOK          = "0"
	rbsDuplicate   = "1" // duplicate or empty order number
	rbsCurrency    = "3" // unknown currency
	rbsMissing     = "4" // mandatory parameter missing
	rbsWrong       = "5" // wrong value, access denied
	rbsUnknownOrd  = "6" // order id not registered
	rbsSystemError = "7" // system error, wrong order state
)

// RBS messages merchants' plugins match on; kept as that gateway words them.
const (
	msgSuccess     = "Success"
	msgAccess      = "Access denied"
	msgDuplicate   = "Order number is duplicated, order with given order number is processed already"
	msgNoOrder     = "Order ID is not registered"
	msgState       = "Payment must be in the correct state"
	msgDepositMax  = "Deposit amount exceeds the approved amount"
	msgRefundMax   = "Refund amount exceeds the deposited amount"
	msgAmountEmpty = "Amount can not be empty"
	msgAmountBad   = "Invalid amount"
	msgCurrency    = "Currency is unknown"
	// msgUnavailable answers what the switch could not make durable: the
	// request did nothing, and the same request later will be answered.
	msgUnavailable = "Service temporarily unavailable, try again later"
	msgInProgress  = "An operation on this order is in progress, check its status later"
)

type rbsError struct {
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

func (e *rbsError) Error() string { return e.ErrorCode + " " + e.ErrorMessage }

func rbsErr(code, msg string) *rbsError { return &rbsError{code, msg} }

var rbsSuccess = rbsError{rbsOK, msgSuccess}

func (s *Server) routesRBS() {
	for _, e := range []struct {
		name     string
		h        func(*call)
		postOnly bool
	}{
		{"register", func(c *call) { c.rbsRegister(false) }, false},
		{"registerPreAuth", func(c *call) { c.rbsRegister(true) }, false},
		{"deposit", (*call).rbsDeposit, false},
		{"reverse", (*call).rbsReverse, false},
		{"refund", (*call).rbsRefund, false},
		{"decline", (*call).rbsDecline, false},
		{"getOrderStatus", (*call).rbsStatus, false},
		{"getOrderStatusExtended", (*call).rbsStatusExtended, false},
		// Card data only in a POST body: never in a URL that proxies log.
		{"paymentorder", (*call).rbsPaymentOrder, true},
	} {
		path := "/payment/rest/" + e.name + ".do"
		s.handle(http.MethodPost, path, e.name, e.h)
		if !e.postOnly {
			// RBS accepts GET as well; plugins written against it use both.
			s.handle(http.MethodGet, path, e.name, e.h)
		}
	}
}

// rbsAnswer journals and sends an RBS answer.
func (c *call) rbsAnswer(v any) {
	switch e := v.(type) {
	case *rbsError:
		c.code = e.ErrorCode
	case rbsError:
		c.code = e.ErrorCode
	}
	if c.code == rbsOK {
		c.code = ""
	}
	b, _ := json.Marshal(v)
	c.write(http.StatusOK, b, nil)
}

// rbsBegin parses the form, records the request as it will be journaled
// (no credentials, no card data) and authenticates. On false the answer
// has been sent.
func (c *call) rbsBegin() (url.Values, bool) {
	c.reqPayload, _ = json.Marshal(map[string]string{"endpoint": c.endpoint})
	if c.r.Method == http.MethodPost {
		if ct := c.r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			c.rbsAnswer(rbsErr(rbsWrong, "Content-Type must be application/x-www-form-urlencoded"))
			return nil, false
		}
	}
	if err := c.r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			c.rbsAnswer(rbsErr(rbsWrong, "Request is too large"))
		} else {
			c.rbsAnswer(rbsErr(rbsWrong, "Malformed request"))
		}
		return nil, false
	}
	form := c.r.Form
	c.reqPayload = journalForm(c.endpoint, form)
	for k, v := range form {
		if len(v) > 1 {
			c.rbsAnswer(rbsErr(rbsWrong, "Parameter "+k+" is given more than once"))
			return nil, false
		}
	}
	if tok := form.Get("token"); tok != "" {
		c.merchant = c.s.auth.secret(tok, false)
	} else {
		switch {
		case form.Get("userName") == "":
			c.rbsAnswer(rbsErr(rbsMissing, "User name can not be empty"))
			return nil, false
		case form.Get("password") == "":
			c.rbsAnswer(rbsErr(rbsMissing, "Password can not be empty"))
			return nil, false
		}
		c.merchant = c.s.auth.password(form.Get("userName"), form.Get("password"))
	}
	if c.merchant == nil {
		c.rbsAnswer(rbsErr(rbsWrong, msgAccess))
		return nil, false
	}
	return form, true
}

// journalForm is the request as the journal keeps it: credentials left
// out, the PAN masked, the CVC2 dropped.
func journalForm(endpoint string, form url.Values) []byte {
	p := make(map[string]string, len(form))
	for k, v := range form {
		switch k {
		case "password", "token", "$CVC":
			continue
		case "$PAN":
			p[k] = iso.MaskPAN(strings.Join(v, ""))
			continue
		}
		p[k] = strings.Join(v, ",")
	}
	b, _ := json.Marshal(struct {
		Endpoint string            `json:"endpoint"`
		Params   map[string]string `json:"params"`
	}{endpoint, p})
	return b
}

// rbsOrder returns the caller's order by orderId; another merchant's order
// is "not registered", exactly as one that does not exist.
func (c *call) rbsOrder(ctx context.Context, id string) (*order.Order, *rbsError) {
	if id == "" {
		return nil, rbsErr(rbsMissing, "Order ID can not be empty")
	}
	o, err := c.s.svc.Get(ctx, id)
	return c.own(o, err)
}

func (c *call) own(o *order.Order, err error) (*order.Order, *rbsError) {
	switch {
	case errors.Is(err, order.ErrNotFound):
		return nil, rbsErr(rbsUnknownOrd, msgNoOrder)
	case err != nil:
		c.s.log.Error().Err(err).Str("endpoint", c.endpoint).Msg("api: read order")
		return nil, rbsErr(rbsSystemError, "System error")
	case o.Merchant != c.merchant.Merchant:
		return nil, rbsErr(rbsUnknownOrd, msgNoOrder)
	}
	c.orderID = o.ID
	return o, nil
}

// rbsFail maps a payments error to the RBS answer.
func (c *call) rbsFail(err error, amountErr *rbsError) *rbsError {
	var in *order.InputError
	switch {
	case errors.Is(err, order.ErrNotFound):
		return rbsErr(rbsUnknownOrd, msgNoOrder)
	case errors.Is(err, order.ErrAmount):
		return amountErr
	case errors.Is(err, order.ErrTransition):
		return rbsErr(rbsSystemError, msgState)
	case errors.As(err, &in):
		return rbsErr(rbsWrong, "Invalid "+in.Field+": "+in.Reason)
	case errors.Is(err, payments.ErrBankRefused):
		return rbsErr(rbsSystemError, "Operation declined by the bank")
	case errors.Is(err, payments.ErrUnavailable):
		return rbsErr(rbsSystemError, "Bank is unavailable, try again later")
	case errors.Is(err, payments.ErrStorage):
		return rbsErr(rbsSystemError, msgUnavailable)
	case errors.Is(err, payments.ErrInProgress):
		return rbsErr(rbsSystemError, msgInProgress)
	case errors.Is(err, payments.ErrCard):
		return rbsErr(rbsWrong, "Invalid card data")
	}
	c.s.log.Error().Err(err).Str("endpoint", c.endpoint).Msg("api: payments error")
	return rbsErr(rbsSystemError, "System error")
}

// almaty is the gateway's local time for expirationDate: Kazakhstan keeps
// one zone, UTC+5, since March 2024.
var almaty = time.FixedZone("UTC+5", 5*3600)

func (c *call) rbsRegister(twoStage bool) {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	ctx := c.r.Context()
	number := form.Get("orderNumber")
	switch {
	case number == "":
		c.rbsAnswer(rbsErr(rbsDuplicate, "Order number can not be empty"))
		return
	case !validOrderNumber(number):
		c.rbsAnswer(rbsErr(rbsWrong, "Invalid orderNumber: 1 to 36 printable characters"))
		return
	}
	amount, ok := c.rbsAmount(form, false, false)
	if !ok {
		return
	}
	currency := form.Get("currency")
	if currency == "" {
		currency = iso.CurrencyKZT
	}
	if !knownCurrency(currency) {
		c.rbsAnswer(rbsErr(rbsCurrency, msgCurrency))
		return
	}
	returnURL, failURL := form.Get("returnUrl"), form.Get("failUrl")
	if returnURL == "" {
		c.rbsAnswer(rbsErr(rbsMissing, "Return URL can not be empty"))
		return
	}
	if checkURL(returnURL) != nil {
		c.rbsAnswer(rbsErr(rbsWrong, "Invalid returnUrl: must be an absolute http(s) URL"))
		return
	}
	if failURL != "" && checkURL(failURL) != nil {
		c.rbsAnswer(rbsErr(rbsWrong, "Invalid failUrl: must be an absolute http(s) URL"))
		return
	}
	lang, email, phone := form.Get("language"), form.Get("email"), form.Get("phone")
	var params map[string]string
	var lifetime time.Duration
	switch {
	case !validText(form.Get("description"), maxDescription):
		c.rbsAnswer(rbsErr(rbsWrong, "Invalid description: at most 512 characters"))
		return
	case !validLanguage(lang):
		c.rbsAnswer(rbsErr(rbsWrong, "Invalid language: ru, kk or en"))
		return
	case email != "" && !validEmail(email):
		c.rbsAnswer(rbsErr(rbsWrong, "Invalid email"))
		return
	case phone != "" && !validPhone(phone):
		c.rbsAnswer(rbsErr(rbsWrong, "Invalid phone"))
		return
	case !validText(form.Get("clientId"), 255) || !validText(form.Get("pageView"), 20):
		c.rbsAnswer(rbsErr(rbsWrong, "Invalid clientId or pageView"))
		return
	}
	if jp := form.Get("jsonParams"); jp != "" {
		if err := json.Unmarshal([]byte(jp), &params); err != nil || !validParams(params) {
			c.rbsAnswer(rbsErr(rbsWrong, "Invalid jsonParams: a JSON object of up to 50 string values"))
			return
		}
	}
	if v := form.Get("sessionTimeoutSecs"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > maxLifetimeSecs {
			c.rbsAnswer(rbsErr(rbsWrong, "Invalid sessionTimeoutSecs"))
			return
		}
		lifetime = time.Duration(n) * time.Second
	}
	if v := form.Get("expirationDate"); v != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04:05", v, almaty)
		life := time.Until(t)
		if err != nil || life <= 0 || life > maxLifetimeSecs*time.Second {
			c.rbsAnswer(rbsErr(rbsWrong, "Invalid expirationDate"))
			return
		}
		if lifetime == 0 || life < lifetime {
			lifetime = life
		}
	}
	ctx, sent := c.answerWith(ctx, func(o *order.Order, _ *threeds.Outcome) any {
		return map[string]string{"orderId": o.ID, "formUrl": c.s.formURL(o.ID)}
	})
	o, err := c.s.svc.Register(ctx, payments.RegisterRequest{
		Merchant: c.merchant.Merchant, Number: number, Amount: amount, Currency: currency,
		Description: form.Get("description"), Email: email, Customer: form.Get("clientId"), Language: lang,
		ReturnURL: returnURL, FailURL: failURL, Params: params, TwoStage: twoStage, Lifetime: lifetime,
		Journal: c.requestEntry(),
	})
	if errors.Is(err, order.ErrDuplicateNumber) {
		// The same registration again (a retry after a lost answer) gets
		// the first answer while the order still waits for payment; any
		// other reuse of the number is the gateway's duplicate error.
		prev, perr := c.s.svc.ByNumber(ctx, c.merchant.Merchant, number)
		if perr == nil && prev.Status == order.StatusRegistered && prev.Amount == amount &&
			prev.Currency == currency && prev.ReturnURL == returnURL && prev.TwoStage == twoStage {
			c.orderID, c.replay = prev.ID, true
			c.rbsAnswer(map[string]string{"orderId": prev.ID, "formUrl": c.s.formURL(prev.ID)})
			return
		}
		c.rbsAnswer(rbsErr(rbsDuplicate, msgDuplicate))
		return
	}
	if err != nil {
		c.rbsAnswer(c.rbsFail(err, rbsErr(rbsWrong, msgAmountBad)))
		return
	}
	if sent() {
		return
	}
	c.orderID, c.reqJournaled = o.ID, true
	c.rbsAnswer(map[string]string{"orderId": o.ID, "formUrl": c.s.formURL(o.ID)})
}

func validPhone(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if len(s) < 5 || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (s *Server) formURL(id string) string { return s.cfg.PaymentPageURL + "/" + id }

// followUp runs one of deposit, reverse, refund and decline under the
// order's lock: load and check ownership, answer a repeat from the order
// itself, otherwise call payments.
func (c *call) followUp(form url.Values, run func(ctx context.Context, o *order.Order) *rbsError) {
	ctx := c.r.Context()
	id := form.Get("orderId")
	if id == "" {
		c.rbsAnswer(rbsErr(rbsMissing, "Order ID can not be empty"))
		return
	}
	unlock := c.s.orders.lock(id)
	defer unlock()
	o, e := c.rbsOrder(ctx, id)
	if e != nil {
		c.rbsAnswer(e)
		return
	}
	if e := run(ctx, o); e != nil {
		c.rbsAnswer(e)
		return
	}
	if !c.sent {
		c.rbsAnswer(rbsSuccess)
	}
}

// rbsAmount reads the amount parameter (zero allowed when zeroOK, as
// deposit.do's "the whole hold"; absence too when optional); a missing or
// bad one is answered here.
func (c *call) rbsAmount(form url.Values, zeroOK, optional bool) (int64, bool) {
	if optional && form.Get("amount") == "" {
		return 0, true
	}
	amount, err := parseAmount(form.Get("amount"), zeroOK)
	if errors.Is(err, errRequired) {
		c.rbsAnswer(rbsErr(rbsMissing, msgAmountEmpty))
		return 0, false
	} else if err != nil {
		c.rbsAnswer(rbsErr(rbsWrong, msgAmountBad))
		return 0, false
	}
	return amount, true
}

func (c *call) rbsDeposit() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	amount, ok := c.rbsAmount(form, true, false)
	if !ok {
		return
	}
	c.followUp(form, func(ctx context.Context, o *order.Order) *rbsError {
		// A deposit is made once; the same deposit asked again (0 meaning
		// the whole hold) answers success rather than "wrong state".
		if o.Status == order.StatusDeposited || o.Status == order.StatusRefunded {
			for _, op := range o.Ops {
				if op.Type == order.OpCompletion && (op.Amount == amount || amount == 0 && op.Amount == o.Approved) {
					c.replay = true
					return nil
				}
			}
		}
		actx, sent := c.answerWith(ctx, func(*order.Order, *threeds.Outcome) any { return rbsSuccess })
		_, op, err := c.s.svc.Complete(actx, payments.FollowUpRequest{OrderID: o.ID, Amount: amount, Journal: c.requestEntry()})
		c.reqJournaled = op != nil
		if err != nil {
			return c.rbsFail(err, rbsErr(rbsWrong, msgDepositMax))
		}
		sent()
		return nil
	})
}

func (c *call) rbsReverse() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	// amount, when given, reverses that much of the hold and leaves the
	// rest approved; absent or 0, all of it.
	amount, ok := c.rbsAmount(form, true, true)
	if !ok {
		return
	}
	c.followUp(form, func(ctx context.Context, o *order.Order) *rbsError {
		// reverse.do has no idempotency key, so a repeat is recognised by
		// its effect: an order reversed already, or a partial reversal of
		// the same amount as the latest one. A shop that means to release
		// the same part twice must say so another way (the JSON API's
		// Idempotency-Key), so a retry after a lost answer never releases
		// twice.
		if o.Status == order.StatusReversed {
			c.replay = true
			return nil
		}
		if last := lastReversal(o); amount != 0 && last != nil && last.Amount == amount && last.Status != order.OpDeclined {
			c.replay = true
			return nil
		}
		_, op, err := c.s.svc.Cancel(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: amount, Journal: c.requestEntry()})
		c.reqJournaled = op != nil
		if err != nil {
			return c.rbsFail(err, rbsErr(rbsWrong, "Reversal amount exceeds the approved amount"))
		}
		return nil
	})
}

// lastReversal is the order's latest merchant reversal, or nil.
func lastReversal(o *order.Order) *order.Operation {
	for i := len(o.Ops) - 1; i >= 0; i-- {
		if o.Ops[i].Type == order.OpReversal {
			return &o.Ops[i]
		}
	}
	return nil
}

func (c *call) rbsRefund() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	amount, ok := c.rbsAmount(form, false, false)
	if !ok {
		return
	}
	ext := form.Get("externalRefundId")
	if !validText(ext, 64) {
		c.rbsAnswer(rbsErr(rbsWrong, "Invalid externalRefundId"))
		return
	}
	var expected *int64
	if v := form.Get("expectedDepositedAmount"); v != "" {
		n, err := parseAmount(v, true)
		if err != nil {
			c.rbsAnswer(rbsErr(rbsWrong, "Invalid expectedDepositedAmount"))
			return
		}
		expected = &n
	}
	key := ""
	if ext != "" {
		key = "rbs-refund:" + ext
	}
	c.followUp(form, func(ctx context.Context, o *order.Order) *rbsError {
		if prev := o.FindIdem(order.OpRefund, key); prev != nil && prev.Status != order.OpPending {
			if prev.Amount != amount && prev.Requested != amount {
				return rbsErr(rbsWrong, "externalRefundId is already used for a refund of another amount")
			}
			c.replay = true
			return refundOutcome(prev)
		}
		_, op, err := c.s.svc.Refund(ctx, payments.FollowUpRequest{
			OrderID: o.ID, Amount: amount, IdemKey: key, ExpectedDeposited: expected, Journal: c.requestEntry(),
		})
		c.reqJournaled = op != nil
		var in *order.InputError
		switch {
		case errors.As(err, &in) && in.Field == "expectedDepositedAmount":
			return rbsErr(rbsSystemError, "Deposited amount does not match expectedDepositedAmount")
		case err != nil:
			return c.rbsFail(err, rbsErr(rbsSystemError, msgRefundMax))
		}
		return refundOutcome(op)
	})
}

func refundOutcome(op *order.Operation) *rbsError {
	switch op.Status {
	case order.OpApproved, order.OpQueued:
		return nil
	case order.OpTimeout:
		return rbsErr(rbsSystemError, "Bank did not answer; the refund is cancelled, try again")
	}
	return rbsErr(rbsSystemError, "Refund declined by the bank")
}

func (c *call) rbsDecline() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	if form.Get("orderId") == "" && form.Get("orderNumber") != "" {
		// merchantLogin names the merchant for agents acting for several;
		// here it must be the caller itself.
		if ml := form.Get("merchantLogin"); ml != "" && ml != c.merchant.UserName && ml != c.merchant.Merchant {
			c.rbsAnswer(rbsErr(rbsWrong, msgAccess))
			return
		}
		o, e := c.own(c.s.svc.ByNumber(c.r.Context(), c.merchant.Merchant, form.Get("orderNumber")))
		if e != nil {
			c.rbsAnswer(e)
			return
		}
		form.Set("orderId", o.ID)
	}
	c.followUp(form, func(ctx context.Context, o *order.Order) *rbsError {
		if o.Status == order.StatusDeclined && o.DeclineReason == "merchant_declined" {
			c.replay = true
			return nil
		}
		n, err := c.s.svc.Decline(ctx, o.ID, c.requestEntry())
		c.reqJournaled = err == nil && n != nil
		if err != nil {
			return c.rbsFail(err, rbsErr(rbsWrong, msgAmountBad))
		}
		return nil
	})
}
