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
	var err error
	if tok := form.Get("token"); tok != "" {
		c.merchant, err = c.s.auth.secret(tok, false, clientIP(c.r))
	} else {
		switch {
		case form.Get("userName") == "":
			c.rbsAnswer(rbsErr(rbsMissing, "User name can not be empty"))
			return nil, false
		case form.Get("password") == "":
			c.rbsAnswer(rbsErr(rbsMissing, "Password can not be empty"))
			return nil, false
		}
		c.merchant, err = c.s.auth.password(c.r.Context(), form.Get("userName"), form.Get("password"), clientIP(c.r))
	}
	var locked *errLocked
	switch {
	case errors.As(err, &locked):
		c.w.Header().Set("Retry-After", strconv.Itoa(int(locked.retryAfter.Seconds()+0.999)))
		c.rbsAnswer(rbsErr(rbsWrong, msgAccess+": "+locked.Error()))
		return nil, false
	case err != nil:
		// Busy: every password check slot is taken. Nothing was tried.
		c.w.Header().Set("Retry-After", "1")
		c.rbsAnswer(rbsErr(rbsSystemError, msgUnavailable))
		return nil, false
	case c.merchant == nil:
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
		c.s.log.Error().Err(err).Str("endpoint", c.endpoint).Msg("read order")
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
	var re *rbsError
	switch {
	case errors.As(err, &re):
		return re
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
	case errors.Is(err, payments.ErrKeyReused):
		return rbsErr(rbsWrong, "externalRefundId is already used for a refund of another amount")
	case errors.Is(err, payments.ErrCard):
		return rbsErr(rbsWrong, "Invalid card data")
	}
	c.s.log.Error().Err(err).Str("endpoint", c.endpoint).Msg("payments error")
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
	r, e := parseRegister(form, twoStage, time.Now())
	if e != nil {
		c.rbsAnswer(e)
		return
	}
	r.Merchant = c.merchant.Merchant
	r.SameAgain = true // plugins retry register.do after a lost answer
	r.Reply = c.reply(func(o *order.Order, _ *threeds.Outcome) (int, []byte) {
		return http.StatusOK, c.s.registered(o)
	})
	res, err := c.s.svc.Register(c.r.Context(), r)
	switch {
	case errors.Is(err, order.ErrDuplicateNumber):
		c.rbsAnswer(rbsErr(rbsDuplicate, msgDuplicate))
	case err != nil:
		c.rbsAnswer(c.rbsFail(err, rbsErr(rbsWrong, msgAmountBad)))
	case !c.took(res):
		c.write(http.StatusOK, c.s.registered(res.Order), nil)
	}
}

// registered is register.do's answer.
func (s *Server) registered(o *order.Order) []byte {
	b, _ := json.Marshal(map[string]string{"orderId": o.ID, "formUrl": s.formURL(o.ID)})
	return b
}

// parseRegister reads register.do's parameters into a registration, one
// rule at a time in the order RBS checks them; the first broken rule is
// the answer. What payments checks itself (the language, the amount's
// sign) it answers as an InputError naming the field; what RBS answers
// with a code of its own (an empty number, an unknown currency, a missing
// return URL) is checked here.
func parseRegister(form url.Values, twoStage bool, now time.Time) (payments.RegisterRequest, *rbsError) {
	r := payments.RegisterRequest{
		Number: form.Get("orderNumber"), Currency: form.Get("currency"), Description: form.Get("description"),
		Email: form.Get("email"), Customer: form.Get("clientId"), Language: form.Get("language"),
		ReturnURL: form.Get("returnUrl"), FailURL: form.Get("failUrl"), TwoStage: twoStage,
	}
	if r.Currency == "" {
		r.Currency = iso.CurrencyKZT
	}
	phone := form.Get("phone")
	rules := []struct {
		bad bool
		err *rbsError
	}{
		{r.Number == "", rbsErr(rbsDuplicate, "Order number can not be empty")},
		{!validOrderNumber(r.Number), rbsErr(rbsWrong, "Invalid orderNumber: 1 to 36 printable characters")},
		{form.Get("amount") == "", rbsErr(rbsMissing, msgAmountEmpty)},
		{!knownCurrency(r.Currency), rbsErr(rbsCurrency, msgCurrency)},
		{r.ReturnURL == "", rbsErr(rbsMissing, "Return URL can not be empty")},
		{checkURL(r.ReturnURL) != nil, rbsErr(rbsWrong, "Invalid returnUrl: must be an absolute http(s) URL")},
		{r.FailURL != "" && checkURL(r.FailURL) != nil, rbsErr(rbsWrong, "Invalid failUrl: must be an absolute http(s) URL")},
		{!validText(r.Description, maxDescription), rbsErr(rbsWrong, "Invalid description: at most 512 characters")},
		{r.Email != "" && !validEmail(r.Email), rbsErr(rbsWrong, "Invalid email")},
		{phone != "" && !validPhone(phone), rbsErr(rbsWrong, "Invalid phone")},
		{!validText(r.Customer, 255) || !validText(form.Get("pageView"), 20), rbsErr(rbsWrong, "Invalid clientId or pageView")},
	}
	for _, rule := range rules {
		if rule.bad {
			return r, rule.err
		}
	}
	var err error
	if r.Amount, err = parseAmount(form.Get("amount"), false); err != nil {
		return r, rbsErr(rbsWrong, msgAmountBad)
	}
	if jp := form.Get("jsonParams"); jp != "" {
		if err := json.Unmarshal([]byte(jp), &r.Params); err != nil || !validParams(r.Params) {
			return r, rbsErr(rbsWrong, "Invalid jsonParams: a JSON object of up to 50 string values")
		}
	}
	var e *rbsError
	if r.Lifetime, e = registerLifetime(form, now); e != nil {
		return r, e
	}
	return r, nil
}

