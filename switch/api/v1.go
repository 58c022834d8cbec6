package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// The JSON API v1: resources, HTTP status codes, typed errors, bearer API
// keys and Idempotency-Key (draft-ietf-httpapi-idempotency-key-header:
// replay on the same key and body, 422 on the same key with another body,
// 409 while the first request is still running).

func (s *Server) routesV1() {
	s.handle(http.MethodPost, "/v1/orders", "v1_create_order", (*call).v1Create)
	s.handle(http.MethodGet, "/v1/orders/{id}", "v1_get_order", (*call).v1Get)
	s.handle(http.MethodPost, "/v1/orders/{id}/capture", "v1_capture", (*call).v1Capture)
	s.handle(http.MethodPost, "/v1/orders/{id}/cancel", "v1_cancel", (*call).v1Cancel)
	s.handle(http.MethodPost, "/v1/orders/{id}/refunds", "v1_refund", (*call).v1Refund)
	s.handle(http.MethodPost, "/v1/payment_links", "v1_create_payment_link", (*call).v1CreateLink)
	s.handle(http.MethodGet, "/v1/payment_links/{code}", "v1_get_payment_link", (*call).v1GetLink)
	s.handle(http.MethodPost, "/v1/payment_links/{code}/disable", "v1_disable_payment_link", (*call).v1DisableLink)
	s.routes = append(s.routes, Route{http.MethodGet, "/v1/openapi.yaml"})
	s.mux.HandleFunc("GET /v1/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(openapiYAML)
	})
	s.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, "v1_unknown", func(c *call) {
			c.reqPayload, _ = json.Marshal(map[string]string{"method": r.Method, "path": r.URL.Path})
			c.v1Error(http.StatusNotFound, apiError{Type: "invalid_request_error", Code: "resource_missing",
				Message: fmt.Sprintf("no such route: %s %s", r.Method, r.URL.Path)})
		})
	})
}

type apiError struct {
	Type        string `json:"type"`
	Code        string `json:"code"`
	DeclineCode string `json:"decline_code,omitempty"`
	Message     string `json:"message"`
	Param       string `json:"param,omitempty"`
}

type errorBody struct {
	Error apiError `json:"error"`
}

func paramError(status int, code, param, msg string) (int, apiError) {
	return status, apiError{Type: "invalid_request_error", Code: code, Param: param, Message: param + ": " + msg}
}

// v1req is the idempotency state of one JSON API call.
type v1req struct {
	key  string // Idempotency-Key, empty when none
	hash []byte
}

