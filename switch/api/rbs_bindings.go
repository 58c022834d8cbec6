package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// Bindings: the gateway's stored cards. A binding is the switch's stored
// card (payments.Card, order.StoredCard), the same record a Processing.kz
// registration keeps: its bindingId is the card id. One is created when an
// order registered with a clientId is paid and its buyer ticks "remember
// this card" on the hosted page (or, in paymentorder.do, unless
// bindingNotNeeded=true), and it is that clientId's. A merchant sees and
// uses only its own bindings: another merchant's bindingId is "not found",
// as one that does not exist.
//
// What the gateway leaves to each installation, decided here:
//   - paymentOrderBinding.do needs the binding's CVC (cvc) unless the
//     merchant may pay without it (api.merchants[].binding_without_cvc,
//     off by default, as the gateway grants it per merchant). Without a CVC
//     the merchant pays alone: the bank is told so (merchant-initiated,
//     credential on file) and there is no 3-D Secure, which needs the
//     cardholder. With one it is the cardholder's payment and 3-D Secure
//     runs as on the hosted page: a challenge is answered with acsUrl and
//     termUrl, as paymentorder.do answers it.
//   - ip is the buyer's address as the merchant saw it; without it, the
//     caller's, as in paymentorder.do.
//   - getBindings.do and getBindingsByCardOrId.do list enabled bindings,
//     expired ones only with showExpired=true; a disabled one (unBindCard)
//     is listed by neither until bindCard enables it again. Nothing to list
//     is errorCode 2, as the gateway answers.
//   - getBindingsByCardOrId.do by bindingId lists every binding of that
//     binding's clientId; by pan, every binding of that card number,
//     whoever's. It takes a POST only: a card number never goes in a URL.
//   - unBindCard.do of a disabled binding, and bindCard.do of an enabled
//     one, are errorCode 2 (the gateway's "wrong binding state"), not a
//     replay; extendBinding.do to the expiry the binding has is a success.
//   - extendBinding.do's newExpiry is yyyyMM, a month not over yet; it
//     changes the expiry the binding pays with (the card as first stored
//     stays in its order's record).

// bindingJSON is one binding as getBindings.do lists it.
type bindingJSON struct {
	BindingID     string `json:"bindingId"`
	MaskedPan     string `json:"maskedPan"`
	ExpiryDate    string `json:"expiryDate"` // yyyyMM
	ClientID      string `json:"clientId,omitempty"`
	PaymentWay    string `json:"paymentWay"`
	PaymentSystem string `json:"paymentSystem"`
}

func bindingOf(c payments.Card) bindingJSON {
	card := &order.Card{Masked: c.Masked, Expiry: c.Expiry}
	return bindingJSON{BindingID: c.ID, MaskedPan: rbsPAN(card), ExpiryDate: rbsExpiry(card), ClientID: c.ClientID,
		PaymentWay: "CARD", PaymentSystem: strings.ToUpper(c.Brand)}
}

// listBindings answers a list of bindings: the enabled ones, the expired
// among them only when asked.
func (c *call) listBindings(cards []payments.Card, showExpired bool) {
	out := []bindingJSON{}
	for _, card := range cards {
		if card.Active && (showExpired || !card.Expired) {
			out = append(out, bindingOf(card))
		}
	}
	if len(out) == 0 {
		c.rbsAnswer(rbsErr(rbsBinding, tNoBindings))
		return
	}
	c.rbsAnswer(map[string]any{"errorCode": rbsOK, "errorMessage": rbsSuccess.message(c.lang), "bindings": out})
}

// boolParam reads a true/false parameter (any case); absent is false.
func boolParam(form url.Values, name string) (bool, *rbsError) {
	switch strings.ToLower(form.Get(name)) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, invalid(name, l(rBool))
}

func (c *call) rbsGetBindings() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	client := form.Get("clientId")
	showExpired, e := boolParam(form, "showExpired")
	switch {
	case client == "":
		e = empty(rbsMissing, "clientId")
	case !validText(client, maxRBSClientID):
		e = invalid("clientId", l(rMaxChars, maxRBSClientID))
	}
	if e != nil {
		c.rbsAnswer(e)
		return
	}
	cards, err := c.s.svc.ClientCards(c.merchant.Merchant, client)
	if err != nil {
		c.rbsAnswer(c.rbsFail(err, rbsErr(rbsSystemError, tSystem)))
		return
	}
	c.listBindings(cards, showExpired)
}

func (c *call) rbsGetBindingsByCardOrID() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	pan, id := form.Get("pan"), form.Get("bindingId")
	showExpired, e := boolParam(form, "showExpired")
	switch {
	case pan == "" && id == "":
		e = empty(rbsMissing, "bindingId")
	case pan != "" && id != "":
		e = invalid("bindingId", l(rPanOrBinding))
	case pan != "" && iso.ValidPAN(pan) != nil:
		e = invalid("pan", l(rPAN))
	case id != "" && !validText(id, maxBindingID):
		e = invalid("bindingId", l(rMaxChars, maxBindingID))
	}
	if e != nil {
		c.rbsAnswer(e)
		return
	}
	var cards []payments.Card
	var err error
	if pan != "" {
		cards, err = c.s.svc.CardsOfNumber(c.r.Context(), c.merchant.Merchant, pan)
	} else {
		cards, err = c.s.svc.CardsLike(c.merchant.Merchant, id)
	}
	if err != nil {
		c.rbsAnswer(c.rbsFail(err, rbsErr(rbsSystemError, tSystem)))
		return
	}
	c.listBindings(cards, showExpired)
}

