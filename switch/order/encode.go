package order

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Encode returns json.Marshal(o), byte for byte: the JSON every change of
// an order stores and journals (ChannelState), which Decode reads back and
// the journal's hash chain covers. Every change of every payment encodes
// its order, and encoding/json's reflection cost several times what
// writing the fields out does. TestEncodeIsMarshal compares the two over
// every field an order can hold (filled by reflection, so a field added
// to Order, or to a type in it, and not here fails it) and FuzzEncode
// over strings of any bytes.
func Encode(o *Order) ([]byte, error) {
	buf := encodeBufs.Get().(*[]byte)
	defer encodeBufs.Put(buf)
	e := encoder{b: (*buf)[:0]}
	e.order(o)
	*buf = e.b
	if e.err != nil {
		return nil, e.err
	}
	// The store, the journal and the order cache keep what is returned:
	// a copy of its own size, as json.Marshal returns.
	return append([]byte(nil), e.b...), nil
}

// encodeBufs are Encode's working buffers, grown to the orders encoded.
var encodeBufs = sync.Pool{New: func() any { return new([]byte) }}

// encoder appends JSON as encoding/json writes it, with its HTML
// escaping, field by field in the order of the struct.
type encoder struct {
	b   []byte
	err error
	// more is set once an object has a member: the next one needs a comma.
	more bool
}

func (e *encoder) open(c byte) {
	e.b = append(e.b, c)
	e.more = false
}

func (e *encoder) close(c byte) {
	e.b = append(e.b, c)
	e.more = true
}

func (e *encoder) key(k string) {
	if e.more {
		e.b = append(e.b, ',')
	}
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
	e.more = true
}

func (e *encoder) str(k, v string) {
	e.key(k)
	e.quote(v)
}

func (e *encoder) strOmit(k, v string) {
	if v != "" {
		e.str(k, v)
	}
}

func (e *encoder) int(k string, v int64) {
	e.key(k)
	e.b = strconv.AppendInt(e.b, v, 10)
}

func (e *encoder) intOmit(k string, v int64) {
	if v != 0 {
		e.int(k, v)
	}
}

func (e *encoder) bool(k string, v bool) {
	e.key(k)
	e.b = strconv.AppendBool(e.b, v)
}

func (e *encoder) boolOmit(k string, v bool) {
	if v {
		e.bool(k, v)
	}
}

func (e *encoder) time(k string, t time.Time) {
	e.key(k)
	// Time.MarshalJSON, which encoding/json calls, without its allocation:
	// RFC 3339 with nanoseconds, refused as it refuses what RFC 3339
	// cannot say.
	e.b = append(e.b, '"')
	n0 := len(e.b)
	e.b = t.AppendFormat(e.b, time.RFC3339Nano)
	num2 := func(b []byte) byte { return 10*(b[0]-'0') + (b[1] - '0') }
	switch b := e.b; {
	case b[n0+len("9999")] != '-':
		e.fail(errors.New("Time.MarshalJSON: year outside of range [0,9999]"))
	case b[len(b)-1] != 'Z':
		if c := b[len(b)-len("Z07:00")]; ('0' <= c && c <= '9') || num2(b[len(b)-len("07:00"):]) >= 24 {
			e.fail(errors.New("Time.MarshalJSON: timezone hour outside of range [0,23]"))
		}
	}
	e.b = append(e.b, '"')
}

func (e *encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// quote appends s as a JSON string: plain ASCII as is, anything else as
// encoding/json escapes it (HTML characters, controls, U+2028 and U+2029,
// invalid UTF-8), by encoding/json itself.
func (e *encoder) quote(s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, err := json.Marshal(s)
			if err != nil {
				e.fail(err)
			}
			e.b = append(e.b, b...)
			return
		}
	}
	e.b = append(e.b, '"')
	e.b = append(e.b, s...)
	e.b = append(e.b, '"')
}

