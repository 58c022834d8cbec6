package cnp

import (
	"strconv"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// Answers are written element by element in the WSDL's order with exactly
// the WSDL's elements: strict generated clients (Axis2 ADB) refuse an
// element they do not know or one out of place. Optional members with
// nothing to say are left out; members the guide calls mandatory are
// always there, nil when empty.

// respond opens the operation's response wrapper and its return element.
func respond(w *xmlWriter, op string, returnAttrs ...string) {
	w.open("ns:"+op+"Response", "xmlns:ns", nsOps)
	w.open("ns:return", returnAttrs...)
}

func endRespond(w *xmlWriter, op string) {
	w.close("ns:return")
	w.close("ns:" + op + "Response")
}

// startResult is startTransaction's (or startRegistration's) answer:
// StartTransactionResult, every member present. A failure has no
// redirectURL and, when none was known yet, no customerReference.
func startResult(op, reference, redirect, errDescription string) []byte {
	var w xmlWriter
	respond(&w, op, "xmlns:ax23", nsResults, "xmlns:xsi", nsXSI)
	for _, m := range []struct{ name, value string }{
		{"ax23:customerReference", reference}, {"ax23:errorDescription", errDescription}, {"ax23:redirectURL", redirect},
	} {
		if m.value == "" {
			w.nilLeaf(m.name)
		} else {
			w.leaf(m.name, m.value)
		}
	}
	w.leaf("ax23:success", strconv.FormatBool(errDescription == ""))
	endRespond(&w, op)
	return w.Bytes()
}

// boolResult is the answer of the operations that return xs:boolean.
func boolResult(op string, v bool) []byte {
	var w xmlWriter
	w.open("ns:"+op+"Response", "xmlns:ns", nsOps)
	w.leaf("ns:return", strconv.FormatBool(v))
	w.close("ns:" + op + "Response")
	return w.Bytes()
}

// nilResult is an answer whose return is nil: there is nothing to show.
func nilResult(op string) []byte {
	var w xmlWriter
	w.open("ns:"+op+"Response", "xmlns:ns", nsOps, "xmlns:xsi", nsXSI)
	w.nilLeaf("ns:return")
	w.close("ns:" + op + "Response")
	return w.Bytes()
}

func versionResult() []byte {
	var w xmlWriter
	w.open("ns:getVersionResponse", "xmlns:ns", nsOps)
	w.leaf("ns:return", Version)
	w.close("ns:getVersionResponse")
	return w.Bytes()
}

// Transaction statuses, spelled as the guide spells them (2.2.2.1): shops
// compare them literally.
const (
	StatusNoSuchTransaction    = "NO_SUCH_TRANSACTION"
	StatusPendingCustomerInput = "PENDING_CUSTOMER_INPUT"
	StatusPendingAuthResult    = "PENDING_AUTH_RESULT"
	StatusAuthorised           = "AUTHORISED"
	StatusDeclined             = "DECLINED"
	StatusReversed             = "REVERSED"
	StatusPaid                 = "PAID"
	StatusRefunded             = "REFUNDED"
	StatusInvalidMID           = "INVALID_MID"
	StatusMIDDisabled          = "MID_DISABLED"
)

// TransactionStatus is the guide's status of an order.
func TransactionStatus(o *order.Order) string {
	switch o.Status {
	case order.StatusRegistered:
		if o.AtBank() {
			return StatusPendingAuthResult
		}
		return StatusPendingCustomerInput
	case order.Status3DS:
		// The card is entered and the issuer is authenticating the buyer:
		// the authorization is under way, and the buyer may still give up.
		return StatusPendingAuthResult
	case order.StatusApproved:
		return StatusAuthorised
	case order.StatusDeposited:
		if o.Refunded > 0 {
			return StatusRefunded
		}
		return StatusPaid
	case order.StatusRefunded:
		return StatusRefunded
	case order.StatusReversed:
		return StatusReversed
	}
	return StatusDeclined
}

// authorised is amountAuthorised: what the authorization holds or took,
// and 0 once reversed or when nothing was authorized (guide 2.2.2).
func authorised(o *order.Order) int64 {
	switch o.Status {
	case order.StatusApproved, order.StatusDeposited, order.StatusRefunded:
		return o.Approved
	}
	return 0
}

// statusFields are StoredTransactionStatus's members (and, for a
// registration, InternalTransactionStatus's), written from an order.
type statusFields struct {
	o        *order.Order
	status   string
	url      string // merchantOnlineAddress
	internal bool   // InternalTransactionStatus: bin, eci, lastDigitsPan, purchaserIdAddress too
}

// write writes the members in the WSDL's order. Before the card is
// entered only the status is there: the guide sends optional fields
// only once the transaction went to authorization.
func (f statusFields) write(w *xmlWriter) {
	o := f.o
	if o == nil || f.status == StatusPendingCustomerInput {
		w.leaf("ax21:transactionStatus", f.status)
		return
	}
	if o.Shop != nil {
		for _, in := range o.Shop.Info {
			w.open("ax21:additionalInformation")
			w.optLeaf("ax21:key", in.Key)
			w.optLeaf("ax21:value", in.Value)
			w.close("ax21:additionalInformation")
		}
	}
	w.leaf("ax21:amountAuthorised", strconv.FormatInt(authorised(o), 10))
	w.leaf("ax21:amountRefunded", strconv.FormatInt(o.Refunded, 10))
	w.leaf("ax21:amountRequested", strconv.FormatInt(o.Amount, 10))
	w.leaf("ax21:amountSettled", strconv.FormatInt(o.Deposited, 10))
	if op := o.AuthOp(); op != nil {
		w.optLeaf("ax21:authCode", op.ApprovalCode)
	}
	if f.internal && o.Card != nil && len(o.Card.Masked) >= 10 {
		w.leaf("ax21:bin", o.Card.Masked[:6])
	}
	if f.internal && o.ThreeDS != nil {
		w.optLeaf("ax21:eci", o.ThreeDS.ECI)
	}
	for _, g := range o.Cart {
		writeGoods(w, "ax21:goods", g, o.Currency)
	}
	if f.internal && o.Card != nil && len(o.Card.Masked) >= 4 {
		w.leaf("ax21:lastDigitsPan", o.Card.Masked[len(o.Card.Masked)-4:])
	}
	var sh order.MerchantData
	if o.Shop != nil {
		sh = *o.Shop
	}
	w.optLeaf("ax21:merchantLocalDateTime", sh.LocalTime)
	w.optLeaf("ax21:merchantOnlineAddress", f.url)
	orderID := sh.OrderID
	if orderID == "" {
		orderID = o.Number
	}
	w.optLeaf("ax21:orderId", orderID)
	w.optLeaf("ax21:purchaserEmail", o.Email)
	if f.internal {
		w.optLeaf("ax21:purchaserIdAddress", o.IP) // sic: the WSDL's spelling
	}
	// The guide: the name as the buyer typed it on the payment page.
	name := sh.BuyerName
	if o.Card != nil && o.Card.Holder != "" {
		name = o.Card.Holder
	}
	w.optLeaf("ax21:purchaserName", name)
	w.optLeaf("ax21:purchaserPhone", sh.BuyerPhone)
	w.leaf("ax21:transactionCurrencyCode", o.Currency)
	w.leaf("ax21:transactionStatus", f.status)
}

func writeGoods(w *xmlWriter, name string, g order.CartItem, currency string) {
	if g.Currency != "" {
		currency = g.Currency
	}
	q := g.Quantity
	if q <= 0 {
		q = 1
	}
	w.open(name)
	w.leaf("ax21:amount", strconv.FormatInt(g.Price*q, 10))
	if n, err := strconv.Atoi(currency); err == nil {
		w.leaf("ax21:currencyCode", strconv.Itoa(n))
	}
	w.optLeaf("ax21:merchantsGoodsID", g.Code)
	w.leaf("ax21:nameOfGoods", g.Name)
	w.close(name)
}

// statusResult is getTransactionStatus's answer.
func statusResult(f statusFields) []byte {
	var w xmlWriter
	respond(&w, "getTransactionStatus", "xmlns:ax21", nsBeans)
	f.write(&w)
	endRespond(&w, "getTransactionStatus")
	return w.Bytes()
}

// extendedFields are StoredTransactionStatusExtended's members.
type extendedFields struct {
	country, masked, ip, verified3D string
}

func extendedResult(f extendedFields) []byte {
	var w xmlWriter
	respond(&w, "getExtendedTransactionStatus", "xmlns:ax21", nsBeans)
	w.leaf("ax21:cardIssuerCountry", f.country)
	w.leaf("ax21:maskedCardNumber", f.masked)
	w.leaf("ax21:purchaserIpAddress", f.ip)
	w.leaf("ax21:verified3D", f.verified3D)
	endRespond(&w, "getExtendedTransactionStatus")
	return w.Bytes()
}

// verified3D is YES when 3-D Secure authenticated the buyer (ECI 05 Visa,
// 02 Mastercard); an attempt (06, 01), no 3-D Secure (07) or none at all
// is NO.
func verified3D(o *order.Order) string {
	if o.ThreeDS != nil {
		switch strings.TrimLeft(o.ThreeDS.ECI, "0") {
		case "5", "2":
			return "YES"
		}
	}
	return "NO"
}
