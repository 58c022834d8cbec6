package cabinet

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/users"
)

type kv struct{ Label, Value string }

type cartLine struct{ Name, Quantity, Price string }

type opLine struct {
	Status, Class, Type, Date, Amount, Desc string
}

type jLine struct {
	Time, Dir, Channel, MTI, Amount, RRN, Approval, RC, Terminal, Merchant, Note string
}

type actionForm struct {
	Action, Label, Hint, Default, Key string
	Required                          bool
}

type orderData struct {
	Number, Date, ID, Amount, Status, StatusClass, Brand string
	Tab, DetailsURL, HistoryURL, BackURL                 string
	Details, Payer, Params                               []kv
	Cart                                                 []cartLine
	Ops                                                  []opLine
	Journal                                              []jLine
	Actions                                              []actionForm
}

// loadOrder returns the order of the path if the user may see it: another
// merchant's order is "not found", exactly like one that does not exist,
// and the attempt is in the audit log.
func (s *Server) loadOrder(rq *req) (*order.Order, bool) {
	id := rq.r.PathValue("id")
	o, err := s.svc.Get(rq.r.Context(), id)
	switch {
	case errors.Is(err, order.ErrNotFound) || err == nil && rq.scope() != "" && o.Merchant != rq.scope():
		if err == nil {
			_ = s.users.Record(users.Event{Actor: rq.user.Login, Kind: users.EventDenied, Merchant: rq.user.Merchant, Order: id,
				IP: clientip.Host(rq.r), Detail: "another merchant's order"})
		}
		rq.notFound()
		return nil, false
	case err != nil:
		rq.failed(err, "load order")
		return nil, false
	}
	return o, true
}

func statusClass(s order.Status) string {
	switch s {
	case order.StatusDeclined, order.StatusReversed:
		return "bad"
	case order.StatusDeposited, order.StatusApproved:
		return "good"
	case order.StatusRefunded:
		return "back"
	}
	return "wait"
}

func (s *Server) orderPage(rq *req) {
	rq.nav = "orders"
	o, ok := s.loadOrder(rq)
	if !ok {
		return
	}
	lang, loc := rq.lang, rq.loc()
	base := "/orders/" + url.PathEscape(o.ID)
	d := orderData{Number: o.Number, Date: o.CreatedAt.In(loc).Format(dateOnly), ID: o.ID, Amount: money(o.Amount, o.Currency),
		Status: statusWord(lang, o.Status), StatusClass: statusClass(o.Status), Brand: brandName(o),
		Tab: "details", DetailsURL: base, HistoryURL: base + "?tab=history", BackURL: "/orders"}
	if rq.r.URL.Query().Get("tab") == "history" {
		d.Tab = "history"
	}
	if o.Card != nil {
		d.Amount = money(o.Amount, o.Currency)
	}
	m := func(v int64) string { return money(v, o.Currency) }
	d.Details = []kv{
		{t(lang, "order_number"), o.Number},
		{t(lang, "order_id"), o.ID},
		{t(lang, "response"), "(" + strconv.Itoa(o.ActionCode) + ") " + order.ActionText(o.ActionCode, lang)},
		{pick(lang, columnByID["instrument"].title), "CARD"},
		{t(lang, "payment_type"), stageWord(lang, o.TwoStage)},
		{pick(lang, columnByID["commission"].title), m(0)},
		{t(lang, "registered_amt"), m(o.Amount)},
		{t(lang, "approved_amt"), m(o.Approved)},
		{t(lang, "deposited_amt"), m(o.Deposited)},
		{t(lang, "refunded_amt"), m(o.Refunded)},
		{t(lang, "created_at"), when(o.CreatedAt, loc)},
		{t(lang, "updated_at"), when(o.UpdatedAt, loc)},
	}
	if op := o.LastOp(order.OpRefund); op != nil && op.Status == order.OpApproved {
		d.Details = append(d.Details, kv{t(lang, "last_refund"), when(op.Time, loc)})
	}
	if rq.scope() == "" {
		d.Details = append(d.Details, kv{t(lang, "merchant"), o.Merchant})
	}
	if o.Description != "" {
		d.Details = append(d.Details, kv{pick(lang, columnByID["description"].title), o.Description})
	}
	if o.ThreeDS != nil {
		d.Details = append(d.Details, kv{t(lang, "eci"), o.ThreeDS.ECI})
	}
	if o.Card != nil {
		d.Payer = append(d.Payer, kv{t(lang, "card"), maskedCard(o.Card.Masked)}, kv{t(lang, "expiry"), cardExpiry(o.Card.Expiry)},
			kv{t(lang, "holder"), o.Card.Holder}, kv{t(lang, "pay_system"), brandName(o)})
	}
	d.Payer = append(d.Payer, kv{t(lang, "ip"), o.IP}, kv{t(lang, "email"), o.Email})
	if o.Customer != "" {
		d.Payer = append(d.Payer, kv{t(lang, "customer"), o.Customer})
	}
	keys := make([]string, 0, len(o.Params))
	for k := range o.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.Params = append(d.Params, kv{k, o.Params[k]})
	}
	for _, c := range o.Cart {
		d.Cart = append(d.Cart, cartLine{c.Name, strconv.FormatInt(c.Quantity, 10), m(c.Price)})
	}
	for _, op := range o.Ops {
		d.Ops = append(d.Ops, s.opLine(lang, loc, o, op))
	}
	if d.Tab == "history" {
		lines, err := s.svc.History(o.ID, rq.scope())
		if err != nil {
			rq.failed(err, "order history")
			return
		}
		for _, l := range lines {
			if l.MTI == "" {
				continue
			}
			j := jLine{Time: when(l.Time, loc), Dir: l.Direction, Channel: l.Channel, MTI: l.MTI, RRN: l.RRN, Approval: l.ApprovalCode,
				RC: l.ResponseCode, Terminal: l.TerminalID, Merchant: l.MerchantID, Note: l.Error}
			if l.HasAmount {
				j.Amount = money(l.Amount, l.Currency)
			}
			d.Journal = append(d.Journal, j)
		}
	}
	if rq.user.Role != users.RoleViewer {
		d.Actions = s.actionsFor(lang, o)
	}
	rq.flash, rq.alert = s.resultText(rq, o)
	s.render(rq, http.StatusOK, "order", fmt.Sprintf("%s · %s", t(lang, "tx_info"), o.Number), d)
}

