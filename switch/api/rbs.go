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

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// The RBS facade answers as the BPC/RBS gateway that Kazakh banks run:
// form parameters in, JSON out, always HTTP 200 with errorCode in the body
// (plugins read the body, not the status), errorCode a string except in
// paymentorder.do and paymentOrderBinding.do, which answer a number as
// that gateway does. An unknown
// method is an answer in the same form (errorCode 5), and a known one
// called with the wrong HTTP method is 405 with that body.

// RBS error codes.
const (
	rbsOK          = "0"
	rbsDuplicate   = "1" // duplicate or empty order number
	rbsBinding     = "2" // no such binding, or not in the state asked (and getBindings: none)
	rbsCurrency    = "3" // unknown currency
	rbsMissing     = "4" // mandatory parameter missing
	rbsWrong       = "5" // wrong value, access denied
	rbsUnknownOrd  = "6" // order id not registered
	rbsSystemError = "7" // system error, wrong order state
)

// rbsError is an RBS answer's errorCode with its message, rendered in the
// request's language when the answer is written.
type rbsError struct {
	ErrorCode string
	msg       loc
	en        string // the gateway's English wording, when it has its own
}

func rbsErr(code string, t text, args ...any) *rbsError {
	return &rbsError{ErrorCode: code, msg: l(t, args...)}
}

func (e *rbsError) message(lang string) string {
	if lang == langEN && e.en != "" {
		return e.en
	}
	return e.msg.in(lang)
}

func (e *rbsError) Error() string { return e.ErrorCode + " " + e.message(langEN) }

// rbsBody is an RBS answer's error fields as they go on the wire.
type rbsBody struct {
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

var rbsSuccess = rbsErr(rbsOK, tSuccess)

// rbsMethod is one method of the facade.
type rbsMethod struct {
	name     string
	h        func(*call)
	postOnly bool
}

func (s *Server) rbsMethods() []rbsMethod {
	return []rbsMethod{
		{"register", func(c *call) { c.rbsRegister(false) }, false},
		{"registerPreAuth", func(c *call) { c.rbsRegister(true) }, false},
		{"deposit", (*call).rbsDeposit, false},
		{"reverse", (*call).rbsReverse, false},
		{"refund", (*call).rbsRefund, false},
		{"decline", (*call).rbsDecline, false},
		{"getOrderStatus", (*call).rbsStatus, false},
		{"getOrderStatusExtended", (*call).rbsStatusExtended, false},
		{"getLastOrdersForMerchants", (*call).rbsLastOrders, false},
		{"addParams", (*call).rbsAddParams, false},
		// Card data only in a POST body: never in a URL that proxies log.
		{"paymentorder", (*call).rbsPaymentOrder, true},
		// Stored cards (bindings): rbs_bindings.go. A CVC, like a card
		// number, only in a POST body.
		{"paymentOrderBinding", (*call).rbsPaymentOrderBinding, true},
		{"getBindings", (*call).rbsGetBindings, false},
		{"getBindingsByCardOrId", (*call).rbsGetBindingsByCardOrID, true},
		{"unBindCard", func(c *call) { c.rbsBindingChange(c.s.svc.UnbindCard) }, false},
		{"bindCard", func(c *call) { c.rbsBindingChange(c.s.svc.BindCard) }, false},
		{"extendBinding", (*call).rbsExtendBinding, false},
	}
}

func (s *Server) routesRBS() {
	allowed := map[string]string{}
	for _, e := range s.rbsMethods() {
		path := "/payment/rest/" + e.name + ".do"
		s.handle(http.MethodPost, path, e.name, e.h)
		allowed[path] = http.MethodPost
		if !e.postOnly {
			// RBS accepts GET as well; plugins written against it use both.
			s.handle(http.MethodGet, path, e.name, e.h)
			allowed[path] = "GET, POST"
		}
	}
	// Everything else under the prefix: a method the facade does not have,
	// or one of its methods with another HTTP method.
	s.mux.HandleFunc("/payment/rest/", func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, "rbs_unknown", func(c *call) {
			c.reqPayload, _ = json.Marshal(map[string]string{"method": r.Method, "path": r.URL.Path})
			c.lang = queryLanguage(r)
			name := strings.TrimPrefix(r.URL.Path, "/payment/rest/")
			if len(name) > 64 {
				name = name[:64] + "..."
			}
			if allow, ok := allowed[r.URL.Path]; ok {
				w.Header().Set("Allow", allow)
				e := rbsErr(rbsWrong, tHTTPMethod, r.Method, name)
				c.code = e.ErrorCode
				b, _ := json.Marshal(rbsBody{e.ErrorCode, e.message(c.lang)})
				c.write(http.StatusMethodNotAllowed, b, nil)
				return
			}
			c.rbsAnswer(rbsErr(rbsWrong, tUnknownMethod, name))
		})
	})
}