// maxBindingID bounds a bindingId: the switch's are UUIDs (36).
const maxBindingID = 64

// bindingID reads a request's bindingId; a missing or bad one is
// answered here.
func (c *call) bindingID(form url.Values) (string, bool) {
	id := form.Get("bindingId")
	switch {
	case id == "":
		c.rbsAnswer(empty(rbsMissing, "bindingId"))
		return "", false
	case !validText(id, maxBindingID):
		c.rbsAnswer(invalid("bindingId", l(rMaxChars, maxBindingID)))
		return "", false
	}
	return id, true
}

// rbsBindingChange runs unBindCard.do or bindCard.do: the change is
// journaled with the order that holds the card, and the answer with it.
func (c *call) rbsBindingChange(change func(context.Context, payments.CardChange) (*payments.Result, error)) {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	id, ok := c.bindingID(form)
	if !ok {
		return
	}
	c.changeBinding(payments.CardChange{Merchant: c.merchant.Merchant, CardID: id}, change)
}

func (c *call) changeBinding(r payments.CardChange, change func(context.Context, payments.CardChange) (*payments.Result, error)) {
	success := c.successBody()
	r.Reply = c.reply(func(*order.Order, *threeds.Outcome) (int, []byte) { return http.StatusOK, success })
	res, err := change(c.r.Context(), r)
	if c.took(res) {
		return
	}
	if err != nil {
		c.rbsAnswer(c.rbsFail(err, rbsErr(rbsSystemError, tSystem)))
		return
	}
	c.rbsAnswer(rbsSuccess)
}

func (c *call) rbsExtendBinding() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	id, ok := c.bindingID(form)
	if !ok {
		return
	}
	exp := form.Get("newExpiry")
	switch {
	case exp == "":
		c.rbsAnswer(empty(rbsMissing, "newExpiry"))
		return
	case len(exp) != 6 || !isDigits(exp) || !strings.HasPrefix(exp, "20") || order.CardExpired(exp[2:], time.Now()):
		c.rbsAnswer(invalid("newExpiry", l(rYearMonth)))
		return
	}
	c.changeBinding(payments.CardChange{Merchant: c.merchant.Merchant, CardID: id, Expiry: exp[2:]}, c.s.svc.ExtendCard)
}

// rbsPaymentOrderBinding pays a registered order with a binding: the
// answer is paymentorder.do's (numeric errorCode; redirect, or acsUrl and
// termUrl for a 3-D Secure challenge), and a repeated request answers the
// recorded outcome without a second payment.
func (c *call) rbsPaymentOrderBinding() {
	form, ok := c.rbsBegin()
	if !ok {
		return
	}
	md, cvc, ip := form.Get("mdOrder"), form.Get("cvc"), form.Get("ip")
	_, langOK := normLanguage(form.Get("language"))
	var e *rbsError
	switch {
	case md == "":
		e = empty(rbsMissing, "mdOrder")
	case form.Get("bindingId") == "":
		e = empty(rbsMissing, "bindingId")
	case !validText(form.Get("bindingId"), maxBindingID):
		e = invalid("bindingId", l(rMaxChars, maxBindingID))
	case cvc == "" && !c.merchant.BindingWithoutCVC:
		e = empty(rbsMissing, "cvc")
	case cvc != "" && (len(cvc) < 3 || len(cvc) > 4 || !isDigits(cvc)):
		e = invalid("cvc", l(rCVC))
	case ip != "" && net.ParseIP(ip) == nil:
		e = invalid("ip", l(rIP))
	case !langOK:
		e = invalid("language", l(rLanguage))
	case form.Get("email") != "" && !validEmail(form.Get("email")):
		e = invalid("email", l(rEmail))
	}
	if e != nil {
		c.rbsAnswer(e)
		return
	}
	if ip == "" {
		ip = clientip.Host(c.r)
	}
	c.orderID = md
	termURL := c.s.formURL(md) + "/3ds"
	res, err := c.s.svc.Pay(c.r.Context(), payments.PayRequest{
		OrderID: md, Merchant: c.merchant.Merchant, CardID: form.Get("bindingId"), Card: payments.CardInput{CVV2: cvc},
		Email: form.Get("email"), IP: ip, NotificationURL: termURL,
		Reply: c.reply(func(n *order.Order, ch *threeds.Outcome) (int, []byte) {
			b, _ := json.Marshal(poResult(n, ch, termURL))
			return http.StatusOK, b
		}),
	})
	if c.took(res) {
		return
	}
	if err != nil {
		c.payFailed(md, err)
		return
	}
	// A replay: the order's payment was decided by an earlier request.
	c.rbsAnswer(poResult(res.Order, res.Challenge, termURL))
}