// v1Begin authenticates, reads the body, settles idempotency and decodes
// the body into into (nil for GET). On false the answer has been sent.
func (c *call) v1Begin(v *v1req, into any) bool {
	r := c.r
	c.reqPayload, _ = json.Marshal(map[string]string{"method": r.Method, "path": r.URL.Path})
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if r.Header.Get("Authorization") == "" {
		c.w.Header().Set("WWW-Authenticate", `Bearer realm="tulpar"`)
		c.v1Error(http.StatusUnauthorized, apiError{Type: "authentication_error", Code: "authentication_required",
			Message: "send the API key as Authorization: Bearer <key>"})
		return false
	}
	var err error
	c.merchant, err = c.s.auth.secret(strings.TrimSpace(key), true, clientip.Host(c.r))
	var locked *errLocked
	if errors.As(err, &locked) {
		c.w.Header().Set("Retry-After", strconv.Itoa(int(locked.retryAfter.Seconds()+0.999)))
		c.v1Error(http.StatusTooManyRequests, apiError{Type: "authentication_error", Code: "too_many_attempts", Message: locked.Error()})
		return false
	}
	if !ok || c.merchant == nil {
		c.w.Header().Set("WWW-Authenticate", `Bearer realm="tulpar", error="invalid_token"`)
		c.v1Error(http.StatusUnauthorized, apiError{Type: "authentication_error", Code: "invalid_api_key", Message: "invalid API key"})
		return false
	}
	if c.certRefused() {
		c.v1Error(http.StatusForbidden, apiError{Type: "authentication_error", Code: "client_certificate_required",
			Message: "this merchant's key is accepted only over TLS with its pinned client certificate"})
		return false
	}
	var body []byte
	if r.Method == http.MethodPost {
		var err error
		body, err = io.ReadAll(r.Body)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				c.v1Error(http.StatusRequestEntityTooLarge, apiError{Type: "invalid_request_error", Code: "body_too_large",
					Message: fmt.Sprintf("request body exceeds %d bytes", c.s.cfg.MaxBodyBytes)})
			} else {
				c.v1Error(http.StatusBadRequest, apiError{Type: "invalid_request_error", Code: "body_invalid", Message: "could not read the request body"})
			}
			return false
		}
	}
	// The journal keeps the body as sent: the JSON API carries no card data
	// and no credentials in bodies.
	jbody := json.RawMessage(body)
	if !json.Valid(body) {
		jbody, _ = json.Marshal(string(body))
	}
	idem := r.Header.Get("Idempotency-Key")
	c.reqPayload, _ = json.Marshal(struct {
		Method string          `json:"method"`
		Path   string          `json:"path"`
		Key    string          `json:"idempotency_key,omitempty"`
		Body   json.RawMessage `json:"body,omitempty"`
	}{r.Method, r.URL.Path, idem, jbody})
	if idem != "" && r.Method == http.MethodPost {
		if len(idem) > maxIdemKeyLength || !printableASCII(idem) {
			c.v1Error(http.StatusBadRequest, apiError{Type: "idempotency_error", Code: "idempotency_key_invalid",
				Message: "Idempotency-Key must be 1 to 255 printable ASCII characters"})
			return false
		}
		h := sha256.New()
		fmt.Fprintf(h, "%s %s\n", r.Method, r.URL.Path)
		h.Write(body)
		v.hash = h.Sum(nil)
		if !c.claim(idem, v.hash) {
			return false
		}
		v.key = idem
	}
	if into == nil {
		return true
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		c.v1Answer(v, paramErrorBody(http.StatusBadRequest, apiError{Type: "invalid_request_error", Code: "body_invalid",
			Message: "Content-Type must be application/json"}))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(into)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	if err != nil {
		c.v1Answer(v, decodeError(err))
		return false
	}
	return true
}

type statusBody struct {
	status int
	body   any
	// transient answers (an operation still in progress) are not stored
	// under the Idempotency-Key: the same request later gets the outcome.
	transient bool
}

func paramErrorBody(status int, e apiError) statusBody {
	return statusBody{status: status, body: errorBody{e}}
}