// queryLanguage is the language of an answer given before the form is
// read: the query's language parameter, else Russian.
func queryLanguage(r *http.Request) string {
	if lang, ok := normLanguage(r.URL.Query().Get("language")); ok && lang != "" {
		return lang
	}
	return langRU
}

// numericCode says whether an endpoint's errorCode is a number: the
// gateway's server-to-server payments answer so.
func numericCode(endpoint string) bool {
	return endpoint == "paymentorder" || endpoint == "paymentOrderBinding"
}

// rbsAnswer journals and sends an RBS answer: an *rbsError in the call's
// language (numeric in the payments, as their every answer), or a body of
// the method's own.
func (c *call) rbsAnswer(v any) {
	if e, ok := v.(*rbsError); ok {
		c.code = e.ErrorCode
		msg := e.message(c.lang)
		v = rbsBody{e.ErrorCode, msg}
		if numericCode(c.endpoint) {
			n, _ := strconv.Atoi(e.ErrorCode)
			v = map[string]any{"errorCode": n, "errorMessage": msg, "error": msg}
		}
	}
	if c.code == rbsOK {
		c.code = ""
	}
	b, _ := json.Marshal(v)
	c.write(http.StatusOK, b, nil)
}

// successBody is the answer of a follow-up that went through.
func (c *call) successBody() []byte {
	b, _ := json.Marshal(rbsBody{rbsOK, rbsSuccess.message(c.lang)})
	return b
}

// rbsOrder returns the caller's order by orderId; another merchant's order
// is "not registered", exactly as one that does not exist.
func (c *call) rbsOrder(ctx context.Context, id string) (*order.Order, *rbsError) {
	if id == "" {
		return nil, empty(rbsMissing, "orderId")
	}
	o, err := c.s.svc.Get(ctx, id)
	return c.own(o, err)
}

func (c *call) own(o *order.Order, err error) (*order.Order, *rbsError) {
	switch {
	case errors.Is(err, order.ErrNotFound):
		return nil, rbsErr(rbsUnknownOrd, tNoOrder)
	case err != nil:
		c.s.log.Error().Err(err).Str("endpoint", c.endpoint).Msg("read order")
		return nil, rbsErr(rbsSystemError, tSystem)
	case o.Merchant != c.merchant.Merchant:
		return nil, rbsErr(rbsUnknownOrd, tNoOrder)
	}
	c.orderID = o.ID
	return o, nil
}

// checkMerchantLogin: merchantLogin names the merchant for agents acting
// for several; here it must be the caller itself.
func (c *call) checkMerchantLogin(form url.Values) *rbsError {
	ml := form.Get("merchantLogin")
	if ml == "" || ml == c.merchant.UserName || ml == c.merchant.Merchant {
		return nil
	}
	return rbsErr(rbsWrong, tMerchantLogin, "merchantLogin")
}

