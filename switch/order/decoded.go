package order

import (
	"time"
	"unicode/utf8"
)

// CopyDecoded returns the order that decoding o's JSON gives (Decode of
// json.Marshal(o)) without the JSON, or false when o holds something the
// round trip changes in a way a copy does not mirror: a string that is not
// UTF-8 (encoding replaces its bytes), a time not in UTC (decoded in a
// zone of its offset's). The order store fills its cache of decoded orders
// with it at each commit (payments), so a read after a change need not
// decode the change again: what it returns must be, field for field, what
// a read from the store would return, or readers would see an order the
// store does not hold.
//
// It is Clone with JSON's rules: an empty slice or map that is omitted
// when empty (omitempty) decodes as nil, one that is not as an empty one;
// a time has no monotonic reading. TestCopyDecodedIsDecode fills every
// field an order can hold, by reflection, and compares with the round
// trip: a field added to Order, or to a type in it, must be added here.
func (o *Order) CopyDecoded() (*Order, bool) {
	var r roundTrip
	c := *o
	r.strings(o.ID, o.Merchant, o.Number, o.Description, o.Email, o.Customer, o.Language, o.ReturnURL, o.FailURL,
		o.Currency, o.DeclineReason, o.Bank, o.Rule, o.IP, o.StoredCard, o.Phone, o.CallbackURL)
	c.CreatedAt, c.UpdatedAt, c.ExpiresAt = r.time(o.CreatedAt), r.time(o.UpdatedAt), r.time(o.ExpiresAt)
	c.Cart = nil
	if len(o.Cart) > 0 {
		c.Cart = make([]CartItem, len(o.Cart))
		for i, it := range o.Cart {
			r.strings(it.Name, it.QuantityDecimal, it.Measure, it.PositionID, it.Code, it.Currency, it.Extra)
			if it.TaxType != nil {
				v := *it.TaxType
				it.TaxType = &v
			}
			c.Cart[i] = it
		}
	}
	c.Params = nil
	if len(o.Params) > 0 {
		c.Params = make(map[string]string, len(o.Params))
		for k, v := range o.Params {
			r.strings(k, v)
			c.Params[k] = v
		}
	}
	if o.Shop != nil {
		sh := *o.Shop
		r.strings(sh.OrderID, sh.LocalTime, sh.Terminal, sh.BuyerName, sh.BuyerPhone)
		sh.Info = nil
		if len(o.Shop.Info) > 0 {
			sh.Info = append([]Info(nil), o.Shop.Info...)
			for _, in := range sh.Info {
				r.strings(in.Key, in.Value)
			}
		}
		c.Shop = &sh
	}
	if o.Card != nil {
		card := *o.Card
		r.strings(card.Masked, card.Token, card.Expiry, card.Holder, card.Brand)
		if card.Ciphertext != nil {
			// Base64 in JSON, not omitted: decoded as a slice even when empty.
			card.Ciphertext = append(make([]byte, 0, len(card.Ciphertext)), card.Ciphertext...)
		}
		c.Card = &card
	}
	if o.ThreeDS != nil {
		t := *o.ThreeDS
		r.strings(t.TransID, t.Status, t.ECI, t.Version, t.DSTransID)
		c.ThreeDS = &t
	}
	if o.Registration != nil {
		reg := *o.Registration
		r.strings(reg.Status, reg.Deciding)
		c.Registration = &reg
	}
	if o.Stored != nil {
		st := *o.Stored
		r.strings(st.ID, st.ClientID, st.Expiry, st.Op)
		c.Stored = &st
	}
	if o.Ops != nil {
		// Not omitted: [] decodes as an empty slice, null as nil.
		c.Ops = make([]Operation, len(o.Ops))
		for i, op := range o.Ops {
			r.strings(op.ID, string(op.Type), string(op.Status), op.Bank, op.MTI, op.STAN, op.RRN, op.DE7, op.ApprovalCode,
				op.ResponseCode, op.TerminalID, op.MerchantID, op.IdemKey, op.Of)
			op.Time = r.time(op.Time)
			c.Ops[i] = op
		}
	}
	c.Fiscal = nil
	if len(o.Fiscal) > 0 {
		c.Fiscal = make([]FiscalReceipt, len(o.Fiscal))
		for i, f := range o.Fiscal {
			r.strings(f.ExternalID, f.OpID, f.Kind, f.FiscalSign, f.ReceiptID, f.Link, f.QR)
			f.Time = r.time(f.Time)
			c.Fiscal[i] = f
		}
	}
	if r.changed {
		return nil, false
	}
	return &c, true
}

// roundTrip notes what a JSON round trip would change that CopyDecoded
// does not mirror.
type roundTrip struct{ changed bool }

func (r *roundTrip) strings(ss ...string) {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			r.changed = true
		}
	}
}

// time is t as decoded: without a monotonic reading.
func (r *roundTrip) time(t time.Time) time.Time {
	if t.Location() != time.UTC || t.Year() < 0 || t.Year() > 9999 {
		r.changed = true // decoded in another zone, or not encoded at all
	}
	return t.Round(0)
}