// decodeError names the parameter a JSON decoding error is about.
func decodeError(err error) statusBody {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		want := te.Type.String()
		switch want {
		case "int64", "*int64":
			want = "an integer"
		case "string", "*string":
			want = "a string"
		}
		return paramErrorBody(paramError(http.StatusBadRequest, "parameter_invalid", te.Field, "must be "+want))
	case errors.As(err, &se):
		return paramErrorBody(http.StatusBadRequest, apiError{Type: "invalid_request_error", Code: "body_invalid",
			Message: fmt.Sprintf("malformed JSON at byte %d", se.Offset)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return paramErrorBody(paramError(http.StatusBadRequest, "parameter_unknown", name, "is not a parameter of this request"))
	}
	return paramErrorBody(http.StatusBadRequest, apiError{Type: "invalid_request_error", Code: "body_invalid", Message: "malformed JSON body: want one JSON object"})
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// claim takes an idempotency key for this call, or answers: the stored
// answer (replay), a mismatch (422) or a conflict (409).
func (c *call) claim(key string, hash []byte) bool {
	mk := c.merchant.Merchant + "\x00" + key
	c.s.inflightMu.Lock()
	if c.s.inflight[mk] {
		c.s.inflightMu.Unlock()
		c.v1Error(http.StatusConflict, apiError{Type: "idempotency_error", Code: "idempotency_key_in_use",
			Message: "a request with this Idempotency-Key is still in progress; retry later"})
		return false
	}
	rec, err := c.s.svc.Receipt(c.merchant.Merchant, key)
	if err == nil && rec == nil {
		c.s.inflight[mk] = true
	}
	c.s.inflightMu.Unlock()
	switch {
	case err != nil:
		c.s.log.Error().Err(err).Msg("idempotency lookup")
		st, b := c.systemError()
		c.write(st, b, nil)
		return false
	case rec == nil:
		return true
	case !bytes.Equal(rec.RequestHash, hash):
		c.v1Error(http.StatusUnprocessableEntity, apiError{Type: "idempotency_error", Code: "idempotency_key_reused",
			Message: "this Idempotency-Key was used with a different request"})
		return false
	}
	var ans answerRecord
	if err := json.Unmarshal(rec.Answer, &ans); err != nil {
		c.s.log.Error().Err(err).Msg("idempotency receipt")
		st, b := c.systemError()
		c.write(st, b, nil)
		return false
	}
	c.replay, c.orderID = true, rec.OrderID
	c.w.Header().Set("Idempotent-Replayed", "true")
	if ans.Status >= 400 {
		var e errorBody
		json.Unmarshal(ans.Body, &e)
		c.code = e.Error.Code
	}
	c.write(ans.Status, ans.Body, nil)
	return false
}

func (c *call) release(v *v1req) {
	if v.key == "" {
		return
	}
	c.s.inflightMu.Lock()
	delete(c.s.inflight, c.merchant.Merchant+"\x00"+v.key)
	c.s.inflightMu.Unlock()
}

// v1Answer journals and sends an answer; with an Idempotency-Key the
// answer is stored with it (in the same commit) unless it is a 5xx, which
// the merchant should retry with the same key.
func (c *call) v1Answer(v *v1req, sb statusBody) {
	defer c.release(v)
	b, _ := json.Marshal(sb.body)
	if e, ok := sb.body.(errorBody); ok {
		c.code = e.Error.Code
	}
	if v.key == "" || sb.status >= 500 || sb.transient {
		c.write(sb.status, b, nil)
		return
	}
	c.write(sb.status, b, v.receipt(c.merchant.Merchant))
}

// receipt names the idempotency receipt of the call, nil without a key.
func (v *v1req) receipt(merchant string) *payments.ReceiptKey {
	if v.key == "" {
		return nil
	}
	return &payments.ReceiptKey{Merchant: merchant, Key: v.key, RequestHash: v.hash}
}

// v1Error answers an error that happened before idempotency was settled.
func (c *call) v1Error(status int, e apiError) {
	c.code = e.Code
	b, _ := json.Marshal(errorBody{e})
	c.write(status, b, nil)
}

// v1Fail maps a payments error.
func (c *call) v1Fail(err error) statusBody {
	var te *order.TransitionError
	var ae *order.AmountError
	var in *order.InputError
	switch {
	case errors.Is(err, order.ErrNotFound):
		return paramErrorBody(paramError(http.StatusNotFound, "order_not_found", "id", "no such order"))
	case errors.As(err, &te):
		return paramErrorBody(http.StatusConflict, apiError{Type: "invalid_request_error", Code: "transition_not_allowed", Message: te.Error()})
	case errors.As(err, &ae):
		if ae.Amount <= 0 {
			return paramErrorBody(paramError(http.StatusBadRequest, "parameter_invalid", "amount", errAmount.Error()))
		}
		return paramErrorBody(http.StatusUnprocessableEntity, apiError{Type: "invalid_request_error", Code: "amount_too_large",
			Param: "amount", Message: fmt.Sprintf("amount: %d exceeds the %d available", ae.Amount, ae.Available)})
	case errors.As(err, &in) && in.Field == "expectedDepositedAmount":
		return paramErrorBody(paramError(http.StatusConflict, "refundable_amount_mismatch", "expected_refundable_amount", in.Reason))
	case errors.As(err, &in):
		return paramErrorBody(paramError(http.StatusBadRequest, "parameter_invalid", in.Field, in.Reason))
	case errors.Is(err, payments.ErrBankRefused):
		return paramErrorBody(http.StatusUnprocessableEntity, apiError{Type: "payment_error", Code: "bank_declined", Message: "the bank declined the operation"})
	case errors.Is(err, payments.ErrUnavailable):
		return paramErrorBody(http.StatusServiceUnavailable, apiError{Type: "api_error", Code: "bank_unavailable", Message: "the bank is unavailable; retry later"})
	case errors.Is(err, payments.ErrStorage):
		c.w.Header().Set("Retry-After", "5")
		return paramErrorBody(http.StatusServiceUnavailable, apiError{Type: "api_error", Code: "temporarily_unavailable",
			Message: "the service is temporarily unavailable; retry later with the same Idempotency-Key"})
	case errors.Is(err, payments.ErrInProgress):
		sb := paramErrorBody(http.StatusConflict, apiError{Type: "invalid_request_error", Code: "operation_in_progress",
			Message: "an operation on this order is in progress; retry later with the same Idempotency-Key"})
		sb.transient = true
		return sb
	}
	c.s.log.Error().Err(err).Str("endpoint", c.endpoint).Msg("payments error")
	return paramErrorBody(http.StatusInternalServerError, apiError{Type: "api_error", Code: "internal_error", Message: "internal error; retry with the same Idempotency-Key"})
}

type createOrderRequest struct {
	Amount      *int64            `json:"amount"`
	Currency    *string           `json:"currency"`
	OrderNumber *string           `json:"order_number"`
	Capture     *string           `json:"capture"`
	Description *string           `json:"description"`
	ReturnURL   *string           `json:"return_url"`
	FailURL     *string           `json:"fail_url"`
	Email       *string           `json:"email"`
	Language    *string           `json:"language"`
	Metadata    map[string]string `json:"metadata"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// validate returns the first problem, naming its parameter.
func (q *createOrderRequest) validate() (statusBody, bool) {
	bad := func(param, msg string) (statusBody, bool) {
		return paramErrorBody(paramError(http.StatusBadRequest, "parameter_invalid", param, msg)), false
	}
	missing := func(param string) (statusBody, bool) {
		return paramErrorBody(paramError(http.StatusBadRequest, "parameter_missing", param, "is required")), false
	}
	switch {
	case q.Amount == nil:
		return missing("amount")
	case *q.Amount <= 0 || *q.Amount > maxAmount:
		return bad("amount", errAmount.Error())
	case q.OrderNumber == nil:
		return missing("order_number")
	case !validOrderNumber(*q.OrderNumber):
		return bad("order_number", "must be 1 to 36 printable ASCII characters")
	case q.Currency != nil && !knownCurrency(*q.Currency):
		return bad("currency", "must be an ISO 4217 numeric code the switch accepts: 398, 840, 978 or 643")
	case q.Capture != nil && *q.Capture != "automatic" && *q.Capture != "manual":
		return bad("capture", `must be "automatic" or "manual"`)
	case q.ReturnURL == nil:
		return missing("return_url")
	case checkURL(*q.ReturnURL) != nil:
		return bad("return_url", "must be an absolute http(s) URL")
	case q.FailURL != nil && checkURL(*q.FailURL) != nil:
		return bad("fail_url", "must be an absolute http(s) URL")
	case q.Description != nil && !validText(*q.Description, maxDescription):
		return bad("description", "must be at most 512 printable characters")
	case q.Email != nil && !validEmail(*q.Email):
		return bad("email", "must be an e-mail address")
	case q.Language != nil && (*q.Language == "" || !validLanguage(*q.Language)):
		return bad("language", "must be ru, kk or en")
	case !validParams(q.Metadata):
		return bad("metadata", "must be at most 50 string values, keys up to 64 and values up to 512 characters")
	}
	return statusBody{}, true
}

func (c *call) v1Create() {
	var v v1req
	var q createOrderRequest
	if !c.v1Begin(&v, &q) {
		return
	}
	if sb, ok := q.validate(); !ok {
		c.v1Answer(&v, sb)
		return
	}
	currency := str(q.Currency)
	if currency == "" {
		currency = iso.CurrencyKZT
	}
	reply := c.reply(func(o *order.Order, _ *threeds.Outcome) (int, []byte) {
		b, _ := json.Marshal(c.s.orderJSON(o))
		return http.StatusCreated, b
	})
	// With a key, the new order, its answer and the key's receipt commit
	// together: a retry after a crash finds the receipt, never a duplicate
	// number.
	reply.Receipt = v.receipt(c.merchant.Merchant)
	res, err := c.s.svc.Register(c.r.Context(), payments.RegisterRequest{
		Merchant: c.merchant.Merchant, Number: *q.OrderNumber, Amount: *q.Amount, Currency: currency,
		Description: str(q.Description), Email: str(q.Email), Language: str(q.Language),
		ReturnURL: *q.ReturnURL, FailURL: str(q.FailURL), Params: q.Metadata, TwoStage: str(q.Capture) == "manual",
		Reply: reply,
	})
	switch {
	case errors.Is(err, order.ErrDuplicateNumber):
		c.v1Answer(&v, paramErrorBody(paramError(http.StatusConflict, "order_number_duplicate", "order_number",
			"an order with this number exists; send the same Idempotency-Key to repeat a request")))
		return
	case err != nil:
		c.v1Answer(&v, c.v1Fail(err))
		return
	}
	if c.took(res) {
		c.release(&v)
		return
	}
	c.v1Answer(&v, statusBody{status: http.StatusCreated, body: c.s.orderJSON(res.Order)})
}

// v1Order loads the caller's order from the path; another merchant's
// order does not exist for the caller.
func (c *call) v1Order(ctx context.Context) (*order.Order, *statusBody) {
	id := c.r.PathValue("id")
	o, err := c.s.svc.Get(ctx, id)
	if err == nil && o.Merchant != c.merchant.Merchant {
		err = order.ErrNotFound
	}
	if err != nil {
		sb := c.v1Fail(err)
		return nil, &sb
	}
	c.orderID = o.ID
	return o, nil
}

func (c *call) v1Get() {
	var v v1req
	if !c.v1Begin(&v, nil) {
		return
	}
	o, sb := c.v1Order(c.r.Context())
	if sb != nil {
		c.v1Answer(&v, *sb)
		return
	}
	c.v1Answer(&v, statusBody{status: http.StatusOK, body: c.s.orderJSON(o)})
}

type captureRequest struct {
	Amount *int64 `json:"amount"`
}

// cancelRequest: without an amount, all of the hold is released.
type cancelRequest struct {
	Amount *int64 `json:"amount"`
}

type refundRequest struct {
	Amount             *int64 `json:"amount"`
	ExpectedRefundable *int64 `json:"expected_refundable_amount"`
}

// v1FollowUp runs a follow-up on the order of the path: payments checks,
// under its own lock, that it is the caller's; the payments idempotency
// key is derived from the header.
func (c *call) v1FollowUp(v *v1req, run func(ctx context.Context, r payments.FollowUpRequest) statusBody) {
	r := payments.FollowUpRequest{OrderID: c.r.PathValue("id"), Merchant: c.merchant.Merchant, Reply: payments.Reply{Request: c.reqPayload}}
	if v.key != "" {
		r.IdemKey = "v1:" + v.key
	}
	c.orderID = r.OrderID
	c.v1Answer(v, run(c.r.Context(), r))
}

// v1Result is the answer of a follow-up that ended with res: the order.
func (c *call) v1Result(res *payments.Result, err error, status int) statusBody {
	c.took(res)
	if err != nil {
		return c.v1Fail(err)
	}
	return statusBody{status: status, body: c.s.orderJSON(res.Order)}
}

func (c *call) v1Capture() {
	var v v1req
	var q captureRequest
	if !c.v1Begin(&v, &q) {
		return
	}
	if q.Amount != nil && (*q.Amount <= 0 || *q.Amount > maxAmount) {
		c.v1Answer(&v, paramErrorBody(paramError(http.StatusBadRequest, "parameter_invalid", "amount", errAmount.Error())))
		return
	}
	c.v1FollowUp(&v, func(ctx context.Context, r payments.FollowUpRequest) statusBody {
		if q.Amount != nil {
			r.Amount = *q.Amount
		}
		res, err := c.s.svc.Complete(ctx, r)
		return c.v1Result(res, err, http.StatusOK)
	})
}

func (c *call) v1Cancel() {
	var v v1req
	var q cancelRequest
	if !c.v1Begin(&v, &q) {
		return
	}
	if q.Amount != nil && (*q.Amount <= 0 || *q.Amount > maxAmount) {
		c.v1Answer(&v, paramErrorBody(paramError(http.StatusBadRequest, "parameter_invalid", "amount", errAmount.Error())))
		return
	}
	c.v1FollowUp(&v, func(ctx context.Context, r payments.FollowUpRequest) statusBody {
		// An order nobody has paid is declined; a held one is reversed.
		res, err := c.s.svc.Decline(ctx, r)
		if !errors.Is(err, order.ErrTransition) {
			return c.v1Result(res, err, http.StatusOK)
		}
		if q.Amount != nil {
			r.Amount = *q.Amount
		}
		res, err = c.s.svc.Cancel(ctx, r)
		sb := c.v1Result(res, err, http.StatusOK)
		if errors.Is(err, payments.ErrBankRefused) && res != nil && res.Op != nil {
			e := sb.body.(errorBody)
			e.Error.DeclineCode = iso.LookupResponseCode(res.Op.ResponseCode).Reason
			sb.body = e
		}
		return sb
	})
}

func (c *call) v1Refund() {
	var v v1req
	var q refundRequest
	if !c.v1Begin(&v, &q) {
		return
	}
	switch {
	case q.Amount == nil:
		c.v1Answer(&v, paramErrorBody(paramError(http.StatusBadRequest, "parameter_missing", "amount", "is required")))
		return
	case *q.Amount <= 0 || *q.Amount > maxAmount:
		c.v1Answer(&v, paramErrorBody(paramError(http.StatusBadRequest, "parameter_invalid", "amount", errAmount.Error())))
		return
	case q.ExpectedRefundable != nil && (*q.ExpectedRefundable < 0 || *q.ExpectedRefundable > maxAmount):
		c.v1Answer(&v, paramErrorBody(paramError(http.StatusBadRequest, "parameter_invalid", "expected_refundable_amount", errAmount.Error())))
		return
	}
	c.v1FollowUp(&v, func(ctx context.Context, r payments.FollowUpRequest) statusBody {
		r.Amount, r.ExpectedDeposited = *q.Amount, q.ExpectedRefundable
		res, err := c.s.svc.Refund(ctx, r)
		c.took(res)
		if err != nil {
			return c.v1Fail(err)
		}
		op := res.Op
		switch op.Status {
		case order.OpApproved, order.OpQueued:
			return statusBody{status: http.StatusCreated, body: c.s.refundJSON(res.Order, op)}
		case order.OpTimeout:
			return paramErrorBody(http.StatusUnprocessableEntity, apiError{Type: "payment_error", Code: "bank_no_answer",
				DeclineCode: "issuer_timeout", Message: "the bank did not answer; the refund was reversed and may be asked again"})
		}
		return paramErrorBody(http.StatusUnprocessableEntity, apiError{Type: "payment_error", Code: "refund_declined",
			DeclineCode: iso.LookupResponseCode(op.ResponseCode).Reason, Message: "the bank declined the refund"})
	})
}