// orderRef returns the id of the caller's order a request names: by
// orderId, or by orderNumber (with merchantLogin, if any, the caller's
// own login). With both, they must name the same order.
func (c *call) orderRef(form url.Values) (string, *rbsError) {
	if e := c.checkMerchantLogin(form); e != nil {
		return "", e
	}
	id, number := form.Get("orderId"), form.Get("orderNumber")
	if number == "" {
		if id == "" {
			return "", empty(rbsMissing, "orderId")
		}
		return id, nil
	}
	o, err := c.s.svc.ByNumber(c.r.Context(), c.merchant.Merchant, number)
	if errors.Is(err, order.ErrNotFound) {
		return "", rbsErr(rbsUnknownOrd, tNoOrderNumber)
	}
	if _, e := c.own(o, err); e != nil {
		if e.ErrorCode == rbsUnknownOrd {
			e = rbsErr(rbsUnknownOrd, tNoOrderNumber)
		}
		return "", e
	}
	if id != "" && id != o.ID {
		return "", invalid("orderNumber", l(rOtherOrder))
	}
	return o.ID, nil
}

// rbsFail maps a payments error to the RBS answer.
func (c *call) rbsFail(err error, amountErr *rbsError) *rbsError {
	var in *order.InputError
	var re *rbsError
	switch {
	case errors.As(err, &re):
		return re
	case errors.Is(err, order.ErrNoCard):
		return rbsErr(rbsBinding, tBindingNotFound)
	case errors.Is(err, order.ErrCardUnbound):
		return rbsErr(rbsBinding, tBindingInactive)
	case errors.Is(err, order.ErrCardActive):
		return rbsErr(rbsBinding, tBindingActive)
	case errors.Is(err, order.ErrCardExpired):
		return rbsErr(rbsBinding, tBindingExpired)
	case errors.Is(err, order.ErrCardOwner):
		return invalid("bindingId", l(rBindingOwner))
	case errors.Is(err, order.ErrCardOther):
		return invalid("bindingId", l(rOtherBinding))
	case errors.Is(err, order.ErrNotFound):
		return rbsErr(rbsUnknownOrd, tNoOrder)
	case errors.Is(err, order.ErrAmount):
		return amountErr
	case errors.Is(err, order.ErrTransition):
		return rbsErr(rbsSystemError, tState)
	case errors.As(err, &in):
		// payments names the stored card's fields its own way.
		field := map[string]string{"cardId": "bindingId", "expiry": "newExpiry"}[in.Field]
		if field == "" {
			field = in.Field
		}
		return invalid(field, l(rReason, in.Reason))
	case errors.Is(err, payments.ErrBankRefused):
		return rbsErr(rbsSystemError, tBankDeclined)
	case errors.Is(err, payments.ErrUnavailable):
		return rbsErr(rbsSystemError, tBankDown)
	case errors.Is(err, payments.ErrStorage):
		return rbsErr(rbsSystemError, tUnavailable)
	case errors.Is(err, payments.ErrInProgress):
		return rbsErr(rbsSystemError, tInProgress)
	case errors.Is(err, payments.ErrKeyReused):
		return rbsErr(rbsWrong, tKeyReused)
	case errors.Is(err, payments.ErrCard):
		return invalid("card data", l(rReason, strings.TrimPrefix(err.Error(), payments.ErrCard.Error()+": ")))
	}
	c.s.log.Error().Err(err).Str("endpoint", c.endpoint).Msg("payments error")
	return rbsErr(rbsSystemError, tSystem)
}

// almaty is the gateway's local time for expirationDate and the order
// lists' periods: Kazakhstan keeps one zone, UTC+5, since March 2024.
var almaty = time.FixedZone("UTC+5", 5*3600)

func (c *call) rbsRegister(twoStage bool) {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	r, e := parseRegister(form, c.merchant, twoStage, time.Now())
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
		c.rbsAnswer(rbsErr(rbsDuplicate, tDuplicate))
	case err != nil:
		c.rbsAnswer(c.rbsFail(err, rbsErr(rbsWrong, tAmountBad)))
	case !c.took(res):
		c.write(http.StatusOK, c.s.registered(res.Order), nil)
	}
}