func (e *encoder) order(o *Order) {
	e.open('{')
	e.str("id", o.ID)
	e.str("merchant", o.Merchant)
	e.str("number", o.Number)
	e.strOmit("description", o.Description)
	if len(o.Cart) > 0 {
		e.key("cart")
		e.open('[')
		for i := range o.Cart {
			e.sep(i)
			e.cartItem(&o.Cart[i])
		}
		e.close(']')
	}
	e.strOmit("email", o.Email)
	e.strOmit("customer", o.Customer)
	e.strOmit("language", o.Language)
	e.strOmit("return_url", o.ReturnURL)
	e.strOmit("fail_url", o.FailURL)
	if len(o.Params) > 0 {
		e.key("params")
		e.open('{')
		for i, k := range slices.Sorted(maps.Keys(o.Params)) {
			e.sep(i)
			e.quote(k)
			e.b = append(e.b, ':')
			e.quote(o.Params[k])
		}
		e.close('}')
	}
	if sh := o.Shop; sh != nil {
		e.key("shop")
		e.open('{')
		e.strOmit("order_id", sh.OrderID)
		e.strOmit("local_time", sh.LocalTime)
		e.strOmit("terminal", sh.Terminal)
		e.strOmit("buyer_name", sh.BuyerName)
		e.strOmit("buyer_phone", sh.BuyerPhone)
		if len(sh.Info) > 0 {
			e.key("info")
			e.open('[')
			for i, in := range sh.Info {
				e.sep(i)
				e.open('{')
				e.str("key", in.Key)
				e.str("value", in.Value)
				e.close('}')
			}
			e.close(']')
		}
		e.close('}')
	}
	e.bool("two_stage", o.TwoStage)
	e.int("amount", o.Amount)
	e.str("currency", o.Currency)
	e.time("created_at", o.CreatedAt)
	e.time("updated_at", o.UpdatedAt)
	e.time("expires_at", o.ExpiresAt)
	e.int("status", int64(o.Status))
	e.strOmit("decline_reason", o.DeclineReason)
	e.int("action_code", int64(o.ActionCode))
	e.strOmit("bank", o.Bank)
	e.strOmit("rule", o.Rule)
	if c := o.Card; c != nil {
		e.key("card")
		e.open('{')
		e.str("masked", c.Masked)
		e.str("token", c.Token)
		e.key("ciphertext")
		if c.Ciphertext == nil {
			e.b = append(e.b, "null"...)
		} else {
			e.b = append(e.b, '"')
			e.b = base64.StdEncoding.AppendEncode(e.b, c.Ciphertext)
			e.b = append(e.b, '"')
		}
		e.str("expiry", c.Expiry)
		e.strOmit("holder", c.Holder)
		e.strOmit("brand", c.Brand)
		e.close('}')
	}
	if t := o.ThreeDS; t != nil {
		e.key("threeds")
		e.open('{')
		e.strOmit("trans_id", t.TransID)
		e.str("status", t.Status)
		e.strOmit("eci", t.ECI)
		e.strOmit("version", t.Version)
		e.strOmit("ds_trans_id", t.DSTransID)
		e.close('}')
	}
	e.strOmit("ip", o.IP)
	if r := o.Registration; r != nil {
		e.key("registration")
		e.open('{')
		e.strOmit("status", r.Status)
		e.strOmit("deciding", r.Deciding)
		e.close('}')
	}
	if st := o.Stored; st != nil {
		e.key("stored")
		e.open('{')
		e.str("id", st.ID)
		e.strOmit("client_id", st.ClientID)
		e.boolOmit("unbound", st.Unbound)
		e.strOmit("expiry", st.Expiry)
		e.strOmit("op", st.Op)
		e.close('}')
	}
	e.strOmit("stored_card", o.StoredCard)
	e.boolOmit("keep_card", o.KeepCard)
	e.boolOmit("merchant_initiated", o.MerchantInitiated)
	e.intOmit("attempts", int64(o.Attempts))
	e.int("approved", o.Approved)
	e.int("deposited", o.Deposited)
	e.int("refunded", o.Refunded)
	e.key("ops")
	if o.Ops == nil {
		e.b = append(e.b, "null"...)
	} else {
		e.open('[')
		for i := range o.Ops {
			e.sep(i)
			e.operation(&o.Ops[i])
		}
		e.close(']')
	}
	e.key("version")
	e.b = strconv.AppendUint(e.b, o.Version, 10)
	e.strOmit("phone", o.Phone)
	e.strOmit("callback_url", o.CallbackURL)
	if len(o.Fiscal) > 0 {
		e.key("fiscal")
		e.open('[')
		for i := range o.Fiscal {
			e.sep(i)
			f := &o.Fiscal[i]
			e.open('{')
			e.str("external_id", f.ExternalID)
			e.str("op_id", f.OpID)
			e.str("kind", f.Kind)
			e.int("amount", f.Amount)
			e.str("fiscal_sign", f.FiscalSign)
			e.strOmit("receipt_id", f.ReceiptID)
			e.strOmit("link", f.Link)
			e.strOmit("qr", f.QR)
			e.time("time", f.Time)
			e.close('}')
		}
		e.close(']')
	}
	e.close('}')
}

// sep separates the elements of an array.
func (e *encoder) sep(i int) {
	if i > 0 {
		e.b = append(e.b, ',')
	}
}

func (e *encoder) cartItem(it *CartItem) {
	e.open('{')
	e.str("name", it.Name)
	e.int("quantity", it.Quantity)
	e.int("price", it.Price)
	e.strOmit("quantity_decimal", it.QuantityDecimal)
	e.strOmit("measure", it.Measure)
	e.intOmit("amount", it.Amount)
	e.strOmit("position_id", it.PositionID)
	e.strOmit("code", it.Code)
	if it.TaxType != nil {
		e.int("tax_type", int64(*it.TaxType))
	}
	e.intOmit("tax_sum", it.TaxSum)
	e.strOmit("currency", it.Currency)
	e.strOmit("extra", it.Extra)
	e.close('}')
}

func (e *encoder) operation(op *Operation) {
	e.open('{')
	e.str("id", op.ID)
	e.str("type", string(op.Type))
	e.str("status", string(op.Status))
	e.int("amount", op.Amount)
	e.intOmit("requested", op.Requested)
	e.time("time", op.Time)
	e.strOmit("bank", op.Bank)
	e.strOmit("mti", op.MTI)
	e.strOmit("stan", op.STAN)
	e.strOmit("rrn", op.RRN)
	e.strOmit("de7", op.DE7)
	e.strOmit("approval_code", op.ApprovalCode)
	e.strOmit("response_code", op.ResponseCode)
	e.int("action_code", int64(op.ActionCode))
	e.strOmit("terminal_id", op.TerminalID)
	e.strOmit("merchant_id", op.MerchantID)
	e.strOmit("idem_key", op.IdemKey)
	e.strOmit("of", op.Of)
	e.close('}')
}