func (s *Server) opLine(lang string, loc *time.Location, o *order.Order, op order.Operation) opLine {
	l := opLine{Type: opWord(lang, op.Type), Date: when(op.Time, loc)}
	switch op.Status {
	case order.OpApproved:
		l.Status, l.Class = t(lang, "op_ok"), "good"
	case order.OpDeclined:
		l.Status, l.Class = t(lang, "op_fail"), "bad"
	case order.OpQueued:
		l.Status, l.Class = t(lang, "op_queued"), "good"
	case order.OpTimeout:
		l.Status, l.Class = t(lang, "op_timeout"), "bad"
	default:
		l.Status, l.Class = t(lang, "op_pending"), "wait"
	}
	if op.Amount != 0 {
		l.Amount = money(op.Amount, o.Currency)
	}
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+": "+v)
		}
	}
	add("rrn", op.RRN)
	add("approval code", op.ApprovalCode)
	if op.Type != order.OpThreeDS {
		add("action code", strconv.Itoa(op.ActionCode))
	}
	add("response code", op.ResponseCode)
	add("terminal", op.TerminalID)
	add("merchant", op.MerchantID)
	l.Desc = strings.Join(parts, ", ")
	return l
}

func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// actionsFor are the forms the order's status allows, each with its own
// idempotency key: submitting a form twice (a double click, a reload of
// the confirmation) is one operation.
func (s *Server) actionsFor(lang string, o *order.Order) []actionForm {
	var out []actionForm
	switch o.Status {
	case order.StatusApproved:
		all := fmt.Sprintf(t(lang, "full_amount"), money(o.Approved, o.Currency))
		out = append(out, actionForm{Action: "complete", Label: t(lang, "do_complete"), Hint: all, Key: newKey()},
			actionForm{Action: "cancel", Label: t(lang, "do_cancel"), Hint: all, Key: newKey()})
	case order.StatusDeposited:
		left := o.Deposited - o.Refunded
		out = append(out, actionForm{Action: "refund", Label: t(lang, "do_refund"), Required: true, Key: newKey(),
			Hint: fmt.Sprintf(t(lang, "refundable"), money(left, o.Currency)), Default: decimal(left, o.Currency)})
	case order.StatusRegistered, order.Status3DS:
		out = append(out, actionForm{Action: "decline", Label: t(lang, "do_decline"), Key: newKey()})
	}
	return out
}

var actionLabels = map[string]string{"complete": "do_complete", "cancel": "do_cancel", "refund": "do_refund", "decline": "do_decline"}

type confirmData struct {
	Action, Label, Question, Amount, Key, Back, Post string
}

// actionSubmit is POST /orders/{id}/{action}: without confirm it asks
// (the confirmation step); with it, it runs the operation through the
// payments engine, as the APIs do, under the form's idempotency key.
func (s *Server) actionSubmit(rq *req) {
	rq.nav = "orders"
	action := rq.r.PathValue("action")
	label, ok := actionLabels[action]
	if !ok {
		rq.notFound()
		return
	}
	o, ok := s.loadOrder(rq)
	if !ok {
		return
	}
	f := rq.r.PostForm
	key := f.Get("key")
	back := "/orders/" + url.PathEscape(o.ID)
	if key == "" || len(key) > 64 {
		rq.redirect(back)
		return
	}
	amount, err := parseAmount(f.Get("amount"), o.Currency)
	if err != nil || amount < 0 || action == "refund" && amount == 0 {
		rq.redirect(back + "?r=amount_fmt")
		return
	}
	if f.Get("confirm") != "1" {
		shown := amount
		if shown == 0 {
			switch action {
			case "complete", "cancel":
				shown = o.Approved
			case "decline":
				shown = o.Amount
			}
		}
		d := confirmData{Action: action, Label: t(rq.lang, label), Amount: f.Get("amount"), Key: key, Back: back, Post: back + "/" + action,
			Question: fmt.Sprintf(t(rq.lang, "confirm_q"), t(rq.lang, label), money(shown, o.Currency), o.Number)}
		s.render(rq, http.StatusOK, "confirm", t(rq.lang, "confirm_title"), d)
		return
	}
	result := s.runAction(rq, o, action, amount, key)
	rq.redirect(back + "?tab=history&r=" + url.QueryEscape(result))
}