// registered is register.do's answer.
func (s *Server) registered(o *order.Order) []byte {
	b, _ := json.Marshal(map[string]string{"orderId": o.ID, "formUrl": s.formURL(o.ID)})
	return b
}

func (s *Server) formURL(id string) string { return s.cfg.PaymentPageURL + "/" + id }

// followUp runs one of deposit, reverse, refund and decline: the order is
// named by orderId or orderNumber, and payments checks under its own lock
// that it is the caller's and what a repeated request answers.
func (c *call) followUp(form url.Values, run func(ctx context.Context, r payments.FollowUpRequest) (*payments.Result, error), amountErr *rbsError) {
	id, e := c.orderRef(form)
	if e != nil {
		c.rbsAnswer(e)
		return
	}
	c.orderID = id
	success := c.successBody()
	res, err := run(c.r.Context(), payments.FollowUpRequest{OrderID: id, Merchant: c.merchant.Merchant,
		Reply: c.reply(func(*order.Order, *threeds.Outcome) (int, []byte) { return http.StatusOK, success })})
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

// rbsAmount reads the amount parameter (zero allowed when zeroOK, as
// deposit.do's "the whole hold"; absence too when optional); a missing or
// bad one is answered here.
func (c *call) rbsAmount(form url.Values, zeroOK, optional bool) (int64, bool) {
	if optional && form.Get("amount") == "" {
		return 0, true
	}
	amount, err := parseAmount(form.Get("amount"), zeroOK)
	if errors.Is(err, errRequired) {
		c.rbsAnswer(rbsErr(rbsMissing, tAmountEmpty))
		return 0, false
	} else if err != nil {
		c.rbsAnswer(rbsErr(rbsWrong, tAmountBad))
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
	}, rbsErr(rbsWrong, tDepositMax))
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
	}, rbsErr(rbsWrong, tReverseMax))
}

func (c *call) rbsRefund() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	// amount 0 refunds all that is left, as the gateway documents it.
	amount, ok := c.rbsAmount(form, true, false)
	if !ok {
		return
	}
	ext := form.Get("externalRefundId")
	if !validText(ext, 64) {
		c.rbsAnswer(invalid("externalRefundId", l(rMaxChars, 64)))
		return
	}
	var expected *int64
	if v := form.Get("expectedDepositedAmount"); v != "" {
		n, err := parseAmount(v, true)
		if err != nil {
			c.rbsAnswer(invalid("expectedDepositedAmount", l(rMinorUnits)))
			return
		}
		expected = &n
	}
	key := ""
	if ext != "" {
		key = order.RefundIdemKey(ext)
	}
	c.followUp(form, func(ctx context.Context, r payments.FollowUpRequest) (*payments.Result, error) {
		r.Amount, r.IdemKey, r.ExpectedDeposited, r.Reply.Answer = amount, key, expected, nil
		res, err := c.s.svc.Refund(ctx, r)
		var in *order.InputError
		switch {
		case errors.As(err, &in) && in.Field == "expectedDepositedAmount":
			return res, rbsErr(rbsSystemError, tExpected)
		case err != nil:
			return res, err
		}
		if e := refundOutcome(res.Op); e != nil {
			return res, e
		}
		return res, nil
	}, rbsErr(rbsSystemError, tRefundMax))
}

func refundOutcome(op *order.Operation) *rbsError {
	switch op.Status {
	case order.OpApproved, order.OpQueued:
		return nil
	case order.OpTimeout:
		return rbsErr(rbsSystemError, tRefundTimeout)
	}
	return rbsErr(rbsSystemError, tRefundDeclined)
}

func (c *call) rbsDecline() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	c.followUp(form, func(ctx context.Context, r payments.FollowUpRequest) (*payments.Result, error) {
		r.Reply.Answer = nil
		return c.s.svc.Decline(ctx, r)
	}, rbsErr(rbsWrong, tAmountBad))
}