// registerLifetime is the order's lifetime from sessionTimeoutSecs and
// expirationDate (the sooner of the two), 0 for the configured default.
func registerLifetime(form url.Values, now time.Time) (time.Duration, *rbsError) {
	var lifetime time.Duration
	if v := form.Get("sessionTimeoutSecs"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > maxLifetimeSecs {
			return 0, rbsErr(rbsWrong, "Invalid sessionTimeoutSecs")
		}
		lifetime = time.Duration(n) * time.Second
	}
	if v := form.Get("expirationDate"); v != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04:05", v, almaty)
		life := t.Sub(now)
		if err != nil || life <= 0 || life > maxLifetimeSecs*time.Second {
			return 0, rbsErr(rbsWrong, "Invalid expirationDate")
		}
		if lifetime == 0 || life < lifetime {
			lifetime = life
		}
	}
	return lifetime, nil
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

// followUp runs one of deposit, reverse, refund and decline: the order is
// named by orderId, and payments checks under its own lock that it is the
// caller's and what a repeated request answers.
func (c *call) followUp(form url.Values, run func(ctx context.Context, r payments.FollowUpRequest) (*payments.Result, error), amountErr *rbsError) {
	id := form.Get("orderId")
	if id == "" {
		c.rbsAnswer(rbsErr(rbsMissing, "Order ID can not be empty"))
		return
	}
	c.orderID = id
	res, err := run(c.r.Context(), payments.FollowUpRequest{OrderID: id, Merchant: c.merchant.Merchant,
		Reply: c.reply(func(*order.Order, *threeds.Outcome) (int, []byte) { return http.StatusOK, successBody })})
	c.took(res)
	if c.sent {
		return
	}
	if err != nil {
		c.rbsAnswer(c.rbsFail(err, amountErr))
		return
	}
	c.rbsAnswer(rbsSuccess)
}

var successBody, _ = json.Marshal(rbsSuccess)

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
	c.followUp(form, func(ctx context.Context, r payments.FollowUpRequest) (*payments.Result, error) {
		r.Amount = amount
		return c.s.svc.Complete(ctx, r)
	}, rbsErr(rbsWrong, msgDepositMax))
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
	c.followUp(form, func(ctx context.Context, r payments.FollowUpRequest) (*payments.Result, error) {
		r.Amount, r.Reply.Answer = amount, nil
		return c.s.svc.Cancel(ctx, r)
	}, rbsErr(rbsWrong, "Reversal amount exceeds the approved amount"))
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
	var op *order.Operation
	c.followUp(form, func(ctx context.Context, r payments.FollowUpRequest) (*payments.Result, error) {
		r.Amount, r.IdemKey, r.ExpectedDeposited, r.Reply.Answer = amount, key, expected, nil
		res, err := c.s.svc.Refund(ctx, r)
		var in *order.InputError
		switch {
		case errors.As(err, &in) && in.Field == "expectedDepositedAmount":
			return res, errExpectedDeposited
		case err != nil:
			return res, err
		}
		op = res.Op
		if e := refundOutcome(op); e != nil {
			return res, e
		}
		return res, nil
	}, rbsErr(rbsSystemError, msgRefundMax))
}

// errExpectedDeposited is refund.do's answer when expectedDepositedAmount
// does not hold.
var errExpectedDeposited = rbsErr(rbsSystemError, "Deposited amount does not match expectedDepositedAmount")

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
	c.followUp(form, func(ctx context.Context, r payments.FollowUpRequest) (*payments.Result, error) {
		r.Reply.Answer = nil
		return c.s.svc.Decline(ctx, r)
	}, rbsErr(rbsWrong, msgAmountBad))
}