// cabinetRequest is what the journal keeps of a cabinet user's operation
// (channel "api", with the order): who asked what.
type cabinetRequest struct {
	Via    string `json:"via"`
	User   string `json:"user"`
	Action string `json:"action"`
	Amount int64  `json:"amount"`
	Key    string `json:"key"`
}

// runAction runs the operation and returns its result for the page: ok,
// declined:RC, timeout, or what refused it.
func (s *Server) runAction(rq *req, o *order.Order, action string, amount int64, key string) string {
	payload, _ := json.Marshal(cabinetRequest{Via: "cabinet", User: rq.user.Login, Action: action, Amount: amount, Key: key})
	r := payments.FollowUpRequest{OrderID: o.ID, Merchant: rq.scope(), Amount: amount, IdemKey: "cabinet:" + key,
		Reply: payments.Reply{Request: payload}}
	// The operation runs to its outcome whatever the browser does: the
	// engine detaches it from the request.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(rq.r.Context()), 2*time.Minute)
	defer cancel()
	var res *payments.Result
	var err error
	kind := users.EventKind(action)
	switch action {
	case "complete":
		res, err = s.svc.Complete(ctx, r)
	case "cancel":
		res, err = s.svc.Cancel(ctx, r)
	case "refund":
		res, err = s.svc.Refund(ctx, r)
	case "decline":
		kind = users.EventCancel
		res, err = s.svc.Decline(ctx, r)
	}
	result := s.outcome(res, err)
	detail := fmt.Sprintf("%s %s: %s", action, decimal(amount, o.Currency), result)
	if result == "ok" && res != nil && res.Op != nil {
		result = fmt.Sprintf("ok:%s:%d", action, res.Op.Amount)
	}
	if res != nil && res.Replay {
		detail += " (replay of the same form)"
	}
	_ = s.users.Record(users.Event{Actor: rq.user.Login, Kind: kind, Merchant: o.Merchant, Order: o.ID, IP: clientip.Host(rq.r), Detail: detail})
	if err != nil && result == "failed" {
		s.log.Error().Err(err).Str("order", o.ID).Str("action", action).Msg("cabinet action failed")
	}
	return result
}

func (s *Server) outcome(res *payments.Result, err error) string {
	var ae *order.AmountError
	switch {
	case errors.Is(err, payments.ErrBankRefused) && res != nil && res.Op != nil:
		return "declined:" + res.Op.ResponseCode
	case errors.Is(err, payments.ErrInProgress):
		return "progress"
	case errors.As(err, &ae):
		return "amount:" + strconv.FormatInt(ae.Available, 10)
	case errors.Is(err, order.ErrTransition):
		return "state"
	case errors.Is(err, payments.ErrUnavailable):
		return "down"
	case err != nil:
		return "failed"
	case res == nil || res.Op == nil:
		return "ok"
	}
	switch res.Op.Status {
	case order.OpDeclined:
		return "declined:" + res.Op.ResponseCode
	case order.OpTimeout:
		return "timeout"
	}
	return "ok"
}

// resultText turns an action's result (?r=) into the page's message.
func (s *Server) resultText(rq *req, o *order.Order) (flash, alert string) {
	r := rq.r.URL.Query().Get("r")
	lang := rq.lang
	kind, arg, _ := strings.Cut(r, ":")
	switch kind {
	case "":
		return "", ""
	case "ok":
		action, amount, _ := strings.Cut(arg, ":")
		n, _ := strconv.ParseInt(amount, 10, 64)
		if l, ok := actionLabels[action]; ok {
			return fmt.Sprintf(t(lang, "done_ok"), t(lang, l), money(n, o.Currency)), ""
		}
		return t(lang, "saved"), ""
	case "declined":
		reason := iso.LookupResponseCode(arg).Reason
		return "", fmt.Sprintf(t(lang, "done_declined"), strings.TrimSpace(arg+" "+reason))
	case "timeout":
		return "", t(lang, "done_timeout")
	case "progress":
		return "", t(lang, "err_progress")
	case "state":
		return "", t(lang, "err_state")
	case "amount":
		n, _ := strconv.ParseInt(arg, 10, 64)
		return "", fmt.Sprintf(t(lang, "err_amount"), money(n, o.Currency))
	case "amount_fmt":
		return "", t(lang, "err_amount_fmt")
	case "down":
		return "", t(lang, "err_bank_down")
	}
	return "", t(lang, "err_failed")
}
